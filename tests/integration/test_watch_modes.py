"""One-shot and persistent watches of one session on the same path, in every combination.

Before ZooKeeper 3.9 (ZOOKEEPER-4466) the server keeps one watch mode per
path and session, in two slots (data and child); whatever is set last takes
the slot (the table in docs/guides/watches.rst). These tests hold the client
to the promise that still holds on such a server: every one-shot watch fires
(or ends with an event that says why), every persistent watch keeps
delivering, and ``statistics().watches`` counts exactly what is armed.

Absence of an event is never asserted with a sleep: a later marker change is
made and must be the next event (a session's notifications are ordered).
"""

from __future__ import annotations

import itertools
import re

import pytest
import trio

from trio_zookeeper import (
    AddWatchMode,
    EventType,
    KeeperState,
    NoWatcherError,
    UnimplementedError,
    WatchedEvent,
    WatcherType,
    WatchEvents,
    ZooKeeper,
)

from ._util import node_event, proxied_client
from .conftest import Connect, Server

pytestmark = pytest.mark.server

P = AddWatchMode.PERSISTENT
R = AddWatchMode.PERSISTENT_RECURSIVE

#: The one-shot watches: how each is set on /n, and the change that fires it.
ONE_SHOTS = ("get_data", "exists_present", "exists_absent", "get_children")
ENDINGS = (
    "fires",  # the change comes while both watches are armed
    "persistent_leaves",  # the add_watch block exits first, then the change
    "remove_one_shot",  # remove_watches(DATA or CHILDREN)
    "remove_persistent",  # remove_watches(PERSISTENT or PERSISTENT_RECURSIVE)
    "remove_any",  # remove_watches(ANY)
    "remove_other_kind",  # remove_watches(CHILDREN or DATA): there is none such
    "remove_other_mode",  # remove_watches(the other persistent mode): none such
)


def _ev(event_type: EventType, path: str) -> WatchedEvent:
    return WatchedEvent(event_type, KeeperState.SYNC_CONNECTED, path)


def _key(event: WatchedEvent) -> tuple[EventType, str | None]:
    return (event.event_type, event.path)


async def _set_one_shot(zk: ZooKeeper, one_shot: str) -> WatchEvents:
    watcher = zk.with_watcher()
    if one_shot == "get_data":
        _, events = await watcher.get_data("/n")
    elif one_shot.startswith("exists"):
        _, events = await watcher.exists("/n")
    else:
        _, events = await watcher.get_children("/n")
    return events


async def _fire(zk: ZooKeeper, one_shot: str) -> tuple[EventType, str]:
    """Make the change that fires ``one_shot``; return its (event, path)."""
    if one_shot == "exists_absent":
        await zk.create("/n")
        return (EventType.NODE_CREATED, "/n")
    if one_shot == "get_children":
        await zk.create("/n/c")
        return (EventType.NODE_CHILDREN_CHANGED, "/n")
    await zk.set_data("/n", b"fire")
    return (EventType.NODE_DATA_CHANGED, "/n")


def _persistent_sees(mode: AddWatchMode, fired: tuple[EventType, str]) -> tuple[EventType, str]:
    """What a persistent watch on /n reports for the firing change."""
    if fired == (EventType.NODE_CHILDREN_CHANGED, "/n") and mode is R:
        return (EventType.NODE_CREATED, "/n/c")  # recursive: the child, never CHILDREN_CHANGED
    return fired


async def _only_one(events: WatchEvents, want: tuple[EventType, str | None]) -> None:
    """``events`` (a one-shot channel) gives exactly this node event, then ends."""
    assert _key(await node_event(events)) == want
    with pytest.raises(trio.EndOfChannel):
        await node_event(events)
    assert not events.active


async def _still_persistent(zk: ZooKeeper, mode: AddWatchMode, events: WatchEvents) -> None:
    """The persistent watch on /n still delivers data and child changes (and, recursive, below)."""
    await zk.set_data("/n", b"again")
    assert _key(await node_event(events)) == (EventType.NODE_DATA_CHANGED, "/n")
    await zk.create("/n/d")
    if mode is P:
        assert _key(await node_event(events)) == (EventType.NODE_CHILDREN_CHANGED, "/n")
    else:
        assert _key(await node_event(events)) == (EventType.NODE_CREATED, "/n/d")
        await zk.set_data("/n/d", b"deep")
        assert _key(await node_event(events)) == (EventType.NODE_DATA_CHANGED, "/n/d")
    # Nothing else came before this marker.
    await zk.set_data("/n", b"marker")
    assert _key(await node_event(events)) == (EventType.NODE_DATA_CHANGED, "/n")


