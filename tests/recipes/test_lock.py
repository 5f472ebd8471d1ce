"""Lock, ReadLock/WriteLock and Semaphore against a real server."""

from __future__ import annotations

import random
import types
from collections.abc import Callable, Coroutine, Generator

import pytest
import trio
import trio.testing

from trio_zookeeper import CreateMode, ZooKeeper, ZooKeeperError
from trio_zookeeper.recipes import (
    Layout,
    Lock,
    LockLostError,
    LossPolicy,
    ReadLock,
    Semaphore,
    WriteLock,
)
from trio_zookeeper.recipes._common import HoldGuard, after_first_step, held_scope
from trio_zookeeper.testing import ZooKeeperServer, open_fault_proxy, parse_wchc

from .conftest import Connect, children, hold, wait_children

pytestmark = pytest.mark.server

LOCK = "/locks/x"


@pytest.fixture(params=[Layout.KAZOO, Layout.CURATOR], ids=["kazoo", "curator"])
def layout(request: pytest.FixtureRequest) -> Layout:
    """Run the test in both node layouts."""
    return request.param  # type: ignore[no-any-return]


def count_is(n: int) -> Callable[[list[str]], bool]:
    return lambda children: len(children) == n


async def test_mutual_exclusion_many_clients(
    layout: Layout, connect: Connect, rng: random.Random
) -> None:
    holders: list[tuple[int, str]] = []  # (czxid, who) in acquisition order
    active = 0
    max_active = 0
    rounds = 3

    async def worker(zk: ZooKeeper, name: str, seed: int) -> None:
        nonlocal active, max_active
        local = random.Random(seed)
        for _ in range(rounds):
            lock = Lock(zk, LOCK, identifier=name, layout=layout)
            async with lock:
                active += 1
                max_active = max(max_active, active)
                holders.append((lock.fencing_token, name))
                # A read-modify-write under the lock, fenced: lost updates
                # would show an overlap.
                data, stat = await zk.get_data("/counter")
                await trio.sleep(local.uniform(0, 0.005))  # work, not synchronisation
                await (
                    lock.fenced().set_data("/counter", b"%d" % (int(data) + 1), stat.version).run()
                )
                active -= 1

    with trio.fail_after(30):
        async with connect() as a, connect() as b, connect() as c:
            await a.create("/counter", b"0")
            async with trio.open_nursery() as nursery:
                for i, zk in enumerate((a, b, c)):
                    for j in range(3):
                        nursery.start_soon(worker, zk, f"w{i}.{j}", rng.randrange(2**32))
            data, _ = await a.get_data("/counter")
            assert int(data) == 9 * rounds
            assert max_active == 1
            czxids = [z for z, _ in holders]
            assert czxids == sorted(czxids)
            assert len(set(czxids)) == len(czxids)
            assert await children(a, LOCK) == []


async def test_waiters_watch_only_predecessor_in_order(layout: Layout, zk: ZooKeeper) -> None:
    order: list[str] = []
    with trio.fail_after(15):
        release = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(hold, Lock(zk, LOCK, "first", layout=layout), release)

            async def waiter(name: str) -> None:
                async with Lock(zk, LOCK, name, layout=layout):
                    order.append(name)

            for i, name in enumerate(["a", "b", "c"]):
                nursery.start_soon(waiter, name)
                await wait_children(zk, LOCK, count_is(i + 2))
            assert await Lock(zk, LOCK, layout=layout).contenders() == ["first", "a", "b", "c"]
            release.set()
        assert order == ["a", "b", "c"]


