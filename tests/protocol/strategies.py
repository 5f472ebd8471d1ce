"""Hypothesis strategies for every jute record, derived from the declarations.

Nothing here is written per record: each field's ``Annotated`` wire type (the
``INT``/``LONG``/``BOOL``/``BUFFER``/``OPT_BUFFER``/``USTRING``/``OPT_USTRING``
markers, ``Vector(...)`` or a nested record class, exactly what ``_jute``
compiles) picks the strategy, so a record added to ``_records.__all__`` is
covered automatically, and a wire type this module does not know fails loudly.

Also here: deterministic sample records (for scripted conversations) and the
settings helper that applies the package's Hypothesis profile (see conftest).
"""

from __future__ import annotations

import functools
import typing
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st

from trio_zookeeper._protocol import _records
from trio_zookeeper._protocol._enums import OpCode
from trio_zookeeper._protocol._jute import (
    BOOL,
    BUFFER,
    INT,
    LONG,
    OPT_BUFFER,
    OPT_USTRING,
    USTRING,
    Vector,
)
from trio_zookeeper._protocol._multi import (
    _RESULT_TYPES,
    MULTI_READ_OPS,
    MULTI_WRITE_OPS,
    MultiOp,
    MultiRequest,
    MultiResponse,
    MultiResult,
)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: Every jute record class, in ``_records.__all__`` order.
RECORD_CLASSES: tuple[type, ...] = tuple(getattr(_records, name) for name in _records.__all__)
#: The primitive markers (compared by identity, as ``_jute`` does).
PRIMITIVES: tuple[object, ...] = (INT, LONG, BOOL, BUFFER, OPT_BUFFER, USTRING, OPT_USTRING)
NULLABLE_PRIMITIVES: tuple[object, ...] = (OPT_BUFFER, OPT_USTRING)


def protocol_settings(max_examples: int) -> settings:
    """The package's Hypothesis profile (derandomized, no database) with a size."""
    return settings(settings.get_profile("protocol"), max_examples=max_examples)


# ------------------------------------------------------------------ wire types
def wire_spec(hint: object) -> object:
    """The one jute wire type in an ``Annotated`` hint (a marker, a Vector or a record)."""
    found = [
        meta
        for meta in getattr(hint, "__metadata__", ())
        if any(meta is p for p in PRIMITIVES) or isinstance(meta, Vector) or meta in RECORD_CLASSES
    ]
    if len(found) != 1:
        raise TypeError(f"expected exactly one jute wire type in {hint!r}, found {found!r}")
    return found[0]


@functools.cache
def wire_fields(cls: type) -> tuple[tuple[str, object], ...]:
    """``(attribute name, wire type)`` of each field of a record, in wire order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = attrs.fields(typing.cast(Any, cls))
    return tuple((f.name, wire_spec(hints[f.name])) for f in fields)


def is_nullable(spec: object) -> bool:
    """Whether Java's null (length -1) is allowed for this wire type."""
    if isinstance(spec, Vector):
        return spec.nullable
    return any(spec is p for p in NULLABLE_PRIMITIVES)


# ------------------------------------------------------------------ strategies
def _int_range(bits: int) -> st.SearchStrategy[int]:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    # Bias towards the edges: they are where sign and width mistakes show.
    return st.one_of(st.sampled_from([lo, lo + 1, -1, 0, 1, hi - 1, hi]), st.integers(lo, hi))


int32s = _int_range(32)
int64s = _int_range(64)
#: Text that is valid UTF-8 (no lone surrogates), including non-BMP characters.
texts = st.text(st.characters(codec="utf-8"), max_size=12)
buffers = st.binary(max_size=24)


def strategy_for_spec(spec: object) -> st.SearchStrategy[Any]:
    """A strategy for one wire type; nullable types include ``None``."""
    if spec is INT:
        return int32s
    if spec is LONG:
        return int64s
    if spec is BOOL:
        return st.booleans()
    if spec is BUFFER:
        return buffers
    if spec is OPT_BUFFER:
        return st.none() | buffers
    if spec is USTRING:
        return texts
    if spec is OPT_USTRING:
        return st.none() | texts
    if isinstance(spec, Vector):
        elems = st.lists(strategy_for_spec(spec.elem), max_size=4).map(tuple)
        return (st.none() | elems) if spec.nullable else elems
    if isinstance(spec, type) and spec in RECORD_CLASSES:
        return records(spec)
    raise TypeError(f"no strategy for the jute wire type {spec!r}")


