"""The client side of the ZooKeeper protocol, as a sans-IO state machine.

Bytes in, events out; requests in, bytes out. The trio layer feeds whatever it
reads to :meth:`ClientProtocol.receive_data` and writes whatever the ``send_*``
methods return, in the order they returned it. Nothing here does I/O or
knows about time.

What this layer owns:

* framing: a 4-byte big-endian length before every frame; a frame longer than
  ``max_frame_size`` is refused *before* it is buffered;
* the handshake: the first frame each way has no header;
* xids: positive, increasing, wrapping from 2**31-1 to 1, never a reserved
  value (-1 notification, -2 ping, -4 auth, -8 SetWatches);
* the pending FIFO, the one record of what awaits a reply: the server answers
  in request order, and a reply carries no opcode, so the head of the queue
  says how to decode it; a reply for any other xid, or with nothing pending,
  is a protocol error (Java's "Xid out of order"). Each entry also holds the
  caller's opaque *context* (the I/O layer's record of the request), which
  its :class:`Reply` carries back and :meth:`ClientProtocol.drain_pending`
  hands over when the connection dies;
* the last zxid seen, taken only from request replies with zxid > 0
  (ZOOKEEPER-1417), never from pings or notifications.

Any broken input raises :class:`RemoteProtocolError` naming what was wrong,
after which the protocol object is dead: the connection must be dropped.
"""

from __future__ import annotations

import collections
import enum
import struct

from ._enums import EventType, KeeperState, OpCode
from ._errors import FrameTooLargeError, LocalProtocolError, RemoteProtocolError
from ._events import (
    AuthReply,
    Connected,
    ConnectionClosed,
    Event,
    Notification,
    PingReply,
    Reply,
    WatchedEvent,
)
from ._jute import (
    Decoder,
    Framer,
    decode_record,
    decoder_of,
    encode_error,
    encode_record,
    framer_of,
    values_decoder_of,
)
from ._multi import MULTI_READ_OPS, MULTI_WRITE_OPS, MultiRequest
from ._ops import OPS
from ._records import (
    AuthPacket,
    ConnectRequest,
    ConnectResponse,
    ConnectResponseCore,
    SetWatches,
    SetWatches2,
    WatcherEvent,
)

__all__ = [
    "AUTH_XID",
    "DEFAULT_MAX_FRAME_SIZE",
    "NOTIFICATION_XID",
    "PING_XID",
    "SET_WATCHES_XID",
    "ClientProtocol",
    "ProtocolState",
]

#: Default largest frame accepted: ZooKeeper's ``jute.maxbuffer`` default,
#: 0xfffff bytes (``ZKClientConfig.CLIENT_MAX_PACKET_LENGTH_DEFAULT``).
DEFAULT_MAX_FRAME_SIZE = 0xFFFFF

NOTIFICATION_XID = -1
PING_XID = -2
AUTH_XID = -4
SET_WATCHES_XID = -8
_MAX_XID = 2**31 - 1

_LEN = struct.Struct(">i")
_HEADER = struct.Struct(">ii")  # RequestHeader: xid, type
_REPLY = struct.Struct(">iqi")  # ReplyHeader: xid, zxid, err
_LEN_REPLY = struct.Struct(">iiqi")  # a frame's length and its ReplyHeader
_PING_FRAME = _LEN.pack(8) + _HEADER.pack(PING_XID, OpCode.PING)

_EVENT_TYPES = {int(e): e for e in EventType}
_KEEPER_STATES = {int(s): s for s in KeeperState}

# The hot path: per opcode, what a request is checked against and how it is
# framed, and how its reply is decoded; the records built per frame are
# TupleRecords (a Reply, a Notification), each one tuple.__new__ call.
# Both are filled per opcode on first use: a record's codec is generated
# when it is first needed (see _jute), not at import.
_SEND: dict[int, tuple[type, Framer]] = {}


