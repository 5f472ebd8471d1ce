"""Ensembles that change, on real JVMs: update_hosts, track_ensemble, rolling replacement.

The ensembles here run with dynamic reconfiguration (``ZooKeeperEnsemble(...,
dynamic=True)``) and change membership through ``reconfig``. One 3-member
ensemble is shared by the module (each test leaves it with three members);
the tracking test has its own, starting from a single member. Client random
choices (host order, rebalancing draws) are seeded per test; the seeds are
printed.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack

import pytest
import trio

from trio_zookeeper import (
    ConnectionLossError,
    CreateMode,
    EventType,
    KeeperState,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper.testing import ZooKeeperEnsemble
from trio_zookeeper.testing.pytest_plugin import require_zookeeper, requires_ensemble

from ._util import state_log

pytestmark = [requires_ensemble, pytest.mark.timeout(600)]

DEADLINE = 60.0


@pytest.fixture(scope="module")
def dynamic_ensemble() -> Iterator[ZooKeeperEnsemble]:
    """A 3-member ensemble with dynamic reconfiguration, shared by this module."""
    require_zookeeper(local=True)
    ensemble = ZooKeeperEnsemble(3, dynamic=True, tick_time=500)
    try:
        ensemble.start(120)
        yield ensemble
    finally:
        ensemble.close()


async def until(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:  # noqa: ASYNC109
    """Poll client or harness state (bounded) until ``predicate`` holds."""
    with trio.move_on_after(timeout):
        while not predicate():  # noqa: ASYNC110 - plain attributes, no event to wait on
            await trio.sleep(0.05)
        return
    raise AssertionError(f"not within {timeout}s: {what}")


def server_of(zk: ZooKeeper) -> str | None:
    return zk.statistics().server


# ============================================================ update_hosts


async def test_update_hosts_without_the_current_server_moves_the_session(
    dynamic_ensemble: ZooKeeperEnsemble, seeded_clients: Callable[[int], None]
) -> None:
    seeded_clients(1401)
    ensemble = dynamic_ensemble
    addresses = [m.connect_string for m in ensemble.members]
    async with (
        open_zookeeper(ensemble.connect_string, session_timeout=10) as zk,
        open_zookeeper(ensemble.connect_string) as other,
        state_log(zk) as states,
    ):
        await zk.create("/h7-move", b"", mode=CreateMode.EPHEMERAL)
        await other.ensure_path("/h7-watched")
        # Another session's write: zk's server may not have applied it yet
        # (ZooKeeper orders each session's own view, not across sessions).
        await zk.sync("/h7-watched")
        _, events = await zk.with_watcher().get_data("/h7-watched")
        sid = zk.session_id
        before = server_of(zk)
        assert before in addresses
        rest = [a for a in addresses if a != before]
        update = zk.update_hosts(",".join(rest))
        print(f"update_hosts: {update}")
        assert update.move
        assert update.server == before
        await until(lambda: server_of(zk) in rest and zk.connected, "connected to a listed server")
        assert zk.session_id == sid
        await other.sync("/h7-move")
        assert await other.exists("/h7-move") is not None  # the ephemeral survived
        await other.set_data("/h7-watched", b"changed")
        with trio.fail_after(DEADLINE):
            event = await events.receive()
            while event.event_type is EventType.NONE:  # DISCONNECTED / SYNC_CONNECTED first
                event = await events.receive()
        assert event.event_type is EventType.NODE_DATA_CHANGED
        assert KeeperState.EXPIRED not in states.states
        stats = zk.statistics()
        assert sorted(stats.hosts) == sorted(rest)
        assert stats.host_list_moves == 1
        await other.delete("/h7-watched")


# =============================================================== load spread


async def test_load_spreads_evenly_when_a_member_is_added(
    dynamic_ensemble: ZooKeeperEnsemble, seeded_clients: Callable[[int], None]
) -> None:
    seeded_clients(2026)
    ensemble = dynamic_ensemble
    assert ensemble.size == 3
    count = 30
    # One bound around the whole stack: a cancel scope must not end between
    # entering a client and leaving it.
    with trio.fail_after(5 * DEADLINE):
        await _load_spread(ensemble, count)
    assert ensemble.size == 3


async def _load_spread(ensemble: ZooKeeperEnsemble, count: int) -> None:
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                open_zookeeper(ensemble.connect_string, session_timeout=15)
            )
            for _ in range(count)
        ]
        sids = [zk.session_id for zk in clients]
        before = collections.Counter(server_of(zk) for zk in clients)
        added = await ensemble.add_member()
        try:
            new_hosts = ensemble.connect_string
            movers = [zk for zk in clients if zk.update_hosts(new_hosts).move]
            moved = len(movers)
            # A mover drops its connection and connects again, to the new member.
            await until(
                lambda: (
                    all(zk.connected and server_of(zk) == added.connect_string for zk in movers)
                    and all(zk.connected for zk in clients)
                ),
                "every mover reconnected",
            )
            after = collections.Counter(server_of(zk) for zk in clients)
            assert [zk.session_id for zk in clients] == sids
            print(f"\nload spread, {count} clients on 3 members: {dict(before)}")
            print(f"after adding {added.connect_string} ({moved} moved): {dict(after)}")
            assert sum(before.values()) == sum(after.values()) == count
            assert len(before) == 3
            assert all(4 <= n <= 16 for n in before.values()), before  # 10 each if even
            assert len(after) == 4
            assert all(3 <= n <= 12 for n in after.values()), after  # 7.5 each if even
            assert after[added.connect_string] == moved  # every mover went to the new one
        finally:
            for zk in clients:
                await zk.aclose()
            await ensemble.remove_member(added)


# ========================================================== track_ensemble


async def test_track_ensemble_follows_members_added_then_the_first_removed(
    seeded_clients: Callable[[int], None],
) -> None:
    seeded_clients(77)
    require_zookeeper(local=True)
    ensemble = ZooKeeperEnsemble(1, dynamic=True, tick_time=500)
    async with ensemble:
        first = ensemble.members[0]
        async with (
            open_zookeeper(first.connect_string, session_timeout=10, track_ensemble=True) as zk,
            state_log(zk) as states,
        ):
            sid = zk.session_id
            await zk.create("/h7-track", b"", mode=CreateMode.EPHEMERAL)
            assert zk.statistics().hosts == (first.connect_string,)
            second = await ensemble.add_member()
            third = await ensemble.add_member()
            wanted = {first.connect_string, second.connect_string, third.connect_string}
            await until(lambda: set(zk.statistics().hosts) == wanted, "three hosts tracked")
            await ensemble.remove_member(first)
            rest = {second.connect_string, third.connect_string}
            await until(lambda: set(zk.statistics().hosts) == rest, "the first one dropped")
            await until(
                lambda: zk.connected and server_of(zk) in rest, "connected to a remaining member"
            )
            assert zk.session_id == sid
            assert await zk.exists("/h7-track") is not None
            await zk.set_data("/h7-track", b"still here")
            assert KeeperState.EXPIRED not in states.states
            stats = zk.statistics()
            print(f"tracked updates: {stats.host_list_updates}, moves: {stats.host_list_moves}")
            assert stats.last_host_list_update is not None


# ====================================================== rolling replacement


async def test_rolling_replacement_loses_no_session_and_no_acknowledged_write(
    dynamic_ensemble: ZooKeeperEnsemble, seeded_clients: Callable[[int], None]
) -> None:
    seeded_clients(314)
    ensemble = dynamic_ensemble
    assert ensemble.size == 3
    acknowledged: list[str] = []
    unknown = 0
    done = trio.Event()
    async with (
        open_zookeeper(ensemble.connect_string, session_timeout=10, track_ensemble=True) as zk,
        state_log(zk) as states,
    ):
        sid = zk.session_id
        await zk.ensure_path("/h7-roll")

        async def workload() -> None:
            nonlocal unknown
            for i in range(5000):  # bounded; stops when the replacement is over
                if done.is_set():
                    return
                try:
                    with trio.fail_after(DEADLINE):
                        await zk.wait_connected()
                        path = await zk.create(f"/h7-roll/w{i:05d}", b"x")
                except ConnectionLossError:
                    unknown += 1  # its outcome is unknown: neither counted nor required
                    continue
                acknowledged.append(path)
                await trio.sleep(0.01)  # a steady trickle, not a flood (2 shared cores)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(workload)
            originals = list(ensemble.members)
            for member in originals:
                new = await ensemble.replace_member(member)
                print(f"replaced {member.connect_string} by {new.connect_string}")
            hosts = set(ensemble.connect_string.split(","))
            await until(lambda: set(zk.statistics().hosts) == hosts, "the new hosts tracked")
            await until(lambda: len(acknowledged) > 0 and zk.connected, "still writing")
            done.set()
        assert not set(ensemble.members) & set(originals)
        assert zk.session_id == sid
        assert KeeperState.EXPIRED not in states.states
        children = set(await zk.get_children("/h7-roll"))
        missing = [p for p in acknowledged if p.rsplit("/", 1)[1] not in children]
        print(
            f"writes acknowledged: {len(acknowledged)}, outcome unknown: {unknown},"
            f" moves: {zk.statistics().host_list_moves}"
        )
        assert not missing
        assert len(acknowledged) >= 10
        await zk.delete("/h7-roll", recursive=True)