async def test_waiter_whose_node_was_deleted_never_enters_on_it(
    layout: Layout, zk: ZooKeeper, connect: Connect
) -> None:
    # The waiter's only predecessor goes: it holds without listing again, but
    # it watched its own node too, so a deletion of its own node while it
    # waited is seen first (the server notifies one session in the order of
    # the changes): it queues again and enters only on its new node.
    with trio.fail_after(15):
        async with connect() as other:
            release = trio.Event()
            entered: list[tuple[str, bool, list[str]]] = []
            async with trio.open_nursery() as nursery:
                await nursery.start(hold, Lock(zk, LOCK, "first", layout=layout), release)

                async def waiter() -> None:
                    lock = Lock(other, LOCK, "second", cancel_on=LossPolicy.LOST, layout=layout)
                    async with lock:
                        assert lock.node is not None
                        name = lock.node.rsplit("/", 1)[1]
                        entered.append((name, release.is_set(), await children(zk, LOCK)))

                nursery.start_soon(waiter)
                names = await wait_children(zk, LOCK, count_is(2))
                second = max(names, key=lambda name: name[-10:])
                await zk.delete(f"{LOCK}/{second}")  # before the holder's node goes
                assert entered == []
                release.set()
            [(name, released, listing)] = entered
            assert released
            assert name != second
            assert listing == [name]
            assert await children(zk, LOCK) == []


@pytest.mark.parametrize("point", ["before-send", "in-flight", "waiting"])
async def test_cancelled_waiter_leaves_no_node(
    layout: Layout, zk: ZooKeeper, point: str, rng: random.Random
) -> None:
    with trio.fail_after(15):
        async with Lock(zk, LOCK, "holder", layout=layout) as holder:
            assert holder.node is not None
            for _ in range(5):
                waiter = Lock(zk, LOCK, "waiter", layout=layout)
                if point == "before-send":
                    with trio.move_on_after(0):
                        await waiter.__aenter__()
                elif point == "in-flight":
                    # Cancel at a random instant around the create round trip.
                    with trio.move_on_after(rng.uniform(0, 0.004)):
                        await waiter.__aenter__()
                else:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(waiter.__aenter__)
                        await wait_children(zk, LOCK, lambda c: len(c) == 2)
                        nursery.cancel_scope.cancel()
                assert not waiter.is_acquired
                names = await zk.get_children(LOCK)
                assert names == [holder.node.rsplit("/", 1)[1]]


async def test_lost_create_reply_is_recovered(
    zookeeper_server: ZooKeeperServer, chroot: str, hosts: str
) -> None:
    """Promise 34 (docs/reliability.rst): the create2 reply is lost; the GUID finds our node."""
    with trio.fail_after(20):
        async with open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy:
            from trio_zookeeper import open_zookeeper

            async with open_zookeeper(proxy.address + chroot) as zk:
                await zk.ensure_path(LOCK)
                proxy.drop_next_reply(opcode=15)  # CREATE2
                async with Lock(zk, LOCK, "me") as lock:
                    assert proxy.dropped_replies == 1
                    names = await zk.get_children(LOCK)
                    assert len(names) == 1
                    assert lock.node == f"{LOCK}/{names[0]}"
                assert await children(zk, LOCK) == []


async def test_user_exception_and_outer_cancel_pass_through(layout: Layout, zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        with pytest.raises(KeyError):
            async with Lock(zk, LOCK, layout=layout):
                raise KeyError("mine")
        with trio.move_on_after(0.05) as scope:
            async with Lock(zk, LOCK, layout=layout):
                await trio.sleep_forever()
        assert scope.cancelled_caught
        assert await children(zk, LOCK) == []


async def test_lock_node_deleted_cancels_body(
    layout: Layout, zk: ZooKeeper, connect: Connect
) -> None:
    with trio.fail_after(10):
        async with connect() as admin:
            entered = trio.Event()

            async def vandal() -> None:
                await entered.wait()
                (child,) = await admin.get_children(LOCK)
                await admin.delete(f"{LOCK}/{child}")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(vandal)
                with pytest.raises(LockLostError, match="deleted"):  # noqa: PT012 - the block under test
                    async with Lock(zk, LOCK, cancel_on=LossPolicy.LOST, layout=layout):
                        entered.set()
                        await trio.sleep_forever()
        assert issubclass(LockLostError, ZooKeeperError)


async def test_suspension_cancels_body(
    layout: Layout, zookeeper_server: ZooKeeperServer, chroot: str, hosts: str
) -> None:
    """The connection drops (RST): the body is cancelled, LockLostError, node cleaned."""
    from trio_zookeeper import open_zookeeper

    with trio.fail_after(30):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(zookeeper_server.connect_string + chroot) as observer,
        ):
            await observer.ensure_path(LOCK)
            async with open_zookeeper(proxy.address + chroot, session_timeout=8) as zk:
                session = zk.session_id
                cancelled = trio.Event()
                with pytest.raises(LockLostError, match="suspended"):  # noqa: PT012 - the block under test
                    async with Lock(zk, LOCK, "fragile", layout=layout):
                        await wait_children(observer, LOCK, lambda c: len(c) == 1)
                        try:
                            async with trio.open_nursery() as nursery:
                                nursery.start_soon(proxy.reset)
                                await trio.sleep_forever()
                        finally:
                            cancelled.set()
                assert cancelled.is_set()
                # The release waited for the same session to come back and deleted the node.
                assert zk.session_id == session
                assert await children(observer, LOCK) == []


