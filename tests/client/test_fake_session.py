"""Session behaviour against the fake server: timing, cancellation, hostile bytes.

Every timer runs on trio's clock, so these tests use ``autojump_clock``: a
"10 second" wait costs nothing and is exact.
"""

from __future__ import annotations

import gc

import pytest
import trio
import trio.testing

from trio_zookeeper import (
    AddWatchMode,
    ConnectionLossError,
    EventType,
    KeeperState,
    NoNodeError,
    SessionExpiredError,
    WatchedEvent,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper._protocol import ClientRequest, ErrorResponse, OpCode, ServerProtocol
from trio_zookeeper.testing._fake import FakeConnection, FakeZooKeeper


def _zk(fake: FakeZooKeeper, **kw: object) -> object:
    return open_zookeeper("fake:2181", stream_factory=fake.connect, **kw)  # type: ignore[arg-type]


async def test_basic_operations(fake: FakeZooKeeper) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        assert zk.state is KeeperState.SYNC_CONNECTED
        assert await zk.create("/a", b"x") == "/a"
        data, stat = await zk.get_data("/a")
        assert (data, stat.version) == (b"x", 0)
        with pytest.raises(NoNodeError):
            await zk.get_data("/missing")
        assert await zk.exists("/missing") is None
    # closing sent closeSession
    assert fake.request_log[-1][1] == OpCode.CLOSE_SESSION


async def test_pings_keep_an_idle_session(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect, session_timeout=3) as zk:
        start = trio.current_time()
        await trio.sleep(30)
        assert zk.state is KeeperState.SYNC_CONNECTED
        assert len(fake.connections) == 1
        pings = [op for (_, op, _) in fake.request_log if op == OpCode.PING]
        # ping after 1/3 of the 3 s timeout of send-idleness: about 30 pings in 30 s
        assert 25 <= len(pings) <= 31, len(pings)
        assert trio.current_time() - start == pytest.approx(30)


async def test_silent_server_is_detected_within_two_thirds_of_timeout(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_zookeeper("fake:2181", stream_factory=fake.connect, session_timeout=3) as zk,
        zk.session_states() as states,
    ):
        fake.silent = True
        t0 = trio.current_time()
        assert await states.receive() is KeeperState.DISCONNECTED
        elapsed = trio.current_time() - t0
        assert elapsed <= 2.0 + 0.01, elapsed  # readTimeout = 2/3 * 3 s
        fake.silent = False
        assert await states.receive() is KeeperState.SYNC_CONNECTED
        # same session resumed
        assert fake.connections[-1].session is fake.connections[0].session


async def test_cancel_before_write_is_never_sent(fake: FakeZooKeeper) -> None:
    fake.lockstep = True
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        fake.reading = trio.Event()  # the server stops reading: the writer blocks
        async with trio.open_nursery() as nursery:
            # /first reaches the server's pending receive; /second is handed to
            # the writer, whose send_all then blocks (lockstep, not reading).
            nursery.start_soon(zk.create, "/first", b"")
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(zk.create, "/second", b"")
            await trio.testing.wait_all_tasks_blocked()
            with trio.move_on_after(0.1) as scope:
                await zk.create("/never", b"")  # queued behind it, then cancelled
            assert scope.cancelled_caught
            fake.reading.set()
        await zk.create("/after", b"")
        assert "/never" not in fake.tree
        creates = [r.path for (_, op, r) in fake.request_log if op == OpCode.CREATE]  # type: ignore[attr-defined]
        assert creates == ["/first", "/second", "/after"]


async def test_cancel_after_write_keeps_connection_in_sync(fake: FakeZooKeeper) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        await zk.create("/a", b"1")
        fake.hold_replies = True
        with trio.move_on_after(0.05):
            await zk.get_data("/a")  # written, reply held
        assert fake.held, "the request was written"
        fake.hold_replies = False
        await fake.release()
        # the held reply is read and dropped; later calls get their own replies
        await zk.create("/b", b"2")
        assert await zk.get_data("/b") == (b"2", (await zk.get_data("/b"))[1])
        assert len(fake.connections) == 1


async def test_connection_drop_fails_in_flight_and_keeps_session(fake: FakeZooKeeper) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        sid = zk.session_id
        fake.hold_replies = True
        async with trio.open_nursery() as nursery:

            async def doomed() -> None:
                with pytest.raises(ConnectionLossError):
                    await zk.create("/x", b"")

            nursery.start_soon(doomed)
            await trio.testing.wait_all_tasks_blocked()
            fake.hold_replies = False
            fake.held.clear()
            await fake.current.close()
        await zk.wait_connected()
        assert zk.session_id == sid
        assert len(fake.connections) == 2


async def test_expired_session_starts_a_new_one(fake: FakeZooKeeper) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        sid = zk.session_id
        async with zk.session_states() as states:
            fake.expire(sid)
            seen = [await states.receive() for _ in range(3)]
        assert seen == [
            KeeperState.DISCONNECTED,
            KeeperState.EXPIRED,
            KeeperState.DISCONNECTED,
        ] or (seen[:2] == [KeeperState.DISCONNECTED, KeeperState.EXPIRED])
        await zk.wait_connected()
        assert zk.session_id != sid


async def test_expiry_final_when_asked(fake: FakeZooKeeper) -> None:
    async with open_zookeeper(
        "fake:2181", stream_factory=fake.connect, reconnect_after_expiry=False
    ) as zk:
        async with zk.session_states() as states:
            fake.expire(zk.session_id)
            with trio.fail_after(10):
                while await states.receive() is not KeeperState.EXPIRED:
                    pass
        with pytest.raises(SessionExpiredError):
            await zk.get_data("/")


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param(b"\x7f\xff\xff\xff", id="oversized-frame-length"),
        pytest.param(b"\xff\xff\xff\xf0", id="negative-frame-length"),
        pytest.param(ServerProtocol.reply(12345, 1, 0), id="unexpected-xid"),
        pytest.param(ServerProtocol.notification(99, 3, "/x"), id="unknown-event-type"),
    ],
)
async def test_hostile_bytes_drop_the_connection_and_reconnect(
    fake: FakeZooKeeper, hostile: bytes
) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        sid = zk.session_id
        async with zk.session_states() as states:
            await fake.current.send(hostile)
            with trio.fail_after(10):
                assert await states.receive() is KeeperState.DISCONNECTED
                assert await states.receive() is KeeperState.SYNC_CONNECTED
        await zk.create("/still-works", b"")
        assert len(fake.connections) == 2
        assert zk.session_id == sid


