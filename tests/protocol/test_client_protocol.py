"""Scripted conversations between ClientProtocol and ServerProtocol, no I/O.

Server bytes are built with ``ServerProtocol`` where the encoder is not what is
under test, and packed by hand with ``struct`` where it is (headers, hostile
frames, the multi failure layout), so a symmetric encoder/decoder mistake
cannot hide.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import pytest

from trio_zookeeper._protocol import (
    AUTH_XID,
    DEFAULT_MAX_FRAME_SIZE,
    MULTI_READ_OPS,
    MULTI_WRITE_OPS,
    NOTIFICATION_XID,
    OPS,
    PING_XID,
    SET_WATCHES_XID,
    AddWatchRequest,
    AuthPacket,
    AuthReply,
    ClientProtocol,
    ClientRequest,
    Connected,
    ConnectionClosed,
    ConnectRequest,
    ConnectResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    Empty,
    Event,
    EventType,
    ExistsRequest,
    FrameTooLargeError,
    GetDataRequest,
    KeeperState,
    LocalProtocolError,
    MultiOp,
    MultiRequest,
    MultiResponse,
    MultiResult,
    Notification,
    OpCode,
    PingReply,
    ProtocolState,
    RemoteProtocolError,
    Reply,
    ServerProtocol,
    SetWatches,
    SetWatches2,
    WatchedEvent,
)

from .strategies import sample_multi_read, sample_record

PASSWD = bytes(range(0x10, 0x20))
RESPONSE = ConnectResponse(
    protocol_version=0, time_out=4000, session_id=0x1000A1B2C3D4E5F, passwd=PASSWD
)
RESERVED_XIDS = {NOTIFICATION_XID, PING_XID, AUTH_XID, SET_WATCHES_XID}


def frame(xid: int, zxid: int, err: int = 0, body: bytes = b"") -> bytes:
    """A server frame packed by hand: length, ReplyHeader, body."""
    return struct.pack(">iiqi", 16 + len(body), xid, zxid, err) + body


def jstring(s: str | bytes | None) -> bytes:
    if s is None:
        return struct.pack(">i", -1)
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack(">i", len(raw)) + raw


def connected(**kwargs: int) -> tuple[ClientProtocol, ServerProtocol]:
    client = ClientProtocol(**kwargs)
    server = ServerProtocol()
    server.receive_data(client.connect(ConnectRequest(time_out=4000)))
    assert client.receive_data(server.connect_response(RESPONSE)) == [Connected(RESPONSE, True)]
    assert client.state is ProtocolState.CONNECTED
    return client, server


def feed(client: ClientProtocol, chunks: Iterable[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events += client.receive_data(chunk)
    return events


def send(client: ClientProtocol, server: ServerProtocol, op: int, request: object) -> int:
    xid, data = client.send_request(op, request)
    [got] = server.receive_data(data)
    assert (got.xid, got.op, got.request) == (xid, op, request)
    return xid


def delete(client: ClientProtocol, path: str = "/a") -> int:
    """Send a request whose successful reply has no body."""
    xid, _ = client.send_request(OpCode.DELETE, DeleteRequest(path=path, version=-1))
    return xid


# ------------------------------------------------------------------ handshake
def test_connect_frame_is_a_bare_connect_request() -> None:
    client = ClientProtocol(last_zxid=0x100000023)
    request = ConnectRequest(time_out=10000, session_id=0x1000A1B2C3D4E5F, passwd=PASSWD)
    data = client.connect(request)
    # The record is sent as given: last_zxid_seen is the caller's field, not
    # the protocol's last_zxid.
    expected_body = struct.pack(">iqiq", 0, 0, 10000, 0x1000A1B2C3D4E5F) + jstring(PASSWD) + b"\0"
    assert data == struct.pack(">i", len(expected_body)) + expected_body
    assert len(expected_body) == 45
    assert client.state is ProtocolState.HANDSHAKE
    assert ServerProtocol().receive_data(data) == [
        ClientRequest(0, OpCode.CREATE_SESSION, request, expected_body)
    ]
    with pytest.raises(LocalProtocolError, match="HANDSHAKE"):
        client.connect(request)


def _connect_response_bytes(read_only: bool | None) -> bytes:
    body = struct.pack(">iiq", 0, 4000, 0x1000A1B2C3D4E5F) + jstring(PASSWD)
    assert len(body) == 36
    if read_only is not None:
        body += b"\x01" if read_only else b"\x00"
    return struct.pack(">i", len(body)) + body


@pytest.mark.parametrize("read_only", [None, False, True], ids=["no-byte", "rw", "ro"])
def test_handshake_split_at_every_byte_boundary(read_only: bool | None) -> None:
    connect = _connect_response_bytes(read_only)
    include = read_only is not None
    assert connect == ServerProtocol.connect_response(
        ConnectResponse(
            protocol_version=0,
            time_out=4000,
            session_id=0x1000A1B2C3D4E5F,
            passwd=PASSWD,
            read_only=bool(read_only),
        ),
        include_read_only=include,
    )
    expected_response = ConnectResponse(
        protocol_version=0,
        time_out=4000,
        session_id=0x1000A1B2C3D4E5F,
        passwd=PASSWD,
        read_only=bool(read_only),
    )
    # The handshake followed by a ping reply, split into three reads at every
    # pair of boundaries: the result never depends on the split.
    stream = connect + frame(PING_XID, 7)
    expected: list[Event] = [Connected(expected_response, include), PingReply(7)]
    for i in range(1, len(stream)):
        for j in range(i, len(stream)):
            client = ClientProtocol()
            client.connect(ConnectRequest(time_out=4000))
            chunks = [c for c in (stream[:i], stream[i:j], stream[j:]) if c]
            assert feed(client, chunks) == expected, (i, j)


def test_handshake_edge_cases() -> None:
    # Expired session: time_out 0 is reported as is (the session layer decides).
    client = ClientProtocol()
    client.connect(ConnectRequest(time_out=4000))
    body = struct.pack(">iiq", 0, 0, 0) + jstring(bytes(16)) + b"\0"
    [event] = client.receive_data(struct.pack(">i", len(body)) + body)
    assert isinstance(event, Connected)
    assert event.response.time_out == 0
    # Null password is legal jute.
    client = ClientProtocol()
    client.connect(ConnectRequest(time_out=4000))
    body = struct.pack(">iiq", 0, 1, 2) + jstring(None)
    [event] = client.receive_data(struct.pack(">i", len(body)) + body)
    assert event == Connected(
        ConnectResponse(protocol_version=0, time_out=1, session_id=2, passwd=None), False
    )


@pytest.mark.parametrize(
    "body",
    [
        struct.pack(">iiq", 0, 4000, 1) + jstring(PASSWD) + b"\0\0",  # 2 trailing bytes
        struct.pack(">iiq", 0, 4000, 1) + struct.pack(">i", 17) + PASSWD,  # passwd overruns
        struct.pack(">iiq", 0, 4000, 1),  # no passwd at all
        b"",
    ],
    ids=["trailing", "overrun", "short", "empty"],
)
def test_broken_connect_response(body: bytes) -> None:
    client = ClientProtocol()
    client.connect(ConnectRequest(time_out=4000))
    with pytest.raises(RemoteProtocolError):
        client.receive_data(struct.pack(">i", len(body)) + body)
    assert client.state is ProtocolState.CLOSED


def test_requests_pipelined_during_the_handshake() -> None:
    client = ClientProtocol()
    server = ServerProtocol()
    server.receive_data(client.connect(ConnectRequest(time_out=4000)))
    xid = send(client, server, OpCode.GET_DATA, GetDataRequest(path="/a", watch=True))
    assert xid == 1
    auth = client.send_auth(AuthPacket(scheme="digest", auth=b"u:p"))
    [got] = server.receive_data(auth)
    assert (got.xid, got.op) == (AUTH_XID, OpCode.AUTH)
    stream = server.connect_response(RESPONSE) + frame(AUTH_XID, 0) + frame(xid, 5, -101)
    assert client.receive_data(stream) == [
        Connected(RESPONSE, True),
        AuthReply(0),
        Reply(xid, 5, OpCode.GET_DATA, -101, None),
    ]


# --------------------------------------------------------------- every opcode
def _request_for(op: int, cls: type) -> object:
    return sample_multi_read() if op == OpCode.MULTI_READ else sample_record(cls)


@pytest.mark.parametrize(("op", "classes"), sorted(OPS.items()), ids=lambda v: str(v))
def test_every_opcode_request_and_reply(op: int, classes: tuple[type, type | None]) -> None:
    request_cls, response_cls = classes
    client, server = connected()
    request = _request_for(op, request_cls)
    xid, data = client.send_request(op, request)
    assert data[4:12] == struct.pack(">ii", xid, op)
    assert struct.unpack(">i", data[:4])[0] == len(data) - 4
    assert server.receive_data(data) == [ClientRequest(xid, op, request, data[4:])]

    response = None if response_cls is None else sample_record(response_cls)
    [reply] = client.receive_data(server.reply(xid, 0x500, 0, response))
    assert reply == Reply(xid, 0x500, op, 0, response)
    assert isinstance(reply, Reply)
    if response_cls is None:
        assert reply.response is None
    else:
        assert type(reply.response) is response_cls

    # An error reply has no body, whatever the operation.
    xid2, _ = client.send_request(op, request)
    assert client.receive_data(frame(xid2, 0x501, -101)) == [Reply(xid2, 0x501, op, -101, None)]
    assert client.pending_count == 0


def test_add_watch_reply_with_or_without_body() -> None:
    client, server = connected()
    request = AddWatchRequest(path="/a", mode=1)
    xid = send(client, server, OpCode.ADD_WATCH, request)
    [reply] = client.receive_data(frame(xid, 9, 0, struct.pack(">i", 0)))
    assert isinstance(reply, Reply)
    assert reply.response is not None
    xid = send(client, server, OpCode.ADD_WATCH, request)
    assert client.receive_data(frame(xid, 9)) == [Reply(xid, 9, OpCode.ADD_WATCH, 0, None)]


# --------------------------------------------------------------- special xids
@pytest.mark.parametrize("event_type", list(EventType))
@pytest.mark.parametrize("state", list(KeeperState))
def test_notification_is_typed(event_type: EventType, state: KeeperState) -> None:
    client, _ = connected()
    body = struct.pack(">ii", int(event_type), int(state)) + jstring("/n/\u00e9")
    [event] = client.receive_data(frame(NOTIFICATION_XID, 0x77, 0, body))
    assert event == Notification(0x77, WatchedEvent(event_type, state, "/n/\u00e9", 0x77))
    assert isinstance(event, Notification)
    assert type(event.event.event_type) is EventType
    assert type(event.event.keeper_state) is KeeperState


def test_notification_with_null_path_and_old_server_zxid() -> None:
    client, _ = connected()
    body = struct.pack(">ii", -1, -112) + jstring(None)
    assert client.receive_data(frame(NOTIFICATION_XID, -1, 0, body)) == [
        Notification(-1, WatchedEvent(EventType.NONE, KeeperState.EXPIRED, None, -1))
    ]


@pytest.mark.parametrize(("event_type", "state"), [(0, 3), (8, 3), (99, 3), (1, 2), (1, -2)])
def test_unknown_event_type_or_state(event_type: int, state: int) -> None:
    client, _ = connected()
    body = struct.pack(">ii", event_type, state) + jstring("/a")
    bad = event_type if event_type not in {int(e) for e in EventType} else state
    with pytest.raises(RemoteProtocolError, match=rf"unknown .* {bad}$"):
        client.receive_data(frame(NOTIFICATION_XID, 1, 0, body))


def test_invalid_utf8_in_paths() -> None:
    client, _ = connected()
    body = struct.pack(">ii", 1, 3) + jstring(b"/\xff")
    with pytest.raises(RemoteProtocolError, match=r"UTF-8 in WatcherEvent\.path"):
        client.receive_data(frame(NOTIFICATION_XID, 1, 0, body))
    client, server = connected()
    xid = send(client, server, OpCode.CREATE, sample_record(CreateRequest))
    with pytest.raises(RemoteProtocolError, match=r"UTF-8 in CreateResponse\.path"):
        client.receive_data(frame(xid, 1, 0, jstring(b"/a\xc3")))


def test_ping_and_unsolicited_ping() -> None:
    client, server = connected()
    ping = client.send_ping()
    assert ping == struct.pack(">iii", 8, PING_XID, OpCode.PING)
    assert server.receive_data(ping) == [ClientRequest(PING_XID, OpCode.PING, Empty(), ping[4:])]
    assert client.pending_count == 0
    assert client.receive_data(frame(PING_XID, 0x10)) == [PingReply(0x10)]
    # Unsolicited (ZOOKEEPER-2253), even with a request pending: tolerated and
    # it does not disturb the pending queue.
    xid = delete(client)
    assert client.receive_data(frame(PING_XID, 0x11) + frame(PING_XID, 0x12)) == [
        PingReply(0x11),
        PingReply(0x12),
    ]
    assert client.pending_xids() == [xid]


@pytest.mark.parametrize("err", [0, -115])
def test_auth_reply(err: int) -> None:
    client, server = connected()
    packet = AuthPacket(scheme="digest", auth=b"user:password")
    data = client.send_auth(packet)
    assert data[4:12] == struct.pack(">ii", AUTH_XID, OpCode.AUTH)
    assert server.receive_data(data) == [ClientRequest(AUTH_XID, OpCode.AUTH, packet, data[4:])]
    xid = delete(client)
    # The auth reply is not matched against the pending queue.
    events = client.receive_data(frame(AUTH_XID, 0, err) + frame(xid, 3))
    assert events == [AuthReply(err), Reply(xid, 3, OpCode.DELETE, 0, None)]
    assert client.pending_count == 0


def test_set_watches_replies_are_matched_fifo() -> None:
    client, server = connected()
    sw = SetWatches(relative_zxid=5, data_watches=("/d",), exist_watches=(), child_watches=("/c",))
    sw2 = SetWatches2(
        relative_zxid=5,
        data_watches=(),
        exist_watches=("/e",),
        child_watches=(),
        persistent_watches=("/p",),
        persistent_recursive_watches=("/r",),
    )
    a = delete(client)
    data = client.send_set_watches(sw)
    assert server.receive_data(data) == [
        ClientRequest(SET_WATCHES_XID, OpCode.SET_WATCHES, sw, data[4:])
    ]
    b = delete(client)
    data2 = client.send_set_watches(sw2)
    assert server.receive_data(data2) == [
        ClientRequest(SET_WATCHES_XID, OpCode.SET_WATCHES2, sw2, data2[4:])
    ]
    assert client.pending_xids() == [a, SET_WATCHES_XID, b, SET_WATCHES_XID]
    stream = frame(a, 1) + frame(SET_WATCHES_XID, 2) + frame(b, 3) + frame(SET_WATCHES_XID, 4)
    assert feed(client, [stream[:30], stream[30:]]) == [
        Reply(a, 1, OpCode.DELETE, 0, None),
        Reply(SET_WATCHES_XID, 2, OpCode.SET_WATCHES, 0, None),
        Reply(b, 3, OpCode.DELETE, 0, None),
        Reply(SET_WATCHES_XID, 4, OpCode.SET_WATCHES2, 0, None),
    ]


def test_set_watches_reply_out_of_fifo_order() -> None:
    client, _ = connected()
    a = delete(client)
    client.send_set_watches(
        SetWatches(relative_zxid=0, data_watches=(), exist_watches=(), child_watches=())
    )
    with pytest.raises(RemoteProtocolError, match=rf"xid -8 out of order: expected xid {a}"):
        client.receive_data(frame(SET_WATCHES_XID, 1))


# ----------------------------------------------------------------------- xids
def test_xids_are_positive_and_increasing() -> None:
    client, _ = connected()
    xids = [delete(client) for _ in range(5)]
    assert xids == [1, 2, 3, 4, 5]
    assert client.pending_xids() == xids


def test_xids_wrap_from_max_to_one_and_skip_reserved_values() -> None:
    client, _ = connected(first_xid=2**31 - 2)
    xids = [delete(client) for _ in range(4)]
    assert xids == [2**31 - 2, 2**31 - 1, 1, 2]
    assert not RESERVED_XIDS & set(xids)
    assert all(x > 0 for x in xids)
    # Replies are still matched across the wrap.
    events = client.receive_data(b"".join(frame(x, 1) for x in xids))
    assert [e.xid for e in events if isinstance(e, Reply)] == xids


@pytest.mark.parametrize("first_xid", [0, -1, -2, 2**31])
def test_first_xid_out_of_range(first_xid: int) -> None:
    with pytest.raises(ValueError, match="first_xid"):
        ClientProtocol(first_xid=first_xid)


def test_a_refused_request_consumes_no_xid() -> None:
    client, _ = connected()
    assert delete(client) == 1
    with pytest.raises(LocalProtocolError):
        client.send_request(OpCode.GET_DATA, GetDataRequest(path="/\ud800", watch=False))
    assert delete(client) == 2
    assert client.pending_xids() == [1, 2]


# ------------------------------------------------------------------ last zxid
def test_last_zxid_only_from_request_replies_with_positive_zxid() -> None:
    client, server = connected(last_zxid=10)
    assert client.last_zxid == 10
    a = delete(client)
    client.receive_data(frame(a, 0x100))
    assert client.last_zxid == 0x100
    # Pings, notifications and auth replies never move it (ZOOKEEPER-1417).
    client.receive_data(frame(PING_XID, 0x999))
    client.receive_data(
        server.notification(EventType.NODE_CREATED, KeeperState.SYNC_CONNECTED, "/x", 0x998)
    )
    client.receive_data(frame(AUTH_XID, 0x997))
    assert client.last_zxid == 0x100
    # Neither do request replies with zxid <= 0.
    for zxid in (0, -1, -(2**63)):
        xid = delete(client)
        client.receive_data(frame(xid, zxid))
        assert client.last_zxid == 0x100
    # An error reply is still a request reply (as in Java).
    xid = delete(client)
    client.receive_data(frame(xid, 0x200, -101))
    assert client.last_zxid == 0x200


# ------------------------------------------------------- broken server streams
def test_out_of_order_xid() -> None:
    client, _ = connected()
    a, b = delete(client), delete(client)
    with pytest.raises(RemoteProtocolError, match=rf"reply xid {b} out of order: expected xid {a}"):
        client.receive_data(frame(b, 1))
    assert client.state is ProtocolState.CLOSED


def test_unknown_xid() -> None:
    client, _ = connected()
    a = delete(client)
    with pytest.raises(RemoteProtocolError, match=rf"xid 999 out of order: expected xid {a}"):
        client.receive_data(frame(999, 1))


@pytest.mark.parametrize("xid", [1, 7, -3, SET_WATCHES_XID])
def test_reply_with_nothing_pending(xid: int) -> None:
    client, _ = connected()
    with pytest.raises(RemoteProtocolError, match=rf"xid {xid} but no request is pending"):
        client.receive_data(frame(xid, 1))


def test_a_reply_to_the_wrong_caller_is_never_delivered() -> None:
    client, _ = connected()
    a, b = delete(client), delete(client)
    # A valid reply to a, then one for b's slot with a's xid again: the second
    # kills the connection in the same read, so a's reply is never delivered
    # either and a is pending again (its outcome is unknown, as b's).
    with pytest.raises(RemoteProtocolError):
        client.receive_data(frame(a, 1) + frame(a, 2))
    assert client.connection_lost() == [a, b]


@pytest.mark.parametrize("size", [-1, -(2**31), DEFAULT_MAX_FRAME_SIZE + 1, 2**31 - 1])
@pytest.mark.parametrize("during_handshake", [False, True])
def test_bad_frame_length_is_refused_before_buffering(size: int, during_handshake: bool) -> None:
    if during_handshake:
        client = ClientProtocol()
        client.connect(ConnectRequest(time_out=1))
    else:
        client, _ = connected()
    # Only the 4 length bytes: the error comes before any body is awaited.
    if size < 0:
        with pytest.raises(RemoteProtocolError, match=rf"invalid frame length {size}\b"):
            client.receive_data(struct.pack(">i", size))
    else:
        with pytest.raises(FrameTooLargeError) as info:
            client.receive_data(struct.pack(">i", size))
        assert str(info.value) == (
            f"a frame of {size} bytes exceeds the frame limit of {DEFAULT_MAX_FRAME_SIZE} bytes"
        )
        assert (info.value.size, info.value.limit, info.value.xid) == (
            size,
            DEFAULT_MAX_FRAME_SIZE,
            None,
        )
    assert client.state is ProtocolState.CLOSED


def test_frame_size_limit_is_inclusive() -> None:
    client, _ = connected(max_frame_size=100)
    assert client.receive_data(struct.pack(">i", 100)) == []  # waits for the body
    client, _ = connected(max_frame_size=100)
    with pytest.raises(FrameTooLargeError, match="frame limit of 100 bytes"):
        client.receive_data(struct.pack(">i", 101))
    client, _ = connected()
    assert client.receive_data(struct.pack(">i", DEFAULT_MAX_FRAME_SIZE)) == []


def test_a_frame_too_large_names_its_xid_when_it_came_with_the_length() -> None:
    client, _ = connected(max_frame_size=100)
    a = delete(client)
    with pytest.raises(FrameTooLargeError) as info:
        client.receive_data(struct.pack(">ii", 5000, a))
    assert (info.value.size, info.value.xid) == (5000, a)
    assert isinstance(info.value, RemoteProtocolError)


@pytest.mark.parametrize("size", [0, 1, 15])
def test_reply_shorter_than_its_header(size: int) -> None:
    client, _ = connected()
    with pytest.raises(RemoteProtocolError, match="shorter than its header"):
        client.receive_data(struct.pack(">i", size) + b"\0" * size)


def test_eof() -> None:
    # Between frames: a clean close.
    client, _ = connected()
    assert client.receive_data(frame(PING_XID, 1)) == [PingReply(1)]
    assert client.receive_data(b"") == [ConnectionClosed()]
    assert client.state is ProtocolState.CLOSED
    # Before the handshake response.
    client = ClientProtocol()
    client.connect(ConnectRequest(time_out=1))
    assert client.receive_data(b"") == [ConnectionClosed()]


@pytest.mark.parametrize("cut", [1, 3, 4, 10, 19])
def test_eof_mid_frame(cut: int) -> None:
    client, _ = connected()
    assert client.receive_data(frame(PING_XID, 1)[:cut]) == []
    with pytest.raises(RemoteProtocolError, match=rf"middle of a frame \({cut} bytes"):
        client.receive_data(b"")


def test_after_an_error_receive_data_keeps_raising() -> None:
    client, _ = connected()
    with pytest.raises(RemoteProtocolError):
        client.receive_data(frame(5, 1))
    for data in (frame(PING_XID, 1), b"", bytearray(b"x"), memoryview(b"")):
        with pytest.raises(RemoteProtocolError, match="already closed"):
            client.receive_data(data)
    with pytest.raises(LocalProtocolError):
        client.send_ping()
    # EOF also leaves it closed.
    client, _ = connected()
    client.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        client.receive_data(frame(PING_XID, 1))


def test_connection_lost_returns_pending_xids_in_order() -> None:
    client, _ = connected(first_xid=2**31 - 1)
    a = delete(client)
    client.send_set_watches(
        SetWatches(relative_zxid=0, data_watches=(), exist_watches=(), child_watches=())
    )
    b = delete(client)
    client.receive_data(frame(PING_XID, 1)[:7])  # a partial frame is dropped too
    assert (a, b) == (2**31 - 1, 1)
    assert client.connection_lost() == [a, SET_WATCHES_XID, b]
    assert client.pending_count == 0
    assert client.state is ProtocolState.CLOSED
    assert client.connection_lost() == []
    with pytest.raises(LocalProtocolError, match="CLOSED"):
        delete(client)


# ------------------------------------------------- the caller's context
def test_a_reply_carries_back_the_context_of_its_request() -> None:
    client, _ = connected()
    first, second = object(), object()
    a, _ = client.send_request(OpCode.DELETE, DeleteRequest(path="/a", version=-1), first)
    client.send_set_watches(
        SetWatches(relative_zxid=0, data_watches=(), exist_watches=(), child_watches=())
    )
    b, _ = client.send_request(OpCode.EXISTS, ExistsRequest(path="/b", watch=False), second)
    c = delete(client)  # no context given
    assert client.pending_context(a) is first
    assert client.pending_context(b) is second
    assert client.pending_context(c) is None
    assert client.pending_context(999) is None
    # Split anywhere: the inline path and the slower one give the same events.
    stream = frame(a, 1) + frame(SET_WATCHES_XID, 2) + frame(b, 3, -101) + frame(c, 4)
    events = feed(client, [stream[:20], stream[20:41], stream[41:]])
    assert [(e.xid, e.context) for e in events if isinstance(e, Reply)] == [
        (a, first),
        (SET_WATCHES_XID, None),
        (b, second),
        (c, None),
    ]
    assert events[0] == Reply(a, 1, OpCode.DELETE, 0, None, first)
    assert client.pending_count == 0


def test_drain_pending_takes_the_contexts_in_order() -> None:
    client, _ = connected(first_xid=2**31 - 1)
    contexts = [object(), object(), object()]
    client.send_request(OpCode.DELETE, DeleteRequest(path="/a", version=-1), contexts[0])
    client.send_set_watches(
        SetWatches(relative_zxid=0, data_watches=(), exist_watches=(), child_watches=())
    )
    client.send_request(OpCode.DELETE, DeleteRequest(path="/b", version=-1), contexts[1])
    client.send_request(OpCode.DELETE, DeleteRequest(path="/c", version=-1), contexts[2])
    # The first is answered: it is no longer pending.
    [reply] = client.receive_data(frame(2**31 - 1, 1))
    assert isinstance(reply, Reply)
    assert reply.context is contexts[0]
    assert client.pending_xids() == [SET_WATCHES_XID, 1, 2]
    assert client.drain_pending() == [None, contexts[1], contexts[2]]
    assert client.pending_count == 0
    assert client.pending_xids() == []
    assert client.drain_pending() == []


@pytest.mark.parametrize(
    "breaker",
    [
        frame(7, 3),  # an xid out of order
        frame(NOTIFICATION_XID, 3, 0, b"\0\0\0\x63\0\0\0\3\xff\xff\xff\xff"),  # bad type
        struct.pack(">ii", 5000, 1),  # a frame over the limit
    ],
    ids=["out-of-order", "bad-notification", "too-large"],
)
def test_replies_read_with_a_broken_frame_stay_pending(breaker: bytes) -> None:
    # The replies before the broken frame are never delivered (the read
    # raises), so their requests stay pending: a dead connection hands every
    # one over, none is lost.
    client, _ = connected(max_frame_size=1000)
    contexts = [object(), object(), object()]
    xids = [
        client.send_request(OpCode.DELETE, DeleteRequest(path="/a", version=-1), context)[0]
        for context in contexts
    ]
    client.send_set_watches(
        SetWatches(relative_zxid=0, data_watches=(), exist_watches=(), child_watches=())
    )
    stream = frame(xids[0], 1) + frame(xids[1], 2) + breaker
    with pytest.raises(RemoteProtocolError):
        client.receive_data(stream)
    assert client.pending_xids() == [*xids, SET_WATCHES_XID]
    assert client.drain_pending() == [*contexts, None]


@pytest.mark.parametrize("split", [False, True], ids=["one-read", "split"])
def test_a_reply_whose_body_is_broken_stays_pending(split: bool) -> None:
    client, _ = connected()
    context = object()
    xid, _ = client.send_request(OpCode.GET_DATA, GetDataRequest(path="/a", watch=False), context)
    broken = frame(xid, 1, 0, struct.pack(">i", 50) + b"short")
    with pytest.raises(RemoteProtocolError):
        feed(client, [broken[:10], broken[10:]] if split else [broken])
    assert client.state is ProtocolState.CLOSED
    assert client.drain_pending() == [context]


def test_receive_before_connect_and_send_before_connect() -> None:
    client = ClientProtocol()
    with pytest.raises(LocalProtocolError, match="before connect"):
        client.receive_data(b"\0\0\0\0")
    with pytest.raises(LocalProtocolError, match="IDLE"):
        delete(client)
    with pytest.raises(LocalProtocolError, match="IDLE"):
        client.send_ping()


# --------------------------------------------------------------------- multi
def _multi_header(op: int, done: bool, err: int) -> bytes:
    return struct.pack(">i?i", op, done, err)


def test_failed_transaction_results() -> None:
    client, server = connected()
    request = sample_record(MultiRequest)
    xid = send(client, server, OpCode.MULTI, request)
    body = b"".join(
        _multi_header(-1, False, err) + struct.pack(">i", err) for err in (0, -101, -2)
    ) + _multi_header(-1, True, -1)
    # A failed multi still has reply-header err 0.
    [reply] = client.receive_data(frame(xid, 0x42, 0, body))
    assert reply == Reply(
        xid,
        0x42,
        OpCode.MULTI,
        0,
        MultiResponse(
            results=(
                MultiResult(op=-1, err=0, response=None),
                MultiResult(op=-1, err=-101, response=None),
                MultiResult(op=-1, err=-2, response=None),
            )
        ),
    )


def test_error_result_code_comes_from_its_body() -> None:
    # As Java's MultiResponse.deserialize: ErrorResult(ErrorResponse.err); the
    # header's err of an error result is not used.
    client, server = connected()
    xid = send(client, server, OpCode.MULTI, MultiRequest(ops=()))
    body = _multi_header(-1, False, -1) + struct.pack(">i", -110) + _multi_header(-1, True, -1)
    [reply] = client.receive_data(frame(xid, 3, 0, body))
    assert isinstance(reply, Reply)
    assert reply.response == MultiResponse(results=(MultiResult(op=-1, err=-110, response=None),))


def test_successful_multi_read_results() -> None:
    client, server = connected()
    xid = send(client, server, OpCode.MULTI_READ, sample_multi_read())
    children = struct.pack(">i", 2) + jstring("a") + jstring("\u65e5")
    body = (
        _multi_header(OpCode.GET_CHILDREN, False, 0)
        + children
        + _multi_header(-1, False, -101)
        + struct.pack(">i", -101)
        + _multi_header(-1, True, -1)
    )
    [reply] = client.receive_data(frame(xid, 3, 0, body))
    assert isinstance(reply, Reply)
    assert isinstance(reply.response, MultiResponse)
    first, second = reply.response.results
    assert (first.op, first.err) == (OpCode.GET_CHILDREN, 0)
    assert getattr(first.response, "children", None) == ("a", "\u65e5")
    assert second == MultiResult(op=-1, err=-101, response=None)


@pytest.mark.parametrize("result_type", [0, 3, 99, -2])
def test_invalid_multi_result_type(result_type: int) -> None:
    client, server = connected()
    xid = send(client, server, OpCode.MULTI, MultiRequest(ops=()))
    body = _multi_header(result_type, False, 0) + _multi_header(-1, True, -1)
    with pytest.raises(RemoteProtocolError, match=f"invalid result type {result_type}"):
        client.receive_data(frame(xid, 3, 0, body))


# ------------------------------------------------------------- local refusals
@pytest.mark.parametrize(
    ("op", "record"),
    [
        (OpCode.GET_DATA, ExistsRequest(path="/a", watch=False)),
        (OpCode.CREATE_TTL, sample_record(CreateRequest)),
        (OpCode.MULTI, sample_record(CreateRequest)),
        (OpCode.EXISTS, None),
        (10, Empty()),  # no opcode 10
        (20, sample_record(CreateRequest)),  # deleteContainer is server-internal
        (OpCode.NOTIFICATION, Empty()),
        (OpCode.ERROR, Empty()),
        (23, Empty()),
        (99, Empty()),
    ],
    ids=[
        "exists-as-getdata",
        "create-as-createttl",
        "create-as-multi",
        "none",
        "opcode-10",
        "opcode-20",
        "opcode-0",
        "opcode-minus-1",
        "opcode-23",
        "opcode-99",
    ],
)
def test_send_request_refuses_wrong_record_or_unknown_opcode(op: int, record: object) -> None:
    client, _ = connected()
    with pytest.raises(LocalProtocolError, match=f"opcode {op} cannot carry"):
        client.send_request(op, record)
    assert client.pending_count == 0


@pytest.mark.parametrize(
    ("op", "ops"),
    [
        (OpCode.MULTI, (MultiOp(op=OpCode.GET_DATA, request=sample_record(GetDataRequest)),)),
        (OpCode.MULTI_READ, (MultiOp(op=OpCode.CREATE, request=sample_record(CreateRequest)),)),
        (OpCode.MULTI, (MultiOp(op=OpCode.CREATE, request=sample_record(GetDataRequest)),)),
        (OpCode.MULTI, (MultiOp(op=OpCode.GET_ACL, request=sample_record(GetDataRequest)),)),
    ],
    ids=["read-in-multi", "write-in-multiread", "wrong-record", "not-allowed-op"],
)
def test_send_request_refuses_invalid_multi(op: int, ops: tuple[MultiOp, ...]) -> None:
    client, _ = connected()
    with pytest.raises(LocalProtocolError):
        client.send_request(op, MultiRequest(ops=ops))
    assert client.pending_count == 0
    assert delete(client) == 1


def test_request_over_the_frame_limit() -> None:
    client, _ = connected(max_frame_size=100)
    # header 8 + path (4 + n) + watch 1 = 13 + n bytes.
    xid, data = client.send_request(OpCode.GET_DATA, GetDataRequest(path="/" * 87, watch=False))
    assert len(data) == 104
    with pytest.raises(LocalProtocolError, match="101 bytes exceeds the frame limit of 100"):
        client.send_request(OpCode.GET_DATA, GetDataRequest(path="/" * 88, watch=False))
    assert client.pending_xids() == [xid]
    assert delete(client) == xid + 1
    big = SetWatches(relative_zxid=0, data_watches=("/" * 100,), exist_watches=(), child_watches=())
    with pytest.raises(LocalProtocolError, match="frame limit"):
        client.send_set_watches(big)
    assert client.pending_xids() == [xid, xid + 1]


@pytest.mark.parametrize(
    "record",
    [sample_record(GetDataRequest), Empty(), None],
    ids=["getdata", "empty", "none"],
)
def test_send_set_watches_refuses_other_records(record: object) -> None:
    client, _ = connected()
    with pytest.raises(LocalProtocolError, match="SetWatches"):
        client.send_set_watches(record)  # type: ignore[arg-type]
    assert client.pending_count == 0


# ------------------------------------------------------------------ buffering
def test_many_frames_in_one_read_and_a_large_consumed_prefix() -> None:
    client, _ = connected()
    xid, _ = client.send_request(OpCode.GET_DATA, GetDataRequest(path="/a", watch=False))
    pings = b"".join(frame(PING_XID, i) for i in range(1, 5001))  # 100 kB
    reply = frame(xid, 9, 0, struct.pack(">i", 3) + b"abc" + bytes(68))
    stream = pings + reply
    split = len(pings) + 10
    events = client.receive_data(stream[:split])
    assert events == [PingReply(i) for i in range(1, 5001)]
    [last] = client.receive_data(stream[split:])
    assert isinstance(last, Reply)
    assert last.xid == xid
    assert getattr(last.response, "data", None) == b"abc"
    assert client.receive_data(b"") == [ConnectionClosed()]


def test_events_keep_arrival_order() -> None:
    client, server = connected()
    xid = delete(client)
    stream = (
        server.notification(EventType.NODE_DATA_CHANGED, KeeperState.SYNC_CONNECTED, "/a", 8)
        + frame(xid, 9, -101)
        + frame(PING_XID, 10)
    )
    assert client.receive_data(stream) == [
        Notification(
            8, WatchedEvent(EventType.NODE_DATA_CHANGED, KeeperState.SYNC_CONNECTED, "/a", 8)
        ),
        Reply(xid, 9, OpCode.DELETE, -101, None),
        PingReply(10),
    ]


def test_multi_op_tables_match_the_protocol() -> None:
    # Which operations multi (14) and multiRead (22) allow (ZooKeeper's MultiOperationRecord).
    assert set(MULTI_READ_OPS) == {OpCode.GET_CHILDREN, OpCode.GET_DATA}
    assert set(MULTI_WRITE_OPS) == {
        OpCode.CREATE,
        OpCode.CREATE2,
        OpCode.CREATE_TTL,
        OpCode.CREATE_CONTAINER,
        OpCode.DELETE,
        OpCode.SET_DATA,
        OpCode.CHECK,
    }
    assert OPS[OpCode.CREATE][1] is CreateResponse
