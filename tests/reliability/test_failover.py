"""Failover on a real 3-member ensemble, each link through a fault proxy.

Session timeout 4 s (tickTime 500): readTimeout 2.67 s, connectTimeout
1.33 s per host, pings every 1.33 s. Bounds follow docs/reliability.rst, "The test harness":
reconnect within readTimeout + sum(connectTimeout) + 1 s + election slack,
expiry observed within 1.5 x timeout + 1 s. Measured times are printed
(``MEASURED ...``; run with ``-s`` to see them).
"""

from __future__ import annotations

import pytest
import trio

from trio_zookeeper import (
    ConnectionLossError,
    CreateMode,
    EventType,
    KeeperState,
    Retry,
    SessionExpiredError,
    WatchedEvent,
    WatchEvents,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper.testing import FaultProxy, ZooKeeperEnsemble, expire_session

from ._util import (
    FAILOVER_BOUND,
    READ_TIMEOUT,
    SESSION_TIMEOUT,
    SLACK,
    chroot_on,
    connect_string,
    heal_all,
    measured,
    open_proxies,
    proxy_index,
    state_log,
)

pytestmark = [pytest.mark.ensemble, pytest.mark.timeout(120)]


def followers_first(ensemble: ZooKeeperEnsemble, proxies: list[FaultProxy]) -> list[FaultProxy]:
    leader = ensemble.leader()
    return [p for i, p in enumerate(proxies) if i != leader] + [proxies[leader]]


async def drain(events: WatchEvents, window: float) -> list[WatchedEvent]:
    """Every event delivered within ``window`` seconds (or until the channel ends)."""
    out: list[WatchedEvent] = []
    with trio.move_on_after(window):
        async for event in events:
            out.append(event)
    return out


def node_events(events: list[WatchedEvent]) -> list[EventType]:
    return [e.event_type for e in events if e.event_type is not EventType.NONE]


async def test_sigkill_of_the_connected_member_resumes_the_session_elsewhere(
    ensemble: ZooKeeperEnsemble,
) -> None:
    async with (
        open_proxies(ensemble.members) as proxies,
        chroot_on(ensemble.connect_string) as root,
    ):
        ordered = followers_first(ensemble, proxies)
        async with (
            open_zookeeper(
                connect_string(ordered, root),
                session_timeout=SESSION_TIMEOUT,
                randomize_hosts=False,
            ) as zk,
            state_log(zk) as states,
        ):
            sid = zk.session_id
            await zk.create("/eph", b"", mode=CreateMode.EPHEMERAL)
            victim = proxy_index(zk, proxies)
            assert victim != ensemble.leader()
            t_kill = trio.current_time()
            ensemble.members[victim].kill()
            with trio.fail_after(FAILOVER_BOUND):
                t_disc = await states.wait_for(KeeperState.DISCONNECTED)
                t_back = await states.wait_for(KeeperState.SYNC_CONNECTED, after=t_disc)
            measured("sigkill follower: disconnect noticed", t_disc - t_kill)
            measured("sigkill follower: back on another member", t_back - t_kill)
            assert zk.session_id == sid
            assert proxy_index(zk, proxies) != victim
            assert await zk.exists("/eph") is not None  # same session: ephemeral intact
            assert states.states == [KeeperState.DISCONNECTED, KeeperState.SYNC_CONNECTED]


async def test_sigstop_of_the_connected_member_is_noticed_within_read_timeout(
    ensemble: ZooKeeperEnsemble,
) -> None:
    async with (
        open_proxies(ensemble.members) as proxies,
        chroot_on(ensemble.connect_string) as root,
    ):
        ordered = followers_first(ensemble, proxies)
        async with (
            open_zookeeper(
                connect_string(ordered, root),
                session_timeout=SESSION_TIMEOUT,
                randomize_hosts=False,
            ) as zk,
            state_log(zk) as states,
        ):
            sid = zk.session_id
            victim = proxy_index(zk, proxies)
            t_pause = trio.current_time()
            ensemble.members[victim].pause()
            with trio.fail_after(FAILOVER_BOUND):
                t_disc = await states.wait_for(KeeperState.DISCONNECTED)
                t_back = await states.wait_for(KeeperState.SYNC_CONNECTED, after=t_disc)
            measured("sigstop follower: silence detected", t_disc - t_pause)
            measured("sigstop follower: back on another member", t_back - t_pause)
            assert t_disc - t_pause <= READ_TIMEOUT + SLACK
            assert zk.session_id == sid
            assert proxy_index(zk, proxies) != victim
            await zk.create("/after-pause", b"")


async def test_killing_the_leader_the_client_keeps_working_after_the_election(
    ensemble: ZooKeeperEnsemble,
) -> None:
    async with (
        open_proxies(ensemble.members) as proxies,
        chroot_on(ensemble.connect_string) as root,
    ):
        leader = ensemble.leader()
        on_leader = [proxies[leader]] + [p for i, p in enumerate(proxies) if i != leader]
        on_follower = followers_first(ensemble, proxies)
        async with (
            open_zookeeper(
                connect_string(on_leader, root),
                session_timeout=SESSION_TIMEOUT,
                randomize_hosts=False,
            ) as zk_leader,
            open_zookeeper(
                connect_string(on_follower, root),
                session_timeout=SESSION_TIMEOUT,
                randomize_hosts=False,
            ) as zk_follower,
        ):
            assert proxy_index(zk_leader, proxies) == leader
            await zk_leader.create("/k", b"0")
            sids = (zk_leader.session_id, zk_follower.session_id)
            retry = Retry(max_tries=None, delay=0.05, max_delay=0.5)
            recovered: dict[str, float] = {}

            async def writer(name: str, zk: ZooKeeper, t_kill: float) -> None:
                with trio.fail_after(FAILOVER_BOUND):
                    await retry(zk.set_data, "/k", name.encode())  # blind write: idempotent
                recovered[name] = trio.current_time() - t_kill

            t_kill = trio.current_time()
            ensemble.members[leader].kill()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer, "via-old-leader", zk_leader, t_kill)
                nursery.start_soon(writer, "via-follower", zk_follower, t_kill)
            for name, seconds in recovered.items():
                measured(f"leader kill: first write {name}", seconds)
            assert (zk_leader.session_id, zk_follower.session_id) == sids
            assert ensemble.leader() != leader
            for zk in (zk_leader, zk_follower):
                await zk.sync("/")
                data, _ = await zk.get_data("/k")
                assert data in (b"via-old-leader", b"via-follower")


