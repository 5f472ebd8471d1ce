"""Cancellation and pipelining against the real server.

One connection carries every request in order (FIFO). Cancelling a caller
must never desynchronise it: a request cancelled before it is written is
never sent; one cancelled after keeps its place and its reply is dropped.
"""

from __future__ import annotations

import os
import random
from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import ANY

import attrs
import pytest
import trio
import trio.testing

from trio_zookeeper import ClientInfo, CreateMode, NoNodeError, Stat, ZooKeeper, open_zookeeper
from trio_zookeeper.testing import FaultProxy, open_fault_proxy

from ._util import RecordingFactory, reconnected
from .conftest import Server

pytestmark = pytest.mark.server

WORKERS = 16
OPS_PER_WORKER = 60


@attrs.define
class _Node:
    """What one worker knows about the node it alone writes."""

    index: int
    czxid: int
    last_value: int = 0  # the last value known to be the node's
    maybe: set[int] = attrs.Factory(set)  # cancelled writes since: applied or not
    successes: int = 0
    cancelled_writes: int = 0
    last_version: int = 0
    last_seq: int = -1
    cancelled: int = 0
    completed: int = 0

    @property
    def path(self) -> str:
        return f"/w{self.index}"

    def value(self, n: int) -> bytes:
        return b"w%d:%d" % (self.index, n)

    def parse(self, data: bytes) -> int:
        name, _, number = data.partition(b":")
        assert name == b"w%d" % self.index, f"{self.path} got another node's data: {data!r}"
        return int(number)

    def check_read(self, data: bytes) -> None:
        n = self.parse(data)
        assert n == self.last_value or n in self.maybe, (
            f"{self.path}: read {n}, expected {self.last_value} or one of {sorted(self.maybe)}"
        )
        # Everything written before the read has been applied (or never will be).
        self.last_value = n
        self.maybe.clear()


def _record_write(node: _Node, n: int, stat: Stat) -> None:
    assert stat.czxid == node.czxid
    assert stat.version > node.last_version
    node.last_version = stat.version
    node.last_value = n
    node.maybe.clear()
    node.successes += 1


def _operation(
    zk: ZooKeeper, node: _Node, n: int, kind: str
) -> tuple[Callable[[Any], None], Callable[[], Awaitable[Any]]]:
    """One operation on ``node`` and the check of its result."""
    path = node.path
    if kind == "set":
        return (lambda stat: _record_write(node, n, stat)), (
            lambda: zk.set_data(path, node.value(n))
        )
    if kind == "multi-set":

        def after_multi(results: list[object]) -> None:
            assert results[0] is None
            stat = results[1]
            assert isinstance(stat, Stat)
            _record_write(node, n, stat)

        return after_multi, lambda: zk.multi().check(path, -1).set_data(path, node.value(n)).run()
    if kind == "get":

        def after_get(result: tuple[bytes, Stat]) -> None:
            data, stat = result
            assert stat.czxid == node.czxid
            assert stat.version >= node.last_version
            node.check_read(data)

        return after_get, lambda: zk.get_data(path)
    if kind == "exists":

        def after_exists(stat: Stat | None) -> None:
            assert stat is not None
            assert stat.czxid == node.czxid

        return after_exists, lambda: zk.exists(path)
    if kind == "seq":

        def after_seq(created: str) -> None:
            prefix = f"{path}/c-"
            assert created.startswith(prefix), created
            seq = int(created[len(prefix) :])
            assert seq > node.last_seq
            node.last_seq = seq

        return after_seq, lambda: zk.create(
            f"{path}/c-", node.value(n), mode=CreateMode.PERSISTENT_SEQUENTIAL
        )
    if kind == "children":

        def after_children(children: list[str]) -> None:
            assert all(c.startswith("c-") for c in children), children

        return after_children, lambda: zk.get_children(path)
    if kind == "missing":

        async def missing() -> str:
            try:
                await zk.get_data(f"{path}/missing")
            except NoNodeError as exc:
                return exc.path or ""
            return "found?"

        def after_missing(result: str) -> None:
            assert result == f"{path}/missing"

        return after_missing, missing
    assert kind == "multi-read"

    def after_read(results: list[Any]) -> None:
        (data, stat), children = results
        assert stat.czxid == node.czxid
        node.check_read(data)
        assert all(c.startswith("c-") for c in children)

    return after_read, lambda: zk.multi_read().get_data(path).get_children(path).run()


