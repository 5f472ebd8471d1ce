"""Jute, ZooKeeper's binary record encoding, with Java's exact semantics.

A record is its fields in order, with no tags, all big-endian:

* ``int`` 4 bytes, ``long`` 8 bytes, ``boolean`` 1 byte (any non-zero byte is
  true, as ``DataInput.readBoolean``);
* ``buffer`` and ``ustring``: an int length then the bytes (UTF-8 for
  strings); length -1 is Java's ``null``, distinct from the empty value;
* ``vector<T>``: an int count then the elements; -1 is ``null``.

Records declare their wire types with ``typing.Annotated`` (see
``_records.py``); :func:`compile_record` turns a declaration into a pair of
specialised encode/decode functions, generated once, when the record is first
encoded or decoded (a client that never sends a reconfig never pays for its
codec; ``import`` stays small). Generating
them (rather than walking the declaration on every call) keeps the per-request
cost low: runs of fixed-size fields become a single ``struct`` call (a nested
record made only of fixed-size fields, such as ``Stat``, joins its parent's
run), and a decoded record is built without its keyword-only constructor: a
:class:`~._tuplerecord.TupleRecord` (``Stat``, the common replies) by one
``tuple.__new__`` call, from the very tuple ``struct`` returned when it is
the whole run; a frozen attrs record by filling its slots (see
:func:`slot_builder`). A request record also gets a framer (see
:func:`framer_of`), which returns its whole frame, length and request header
included. This is what the benchmark of the protocol layer measures.

Every length read from the wire is checked against the bytes that remain
*before* anything is allocated; a vector count is checked against the minimum
size of its elements. Broken input raises :class:`RemoteProtocolError` naming
the record and field, never ``struct.error``, ``IndexError`` or
``UnicodeDecodeError``.
"""

from __future__ import annotations

import struct
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from ._errors import LocalProtocolError, RemoteProtocolError
from ._tuplerecord import TupleRecord

__all__ = [
    "BOOL",
    "BUFFER",
    "INT",
    "LONG",
    "OPT_BUFFER",
    "OPT_USTRING",
    "USTRING",
    "Vector",
    "compile_record",
    "decode_record",
    "decoder_of",
    "encode_error",
    "encode_record",
    "encoder_of",
    "framer_of",
    "record_size_hint",
    "register_codec",
    "slot_builder",
    "values_decoder_of",
]

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_unpack_int = _INT.unpack_from


class _Prim:
    """A primitive wire type: its struct code (fixed size) or its kind."""

    __slots__ = ("code", "name", "nullable")

    def __init__(self, name: str, code: str | None, *, nullable: bool = False) -> None:
        self.name = name
        self.code = code
        self.nullable = nullable

    def __repr__(self) -> str:
        return self.name


INT = _Prim("int", "i")
LONG = _Prim("long", "q")
BOOL = _Prim("boolean", "?")
BUFFER = _Prim("buffer", None)
OPT_BUFFER = _Prim("buffer?", None, nullable=True)
USTRING = _Prim("ustring", None)
OPT_USTRING = _Prim("ustring?", None, nullable=True)


class Vector:
    """A ``vector<T>`` wire type; ``nullable`` allows Java's null (-1)."""

    __slots__ = ("elem", "nullable")

    def __init__(self, elem: object, *, nullable: bool = False) -> None:
        self.elem = elem
        self.nullable = nullable

    def __repr__(self) -> str:
        return f"vector<{self.elem!r}>{'?' if self.nullable else ''}"


Encoder = Callable[[Any, bytearray], None]
Decoder = Callable[[Any, int, int], tuple[Any, int]]
#: ``frame(record, xid, op) -> bytes``: a whole request frame (see :func:`framer_of`).
Framer = Callable[[Any, int, int], bytes]

_CODECS: dict[type, tuple[Encoder, Decoder, int]] = {}
#: Generated records: a decoder of the field values alone, as a tuple (no record built).
_VALUES: dict[type, Decoder] = {}
#: Records made only of fixed-size primitive fields: their (field, wire type) list.
_FIXED: dict[type, list[tuple[str, _Prim]]] = {}
#: Records declared with :func:`compile_record` whose codec is not generated yet.
_PENDING: set[type] = set()

R = TypeVar("R")


