"""The multi and multiRead records (``MultiOperationRecord``, ``MultiResponse``).

They are not plain jute records: each operation or result is preceded by a
``MultiHeader{type, done, err}`` and the list ends with a header whose
``done`` is true (type -1, err -1). Their codecs are written by hand and
registered with the jute registry, so ``encode_record``/``decode_record`` work
on them like on every other record.

A failed ``multi`` still has reply-header err 0; the failure shows only in the
results: operations before the failing one report 0 (rolled back), the failing
one its own code, the ones after it -2 (RUNTIMEINCONSISTENCY).
"""

from __future__ import annotations

from ._enums import OpCode
from ._errors import LocalProtocolError, RemoteProtocolError
from ._jute import decode_record, encode_record, register_codec
from ._records import (
    CheckVersionRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    ErrorResponse,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    MultiHeader,
    SetDataRequest,
    SetDataResponse,
)
from ._tuplerecord import TupleRecord

__all__ = [
    "MULTI_READ_OPS",
    "MULTI_WRITE_OPS",
    "MultiOp",
    "MultiRequest",
    "MultiResponse",
    "MultiResult",
]

#: Request record of each operation allowed inside ``multi`` (14).
MULTI_WRITE_OPS: dict[int, type] = {
    OpCode.CREATE: CreateRequest,
    OpCode.CREATE2: CreateRequest,
    OpCode.CREATE_CONTAINER: CreateRequest,
    OpCode.CREATE_TTL: CreateTTLRequest,
    OpCode.DELETE: DeleteRequest,
    OpCode.SET_DATA: SetDataRequest,
    OpCode.CHECK: CheckVersionRequest,
}
#: Request record of each operation allowed inside ``multiRead`` (22).
MULTI_READ_OPS: dict[int, type] = {
    OpCode.GET_CHILDREN: GetChildrenRequest,
    OpCode.GET_DATA: GetDataRequest,
}
_REQUEST_OPS = {**MULTI_WRITE_OPS, **MULTI_READ_OPS}

#: Result record by result type (None: the result has no body).
_RESULT_TYPES: dict[int, type | None] = {
    OpCode.CREATE: CreateResponse,
    OpCode.CREATE2: Create2Response,
    OpCode.CREATE_CONTAINER: Create2Response,
    OpCode.CREATE_TTL: Create2Response,
    OpCode.DELETE: None,
    OpCode.CHECK: None,
    OpCode.SET_DATA: SetDataResponse,
    OpCode.GET_CHILDREN: GetChildrenResponse,
    OpCode.GET_DATA: GetDataResponse,
    OpCode.ERROR: ErrorResponse,
}

_END = MultiHeader(type=-1, done=True, err=-1)


class MultiOp(TupleRecord):
    """One operation of a multi: its opcode and its request record."""

    __slots__ = ()

    op: int
    request: object


class MultiRequest(TupleRecord):
    """``MultiOperationRecord``: the operations of a multi or multiRead."""

    __slots__ = ()

    ops: tuple[MultiOp, ...]


class MultiResult(TupleRecord):
    """One result of a multi.

    Attributes:
        op: The result type (an opcode; -1 for an error result).
        err: 0 on success, else the error code of this operation.
        response: The result record (None for delete and check).
    """

    __slots__ = ()

    op: int
    err: int
    response: object | None


class MultiResponse(TupleRecord):
    """``MultiResponse``: one result per operation, in order."""

    __slots__ = ()

    results: tuple[MultiResult, ...]


def _encode_request(rec: MultiRequest, out: bytearray) -> None:
    for item in rec.ops:
        cls = _REQUEST_OPS.get(item.op)
        if cls is None or type(item.request) is not cls:
            raise LocalProtocolError(
                f"operation {item.op} with {type(item.request).__name__} cannot be part of a multi"
            )
        encode_record(MultiHeader(type=item.op, done=False, err=-1), out)
        encode_record(item.request, out)
    encode_record(_END, out)


def _decode_request(buf: bytes, pos: int, end: int) -> tuple[MultiRequest, int]:
    ops: list[MultiOp] = []
    while True:
        header, pos = decode_record(MultiHeader, buf, pos, end)
        if header.done:
            return MultiRequest(ops=tuple(ops)), pos
        cls = _REQUEST_OPS.get(header.type)
        if cls is None:
            raise RemoteProtocolError(f"invalid operation type {header.type} in a multi request")
        request: object
        request, pos = decode_record(cls, buf, pos, end)
        ops.append(MultiOp(op=header.type, request=request))


def _encode_response(rec: MultiResponse, out: bytearray) -> None:
    for result in rec.results:
        if result.op == OpCode.ERROR:
            encode_record(MultiHeader(type=-1, done=False, err=result.err), out)
            encode_record(ErrorResponse(err=result.err), out)
            continue
        # A body that does not match the result type would be misread on decode.
        if result.op not in _RESULT_TYPES or _RESULT_TYPES[result.op] is not (
            None if result.response is None else type(result.response)
        ):
            raise LocalProtocolError(
                f"result type {result.op} with {type(result.response).__name__} "
                "cannot be part of a multi response"
            )
        encode_record(MultiHeader(type=result.op, done=False, err=result.err), out)
        if result.response is not None:
            encode_record(result.response, out)
    encode_record(_END, out)


def _decode_response(buf: bytes, pos: int, end: int) -> tuple[MultiResponse, int]:
    results: list[MultiResult] = []
    while True:
        header, pos = decode_record(MultiHeader, buf, pos, end)
        if header.done:
            return MultiResponse(results=tuple(results)), pos
        if header.type not in _RESULT_TYPES:
            raise RemoteProtocolError(f"invalid result type {header.type} in a multi response")
        cls = _RESULT_TYPES[header.type]
        body: object | None = None
        if cls is not None:
            body, pos = decode_record(cls, buf, pos, end)
        if isinstance(body, ErrorResponse):
            results.append(MultiResult(op=OpCode.ERROR, err=body.err, response=None))
        else:
            results.append(MultiResult(op=header.type, err=header.err, response=body))


register_codec(MultiRequest, _encode_request, _decode_request, 9)
register_codec(MultiResponse, _encode_response, _decode_response, 9)