KINDS = [
    "set",
    "set",
    "multi-set",
    "get",
    "get",
    "exists",
    "seq",
    "children",
    "missing",
    "multi-read",
]
WRITES = {"set", "multi-set"}


async def test_random_cancellation_never_desynchronises_the_connection(
    zk_connect_string: str, rng: random.Random
) -> None:
    recorder = RecordingFactory()
    with trio.fail_after(60):
        async with open_zookeeper(zk_connect_string, stream_factory=recorder) as zk:
            nodes: list[_Node] = []
            for i in range(WORKERS):
                _, stat = await zk.create2(f"/w{i}", b"w%d:0" % i)
                nodes.append(_Node(index=i, czxid=stat.czxid))
            active: dict[int, trio.CancelScope] = {}
            running = WORKERS
            never_sent = 0
            setup = len(recorder.requests)

            async def worker(node: _Node, seed: int) -> None:
                nonlocal running, never_sent
                local = random.Random(seed)
                for n in range(1, OPS_PER_WORKER + 1):
                    kind = local.choice(KINDS)
                    check, call = _operation(zk, node, n, kind)
                    style = local.random()
                    with trio.CancelScope() as scope:
                        if style < 0.15:
                            scope.cancel()  # cancelled before it can be written
                            never_sent += 1
                        elif style < 0.45:
                            scope.deadline = trio.current_time() + local.uniform(0, 0.003)
                        active[id(scope)] = scope
                        try:
                            result = await call()
                        finally:
                            del active[id(scope)]
                    if scope.cancelled_caught:
                        node.cancelled += 1
                        if kind in WRITES:
                            node.maybe.add(n)
                            node.cancelled_writes += 1
                        continue
                    node.completed += 1
                    check(result)
                running -= 1

            async def killer(seed: int) -> None:
                # Cancels a random caller at random points: after a random
                # number of scheduling steps, or a random short while.
                local = random.Random(seed)
                while running:
                    if local.random() < 0.3:
                        for _ in range(local.randrange(1, 40)):
                            await trio.lowlevel.checkpoint()
                    else:
                        await trio.sleep(local.uniform(0, 0.003))
                    if active:
                        victim = local.choice(sorted(active))
                        active[victim].cancel()

            async with trio.open_nursery() as nursery:
                for node in nodes:
                    nursery.start_soon(worker, node, rng.randrange(2**32))
                nursery.start_soon(killer, rng.randrange(2**32))

            cancelled = sum(n.cancelled for n in nodes)
            completed = sum(n.completed for n in nodes)
            print(f"{completed} completed, {cancelled} cancelled")
            assert cancelled > WORKERS * OPS_PER_WORKER * 0.15
            assert completed > WORKERS * OPS_PER_WORKER * 0.15

            # The connection is intact: later replies are right, in order.
            for node in nodes:
                data, stat = await zk.get_data(node.path)
                node.check_read(data)
                assert node.successes <= stat.version
                assert stat.version <= node.successes + node.cancelled_writes
            results = await _pipelined_reads(zk, nodes)
            assert results == [node.value(node.last_value) for node in nodes] * 10
            stats = zk.statistics()
            assert stats.connections == 1
            assert len(recorder.streams) == 1
            assert (stats.pending_requests, stats.queued_requests) == (0, 0)
            assert zk.connected
            # Nothing was sent twice (a multi is one request). That requests
            # cancelled before they could be written are never sent is
            # checked on its own below (it does not hold: xfail).
            xids = [xid for xid, _ in recorder.requests]
            assert len(xids) == len(set(xids))
            final_reads = WORKERS * 11
            sent = len(xids) - setup - final_reads
            assert completed <= sent <= WORKERS * OPS_PER_WORKER
            print(f"{sent} sent; {never_sent} were cancelled before the call")


async def _pipelined_reads(zk: ZooKeeper, nodes: list[_Node]) -> list[bytes]:
    out: list[bytes] = [b""] * (len(nodes) * 10)

    async def read(slot: int, path: str) -> None:
        out[slot] = (await zk.get_data(path))[0]

    async with trio.open_nursery() as nursery:
        for slot in range(len(out)):
            nursery.start_soon(read, slot, nodes[slot % len(nodes)].path)
    return out


