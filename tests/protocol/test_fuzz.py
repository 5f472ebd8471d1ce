"""Fuzzing the client protocol with hostile and corrupted server bytes (promise 49).

Whatever the bytes and however they are split into reads, ``receive_data``
returns events or raises ``RemoteProtocolError``, nothing else; once broken it
stays broken; ``connection_lost`` still works. A valid stream yields the same
events whatever the split, and a corrupted one fails at the same place.
"""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_zookeeper._protocol import (
    AUTH_XID,
    NOTIFICATION_XID,
    PING_XID,
    SET_WATCHES_XID,
    AuthReply,
    ClientProtocol,
    Connected,
    ConnectionClosed,
    ConnectRequest,
    ConnectResponse,
    Create2Response,
    CreateRequest,
    DeleteRequest,
    Empty,
    Event,
    EventType,
    ExistsRequest,
    GetChildren2Request,
    GetChildren2Response,
    GetDataRequest,
    GetDataResponse,
    KeeperState,
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
    SetWatches2,
    WhoAmIResponse,
)

from .strategies import protocol_settings, sample_multi_read, sample_record

EVENT_TYPES = (Connected, Reply, Notification, PingReply, AuthReply, ConnectionClosed)
MAX_FRAME = 4096
RESPONSE = ConnectResponse(protocol_version=0, time_out=6000, session_id=77, passwd=bytes(16))

#: The requests pending when the server stream starts: (opcode, request, response).
PLAN: list[tuple[int, object, object | None, int]] = [
    (OpCode.GET_DATA, sample_record(GetDataRequest), sample_record(GetDataResponse), 0),
    (OpCode.CREATE2, sample_record(CreateRequest), sample_record(Create2Response), 0),
    (
        OpCode.MULTI,
        sample_record(MultiRequest),
        MultiResponse(
            results=(
                MultiResult(op=-1, err=0, response=None),
                MultiResult(op=-1, err=-101, response=None),
                MultiResult(op=-1, err=-2, response=None),
            )
        ),
        0,
    ),
    (OpCode.EXISTS, sample_record(ExistsRequest), None, -101),
    (
        OpCode.GET_CHILDREN2,
        sample_record(GetChildren2Request),
        sample_record(GetChildren2Response),
        0,
    ),
    (OpCode.WHO_AM_I, Empty(), sample_record(WhoAmIResponse), 0),
    (OpCode.MULTI_READ, sample_multi_read(), sample_record(MultiResponse), 0),
    (OpCode.DELETE, sample_record(DeleteRequest), None, 0),
]
SET_WATCHES = SetWatches2(
    relative_zxid=9,
    data_watches=("/d",),
    exist_watches=(),
    child_watches=("/c",),
    persistent_watches=(),
    persistent_recursive_watches=("/r",),
)


def fresh_client() -> tuple[ClientProtocol, list[int]]:
    """A client mid-handshake with every request of PLAN (and a SetWatches2) pending."""
    client = ClientProtocol(max_frame_size=MAX_FRAME)
    client.connect(ConnectRequest(time_out=6000))
    xids = [client.send_request(op, request)[0] for op, request, _, _ in PLAN[:3]]
    client.send_set_watches(SET_WATCHES)
    xids.append(SET_WATCHES_XID)
    xids += [client.send_request(op, request)[0] for op, request, _, _ in PLAN[3:]]
    return client, xids


def _valid_stream() -> tuple[bytes, list[int]]:
    _, xids = fresh_client()
    replies = [
        ServerProtocol.reply(xid, 0x100 + i, err, response if err == 0 else None)
        for i, (xid, (_, _, response, err)) in enumerate(
            zip([x for x in xids if x != SET_WATCHES_XID], PLAN, strict=True)
        )
    ]
    notify = ServerProtocol.notification
    parts = [
        ServerProtocol.connect_response(RESPONSE),
        ServerProtocol.reply(PING_XID, 0x50),
        replies[0],
        notify(EventType.NODE_DATA_CHANGED, KeeperState.SYNC_CONNECTED, "/a/\u00e9", 0x101),
        replies[1],
        ServerProtocol.reply(AUTH_XID, 0, -115),
        replies[2],
        ServerProtocol.reply(SET_WATCHES_XID, 0x103),
        notify(EventType.NONE, KeeperState.DISCONNECTED, None),
        *replies[3:6],
        ServerProtocol.reply(PING_XID, 0x51),
        *replies[6:],
        notify(EventType.NODE_CHILDREN_CHANGED, KeeperState.SYNC_CONNECTED, "/", 0x200),
    ]
    offsets, pos = [], 0
    for part in parts:
        offsets.append(pos)
        pos += len(part)
    return b"".join(parts), offsets


VALID, FRAME_OFFSETS = _valid_stream()


def feed_all(chunks: list[bytes]) -> tuple[list[Event], bool]:
    """Feed the reads then EOF; returns the events and whether it broke."""
    client, _ = fresh_client()
    events: list[Event] = []
    for chunk in [*chunks, b""]:
        try:
            got = client.receive_data(chunk)
        except RemoteProtocolError:
            assert client.state is ProtocolState.CLOSED
            with pytest.raises(RemoteProtocolError):
                client.receive_data(b"\0\0\0\0")
            with pytest.raises(RemoteProtocolError):
                client.receive_data(b"")
            assert all(isinstance(x, int) for x in client.connection_lost())
            return events, True
        assert all(isinstance(e, EVENT_TYPES) for e in got), got
        events += got
    assert events[-1] == ConnectionClosed()
    assert ConnectionClosed() not in events[:-1]
    return events, False


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


