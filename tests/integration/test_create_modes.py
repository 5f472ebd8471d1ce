"""Every CreateMode against the real server (TTL and container nodes included).

The shared server runs with ``extendedTypesEnabled`` and checks containers and
TTL nodes every 500 ms, so expiry is observed with a bounded poll of
``exists()`` (the server deletes these nodes on its own clock: there is no
event to wait for without touching them). Negative facts ("this node is *not*
deleted") are established against a sentinel node that the same server
sweep must delete first, never with a fixed sleep.
"""

from __future__ import annotations

import pytest
import trio

from trio_zookeeper import CreateMode, ZooKeeper

from ._util import wait_until
from .conftest import Connect

pytestmark = pytest.mark.server

SEQUENTIAL_MODES = [
    CreateMode.PERSISTENT_SEQUENTIAL,
    CreateMode.EPHEMERAL_SEQUENTIAL,
    CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL,
]


def _ttl_for(mode: CreateMode) -> int | None:
    return 60_000 if mode.is_ttl else None


async def _gone(zk: ZooKeeper, path: str) -> None:
    """Wait (at most 10 s) until the server has deleted ``path`` on its own."""

    async def absent() -> bool:
        return await zk.exists(path) is None

    with trio.move_on_after(10) as scope:
        await wait_until(absent)
    if scope.cancelled_caught:
        raise AssertionError(f"the server did not delete {path} within 10 s")


async def test_persistent_nodes_outlive_the_session(connect: Connect) -> None:
    with trio.fail_after(10):
        async with connect() as first:
            _, stat = await first.create2("/p", b"data", mode=CreateMode.PERSISTENT)
            assert stat.ephemeral_owner == 0
        async with connect() as second:
            assert (await second.get_data("/p"))[0] == b"data"


async def test_ephemeral_nodes_belong_to_the_session(zk: ZooKeeper, connect: Connect) -> None:
    with trio.fail_after(10):
        path, stat = await zk.create2("/e", b"x", mode=CreateMode.EPHEMERAL)
        assert path == "/e"
        assert stat.ephemeral_owner == zk.session_id != 0
        async with connect() as other:
            seen = await other.exists("/e")
            assert seen is not None
            assert seen.ephemeral_owner == zk.session_id
            assert await zk.get_ephemerals() == ["/e"]
            async with connect() as short:
                await short.create("/short", mode=CreateMode.EPHEMERAL)
                assert await other.exists("/short") is not None
            # Closing the session deletes its ephemerals at once.
            assert await other.exists("/short") is None
            assert await other.exists("/e") is not None


@pytest.mark.parametrize("mode", SEQUENTIAL_MODES, ids=lambda m: m.name)
async def test_sequential_suffix_is_the_parents_cversion(zk: ZooKeeper, mode: CreateMode) -> None:
    with trio.fail_after(10):
        await zk.create("/q")
        await zk.create("/q/a")
        await zk.create("/q/b")
        created: list[str] = []
        for _ in range(3):
            before = await zk.exists("/q")
            assert before is not None
            path = await zk.create("/q/n-", b"s", mode=mode, ttl=_ttl_for(mode))
            assert path == f"/q/n-{before.cversion:010d}"
            created.append(path)
        assert created == ["/q/n-0000000002", "/q/n-0000000003", "/q/n-0000000004"]
        # A path ending with "/" makes the node's name just the number.
        path, stat = await zk.create2("/q/", mode=mode, ttl=_ttl_for(mode))
        assert path == "/q/0000000005"
        assert stat.ephemeral_owner == (zk.session_id if mode.is_ephemeral else 0)
        # Deletes also count in the cversion clients see, but not in the
        # sequence: the server numbers with its count of child creations,
        # which it reports as 2 * creations - children (DataNode.copyStat).
        # Deleting never gives a number back.
        await zk.delete(path)
        await zk.delete("/q/a")
        before = await zk.exists("/q")
        assert before is not None
        assert before.cversion == 8
        creations = (before.cversion + before.num_children) // 2
        path = await zk.create("/q/n-", mode=mode, ttl=_ttl_for(mode))
        assert path == f"/q/n-{creations:010d}" == "/q/n-0000000006"
        assert sorted(await zk.get_children("/q")) == [
            "b",
            "n-0000000002",
            "n-0000000003",
            "n-0000000004",
            "n-0000000006",
        ]


async def test_container_is_deleted_after_its_last_child_goes(zk: ZooKeeper) -> None:
    with trio.fail_after(20):
        path, stat = await zk.create2("/emptied", b"c", mode=CreateMode.CONTAINER)
        assert path == "/emptied"
        assert stat.num_children == 0
        assert await zk.create("/never", mode=CreateMode.CONTAINER) == "/never"
        await zk.create("/full", mode=CreateMode.CONTAINER)
        await zk.create("/full/child")
        await zk.create("/emptied/a")
        await zk.create("/emptied/b")
        await zk.delete("/emptied/a")
        # Not while one child remains: /full (which has one) is the witness.
        await zk.delete("/emptied/b")
        await _gone(zk, "/emptied")
        # The sweep that removed /emptied kept the container that never had a
        # child and the one that still has one.
        assert await zk.exists("/never") is not None
        assert await zk.get_children("/full") == ["child"]
        await zk.delete("/full/child")
        await _gone(zk, "/full")


async def test_ttl_node_disappears_after_its_ttl_unless_it_has_children(zk: ZooKeeper) -> None:
    with trio.fail_after(20):
        path, stat = await zk.create2("/parent", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=500)
        assert path == "/parent"
        assert stat.version == 0
        await zk.create("/parent/child")
        assert await zk.create("/plain", b"t", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=500) == (
            "/plain"
        )
        assert (await zk.get_data("/plain"))[0] == b"t"
        await _gone(zk, "/plain")
        # /parent's TTL ran out before /plain's, but it has a child.
        assert await zk.exists("/parent") is not None
        await zk.delete("/parent/child")
        await _gone(zk, "/parent")


async def test_modifying_a_ttl_node_restarts_its_ttl(zk: ZooKeeper) -> None:
    with trio.fail_after(20):
        await zk.create("/kept", b"0", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=2000)
        await zk.create("/s1", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=1000)
        await _gone(zk, "/s1")  # at least 1 s after /kept was created
        await zk.set_data("/kept", b"1")  # its TTL now counts from here
        await zk.create("/s2", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=1000)
        await _gone(zk, "/s2")
        # More than 2 s since /kept was created, less than 2 s since it changed.
        assert (await zk.get_data("/kept"))[0] == b"1"
        await _gone(zk, "/kept")


async def test_sequential_ttl_node_disappears_after_its_ttl(zk: ZooKeeper) -> None:
    with trio.fail_after(20):
        path = await zk.create("/t-", mode=CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=300)
        assert path == "/t-0000000000"
        assert await zk.exists(path) is not None
        await _gone(zk, path)