async def test_lost_policy_survives_suspension_not_expiry(
    zookeeper_server: ZooKeeperServer, chroot: str, hosts: str
) -> None:
    from trio_zookeeper import open_zookeeper

    with trio.fail_after(30):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot, session_timeout=2) as zk,
        ):
            lock = Lock(zk, LOCK, cancel_on=LossPolicy.LOST)
            with pytest.raises(LockLostError, match="session ended"):  # noqa: PT012 - the block under test
                async with lock, zk.session_states() as states:
                    await proxy.reset()  # a short suspension: the body goes on
                    while (await states.receive()).name != "SYNC_CONNECTED":
                        pass
                    proxy.blackhole()  # silence beyond the session timeout: lost
                    await trio.sleep_forever()
            proxy.heal()
            await zk.wait_connected()
            assert await children(zk, LOCK) == []


async def test_server_pause_cancels_body() -> None:
    """SIGSTOP the (dedicated) server: the suspended holder's body is cancelled."""
    from trio_zookeeper import open_zookeeper

    with ZooKeeperServer() as server:
        with trio.fail_after(30):
            async with open_zookeeper(server.connect_string, session_timeout=4) as zk:
                with pytest.raises(LockLostError):  # noqa: PT012 - the block under test
                    async with Lock(zk, LOCK):
                        server.pause()
                        try:
                            await trio.sleep_forever()
                        finally:
                            server.resume()
                await zk.wait_connected()
                assert await children(zk, LOCK) == []


async def test_no_contender_left_after_clients_close(connect: Connect) -> None:
    """Holder and waiters of several clients; the clients close under them."""
    with trio.fail_after(15):
        async with connect() as observer:
            await observer.ensure_path(LOCK)
            clients: list[ZooKeeper] = []
            done = trio.Event()

            async def contender(i: int) -> None:
                async with connect() as zk:
                    clients.append(zk)
                    # The client is closed under the waiting/holding lock: waiters
                    # give up (ClosedResourceError), the holder loses the lock.
                    with pytest.raises((trio.ClosedResourceError, LockLostError)):
                        async with Lock(zk, LOCK, f"c{i}"):
                            await done.wait()

            async with trio.open_nursery() as nursery:
                for i in range(4):
                    nursery.start_soon(contender, i)
                await wait_children(observer, LOCK, lambda c: len(c) == 4)
                for zk in clients:
                    await zk.aclose()
            assert await children(observer, LOCK) == []


async def test_cancelled_client_scope_does_not_hang(connect: Connect) -> None:
    """The scope around the client itself is cancelled (Ctrl-C): no hang."""
    with trio.fail_after(10):
        async with connect() as observer:
            await observer.ensure_path(LOCK)
            async with trio.open_nursery() as nursery:

                async def contender(i: int) -> None:
                    async with connect(session_timeout=1.0) as zk, Lock(zk, LOCK, f"c{i}"):
                        await trio.sleep_forever()

                for i in range(3):
                    nursery.start_soon(contender, i)
                await wait_children(observer, LOCK, lambda c: len(c) == 3)
                nursery.cancel_scope.cancel()


