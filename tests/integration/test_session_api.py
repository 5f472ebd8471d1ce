"""The session API against the real server: state, timeouts, states stream, statistics, close."""

from __future__ import annotations

import time

import pytest
import trio
import trio.testing

from trio_zookeeper import (
    CreateMode,
    EventType,
    KeeperState,
    SessionStatistics,
    WatchedEvent,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper._protocol import OpCode
from trio_zookeeper.testing import expire_session, open_fake_zookeeper, open_fault_proxy

from ._util import node_event, reconnected
from .conftest import Connect, Server

pytestmark = pytest.mark.server


async def test_state_and_identity_of_a_connected_client(
    zk: ZooKeeper, zookeeper_server: Server
) -> None:
    with trio.fail_after(10):
        assert zk.state is KeeperState.SYNC_CONNECTED
        assert zk.connected
        assert zk.session_id > 0
        assert len(zk.session_password) == 16
        assert zk.session_password != b"\x00" * 16
        assert zk.session_timeout == 10.0
        stats = zk.statistics()
        assert isinstance(stats, SessionStatistics)
        assert stats.state is KeeperState.SYNC_CONNECTED
        assert stats.session_id == zk.session_id
        assert stats.negotiated_timeout == zk.session_timeout
        assert stats.server == f"{zookeeper_server.host}:{zookeeper_server.port}"
        assert stats.connections == 1
        assert (stats.queued_requests, stats.pending_requests, stats.watches) == (0, 0, 0)
        await zk.wait_connected()  # returns at once


@pytest.mark.parametrize(
    ("requested", "granted"),
    [(0.01, 1.0), (0.5, 1.0), (1.0, 1.0), (2.5, 2.5), (4.0, 4.0), (10.0, 10.0), (600.0, 10.0)],
)
async def test_session_timeout_is_negotiated_within_the_servers_bounds(
    connect: Connect, requested: float, granted: float
) -> None:
    # tickTime 500 ms: the server grants [2, 20] ticks.
    with trio.fail_after(10):
        async with connect(session_timeout=requested) as zk:
            assert zk.session_timeout == granted
            assert zk.statistics().negotiated_timeout == granted
            await zk.exists("/")
            assert zk.connected


async def test_statistics_follow_the_client(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/n")
        await zk.watch().get_data("/n")
        await zk.watch().get_children("/n")
        _, events = await zk.with_watcher().exists("/absent")
        async with zk.add_watch("/p"):
            stats = zk.statistics()
            assert stats.watches == 4
            assert stats.last_zxid == zk.last_zxid > 0
        assert zk.statistics().watches == 3
        await zk.set_data("/n", b"x")
        await node_event(zk.default_watcher)
        assert zk.statistics().watches == 2
        events.close()
        assert zk.statistics().watches == 1


async def test_pipelined_requests_show_as_pending(
    zookeeper_server: Server, zk_connect_string: str, chroot: str
) -> None:
    with trio.fail_after(15):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as zk,
            trio.open_nursery() as nursery,
        ):
            proxy.pause_upstream()
            sent: list[int] = []
            czxids: dict[int, int] = {}

            async def create(i: int) -> None:
                sent.append(i)  # the request is queued before the first checkpoint
                _, stat = await zk.create2(f"/n{i}")
                czxids[i] = stat.czxid

            for i in range(5):
                nursery.start_soon(create, i)
            await trio.testing.wait_all_tasks_blocked()
            assert zk.statistics().pending_requests == 5
            assert zk.statistics().queued_requests == 0
            assert czxids == {}
            proxy.pause_upstream(False)
        # Applied in the order they were sent.
        in_order = [czxids[i] for i in sent]
        assert in_order == sorted(in_order)


async def test_session_states_stream_reports_every_change(
    zookeeper_server: Server, chroot: str, connect: Connect
) -> None:
    with trio.fail_after(20):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as zk,
            zk.session_states() as states,
            connect() as other,
        ):
            first_id = zk.session_id
            await zk.create("/eph", mode=CreateMode.EPHEMERAL)
            # A lost connection: the session survives.
            await proxy.reset()
            assert await reconnected(states) == [
                KeeperState.DISCONNECTED,
                KeeperState.SYNC_CONNECTED,
            ]
            assert zk.session_id == first_id
            assert await other.exists("/eph") is not None
            # An expired session: a new one follows (reconnect_after_expiry).
            _, watch = await zk.with_watcher().get_data("/eph")
            await expire_session(zk, via=zookeeper_server.connect_string)
            seen: list[KeeperState] = []
            while not seen or seen[-1] is not KeeperState.SYNC_CONNECTED:
                seen.append(await states.receive())
            assert KeeperState.EXPIRED in seen
            assert seen[-1] is KeeperState.SYNC_CONNECTED
            assert zk.session_id not in (0, first_id)
            assert zk.statistics().connections >= 3
            assert await other.exists("/eph") is None
            assert await zk.get_ephemerals() == []
            # The old session's watch ended with the expiry.
            last = None
            async for event in watch:
                last = event
            assert last == WatchedEvent(EventType.NONE, KeeperState.EXPIRED, None)
            # The new session works, and closing ends the stream.
            await zk.create("/eph2", mode=CreateMode.EPHEMERAL)
            await zk.aclose()
            assert await states.receive() is KeeperState.CLOSED
            with pytest.raises(trio.EndOfChannel):
                await states.receive()