async def _server_has(zk: ZooKeeper, one_shot: str) -> bool:
    kind = WatcherType.CHILDREN if one_shot == "get_children" else WatcherType.DATA
    return await zk.check_watches("/n", kind)


@pytest.mark.parametrize(
    ("one_shot", "mode", "order", "ending"),
    list(itertools.product(ONE_SHOTS, (P, R), ("before", "after"), ENDINGS)),
    ids=lambda value: value.name.lower() if isinstance(value, AddWatchMode) else None,
)
async def test_one_shot_and_persistent_watch_on_one_path(
    zk: ZooKeeper, one_shot: str, mode: AddWatchMode, order: str, ending: str
) -> None:
    with trio.fail_after(15):
        if one_shot != "exists_absent":
            await zk.create("/n", b"0")
        one: WatchEvents | None = None
        if order == "before":
            one = await _set_one_shot(zk, one_shot)
        async with zk.add_watch("/n", mode) as persistent:
            if one is None:
                one = await _set_one_shot(zk, one_shot)
            assert zk.statistics().watches == 2
            if ending.startswith("remove_other"):
                if ending == "remove_other_kind":
                    other = WatcherType.DATA if one_shot == "get_children" else WatcherType.CHILDREN
                else:
                    other = (
                        WatcherType.PERSISTENT_RECURSIVE if mode is P else WatcherType.PERSISTENT
                    )
                with pytest.raises(NoWatcherError):
                    await zk.remove_watches("/n", other)
                assert zk.statistics().watches == 2
            if ending in ("fires", "remove_other_kind", "remove_other_mode"):
                fired = await _fire(zk, one_shot)
                await _only_one(one, fired)
                assert _key(await node_event(persistent)) == _persistent_sees(mode, fired)
                assert zk.statistics().watches == 1
                await _still_persistent(zk, mode, persistent)
            elif ending == "remove_one_shot":
                kind = WatcherType.CHILDREN if one_shot == "get_children" else WatcherType.DATA
                await zk.remove_watches("/n", kind)
                removed = (
                    EventType.CHILD_WATCH_REMOVED
                    if kind is WatcherType.CHILDREN
                    else EventType.DATA_WATCH_REMOVED
                )
                await _only_one(one, (removed, "/n"))
                assert zk.statistics().watches == 1
                if one_shot == "exists_absent":
                    await zk.create("/n")
                    assert _key(await node_event(persistent)) == (EventType.NODE_CREATED, "/n")
                await _still_persistent(zk, mode, persistent)
            elif ending == "remove_persistent":
                await zk.remove_watches(
                    "/n", WatcherType.PERSISTENT if mode is P else WatcherType.PERSISTENT_RECURSIVE
                )
                await _only_one(persistent, (EventType.PERSISTENT_WATCH_REMOVED, "/n"))
                assert zk.statistics().watches == 1
                assert await _server_has(zk, one_shot)
                await _only_one(one, await _fire(zk, one_shot))
            elif ending == "remove_any":
                await zk.remove_watches("/n", WatcherType.ANY)
                assert _key(await node_event(persistent)) == (
                    EventType.PERSISTENT_WATCH_REMOVED,
                    "/n",
                )
                with pytest.raises(trio.EndOfChannel):
                    await node_event(persistent)
                assert (await node_event(one)).event_type in (
                    EventType.DATA_WATCH_REMOVED,
                    EventType.CHILD_WATCH_REMOVED,
                )
                assert zk.statistics().watches == 0
        if ending == "persistent_leaves":
            # The one-shot watch is still armed, on the server too.
            assert zk.statistics().watches == 1
            assert await _server_has(zk, one_shot)
            await _only_one(one, await _fire(zk, one_shot))
        # Nothing is left, here or on the server.
        assert zk.statistics().watches == 0
        assert await zk.check_watches("/n") is False


def _server_version(server: Server) -> tuple[int, int]:
    answer = server.four_letter_word("srvr")
    match = re.search(r"version: (\d+)\.(\d+)", answer)
    assert match is not None, answer
    return int(match[1]), int(match[2])


