"""The jute codec: round trips, canonical bytes, null versus empty, truncation, encode errors.

Every test is generic over the record declarations (see ``strategies.py``), so
a record added to ``_records.__all__`` is covered without touching this file.
"""

from __future__ import annotations

import struct
import tracemalloc
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_zookeeper._protocol import (
    ACL,
    ConnectResponse,
    ConnectResponseCore,
    Create2Response,
    CreateRequest,
    CreateResponse,
    ExistsRequest,
    ExistsResponse,
    GetACLRequest,
    GetACLResponse,
    GetChildrenResponse,
    GetDataResponse,
    Id,
    LocalProtocolError,
    MultiOp,
    MultiRequest,
    MultiResponse,
    MultiResult,
    OpCode,
    RemoteProtocolError,
    SetWatches,
    Stat,
    WatcherEvent,
    decode_record,
    encode_record,
)
from trio_zookeeper._protocol._jute import (
    BOOL,
    BUFFER,
    INT,
    LONG,
    OPT_BUFFER,
    OPT_USTRING,
    USTRING,
    Vector,
    encode_error,
    framer_of,
    record_size_hint,
)

from .strategies import (
    ALL_CODEC_STRATEGIES,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    RECORD_CLASSES,
    is_nullable,
    protocol_settings,
    sample_record,
    wire_fields,
)

CODEC_CLASSES = list(ALL_CODEC_STRATEGIES)
VARIABLE_LENGTH = (BUFFER, OPT_BUFFER, USTRING, OPT_USTRING)


def encode(record: object) -> bytes:
    out = bytearray()
    encode_record(record, out)
    return bytes(out)


def frame(record: object, xid: int = 7, op: int = 4) -> bytes:
    """A request frame through the record's framer, its errors converted as send_request does."""
    try:
        return framer_of(type(record))(record, xid, op)
    except (struct.error, UnicodeEncodeError, AttributeError, TypeError) as exc:
        raise encode_error(record, exc) from None


def decode(cls: type, data: bytes) -> tuple[Any, int]:
    return decode_record(cls, data)


def contains_bool(cls: type) -> bool:
    """Whether a record has a boolean anywhere (booleans decode non-canonically)."""
    if cls in (MultiRequest, MultiResponse):
        return True  # MultiHeader.done
    for _, spec in wire_fields(cls):
        elem = spec.elem if isinstance(spec, Vector) else spec
        if elem is BOOL or (isinstance(elem, type) and contains_bool(elem)):
            return True
    return False


def field_cases(predicate: Any) -> list[Any]:
    """``(record class, field, wire type)`` for every top-level field matching ``predicate``."""
    return [
        pytest.param(cls, name, spec, id=f"{cls.__name__}.{name}")
        for cls in RECORD_CLASSES
        for name, spec in wire_fields(cls)
        if predicate(spec)
    ]


# ------------------------------------------------------------------- coverage
def test_every_record_class_has_a_strategy() -> None:
    assert len(RECORD_CLASSES) >= 40
    assert set(RECORD_CLASSES) | {MultiRequest, MultiResponse} == set(ALL_CODEC_STRATEGIES)
    for cls in RECORD_CLASSES:
        assert [name for name, _ in wire_fields(cls)] == [f.name for f in attrs.fields(cls)]


def test_fixed_sizes_match_the_java_layout() -> None:
    assert len(encode(sample_record(Stat))) == 68
    assert record_size_hint(Stat) == 68
    # ConnectResponse: 4 + 4 + 8 + (4 + 16) + readOnly byte.
    resp = ConnectResponse(protocol_version=0, time_out=1, session_id=2, passwd=bytes(16))
    assert len(encode(resp)) == 37
    core = ConnectResponseCore(protocol_version=0, time_out=1, session_id=2, passwd=bytes(16))
    assert len(encode(core)) == 36


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("cls", CODEC_CLASSES, ids=lambda c: c.__name__)
@protocol_settings(max_examples=40)
@given(data=st.data())
def test_roundtrip_and_truncation(cls: type, data: st.DataObject) -> None:
    record = data.draw(ALL_CODEC_STRATEGIES[cls], label="record")
    encoded = encode(record)

    # decode(encode(r)) == r, consuming exactly every byte...
    decoded, end = decode(cls, encoded)
    assert decoded == record
    assert end == len(encoded)
    # ...and re-encoding the decoded record gives the same bytes (canonical form).
    assert encode(decoded) == encoded
    # The client decodes from a memoryview of its buffer, inside a larger stream.
    framed = b"\xaa" * 3 + encoded + b"\x55" * 5
    again: object
    with memoryview(framed) as view:
        again, after = decode_record(cls, view, 3, 3 + len(encoded))
    assert again == record
    assert after == 3 + len(encoded)

    # Every strict prefix is a truncated record: RemoteProtocolError, never
    # struct.error / IndexError / UnicodeDecodeError. Both as a short buffer
    # and as a full buffer with a short ``end`` (the bytes after a frame's end
    # belong to the next frame and must not be read).
    for cut in range(len(encoded)):
        with pytest.raises(RemoteProtocolError):
            decode(cls, encoded[:cut])
        with pytest.raises(RemoteProtocolError):
            decode_record(cls, encoded, 0, cut)