async def test_read_write_lock(layout: Layout, zk: ZooKeeper) -> None:
    with trio.fail_after(15):
        events: list[str] = []
        release = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(hold, ReadLock(zk, LOCK, "r1", layout=layout), release)
            await nursery.start(
                hold, ReadLock(zk, LOCK, "r2", layout=layout), release
            )  # readers share

            async def writer() -> None:
                async with WriteLock(zk, LOCK, "w", layout=layout):
                    events.append("w")

            async def late_reader() -> None:
                async with ReadLock(zk, LOCK, "r3", layout=layout):
                    events.append("r3")

            nursery.start_soon(writer)
            await wait_children(zk, LOCK, lambda c: len(c) == 3)
            nursery.start_soon(late_reader)  # queued behind the writer
            await wait_children(zk, LOCK, lambda c: len(c) == 4)
            assert events == []
            release.set()
        assert events == ["w", "r3"]


async def test_semaphore(layout: Layout, connect: Connect, rng: random.Random) -> None:
    active = 0
    peak = 0
    with trio.fail_after(20):
        async with connect() as a, connect() as b:

            async def user(zk: ZooKeeper, name: str) -> None:
                nonlocal active, peak
                async with Semaphore(zk, "/sem", name, max_leases=2, layout=layout) as sem:
                    active += 1
                    peak = max(peak, active)
                    assert name in await sem.lease_holders()
                    await trio.sleep(rng.uniform(0, 0.01))  # work
                    active -= 1

            async with trio.open_nursery() as nursery:
                for i in range(6):
                    nursery.start_soon(user, (a, b)[i % 2], f"u{i}")
            assert peak == 2
            if layout is Layout.CURATOR:
                assert await children(a, "/sem/leases") == []
                assert await children(a, "/sem/locks") == []
            else:
                assert await children(a, "/sem") == []
            if layout is Layout.KAZOO:
                assert await children(a, "/sem-__lock__") == []
                with pytest.raises(ValueError, match="max_leases"):
                    async with Semaphore(a, "/sem", max_leases=3, layout=layout):
                        pass


async def test_semaphore_cancelled_waiter_leaves_nothing(zk: ZooKeeper) -> None:
    with trio.fail_after(15):
        async with Semaphore(zk, "/sem", "holder"):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(Semaphore(zk, "/sem", "waiter").__aenter__)
                await wait_children(zk, "/sem-__lock__", lambda c: len(c) == 1)
                nursery.cancel_scope.cancel()
            assert len(await zk.get_children("/sem")) == 1
            assert await children(zk, "/sem-__lock__") == []


async def test_not_reentrant(zk: ZooKeeper) -> None:
    lock = Lock(zk, LOCK)
    with trio.fail_after(10):
        async with lock:
            with pytest.raises(RuntimeError, match="re-entrant"):
                async with lock:
                    pass