def _send_entry(op: int) -> tuple[type, Framer] | None:
    """``_SEND[op]``, made on the opcode's first request (None for an unknown opcode)."""
    known = OPS.get(op)
    if known is None:
        return None
    framer = framer_of(known[0])
    if op in (OpCode.MULTI, OpCode.MULTI_READ):
        framer = _multi_framer(op, framer)
    entry = _SEND[op] = (known[0], framer)
    return entry


def _multi_framer(op: int, framer: Framer) -> Framer:
    """A multi's framer, checking its operations first.

    As Java's MultiOperationRecord: multi takes only writes, multiRead only reads.
    """
    allowed = MULTI_READ_OPS if op == OpCode.MULTI_READ else MULTI_WRITE_OPS

    def frame_multi(request: MultiRequest, xid: int, op: int) -> bytes:
        refused = [item.op for item in request.ops if item.op not in allowed]
        if refused:
            raise LocalProtocolError(
                f"operations {refused} cannot be part of opcode {op} ({OpCode(op).name})"
            )
        return framer(request, xid, op)

    return frame_multi


def _add_watch_decoder(decode: Decoder | None) -> Decoder:
    """Decode the reply to addWatch: a server may send its ErrorResponse body or nothing."""

    def decode_add_watch(buf: bytes | memoryview, pos: int, end: int) -> tuple[object | None, int]:
        if pos == end or decode is None:
            return None, pos
        return decode(buf, pos, end)

    return decode_add_watch


class _Decoders(dict[int, "Decoder | None"]):
    """``_DECODE[op]``: the reply decoder of an opcode (None: no body), made on first use."""

    def __missing__(self, op: int) -> Decoder | None:
        resp = OPS[op][1]  # the op was sent, so it is known
        decode = decoder_of(resp) if resp is not None else None
        if op == OpCode.ADD_WATCH:
            decode = _add_watch_decoder(decode)
        self[op] = decode
        return decode


_DECODE = _Decoders()
_decode_watcher_event = values_decoder_of(WatcherEvent)
_tnew = tuple.__new__
_unpack_len = _LEN.unpack_from
_unpack_reply = _REPLY.unpack_from
_unpack_len_reply = _LEN_REPLY.unpack_from


class ProtocolState(enum.Enum):
    """Where the client protocol is in its life."""

    IDLE = "nothing sent yet"
    HANDSHAKE = "ConnectRequest sent, awaiting ConnectResponse"
    CONNECTED = "session established"
    CLOSED = "connection closed or broken"


_IDLE = ProtocolState.IDLE
_CONNECTED = ProtocolState.CONNECTED
_CLOSED = ProtocolState.CLOSED


