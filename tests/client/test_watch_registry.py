"""The watch registry at scale, and its bookkeeping when one kind of watch fires."""

from __future__ import annotations

import time

import pytest

from trio_zookeeper import EventType, KeeperState, WatchedEvent, WatchEvents
from trio_zookeeper._protocol import ErrorCode
from trio_zookeeper._watchers import WatchKind, WatchRegistry
from trio_zookeeper._watchplumbing import ServerWatches


def test_one_watcher_behind_many_watches_dispatches_in_linear_time() -> None:
    # The default watcher stands behind every watch set with zk.watch(); after
    # a reconnect thousands of events can arrive at once. Each must cost O(1)
    # (this took ~25 s at 20,000 watches when each event rebuilt the list).
    registry = WatchRegistry()
    watcher = WatchEvents(max_buffer=100_000)
    n = 20_000
    for i in range(n):
        registry.add(WatchKind.DATA, f"/n{i}", watcher)
    assert registry.count() == n
    t0 = time.perf_counter()
    for i in range(n):
        registry.dispatch(
            WatchedEvent(EventType.NODE_DATA_CHANGED, KeeperState.SYNC_CONNECTED, f"/n{i}")
        )
    assert time.perf_counter() - t0 < 2.0
    assert registry.count() == 0
    assert watcher.buffered == n
    assert not watcher._reg_list()


def test_an_event_spends_only_the_watches_it_fires() -> None:
    registry = WatchRegistry()
    watcher = WatchEvents()
    registry.add(WatchKind.DATA, "/a", watcher)
    registry.add(WatchKind.CHILD, "/a", watcher)
    registry.dispatch(
        WatchedEvent(EventType.NODE_CHILDREN_CHANGED, KeeperState.SYNC_CONNECTED, "/a")
    )
    # the data watch on /a is still armed, and still known to the watcher...
    assert registry.has(WatchKind.DATA, "/a")
    assert not registry.has(WatchKind.CHILD, "/a")
    # ...so closing the watcher really removes it (nothing re-registered later)
    watcher.close()
    assert registry.count() == 0


def test_one_shot_watches_covered_by_a_persistent_watch_of_the_same_path() -> None:
    registry = WatchRegistry()
    persistent, recursive = WatchEvents(), WatchEvents()
    registry.add(WatchKind.PERSISTENT, "/p", persistent)
    registry.add(WatchKind.PERSISTENT_RECURSIVE, "/r", recursive)
    # A persistent watch delivers every event of its path; a recursive one
    # never NODE_CHILDREN_CHANGED; neither covers another path.
    assert [registry.covered(k, "/p") for k in WatchKind] == [True, True, True, False, False]
    assert [registry.covered(k, "/r") for k in WatchKind] == [True, True, False, False, False]
    assert not registry.covered(WatchKind.DATA, "/p/child")
    assert not registry.covered(WatchKind.DATA, "/r/child")
    # Only a child watch next to a recursive (and no persistent) watch is
    # shadowed when the recursive one is re-added.
    child = WatchEvents(one_shot=True)
    registry.add(WatchKind.CHILD, "/r", child)
    registry.add(WatchKind.CHILD, "/p", child)
    assert registry.shadowed_child_paths() == ["/r"]
    persistent.close()
    assert not registry.covered(WatchKind.DATA, "/p")


def test_a_watch_remembers_the_zxid_it_was_first_set_at() -> None:
    registry = WatchRegistry()
    first, second = WatchEvents(one_shot=True), WatchEvents(one_shot=True)
    registry.add(WatchKind.DATA, "/a", first, 7)
    registry.add(WatchKind.DATA, "/a", second, 9)  # the server's watch is still the one of 7
    assert registry.zxid(WatchKind.DATA, "/a") == 7
    registry.dispatch(WatchedEvent(EventType.NODE_DATA_CHANGED, KeeperState.SYNC_CONNECTED, "/a"))
    assert registry.zxid(WatchKind.DATA, "/a") == 0
    third = WatchEvents(one_shot=True)
    registry.add(WatchKind.DATA, "/a", third, 12)
    assert registry.zxid(WatchKind.DATA, "/a") == 12
    third.close()
    assert registry.zxid(WatchKind.DATA, "/a") == 0
    assert registry.count() == 0


def test_end_watches_ends_only_the_watchers_left_with_nothing() -> None:
    registry = WatchRegistry()
    default = WatchEvents()
    persistent = WatchEvents()
    both = WatchEvents()
    registry.add(WatchKind.PERSISTENT, "/a", persistent)
    registry.add(WatchKind.PERSISTENT, "/a", default)
    registry.add(WatchKind.PERSISTENT, "/a", both)
    registry.add(WatchKind.CHILD, "/b", both)
    removed = WatchedEvent(EventType.PERSISTENT_WATCH_REMOVED, KeeperState.SYNC_CONNECTED, "/a")
    assert registry.end_watches((WatchKind.PERSISTENT,), "/a", removed, keep_open=default) == 3
    for watcher in (default, persistent, both):
        assert watcher.receive_nowait() == removed
    assert not persistent.active  # nothing left to deliver: ended
    assert default.active  # kept open
    assert both.active  # still watches /b
    assert registry.count() == 1