async def test_blackholing_every_link_past_the_timeout_expires_loudly_then_a_new_session(
    ensemble: ZooKeeperEnsemble,
) -> None:
    timeout = 2.0
    async with (
        open_proxies(ensemble.members) as proxies,
        chroot_on(ensemble.connect_string) as root,
        open_zookeeper(ensemble.connect_string + root) as observer,
        open_zookeeper(connect_string(proxies, root), session_timeout=timeout) as zk,
        state_log(zk) as states,
    ):
        sid = zk.session_id
        await zk.create("/eph", b"", mode=CreateMode.EPHEMERAL)
        _, data_watch = await zk.with_watcher().get_data("/eph")
        await observer.sync("/eph")  # another session's write: let its server catch up
        _, gone = await observer.with_watcher().exists("/eph")
        queued_outcome: list[BaseException] = []

        async def queued_read() -> None:
            try:
                await zk.get_data("/eph")
            except (SessionExpiredError, ConnectionLossError) as exc:
                queued_outcome.append(exc)

        t_cut = trio.current_time()
        for proxy in proxies:
            proxy.blackhole()
        async with trio.open_nursery() as nursery:
            with trio.fail_after(1.5 * timeout + 1 + SLACK):
                t_disc = await states.wait_for(KeeperState.DISCONNECTED)
                nursery.start_soon(queued_read)
                t_exp = await states.wait_for(KeeperState.EXPIRED)
        measured("blackhole: disconnect detected", t_disc - t_cut)
        measured("blackhole: expiry suspected", t_exp - t_cut)
        assert t_exp - t_cut >= timeout  # never before the server could have expired it
        assert isinstance(queued_outcome[0], SessionExpiredError)
        with trio.fail_after(1):
            events = [e async for e in data_watch]
        assert events[-1].keeper_state is KeeperState.EXPIRED
        # Wait past the server's own expiry, then heal.
        await trio.sleep_until(t_cut + 1.5 * timeout + 0.5)
        await heal_all(proxies)
        with trio.fail_after(FAILOVER_BOUND):
            t_new = await states.wait_for(KeeperState.SYNC_CONNECTED)
        measured("blackhole: new session after heal", t_new - t_cut)
        assert zk.session_id not in (0, sid)
        assert states.states[:4] == [
            KeeperState.DISCONNECTED,
            KeeperState.EXPIRED,
            KeeperState.DISCONNECTED,
            KeeperState.SYNC_CONNECTED,
        ]
        with trio.fail_after(5):
            event = await gone.receive()  # the server deleted the old ephemeral
        assert event.event_type is EventType.NODE_DELETED
        assert await zk.exists("/eph") is None
        await zk.create("/eph", b"", mode=CreateMode.EPHEMERAL)