@pytest.mark.parametrize("cls", CODEC_CLASSES, ids=lambda c: c.__name__)
@protocol_settings(max_examples=30)
@given(data=st.data())
def test_a_framer_writes_length_header_and_the_encoded_record(
    cls: type, data: st.DataObject
) -> None:
    record = data.draw(ALL_CODEC_STRATEGIES[cls], label="record")
    xid = data.draw(st.integers(INT32_MIN, INT32_MAX), label="xid")
    body = encode(record)
    assert frame(record, xid, 12) == struct.pack(">iii", len(body) + 8, xid, 12) + body


@pytest.mark.parametrize("cls", CODEC_CLASSES, ids=lambda c: c.__name__)
@protocol_settings(max_examples=30)
@given(data=st.data())
def test_anything_that_decodes_reencodes_canonically(cls: type, data: st.DataObject) -> None:
    """Arbitrary or corrupted bytes: decoding fails cleanly or is canonical."""
    valid = encode(data.draw(ALL_CODEC_STRATEGIES[cls], label="record"))
    raw = data.draw(
        st.one_of(
            st.binary(max_size=80),
            st.tuples(st.integers(0, max(len(valid) - 1, 0)), st.integers(0, 255)).map(
                lambda p: valid[: p[0]] + bytes([p[1]]) + valid[p[0] + 1 :] if valid else b""
            ),
        ),
        label="raw",
    )
    try:
        record, end = decode(cls, raw)
    except RemoteProtocolError:
        return
    assert 0 <= end <= len(raw)
    reencoded = encode(record)
    if contains_bool(cls):
        # Any non-zero byte is true (Java's readBoolean); a multi header's err
        # is ignored on decode. The bytes may differ, the meaning may not.
        assert len(reencoded) == end
        assert decode(cls, reencoded) == (record, end)
    else:
        assert reencoded == raw[:end]


def test_boolean_is_any_nonzero_byte() -> None:
    raw = encode(ExistsRequest(path="/a", watch=True))
    assert raw[-1:] == b"\x01"
    for byte in (1, 2, 0x80, 0xFF):
        rec, _ = decode(ExistsRequest, raw[:-1] + bytes([byte]))
        assert rec.watch is True
    rec, _ = decode(ExistsRequest, raw[:-1] + b"\x00")
    assert rec.watch is False


# ----------------------------------------------------------- null versus empty
def test_null_and_empty_are_different_on_the_wire() -> None:
    stat = sample_record(Stat)
    assert encode(GetDataResponse(data=None, stat=stat))[:4] == b"\xff\xff\xff\xff"
    assert encode(GetDataResponse(data=b"", stat=stat))[:4] == b"\x00\x00\x00\x00"
    assert encode(GetChildrenResponse(children=None)) == b"\xff\xff\xff\xff"
    assert encode(GetChildrenResponse(children=())) == b"\x00\x00\x00\x00"
    assert encode(WatcherEvent(type=1, state=3, path=None))[8:] == b"\xff\xff\xff\xff"
    assert encode(WatcherEvent(type=1, state=3, path=""))[8:] == b"\x00\x00\x00\x00"


def _empty_value(spec: object) -> object:
    if spec in (BUFFER, OPT_BUFFER):
        return b""
    if spec in (USTRING, OPT_USTRING):
        return ""
    return ()


def _with_length(cls: type, name: str, spec: object, length: int) -> bytes:
    """The sample record's encoding with ``name``'s length/count replaced by ``length``.

    The field is made empty, so its length is the only four zero bytes in the
    encoding (the sample values never contain four zero bytes in a row).
    """
    base = attrs.evolve(sample_record(cls), **{name: _empty_value(spec)})
    raw = encode(base)
    assert raw.count(b"\x00\x00\x00\x00") == 1, f"ambiguous sample encoding {raw.hex()}"
    return raw.replace(b"\x00\x00\x00\x00", struct.pack(">i", length))