def test_recursive_watches_cover_their_subtree_only_by_whole_names() -> None:
    # Matched by prefix with few roots, by looking up ancestors with many:
    # both must give the same answer ("/ab" is not under "/a").
    for extra_roots in (0, 100):
        registry = WatchRegistry()
        watchers = {root: WatchEvents() for root in ("/", "/a", "/ab", "/a/b/c")}
        for root, watcher in watchers.items():
            registry.add(WatchKind.PERSISTENT_RECURSIVE, root, watcher)
        for i in range(extra_roots):
            registry.add(WatchKind.PERSISTENT_RECURSIVE, f"/other{i}", WatchEvents())
        delivered = registry.dispatch(
            WatchedEvent(EventType.NODE_DATA_CHANGED, KeeperState.SYNC_CONNECTED, "/a/b")
        )
        assert delivered == 2
        assert [root for root, w in watchers.items() if w.buffered] == ["/", "/a"]


def test_a_watcher_behind_many_watches_is_detached_from_all_of_them() -> None:
    # Such a watcher (the default watcher) only counts its registrations; the
    # registry is searched when it is closed, and every one of them goes.
    registry = WatchRegistry()
    many, single = WatchEvents(), WatchEvents(one_shot=True)
    for kind in (WatchKind.DATA, WatchKind.EXIST, WatchKind.CHILD):
        for i in range(3):
            registry.add(kind, f"/{kind.value}{i}", many)
    registry.add(WatchKind.DATA, "/data0", single)
    registry.add(WatchKind.DATA, "/data0", many)  # already there: not twice
    assert registry.count() == 9
    assert set(many._reg_list()) == {
        (kind, f"/{kind.value}{i}")
        for kind in (WatchKind.DATA, WatchKind.EXIST, WatchKind.CHILD)
        for i in range(3)
    }
    assert single._reg_list() == [(WatchKind.DATA, "/data0")]
    many.close()
    assert registry.count() == 1
    assert list(registry.watchers()) == [single]
    registry.dispatch(WatchedEvent(EventType.NODE_DELETED, KeeperState.SYNC_CONNECTED, "/data0"))
    assert registry.count() == 0
    assert single.receive_nowait().event_type is EventType.NODE_DELETED
    assert not single.active


def test_a_watch_channel_serves_one_registry_only() -> None:
    watcher = WatchEvents()
    WatchRegistry().add(WatchKind.DATA, "/a", watcher)
    other = WatchRegistry()
    with pytest.raises(RuntimeError, match="one client"):
        other.add(WatchKind.DATA, "/a", watcher)
    assert other.count() == 0


def test_session_events_for_persistent_watchers_only() -> None:
    registry = WatchRegistry()
    persistent, one_shot = WatchEvents(), WatchEvents(one_shot=True)
    registry.add(WatchKind.PERSISTENT_RECURSIVE, "/p", persistent)
    registry.add(WatchKind.CHILD, "/p", persistent)
    registry.add(WatchKind.DATA, "/p", one_shot)
    registry.session_event(KeeperState.SYNC_CONNECTED, persistent_only=True)
    assert (persistent.buffered, one_shot.buffered) == (1, 0)
    registry.end_all(KeeperState.EXPIRED)
    assert registry.count() == 0
    assert not persistent._reg_list()
    assert persistent.receive_nowait().keeper_state is KeeperState.SYNC_CONNECTED
    assert persistent.receive_nowait().keeper_state is KeeperState.EXPIRED


class _Session:
    def __init__(self) -> None:
        self.registry = WatchRegistry()
        self.last_zxid = 7


@pytest.mark.parametrize("err", [0, ErrorCode.NO_NODE, ErrorCode.NO_AUTH])
def test_a_watching_read_counts_in_flight_until_settled_once(err: int) -> None:
    session = _Session()
    watches = ServerWatches(session, call=None, server_path=str)  # type: ignore[arg-type]
    watcher = WatchEvents(one_shot=True)
    exists = watches.exists_registrar("/a", watcher)
    child = watches.registrar(WatchKind.CHILD, "/a", WatchEvents(one_shot=True))
    data = watches.registrar(WatchKind.DATA, "/a", WatchEvents(one_shot=True))
    # Two reads setting the path's data slot, one its child slot, by path.
    assert watches._in_flight_data == {"/a": 2}
    assert watches._in_flight_child == {"/a": 1}
    assert watches._wanted(WatchKind.EXIST, "/a")
    exists(err)  # the reply: registers (and settles) ...
    exists.settle()  # ... and the caller's settle does not count it twice
    assert watches._in_flight_data == {"/a": 1}
    expected = {0: [(WatchKind.DATA, "/a")], ErrorCode.NO_NODE: [(WatchKind.EXIST, "/a")]}
    assert watcher._reg_list() == expected.get(err, [])
    assert session.registry.zxid(WatchKind.DATA if err == 0 else WatchKind.EXIST, "/a") == (
        7 if err in expected else 0
    )
    data.settle()  # never answered (cancelled, connection lost)
    child.settle()
    assert watches._in_flight_data == {}
    assert watches._in_flight_child == {}
