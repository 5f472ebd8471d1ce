"""TreeCache on a chain 5,000 deep, against the real server: no depth limit anywhere.

The first load walks the chain with ``ZooKeeper.walk``; the two cache-internal
tree operations that used to recurse (dropping a cached subtree, re-reading a
node whose ancestors the cache lacks) handle the whole chain at once; and the
events of a chain built and removed while the cache runs (1,000 deep: see
the test for why) are all applied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

from trio_zookeeper import open_zookeeper
from trio_zookeeper.recipes import TreeCache, TreeEvent, TreeEventType
from trio_zookeeper.testing import ZooKeeperServer

pytestmark = pytest.mark.server

DEPTH = 5000
EVENT_DEPTH = 1000
ChainBuilder = Callable[..., Awaitable[str]]  # the build_chain fixture (tests/conftest.py)


def chain_paths(root: str, depth: int) -> list[str]:
    paths = [root]
    for _ in range(depth):
        paths.append(paths[-1] + "/n")
    return paths


async def events_until(
    cache: TreeCache, done: Callable[[list[TreeEvent]], bool]
) -> list[TreeEvent]:
    seen: list[TreeEvent] = []
    async for event in cache:
        seen.append(event)
        if done(seen):
            return seen
    raise AssertionError("the cache stopped")


def count(kind: TreeEventType, n: int) -> Callable[[list[TreeEvent]], bool]:
    return lambda seen: sum(e.type is kind for e in seen) == n


async def test_tree_cache_loads_drops_and_rereads_a_chain_of_5000(
    deep_server: ZooKeeperServer, build_chain: ChainBuilder
) -> None:
    expected = chain_paths("/loaded", DEPTH)
    with trio.fail_after(180):
        async with open_zookeeper(deep_server.connect_string) as zk:
            await build_chain(zk, "/loaded", DEPTH, data=b"x")
            # Initial load: one NODE_ADDED per node, parents first, then INITIALIZED.
            async with TreeCache(zk, "/loaded") as cache:
                first = await events_until(cache, count(TreeEventType.INITIALIZED, 1))
                assert [e.path for e in first[:-1]] == expected
                assert cache.paths() == sorted(expected)
                deepest = cache.get_data(expected[-1])
                assert deepest is not None
                assert deepest.data == b"x"
                # White box: the cache's own subtree removal and its re-read
                # through missing ancestors, each over the whole chain at once.
                cache._remove(expected[1])  # everything below the root
                assert cache.paths() == ["/loaded"]
                assert cache.get_children("/loaded") == []
                removed = await events_until(cache, count(TreeEventType.NODE_REMOVED, DEPTH))
                # Children leave before their parents.
                assert [e.path for e in removed] == expected[:0:-1]
                await cache._refresh(expected[-1])  # reads its 4,999 missing ancestors too
                assert cache.paths() == sorted(expected)
                added = await events_until(cache, count(TreeEventType.NODE_ADDED, DEPTH))
                assert [e.path for e in added] == expected[1:]
            await zk.delete("/loaded", recursive=True)


async def test_tree_cache_follows_a_chain_growing_and_going(
    deep_server: ZooKeeperServer, build_chain: ChainBuilder
) -> None:
    # Every change under a recursive watch costs ZooKeeper 3.8's server time
    # in the square of the path's depth (it looks up every ancestor path), so
    # the events are followed on a chain of EVENT_DEPTH; the client's own
    # cost per event is linear in the path's length.
    expected = chain_paths("/grown", EVENT_DEPTH)
    with trio.fail_after(120):
        async with (
            open_zookeeper(deep_server.connect_string) as zk,
            TreeCache(zk, "/grown") as cache,
        ):
            await events_until(cache, count(TreeEventType.INITIALIZED, 1))
            assert cache.paths() == []
            await build_chain(zk, "/grown", EVENT_DEPTH, data=b"y")
            added = await events_until(cache, count(TreeEventType.NODE_ADDED, EVENT_DEPTH + 1))
            assert [e.path for e in added if e.type is TreeEventType.NODE_ADDED] == expected
            assert cache.get_children(expected[-2]) == ["n"]
            await zk.set_data(expected[-1], b"changed")
            updated = await events_until(cache, count(TreeEventType.NODE_UPDATED, 1))
            assert updated[-1].path == expected[-1]
            assert updated[-1].node is not None
            assert updated[-1].node.data == b"changed"
            # Removal of the whole chain: every node leaves the cache.
            await zk.delete("/grown", recursive=True)
            removed = await events_until(cache, count(TreeEventType.NODE_REMOVED, EVENT_DEPTH + 1))
            assert {e.path for e in removed if e.type is TreeEventType.NODE_REMOVED} == set(
                expected
            )
            assert cache.paths() == []
