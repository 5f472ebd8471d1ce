"""Pipelines (``zk.pipeline()``): requests sent at once, replies taken later, on the real server."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import trio
import trio.testing

from trio_zookeeper import (
    BadVersionError,
    ConnectionLossError,
    CreateMode,
    KeeperState,
    NodeExistsError,
    NoNodeError,
    Pending,
    Pipeline,
    RequestTrace,
    Tracer,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper.testing import FaultProxy

from ._util import RecordingFactory, reconnected, spawned_tasks, through_proxy
from .conftest import Connect, Server

pytestmark = pytest.mark.server


class _Boom(Exception):
    pass


async def _create_then_raise(zk: ZooKeeper, paths: list[str], made: list[Pending[str]]) -> None:
    """A pipeline block that sends creates and raises, with no checkpoint in between."""
    async with zk.pipeline() as pipe:
        made += [pipe.create(path) for path in paths]
        raise _Boom


async def test_each_pipelined_request_returns_what_the_method_of_the_same_name_returns(
    zk: ZooKeeper,
) -> None:
    with trio.fail_after(10):
        await zk.create("/other", b"o")
        async with zk.pipeline() as pipe:
            assert isinstance(pipe, Pipeline)
            created = pipe.create("/p", b"one")
            created2 = pipe.create2("/p/c", b"two")
            seq = pipe.create("/p/s-", mode=CreateMode.PERSISTENT_SEQUENTIAL)
            container = pipe.create("/box", mode=CreateMode.CONTAINER)
            ttl2 = pipe.create2("/ttl", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=60_000)
            data = pipe.get_data("/p")
            children = pipe.get_children("/p")
            children2 = pipe.get_children2("/p")
            present = pipe.exists("/p/c")
            missing = pipe.exists("/p/none")
            stat = pipe.set_data("/p", b"three", version=0)
            acl = pipe.get_acl("/p")
            acl_set = pipe.set_acl("/other", acl=list(zk.acl_for("/other")), version=0)
            synced = pipe.sync("/p")
            deleted = pipe.delete("/other")
            assert isinstance(created, Pending)
            assert await created == "/p"
            path, stat2 = await created2
            assert path == "/p/c"
            assert stat2 == await zk.exists("/p/c")
            assert (await seq).startswith("/p/s-")
            assert await container == "/box"
            assert (await ttl2)[0] == "/ttl"
            assert (await data)[0] == b"one"
            assert sorted(await children) == sorted(["c", (await seq)[3:]])
            names2, parent_stat = await children2
            assert sorted(names2) == sorted(await children)
            assert parent_stat.num_children == 2
            assert await present == stat2
            assert await missing is None
            assert (await stat).version == 1
            acl_list, _ = await acl
            assert acl_list == list(zk.acl_for("/p"))
            assert (await acl_set).aversion == 1
            assert await synced == "/p"
            await deleted
            assert deleted.result() is None
        # The same, asked of the client's methods afterwards.
        assert await zk.get_data("/p") == (b"three", await zk.exists("/p"))
        assert await zk.exists("/other") is None
        # Outcomes stay readable after the block, repeatedly.
        assert created.done
        assert created.result() == "/p"
        assert await created == "/p"


async def test_requests_are_applied_in_the_order_they_are_made(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        async with zk.pipeline() as pipe:
            pipe.create("/n", b"a")
            first = pipe.get_data("/n")
            pipe.set_data("/n", b"b")
            second = pipe.get_data("/n")
            pipe.create("/n/child")
            listing = pipe.get_children("/n")
            pipe.delete("/n/child")
            pipe.delete("/n")
            gone = pipe.exists("/n")
        assert (await first)[0] == b"a"
        assert (await second)[0] == b"b"
        assert await listing == ["child"]
        assert await gone is None


async def test_errors_come_with_their_request_and_unobserved_ones_are_raised_at_the_end(
    zk: ZooKeeper,
) -> None:
    with trio.fail_after(10):
        await zk.create("/e", b"x")
        before = zk.statistics().errors
        made: list[Pending[Any]] = []

        async def block() -> None:
            async with zk.pipeline() as pipe:
                pipe.create("/nowhere/x")
                made.append(pipe.create("/e"))
                pipe.set_data("/e", b"y", version=7)
                made.append(pipe.get_data("/e"))
                with pytest.raises(NodeExistsError):
                    await made[0]

        with pytest.raises(ExceptionGroup) as caught:
            await block()
        observed, fine = made
        # The unobserved failures, in order; not the observed one.
        no_parent, bad_version = caught.value.exceptions
        assert isinstance(no_parent, NoNodeError)
        assert "/nowhere (the parent of /nowhere/x)" in str(no_parent)
        assert isinstance(bad_version, BadVersionError)
        assert fine.result()[0] == b"x"
        with pytest.raises(NodeExistsError):
            observed.result()
        after = zk.statistics().errors
        for name in ("NoNodeError", "NodeExistsError", "BadVersionError"):
            assert after.get(name, 0) == before.get(name, 0) + 1, name


async def test_misuse_is_refused_with_a_clear_error(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        pipe = zk.pipeline()
        with pytest.raises(RuntimeError, match="inside its block"):
            pipe.exists("/")
        async with pipe:
            with pytest.raises(ValueError, match="path"):
                pipe.get_data("relative")
            with pytest.raises(TypeError):
                pipe.set_data("/x", "not bytes")  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="ttl"):
                pipe.create("/t", mode=CreateMode.PERSISTENT_WITH_TTL)
            read = pipe.exists("/")
            if not read.done:
                with pytest.raises(RuntimeError, match="no reply yet"):
                    read.result()
        with pytest.raises(RuntimeError, match="has ended"):
            pipe.exists("/")
        with pytest.raises(RuntimeError, match="entered once"):
            async with pipe:
                pass
        assert await read is not None


async def test_no_task_is_started_per_request(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/t")
        # The connection's writer task starts on the first burst; it then
        # lives as long as the connection.
        async with zk.pipeline() as pipe:
            for i in range(20):
                pipe.create(f"/t/warm{i}")
        with spawned_tasks() as spawned:
            async with zk.pipeline() as pipe:
                made = [pipe.create(f"/t/c{i}") for i in range(50)]
                listing = pipe.get_children("/t")
            for i, pending in enumerate(made):
                assert pending.result() == f"/t/c{i}"
        assert len(listing.result()) == 70
        assert spawned == []


async def test_a_block_that_raises_abandons_the_replies_to_come(zk_connect_string: str) -> None:
    recorder = RecordingFactory()
    with trio.fail_after(20):
        async with open_zookeeper(zk_connect_string, stream_factory=recorder) as zk:
            await zk.create("/a")
            made: list[Pending[str]] = []
            with pytest.raises(_Boom):
                # No checkpoint in between: most requests are still queued.
                await _create_then_raise(zk, [f"/a/c{i}" for i in range(30)], made)
            for pending in made:
                assert not pending.done
                with pytest.raises(RuntimeError, match="abandoned"):
                    pending.result()
                with pytest.raises(RuntimeError, match="abandoned"):
                    await pending
            await zk.sync()  # replies to what was written are read (and dropped) by now
            sent = [op for _, op in recorder.requests if op == 1]
            applied = await zk.get_children("/a")
            # What was queued was never sent; what was written was applied.
            assert len(sent) - 1 == len(applied) < 30
            stats = zk.statistics()
            assert (stats.pending_requests, stats.queued_requests, stats.connections) == (0, 0, 1)


async def test_a_cancelled_await_leaves_the_request_going(
    proxy_zk: tuple[FaultProxy, ZooKeeper],
) -> None:
    proxy, zk = proxy_zk
    with trio.fail_after(20):
        async with zk.pipeline() as pipe:
            proxy.pause_upstream()
            made = pipe.create("/c", b"x")
            with trio.move_on_after(0.2) as scope:
                await made
            assert scope.cancelled_caught
            assert not made.done
            proxy.pause_upstream(False)
            assert await made == "/c"
        assert await zk.get_data("/c") == (b"x", await zk.exists("/c"))


async def test_a_cancelled_block_abandons_its_written_requests_like_a_cancelled_call(
    proxy_zk: tuple[FaultProxy, ZooKeeper],
) -> None:
    proxy, zk = proxy_zk
    with trio.fail_after(20):
        proxy.pause_upstream()
        with trio.move_on_after(0.2) as scope:
            async with zk.pipeline() as pipe:
                made = pipe.create("/w", b"x")
                await trio.sleep_forever()
        assert scope.cancelled_caught
        assert zk.statistics().pending_requests == 1  # written, held in the proxy
        proxy.pause_upstream(False)
        await zk.sync()
        # It may have been applied (here it was); its reply was dropped.
        assert await zk.exists("/w") is not None
        assert zk.statistics().pending_requests == 0
        with pytest.raises(RuntimeError, match="abandoned"):
            made.result()


async def test_a_lost_connection_fails_what_was_written_and_sends_the_rest_later(
    zookeeper_server: Server, chroot: str
) -> None:
    with trio.fail_after(30):
        async with (
            through_proxy(zookeeper_server.host, zookeeper_server.port, chroot) as (proxy, zk),
            zk.session_states() as states,
        ):
            await zk.create("/l")
            async with zk.pipeline() as pipe:
                proxy.pause_upstream()
                written = pipe.get_data("/l")
                await trio.testing.wait_all_tasks_blocked()
                assert zk.statistics().pending_requests == 1
                proxy.refuse()
                await proxy.reset()
                proxy.pause_upstream(False)
                # Made while the client is disconnected: queued in order.
                later = pipe.create("/l/later")
                check = pipe.get_children("/l")
                with pytest.raises(ConnectionLossError):
                    await written
                proxy.refuse(False)
                assert await later == "/l/later"
                assert await check == ["later"]
            assert KeeperState.SYNC_CONNECTED in await reconnected(states)


async def test_pipelined_requests_are_traced_with_their_outcome(connect: Connect) -> None:
    ended: list[RequestTrace] = []

    class Recorder(Tracer):
        def request_ended(self, request: RequestTrace) -> None:
            ended.append(request)

    with trio.fail_after(10):
        async with connect(tracer=Recorder()) as zk:
            async with zk.pipeline() as pipe:
                pipe.create("/t")
                missing = pipe.get_data("/t/none")
                with pytest.raises(NoNodeError):
                    await missing
            with pytest.raises(_Boom):
                await _create_then_raise(zk, [f"/t/c{i}" for i in range(10)], [])
            await zk.sync()
    outcomes = [(r.op, r.path, r.outcome) for r in ended if r.op != "close_session"]
    assert outcomes[:2] == [("create", "/t", "ok"), ("get_data", "/t/none", "NoNodeError")]
    abandoned = [r for r in ended if r.outcome == "_Boom"]
    # Every create of the raising block ends exactly once: written ones with
    # the block's exception, too (their replies are dropped).
    assert len(abandoned) == 10
    assert all(r.duration is not None and r.duration >= 0 for r in ended)


async def test_a_long_lived_pipeline_keeps_no_reply_that_was_taken(zk: ZooKeeper) -> None:
    def live_pendings() -> int:
        gc.collect()
        return sum(1 for obj in gc.get_objects() if isinstance(obj, Pending))

    with trio.fail_after(20):
        await zk.create("/k", b"x" * 1000)
        async with zk.pipeline() as pipe:
            for _ in range(2000):
                assert (await pipe.get_data("/k"))[0] == b"x" * 1000
            # Only those made since the pipeline last dropped the taken ones.
            assert live_pendings() <= 300
            untaken = pipe.exists("/k")
        assert untaken.result() is not None


async def test_a_reply_already_here_is_taken_at_once_and_cancellation_still_applies(
    zk: ZooKeeper,
) -> None:
    ran = 0

    async def spinner() -> None:
        nonlocal ran
        while True:
            ran += 1
            await trio.lowlevel.checkpoint()

    with trio.fail_after(10):
        async with zk.pipeline() as pipe:
            created = pipe.create("/r")
            found = pipe.exists("/r")
            await created
            await zk.sync()  # the exists reply has been read by now
            assert found.done
            async with trio.open_nursery() as nursery:
                nursery.start_soon(spinner)
                await trio.lowlevel.checkpoint()  # let the spinner start
                before = ran
                assert await found is not None  # no scheduler pass: the spinner did not run
                assert ran == before
                with trio.CancelScope() as scope:
                    scope.cancel()
                    await found
                assert scope.cancelled_caught  # still a cancellation point
                assert await found is not None  # and the reply is kept
                nursery.cancel_scope.cancel()