async def test_genuine_expiry_with_watches_and_ephemerals(ensemble: ZooKeeperEnsemble) -> None:
    async with (
        open_proxies(ensemble.members) as proxies,
        chroot_on(ensemble.connect_string) as root,
        open_zookeeper(ensemble.connect_string + root) as observer,
        open_zookeeper(connect_string(proxies, root), session_timeout=SESSION_TIMEOUT) as zk,
        state_log(zk) as states,
    ):
        sid = zk.session_id
        await zk.create("/dir", b"")
        await zk.create("/dir/eph", b"", mode=CreateMode.EPHEMERAL)
        await zk.create("/data", b"")
        _, data_watch = await zk.with_watcher().get_data("/data")
        _, child_watch = await zk.with_watcher().get_children("/dir")
        _, exists_watch = await zk.with_watcher().exists("/nothing")
        await observer.sync("/dir/eph")  # another session's write: let its server catch up
        _, seen_by_other = await observer.with_watcher().exists("/dir/eph")
        async with zk.add_watch("/data") as persistent:
            victim = proxy_index(zk, proxies)
            other = ensemble.members[(victim + 1) % 3]
            # a request in flight when the session goes: it must end too
            proxies[victim].pause_upstream()
            outcome: list[BaseException] = []

            async def in_flight() -> None:
                try:
                    await zk.get_data("/data")
                except (ConnectionLossError, SessionExpiredError) as exc:
                    outcome.append(exc)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(in_flight)
                await trio.sleep(0.05)
                t0 = trio.current_time()
                with trio.fail_after(FAILOVER_BOUND):
                    await expire_session(zk, via=other.connect_string)
                proxies[victim].heal()
            measured("expire_session: expiry reported", trio.current_time() - t0)
            assert len(outcome) == 1
            for watch in (data_watch, child_watch, exists_watch):
                with trio.fail_after(2):
                    events = [e async for e in watch]
                assert not watch.active  # every watch ended: nobody waits forever
                if watch is child_watch and events[-1].event_type is not EventType.NONE:
                    # The old connection may still be open on its member when
                    # closeSession deletes the ephemeral child, and its watch
                    # fires there first (a takeover via another member does not
                    # close it at once): a genuine event, delivered once.
                    assert events[-1].event_type is EventType.NODE_CHILDREN_CHANGED
                else:
                    assert events[-1].keeper_state is KeeperState.EXPIRED
            with trio.fail_after(2):
                last = [e async for e in persistent][-1]
            assert last.keeper_state is KeeperState.EXPIRED
        with trio.fail_after(2):
            deleted = await seen_by_other.receive()
        assert deleted.event_type is EventType.NODE_DELETED
        with trio.fail_after(FAILOVER_BOUND):
            await zk.wait_connected()
        assert zk.session_id not in (0, sid)
        assert states.states[:2] == [KeeperState.DISCONNECTED, KeeperState.EXPIRED]
        assert zk.statistics().watches == 0
        assert await zk.exists("/dir/eph") is None
        await zk.create("/dir/eph", b"", mode=CreateMode.EPHEMERAL)


