"""Golden vectors: our codec against bytes written by ZooKeeper's own Java classes.

``tests/golden/vectors.json`` is produced by ``tests/golden/GoldenVectors.java``
(run ``tests/golden/generate.sh``), which serializes official jute records
with ``BinaryOutputArchive`` and records, for each, the field names and values
Java wrote. Round trips cannot catch a field-order or width mistake made
symmetrically in the encoder and the decoder; these vectors can.

For every vector: the jute record name maps to our class of the same simple
name (``MultiOperationRecord`` -> ``MultiRequest``); each jute camelCase field
maps to our snake_case attribute, and the names *and their order* must match
exactly (an unmapped, missing or reordered field fails loudly); then our
encoding must equal Java's bytes and decoding Java's bytes must give our record.

Two deliberate differences are tested as such, never skipped:

* Java's jute writes ``null`` for any string, buffer or vector; our records
  allow ``None`` only where the protocol does. A vector with ``null`` in a field
  we type as non-nullable must be refused both ways (``LocalProtocolError`` on
  encode, ``RemoteProtocolError`` on decode).
* In 3.8.0 the jute ``ConnectRequest``/``ConnectResponse`` have no ``readOnly``
  field; Java writes that byte after the record. Our ``ConnectRequest`` always
  carries it, so a vector without it must equal our bytes minus the last byte
  (``readOnly`` false); ``ConnectResponse`` without it is our ``ConnectResponseCore``.

The ``quirks`` are Java outputs a correct codec must not imitate; for each, our
decoder must refuse Java's bytes and our encoder must not reproduce them.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest

from trio_zookeeper._protocol import (
    ClientProtocol,
    Connected,
    ConnectRequest,
    ConnectResponse,
    ConnectResponseCore,
    Empty,
    LocalProtocolError,
    MultiOp,
    MultiRequest,
    MultiResponse,
    MultiResult,
    OpCode,
    RemoteProtocolError,
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
)
from trio_zookeeper._protocol._multi import _RESULT_TYPES, MULTI_READ_OPS, MULTI_WRITE_OPS

from .strategies import RECORD_CLASSES, is_nullable, wire_fields

GOLDEN_DIR = pathlib.Path(__file__).resolve().parents[1] / "golden"
VECTORS_FILE = GOLDEN_DIR / "vectors.json"
MISSING = (
    f"{VECTORS_FILE} does not exist. Generate it from the official ZooKeeper Java "
    "classes with tests/golden/generate.sh (needs a JDK and the ZooKeeper jars, "
    "e.g. apt-get install -y openjdk-17-jdk-headless libzookeeper-java)."
)

CLASSES: dict[str, type] = {cls.__name__: cls for cls in RECORD_CLASSES}
CLASSES["MultiOperationRecord"] = MultiRequest
CLASSES["MultiResponse"] = MultiResponse
MULTI_OPS: dict[int, type] = {**MULTI_WRITE_OPS, **MULTI_READ_OPS}


def _load() -> dict[str, Any] | None:
    if not VECTORS_FILE.exists():
        return None
    doc: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return doc


DOC = _load()


def _params(key: str) -> list[Any]:
    if DOC is None:
        # Never an empty parameter set (pytest would skip): one case that fails.
        return [pytest.param(None, id="vectors.json-missing")]
    return [pytest.param(v, id=v["name"]) for v in DOC[key]]


def _require(vector: dict[str, Any] | None) -> dict[str, Any]:
    if vector is None:
        pytest.fail(MISSING)
    return vector


# ------------------------------------------------------------ JSON -> records
class FieldMismatch(AssertionError):
    """The jute field names of a vector do not map onto our record's fields."""