@functools.cache
def records(cls: type) -> st.SearchStrategy[Any]:
    """Instances of the jute record ``cls`` covering its whole wire domain."""
    return st.builds(cls, **{name: strategy_for_spec(spec) for name, spec in wire_fields(cls)})


def _ops(table: dict[int, type]) -> st.SearchStrategy[MultiOp]:
    def one(op: int) -> st.SearchStrategy[MultiOp]:
        return records(table[op]).map(lambda request: MultiOp(op=op, request=request))

    return st.sampled_from(sorted(table)).flatmap(one)


#: ``multi`` (write operations only) or ``multiRead`` (read operations only).
multi_requests: st.SearchStrategy[MultiRequest] = st.one_of(
    st.lists(_ops(MULTI_WRITE_OPS), max_size=5),
    st.lists(_ops(MULTI_READ_OPS), max_size=5),
).map(lambda ops: MultiRequest(ops=tuple(ops)))


def _result(op: int) -> st.SearchStrategy[MultiResult]:
    if op == OpCode.ERROR:
        # An error result carries only its code (the header and body both hold it).
        return int32s.map(lambda err: MultiResult(op=op, err=err, response=None))
    cls = _RESULT_TYPES[op]
    body: st.SearchStrategy[object | None] = st.none() if cls is None else records(cls)
    # The server writes err 0 in the header of every non-error result.
    return body.map(lambda response: MultiResult(op=op, err=0, response=response))


multi_results: st.SearchStrategy[MultiResult] = st.sampled_from(sorted(_RESULT_TYPES)).flatmap(
    _result
)
multi_responses: st.SearchStrategy[MultiResponse] = st.lists(multi_results, max_size=5).map(
    lambda results: MultiResponse(results=tuple(results))
)

#: Every class the codec handles, with its strategy.
ALL_CODEC_STRATEGIES: dict[type, st.SearchStrategy[Any]] = {
    **{cls: records(cls) for cls in RECORD_CLASSES},
    MultiRequest: multi_requests,
    MultiResponse: multi_responses,
}


# ---------------------------------------------------------- deterministic samples
def sample_value(spec: object) -> object:
    """A fixed, non-trivial value of a wire type (never None, never empty)."""
    if spec is INT:
        return -123456
    if spec is LONG:
        return 0x1_0000_0005
    if spec is BOOL:
        return True
    if spec is BUFFER or spec is OPT_BUFFER:
        return b"\x00\xffdata"
    if spec is USTRING or spec is OPT_USTRING:
        return "/sample/\u00e9\u65e5"
    if isinstance(spec, Vector):
        return (sample_value(spec.elem), sample_value(spec.elem))
    if isinstance(spec, type) and spec in RECORD_CLASSES:
        return sample_record(spec)
    raise TypeError(f"no sample for the jute wire type {spec!r}")


def sample_record(cls: type) -> Any:
    """A deterministic instance of a jute record (or of a multi record)."""
    if cls is MultiRequest:
        return MultiRequest(
            ops=tuple(
                MultiOp(op=op, request=sample_record(rc)) for op, rc in MULTI_WRITE_OPS.items()
            )
        )
    if cls is MultiResponse:
        return MultiResponse(
            results=tuple(
                MultiResult(
                    op=op,
                    err=-101 if op == OpCode.ERROR else 0,
                    response=None if rc is None or op == OpCode.ERROR else sample_record(rc),
                )
                for op, rc in _RESULT_TYPES.items()
            )
        )
    return cls(**{name: sample_value(spec) for name, spec in wire_fields(cls)})


def sample_multi_read() -> MultiRequest:
    """A multiRead request with one of each read operation."""
    return MultiRequest(
        ops=tuple(MultiOp(op=op, request=sample_record(rc)) for op, rc in MULTI_READ_OPS.items())
    )
