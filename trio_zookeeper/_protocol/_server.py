"""The server side of the protocol, sans-IO: for fake servers in tests.

It decodes what a client sends (the ConnectRequest, then requests with their
headers) and encodes what a server answers. The test fake server in
``trio_zookeeper.testing`` is built on it; it is kept here, beside the client
side, so both ends share one codec and stay consistent.
"""

from __future__ import annotations

import struct

import attrs

from ._enums import OpCode
from ._errors import RemoteProtocolError
from ._jute import decode_record, encode_record
from ._ops import OPS
from ._records import ConnectRequest, ConnectResponse, WatcherEvent

__all__ = ["ClientRequest", "ServerProtocol"]

_LEN = struct.Struct(">i")
_REQ = struct.Struct(">ii")
_REPLY = struct.Struct(">iqi")


@attrs.frozen
class ClientRequest:
    """One request as a server receives it.

    ``op`` is the opcode, ``request`` the decoded body. For the first frame,
    ``op`` is ``OpCode.CREATE_SESSION`` and ``request`` the ConnectRequest.
    """

    xid: int
    op: int
    request: object
    raw: bytes


class ServerProtocol:
    """Decodes client frames and encodes server frames.

    Args:
        max_frame_size: The largest frame accepted from the client.
    """

    def __init__(self, *, max_frame_size: int = 0xFFFFF) -> None:
        self.max_frame_size = max_frame_size
        self._buf = bytearray()
        self._handshake_done = False

    def receive_data(self, data: bytes) -> list[ClientRequest]:
        """Feed bytes from the client; returns the complete requests."""
        self._buf += data
        out: list[ClientRequest] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 4:
            (size,) = _LEN.unpack_from(buf, pos)
            if size < 0 or size > self.max_frame_size:
                raise RemoteProtocolError(f"invalid frame length {size} from the client")
            if len(buf) - pos - 4 < size:
                break
            frame = bytes(buf[pos + 4 : pos + 4 + size])
            pos += 4 + size
            out.append(self._decode(frame))
        del buf[:pos]
        return out

    def _decode(self, frame: bytes) -> ClientRequest:
        if not self._handshake_done:
            self._handshake_done = True
            request, _ = decode_record(ConnectRequest, frame)
            return ClientRequest(0, OpCode.CREATE_SESSION, request, frame)
        if len(frame) < 8:
            raise RemoteProtocolError("request shorter than its header")
        xid, op = _REQ.unpack_from(frame)
        entry = OPS.get(op)
        if entry is None:
            raise RemoteProtocolError(f"unknown opcode {op}")
        request, _ = decode_record(entry[0], frame, 8)
        return ClientRequest(xid, op, request, frame)

    @staticmethod
    def connect_response(response: ConnectResponse, *, include_read_only: bool = True) -> bytes:
        """Frame a ConnectResponse (optionally without the readOnly byte)."""
        out = bytearray(4)
        encode_record(response, out)
        if not include_read_only:
            del out[-1]
        _LEN.pack_into(out, 0, len(out) - 4)
        return bytes(out)

    @staticmethod
    def reply(xid: int, zxid: int, err: int = 0, response: object | None = None) -> bytes:
        """Frame a reply header and, when given, its body."""
        out = bytearray(4)
        out += _REPLY.pack(xid, zxid, err)
        if response is not None:
            encode_record(response, out)
        _LEN.pack_into(out, 0, len(out) - 4)
        return bytes(out)

    @staticmethod
    def notification(event_type: int, state: int, path: str | None, zxid: int = -1) -> bytes:
        """Frame a watch notification (xid -1)."""
        return ServerProtocol.reply(
            -1, zxid, 0, WatcherEvent(type=event_type, state=state, path=path)
        )