class ClientProtocol:
    """The client end of one ZooKeeper connection, with no I/O.

    Args:
        max_frame_size: The largest frame accepted from the server.
        last_zxid: The last zxid the client has seen (carried across
            connections by the session layer).
        first_xid: The xid of the first request (for tests of the wrap).
    """

    def __init__(
        self,
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        last_zxid: int = 0,
        first_xid: int = 1,
    ) -> None:
        if not 1 <= first_xid <= _MAX_XID:
            raise ValueError(f"first_xid must be in [1, 2**31-1], not {first_xid}")
        self.max_frame_size = max_frame_size
        self.last_zxid = last_zxid
        self.state = ProtocolState.IDLE
        self._next_xid = first_xid
        # (xid, opcode, context) per reply expected, oldest first.
        self._pending: collections.deque[tuple[int, int, object]] = collections.deque()
        self._buf = bytearray()
        self._pos = 0

    # ------------------------------------------------------------ outgoing
    @property
    def pending_count(self) -> int:
        """How many replies (requests and SetWatches) are still expected."""
        return len(self._pending)

    def pending_xids(self) -> list[int]:
        """The xids awaiting a reply, oldest first."""
        return [xid for xid, _, _ in self._pending]

    def pending_context(self, xid: int) -> object | None:
        """The context of the oldest pending request with this xid (None if none).

        The entry stays pending; :meth:`drain_pending` still returns it.
        """
        for want, _, context in self._pending:
            if want == xid:
                return context
        return None

    def drain_pending(self) -> list[object | None]:
        """Take every pending entry's context, oldest first, and forget them.

        For the I/O layer once the connection is dead: these requests were
        written and never answered (their outcome is unknown). SetWatches
        entries give None, as do requests sent without a context.
        """
        contexts = [context for _, _, context in self._pending]
        self._pending.clear()
        return contexts

    def connect(self, request: ConnectRequest) -> bytes:
        """Start the handshake: the ConnectRequest frame (no request header)."""
        if self.state is not ProtocolState.IDLE:
            raise LocalProtocolError(f"connect() called in state {self.state.name}")
        out = bytearray(4)
        encode_record(request, out)
        _LEN.pack_into(out, 0, len(out) - 4)
        self.state = ProtocolState.HANDSHAKE
        return bytes(out)

    def _check_can_send(self) -> None:
        if self.state not in (ProtocolState.HANDSHAKE, ProtocolState.CONNECTED):
            raise LocalProtocolError(f"cannot send a request in state {self.state.name}")

    def send_request(
        self, op: int, request: object, context: object | None = None
    ) -> tuple[int, bytes]:
        """Frame a request with a fresh xid and expect its reply.

        Args:
            op: The opcode.
            request: The request record of that opcode (see ``OPS``).
            context: Anything the caller wants back with the reply (as
                :attr:`Reply.context`) or from :meth:`drain_pending`; opaque
                here.

        Returns:
            The xid and the frame to write.

        Raises:
            LocalProtocolError: unknown opcode, the wrong record for it (incl.
                a multi with a read, a multiRead with a write), a value that
                cannot be encoded, or a frame over the size limit.
        """
        if self.state is not _CONNECTED:
            self._check_can_send()
        entry: tuple[type, Framer] | None
        try:
            entry = _SEND[op]
        except KeyError:
            entry = _send_entry(op)
        if entry is None or type(request) is not entry[0]:
            raise LocalProtocolError(f"opcode {op} cannot carry a {type(request).__name__} request")
        xid = self._next_xid
        try:
            frame = entry[1](request, xid, op)
        except (struct.error, UnicodeEncodeError, AttributeError, TypeError) as exc:
            raise encode_error(request, exc) from None
        if len(frame) - 4 > self.max_frame_size:
            raise LocalProtocolError(
                f"request of {len(frame) - 4} bytes exceeds the frame limit of "
                f"{self.max_frame_size}"
            )
        self._next_xid = 1 if xid >= _MAX_XID else xid + 1
        self._pending.append((xid, op, context))
        return xid, frame

    def send_ping(self) -> bytes:
        """A ping frame (xid -2). Its reply is a :class:`PingReply`."""
        self._check_can_send()
        return _PING_FRAME

    def send_auth(self, packet: AuthPacket) -> bytes:
        """An auth frame (xid -4). Its reply is an :class:`AuthReply`."""
        self._check_can_send()
        out = bytearray(12)
        _HEADER.pack_into(out, 4, AUTH_XID, OpCode.AUTH)
        encode_record(packet, out)
        _LEN.pack_into(out, 0, len(out) - 4)
        return bytes(out)

    def send_set_watches(self, request: SetWatches | SetWatches2) -> bytes:
        """A SetWatches / SetWatches2 frame (xid -8), answered in FIFO order."""
        self._check_can_send()
        if type(request) is SetWatches:
            op = OpCode.SET_WATCHES
        elif type(request) is SetWatches2:
            op = OpCode.SET_WATCHES2
        else:
            raise LocalProtocolError(
                f"send_set_watches() takes SetWatches or SetWatches2, not {type(request).__name__}"
            )
        out = bytearray(12)
        _HEADER.pack_into(out, 4, SET_WATCHES_XID, op)
        encode_record(request, out)
        size = len(out) - 4
        if size > self.max_frame_size:
            raise LocalProtocolError(
                f"SetWatches of {size} bytes exceeds the frame limit of {self.max_frame_size}"
            )
        _LEN.pack_into(out, 0, size)
        self._pending.append((SET_WATCHES_XID, op, None))
        return bytes(out)

    # ------------------------------------------------------------ incoming
    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes read from the connection; ``b""`` means end of file.

        This is the receive hot path: a reply to the request at the head of
        the pending FIFO is decoded inline, the rarer frames go to
        :meth:`_frame`. When nothing is buffered (the usual case) and
        ``data`` is ``bytes``, the frames are decoded from ``data`` itself and
        only the part of a frame it ends inside is buffered.

        Returns:
            The events completed by these bytes, in arrival order. The result
            does not depend on how the stream was split into reads.

        Raises:
            RemoteProtocolError: the bytes break the protocol. The connection
                must then be dropped; this object refuses further data.
        """
        state = self.state
        if state is _CONNECTED and type(data) is bytes and not self._buf and self._pending:
            # The common read: exactly one reply, to the request at the head
            # of the FIFO, and nothing buffered. As the loop below does it.
            end = len(data)
            if end >= 20:
                size, xid, zxid, err = _unpack_len_reply(data, 0)
                want, op, context = self._pending[0]
                if size == end - 4 and xid == want and size <= self.max_frame_size:
                    if zxid > self.last_zxid:
                        self.last_zxid = zxid
                    response: object | None = None
                    if err == 0:
                        decode = _DECODE[op]
                        if decode is not None:
                            try:
                                response, _ = decode(data, 20, end)
                            except RemoteProtocolError:
                                self.state = _CLOSED
                                raise
                    self._pending.popleft()
                    return [_tnew(Reply, (xid, zxid, op, err, response, context))]
        if state is _CLOSED:
            raise RemoteProtocolError("the connection is already closed or broken")
        if state is _IDLE:
            raise LocalProtocolError("receive_data() before connect()")
        if not data:
            return self._eof()
        buf = self._buf
        pos = self._pos
        src: bytes | memoryview
        view: memoryview | None = None
        if pos == len(buf) and type(data) is bytes:
            src = data
            pos = 0
        else:
            if pos and pos == len(buf):
                buf.clear()
                pos = 0
            buf += data
            src = view = memoryview(buf)
        end = len(src)
        events: list[Event] = []
        limit = self.max_frame_size
        pending = self._pending
        try:
            while end - pos >= 4:
                (size,) = _unpack_len(src, pos)
                if size < 0 or size > limit:
                    if size < 0:
                        raise RemoteProtocolError(f"invalid frame length {size} (limit {limit})")
                    # Name the request it answers when its xid is here already.
                    xid = (
                        _unpack_len(src, pos + 4)[0]  # the xid: an int as well
                        if end - pos >= 8 and self.state is not ProtocolState.HANDSHAKE
                        else None
                    )
                    raise FrameTooLargeError(size, limit, xid)
                start = pos + 4
                stop = start + size
                if stop > end:
                    break
                pos = stop
                if size < 16 or self.state is not _CONNECTED or not pending:
                    events.append(self._frame(src, start, stop))
                    continue
                xid, zxid, err = _unpack_reply(src, start)
                want, op, context = pending[0]
                if xid != want:
                    events.append(self._frame(src, start, stop))
                    continue
                # A reply to the request at the head of the pending FIFO.
                if zxid > self.last_zxid:
                    # Only request replies count (not pings or notifications,
                    # ZOOKEEPER-1417), SetWatches replies included as in Java;
                    # and the value never goes back, so the client never
                    # accepts a server behind what it has already seen.
                    self.last_zxid = zxid
                response = None
                if err == 0:
                    decode = _DECODE[op]
                    if decode is not None:
                        response, _ = decode(src, start + 16, stop)
                # Taken off the FIFO only once decoded: a broken body leaves
                # it pending, for drain_pending to hand over.
                pending.popleft()
                events.append(_tnew(Reply, (xid, zxid, op, err, response, context)))
        except RemoteProtocolError:
            # The connection is dead and these events are never delivered:
            # their requests go back to the head of the FIFO, in order, so
            # that drain_pending hands them over with the rest.
            for event in reversed(events):
                if type(event) is Reply:
                    pending.appendleft((event.xid, event.op, event.context))
            self.state = _CLOSED
            raise
        finally:
            if view is not None:
                view.release()
        if view is None:
            # Parsed from ``data``: keep what is left of its last frame.
            if buf:
                buf.clear()
                self._pos = 0
            if pos < end:
                buf += data[pos:]
        else:
            # Compact when the consumed prefix is large, so buffering stays O(n).
            if pos == end and end <= 65536:
                buf.clear()  # all consumed: nothing is buffered
                pos = 0
            elif pos > 65536 and pos > (end >> 1):
                # Drop the consumed prefix (all of it, after a large reply):
                # ``del`` keeps the allocation, so the next large reply does
                # not map fresh pages (page faults cost more than the copy).
                del buf[:pos]
                pos = 0
            self._pos = pos
        return events

    def _eof(self) -> list[Event]:
        self.state = ProtocolState.CLOSED
        left = len(self._buf) - self._pos
        if left:
            raise RemoteProtocolError(
                f"connection closed in the middle of a frame ({left} bytes of it received)"
            )
        return [ConnectionClosed()]

    def _frame(self, buf: bytes | memoryview, pos: int, end: int) -> Event:
        if self.state is ProtocolState.HANDSHAKE:
            return self._connect_response(buf, pos, end)
        if end - pos < 16:
            raise RemoteProtocolError(f"reply of {end - pos} bytes is shorter than its header")
        xid, zxid, err = _REPLY.unpack_from(buf, pos)
        pos += 16
        if xid == NOTIFICATION_XID:
            return self._notification(buf, pos, end, zxid)
        if xid == PING_XID:
            return PingReply(zxid)
        if xid == AUTH_XID:
            return AuthReply(err)
        if not self._pending:
            raise RemoteProtocolError(f"reply with xid {xid} but no request is pending")
        want, op, context = self._pending[0]
        if xid != want:
            raise RemoteProtocolError(f"reply xid {xid} out of order: expected xid {want}")
        if zxid > self.last_zxid:
            self.last_zxid = zxid  # as in _parse
        response: object | None = None
        # Tolerate a server that sends addWatch's ErrorResponse body or not.
        if err == 0:
            decode = _DECODE[op]
            if decode is not None:
                response, _ = decode(buf, pos, end)
        self._pending.popleft()  # once decoded, as in _parse
        return _tnew(Reply, (xid, zxid, op, err, response, context))

    def _connect_response(self, buf: bytes | memoryview, pos: int, end: int) -> Event:
        response, after = decode_record(ConnectResponseCore, buf, pos, end)
        read_only_flag = after < end
        read_only = bool(buf[after]) if read_only_flag else False
        if read_only_flag and end - after > 1:
            raise RemoteProtocolError(
                f"ConnectResponse has {end - after - 1} unexpected trailing bytes"
            )
        self.state = ProtocolState.CONNECTED
        return Connected(
            ConnectResponse(
                protocol_version=response.protocol_version,
                time_out=response.time_out,
                session_id=response.session_id,
                passwd=response.passwd,
                read_only=read_only,
            ),
            read_only_flag,
        )

    def _notification(self, buf: bytes | memoryview, pos: int, end: int, zxid: int) -> Event:
        (raw_type, raw_state, path), _ = _decode_watcher_event(buf, pos, end)
        event_type = _EVENT_TYPES.get(raw_type)
        if event_type is None:
            raise RemoteProtocolError(f"watch notification with unknown event type {raw_type}")
        state = _KEEPER_STATES.get(raw_state)
        if state is None:
            raise RemoteProtocolError(f"watch notification with unknown keeper state {raw_state}")
        return _tnew(Notification, (zxid, _tnew(WatchedEvent, (event_type, state, path, zxid))))

    def connection_lost(self) -> list[int]:
        """The connection is gone: forget everything pending.

        Returns:
            The xids that were awaiting replies, oldest first (their outcome
            is unknown); :meth:`drain_pending` gives their contexts instead.
        """
        self.state = ProtocolState.CLOSED
        xids = [xid for xid, _, _ in self._pending]
        self._pending.clear()
        self._buf.clear()
        self._pos = 0
        return xids