async def test_fifo_pipelining_of_a_thousand_mixed_requests(
    zk_connect_string: str, rng: random.Random
) -> None:
    tasks, per_task = 50, 20
    recorder = RecordingFactory()
    with trio.fail_after(60):
        async with open_zookeeper(zk_connect_string, stream_factory=recorder) as zk:
            czxids = []
            for t in range(tasks):
                _, stat = await zk.create2(f"/t{t}", b"t%d:-1" % t)
                czxids.append(stat.czxid)
            before = len(recorder.requests)
            send_order = 0
            writes: list[tuple[int, int]] = []  # (send order, zxid)
            replies = 0

            async def task(t: int, seed: int) -> None:
                nonlocal send_order, replies
                local = random.Random(seed)
                path = f"/t{t}"
                czxid = czxids[t]
                value = -1
                children: set[str] = set()
                for n in range(per_task):
                    kind = local.choice(["set", "get", "create", "children", "exists", "multi"])
                    order = send_order
                    send_order += 1  # the call below is queued before its first checkpoint
                    if kind == "set":
                        stat = await zk.set_data(path, b"t%d:%d" % (t, n))
                        value = n
                        writes.append((order, stat.mzxid))
                    elif kind == "get":
                        data, _ = await zk.get_data(path)
                        assert data == b"t%d:%d" % (t, value)
                    elif kind == "create":
                        created, stat = await zk.create2(f"{path}/c{n}", b"%d" % n)
                        assert created == f"{path}/c{n}"
                        children.add(f"c{n}")
                        writes.append((order, stat.czxid))
                    elif kind == "children":
                        assert set(await zk.get_children(path)) == children
                    elif kind == "exists":
                        found = await zk.exists(path)
                        assert found is not None
                        assert found.czxid == czxid
                    else:
                        results = await (
                            zk.multi()
                            .create(f"{path}/m{n}")
                            .set_data(path, b"t%d:%d" % (t, n))
                            .run()
                        )
                        assert results[0] == f"{path}/m{n}"
                        multi_stat = results[1]
                        assert isinstance(multi_stat, Stat)
                        value = n
                        children.add(f"m{n}")
                        writes.append((order, multi_stat.mzxid))
                    replies += 1

            async with trio.open_nursery() as nursery:
                for t in range(tasks):
                    nursery.start_soon(task, t, rng.randrange(2**32))

            assert replies == tasks * per_task == 1000
            assert len(recorder.requests) - before == 1000
            assert len(recorder.streams) == 1
            assert zk.statistics().connections == 1
            writes.sort()
            zxids = [zxid for _, zxid in writes]
            assert len(zxids) > 200
            assert zxids == sorted(zxids)
            assert len(set(zxids)) == len(zxids)