async def test_no_herd_each_waiter_watches_its_two_nearest_predecessors(
    layout: Layout, connect: Connect, zookeeper_server: ZooKeeperServer, chroot: str
) -> None:
    """Ask the server which nodes each waiter's session watches: at most three, never the herd."""
    with trio.fail_after(30):
        async with connect() as holder_zk, connect() as a, connect() as b, connect() as c:
            release = trio.Event()
            async with trio.open_nursery() as nursery:
                await nursery.start(hold, Lock(holder_zk, LOCK, "h", layout=layout), release)
                for i, zk in enumerate((a, b, c)):
                    nursery.start_soon(hold, Lock(zk, LOCK, f"w{i}", layout=layout), trio.Event())
                    await wait_children(holder_zk, LOCK, count_is(i + 2))
                nodes = sorted(await holder_zk.get_children(LOCK), key=lambda n: n[-10:])
                waiters = {zk.session_id: i for i, zk in enumerate((a, b, c))}
                # Until every waiter has set its watches (the server's view).
                watched = await watched_until(
                    zookeeper_server,
                    chroot,
                    lambda w: all(
                        len(w.get(s, ())) == (2 if i == 0 else 3) for s, i in waiters.items()
                    ),
                )
                for session, paths in watched.items():
                    if session not in waiters:
                        continue
                    i = waiters[session]
                    expected = {nodes[i]}  # its predecessor
                    if i == 0:
                        # Next in line also watches its own node: it will
                        # take the lock on its predecessor's deletion alone.
                        expected.add(nodes[1])
                    else:
                        # The one below that, and its own node: it lists
                        # again when one of them changes.
                        expected |= {nodes[i - 1], nodes[i + 1]}
                    assert paths == {f"{chroot}{LOCK}/{node}" for node in expected}
                release.set()
                nursery.cancel_scope.cancel()


async def watched_until(
    server: ZooKeeperServer, chroot: str, done: Callable[[dict[int, set[str]]], bool]
) -> dict[int, set[str]]:
    """Poll the server's ``wchc`` until ``done(watches)``: lock-node paths watched, by session.

    Polling the server's own view is the only way to see its watch table;
    the caller bounds the wait.
    """
    while True:
        answer = await trio.to_thread.run_sync(server.four_letter_word, "wchc")
        watched = {
            session: {p for p in paths if p.startswith(f"{chroot}{LOCK}/")}
            for session, paths in parse_wchc(answer).items()
        }
        watched = {session: paths for session, paths in watched.items() if paths}
        if done(watched):
            return watched
        await trio.sleep(0.05)


async def third_in_line(
    nursery: trio.Nursery,
    h: ZooKeeper,
    c: ZooKeeper,
    third: Callable[[], Coroutine[object, object, None]],
    server: ZooKeeperServer,
    chroot: str,
) -> tuple[str, str, str]:
    """Once two nodes are queued, start ``third`` (a contender on ``c``).

    Returns:
        The three nodes' server paths, in queue order, once the third
        contender watches both nodes below it and its own (the server's view).
    """
    await wait_children(h, LOCK, count_is(2))
    nursery.start_soon(third)
    nodes = await wait_children(h, LOCK, count_is(3))
    hn, bn, cn = (f"{chroot}{LOCK}/{n}" for n in sorted(nodes, key=lambda n: n[-10:]))
    await watched_until(server, chroot, lambda w: w.get(c.session_id) == {hn, bn, cn})
    return hn, bn, cn


async def test_next_holder_enters_on_its_predecessor_deletion_alone(
    layout: Layout, connect: Connect, zookeeper_server: ZooKeeperServer, chroot: str
) -> None:
    """Queued behind two nodes, a waiter lists again when the lower one goes, not at handoff.

    So when its predecessor (now the holder) leaves, it enters on that
    deletion alone: no request between the release and its entry.
    """
    with trio.fail_after(30):
        async with connect() as h, connect() as b, connect() as c:
            release_h, release_b = trio.Event(), trio.Event()
            entered: list[int] = []

            async def third() -> None:
                async with Lock(c, LOCK, "c", layout=layout):
                    entered.append(c.statistics().requests)

            async with trio.open_nursery() as nursery:
                await nursery.start(hold, Lock(h, LOCK, "h", layout=layout), release_h)
                nursery.start_soon(hold, Lock(b, LOCK, "b", layout=layout), release_b)
                _, bn, cn = await third_in_line(nursery, h, c, third, zookeeper_server, chroot)
                queued = c.statistics().requests
                release_h.set()  # b enters; c lists again while b holds
                await watched_until(
                    zookeeper_server, chroot, lambda w: w.get(c.session_id) == {bn, cn}
                )
                # The listing, and nothing else: the watches on b's node and
                # its own are kept. (Polled: no event tells that c is done.)
                while True:
                    stats = c.statistics()
                    if stats.requests == queued + 1 and not stats.pending_requests:
                        break
                    await trio.sleep(0.01)
                assert entered == []
                release_b.set()
            assert entered == [queued + 1]


