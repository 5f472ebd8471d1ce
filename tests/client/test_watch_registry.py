"""The watch registry at scale, and its bookkeeping when one kind of watch fires."""

from __future__ import annotations

import time

from trio_zookeeper import EventType, KeeperState, WatchedEvent, WatchEvents
from trio_zookeeper._watchers import WatchKind, WatchRegistry


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
