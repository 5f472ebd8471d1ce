"""Main behaviour of each recipe other than the locks, against a real server."""

from __future__ import annotations

import datetime
import math
import random

import pytest
import trio

from trio_zookeeper import ZooKeeper
from trio_zookeeper.recipes import (
    Barrier,
    Counter,
    DoubleBarrier,
    Election,
    LeadershipLostError,
    Lease,
    LockingQueue,
    LossPolicy,
    Party,
    PersistentEphemeralNode,
    Queue,
    SetPartitioner,
    ShallowParty,
    TreeCache,
    TreeEvent,
    TreeEventType,
)
from trio_zookeeper.testing import ZooKeeperServer, open_fault_proxy

from .conftest import Connect, children, hold, wait_children

pytestmark = pytest.mark.server


async def test_election(connect: Connect) -> None:
    led: list[str] = []
    with trio.fail_after(15):
        async with connect() as a, connect() as b:
            release = trio.Event()
            async with trio.open_nursery() as nursery:
                first = Election(a, "/election", "alpha")
                await nursery.start(hold, first, release)
                assert first.is_leader

                async def second() -> None:
                    led.append(await Election(b, "/election", "beta").run(_value, "beta"))

                nursery.start_soon(second)
                await wait_children(a, "/election", lambda c: len(c) == 2)
                assert await Election(b, "/election").contenders() == ["alpha", "beta"]
                assert await Election(b, "/election").leader() == "alpha"
                release.set()
            assert led == ["beta"]
            assert await Election(a, "/election").contenders() == []


async def _value(name: str) -> str:
    await trio.lowlevel.checkpoint()
    return name


async def test_election_lost_when_node_deleted(zk: ZooKeeper, connect: Connect) -> None:
    with trio.fail_after(10):
        async with connect() as admin:
            election = Election(zk, "/election", "me", cancel_on=LossPolicy.LOST)
            with pytest.raises(LeadershipLostError, match="deleted"):  # noqa: PT012 - the block under test
                async with election:
                    (child,) = await admin.get_children("/election")
                    await admin.delete(f"/election/{child}")
                    await trio.sleep_forever()


async def test_barrier(connect: Connect) -> None:
    with trio.fail_after(10):
        async with connect() as a, connect() as b:
            barrier = Barrier(a, "/barrier")
            await barrier.create()
            passed = trio.Event()

            async def waiter() -> None:
                await Barrier(b, "/barrier").wait()
                passed.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                with trio.move_on_after(0.2):
                    await passed.wait()  # an observation window, not synchronisation
                assert not passed.is_set()
                assert await barrier.remove() is True
            assert passed.is_set()
            assert await barrier.remove() is False
            await Barrier(b, "/barrier").wait()  # no barrier: returns at once


async def test_double_barrier(connect: Connect) -> None:
    inside = 0
    peak = 0
    with trio.fail_after(15):
        async with connect() as a, connect() as b, connect() as c:

            async def member(zk: ZooKeeper, name: str) -> None:
                nonlocal inside, peak
                async with DoubleBarrier(zk, "/dbarrier", 3, identifier=name):
                    inside += 1
                    peak = max(peak, inside)
                    await trio.lowlevel.checkpoint()
                assert inside == 3  # nobody left before all three were done
                await trio.lowlevel.checkpoint()

            async with trio.open_nursery() as nursery:
                for zk, name in ((a, "a"), (b, "b"), (c, "c")):
                    nursery.start_soon(member, zk, name)
            assert peak == 3
            assert await children(a, "/dbarrier") == []


async def test_counter(connect: Connect) -> None:
    with trio.fail_after(15):
        async with connect() as a, connect() as b:
            async with trio.open_nursery() as nursery:
                for zk in (a, b, a, b):

                    async def bump(zk: ZooKeeper = zk) -> None:
                        counter = Counter(zk, "/counter")
                        for _ in range(10):
                            await counter.add(1)

                    nursery.start_soon(bump)
            counter = Counter(a, "/counter")
            assert await counter.get() == 40
            assert await counter.subtract(5) == 35
            assert (counter.pre_value, counter.post_value) == (40, 35)
            ratio = Counter(b, "/ratio", default=0.5)
            assert await ratio.add(0.25) == 0.75
            assert (await a.get_data("/ratio"))[0] == b"0.75"


async def test_counter_after_changes_elsewhere(connect: Connect) -> None:
    # A Counter writes against the version it saw last: changes by others,
    # and a deleted node, make that attempt fail and it starts again.
    with trio.fail_after(10):
        async with connect() as a, connect() as b:
            mine, theirs = Counter(a, "/stale"), Counter(b, "/stale")
            assert await mine.add(1) == 1
            assert await theirs.add(10) == 11
            assert await mine.add(1) == 12
            await b.set_data("/stale", b"100")
            assert await mine.add(1) == 101
            await b.delete("/stale")
            assert await mine.add(1) == 1
            assert (await b.get_data("/stale"))[0] == b"1"


