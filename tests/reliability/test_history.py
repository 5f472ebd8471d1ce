"""Several clients under a seeded nemesis; then the history checkers (docs/reliability.rst).

Clients do reads, CAS writes, blind writes, and ephemeral creates and deletes
for about 25 s while the nemesis kills, pauses and cuts off ensemble members
and clients. Every client's link to every member goes through its own fault
proxy. The seed is printed (``TZK_SEED=<seed>`` replays the schedule; the
timing of the real servers of course varies).

Passing means: checkers W and R find nothing, every client ends connected
(or expired), every unique created path was created once, and no ephemeral
node remains once the clients have closed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from contextlib import AsyncExitStack

import pytest
import trio

from trio_zookeeper import (
    BadVersionError,
    ConnectionLossError,
    CreateMode,
    KeeperState,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper.testing import FaultProxy, ZooKeeperEnsemble

from ._util import (
    FAILOVER_BOUND,
    SESSION_TIMEOUT,
    SLOW,
    chroot_on,
    connect_string,
    heal_all,
    measured,
    open_proxies,
)
from .history import History, Kind, Op, check_reads, check_writes

pytestmark = [pytest.mark.ensemble, pytest.mark.timeout(240)]

KEYS = [f"/k{i}" for i in range(4)]
INITIAL = b"init"
OP_TIMEOUT = 5.0  # a caller's own bound; an op cut off by it has an unknown outcome


class Client:
    """One workload client and its view of the registers."""

    def __init__(self, index: int, proxies: Sequence[FaultProxy], rng: random.Random) -> None:
        self.index = index
        self.proxies = proxies
        self.rng = rng
        self.seq = 0
        self.versions: dict[str, int] = {}
        self.ephemerals: list[str] = []
        self.created: list[str] = []
        self.final_state: KeeperState | None = None
        self.zk: ZooKeeper | None = None

    def next_value(self) -> bytes:
        self.seq += 1
        return f"c{self.index}:{self.seq}".encode()

    async def run(self, root: str, history: History, stop: trio.Event) -> None:
        async with open_zookeeper(
            connect_string(self.proxies, root), session_timeout=SESSION_TIMEOUT
        ) as zk:
            self.zk = zk
            while not stop.is_set():
                await self.step(zk, history)
                await trio.sleep(self.rng.uniform(0.0, 0.02))
            with trio.fail_after(FAILOVER_BOUND + SESSION_TIMEOUT):
                await zk.wait_connected()
            self.final_state = zk.state

    async def step(self, zk: ZooKeeper, history: History) -> None:
        roll = self.rng.random()
        key = self.rng.choice(KEYS)
        kind: Kind
        if roll < 0.4:
            kind = "read"
        elif roll < 0.7:
            kind = "cas"
        elif roll < 0.9:
            kind = "write"
        elif roll < 0.95 or not self.ephemerals:
            kind = "create"
        else:
            kind = "delete"
        op = history.invoke(
            Op(
                client=self.index,
                session=zk.session_id,
                kind=kind,
                key=key,
                t_invoke=trio.current_time(),
            )
        )
        try:
            with trio.fail_after(OP_TIMEOUT):
                if kind == "read":
                    value, stat = await zk.get_data(key)
                    op.value, op.mzxid, op.version = value, stat.mzxid, stat.version
                    self.versions[key] = stat.version
                elif kind in ("cas", "write"):
                    op.value = self.next_value()
                    version = self.versions.get(key, 0) if kind == "cas" else -1
                    op.expected = version if kind == "cas" else None
                    stat = await zk.set_data(key, op.value, version=version)
                    op.mzxid, op.version = stat.mzxid, stat.version
                    self.versions[key] = stat.version
                elif kind == "create":
                    op.key = "/eph/"
                    path = await zk.create(
                        f"/eph/c{self.index}-", b"", mode=CreateMode.EPHEMERAL_SEQUENTIAL
                    )
                    op.value = path.encode()
                    self.ephemerals.append(path)
                    self.created.append(path)
                else:
                    path = self.ephemerals.pop(self.rng.randrange(len(self.ephemerals)))
                    op.key = path
                    await zk.delete(path)
            op.outcome = "ok"
            op.session = zk.session_id
        except (BadVersionError, NoNodeError, NodeExistsError, SessionExpiredError) as exc:
            op.outcome, op.error = "fail", type(exc).__name__  # certainly not applied
        except (ConnectionLossError, trio.TooSlowError) as exc:
            op.outcome, op.error = "info", type(exc).__name__  # may have been applied
        op.t_complete = trio.current_time()


class Nemesis:
    """A seeded schedule of faults, one at a time, each healed before the next."""

    def __init__(
        self, ensemble: ZooKeeperEnsemble, clients: Sequence[Client], rng: random.Random
    ) -> None:
        self.ensemble = ensemble
        self.clients = clients
        self.rng = rng
        self.log: list[str] = []

    async def run(self, until: float) -> None:
        await trio.sleep(1.0)
        while trio.current_time() < until:
            action = self.rng.choice(["kill", "kill-leader", "pause", "blackhole"])
            if action == "blackhole":
                client = self.rng.choice(self.clients)
                hold = self.rng.uniform(0.5, 1.5) * SESSION_TIMEOUT
                self.note(f"blackhole client {client.index} for {hold:.1f}s")
                for proxy in client.proxies:
                    proxy.blackhole()
                await trio.sleep(hold)
                await heal_all(client.proxies)
            else:
                if action == "kill-leader":
                    target = await trio.to_thread.run_sync(self.ensemble.leader)
                else:
                    target = self.rng.randrange(len(self.ensemble.members))
                member = self.ensemble.members[target]
                if action == "pause":
                    hold = self.rng.uniform(2.0, 5.0)
                    self.note(f"pause member {target + 1} for {hold:.1f}s")
                    member.pause()
                    await trio.sleep(hold)
                    member.resume()
                else:
                    self.note(f"{action}: SIGKILL member {target + 1}, restart after 3s")
                    member.kill()
                    await trio.sleep(3.0)
                    await member.astart(timeout=60)
            await trio.sleep(self.rng.uniform(3.0, 5.0))

    def note(self, what: str) -> None:
        self.log.append(f"{trio.current_time():8.2f} {what}")
        print("NEMESIS", self.log[-1])


async def test_history_under_the_nemesis_passes_the_checkers(
    ensemble: ZooKeeperEnsemble,
) -> None:
    seed = int(os.environ.get("TZK_SEED") or random.SystemRandom().randrange(2**32))
    print(f"NEMESIS SEED {seed} (replay with TZK_SEED={seed})")
    rng = random.Random(seed)
    n_clients = 8 if SLOW else 5
    duration = 120.0 if SLOW else 25.0
    history = History()
    async with chroot_on(ensemble.connect_string) as root:
        async with open_zookeeper(ensemble.connect_string + root) as admin:
            for key in KEYS:
                await admin.create(key, INITIAL)
            await admin.create("/eph")
        async with AsyncExitStack() as stack:
            proxies = [
                await stack.enter_async_context(open_proxies(ensemble.members))
                for _ in range(n_clients)
            ]
            clients = [Client(i, proxies[i], random.Random(rng.random())) for i in range(n_clients)]
            nemesis = Nemesis(ensemble, clients, random.Random(rng.random()))
            stop = trio.Event()
            t0 = trio.current_time()
            async with trio.open_nursery() as nursery:
                for client in clients:
                    nursery.start_soon(client.run, root, history, stop)
                await nemesis.run(t0 + duration)
                stop.set()
            measured("history run", trio.current_time() - t0)
        print("HISTORY", history.counts())
        assert len(history.ops) > 500
        for client in clients:
            assert client.final_state in (KeeperState.SYNC_CONNECTED, KeeperState.EXPIRED)
        problems = check_writes(
            [op for op in history.ops if op.kind != "create" and op.kind != "delete"],
            dict.fromkeys(KEYS, INITIAL),
        )
        problems += check_reads(history.ops)
        created = [path for client in clients for path in client.created]
        if len(created) != len(set(created)):
            problems.append("a sequential create returned a path twice")
        assert problems == [], "\n".join(["seed " + str(seed), *nemesis.log, *problems[:50]])
        # every client closed: no ephemeral node may remain (expired sessions
        # that the server has not reaped yet go within a session timeout)
        async with open_zookeeper(ensemble.connect_string + root) as admin:
            with trio.fail_after(2 * SESSION_TIMEOUT + 2):
                while left := await admin.get_children("/eph"):  # noqa: ASYNC110 - server state
                    await trio.sleep(0.2)
            assert left == []
