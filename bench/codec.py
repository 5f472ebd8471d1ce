"""The protocol layer alone: encode a GetData request and decode its reply, no I/O.

One operation is what a client does per ``get_data`` besides I/O and
scheduling: build the request record, frame it with a fresh xid, then take the
reply frame (100-byte payload and a full Stat) back to data and Stat.

* ``trio``: the request built as the client builds it (its positional
  builder, ``_READS``; a checkout from before those builders calls
  ``GetDataRequest(path=..., watch=...)`` as its client did), then
  ``ClientProtocol.send_request(OpCode.GET_DATA, request)`` and
  ``ClientProtocol.receive_data(frame)`` (framing, xid check, pending FIFO
  and record decode included).
* ``kazoo``: what ``ConnectionHandler._submit`` and ``_read_response`` do,
  with kazoo's serialization classes (the length prefix is read separately
  by kazoo, so it gets the frame body).
* ``aiozk``: ``GetDataRequest.serialize(xid)`` and ``GetDataResponse.deserialize``
  after the reply header, as its ``Connection`` does.
* ``raw``: the hand-written struct packing of ``raw_client.py``.

Replies are built before each timed batch, so only the codec is timed.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from _common import Result, Spec, child_main, payload
from raw_client import (
    OP_GET_DATA,
    encode_frame,
    get_data_body,
    parse_get_data,
    reply_frame,
    stat_bytes,
)

_BATCH = 10_000
_STAT = (
    0x100000002,
    0x100000009,
    1_700_000_000_000,
    1_700_000_123_456,
    7,
    0,
    0,
    0,
    100,
    0,
    0x100000002,
)
_ZXID = 0x100000042


def _reply_body(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data + stat_bytes(_STAT)


Batch = Callable[[list[bytes]], int]  # runs one op per reply frame; returns a checksum
Setup = tuple[Callable[[int, int], list[bytes]], Batch]  # (make replies(first_xid, n), batch)


def _trio(path: str, data: bytes) -> Setup:
    from trio_zookeeper._client import _READS
    from trio_zookeeper._protocol import (
        ClientProtocol,
        ConnectRequest,
        GetDataRequest,
        OpCode,
        Reply,
    )

    make: Callable[[str, bool], object] = _READS[OpCode.GET_DATA][0]
    by_keywords = isinstance(make, type)  # before the builders: the client called the class
    proto = ClientProtocol()
    proto.connect(ConnectRequest(time_out=10_000))
    handshake = struct.pack(">iiq", 0, 10_000, 0x1234) + struct.pack(">i", 16) + b"\0" * 16
    proto.receive_data(struct.pack(">i", len(handshake) + 1) + handshake + b"\0")
    body = _reply_body(data)
    op = OpCode.GET_DATA

    def replies(first: int, n: int) -> list[bytes]:
        return [reply_frame(xid, _ZXID, 0, body) for xid in range(first, first + n)]

    def batch(frames: list[bytes]) -> int:
        total = 0
        send = proto.send_request
        receive = proto.receive_data
        for frame in frames:
            request = GetDataRequest(path=path, watch=False) if by_keywords else make(path, False)
            _xid, _out = send(op, request)
            (reply,) = receive(frame)
            assert isinstance(reply, Reply)
            response: Any = reply.response
            total += len(response.data) + response.stat.version
        return total

    return replies, batch


def _kazoo(path: str, data: bytes) -> Setup:
    from kazoo.protocol.serialization import GetData, ReplyHeader, int_struct

    body = _reply_body(data)
    xid = [0]

    def replies(first: int, n: int) -> list[bytes]:
        return [reply_frame(x, _ZXID, 0, body)[4:] for x in range(first, first + n)]

    def batch(frames: list[bytes]) -> int:
        total = 0
        for frame in frames:
            xid[0] += 1
            request = GetData(path, None)
            b = bytearray()
            b.extend(int_struct.pack(xid[0]))
            b.extend(int_struct.pack(request.type))
            b += request.serialize()
            _out = int_struct.pack(len(b)) + b
            header, offset = ReplyHeader.deserialize(frame, 0)
            if header.xid != xid[0]:
                raise RuntimeError("xid mismatch")
            got, stat = request.deserialize(frame, offset)
            total += len(got) + stat.version
        return total

    return replies, batch


def _aiozk(path: str, data: bytes) -> Setup:
    from aiozk.protocol import GetDataRequest, GetDataResponse

    header = struct.Struct("!iqi")
    body = _reply_body(data)
    xid = [0]

    def replies(first: int, n: int) -> list[bytes]:
        return [reply_frame(x, _ZXID, 0, body)[4:] for x in range(first, first + n)]

    def batch(frames: list[bytes]) -> int:
        total = 0
        for frame in frames:
            xid[0] += 1
            payload_ = GetDataRequest(path=path, watch=False).serialize(xid[0])
            _out = struct.pack("!i", len(payload_)) + payload_
            got_xid, _zxid, err = header.unpack_from(frame[:16])
            if got_xid != xid[0] or err:
                raise RuntimeError("bad reply")
            response = GetDataResponse.deserialize(frame[16:])
            total += len(response.data) + response.stat.version
        return total

    return replies, batch


def _raw(path: str, data: bytes) -> Setup:
    body = _reply_body(data)
    i32 = struct.Struct(">i")
    reply_header = struct.Struct(">iqi")
    xid = [0]

    def replies(first: int, n: int) -> list[bytes]:
        return [reply_frame(x, _ZXID, 0, body) for x in range(first, first + n)]

    def batch(frames: list[bytes]) -> int:
        total = 0
        for frame in frames:
            xid[0] += 1
            _out = encode_frame(xid[0], OP_GET_DATA, get_data_body(path))
            (size,) = i32.unpack_from(frame, 0)
            got_xid, _zxid, err = reply_header.unpack_from(frame, 4)
            if got_xid != xid[0] or err:
                raise RuntimeError("bad reply")
            got, stat = parse_get_data(frame[20 : 4 + size])
            total += len(got) + stat[4]
        return total

    return replies, batch


CODECS: dict[str, Callable[[str, bytes], Setup]] = {
    "trio": _trio,
    "trio_base": _trio,  # run.py --baseline: the same code path, another checkout
    "kazoo": _kazoo,
    "aiozk": _aiozk,
    "raw": _raw,
}


def codec(spec: Spec) -> Result:
    """Time ``ops`` encode+decode pairs (after ``warmup``) in batches of 10,000."""
    result = Result()
    make = CODECS[spec["client"]]
    replies, batch = make(spec["node"], payload(spec["payload"]))
    next_xid = 1
    checksum = 0
    deadline = time.perf_counter() + spec["max_seconds"]
    warm = replies(next_xid, spec["warmup"])
    next_xid += len(warm)
    batch(warm)
    timed_ns = 0
    done = 0
    while done < spec["ops"] and time.perf_counter() < deadline:
        frames = replies(next_xid, min(_BATCH, spec["ops"] - done))
        next_xid += len(frames)
        t0 = time.perf_counter_ns()
        checksum += batch(frames)
        timed_ns += time.perf_counter_ns() - t0
        done += len(frames)
    if done == 0 or checksum == 0:
        raise RuntimeError("no codec operation ran")
    result.add("ops", done, "ops")
    result.add("ns_per_op", timed_ns / done, "ns")
    result.add("ops_per_s", done / (timed_ns / 1e9), "ops/s")
    return result


if __name__ == "__main__":
    raise SystemExit(child_main({"codec": codec}))
