"""Walking and deleting subtrees (trio_zookeeper._tree) against the real server.

Deep chains (5,000 levels) must neither recurse nor take one round trip per
node where a transaction can do; wide trees come back in sorted depth-first
order; an unreadable node is reported and left out while the rest is read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from trio_zookeeper import NoAuthError, NoNodeError, ZooKeeper, make_digest_acl, open_zookeeper
from trio_zookeeper._protocol import OpCode
from trio_zookeeper._tree import TreeNode, delete_subtree, walk_tree
from trio_zookeeper.testing import FaultProxy, ZooKeeperServer

from ._util import RecordingFactory, spawned_tasks

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


async def test_a_root_that_cannot_be_read_raises_every_time(zk: ZooKeeper) -> None:
    # The walk's error must not be lost to the consumer's leaving: it closes
    # the channel, and the consumer, seeing it end, cancels the walk (a race
    # that a checkpoint between the two used to lose about one time in three).
    await zk.create("/secret", acl=[make_digest_acl("alice", "secret")])
    for _ in range(20):
        with pytest.raises(NoNodeError):
            await walk(zk, "/absent")
        with pytest.raises(NoAuthError):
            await walk(zk, "/secret", data=True)


async def test_the_receiving_task_reads_the_tree_and_no_task_is_started(zk: ZooKeeper) -> None:
    async with zk.pipeline() as pipe:
        pipe.create("/w")
        for i in range(30):
            pipe.create(f"/w/n{i:02d}", b"x")
            pipe.create(f"/w/n{i:02d}/leaf")
    # Warm up (the connection's writer task starts on the first burst).
    assert len(await walk(zk, "/w", concurrency=8)) == 61
    with spawned_tasks() as spawned:
        nodes = await walk(zk, "/w", data=True, concurrency=8)
    assert spawned == []
    assert [n.path for n in nodes][:4] == ["/w", "/w/n00", "/w/n00/leaf", "/w/n01"]
    assert all(n.data == b"x" for n in nodes if n.depth == 1)


async def test_leaving_a_walk_early_abandons_the_reads_on_their_way(
    proxy_zk: tuple[FaultProxy, ZooKeeper],
) -> None:
    proxy, zk = proxy_zk
    with trio.fail_after(20):
        async with zk.pipeline() as pipe:
            pipe.create("/e")
            for i in range(50):
                pipe.create(f"/e/n{i:02d}")

        async def hold_the_next_reads(nodes: trio.abc.ReceiveChannel[TreeNode]) -> None:
            """A receive whose reads are written and held unanswered, then cancelled."""
            proxy.pause_upstream()
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(nodes.receive)
                    await trio.testing.wait_all_tasks_blocked()
                    assert zk.statistics().pending_requests == 10
                    scope.cancel()

        async with zk.walk("/e", concurrency=10) as nodes:
            assert (await nodes.receive()).path == "/e"
            await hold_the_next_reads(nodes)
            proxy.pause_upstream(False)
            # The cancelled receive lost nothing.
            assert [(await nodes.receive()).path for _ in range(3)] == [
                "/e/n00",
                "/e/n01",
                "/e/n02",
            ]
        async with zk.walk("/e", concurrency=10) as nodes:
            assert (await nodes.receive()).path == "/e"
            await hold_the_next_reads(nodes)
            # Leaving with reads unanswered does not wait for them.
        proxy.pause_upstream(False)
        await zk.sync()
        stats = zk.statistics()
        assert (stats.pending_requests, stats.queued_requests, stats.connections) == (0, 0, 1)


async def test_a_walk_with_data_reads_a_leaf_with_one_request(zk_connect_string: str) -> None:
    recorder = RecordingFactory()
    with trio.fail_after(20):
        async with open_zookeeper(zk_connect_string, stream_factory=recorder) as zk:
            async with zk.pipeline() as pipe:
                pipe.create("/d", b"root")
                for i in range(3):
                    pipe.create(f"/d/k{i}", b"kid")
                    for j in range(2):
                        pipe.create(f"/d/k{i}/leaf{j}", b"leaf")
            before = len(recorder.requests)
            nodes = await walk(zk, "/d", data=True)
            ops = Counter(op for _, op in recorder.requests[before:])
    # Every node's data; the children only of the 4 nodes that have any.
    assert ops == {OpCode.GET_DATA: 10, OpCode.GET_CHILDREN: 4}
    assert [(n.path, n.children, n.data) for n in nodes[:3]] == [
        ("/d", ("k0", "k1", "k2"), b"root"),
        ("/d/k0", ("leaf0", "leaf1"), b"kid"),
        ("/d/k0/leaf0", (), b"leaf"),
    ]
    assert [n.stat.num_children for n in nodes] == [len(n.children) for n in nodes]


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
