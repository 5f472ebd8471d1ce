"""Walking and deleting subtrees (trio_zookeeper._tree) against the real server.

Deep chains (5,000 levels) must neither recurse nor take one round trip per
node where a transaction can do; wide trees come back in sorted depth-first
order; an unreadable node is reported and left out while the rest is read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

from trio_zookeeper import ZooKeeper, make_digest_acl, open_zookeeper
from trio_zookeeper._tree import TreeNode, delete_subtree, walk_tree
from trio_zookeeper.testing import ZooKeeperServer

ChainBuilder = Callable[..., Awaitable[str]]  # the build_chain fixture (tests/conftest.py)

pytestmark = pytest.mark.server

DEPTH = 5000


async def walk(zk: ZooKeeper, root: str, **kwargs: object) -> list[TreeNode]:
    nodes = []
    async with walk_tree(zk, root, **kwargs) as channel:  # type: ignore[arg-type]
        async for node in channel:
            nodes.append(node)
    return nodes


async def test_walk_wide_tree_in_sorted_depth_first_order(zk: ZooKeeper) -> None:
    paths = ["/t", "/t/b", "/t/b/y", "/t/b/x", "/t/a", "/t/c", "/t/c/z", "/t/c/z/deep"]
    for path in paths:
        await zk.create(path, path.encode())
    nodes = await walk(zk, "/t", data=True, acl=True, concurrency=3)
    assert [n.path for n in nodes] == [
        "/t",
        "/t/a",
        "/t/b",
        "/t/b/x",
        "/t/b/y",
        "/t/c",
        "/t/c/z",
        "/t/c/z/deep",
    ]
    assert [n.depth for n in nodes] == [0, 1, 1, 2, 2, 1, 2, 3]
    assert [n.last for n in nodes] == [True, False, False, False, True, True, True, True]
    assert all(n.data == n.path.encode() for n in nodes)
    assert all(n.acl is not None and len(n.acl) == 1 for n in nodes)
    assert nodes[2].children == ("x", "y")
    with pytest.raises(Exception, match="No node"):
        await walk(zk, "/absent")


async def test_walk_reports_unreadable_nodes_and_reads_the_rest(zk: ZooKeeper) -> None:
    acl = [make_digest_acl("alice", "secret")]
    await zk.create("/p")
    await zk.create("/p/a", b"")
    await zk.create("/p/hidden", b"", acl=acl)
    await zk.create("/p/z", b"")
    errors: list[tuple[str, str]] = []
    nodes = await walk(
        zk, "/p", data=True, on_error=lambda path, exc: errors.append((path, type(exc).__name__))
    )
    assert [n.path for n in nodes] == ["/p", "/p/a", "/p/z"]
    assert errors == [("/p/hidden", "NoAuthError")]
    with pytest.raises(Exception, match=r"[Nn]ot authori[sz]ed|NoAuth"):
        await walk(zk, "/p", data=True)


async def test_recursive_delete_of_a_chain_of_5000(
    deep_server: ZooKeeperServer, build_chain: ChainBuilder
) -> None:
    with trio.fail_after(120):
        async with open_zookeeper(deep_server.connect_string) as zk:
            await chain_walk_delete(zk, build_chain)


async def chain_walk_delete(zk: ZooKeeper, build_chain: ChainBuilder) -> None:
    deepest = await build_chain(zk, "/chain", DEPTH)
    assert (await zk.exists(deepest)) is not None
    # The delete walks the whole chain first (the walk is what used to recurse).
    await zk.delete("/chain", recursive=True)
    assert await zk.exists("/chain") is None


async def test_delete_subtree_counts_batches_and_keeps_root(zk: ZooKeeper) -> None:
    await zk.create("/d")
    for i in range(30):
        await zk.create(f"/d/{i}")
        await zk.create(f"/d/{i}/leaf")
    progress: list[int] = []
    deleted = await delete_subtree(zk, "/d", batch=7, on_deleted=progress.append)
    assert deleted == 60
    assert progress[-1] == 60
    assert progress == sorted(progress)
    assert await zk.get_children("/d") == []
    assert await delete_subtree(zk, "/absent") == 0
    with pytest.raises(ValueError, match="batch"):
        await delete_subtree(zk, "/d", batch=0)


async def test_recursive_delete_of_the_root_keeps_zookeeper(zk_connect_string: str) -> None:
    # With a chroot, "/" is the chroot and everything under it goes.
    async with open_zookeeper(zk_connect_string) as zk:
        await zk.create("/x")
        await zk.create("/x/y")
        await zk.delete("/x", recursive=True)
        assert await zk.get_children("/") == []