async def test_party(connect: Connect) -> None:
    with trio.fail_after(10):
        async with connect() as a, connect() as b:
            async with Party(a, "/party", "one") as one:
                assert one.participating
                async with Party(b, "/party", "two"):
                    assert sorted(await one.members()) == ["one", "two"]
                    assert await one.count() == 2
                async with one.watch() as members:
                    assert await anext(members) == ["one"]
                    async with ShallowParty(b, "/shallow", "s1") as shallow:
                        assert await shallow.members() == ["s1"]
            assert await Party(a, "/party").members() == []


async def test_queue_items_taken_once(connect: Connect, rng: random.Random) -> None:
    got: list[bytes] = []
    with trio.fail_after(15):
        async with connect() as a, connect() as b:
            queue = Queue(a, "/queue")
            await queue.put(b"low", priority=200)
            for i in range(10):
                await queue.put(b"%d" % i)
            assert await queue.length() == 11
            assert await queue.get() == b"0"  # priority, then FIFO

            async def consumer(zk: ZooKeeper) -> None:
                q = Queue(zk, "/queue")
                while (item := await q.get_nowait()) is not None:
                    got.append(item)
                    await trio.sleep(rng.uniform(0, 0.002))

            async with trio.open_nursery() as nursery:
                for zk in (a, b, a):
                    nursery.start_soon(consumer, zk)
            assert sorted(got) == sorted([b"%d" % i for i in range(1, 10)] + [b"low"])
            assert got[-1] == b"low" or b"low" in got

            async with trio.open_nursery() as nursery:

                async def late_put() -> None:
                    await wait_children(a, "/queue", lambda c: c == [])
                    await Queue(b, "/queue").put(b"late")

                nursery.start_soon(late_put)
                assert await queue.get() == b"late"  # waits for an item


async def test_locking_queue_consumer_death(connect: Connect) -> None:
    with trio.fail_after(15):
        async with connect() as producer:
            queue = LockingQueue(producer, "/lq")
            await queue.put_all([b"a", b"b"])
            async with connect() as doomed:
                dying = LockingQueue(doomed, "/lq")
                assert await dying.get() == b"a"
                assert await dying.holds_lock()
            # The consumer died without consuming: its lock went with its session.
            async with connect() as c2:
                worker = LockingQueue(c2, "/lq")
                async with worker.take() as item:
                    assert item == b"a"
                with pytest.raises(RuntimeError):  # noqa: PT012 - the block under test
                    async with worker.take() as item:
                        assert item == b"b"
                        raise RuntimeError("processing failed: give it back")
                async with worker.take() as item:
                    assert item == b"b"
                assert await worker.length() == 0
                assert await worker.consume() is False


async def test_lease(zk: ZooKeeper) -> None:
    now = datetime.datetime(2026, 1, 1, 12, 0, 0)

    def clock() -> datetime.datetime:
        return now

    with trio.fail_after(10):
        duration = datetime.timedelta(minutes=10)
        first = Lease(zk, "/lease", duration, "a", utcnow=clock)
        assert await first.obtain()
        assert bool(first)
        assert not await Lease(zk, "/lease", duration, "b", utcnow=clock).obtain()
        assert await Lease(zk, "/lease", duration, "a", utcnow=clock).obtain()  # renewal
        now += datetime.timedelta(minutes=11)
        assert await Lease(zk, "/lease", duration, "b", utcnow=clock).obtain()  # expired
        assert await zk.get_children("/lease") == ["lease_holder"]


async def test_set_partitioner(connect: Connect) -> None:
    items = ["q1", "q2", "q3", "q4", "q5"]
    with trio.fail_after(20):
        async with connect() as a, connect() as b:
            sp_a = SetPartitioner(a, "/part", items, "a", time_boundary=0.2)
            sp_b = SetPartitioner(b, "/part", items, "b", time_boundary=0.2)
            async with sp_a, sp_b:
                shares: dict[str, list[object]] = {}
                both = trio.Event()
                done = trio.Event()

                async def work(sp: SetPartitioner, name: str) -> None:
                    async with sp.allocation() as mine:
                        shares[name] = mine
                        if len(shares) == 2:
                            both.set()
                        await done.wait()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(work, sp_a, "a")
                    nursery.start_soon(work, sp_b, "b")
                    await both.wait()
                    done.set()
                assert sorted(map(str, shares["a"] + shares["b"])) == items
                assert not set(shares["a"]) & set(shares["b"])

                # A member leaving ends the other's allocation (repartition).
                ended = trio.Event()

                async def hold_a() -> None:
                    async with sp_a.allocation() as mine:
                        assert len(mine) in (2, 3)
                        await sp_b.__aexit__(None, None, None)
                        await trio.sleep_until(math.inf)  # cancelled by the repartition
                    ended.set()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(hold_a)
                    await ended.wait()
                assert sp_a.release_reason is not None
                assert "membership" in sp_a.release_reason
                async with sp_a.allocation() as mine:
                    assert sorted(map(str, mine)) == items