async def test_wait_connected_waits_for_a_reconnect(zookeeper_server: Server, chroot: str) -> None:
    with trio.fail_after(20):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as zk,
            zk.session_states() as states,
        ):
            proxy.refuse()
            await proxy.reset()
            assert await states.receive() is KeeperState.DISCONNECTED
            assert zk.statistics().state is KeeperState.DISCONNECTED
            connected = trio.Event()

            async def waiter() -> None:
                await zk.wait_connected()
                connected.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                await trio.testing.wait_all_tasks_blocked()
                assert not connected.is_set()
                proxy.refuse(False)
                await connected.wait()
            assert zk.connected
            assert await states.receive() is KeeperState.SYNC_CONNECTED


async def test_aclose_is_idempotent_and_the_client_is_then_closed(connect: Connect) -> None:
    with trio.fail_after(10):
        async with connect() as zk:
            await zk.create("/n")
            _, events = await zk.with_watcher().get_data("/n")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(zk.aclose)
                nursery.start_soon(zk.aclose)
            await zk.aclose()
            assert zk.state is KeeperState.CLOSED
            assert not zk.connected
            assert await events.receive() == WatchedEvent(EventType.NONE, KeeperState.CLOSED, None)
            with pytest.raises(trio.EndOfChannel):
                await events.receive()
        await zk.aclose()
        assert zk.statistics().state is KeeperState.CLOSED
        # The default watcher's stream ends too.
        async for _ in zk.default_watcher:
            raise AssertionError("no event expected")


async def test_using_the_client_after_the_block_raises_closed_resource_error(
    connect: Connect,
) -> None:
    with trio.fail_after(10):
        async with connect() as zk:
            await zk.create("/n")
        calls = [
            lambda: zk.create("/m"),
            lambda: zk.create2("/m"),
            lambda: zk.exists("/n"),
            lambda: zk.get_data("/n"),
            lambda: zk.set_data("/n", b""),
            lambda: zk.delete("/n"),
            lambda: zk.get_children("/"),
            lambda: zk.get_acl("/n"),
            lambda: zk.sync(),
            lambda: zk.who_am_i(),
            lambda: zk.get_ephemerals(),
            lambda: zk.add_auth("digest", "a:b"),
            lambda: zk.watch().exists("/n"),
            lambda: zk.with_watcher().get_data("/n"),
            lambda: zk.check_watches("/n"),
            lambda: zk.multi().create("/m").run(),
            lambda: zk.multi_read().get_data("/n").run(),
            lambda: zk.ensure_path("/a/b"),
            zk.wait_connected,
        ]
        for call in calls:
            with pytest.raises(trio.ClosedResourceError):
                await call()
        with pytest.raises(trio.ClosedResourceError):
            async with zk.add_watch("/n"):
                pass
        async with zk.watch_data("/n") as values:
            with pytest.raises(trio.ClosedResourceError):
                await anext(values)


async def test_requests_pending_at_close_fail_with_closed_resource_error(
    zookeeper_server: Server, chroot: str
) -> None:
    with trio.fail_after(15):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot, close_timeout=0.5) as zk,
        ):
            proxy.pause_upstream()
            async with trio.open_nursery() as nursery:

                async def pending() -> None:
                    with pytest.raises(trio.ClosedResourceError):
                        await zk.get_data("/")

                nursery.start_soon(pending)
                await trio.testing.wait_all_tasks_blocked()
                assert zk.statistics().pending_requests == 1
                started = time.monotonic()
                await zk.aclose()  # the closeSession is held too: close_timeout
                elapsed = time.monotonic() - started
            # A lower bound only (it waited for the reply up to close_timeout);
            # a loaded machine can only make it slower.
            assert elapsed >= 0.4
            assert zk.state is KeeperState.CLOSED


async def test_ephemerals_disappear_for_others_right_after_close(
    connect: Connect, zk: ZooKeeper
) -> None:
    with trio.fail_after(30):
        async with connect(session_timeout=10.0) as owner:
            assert owner.session_timeout == 10.0
            await owner.create("/e1", mode=CreateMode.EPHEMERAL)
            await owner.create("/e2-", mode=CreateMode.EPHEMERAL_SEQUENTIAL)
            _, on_delete = await zk.with_watcher().exists("/e1")
            async with zk.watch_children("/") as lists:
                assert await anext(lists) == ["e1", "e2-0000000001"]
                # The server has just heard from the session: had the close not
                # ended it, it could not expire for another 10 s.
                await owner.exists("/e1")
                started = time.monotonic()
                await owner.aclose()
                event = await on_delete.receive()
                assert event == WatchedEvent(
                    EventType.NODE_DELETED, KeeperState.SYNC_CONNECTED, "/e1"
                )
                while (children := await anext(lists)) != []:
                    assert children is not None
        # Sooner than the 10 s session timeout, so closing ended the session.
        assert time.monotonic() - started < 8.0
        assert await zk.exists("/e1") is None