def snake(name: str) -> str:
    """``ephemeralOwner`` -> ``ephemeral_owner`` (jute camelCase to our names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Builder:
    """Builds our record from a vector's fields, noting nulls we do not allow."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.refused_nulls: list[str] = []

    def record(self, cls: type, fields: object, where: str) -> Any:
        if not isinstance(fields, dict):
            raise AssertionError(f"{self.name}: {where} should be an object, got {fields!r}")
        ours = [name for name, _ in wire_fields(cls)]
        theirs = [snake(k) for k in fields]
        if theirs != ours:
            raise FieldMismatch(
                f"{self.name}: jute fields {list(fields)} of {where} do not map onto "
                f"{cls.__name__} fields {ours} (unmapped: {sorted(set(theirs) - set(ours))}, "
                f"missing: {sorted(set(ours) - set(theirs))}, or a different order)"
            )
        specs = dict(wire_fields(cls))
        values = {
            snake(k): self.value(specs[snake(k)], v, f"{where}.{snake(k)}")
            for k, v in fields.items()
        }
        return cls(**values)

    def value(self, spec: object, value: object, where: str) -> object:
        if value is None:
            if not is_nullable(spec):
                self.refused_nulls.append(where)
            return None
        if spec is INT or spec is LONG:
            bits = 32 if spec is INT else 64
            assert type(value) is int, f"{self.name}: {where}: {value!r} is not an int"
            assert -(2 ** (bits - 1)) <= value < 2 ** (bits - 1), f"{self.name}: {where} range"
            return value
        if spec is BOOL:
            assert type(value) is bool, f"{self.name}: {where}: {value!r} is not a bool"
            return value
        if spec is BUFFER or spec is OPT_BUFFER:
            assert isinstance(value, dict), f"{self.name}: {where}: buffer {value!r}"
            assert list(value) == ["hex"], f"{self.name}: {where}: buffer {value!r}"
            return bytes.fromhex(value["hex"])
        if spec is USTRING or spec is OPT_USTRING:
            assert isinstance(value, str), f"{self.name}: {where}: {value!r} is not a string"
            return value
        if isinstance(spec, Vector):
            assert isinstance(value, list), f"{self.name}: {where}: {value!r} is not a list"
            return tuple(self.value(spec.elem, v, f"{where}[{i}]") for i, v in enumerate(value))
        if isinstance(spec, type):
            return self.record(spec, value, where)
        raise AssertionError(f"{self.name}: {where}: unknown wire type {spec!r}")

    def multi_request(self, fields: dict[str, Any], *, loose: bool = False) -> MultiRequest:
        assert list(fields) == ["ops"], f"{self.name}: MultiOperationRecord fields {list(fields)}"
        ops = []
        for i, op in enumerate(fields["ops"]):
            assert set(op) == {"type", "request"}, f"{self.name}: op {i}: {sorted(op)}"
            cls = MULTI_OPS.get(op["type"])
            assert cls is not None, f"{self.name}: op {i}: type {op['type']} not in a multi table"
            try:
                request = self.record(cls, op["request"], f"ops[{i}]")
            except FieldMismatch:
                if not loose:
                    raise
                # A quirk: Java wrote another record than the type says; build
                # the record whose fields it did write.
                [cls] = {c for c in MULTI_OPS.values() if _fields_match(c, op["request"])}
                request = self.record(cls, op["request"], f"ops[{i}]")
            ops.append(MultiOp(op=op["type"], request=request))
        return MultiRequest(ops=tuple(ops))

    def multi_response(self, fields: dict[str, Any]) -> MultiResponse:
        assert list(fields) == ["results"], f"{self.name}: MultiResponse fields {list(fields)}"
        results = []
        for i, res in enumerate(fields["results"]):
            assert set(res) == {"type", "err", "response"}, f"{self.name}: result {i}"
            op, err, body = res["type"], res["err"], res["response"]
            if op == OpCode.ERROR:
                # Header and ErrorResponse body both hold the code; we keep one.
                assert body == {"err": err}, f"{self.name}: result {i}: {res}"
                results.append(MultiResult(op=op, err=err, response=None))
                continue
            assert op in _RESULT_TYPES, f"{self.name}: result {i}: type {op} not in the table"
            cls = _RESULT_TYPES[op]
            if cls is None:
                assert body is None, f"{self.name}: result {i}: unexpected body {body}"
                response = None
            else:
                response = self.record(cls, body, f"results[{i}]")
            results.append(MultiResult(op=op, err=err, response=response))
        return MultiResponse(results=tuple(results))


def _fields_match(cls: type, fields: dict[str, Any]) -> bool:
    return [snake(k) for k in fields] == [name for name, _ in wire_fields(cls)]


class Case:
    """One vector as our class, our record and the bytes we must produce/accept."""

    def __init__(self, vector: dict[str, Any], *, loose: bool = False) -> None:
        self.name: str = vector["name"]
        assert set(vector) == {"name", "record", "fields", "hex"}, f"{self.name}: {sorted(vector)}"
        record_name: str = vector["record"]
        assert record_name in CLASSES, f"{self.name}: no class for jute record {record_name!r}"
        assert self.name.startswith(record_name + "/"), self.name
        self.cls = CLASSES[record_name]
        self.java = bytes.fromhex(vector["hex"])
        fields: dict[str, Any] = vector["fields"]
        # What our encoding adds to Java's bytes (only the readOnly byte, below).
        self.suffix = b""
        if record_name == "ConnectResponse" and "readOnly" not in fields:
            self.cls = ConnectResponseCore
        if record_name == "ConnectRequest" and "readOnly" not in fields:
            fields = {**fields, "readOnly": False}
            self.suffix = b"\x00"
        builder = Builder(self.name)
        if self.cls is MultiRequest:
            self.record: Any = builder.multi_request(fields, loose=loose)
        elif self.cls is MultiResponse:
            self.record = builder.multi_response(fields)
        else:
            self.record = builder.record(self.cls, fields, record_name)
        self.refused_nulls = builder.refused_nulls

    @property
    def ours(self) -> bytes:
        return self.java + self.suffix