async def test_watches_survive_a_reconnect_and_fire_exactly_once(
    ensemble: ZooKeeperEnsemble,
) -> None:
    async with (
        open_proxies(ensemble.members) as proxies,
        chroot_on(ensemble.connect_string) as root,
        open_zookeeper(ensemble.connect_string + root) as writer,
        open_zookeeper(connect_string(proxies, root), session_timeout=SESSION_TIMEOUT) as zk,
        state_log(zk) as states,
    ):
        sid = zk.session_id
        for path in ("/changed", "/deleted", "/parent", "/untouched"):
            await writer.create(path, b"v0")
        await zk.sync("/")  # another session's writes: let zk's server catch up
        _, w_changed = await zk.with_watcher().get_data("/changed")
        _, w_deleted = await zk.with_watcher().get_data("/deleted")
        _, w_created = await zk.with_watcher().exists("/created")
        _, w_children = await zk.with_watcher().get_children("/parent")
        _, w_untouched = await zk.with_watcher().get_data("/untouched")
        async with zk.add_watch("/changed") as persistent:
            for proxy in proxies:
                proxy.blackhole()
            with trio.fail_after(READ_TIMEOUT + SLACK + 1):
                t_disc = await states.wait_for(KeeperState.DISCONNECTED)
            # changes while the client is disconnected
            await writer.set_data("/changed", b"v1")
            await writer.delete("/deleted")
            await writer.create("/created", b"")
            await writer.create("/parent/child", b"")
            await heal_all(proxies)
            with trio.fail_after(SESSION_TIMEOUT):
                await states.wait_for(KeeperState.SYNC_CONNECTED, after=t_disc)
            assert zk.session_id == sid
            window = 1.0
            assert node_events(await drain(w_changed, window)) == [EventType.NODE_DATA_CHANGED]
            assert node_events(await drain(w_deleted, window)) == [EventType.NODE_DELETED]
            assert node_events(await drain(w_created, window)) == [EventType.NODE_CREATED]
            assert node_events(await drain(w_children, window)) == [EventType.NODE_CHILDREN_CHANGED]
            untouched = await drain(w_untouched, 0.2)
            assert node_events(untouched) == []
            assert [e.keeper_state for e in untouched][:2] == [
                KeeperState.DISCONNECTED,
                KeeperState.SYNC_CONNECTED,
            ]
            # persistent: re-added, told to re-read (missed events are not replayed)
            events = await drain(persistent, 0.3)
            assert [e.keeper_state for e in events if e.event_type is EventType.NONE][:2] == [
                KeeperState.DISCONNECTED,
                KeeperState.SYNC_CONNECTED,
            ]
            await writer.set_data("/changed", b"v2")
            with trio.fail_after(5):
                while True:
                    event = await persistent.receive()
                    if event.event_type is not EventType.NONE:
                        break
            assert event.event_type is EventType.NODE_DATA_CHANGED
            # the one-shot watch on /untouched is still armed on the new server
            await writer.set_data("/untouched", b"v1")
            assert node_events(await drain(w_untouched, 2.0)) == [EventType.NODE_DATA_CHANGED]