async def test_a_session_can_be_resumed_by_another_client(
    zookeeper_server: Server, chroot: str, connect: Connect
) -> None:
    with trio.fail_after(20):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as first,
            first.session_states() as states,
            connect() as observer,
        ):
            await first.create("/mine", mode=CreateMode.EPHEMERAL)
            session_id, password = first.session_id, first.session_password
            proxy.refuse()
            await proxy.reset()
            assert await states.receive() is KeeperState.DISCONNECTED
            async with connect(session_id=session_id, session_password=password) as second:
                assert second.session_id == session_id
                assert await second.get_ephemerals() == ["/mine"]
                stat = await observer.exists("/mine")
                assert stat is not None
                assert stat.ephemeral_owner == session_id
            # Closing the resumed session ends it for good.
            assert await observer.exists("/mine") is None
            proxy.refuse(False)
            seen: list[KeeperState] = []
            while not seen or seen[-1] is not KeeperState.SYNC_CONNECTED:
                seen.append(await states.receive())
            assert KeeperState.EXPIRED in seen
            assert first.session_id not in (0, session_id)


async def test_an_idle_session_with_the_shortest_timeout_is_kept_alive(
    connect: Connect, zk: ZooKeeper
) -> None:
    with trio.fail_after(15):
        async with connect(session_timeout=1.0) as idle, idle.session_states() as states:
            assert idle.session_timeout == 1.0
            await idle.create("/alive", mode=CreateMode.EPHEMERAL)
            session_id = idle.session_id
            # Idle for 2.5 session timeouts: only pings keep the session. No
            # state change may happen meanwhile.
            with trio.move_on_after(2.5):
                state = await states.receive()
                raise AssertionError(f"the idle session changed state: {state!r}")
            assert idle.session_id == session_id
            assert idle.statistics().connections == 1
            assert await zk.exists("/alive") is not None
            assert await idle.get_ephemerals() == ["/alive"]


class _OurTasks(trio.abc.Instrument):
    """The client's own tasks (not a fake server's), by name, as they start; and which still run."""

    def __init__(self) -> None:
        self.spawned: list[str] = []
        self.running: set[trio.lowlevel.Task] = set()

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        name = task.name
        if name.startswith("trio_zookeeper.") and ".testing." not in name:
            self.spawned.append(name.rsplit(".", 1)[-1])
            self.running.add(task)

    def task_exited(self, task: trio.lowlevel.Task) -> None:
        self.running.discard(task)


async def test_a_connection_to_a_fake_server_costs_two_tasks_and_both_end_with_the_block() -> None:
    """The supervisor (which also reads) and the writer: no reader task of its own.

    The fake server's stream takes no direct writes, so every request starts
    the writer; on a plain TCP socket it starts only when needed (the next test).
    """
    tasks = _OurTasks()
    trio.lowlevel.add_instrument(tasks)
    try:
        with trio.fail_after(10):
            async with open_fake_zookeeper() as fake:
                async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
                    assert await zk.exists("/") is not None
                    assert tasks.running
                assert fake.request_log[-1][1] == OpCode.CLOSE_SESSION
    finally:
        trio.lowlevel.remove_instrument(tasks)
    assert tasks.spawned == ["run", "_writer"]
    assert not tasks.running


async def test_a_plain_tcp_session_starts_its_writer_only_when_needed(
    zookeeper_server: Server,
) -> None:
    """Sequential requests, a pipelined pair and closeSession are written directly.

    No writer task: only the session's own. A burst of requests (queued
    behind the direct writes) then starts the writer, and everything ends
    with the block.
    """
    tasks = _OurTasks()
    trio.lowlevel.add_instrument(tasks)
    try:
        with trio.fail_after(10):
            async with open_zookeeper(zookeeper_server.connect_string) as zk:
                for _ in range(3):
                    assert await zk.exists("/") is not None
                # A pipelined pair (a recipe's create and listing) is written
                # by its two callers, with no writer either.
                async with trio.open_nursery() as nursery:
                    for _ in range(2):
                        nursery.start_soon(zk.exists, "/")
            assert tasks.spawned == ["run", "exists", "exists"]
            assert not tasks.running
            async with open_zookeeper(zookeeper_server.connect_string) as zk:
                async with trio.open_nursery() as nursery:
                    for _ in range(10):
                        nursery.start_soon(zk.exists, "/")
                assert tasks.spawned.count("_writer") == 1
                assert await zk.exists("/") is not None
            assert not tasks.running
    finally:
        trio.lowlevel.remove_instrument(tasks)