def _variable(spec: object) -> bool:
    return isinstance(spec, Vector) or spec in VARIABLE_LENGTH


@pytest.mark.parametrize(("cls", "name", "spec"), field_cases(_variable))
def test_null_versus_empty_per_field(cls: type, name: str, spec: object) -> None:
    empty = attrs.evolve(sample_record(cls), **{name: _empty_value(spec)})
    decoded, _ = decode(cls, encode(empty))
    assert getattr(decoded, name) == _empty_value(spec)
    assert getattr(decoded, name) is not None

    nulled = _with_length(cls, name, spec, -1)
    if is_nullable(spec):
        null_rec = attrs.evolve(sample_record(cls), **{name: None})
        assert encode(null_rec) == nulled
        decoded, end = decode(cls, nulled)
        assert getattr(decoded, name) is None
        assert (decoded, end) == (null_rec, len(nulled))
    else:
        # Java would read null here; we refuse it where the protocol needs a value.
        with pytest.raises(RemoteProtocolError, match=rf"null .*{cls.__name__}\.{name}"):
            decode(cls, nulled)


@pytest.mark.parametrize(("cls", "name", "spec"), field_cases(_variable))
@pytest.mark.parametrize("length", [-2, -(2**31), 2**31 - 1, 10_000])
def test_bad_inner_lengths_are_remote_errors(
    cls: type, name: str, spec: object, length: int
) -> None:
    raw = _with_length(cls, name, spec, length)
    with pytest.raises(RemoteProtocolError, match=rf"{cls.__name__}\.{name}"):
        decode(cls, raw)


@pytest.mark.parametrize(
    ("cls", "raw"),
    [
        (GetChildrenResponse, struct.pack(">i", 2**31 - 1) + b"\x00" * 8),
        (SetWatches, b"\x00" * 8 + struct.pack(">i", 2**31 - 1)),
        (GetDataResponse, struct.pack(">i", 2**31 - 1) + b"\x00" * 8),
    ],
    ids=["vector-count", "strings-count", "buffer-length"],
)
def test_huge_lengths_allocate_nothing(cls: type, raw: bytes) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(RemoteProtocolError):
            decode(cls, raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024


def test_invalid_utf8_is_a_remote_error() -> None:
    raw = encode(Id(scheme="world", id="ab"))
    for bad in (b"\xff\xfe", b"\xc3(", b"\xed\xa0"):  # invalid byte, bad continuation, surrogate
        with pytest.raises(RemoteProtocolError, match=r"UTF-8 in Id\.id"):
            decode(Id, raw[:-2] + bad)


def test_a_long_listing_of_mixed_names_decodes_exactly() -> None:
    """getChildren's names take a dedicated loop: ASCII slices of one text, others decoded."""
    names = [f"n{i:05d}" for i in range(3000)]
    names[7] = "é-" * 40  # non-ASCII, and longer than the loop's first estimate
    names[100] = "x" * 5000  # far longer: the text is extended
    names[2999] = "\U0001f600 emoji"
    names[1500] = ""
    body = encode(GetChildrenResponse(children=tuple(names)))
    # Inside a larger buffer, with bytes after the record that are not its own.
    buf = b"junk" + body + b"\xff" * 64
    record, pos = decode_record(GetChildrenResponse, buf, 4, 4 + len(body))
    assert record.children is not None
    assert list(record.children) == names
    assert pos == 4 + len(body)
    # Java's CESU-8 for a character above U+FFFF reads as that character.
    raw = "\ud83d\ude00".encode("utf-8", "surrogatepass")  # the surrogate pair, 6 bytes
    java = struct.pack(">ii", 1, len(raw)) + raw
    assert decode(GetChildrenResponse, java)[0].children == ("\U0001f600",)
    for bad, match in (
        (struct.pack(">ii", 2, 1) + b"a" + struct.pack(">i", -1), "null"),
        (struct.pack(">ii", 2, 1) + b"a" + struct.pack(">i", 5) + b"ab", "invalid length"),
        (struct.pack(">ii", 2, 3) + b"abc" + b"\x00\x00", "truncated"),
        (struct.pack(">ii", 1, 2) + b"\xc3(", "UTF-8"),
    ):
        with pytest.raises(RemoteProtocolError, match=match):
            decode(GetChildrenResponse, bad)


# ---------------------------------------------------------------- encode errors
def _int_spec(spec: object) -> bool:
    return spec is INT or spec is LONG


@pytest.mark.parametrize(("cls", "name", "spec"), field_cases(_int_spec))
def test_out_of_range_ints_are_local_errors(cls: type, name: str, spec: object) -> None:
    lo, hi = (INT32_MIN, INT32_MAX) if spec is INT else (INT64_MIN, INT64_MAX)
    base = sample_record(cls)
    for ok in (lo, hi):
        rec = attrs.evolve(base, **{name: ok})
        assert decode(cls, encode(rec))[0] == rec
    for bad in (lo - 1, hi + 1, 2**64):
        out = bytearray()
        with pytest.raises(LocalProtocolError, match=cls.__name__):
            encode_record(attrs.evolve(base, **{name: bad}), out)
        with pytest.raises(LocalProtocolError, match=cls.__name__):
            frame(attrs.evolve(base, **{name: bad}))


def test_out_of_range_int_in_a_nested_record_is_a_local_error() -> None:
    stat = attrs.evolve(sample_record(Stat), version=2**31)
    with pytest.raises(LocalProtocolError):
        encode_record(ExistsResponse(stat=stat), bytearray())
    acl = ACL(perms=-(2**31) - 1, id=Id(scheme="world", id="anyone"))
    with pytest.raises(LocalProtocolError):
        encode_record(GetACLResponse(acl=(acl,), stat=sample_record(Stat)), bytearray())


@pytest.mark.parametrize(("cls", "name", "spec"), field_cases(lambda s: not is_nullable(s)))
def test_none_in_a_non_nullable_field_is_a_local_error(cls: type, name: str, spec: object) -> None:
    rec = attrs.evolve(sample_record(cls), **{name: None})
    with pytest.raises(LocalProtocolError, match=cls.__name__):
        encode_record(rec, bytearray())
    with pytest.raises(LocalProtocolError, match=cls.__name__):
        frame(rec)


def test_none_inside_a_vector_is_a_local_error() -> None:
    rec = SetWatches(relative_zxid=1, data_watches=("/a", None), exist_watches=(), child_watches=())  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="None"):
        encode_record(rec, bytearray())