@pytest.mark.parametrize("first", [P, R], ids=["persistent_first", "recursive_first"])
async def test_persistent_and_recursive_watch_on_one_path(
    zk: ZooKeeper, zookeeper_server: Server, first: AddWatchMode
) -> None:
    second = R if first is P else P
    one_mode_per_path = _server_version(zookeeper_server) < (3, 9)
    with trio.fail_after(10):
        await zk.create("/n", b"0")
        async with zk.add_watch("/n", first) as events:
            if one_mode_per_path:
                # Such a server cannot hold both: refused, not silently broken.
                with pytest.raises(UnimplementedError, match="one watch mode per path"):
                    async with zk.add_watch("/n", second):
                        pass
                assert zk.statistics().watches == 1
            else:
                async with zk.add_watch("/n", second) as other:
                    await zk.set_data("/n", b"both")
                    for channel in (events, other):
                        assert _key(await node_event(channel)) == (
                            EventType.NODE_DATA_CHANGED,
                            "/n",
                        )
            # The first watch was not disturbed.
            await _still_persistent(zk, first, events)
        assert await zk.check_watches("/n") is False


async def test_child_watch_under_a_recursive_watch_survives_a_reconnect(
    zookeeper_server: Server, chroot: str, connect: Connect
) -> None:
    with trio.fail_after(20):
        async with proxied_client(
            zookeeper_server.host, zookeeper_server.port, chroot, connect
        ) as (proxy, zk, writer, states):
            await writer.create("/n", b"0")
            await writer.create("/m", b"0")
            _, children = await zk.with_watcher().get_children("/n")
            _, missed = await zk.with_watcher().get_children("/m")
            async with (
                zk.add_watch("/n", R) as recursive,
                zk.add_watch("/m", R) as recursive_m,
            ):
                proxy.refuse()
                await proxy.reset()
                assert await states.receive() is KeeperState.DISCONNECTED
                # A child change made while disconnected fires at once ...
                await writer.create("/m/c")
                proxy.refuse(False)
                assert await states.receive() is KeeperState.SYNC_CONNECTED
                assert _key(await node_event(missed)) == (EventType.NODE_CHILDREN_CHANGED, "/m")
                # (a read: the server has taken the re-registered watches
                # before the writer's next change.)
                await zk.exists("/n")
                # ... and one made after the reconnect fires too: the re-added
                # recursive watch did not take the child watch's place.
                await writer.create("/n/c")
                assert _key(await node_event(children)) == (EventType.NODE_CHILDREN_CHANGED, "/n")
                assert _key(await node_event(recursive)) == (EventType.NODE_CREATED, "/n/c")
                await writer.set_data("/m", b"1")
                assert _key(await node_event(recursive_m)) == (EventType.NODE_DATA_CHANGED, "/m")
                assert zk.statistics().watches == 2
            assert zk.statistics().watches == 0
            assert await zk.check_watches("/n") is False


@pytest.mark.parametrize("mode", [P, R], ids=["persistent", "recursive"])
async def test_following_a_node_alongside_a_persistent_watch_on_it(
    zk: ZooKeeper, mode: AddWatchMode
) -> None:
    with trio.fail_after(15):
        await zk.create("/w", b"0")
        async with zk.watch_children("/w") as lists, zk.watch_data("/w") as values:
            assert await anext(lists) == []
            assert (await anext(values) or (b"?",))[0] == b"0"
            async with zk.add_watch("/w", mode) as events:
                await zk.create("/w/a")
                assert await anext(lists) == ["a"]
                await zk.set_data("/w", b"1")
                assert (await anext(values) or (b"?",))[0] == b"1"
                expected = (
                    (EventType.NODE_CHILDREN_CHANGED, "/w")
                    if mode is P
                    else (EventType.NODE_CREATED, "/w/a")
                )
                assert _key(await node_event(events)) == expected
                assert _key(await node_event(events)) == (EventType.NODE_DATA_CHANGED, "/w")
            # The followers outlive the persistent watch.
            await zk.create("/w/b")
            assert await anext(lists) == ["a", "b"]
            await zk.set_data("/w", b"2")
            assert (await anext(values) or (b"?",))[0] == b"2"
        assert zk.statistics().watches == 0
        assert await zk.check_watches("/w") is False