async def test_a_burst_on_a_plain_socket_is_coalesced_and_a_lone_request_written_by_its_caller(
    zk_connect_string: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No stream_factory: a plain TCP socket, where callers may write directly.
    writers: list[str] = []  # the name of the task behind each os.write
    real_write = os.write

    def recording_write(fd: int, data: bytes | bytearray | memoryview) -> int:
        writers.append(trio.lowlevel.current_task().name)
        return real_write(fd, data)

    with trio.fail_after(30):
        async with open_zookeeper(zk_connect_string) as zk:
            for i in range(20):
                await zk.create(f"/n{i}", b"%d" % i)
            me = trio.lowlevel.current_task().name
            monkeypatch.setattr(os, "write", recording_write)
            for i in range(20):
                assert await zk.get_data(f"/n{i}") == (b"%d" % i, ANY)
            sequential = writers.count(me)
            writers.clear()
            results = [b""] * 400

            async def read(slot: int) -> None:
                results[slot] = (await zk.get_data(f"/n{slot % 20}"))[0]

            async with trio.open_nursery() as nursery:
                for slot in range(len(results)):
                    nursery.start_soon(read, slot)
            burst = len(writers)
            monkeypatch.undo()
            assert zk.statistics().connections == 1
    # Each sequential request went out in its caller's own write (no hop
    # through the writer task); the 400 requests started together, in order,
    # in a few writes (the first caller's, then the writer's), not 400.
    assert sequential == 20
    assert results == [b"%d" % (slot % 20) for slot in range(400)]
    assert burst <= 4


async def test_a_burst_member_cancelled_before_it_is_written_is_never_sent(
    zk_connect_string: str,
) -> None:
    # On a plain TCP socket: the first caller of a burst writes its request
    # directly, the others queue for the writer, which runs after them. A
    # canceller started with them runs before or after them all (trio runs a
    # batch in order or reversed): what it cancels while queued is never sent.
    rounds, size = 20, 30
    coalesced = 0
    with trio.fail_after(30):
        async with open_zookeeper(zk_connect_string) as zk:
            await zk.create("/b")
            for r in range(rounds):
                written = -1

                async def create(i: int, r: int = r) -> None:
                    await zk.create(f"/b/r{r}-{i}")

                with trio.CancelScope() as scope:

                    async def cancel(scope: trio.CancelScope = scope) -> None:
                        nonlocal written, coalesced
                        stats = zk.statistics()
                        written = stats.pending_requests
                        coalesced += stats.queued_requests > 0
                        scope.cancel()

                    async with trio.open_nursery() as nursery:
                        for i in range(size):
                            nursery.start_soon(create, i)
                        nursery.start_soon(cancel)
                children = [c for c in await zk.get_children("/b") if c.startswith(f"r{r}-")]
                assert len(children) == written, (r, children, written)
            stats = zk.statistics()
            assert (stats.connections, stats.pending_requests, stats.queued_requests) == (1, 0, 0)
    assert coalesced > 0


async def test_a_call_in_an_already_cancelled_scope_is_never_sent(
    zk_connect_string: str,
) -> None:
    recorder = RecordingFactory()
    with trio.fail_after(20):
        async with open_zookeeper(zk_connect_string, stream_factory=recorder) as zk:
            await zk.create("/x")
            for i in range(40):
                async with trio.open_nursery() as nursery:
                    # Another caller's request makes the writer task runnable.
                    nursery.start_soon(zk.exists, "/x")
                    with trio.CancelScope() as scope:
                        scope.cancel()
                        await zk.create(f"/x/c{i}")
                    assert scope.cancelled_caught
            sent_creates = [op for _, op in recorder.requests if op == 1]
            applied = await zk.get_children("/x")
            assert (len(sent_creates) - 1, applied) == (0, [])


async def _cancel_once_written(
    zk: ZooKeeper,
    proxy: FaultProxy,
    call: Callable[[], Awaitable[object]],
    *,
    pending: int = 1,
) -> None:
    """Run ``call``, cancel it once its request is written (held in the proxy), release.

    ``pending``: the requests it leaves awaiting a reply (auth packets are not counted).
    """
    proxy.pause_upstream()
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await trio.testing.wait_all_tasks_blocked()
            assert zk.statistics().pending_requests == pending
            assert zk.statistics().queued_requests == 0  # written, not queued
            scope.cancel()
    proxy.pause_upstream(False)
    await zk.sync()  # the held request's reply has been read (and dropped)


async def test_cancelled_reads_after_sending_leave_no_local_watch(
    zookeeper_server: Server, chroot: str
) -> None:
    with trio.fail_after(15):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as zk,
        ):
            await zk.create("/p")

            async def follow() -> None:
                async with zk.watch_data("/p") as values:
                    await anext(values)

            for call in (
                lambda: zk.with_watcher().get_data("/p"),
                lambda: zk.with_watcher().exists("/p"),
                follow,
            ):
                await _cancel_once_written(zk, proxy, call)
                assert zk.statistics().watches == 0
            assert zk.statistics().connections == 1


async def test_cancelled_add_watch_leaves_no_watcher(zookeeper_server: Server, chroot: str) -> None:
    with trio.fail_after(15):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as zk,
        ):
            await zk.create("/p")

            async def enter() -> None:
                async with zk.add_watch("/p"):
                    raise AssertionError("the block should not be entered")

            await _cancel_once_written(zk, proxy, enter)
            await zk.set_data("/p", b"x")
            assert zk.statistics().watches == 0


async def test_cancelled_add_auth_keeps_the_identity_across_reconnects(
    zookeeper_server: Server, chroot: str
) -> None:
    with trio.fail_after(15):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as zk,
            zk.session_states() as states,
        ):
            await _cancel_once_written(zk, proxy, lambda: zk.add_auth("digest", "u:p"), pending=0)
            before = await zk.who_am_i()
            await proxy.reset()
            await reconnected(states)
            after = await zk.who_am_i()
            assert ClientInfo(auth_scheme="digest", user="u") in before
            assert after == before