@pytest.mark.parametrize(
    "record",
    [
        Id(scheme="world", id="\ud800"),  # a lone surrogate is not encodable as UTF-8
        Id(scheme=b"world", id="x"),  # type: ignore[arg-type]
        GetDataResponse(data="text", stat=sample_record(Stat)),  # type: ignore[arg-type]
        ExistsRequest(path="/a", watch="yes"),  # type: ignore[arg-type]
        ExistsRequest(path="/a", watch=1),  # type: ignore[arg-type]
        WatcherEvent(type=1.5, state=3, path="/a"),  # type: ignore[arg-type]
        ExistsResponse(stat=None),  # type: ignore[arg-type]
        object(),  # not a record at all
    ],
    ids=[
        "lone-surrogate",
        "bytes-as-string",
        "str-as-buffer",
        "str-as-bool",
        "int-as-bool",
        "float-as-int",
        "none-as-record",
        "not-a-record",
    ],
)
def test_unencodable_values_are_local_errors(record: object) -> None:
    with pytest.raises(LocalProtocolError):
        encode_record(record, bytearray())
    if type(record) is not object:
        with pytest.raises(LocalProtocolError):
            frame(record)


@pytest.mark.parametrize(
    "result",
    [
        MultiResult(op=OpCode.CREATE, err=0, response=None),
        MultiResult(op=OpCode.CREATE, err=0, response=sample_record(Create2Response)),
        MultiResult(op=OpCode.DELETE, err=0, response=sample_record(CreateResponse)),
        MultiResult(op=OpCode.GET_ACL, err=0, response=None),
        MultiResult(op=OpCode.SET_DATA, err=0, response="stat"),
    ],
    ids=["missing-body", "wrong-body", "body-for-delete", "not-a-result-type", "not-a-record"],
)
def test_unencodable_multi_results_are_local_errors(result: MultiResult) -> None:
    """A result the decoder would misread is refused, not silently encoded."""
    with pytest.raises(LocalProtocolError):
        encode_record(MultiResponse(results=(result,)), bytearray())


@pytest.mark.parametrize(
    "op",
    [
        MultiOp(op=OpCode.GET_ACL, request=sample_record(GetACLRequest)),
        MultiOp(op=OpCode.CREATE_TTL, request=sample_record(CreateRequest)),
        MultiOp(op=OpCode.CREATE, request=None),
    ],
    ids=["not-allowed", "create-as-ttl", "none"],
)
def test_unencodable_multi_ops_are_local_errors(op: MultiOp) -> None:
    with pytest.raises(LocalProtocolError, match="cannot be part of a multi"):
        encode_record(MultiRequest(ops=(op,)), bytearray())