async def test_waiter_behind_a_leaving_waiter_still_waits_for_the_holder(
    layout: Layout, connect: Connect, zookeeper_server: ZooKeeperServer, chroot: str
) -> None:
    """The waiter between us and the holder gives up: we list again and wait for the holder."""
    with trio.fail_after(30):
        async with connect() as h, connect() as b, connect() as c:
            release_h = trio.Event()
            entered: list[bool] = []

            async def third() -> None:
                async with Lock(c, LOCK, "c", layout=layout):
                    entered.append(release_h.is_set())

            b_scope = trio.CancelScope()

            async def second() -> None:
                with b_scope:
                    await hold(Lock(b, LOCK, "b", layout=layout), trio.Event())

            async with trio.open_nursery() as nursery:
                await nursery.start(hold, Lock(h, LOCK, "h", layout=layout), release_h)
                nursery.start_soon(second)
                hn, _, cn = await third_in_line(nursery, h, c, third, zookeeper_server, chroot)
                b_scope.cancel()
                # c sees its predecessor go, lists again and waits for the holder alone.
                await watched_until(
                    zookeeper_server, chroot, lambda w: w.get(c.session_id) == {hn, cn}
                )
                assert entered == []
                release_h.set()
            assert entered == [True]
            assert await children(h, LOCK) == []


async def test_curator_semaphore_cancelled_waiter_leaves_nothing(zk: ZooKeeper) -> None:
    """The waiter holds the ``locks`` mutex with its lease node already made; cancel it."""
    with trio.fail_after(15):
        async with Semaphore(zk, "/sem", "holder", layout=Layout.CURATOR) as holder:
            async with trio.open_nursery() as nursery:
                waiter = Semaphore(zk, "/sem", "waiter", layout=Layout.CURATOR)
                nursery.start_soon(waiter.__aenter__)
                await wait_children(zk, "/sem/leases", count_is(2))  # max_leases + 1
                assert len(await zk.get_children("/sem/locks")) == 1
                nursery.cancel_scope.cancel()
            assert holder.lease is not None
            assert await zk.get_children("/sem/leases") == [holder.lease.rsplit("/", 1)[1]]
            assert await children(zk, "/sem/locks") == []
            assert sorted(await holder.lease_holders()) == ["holder"]


async def test_release_goes_out_before_the_monitor_is_torn_down(zk: ZooKeeper) -> None:
    # The holder's release (the delete the next waiter waits for) is sent as
    # soon as the body ends, not after the monitor has unwound; the monitor
    # then sees our node deleted, and that is not a loss.
    order: list[str] = []
    node = await zk.create("/held", b"", mode=CreateMode.EPHEMERAL)

    async def extra(guard: HoldGuard) -> None:
        try:
            await trio.sleep_forever()
        finally:
            order.append("monitor torn down")

    async def release() -> None:
        order.append("release sent")
        await zk.delete(node)
        order.append("release done")

    with trio.fail_after(10):
        async with held_scope(
            zk,
            session_id=zk.session_id,
            policy=LossPolicy.LOST,
            node=node,
            what="test hold",
            extra=extra,
            release=release,
        ) as guard:
            await trio.testing.wait_all_tasks_blocked()  # the monitor is running
        assert order == ["release sent", "monitor torn down", "release done"]
        assert not guard.lost
        assert await zk.exists(node) is None


async def test_release_runs_once_and_its_error_wins(zk: ZooKeeper) -> None:
    calls: list[str] = []

    async def release() -> None:
        calls.append("release")
        await trio.lowlevel.checkpoint()
        raise RuntimeError("release failed")

    with trio.fail_after(10):
        with pytest.raises(RuntimeError, match="release failed") as info:
            async with held_scope(
                zk,
                session_id=zk.session_id,
                policy=LossPolicy.LOST,
                node=None,
                what="test hold",
                release=release,
            ):
                raise KeyError("body")
    assert calls == ["release"]
    assert isinstance(info.value.__cause__, KeyError)  # not an exception group


