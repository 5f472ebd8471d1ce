"""Host list changes and the reconnect backoff against the fake server, on trio's clock.

Timing only (the fake server stands in for every host name): the pauses of
the :class:`~trio_zookeeper.Backoff` policy, expiry suspicion on time despite
them, and what ``update_hosts`` does to the connection. The same behaviour on
real ensembles is in tests/reliability/test_ensembles.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import trio
import trio.testing

from trio_zookeeper import Backoff, KeeperState, ZooKeeper, open_zookeeper
from trio_zookeeper.testing._fake import FakeZooKeeper

from .test_fake_timing import Attempts, watching_states

pytestmark = pytest.mark.timeout(60)


def client(fake: FakeZooKeeper, hosts: str, **kw: Any) -> Any:
    kw.setdefault("stream_factory", fake.connect)
    return open_zookeeper(hosts, **kw)


async def gaps_while_down(fake: FakeZooKeeper, attempts: Attempts, seconds: float) -> list[float]:
    """Refuse every connection, drop the current one, wait; the gaps between attempts."""
    fake.refuse = True
    before = len(attempts.log)
    await fake.current.close()
    await trio.sleep(seconds)
    return [b - a for a, b in itertools.pairwise(attempts.times[before:])]


async def back_up(fake: FakeZooKeeper, zk: ZooKeeper, within: float) -> None:
    """Accept connections again; the client must be back within ``within`` seconds."""
    fake.refuse = False
    with trio.fail_after(within):
        await zk.wait_connected()


async def test_round_pauses_grow_exponentially_up_to_the_cap(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    attempts = Attempts(fake)
    policy = Backoff(initial=1.0, factor=2.0, maximum=8.0, jitter=0.0, attempt_jitter=0.0)
    async with client(
        fake, "a:1", stream_factory=attempts, session_timeout=60, reconnect_backoff=policy
    ) as zk:
        gaps = [round(g, 6) for g in await gaps_while_down(fake, attempts, 40)]
        assert zk.state is KeeperState.DISCONNECTED  # 40 s is well inside 4/3 of 60 s
        # one host: every attempt is a round; 1, 2, 4, 8 and then 8 s (the cap)
        assert gaps[:6] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0], gaps
        await back_up(fake, zk, within=9)  # the next round: at most 8 s away


async def test_default_backoff_is_jittered_and_grows(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    attempts = Attempts(fake)
    async with client(fake, "a:1", stream_factory=attempts, session_timeout=60) as zk:
        gaps = await gaps_while_down(fake, attempts, 75)
        # Backoff(): round pause in [d/2, d] for d = 1, 2, 4, 8, 16, 16 (capped
        # at 60/3 = 20 s while the session lives), plus 0-1 s before the attempt.
        for n, gap in enumerate(gaps[:6]):
            full = min(2.0**n, 16.0)
            assert full / 2 - 1e-6 <= gap <= full + 1.0 + 1e-6, (n, gaps)
        assert gaps[4] > gaps[0] * 4  # really growing
        assert len({round(g, 6) for g in gaps}) == len(gaps)  # jittered
        await back_up(fake, zk, within=18)  # at most 16 s + 1 s away


async def test_expiry_suspicion_fires_on_time_whatever_the_backoff(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    attempts = Attempts(fake)
    # Pauses far longer than the session: they are cut at the suspicion deadline.
    policy = Backoff(initial=30.0, factor=2.0, maximum=100.0, jitter=0.0, attempt_jitter=0.0)
    async with (
        client(
            fake, "a:1,b:2", stream_factory=attempts, session_timeout=6, reconnect_backoff=policy
        ) as zk,
        watching_states(zk) as states,
    ):
        fake.refuse = True
        await fake.current.close()
        t_disc = await states.wait_for(KeeperState.DISCONNECTED)
        last_recv = zk._session.last_recv
        t_exp = await states.wait_for(KeeperState.EXPIRED)
        assert t_exp - last_recv == pytest.approx(8.0)  # 4/3 of 6 s, on time
        during = [t for t in attempts.times if t_disc <= t < t_exp]
        # While the session lives a round pause is at most a third of the timeout.
        assert all(round(b - a, 6) <= 2.0 for a, b in itertools.pairwise(during)), during
        # Without a session the policy alone decides: the failed rounds go on
        # counting, so the pauses are at the policy's cap (100 s) at once.
        await trio.sleep(250)
        after = [t for t in attempts.times if t >= t_exp]
        gaps = [round(b - a, 6) for a, b in itertools.pairwise(after)]
        round_gaps = [g for g in gaps if g > 0]  # no pause between the 2 hosts of a round
        assert round_gaps == [100.0, 100.0], gaps


async def test_update_hosts_without_the_current_server_moves_and_keeps_the_session(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    attempts = Attempts(fake)
    async with client(fake, "a:1", stream_factory=attempts) as zk:
        sid = zk.session_id
        assert zk.statistics().server == "a:1"
        update = zk.update_hosts("b:2,c:3")
        assert update.move
        assert update.server == "a:1"
        assert "no longer listed" in update.reason
        with trio.fail_after(5):
            await trio.sleep(0.001)
            await zk.wait_connected()
        stats = zk.statistics()
        assert stats.server in {"b:2", "c:3"}
        assert zk.session_id == sid
        assert sorted(stats.hosts) == ["b:2", "c:3"]
        assert stats.host_list_updates == 1
        assert stats.host_list_moves == 1
        assert stats.last_host_list_update == update
        # A list that keeps the server and does not grow changes nothing.
        current = stats.server
        again = zk.update_hosts(current)
        assert not again.move
        assert zk.statistics().server == current
        assert zk.statistics().host_list_moves == 1


async def test_update_hosts_checks_its_input(fake: FakeZooKeeper) -> None:
    async with client(fake, "a:1/app") as zk:
        with pytest.raises(ValueError, match="chroot"):
            zk.update_hosts("b:2/other")
        with pytest.raises(ValueError, match="chroot"):
            zk.update_hosts("b:2")
        with pytest.raises(ValueError, match="bad port"):
            zk.update_hosts("b:x/app")
        assert not zk.update_hosts("a:1/app").move
    with pytest.raises(trio.ClosedResourceError):
        zk.update_hosts("a:1/app")


async def test_reconnect_backoff_must_be_a_backoff(fake: FakeZooKeeper) -> None:
    with pytest.raises(TypeError, match="reconnect_backoff must be a Backoff"):
        async with client(fake, "a:1", reconnect_backoff=1.0):
            pass


class Refusing:
    """A stream factory that refuses the hosts in :attr:`down` and records every attempt."""

    def __init__(self, fake: FakeZooKeeper) -> None:
        self.fake = fake
        self.down: set[str] = set()
        self.log: list[tuple[float, str]] = []

    async def __call__(self, host: str, port: int) -> trio.abc.Stream:
        self.log.append((trio.current_time(), host))
        if host in self.down:
            raise ConnectionRefusedError(f"{host} is down")
        return await self.fake.connect(host, port)


async def test_a_new_host_list_ends_a_backoff_pause(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    opener = Refusing(fake)
    policy = Backoff(initial=10.0, factor=2.0, maximum=60.0, jitter=0.0, attempt_jitter=0.0)
    async with client(
        fake, "a:1", stream_factory=opener, session_timeout=90, reconnect_backoff=policy
    ) as zk:
        sid = zk.session_id
        opener.down.add("a")
        await fake.current.close()
        await trio.sleep(5)  # inside the first 10 s pause after a failed round
        assert [h for _, h in opener.log] == ["a", "a"]
        changed_at = trio.current_time()
        zk.update_hosts("b:2")
        with trio.fail_after(1):
            await trio.sleep(0.001)
            await zk.wait_connected()
        assert opener.log[-1] == (changed_at, "b")  # tried at once, not after the pause
        assert zk.session_id == sid
        assert zk.statistics().server == "b:2"