INTERESTING_INTS = [-(2**31), -8, -4, -2, -1, 0, 1, 15, 16, 36, MAX_FRAME, MAX_FRAME + 1, 2**31 - 1]
ints32 = st.sampled_from(INTERESTING_INTS) | st.integers(-(2**31), 2**31 - 1)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The valid stream after a few bit flips, truncations, insertions, deletions
    and overwrites of frame lengths or of any 4 bytes with interesting ints."""
    data = bytearray(VALID)

    def position() -> int:
        # A frame, then a byte in it: faults spread over the whole stream
        # (a plain integer would be biased towards the first frame).
        frame = draw(st.sampled_from(range(len(FRAME_OFFSETS))))
        end = FRAME_OFFSETS[frame + 1] if frame + 1 < len(FRAME_OFFSETS) else len(VALID)
        at = draw(st.integers(FRAME_OFFSETS[frame], end - 1))
        return min(at, len(data))

    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "length", "int"]))
        if kind == "flip" and data:
            data[min(position(), len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[position() :]
        elif kind == "insert":
            i = position()
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            i = min(position(), len(data) - 1)
            del data[i : i + draw(st.integers(1, 8))]
        elif kind == "length":
            at = draw(st.sampled_from(FRAME_OFFSETS))
            if at + 4 <= len(data):
                (old,) = struct.unpack_from(">i", data, at)
                new = draw(st.sampled_from([old - 1, old + 1, old * 2]) | ints32)
                struct.pack_into(">i", data, at, max(-(2**31), min(new, 2**31 - 1)))
        elif kind == "int" and len(data) >= 4:
            struct.pack_into(">i", data, min(position(), len(data) - 4), draw(ints32))
    return bytes(data)


cut_points = st.lists(st.integers(0, 4096), max_size=10)


# ------------------------------------------------------------------- the stream
def test_valid_stream_decodes_to_the_expected_events() -> None:
    events, broken = feed_all([VALID])
    assert not broken
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "Connected",
        "PingReply",
        "Reply",
        "Notification",
        "Reply",
        "AuthReply",
        "Reply",
        "Reply",
        "Notification",
        "Reply",
        "Reply",
        "Reply",
        "PingReply",
        "Reply",
        "Reply",
        "Notification",
        "ConnectionClosed",
    ]
    replies = [e for e in events if isinstance(e, Reply)]
    _, xids = fresh_client()
    assert [r.xid for r in replies] == xids
    for reply, (op, _, response, err) in zip(
        [r for r in replies if r.xid != SET_WATCHES_XID], PLAN, strict=True
    ):
        assert (reply.op, reply.err, reply.response) == (op, err, response if err == 0 else None)
    # Byte by byte gives the same events.
    assert feed_all(bytewise(VALID)) == (events, False)


@protocol_settings(max_examples=100)
@given(cuts=cut_points)
def test_valid_stream_is_split_invariant(cuts: list[int]) -> None:
    reference = feed_all([VALID])
    assert feed_all(split(VALID, cuts)) == reference


# ----------------------------------------------------------------- corruptions
@protocol_settings(max_examples=400)
@given(data=mutated(), cuts=cut_points)
def test_mutated_stream_fails_cleanly_and_split_invariantly(data: bytes, cuts: list[int]) -> None:
    # Byte by byte delivers every event that precedes the first fault.
    ref_events, ref_broken = feed_all(bytewise(data))
    events, broken = feed_all(split(data, cuts))
    assert broken == ref_broken
    # A read that fails loses the events it had completed (the connection is
    # dropped anyway); everything delivered before is the same.
    assert events == ref_events[: len(events)]
    if not broken:
        assert events == ref_events
    # In one read: everything, or (a fault inside the read) nothing.
    whole, whole_broken = feed_all([data] if data else [])
    assert whole_broken == ref_broken
    assert whole in ([], ref_events)
    if not broken:
        assert whole == ref_events


@protocol_settings(max_examples=200)
@given(data=st.binary(max_size=300), cuts=cut_points, after_handshake=st.booleans())
def test_arbitrary_bytes(data: bytes, cuts: list[int], after_handshake: bool) -> None:
    prefix = ServerProtocol.connect_response(RESPONSE) if after_handshake else b""
    events, broken = feed_all(split(prefix + data, [len(prefix), *cuts]))
    if not broken:
        assert events[-1] == ConnectionClosed()


_, _PENDING = fresh_client()
xids = st.sampled_from([NOTIFICATION_XID, PING_XID, AUTH_XID, SET_WATCHES_XID, *_PENDING, 0, 999])


@st.composite
def hostile_frames(draw: st.DrawFn) -> bytes:
    """Well-framed replies with plausible headers and random or near-valid bodies."""
    xid = draw(xids)
    header = struct.pack(
        ">iqi", xid, draw(st.integers(-(2**63), 2**63 - 1)), draw(st.sampled_from([0, 0, -101]))
    )
    body = draw(
        st.one_of(
            st.binary(max_size=64),
            # A watcher event with arbitrary type/state and a random path.
            st.tuples(ints32, ints32, st.binary(max_size=12)).map(
                lambda t: struct.pack(">iii", t[0], t[1], len(t[2])) + t[2]
            ),
            # Random ints: lengths, counts and multi headers.
            st.lists(ints32, max_size=8).map(lambda v: struct.pack(f">{len(v)}i", *v)),
        )
    )
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


@protocol_settings(max_examples=300)
@given(frames=st.lists(hostile_frames(), max_size=6), cuts=cut_points)
def test_hostile_frames_after_the_handshake(frames: list[bytes], cuts: list[int]) -> None:
    data = ServerProtocol.connect_response(RESPONSE) + b"".join(frames)
    ref = feed_all(bytewise(data))
    events, broken = feed_all(split(data, cuts))
    assert broken == ref[1]
    assert events == ref[0][: len(events)]