def _wire_spec(hint: object) -> object:
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, (_Prim, Vector)) or (isinstance(meta, type) and _is_record(meta)):
            return meta
    raise TypeError(f"no jute wire type in annotation {hint!r}")


def _min_size(spec: object) -> int:
    if isinstance(spec, _Prim):
        return struct.calcsize(">" + spec.code) if spec.code else 4
    if isinstance(spec, Vector):
        return 4
    return _codec(typing.cast("type", spec))[2]


def _is_record(cls: type) -> bool:
    return cls in _CODECS or cls in _PENDING


def _codec(cls: type) -> tuple[Encoder, Decoder, int]:
    """The codec of a record, generated now if it was not yet (KeyError if none)."""
    codec = _CODECS.get(cls)
    if codec is None:
        if cls not in _PENDING:
            raise KeyError(cls)
        _generate(cls)
        codec = _CODECS[cls]
    return codec


def _field_names(cls: type) -> list[str]:
    """A record's field names, in order.

    A :class:`TupleRecord` names them itself: asking attrs would build its
    ``__attrs_attrs__``, which is left to whoever introspects the record.
    """
    if issubclass(cls, TupleRecord):
        return list(cls.__record_fields__)
    return [f.name for f in attrs.fields(cls)]  # type: ignore[arg-type]


def _slot_setters(cls: type) -> list[tuple[str, Callable[[Any, Any], None]]] | None:
    """The slot setters of every field of an attrs record, if it may be filled directly.

    A frozen slotted attrs class stores each field in a slot; its ``__init__``
    only parses keywords and sets those slots (``object.__setattr__``). When
    nothing else happens in it (no validator, converter, default factory that
    must run, ``__attrs_post_init__`` or extra slot), setting the slots through
    their member descriptors builds the same object, about twice as fast.
    Otherwise None: the record is built by calling the class.
    """
    if "__attrs_post_init__" in dir(cls) or "__attrs_pre_init__" in dir(cls):
        return None
    fields = attrs.fields(cls)
    names = {f.name for f in fields}
    slots: set[str] = set()
    for klass in cls.__mro__:
        slots.update(klass.__dict__.get("__slots__", ()))
    if not slots or slots - names - {"__weakref__"}:
        return None
    setters: list[tuple[str, Callable[[Any, Any], None]]] = []
    for f in fields:
        if f.validator is not None or f.converter is not None or not f.init:
            return None
        descriptor = cls.__dict__.get(f.name)
        if not isinstance(descriptor, types.MemberDescriptorType):
            return None
        setters.append((f.name, descriptor.__set__))
    return setters


def slot_builder(cls: type[R]) -> Callable[..., R]:
    """A function building a ``cls`` record from its field values, positionally.

    The result equals ``cls(**fields)``; a :class:`TupleRecord` is built by
    one ``tuple.__new__`` call, and plain frozen slotted attrs records by
    filling their slots directly (see :func:`_slot_setters`), which the hot
    path of the protocol uses for the records it builds per reply.
    """
    names = _field_names(cls)
    ns: dict[str, object] = {"_cls": cls, "_new": object.__new__, "_tnew": tuple.__new__}
    params = ", ".join(names)
    setters = None if issubclass(cls, TupleRecord) else _slot_setters(cls)
    if issubclass(cls, TupleRecord):
        body = [f"    return _tnew(_cls, ({''.join(f'{n}, ' for n in names)}))"]
    elif setters is None:
        body = [f"    return _cls({', '.join(f'{n}={n}' for n in names)})"]
    else:
        body = ["    rec = _new(_cls)"]
        for n, setter in setters:
            ns[f"_set_{n}"] = setter
            body.append(f"    _set_{n}(rec, {n})")
        body.append("    return rec")
    src = "\n".join([f"def build({params}):", *body])
    exec(compile(src, f"<builder of {cls.__name__}>", "exec"), ns)
    return typing.cast("Callable[..., R]", ns["build"])