async def test_lock_release_then_reacquire_many_times(zk: ZooKeeper) -> None:
    # Released inside the hold's scope: exactly once, and the lock is free
    # again at once (no node left, not busy).
    lock = Lock(zk, LOCK)
    inside: list[bool] = []
    after: list[tuple[bool, str | None]] = []
    with trio.fail_after(10):
        for _ in range(20):
            async with lock:
                inside.append(lock.is_acquired)
                await trio.lowlevel.checkpoint()  # the monitor starts
            after.append((lock.is_acquired, lock.node))
        assert await children(zk, LOCK) == []
    assert inside == [True] * 20
    assert after == [(False, None)] * 20


async def test_after_first_step_runs_the_hook_before_the_task_blocks() -> None:
    seen: list[str] = []
    other_ran = trio.Event()

    async def other() -> None:
        seen.append("other task")
        other_ran.set()

    async def work() -> int:
        seen.append("first step")
        await trio.lowlevel.checkpoint()
        seen.append("second step")
        await other_ran.wait()
        return 42

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(other)
            result = await after_first_step(work(), lambda: seen.append("hook"))
    assert result == 42
    assert seen[:2] == ["first step", "hook"]
    assert set(seen[2:]) == {"second step", "other task"}


async def test_after_first_step_hook_runs_once_when_the_first_step_ends_or_raises() -> None:
    hooks: list[str] = []

    async def done_at_once() -> str:
        return "done"

    async def fails_at_once() -> None:
        raise ValueError("at once")

    assert await after_first_step(done_at_once(), lambda: hooks.append("a")) == "done"
    with pytest.raises(ValueError, match="at once"):
        await after_first_step(fails_at_once(), lambda: hooks.append("b"))

    async def forever() -> None:
        await trio.sleep_forever()

    with trio.move_on_after(0.01) as scope:  # a cancellation reaches the inner coroutine
        await after_first_step(forever(), lambda: hooks.append("c"))
    assert scope.cancelled_caught
    assert hooks == ["a", "b", "c"]


def test_after_first_step_forwards_sent_values_thrown_exceptions_and_close() -> None:
    @types.coroutine
    def inner() -> Generator[str, object, object]:
        got = yield "first"
        try:
            yield f"sent {got}"
        except KeyError as exc:
            got = yield f"caught {exc.args[0]}"
        return got

    def drive() -> Coroutine[str, object, object]:
        return after_first_step(inner(), lambda: None)

    outer = drive()
    assert outer.send(None) == "first"
    assert outer.send(1) == "sent 1"
    assert outer.throw(KeyError("k")) == "caught k"
    with pytest.raises(StopIteration) as stop:
        outer.send("end")
    assert stop.value.value == "end"

    closing = drive()
    assert closing.send(None) == "first"
    closing.close()  # closes the inner coroutine too (no "never awaited" warning)


async def test_monitor_watchers_end_through_their_own_scopes(zk: ZooKeeper) -> None:
    # Stopping a running monitor cancels each watcher through its own scope:
    # they end normally, with no exception group for the monitor to build.
    node = await zk.create("/held", b"", mode=CreateMode.EPHEMERAL)

    async def extra(guard: HoldGuard) -> None:
        await trio.sleep_forever()

    with trio.fail_after(10):
        async with held_scope(
            zk,
            session_id=zk.session_id,
            policy=LossPolicy.SUSPENDED,
            node=node,
            what="test hold",
            extra=extra,
        ) as guard:
            await trio.testing.wait_all_tasks_blocked()
    assert len(guard.watchers) == 3  # session states, the node, extra
    assert all(scope.cancelled_caught for scope in guard.watchers)
    assert not guard.lost
    assert guard.failure is None
