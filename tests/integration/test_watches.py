"""Watches of every kind against the real server.

Absence of an event is never asserted with a sleep: a later *marker* change
is made, and the next event on the channel must be the marker's. ZooKeeper
delivers a session's notifications in order, so an unwanted event would have
come first.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_zookeeper import (
    AddWatchMode,
    EventType,
    KeeperState,
    NoNodeError,
    NoWatcherError,
    Stat,
    WatchedEvent,
    WatcherType,
    WatchEvents,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper.testing import open_fault_proxy, parse_wchc

from ._util import drain, node_event, proxied_client
from .conftest import Connect, Server

pytestmark = pytest.mark.server

CREATED = EventType.NODE_CREATED
DELETED = EventType.NODE_DELETED
CHANGED = EventType.NODE_DATA_CHANGED
CHILDREN = EventType.NODE_CHILDREN_CHANGED


def _ev(event_type: EventType, path: str) -> WatchedEvent:
    return WatchedEvent(event_type, KeeperState.SYNC_CONNECTED, path)


async def _expect(events: WatchEvents, *expected: WatchedEvent) -> None:
    for want in expected:
        got = await node_event(events)
        assert (got.event_type, got.keeper_state, got.path) == (
            want.event_type,
            want.keeper_state,
            want.path,
        )


async def _marker(zk: ZooKeeper, events: WatchEvents, path: str = "/marker") -> None:
    """Fire a watch on ``path`` into ``events`` (the default watcher) and expect it next."""
    if await zk.exists(path) is None:
        await zk.create(path)
    await zk.watch().get_data(path)
    await zk.set_data(path, b"m")
    await _expect(events, _ev(CHANGED, path))


async def test_default_watcher_gets_every_kind_of_node_event(zk: ZooKeeper) -> None:
    events = zk.default_watcher
    with trio.fail_after(10):
        assert await zk.watch().exists("/x") is None
        await zk.create("/x")
        await _expect(events, _ev(CREATED, "/x"))

        data, stat = await zk.watch().get_data("/x")
        assert (data, stat.version) == (b"", 0)
        await zk.set_data("/x", b"1")
        await _expect(events, _ev(CHANGED, "/x"))
        # One-shot: the watch is spent.
        await zk.set_data("/x", b"2")
        await _marker(zk, events)

        assert await zk.watch().get_children("/x") == []
        await zk.create("/x/c")
        await _expect(events, _ev(CHILDREN, "/x"))

        children, stat = await zk.watch().get_children2("/x")
        assert (children, stat.num_children) == (["c"], 1)
        await zk.delete("/x/c")
        await _expect(events, _ev(CHILDREN, "/x"))

        stat_x = await zk.watch().exists("/x")
        assert stat_x is not None
        await zk.delete("/x")
        await _expect(events, _ev(DELETED, "/x"))
        assert events.active
        assert zk.statistics().watches == 0


async def test_with_watcher_channels_are_one_shot(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/n", b"0")
        await zk.create("/n/a")
        watcher = zk.with_watcher()
        stat, on_exists = await watcher.exists("/n")
        (data, _), on_data = await watcher.get_data("/n")
        children, on_children = await watcher.get_children("/n")
        (children2, _), on_children2 = await watcher.get_children2("/n")
        missing, on_missing = await watcher.exists("/later")
        assert isinstance(stat, Stat)
        assert data == b"0"
        assert children == children2 == ["a"]
        assert missing is None
        await zk.set_data("/n", b"1")
        await zk.set_data("/n", b"2")
        await zk.create("/n/b")
        await zk.create("/later")
        await zk.delete("/later")
        expected = [
            (on_exists, _ev(CHANGED, "/n")),
            (on_data, _ev(CHANGED, "/n")),
            (on_children, _ev(CHILDREN, "/n")),
            (on_children2, _ev(CHILDREN, "/n")),
            (on_missing, _ev(CREATED, "/later")),
        ]
        for channel, want in expected:
            got = await channel.receive()
            assert got == want
            # Exactly one node event, then the channel ends.
            with pytest.raises(trio.EndOfChannel):
                await channel.receive()
            assert not channel.active
        # A failed read sets no watch and returns no channel.
        with pytest.raises(NoNodeError):
            await zk.with_watcher().get_data("/nothing")
        assert await zk.check_watches("/nothing") is False
        assert zk.statistics().watches == 0


async def test_a_watch_set_by_exists_and_get_data_fires_once_per_watcher(zk: ZooKeeper) -> None:
    events = zk.default_watcher
    with trio.fail_after(10):
        await zk.create("/n")
        # The default watcher, registered through exists and get_data.
        await zk.watch().exists("/n")
        await zk.watch().get_data("/n")
        # And two watchers of their own on the same node.
        _, own_exists = await zk.with_watcher().exists("/n")
        _, own_data = await zk.with_watcher().get_data("/n")
        await zk.set_data("/n", b"x")
        await _expect(events, _ev(CHANGED, "/n"))
        await _marker(zk, events)  # not twice
        for channel in (own_exists, own_data):
            assert await channel.receive() == _ev(CHANGED, "/n")
            with pytest.raises(trio.EndOfChannel):
                await channel.receive()
        # NODE_DELETED fires data and child watches: still once per watcher.
        await zk.watch().get_data("/n")
        await zk.watch().get_children("/n")
        await zk.watch().exists("/n")
        await zk.delete("/n")
        await _expect(events, _ev(DELETED, "/n"))
        await _marker(zk, events)


async def test_persistent_watch_gets_every_event_of_the_node(zk: ZooKeeper) -> None:
    with trio.fail_after(15):
        async with zk.add_watch("/p", AddWatchMode.PERSISTENT) as events:
            assert await zk.check_watches("/p", WatcherType.ANY)
            await zk.create("/p")
            await zk.set_data("/p", b"1")
            await zk.set_data("/p", b"2")
            await zk.create("/p/c")
            await zk.set_data("/p/c", b"not reported: a child's data")
            await zk.create("/p/c/grandchild")  # not reported: not a child of /p
            await zk.delete("/p/c/grandchild")
            await zk.delete("/p/c")
            await zk.delete("/p")
            await zk.create("/p")
            await zk.set_data("/p", b"3")
            await _expect(
                events,
                _ev(CREATED, "/p"),
                _ev(CHANGED, "/p"),
                _ev(CHANGED, "/p"),
                _ev(CHILDREN, "/p"),
                _ev(CHILDREN, "/p"),
                _ev(DELETED, "/p"),
                _ev(CREATED, "/p"),
                _ev(CHANGED, "/p"),
            )
            assert events.active
            assert drain(events) == []
        # Leaving the block closed the channel.
        with pytest.raises(trio.ClosedResourceError):
            events.receive_nowait()


async def test_recursive_watch_gets_the_whole_subtree_without_child_events(
    zk: ZooKeeper,
) -> None:
    with trio.fail_after(15):
        await zk.create("/rx")  # a sibling whose name starts like the watched path
        async with zk.add_watch("/r", AddWatchMode.PERSISTENT_RECURSIVE) as events:
            await zk.create("/r")
            await zk.create("/r/a")
            await zk.create("/r/a/b", b"0")
            await zk.set_data("/r/a/b", b"1")
            await zk.set_data("/rx", b"not in the subtree")
            await zk.create("/rx/child")
            await zk.delete("/r/a/b")
            await zk.set_data("/r", b"top")
            await zk.delete("/r/a")
            await zk.delete("/r")
            await _expect(
                events,
                _ev(CREATED, "/r"),
                _ev(CREATED, "/r/a"),
                _ev(CREATED, "/r/a/b"),
                _ev(CHANGED, "/r/a/b"),
                _ev(DELETED, "/r/a/b"),
                _ev(CHANGED, "/r"),
                _ev(DELETED, "/r/a"),
                _ev(DELETED, "/r"),
            )
            await zk.create("/r")
            await _expect(events, _ev(CREATED, "/r"))
            assert drain(events) == []


@pytest.mark.parametrize("mode", list(AddWatchMode), ids=lambda m: m.name)
async def test_leaving_add_watch_removes_the_server_watch(
    zk: ZooKeeper, mode: AddWatchMode
) -> None:
    with trio.fail_after(10):
        await zk.create("/gone")
        async with zk.add_watch("/gone", mode):
            assert await zk.check_watches("/gone", WatcherType.ANY)
        assert await zk.check_watches("/gone", WatcherType.ANY) is False


async def test_leaving_watch_data_and_watch_children_removes_the_server_watch(
    zk: ZooKeeper,
) -> None:
    with trio.fail_after(10):
        await zk.create("/f")
        async with zk.watch_data("/f") as values:
            assert await anext(values) is not None
            assert await zk.check_watches("/f", WatcherType.DATA)
        assert await zk.check_watches("/f", WatcherType.ANY) is False
        async with zk.watch_children("/f") as lists:
            assert await anext(lists) == []
            assert await zk.check_watches("/f", WatcherType.CHILDREN)
        assert await zk.check_watches("/f", WatcherType.ANY) is False
        async with zk.watch_data("/absent") as values:
            assert await anext(values) is None
            assert await zk.check_watches("/absent", WatcherType.DATA)
        assert await zk.check_watches("/absent", WatcherType.ANY) is False
        # A one-shot watch of another watcher on the same node is kept.
        await zk.watch().get_data("/f")
        async with zk.watch_data("/f") as values:
            await anext(values)
        assert await zk.check_watches("/f", WatcherType.DATA)
        assert zk.statistics().watches == 1


async def test_watch_data_follows_a_node_through_its_life(zk: ZooKeeper, connect: Connect) -> None:
    with trio.fail_after(15):
        async with connect() as writer, zk.watch_data("/life") as values:
            assert await anext(values) is None
            await writer.create("/life", b"born")
            value = await anext(values)
            assert value is not None
            assert value[0] == b"born"
            assert value[1].version == 0
            await writer.set_data("/life", b"grown")
            value = await anext(values)
            assert value is not None
            assert (value[0], value[1].version) == (b"grown", 1)
            await writer.delete("/life")
            assert await anext(values) is None
            await writer.create("/life", b"reborn")
            value = await anext(values)
            assert value is not None
            assert (value[0], value[1].version) == (b"reborn", 0)


async def test_watch_children_follows_the_children(zk: ZooKeeper, connect: Connect) -> None:
    with trio.fail_after(15):
        await zk.create("/kids")
        async with connect() as writer, zk.watch_children("/kids") as lists:
            assert await anext(lists) == []
            await writer.create("/kids/b")
            assert await anext(lists) == ["b"]
            await writer.create("/kids/a")
            assert await anext(lists) == ["a", "b"]
            await writer.set_data("/kids/a", b"data changes are not child changes")
            await writer.delete("/kids/b")
            assert await anext(lists) == ["a"]
            await writer.delete("/kids/a")
            assert await anext(lists) == []
            await writer.delete("/kids")
            assert await anext(lists) is None
            await writer.create("/kids")
            assert await anext(lists) == []


async def test_watches_fire_on_changes_by_another_client(zk: ZooKeeper, connect: Connect) -> None:
    with trio.fail_after(10):
        async with connect() as other:
            _, on_create = await zk.with_watcher().exists("/o")
            await other.create("/o", b"theirs")
            assert await on_create.receive() == _ev(CREATED, "/o")
            _, on_change = await zk.with_watcher().get_data("/o")
            _, on_children = await zk.with_watcher().get_children("/o")
            await other.set_data("/o", b"changed")
            assert await on_change.receive() == _ev(CHANGED, "/o")
            await other.create("/o/kid", b"")
            assert await on_children.receive() == _ev(CHILDREN, "/o")
            async with zk.add_watch("/o", AddWatchMode.PERSISTENT_RECURSIVE) as events:
                await other.set_data("/o/kid", b"1")
                await other.delete("/o/kid")
                await other.delete("/o")
                await _expect(
                    events, _ev(CHANGED, "/o/kid"), _ev(DELETED, "/o/kid"), _ev(DELETED, "/o")
                )


async def test_events_arrive_before_the_reply_of_a_later_read(
    zk: ZooKeeper, connect: Connect
) -> None:
    with trio.fail_after(15):
        await zk.create("/x", b"0")
        await zk.create("/y")
        async with connect() as writer:
            for i in range(1, 21):
                _, events = await zk.with_watcher().get_data("/x")
                await zk.watch().get_children("/y")
                await writer.set_data("/x", b"%d" % i)
                await writer.create(f"/y/c{i}")
                data, _ = await zk.get_data("/x")
                assert data == b"%d" % i
                # The reply came after the notification: it is already here.
                assert events.receive_nowait() == _ev(CHANGED, "/x")
                assert zk.default_watcher.receive_nowait() == _ev(CHILDREN, "/y")
            async with zk.add_watch("/x") as persistent:
                await writer.set_data("/x", b"last")
                assert (await zk.get_children("/y"))[:1]  # any later read will do
                assert persistent.receive_nowait() == _ev(CHANGED, "/x")


async def test_remove_watches_ends_the_local_watchers(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/rw")
        _, data_events = await zk.with_watcher().get_data("/rw")
        _, child_events = await zk.with_watcher().get_children("/rw")
        await zk.remove_watches("/rw", WatcherType.DATA)
        assert await data_events.receive() == _ev(EventType.DATA_WATCH_REMOVED, "/rw")
        with pytest.raises(trio.EndOfChannel):
            await data_events.receive()
        assert await zk.check_watches("/rw", WatcherType.DATA) is False
        assert await zk.check_watches("/rw", WatcherType.CHILDREN) is True
        await zk.remove_watches("/rw", WatcherType.ANY)
        assert await child_events.receive() == _ev(EventType.CHILD_WATCH_REMOVED, "/rw")
        with pytest.raises(trio.EndOfChannel):
            await child_events.receive()
        assert await zk.check_watches("/rw") is False
        # The server no longer reports the node's changes to this session.
        await zk.set_data("/rw", b"x")
        await zk.create("/rw/c")
        await _marker(zk, zk.default_watcher)


async def test_remove_watches_local_while_the_server_cannot_be_reached(
    zookeeper_server: Server, chroot: str, connect: Connect
) -> None:
    """``local=True`` ends this client's watchers at once while disconnected.

    The next connection does not set them again: the server no longer reports
    the node's changes to the session.
    """
    with trio.fail_after(20):
        async with proxied_client(
            zookeeper_server.host, zookeeper_server.port, chroot, connect
        ) as (proxy, zk, writer, states):
            await writer.create("/lr", b"0")
            _, data_events = await zk.with_watcher().get_data("/lr")
            _, child_events = await zk.with_watcher().get_children("/lr")
            proxy.refuse()
            await proxy.reset()
            assert await states.receive() is KeeperState.DISCONNECTED
            await zk.remove_watches("/lr", WatcherType.DATA, local=True)
            removed = await node_event(data_events)
            assert (removed.event_type, removed.path) == (EventType.DATA_WATCH_REMOVED, "/lr")
            with pytest.raises(trio.EndOfChannel):
                await data_events.receive()
            with pytest.raises(NoWatcherError):
                await zk.remove_watches("/lr", WatcherType.DATA, local=True)
            assert zk.statistics().watches == 1  # the child watch stays
            proxy.refuse(False)
            assert await states.receive() is KeeperState.SYNC_CONNECTED
            assert await zk.check_watches("/lr", WatcherType.DATA) is False
            assert await zk.check_watches("/lr", WatcherType.CHILDREN) is True
            await writer.set_data("/lr", b"1")  # no event for the removed watch
            await writer.create("/lr/c")
            assert await node_event(child_events) == _ev(CHILDREN, "/lr")
            assert drain(data_events) == []


async def test_remove_watches_local_when_connected_asks_the_server(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/lc")
        _, events = await zk.with_watcher().exists("/lc")
        await zk.remove_watches("/lc", WatcherType.ANY, local=True)
        assert await events.receive() == _ev(EventType.DATA_WATCH_REMOVED, "/lc")
        assert await zk.check_watches("/lc") is False
        with pytest.raises(NoWatcherError):
            await zk.remove_watches("/lc", local=True)
        with pytest.raises(TypeError, match="local must be a bool"):
            await zk.remove_watches("/lc", local=1)  # type: ignore[arg-type]


async def test_watches_survive_a_lost_connection(
    zookeeper_server: Server, chroot: str, connect: Connect
) -> None:
    with trio.fail_after(20):
        async with proxied_client(
            zookeeper_server.host, zookeeper_server.port, chroot, connect
        ) as (proxy, zk, writer, states):
            await writer.create("/s", b"0")
            await writer.create("/p", b"0")
            _, one_shot = await zk.with_watcher().get_data("/s")
            # A different path: before ZooKeeper 3.9 (ZOOKEEPER-4466) one
            # session's one-shot and persistent watches on a path interfere.
            async with zk.add_watch("/p") as persistent:
                proxy.refuse()
                await proxy.reset()
                assert await states.receive() is KeeperState.DISCONNECTED
                # Changed while the client is disconnected.
                await writer.set_data("/s", b"1")
                await writer.set_data("/p", b"1")
                proxy.refuse(False)
                assert await states.receive() is KeeperState.SYNC_CONNECTED
                assert zk.statistics().connections == 2
                # The one-shot watch was re-registered (SetWatches with the
                # last zxid seen) and fires for the change it missed.
                assert await node_event(one_shot) == _ev(CHANGED, "/s")
                # The persistent watch is re-added; missed changes are not
                # replayed, later ones are delivered.
                await writer.set_data("/p", b"2")
                await _expect(persistent, _ev(CHANGED, "/p"))
                # (p was changed while disconnected: "1" is not replayed.)
                data, _ = await zk.get_data("/p")
                assert data == b"2"
                assert drain(persistent) == []


async def test_many_watches_are_re_registered_in_batches_after_a_reconnect(
    zookeeper_server: Server, chroot: str, connect: Connect
) -> None:
    # About 190 KiB of watched paths: more than one SetWatches batch (128 KiB).
    count, name = 600, "n" * 300
    with trio.fail_after(30):
        async with proxied_client(
            zookeeper_server.host, zookeeper_server.port, chroot, connect
        ) as (proxy, zk, writer, states):
            await writer.create("/many")
            paths = [f"/many/{name}{i:04d}" for i in range(count)]
            channels: list[WatchEvents] = []

            async def create(path: str) -> None:
                await writer.create(path)

            async def watch(path: str) -> None:
                _, events = await zk.with_watcher().get_data(path)
                channels.append(events)

            for job in (create, watch):
                async with trio.open_nursery() as nursery:
                    for path in paths:
                        nursery.start_soon(job, path)
            assert zk.statistics().watches == count
            proxy.refuse()
            await proxy.reset()
            assert await states.receive() is KeeperState.DISCONNECTED
            async with trio.open_nursery() as nursery:
                for path in paths:
                    nursery.start_soon(writer.set_data, path, b"changed")
            proxy.refuse(False)
            assert await states.receive() is KeeperState.SYNC_CONNECTED
            fired = sorted([(await node_event(events)).path or "" for events in channels])
            assert fired == paths
            assert zk.statistics().watches == 0


async def test_watches_beyond_the_servers_buffer_are_all_re_registered_after_a_reconnect(
    zookeeper_server: Server, chroot: str, connect: Connect
) -> None:
    # 20,000 exists watches of ~80-byte paths: ~1.6 MB of SetWatches, more
    # than the server's jute.maxbuffer (1 MiB): one frame would be refused
    # and the connection closed, again and again. Split into batches (at
    # 128 KiB, as Java, even when the client accepts larger frames for big
    # replies), every one is set again; the server's own list (wchc) says so.
    count, name = 20_000, "w" * 64
    with trio.fail_after(180):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(
                proxy.address + chroot, watch_buffer=count + 16, max_frame_size=4 * 1024 * 1024
            ) as zk,
            connect() as writer,
            zk.session_states() as states,
        ):
            await writer.create("/big")
            paths = [f"/big/{name}{i:05d}" for i in range(count)]
            pending = iter(paths)

            async def watch() -> None:
                for path in pending:
                    assert await zk.watch().exists(path) is None

            async with trio.open_nursery() as nursery:
                for _ in range(64):
                    nursery.start_soon(watch)
            assert zk.statistics().watches == count
            assert sum(len(chroot + p) + 4 for p in paths) > 1024 * 1024
            await proxy.reset()
            assert await states.receive() is KeeperState.DISCONNECTED
            assert await states.receive() is KeeperState.SYNC_CONNECTED
            await zk.exists("/")  # after the SetWatches on the session's queue
            answer = await trio.to_thread.run_sync(zookeeper_server.four_letter_word, "wchc")
            assert parse_wchc(answer)[zk.session_id] == {chroot + p for p in paths}
            await writer.create(paths[-1])
            event = await node_event(zk.default_watcher)
            assert (event.event_type, event.path) == (CREATED, paths[-1])
            assert zk.statistics().watches == count - 1


async def test_config_watch_is_set_again_outside_the_chroot_after_a_reconnect(
    zookeeper_server: Server, chroot: str
) -> None:
    """/zookeeper/config lies outside any chroot: its watch is set again there, not inside."""
    with trio.fail_after(30):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as zk,
            zk.session_states() as states,
        ):
            watcher = WatchEvents(max_buffer=16, one_shot=True)
            await zk._get_config(watcher)  # the watch track_ensemble sets
            await proxy.reset()
            assert await states.receive() is KeeperState.DISCONNECTED
            assert await states.receive() is KeeperState.SYNC_CONNECTED
            await zk.exists("/")  # after the SetWatches on the session's queue
            answer = await trio.to_thread.run_sync(zookeeper_server.four_letter_word, "wchc")
            # Set inside the chroot, the server would have answered the
            # missing node with a NodeDeleted event (and kept no watch).
            assert "/zookeeper/config" in parse_wchc(answer)[zk.session_id]
            assert [e for e in drain(watcher) if e.event_type is not EventType.NONE] == []
            watcher.close()


async def test_closing_a_follower_keeps_the_watch_another_read_is_setting(
    zookeeper_server: Server, chroot: str, connect: Connect
) -> None:
    """A watcher that closes while another watching read of its path is on the
    wire must not remove the server watch that read sets (the server applies
    the removal after the read, so the read's watcher would wait forever)."""
    with trio.fail_after(20):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as zk,
        ):
            await zk.create("/p")
            leave = trio.Event()
            got: list[tuple[list[str], WatchEvents]] = []

            async def follow(*, task_status: trio.TaskStatus[None]) -> None:
                async with zk.watch_children("/p") as follower:
                    assert await anext(follower) == []
                    task_status.started()
                    await leave.wait()

            async def read() -> None:
                got.append(await zk.with_watcher().get_children("/p"))

            async with trio.open_nursery() as nursery:
                await nursery.start(follow)
                proxy.pause_upstream()  # the read below is held on its way
                nursery.start_soon(read)
                await trio.testing.wait_all_tasks_blocked()
                assert zk.statistics().pending_requests == 1
                leave.set()  # the follower closes while the read is out
                await trio.testing.wait_all_tasks_blocked()
                proxy.pause_upstream(False)
            ((children, events),) = got
            assert children == []
            async with connect() as other:
                await other.create("/p/child")
            event = await events.receive()
            assert event.event_type is EventType.NODE_CHILDREN_CHANGED
            assert event.path == "/p"