class _Gen:
    """Builds the source of one record's encode and decode functions.

    The encoder and the decoder are generated side by side, each with its own
    indentation (a vector's element loop nests differently in each).
    """

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.ns: dict[str, object] = {
            "_unpack_int": _unpack_int,
            "_pack_int": _INT.pack,
            "_LPE": LocalProtocolError,
            "_cls": cls,
            "_short": _short,
            "_bad_len": _bad_len,
            "_java_utf8": _java_utf8,
            "_null": _null,
            "_ustrings": _ustrings,
            "_bad_bool": _bad_bool,
            "_new": object.__new__,
            "_tnew": tuple.__new__,
        }
        self.enc: list[str] = []
        self.dec: list[str] = []
        self.counter = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def bind(self, prefix: str, value: object) -> str:
        n = self.name(prefix)
        self.ns[n] = value
        return n

    def fixed_run(self, fields: list[tuple[str, str, _Prim, str]], whole: str | None) -> None:
        """One struct call for consecutive fixed-size fields.

        Each field is (decoded variable, encoded expression, wire type, name
        for errors); the fields of a nested fixed-size record are among them.
        When the run is exactly the fields of one :class:`TupleRecord`,
        ``whole`` is the expression that builds it from the unpacked tuple:
        the record is then built from that tuple, not from the fields.
        """
        s = struct.Struct(">" + "".join(p.code or "" for _, _, p, _ in fields))
        sn = self.bind("_S", s)
        name = self.cls.__name__
        args = [self.packable(p, expr, f"{name}.{w}", "    ") for _, expr, p, w in fields]
        self.enc.append(f"    out += {sn}.pack({', '.join(args)})")
        where = f"{self.cls.__name__}.{'/'.join(w for _, _, _, w in fields)}"
        targets = "".join(f"{var}, " for var, _, _, _ in fields)
        self.dec.append(f"    if pos + {s.size} > end: _short({where!r})")
        if whole is not None:
            self.dec.append(f"    {whole.format(f'{sn}.unpack_from(buf, pos)')}")
        else:
            self.dec.append(f"    {targets}= {sn}.unpack_from(buf, pos)")
        self.dec.append(f"    pos += {s.size}")

    def construct(self, cls: type, target: str, values: list[tuple[str, str]], di: str) -> None:
        """Decoder lines building ``cls`` from (field, variable) pairs into ``target``."""
        if issubclass(cls, TupleRecord):
            cn = self.bind("_C", cls)
            self.dec.append(f"{di}{target} = _tnew({cn}, ({''.join(f'{v}, ' for _, v in values)}))")
            return
        setters = _slot_setters(cls)
        if setters is None:
            cn = self.bind("_C", cls)
            args = ", ".join(f"{f}={v}" for f, v in values)
            self.dec.append(f"{di}{target} = {cn}({args})")
            return
        cn = self.bind("_C", cls)
        self.dec.append(f"{di}{target} = _new({cn})")
        var = dict(values)
        for fname, setter in setters:
            setter_name = self.bind("_set", setter)
            self.dec.append(f"{di}{setter_name}({target}, {var[fname]})")

    def _nullable_head(
        self, spec: _Prim | Vector, ei: str, v: str, di: str, n: str, target: str, where: str
    ) -> None:
        self.enc.append(f"{ei}if {v} is None:")
        if spec.nullable:
            self.enc.append(f"{ei}    out += b'\\xff\\xff\\xff\\xff'")
        else:
            self.enc.append(f"{ei}    raise _LPE({where + ' may not be None'!r})")
        self.enc.append(f"{ei}else:")
        self.dec.append(f"{di}if pos + 4 > end: _short({where!r})")
        self.dec.append(f"{di}{n}, = _unpack_int(buf, pos)")
        self.dec.append(f"{di}pos += 4")
        self.dec.append(f"{di}if {n} == -1:")
        if spec.nullable:
            self.dec.append(f"{di}    {target} = None")
        else:
            self.dec.append(f"{di}    _null({where!r})")
        self.dec.append(f"{di}else:")

    def packable(self, spec: _Prim, expr: str, where: str, ei: str) -> str:
        """``expr`` ready for ``struct.pack``.

        ``struct`` packs ``"?"`` from the truth value of *any* object, so a
        boolean field holding None (or a string) would be sent as a silent
        true/false; only ``True`` and ``False`` are accepted.
        """
        if spec is not BOOL:
            return expr
        v = self.name("_b")
        self.enc.append(f"{ei}{v} = {expr}")
        self.enc.append(f"{ei}if {v} is not True and {v} is not False: _bad_bool({where!r}, {v})")
        return v

    def value(self, spec: object, ei: str, di: str, expr: str, target: str, where: str) -> None:
        """Encode ``expr`` (encoder indent ``ei``); decode into ``target`` (``di``)."""
        if isinstance(spec, _Prim) and spec.code is not None:
            s = struct.Struct(">" + spec.code)
            sn = self.bind("_S", s)
            self.enc.append(f"{ei}out += {sn}.pack({self.packable(spec, expr, where, ei)})")
            self.dec.append(f"{di}if pos + {s.size} > end: _short({where!r})")
            self.dec.append(f"{di}{target}, = {sn}.unpack_from(buf, pos)")
            self.dec.append(f"{di}pos += {s.size}")
        elif isinstance(spec, _Prim):
            is_str = spec in (USTRING, OPT_USTRING)
            v, n = self.name("_v"), self.name("_n")
            self.enc.append(f"{ei}{v} = {expr}")
            self._nullable_head(spec, ei, v, di, n, target, where)
            if is_str:
                self.enc.append(f"{ei}    {v} = {v}.encode('utf-8')")
            self.enc.append(f"{ei}    out += _pack_int(len({v}))")
            self.enc.append(f"{ei}    out += {v}")
            self.dec.append(
                f"{di}    if {n} < 0 or pos + {n} > end: _bad_len({where!r}, {n}, end - pos)"
            )
            if is_str:
                self.dec.append(f"{di}    try:")
                self.dec.append(f"{di}        {target} = str(buf[pos:pos + {n}], 'utf-8')")
                self.dec.append(f"{di}    except UnicodeDecodeError as e:")
                raw = f"bytes(buf[pos:pos + {n}])"
                self.dec.append(f"{di}        {target} = _java_utf8({raw}, {where!r}, e)")
            else:
                # A slice of bytes is bytes already; of a memoryview, copied.
                self.dec.append(f"{di}    {target} = buf[pos:pos + {n}]")
                copy = f"{target} = bytes({target})"
                self.dec.append(f"{di}    if type({target}) is not bytes: {copy}")
            self.dec.append(f"{di}    pos += {n}")
        elif isinstance(spec, Vector):
            v, n, it, lst, el = (self.name(p) for p in ("_v", "_n", "_it", "_l", "_e"))
            self.enc.append(f"{ei}{v} = {expr}")
            self._nullable_head(spec, ei, v, di, n, target, where)
            self.enc.append(f"{ei}    out += _pack_int(len({v}))")
            self.enc.append(f"{ei}    for {it} in {v}:")
            minsize = _min_size(spec.elem)
            self.dec.append(
                f"{di}    if {n} < 0 or pos + {n} * {minsize} > end: "
                f"_bad_len({where!r}, {n}, end - pos)"
            )
            loop = len(self.dec)
            self.dec.append(f"{di}    {lst} = []")
            self.dec.append(f"{di}    for _ in range({n}):")
            self.value(spec.elem, ei + "        ", di + "        ", it, el, where + "[]")
            self.dec.append(f"{di}        {lst}.append({el})")
            self.dec.append(f"{di}    {target} = tuple({lst})")
            if spec.elem is USTRING:
                # getChildren's names, up to hundreds of thousands: the same
                # decoding as the element loop, in one tight loop. The loop's
                # decoder lines go; the element's encoder, generated with
                # them, stays.
                del self.dec[loop:]
                self.dec.append(f"{di}    {target}, pos = _ustrings(buf, pos, end, {n}, {where!r})")
        elif isinstance(spec, type) and _is_record(spec):
            enc, dec, _ = _codec(spec)
            en, dn = self.bind("_enc", enc), self.bind("_dec", dec)
            self.enc.append(f"{ei}{en}({expr}, out)")
            self.dec.append(f"{di}{target}, pos = {dn}(buf, pos, end)")
        else:  # pragma: no cover - declarations are checked at import
            raise TypeError(f"unknown wire type {spec!r}")