async def test_persistent_ephemeral_node(
    zookeeper_server: ZooKeeperServer, chroot: str, hosts: str
) -> None:
    from trio_zookeeper import KeeperState, open_zookeeper

    with trio.fail_after(30):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(hosts) as admin,
            open_zookeeper(proxy.address + chroot, session_timeout=2) as zk,
        ):
            await admin.ensure_path("/services")
            async with PersistentEphemeralNode(zk, "/services/web", b"10.0.0.7") as node:
                assert node.path == "/services/web"
                await admin.delete("/services/web")  # someone deletes it
                await node.wait_recreated(1)
                assert (await admin.get_data("/services/web"))[0] == b"10.0.0.7"
                old_session = zk.session_id
                # Silence beyond the session timeout: the server expires the
                # session (and the node); the client starts a new one.
                async with zk.session_states() as states:
                    proxy.blackhole()
                    while await states.receive() is not KeeperState.EXPIRED:
                        pass
                await wait_children(admin, "/services", lambda c: c == [])
                proxy.heal()
                await node.wait_recreated(2)
                assert zk.session_id != old_session
                stat = await admin.exists("/services/web")
                assert stat is not None
                assert stat.ephemeral_owner == zk.session_id
            assert await admin.exists("/services/web") is None
            async with PersistentEphemeralNode(zk, "/services/seq-", b"x", sequential=True) as seq:
                assert seq.path is not None
                assert seq.path.startswith("/services/_c_")
            assert await children(admin, "/services") == []


async def _next_event(cache: TreeCache, kind: TreeEventType) -> TreeEvent:
    async for event in cache:
        if event.type is kind:
            return event
    raise AssertionError("the cache stopped")


async def test_tree_cache(connect: Connect) -> None:
    with trio.fail_after(15):
        async with connect() as admin, connect() as zk:
            await admin.create("/tree/a", b"1", makepath=True)
            async with TreeCache(zk, "/tree") as cache:
                first = await _until(cache, TreeEventType.INITIALIZED)
                assert sorted(e.path or "" for e in first) == ["/tree", "/tree/a"]
                assert cache.get_children("/tree") == ["a"]
                await admin.create("/tree/a/b", b"2")
                event = await _next_event(cache, TreeEventType.NODE_ADDED)
                assert event.path == "/tree/a/b"
                assert event.node is not None
                await admin.set_data("/tree/a", b"3")
                event = await _next_event(cache, TreeEventType.NODE_UPDATED)
                assert event.node is not None
                assert event.node.data == b"3"
                await admin.delete("/tree/a", recursive=True)
                removed = {
                    (await _next_event(cache, TreeEventType.NODE_REMOVED)).path for _ in range(2)
                }
                assert removed == {"/tree/a", "/tree/a/b"}
                assert cache.paths() == ["/tree"]


async def _until(cache: TreeCache, kind: TreeEventType) -> list[TreeEvent]:
    out: list[TreeEvent] = []
    async for event in cache:
        if event.type is kind:
            return out
        out.append(event)
    return out


async def test_tree_cache_resyncs_after_reconnect(
    zookeeper_server: ZooKeeperServer, chroot: str, hosts: str, rng: random.Random
) -> None:
    """Changes made while disconnected are not replayed; the resync finds them."""
    with trio.fail_after(30):
        async with open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy:
            from trio_zookeeper import open_zookeeper

            async with (
                open_zookeeper(hosts) as admin,
                open_zookeeper(proxy.address + chroot, session_timeout=6) as zk,
            ):
                await admin.create("/tree/a", b"1", makepath=True)
                seed = rng.randrange(2**32)
                async with TreeCache(
                    zk, "/tree", resync_jitter=0.3, rng=random.Random(seed)
                ) as cache:
                    await _until(cache, TreeEventType.INITIALIZED)
                    proxy.blackhole()
                    await _next_event(cache, TreeEventType.CONNECTION_SUSPENDED)
                    await admin.set_data("/tree/a", b"changed while away")
                    await admin.create("/tree/new", b"n")
                    proxy.heal()
                    await _next_event(cache, TreeEventType.CONNECTION_RECONNECTED)
                    await _next_event(cache, TreeEventType.RESYNCED)
                    a = cache.get_data("/tree/a")
                    assert a is not None
                    assert a.data == b"changed while away"
                    assert cache.get_children("/tree") == ["a", "new"]
                    assert cache.resyncs == 1