async def test_connect_response_without_read_only_byte(fake: FakeZooKeeper) -> None:
    fake.omit_read_only_byte = True
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        assert await zk.create("/old", b"") == "/old"


async def test_a_one_shot_watch_that_cannot_be_set_again_ends_with_an_event(
    fake: FakeZooKeeper,
) -> None:
    # A recursive watch takes its path's child-watch slot (ZooKeeper before
    # 3.9), so the client sets the one-shot child watch there again; when the
    # server refuses, the watcher is told instead of waiting forever.
    def hook(conn: FakeConnection, request: ClientRequest) -> bool:
        if request.op == OpCode.ADD_WATCH:
            reply = ServerProtocol.reply(request.xid, fake.zxid, 0, ErrorResponse(err=0))
        elif request.op == OpCode.SET_WATCHES and request.xid >= 0:
            reply = ServerProtocol.reply(request.xid, fake.zxid, -1)  # SYSTEMERROR
        else:
            return False
        fake._nursery.start_soon(conn.send, reply)
        return True

    fake.on_request = hook
    zk: ZooKeeper
    async with _zk(fake) as zk:  # type: ignore[attr-defined]
        with trio.fail_after(5):
            await zk.create("/n")
            _, children = await zk.with_watcher().get_children("/n")
            async with zk.add_watch("/n", AddWatchMode.PERSISTENT_RECURSIVE):
                assert children.receive_nowait() == WatchedEvent(
                    EventType.CHILD_WATCH_REMOVED, KeeperState.SYNC_CONNECTED, "/n"
                )
                with pytest.raises(trio.EndOfChannel):
                    await children.receive()
                assert zk.statistics().watches == 1


async def test_a_failed_request_leaves_no_reference_cycle(fake: FakeZooKeeper) -> None:
    # A missing node is the everyday error (an exists watch on a node still to
    # be created): its exception, traceback and request must be freed at once,
    # not pile up for the cycle collector (100,000 exists watches did).
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        await zk.exists("/")
        gc.collect()
        gc.disable()
        try:
            gc.set_debug(gc.DEBUG_SAVEALL)
            for i in range(20):
                assert await zk.exists(f"/missing{i}") is None
                _stat, _events = await zk.with_watcher().exists(f"/missing{i}")
                with pytest.raises(NoNodeError):
                    await zk.get_data(f"/missing{i}")
            gc.collect()
            assert [type(o).__name__ for o in gc.garbage if isinstance(o, BaseException)] == []
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