def compile_record(cls: type[R]) -> type[R]:
    """Class decorator: register an attrs record, whose jute codec is generated on first use.

    The field order of the attrs class is the wire order; each field's
    annotation is ``Annotated[<python type>, <wire type>]``.
    """
    _PENDING.add(cls)
    return cls


def _generate(cls: type) -> None:
    """Generate and register the codec of a record declared with :func:`compile_record`.

    It leaves the pending set last, once everything about it is registered:
    a thread that finds it still pending generates it too (the same codec),
    never a half-registered one.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [(n, _wire_spec(hints[n])) for n in _field_names(cls)]
    g = _Gen(cls)
    run: list[tuple[str, str, _Prim, str]] = []
    nested: list[tuple[str, type]] = []

    def flush() -> None:
        whole = None
        if (
            len(nested) == 1
            and issubclass(nested[0][1], TupleRecord)
            and len(run) == len(_FIXED[nested[0][1]])
        ):
            # The run is one tuple record (a Stat): built from the unpacked tuple.
            fname, sub = nested.pop()
            whole = f"f_{fname} = _tnew({g.bind('_C', sub)}, {{}})"
        if run:
            g.fixed_run(run, whole)
            run.clear()
        for fname, sub in nested:
            values = [(f, f"f_{fname}__{f}") for f, _ in _FIXED[sub]]
            g.construct(sub, f"f_{fname}", values, "    ")
        nested.clear()

    for fname, spec in fields:
        if isinstance(spec, _Prim) and spec.code is not None:
            run.append((f"f_{fname}", f"rec.{fname}", spec, fname))
            continue
        if isinstance(spec, type) and spec in _PENDING:
            _generate(spec)  # a nested record first: is it fixed-size?
        if isinstance(spec, type) and spec in _FIXED:
            # A nested fixed-size record (Stat) joins the run: one struct call.
            g.enc.append(f"    _r_{fname} = rec.{fname}")
            for sub, prim in _FIXED[spec]:
                run.append((f"f_{fname}__{sub}", f"_r_{fname}.{sub}", prim, f"{fname}.{sub}"))
            nested.append((fname, spec))
            continue
        flush()
        g.value(spec, "    ", "    ", f"rec.{fname}", f"f_{fname}", f"{cls.__name__}.{fname}")
    flush()
    body = list(g.dec)
    g.construct(cls, "rec", [(f, f"f_{f}") for f, _ in fields], "    ")
    values = "".join(f"f_{f}, " for f, _ in fields)
    src = "\n".join(
        [
            "def encode(rec, out):",
            *(g.enc or ["    pass"]),
            "def decode(buf, pos, end):",
            *g.dec,
            "    return rec, pos",
            "def decode_values(buf, pos, end):",
            *body,
            f"    return ({values}), pos",
        ]
    )
    exec(compile(src, f"<jute codec of {cls.__name__}>", "exec"), g.ns)
    size = sum(_min_size(s) for _, s in fields)
    _VALUES[cls] = g.ns["decode_values"]  # type: ignore[assignment]
    if fields and all(isinstance(s, _Prim) and s.code is not None for _, s in fields):
        _FIXED[cls] = [(f, typing.cast("_Prim", s)) for f, s in fields]
    register_codec(cls, g.ns["encode"], g.ns["decode"], size)  # type: ignore[arg-type]
    _PENDING.discard(cls)


def register_codec(cls: type, encode: Encoder, decode: Decoder, min_size: int) -> None:
    """Register a hand-written codec (used for the multi records)."""
    _CODECS[cls] = (encode, decode, min_size)


def _short(where: str) -> typing.NoReturn:
    raise RemoteProtocolError(f"truncated record: not enough bytes for {where}")


def _bad_len(where: str, n: int, remaining: int) -> typing.NoReturn:
    raise RemoteProtocolError(f"invalid length {n} for {where} with {remaining} bytes remaining")


def _java_utf8(data: bytes, where: str, exc: UnicodeDecodeError) -> str:
    """Decode what Java's jute writes for characters outside the BMP.

    ``BinaryOutputArchive`` encodes each UTF-16 unit on its own, so a
    character above U+FFFF arrives as two 3-byte surrogate encodings
    (CESU-8) instead of one 4-byte UTF-8 sequence. Such strings are read as
    the characters Java meant; anything else that is not UTF-8 is an error.
    """
    try:
        raw = data.decode("utf-8", "surrogatepass")
        return raw.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeError:
        raise RemoteProtocolError(f"invalid UTF-8 in {where}: {exc.reason}") from None


def _ustrings(
    buf: bytes | memoryview, pos: int, end: int, count: int, where: str
) -> tuple[tuple[str, ...], int]:
    """The ``count`` elements of a ``vector<ustring>`` from ``pos``; and the position after them.

    What the generated element loop does, with its names local and its
    checks merged: decoding a listing of 100,000 children is most of what
    ``get_children`` costs on such a node.
    """
    out: list[str] = []
    append = out.append
    unpack = _unpack_int
    element = where + "[]"
    # The vector's bytes as text, one character per byte: an ASCII name
    # (nearly every name) is then a slice of it, with no bytes copied and
    # nothing decoded per element; any other is decoded from its bytes. The
    # text covers an estimate of what is left of the vector (not the rest of
    # the frame: a multi's reply holds many vectors), extended as needed.
    base = limit = pos
    text = ""
    for left in range(count, 0, -1):
        if pos + 4 > end:
            _short(element)
        (size,) = unpack(buf, pos)
        pos += 4
        stop = pos + size
        if size < 0 or stop > end:
            if size == -1:
                _null(element)
            _bad_len(element, size, end - pos)
        if stop > limit:
            base, limit = pos, min(end, pos + left * max(32, 2 * size + 8))
            text = str(buf[base:limit], "latin-1")
        name = text[pos - base : stop - base]
        if not name.isascii():
            try:
                name = str(buf[pos:stop], "utf-8")
            except UnicodeDecodeError as exc:
                name = _java_utf8(bytes(buf[pos:stop]), element, exc)
        append(name)
        pos = stop
    return tuple(out), pos


def _bad_bool(where: str, value: object) -> typing.NoReturn:
    raise LocalProtocolError(f"{where} must be a bool, not {type(value).__name__}")


def _null(where: str) -> typing.NoReturn:
    raise RemoteProtocolError(f"null (length -1) where {where} must have a value")


def encode_record(record: object, out: bytearray) -> None:
    """Append the jute encoding of ``record`` to ``out``.

    Raises:
        LocalProtocolError: a value cannot be encoded (out of range for its
            wire type, ``None`` where the protocol needs a value, a string that
            is not encodable as UTF-8, a boolean that is not a bool, an object
            that is not a registered record).
    """
    codec = _CODECS.get(type(record))
    if codec is None:
        if type(record) not in _PENDING:
            raise LocalProtocolError(f"{type(record).__name__} is not a jute record")
        codec = _codec(type(record))
    try:
        codec[0](record, out)
    except (struct.error, UnicodeEncodeError, AttributeError, TypeError) as exc:
        raise encode_error(record, exc) from None


def encode_error(record: object, exc: Exception) -> LocalProtocolError:
    """The error to raise when encoding ``record`` failed with ``exc``."""
    name = type(record).__name__
    if isinstance(exc, UnicodeEncodeError):
        return LocalProtocolError(f"cannot encode {name}: string is not valid UTF-8 ({exc.reason})")
    return LocalProtocolError(f"cannot encode {name}: {exc}")


def encoder_of(cls: type) -> Encoder:
    """The raw encoder of a registered record (errors unconverted; see :func:`encode_error`)."""
    return _codec(cls)[0]


_REQUEST_HEAD = struct.Struct(">iii")  # frame length, RequestHeader (xid, type)
_BOOL_BYTE = (b"\x00", b"\x01")
_FRAMERS: dict[type, Framer] = {}


def framer_of(cls: type) -> Framer:
    """The request framer of a registered record: ``frame(record, xid, op) -> bytes``.

    A frame is its length (4 bytes), the request header (xid, opcode) and the
    record: the bytes ``encode_record`` appends after a packed header. For a
    record made only of primitive fields (the common requests: a path and a
    watch flag, a path with data and a version), the framer is generated
    with the header, the fixed-size fields and each string's length packed
    together, one ``struct`` call per run between variable-length values;
    other records are framed around their encoder. Errors are unconverted,
    as :func:`encoder_of`'s (see :func:`encode_error`).
    """
    framer = _FRAMERS.get(cls)
    if framer is None:
        framer = _FRAMERS[cls] = _generate_framer(cls) or _wrap_encoder(encoder_of(cls))
    return framer


def _wrap_encoder(encode: Encoder) -> Framer:
    pack_into = _REQUEST_HEAD.pack_into

    def frame(rec: Any, xid: int, op: int) -> bytes:
        out = bytearray(12)
        encode(rec, out)
        pack_into(out, 0, len(out) - 4, xid, op)
        return bytes(out)

    return frame


def _generate_framer(cls: type) -> Framer | None:
    """A generated framer for a record of primitive fields only (None for any other)."""
    _codec(cls)  # registered, and generated now if declared
    if cls not in _VALUES:
        return None  # a hand-written codec
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [(n, _wire_spec(hints[n])) for n in _field_names(cls)]
    if not all(isinstance(spec, _Prim) for _, spec in fields):
        return None
    g = _Gen(cls)
    g.ns["_BOOL_BYTE"] = _BOOL_BYTE
    parts: list[str] = []  # the frame, as expressions to concatenate
    codes, args = ">iii", ["_size", "xid", "op"]
    fixed = 12
    variable: list[str] = []
    joined = False
    for fname, spec in fields:
        assert isinstance(spec, _Prim)
        where = f"{cls.__name__}.{fname}"
        if spec.code is not None:
            codes += spec.code
            args.append(g.packable(spec, f"rec.{fname}", where, "    "))
            fixed += struct.calcsize(">" + spec.code)
            continue
        v, n = g.name("_v"), g.name("_n")
        g.enc.append(f"    {v} = rec.{fname}")
        g.enc.append(f"    if {v} is None:")
        if spec.nullable:
            g.enc.append(f"        {v}, {n} = b'', -1")
        else:
            g.enc.append(f"        raise _LPE({where + ' may not be None'!r})")
        g.enc.append("    else:")
        if spec in (USTRING, OPT_USTRING):
            g.enc.append(f"        {v} = {v}.encode()")  # UTF-8, strict
        else:
            joined = True  # node data: may be large
        g.enc.append(f"        {n} = len({v})")
        codes += "i"
        args.append(n)
        fixed += 4
        parts.append(f"{g.bind('_S', struct.Struct(codes))}.pack({', '.join(args)})")
        parts.append(v)
        variable.append(f"len({v})" if spec.nullable else n)  # a null's length is -1
        codes, args = ">", []
    if codes == ">?":
        parts.append(f"_BOOL_BYTE[{args[0]}]")  # checked to be True or False
    elif args:
        parts.append(f"{g.bind('_S', struct.Struct(codes))}.pack({', '.join(args)})")
    size = " + ".join([str(fixed - 4), *variable])
    # Short frames are concatenated; a frame carrying node data (up to
    # jute.maxbuffer) is joined, one allocation and one copy of the data.
    frame = f"b''.join(({', '.join(parts)},))" if joined else " + ".join(parts)
    body = [*g.enc, f"    _size = {size}", f"    return {frame}"]
    src = "\n".join(["def frame(rec, xid, op):", *body])
    exec(compile(src, f"<jute framer of {cls.__name__}>", "exec"), g.ns)
    return typing.cast("Framer", g.ns["frame"])


def values_decoder_of(cls: type) -> Decoder:
    """A decoder of a generated record's field values: ``(values tuple, pos)``.

    The same checks and errors as the record's decoder, without building the
    record (for a caller that turns the fields into something else at once).
    """
    _codec(cls)
    return _VALUES[cls]


def decoder_of(cls: type) -> Decoder:
    """The decoder of a registered record: ``decode(buf, pos, end) -> (record, pos)``."""
    return _codec(cls)[1]


def decode_record(
    cls: type[R], buf: bytes | bytearray | memoryview, pos: int = 0, end: int | None = None
) -> tuple[R, int]:
    """Decode one ``cls`` record from ``buf[pos:end]``.

    Returns:
        The record and the offset just after it.

    Raises:
        RemoteProtocolError: the bytes are truncated or invalid.
    """
    if end is None:
        end = len(buf)
    rec, pos = _codec(cls)[1](buf, pos, end)
    return typing.cast("R", rec), pos


def record_size_hint(cls: type) -> int:
    """The smallest number of bytes one ``cls`` record can take on the wire."""
    return _codec(cls)[2]
