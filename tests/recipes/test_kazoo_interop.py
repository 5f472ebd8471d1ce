"""Our recipes and kazoo 2.11's on the same paths, same server, both directions.

kazoo's threaded client runs its blocking calls in worker threads
(``trio.to_thread.run_sync``); every kazoo wait has its own timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
from kazoo.client import KazooClient

from trio_zookeeper import ZooKeeper
from trio_zookeeper.recipes import (
    Barrier,
    Counter,
    Election,
    Lock,
    Party,
    ReadLock,
    Semaphore,
    WriteLock,
)

from .conftest import children, hold, wait_children

pytestmark = pytest.mark.server

LOCK = "/locks/shared"


async def run(fn: Callable[..., Any], *args: object) -> Any:
    return await trio.to_thread.run_sync(fn, *args)


async def test_lock_kazoo_holds_we_wait(zk: ZooKeeper, kazoo: KazooClient) -> None:
    with trio.fail_after(20):
        kz_lock = kazoo.Lock(LOCK, "kazoo")
        assert await run(kz_lock.acquire, True, 5)
        acquired = trio.Event()

        async def ours() -> None:
            async with Lock(zk, LOCK, "trio"):
                acquired.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ours)
            await wait_children(zk, LOCK, lambda c: len(c) == 2)
            assert await run(kz_lock.contenders) == ["kazoo", "trio"]
            assert await Lock(zk, LOCK).contenders() == ["kazoo", "trio"]
            assert not acquired.is_set()
            await run(kz_lock.release)
        assert acquired.is_set()


async def test_lock_we_hold_kazoo_waits(zk: ZooKeeper, kazoo: KazooClient) -> None:
    with trio.fail_after(20):
        kz_lock = kazoo.Lock(LOCK, "kazoo")
        release = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(hold, Lock(zk, LOCK, "trio"), release)
            assert await run(kz_lock.acquire, False) is False
            kz_result: list[object] = []

            async def kazoo_waits() -> None:
                kz_result.append(await run(kz_lock.acquire, True, 10))

            nursery.start_soon(kazoo_waits)
            await wait_children(zk, LOCK, lambda c: len(c) == 2)
            assert kz_result == []
            release.set()
        assert kz_result == [True]
        await run(kz_lock.release)
        assert await children(zk, LOCK) == []


async def test_read_write_locks(zk: ZooKeeper, kazoo: KazooClient) -> None:
    with trio.fail_after(20):
        release = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(hold, ReadLock(zk, LOCK, "trio-reader"), release)
            kz_read = kazoo.ReadLock(LOCK, "kazoo-reader")
            assert await run(kz_read.acquire, False) is True  # readers share
            kz_write = kazoo.WriteLock(LOCK, "kazoo-writer")
            assert await run(kz_write.acquire, False) is False  # excluded by both readers
            await run(kz_read.release)
            release.set()
        # kazoo writes; our reader and writer wait for it.
        kz_write = kazoo.WriteLock(LOCK, "kazoo-writer")
        assert await run(kz_write.acquire, True, 5)
        order: list[str] = []
        async with trio.open_nursery() as nursery:

            async def reader() -> None:
                async with ReadLock(zk, LOCK, "r"):
                    order.append("r")

            async def writer() -> None:
                async with WriteLock(zk, LOCK, "w"):
                    order.append("w")

            nursery.start_soon(reader)
            await wait_children(zk, LOCK, lambda c: len(c) == 2)
            nursery.start_soon(writer)
            await wait_children(zk, LOCK, lambda c: len(c) == 3)
            assert order == []
            await run(kz_write.release)
        assert order == ["r", "w"]


async def test_semaphore(zk: ZooKeeper, kazoo: KazooClient) -> None:
    with trio.fail_after(20):
        release = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(hold, Semaphore(zk, "/sem", "t1", max_leases=2), release)
            await nursery.start(hold, Semaphore(zk, "/sem", "t2", max_leases=2), release)
            kz_sem = kazoo.Semaphore("/sem", "k1", max_leases=2)
            assert await run(kz_sem.acquire, False) is False  # both leases are ours
            assert sorted(await run(kz_sem.lease_holders)) == ["t1", "t2"]
            release.set()
        assert await run(kz_sem.acquire, True, 5) is True
        kz_sem2 = kazoo.Semaphore("/sem", "k2", max_leases=2)
        assert await run(kz_sem2.acquire, True, 5) is True
        got = trio.Event()

        async def ours() -> None:
            async with Semaphore(zk, "/sem", "t3", max_leases=2) as sem:
                assert "t3" in await sem.lease_holders()
                got.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ours)
            await wait_children(zk, "/sem-__lock__", lambda c: len(c) == 1)
            assert not got.is_set()
            await run(kz_sem.release)
        assert got.is_set()
        await run(kz_sem2.release)
        assert await children(zk, "/sem") == []


async def test_election(zk: ZooKeeper, kazoo: KazooClient) -> None:
    with trio.fail_after(20):
        kz_election = kazoo.Election("/election", "kazoo")
        led: list[str] = []
        release = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(hold, Election(zk, "/election", "trio"), release)

            def kazoo_contend() -> None:
                kz_election.run(led.append, "kazoo led")

            nursery.start_soon(run, kazoo_contend)
            await wait_children(zk, "/election", lambda c: len(c) == 2)
            assert await run(kz_election.contenders) == ["trio", "kazoo"]
            assert await Election(zk, "/election").contenders() == ["trio", "kazoo"]
            assert led == []
            release.set()
        assert led == ["kazoo led"]
        # kazoo leads while we wait.
        kz_lock = kazoo.Lock("/election", "kazoo")  # what kazoo's Election holds
        assert await run(kz_lock.acquire, True, 5)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(Election(zk, "/election", "trio").run, trio.lowlevel.checkpoint)
            await wait_children(zk, "/election", lambda c: len(c) == 2)
            assert await Election(zk, "/election").leader() == "kazoo"
            await run(kz_lock.release)


async def test_counter(zk: ZooKeeper, kazoo: KazooClient) -> None:
    with trio.fail_after(20):
        kz_counter = kazoo.Counter("/counter")

        def kazoo_add(n: int) -> object:
            kz_counter.__add__(n)
            return kz_counter.value

        assert await run(kazoo_add, 5) == 5
        ours = Counter(zk, "/counter")
        assert await ours.add(3) == 8
        assert await run(lambda: kz_counter.value) == 8
        kz_float = kazoo.Counter("/float", default=1.5)
        await run(kz_float.__add__, 1.0)
        assert await Counter(zk, "/float", default=0.0).add(0.25) == 2.75
        assert await run(lambda: kz_float.value) == 2.75


async def test_barrier(zk: ZooKeeper, kazoo: KazooClient) -> None:
    with trio.fail_after(20):
        kz_barrier = kazoo.Barrier("/barrier")
        await run(kz_barrier.create)
        passed = trio.Event()

        async def ours() -> None:
            await Barrier(zk, "/barrier").wait()
            passed.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ours)
            assert await run(kz_barrier.wait, 0.1) is False
            assert not passed.is_set()
            assert await run(kz_barrier.remove) is True
        assert passed.is_set()
        ours_barrier = Barrier(zk, "/barrier")
        await ours_barrier.create()
        assert await run(kz_barrier.wait, 0.1) is False
        async with trio.open_nursery() as nursery:
            waited: list[object] = []

            async def kazoo_waits() -> None:
                waited.append(await run(kz_barrier.wait, 10))

            nursery.start_soon(kazoo_waits)
            assert await ours_barrier.remove()
        assert waited == [True]


async def test_party(zk: ZooKeeper, kazoo: KazooClient) -> None:
    with trio.fail_after(20):
        kz_party = kazoo.Party("/party", "kazoo")
        await run(kz_party.join)
        async with Party(zk, "/party", "trio") as party:
            assert sorted(await party.members()) == ["kazoo", "trio"]
            assert sorted(await run(lambda: list(kz_party))) == ["kazoo", "trio"]
            assert await run(len, kz_party) == 2
        assert await run(lambda: list(kz_party)) == ["kazoo"]
        kz_shallow = kazoo.ShallowParty("/shallow", "kazoo")
        await run(kz_shallow.join)
        async with Party(zk, "/party2", "x"):
            pass
        from trio_zookeeper.recipes import ShallowParty

        async with ShallowParty(zk, "/shallow", "trio") as shallow:
            assert sorted(await shallow.members()) == ["kazoo", "trio"]
            assert sorted(await run(lambda: list(kz_shallow))) == ["kazoo", "trio"]
        await run(kz_party.leave)
        await run(kz_shallow.leave)