def encode(record: object) -> bytes:
    out = bytearray()
    encode_record(record, out)
    return bytes(out)


# ----------------------------------------------------------------------- tests
def test_vectors_file_is_present_and_well_formed() -> None:
    if DOC is None:
        pytest.fail(MISSING)
    assert re.fullmatch(r"3\.\d+\.\d+.*", DOC["zookeeper_version"]), DOC["zookeeper_version"]
    names = [v["name"] for v in DOC["vectors"] + DOC["quirks"]]
    assert len(names) == len(set(names)), "duplicate vector names"
    assert len(DOC["vectors"]) >= 100


@pytest.mark.parametrize("vector", _params("vectors"))
def test_golden_vector(vector: dict[str, Any] | None) -> None:
    case = Case(_require(vector))
    if case.refused_nulls:
        # Java wrote null where our type (and the protocol) needs a value.
        with pytest.raises(LocalProtocolError, match="None"):
            encode(case.record)
        with pytest.raises(RemoteProtocolError, match="null"):
            decode_record(case.cls, case.ours)
        return
    assert encode(case.record).hex() == case.ours.hex()
    decoded: object
    decoded, end = decode_record(case.cls, case.ours)
    assert decoded == case.record
    assert end == len(case.ours)


def test_every_record_class_has_an_exact_golden_vector() -> None:
    if DOC is None:
        pytest.fail(MISSING)
    exact = {
        case.cls
        for case in (Case(v) for v in DOC["vectors"])
        if not case.refused_nulls and not case.suffix
    }
    # Empty has no jute record (ping, closeSession and whoAmI have no body).
    missing = sorted(c.__name__ for c in {*RECORD_CLASSES, MultiRequest, MultiResponse} - exact)
    assert missing == ["Empty"]
    assert encode(Empty()) == b""


def test_every_multi_op_and_result_type_has_a_vector() -> None:
    if DOC is None:
        pytest.fail(MISSING)
    op_types: set[int] = set()
    result_types: set[int] = set()
    for vector in DOC["vectors"]:
        if vector["record"] == "MultiOperationRecord":
            op_types |= {op["type"] for op in vector["fields"]["ops"]}
        if vector["record"] == "MultiResponse":
            result_types |= {res["type"] for res in vector["fields"]["results"]}
    # Java 3.8's Op API has no way to write a create2 (15) operation (Op.create
    # uses 1, 19 or 21); the server accepts it and so do we, without a vector.
    assert op_types == set(MULTI_OPS) - {OpCode.CREATE2}
    # Java never writes 19 or 21 as a result type (createTTL/createContainer
    # results are create2); we accept them on decode but have no vector.
    assert result_types == set(_RESULT_TYPES) - {OpCode.CREATE_CONTAINER, OpCode.CREATE_TTL}


@pytest.mark.parametrize("vector", _params("quirks"))
def test_java_quirks_are_not_imitated(vector: dict[str, Any] | None) -> None:
    case = Case(_require(vector), loose=True)
    if "non_bmp_cesu8" in case.name:
        # Read as Java meant it (a 3.8 server writes non-BMP characters as
        # CESU-8), but written as standard UTF-8.
        assert decode_record(case.cls, case.java) == (case.record, len(case.java))
    else:
        with pytest.raises(RemoteProtocolError):
            decode_record(case.cls, case.ours)
    try:
        ours = encode(case.record)
    except LocalProtocolError:
        return
    assert ours != case.ours
    assert decode_record(case.cls, ours) == (case.record, len(ours))


def _handshake_vectors(record: str) -> list[Any]:
    if DOC is None:
        return [pytest.param(None, id="vectors.json-missing")]
    return [pytest.param(v, id=v["name"]) for v in DOC["vectors"] if v["record"] == record]


@pytest.mark.parametrize("vector", _handshake_vectors("ConnectResponse"))
def test_connect_response_vectors_through_the_client(vector: dict[str, Any] | None) -> None:
    case = Case(_require(vector))
    client = ClientProtocol()
    client.connect(ConnectRequest(time_out=1))
    [event] = client.receive_data(len(case.java).to_bytes(4, "big") + case.java)
    assert isinstance(event, Connected)
    fields = {name: getattr(case.record, name) for name, _ in wire_fields(ConnectResponseCore)}
    read_only = getattr(case.record, "read_only", False)
    assert event == Connected(
        ConnectResponse(**fields, read_only=read_only), case.cls is ConnectResponse
    )


@pytest.mark.parametrize("vector", _handshake_vectors("ConnectRequest"))
def test_connect_request_vectors_through_the_client(vector: dict[str, Any] | None) -> None:
    case = Case(_require(vector))
    if case.refused_nulls:
        pytest.fail(f"{case.name}: a handshake vector with a refused null")
    assert ClientProtocol().connect(case.record) == len(case.ours).to_bytes(4, "big") + case.ours
