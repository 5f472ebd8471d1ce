"""Helpers shared by the reliability tests (real servers, real faults)."""

from __future__ import annotations

import collections
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import trio

from trio_zookeeper import KeeperState, ZooKeeper, open_zookeeper
from trio_zookeeper.testing import FaultProxy, ZooKeeperServer, open_fault_proxy

#: Opt-in for the extra-long variants (soak, full-size storms).
SLOW = os.environ.get("TZK_SLOW") == "1"
SLOW_REASON = "extra-long variant: opt in with TZK_SLOW=1"

#: The session timeout of the ensemble tests (tickTime 500: 1-10 s allowed).
SESSION_TIMEOUT = 4.0
READ_TIMEOUT = SESSION_TIMEOUT * 2 / 3
#: Sum over the hosts of connectTimeout = timeout / hosts.
CONNECT_TIMEOUT_SUM = SESSION_TIMEOUT
JITTER_MAX = min(1.0, SESSION_TIMEOUT / 6)
#: Slack for a shared 2-core machine (JVM scheduling, GC).
SLACK = 1.5
#: A leader election with tickTime 500 (measured 0.4-2.7 s).
ELECTION = 3.0
#: reconnect <= readTimeout + sum(connectTimeout) + 1 s jitter + election
#: (docs/reliability.rst, "The test harness").
FAILOVER_BOUND = READ_TIMEOUT + CONNECT_TIMEOUT_SUM + 1.0 + ELECTION + SLACK

#: Measurements printed by the tests and collected in the report.
MEASUREMENTS: dict[str, float] = {}


def measured(name: str, seconds: float) -> None:
    MEASUREMENTS[name] = seconds
    print(f"MEASURED {name}: {seconds:.3f}s")


def open_fds() -> int:
    """The number of file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def task_count() -> int:
    """Every live trio task, counted down from the root task."""

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(t) for n in task.child_nurseries for t in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return count(root)


async def until(predicate: Callable[[], bool], interval: float = 0.05) -> None:
    """Poll state that has no event to wait on (a server, a counter); bound it outside."""
    while not predicate():  # noqa: ASYNC110 - external state: polling is the only way
        await trio.sleep(interval)


class StateLog:
    """Every session state change of one client, with trio's time."""

    def __init__(self) -> None:
        self.log: list[tuple[float, KeeperState]] = []
        self._changed = trio.Event()

    async def run(self, zk: ZooKeeper, *, task_status: trio.TaskStatus[None]) -> None:
        async with zk.session_states() as states:
            task_status.started()
            async for state in states:
                self.log.append((trio.current_time(), state))
                self._changed.set()
                self._changed = trio.Event()

    @property
    def states(self) -> list[KeeperState]:
        return [s for _, s in self.log]

    async def wait_for(self, state: KeeperState, after: float = -1.0) -> float:
        """The time of the first report of ``state`` at or after ``after``."""
        while True:
            for t, s in self.log:
                if s is state and t >= after:
                    return t
            await self._changed.wait()


@asynccontextmanager
async def state_log(zk: ZooKeeper) -> AsyncIterator[StateLog]:
    log = StateLog()
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run, zk)
        yield log
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_proxies(servers: Sequence[ZooKeeperServer]) -> AsyncIterator[list[FaultProxy]]:
    """One fault proxy per server, in the same order."""
    async with AsyncExitStack() as stack:
        proxies = [
            await stack.enter_async_context(open_fault_proxy(s.host, s.port)) for s in servers
        ]
        yield proxies


def connect_string(proxies: Sequence[FaultProxy], chroot: str = "") -> str:
    return ",".join(p.address for p in proxies) + chroot


def proxy_index(zk: ZooKeeper, proxies: Sequence[FaultProxy]) -> int:
    """Which proxy (so which member) the client is connected through."""
    server = zk.statistics().server
    for index, proxy in enumerate(proxies):
        if proxy.address == server:
            return index
    raise AssertionError(f"connected to {server}, not through a proxy")


async def heal_all(proxies: Sequence[FaultProxy]) -> None:
    """End a blackhole without replaying stale connection attempts.

    A blackholed proxy keeps the client's abandoned connection attempts open
    (it reads nothing, so it never sees them closed); healing would forward
    their old ConnectRequests, which could move the session away from the
    client's live connection. Reset them first.
    """
    for proxy in proxies:
        await proxy.reset()
    for proxy in proxies:
        proxy.heal()


@asynccontextmanager
async def chroot_on(connect: str) -> AsyncIterator[str]:
    """A fresh chroot node on the servers; deleted (recursively) afterwards."""
    chroot = f"/rel-{uuid.uuid4().hex[:12]}"
    async with open_zookeeper(connect) as admin:
        await admin.create(chroot)
    try:
        yield chroot
    finally:
        with trio.move_on_after(30, shield=True):
            async with open_zookeeper(connect) as admin:
                await admin.delete(chroot, recursive=True)


class NameResolver(trio.abc.HostnameResolver):
    """Resolves the names in ``table`` (counting the look-ups); others as usual.

    A name maps to one address or to a list of them (several A records);
    change ``table`` to move a name. Install it with
    ``trio.socket.set_custom_hostname_resolver``.
    """

    def __init__(self, table: dict[str, str | list[str]]) -> None:
        self.table = table
        self.lookups: collections.Counter[str] = collections.Counter()

    async def getaddrinfo(
        self,
        host: bytes | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if name in self.table:
            self.lookups[name] += 1
            assert port is not None
            entry = self.table[name]
            addresses = [entry] if isinstance(entry, str) else entry
            return [
                (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, int(port)))
                for a in addresses
            ]
        return await trio.to_thread.run_sync(
            socket.getaddrinfo, host, port, family, type, proto, flags
        )

    async def getnameinfo(
        self, sockaddr: tuple[str, int] | tuple[str, int, int, int], flags: int
    ) -> tuple[str, str]:
        raise NotImplementedError
