"""Opening and closing many clients, some under faults, leaks nothing.

docs/reliability.rst, promises 40, 41 and 58.

File descriptors (``/proc/self/fd``) and trio tasks (counted from
``trio.lowlevel.current_root_task()``) return to where they started, and no
``ResourceWarning`` is raised (pytest runs with ``filterwarnings = error``;
``gc.collect()`` runs inside the test so finalizer warnings land here).
"""

from __future__ import annotations

import contextlib
import gc
import random
import warnings

import pytest
import trio

from trio_zookeeper import (
    ConnectionLossError,
    CreateMode,
    KeeperState,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper.testing import ExternalZooKeeperServer, ZooKeeperServer, open_fault_proxy

from ._util import SLOW, SLOW_REASON, measured, open_fds, task_count

pytestmark = [pytest.mark.server, pytest.mark.timeout(240)]


async def test_a_thousand_clients_some_under_faults_leak_nothing(
    zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer,
) -> None:
    seed = random.SystemRandom().randrange(2**32)
    print(f"LEAK SEED {seed}")
    rng = random.Random(seed)
    total = 1000
    width = 10  # clients open at once, each worker opening one after another
    server = zookeeper_server
    async with (
        open_fault_proxy(server.host, server.port) as blackholed,
        open_fault_proxy(server.host, server.port) as refusing,
        open_fault_proxy(server.host, server.port) as resetting,
    ):
        blackholed.blackhole()
        refusing.refuse()
        gc.collect()
        fds, tasks = open_fds(), task_count()
        kinds: dict[str, int] = {}

        async def one(kind: str) -> None:
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind == "normal":
                async with open_zookeeper(server.connect_string, session_timeout=4) as zk:
                    assert await zk.exists("/") is not None
            elif kind in ("blackholed", "refused"):
                proxy = blackholed if kind == "blackholed" else refusing
                with trio.move_on_after(rng.uniform(0.0, 0.3)):
                    async with open_zookeeper(proxy.address, session_timeout=4):
                        pytest.fail("connected through a broken proxy")
            elif kind == "reset":
                # (other clients reset the same proxy: any call may lose its connection)
                async with open_zookeeper(resetting.address, session_timeout=4) as zk:
                    with contextlib.suppress(ConnectionLossError):
                        await zk.exists("/")
                    await resetting.reset()
                    with contextlib.suppress(ConnectionLossError):
                        await zk.exists("/")
            else:  # cancelled at a random point while connecting or working
                with trio.move_on_after(rng.uniform(0.0, 0.02)):
                    async with open_zookeeper(server.connect_string, session_timeout=4) as zk:
                        await zk.create(
                            "/leak-", b"", mode=CreateMode.EPHEMERAL_SEQUENTIAL
                        )  # ephemeral sequential
                        await zk.exists("/")

        choices = ["normal"] * 14 + ["blackholed", "refused", "reset", "cancelled"] * 1
        t0 = trio.current_time()
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            plan = [rng.choice(choices) for _ in range(total)]

            async def worker() -> None:
                while plan:
                    await one(plan.pop())

            async with trio.open_nursery() as nursery:
                for _ in range(width):
                    nursery.start_soon(worker)
            for proxy in (blackholed, refusing, resetting):
                await proxy.reset()  # a blackholed link never notices its client left
            await trio.testing.wait_all_tasks_blocked()
            gc.collect()
        measured(f"leaks: {total} clients opened and closed", trio.current_time() - t0)
        print("LEAK MIX", kinds)
        assert sum(kinds.values()) == total
        assert open_fds() == fds
        assert task_count() == tasks
    # the server saw every session closed (no ephemerals left behind)
    async with open_zookeeper(server.connect_string) as zk:
        with trio.fail_after(10):
            while [c for c in await zk.get_children("/") if c.startswith("leak-")]:  # noqa: ASYNC110
                await trio.sleep(0.2)
        assert zk.state is KeeperState.SYNC_CONNECTED


@pytest.mark.skipif(not SLOW, reason=SLOW_REASON)
async def test_reconnect_storm_of_a_hundred_sessions(
    zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer,
) -> None:
    server = zookeeper_server
    async with (
        open_fault_proxy(server.host, server.port) as proxy,
        trio.open_nursery() as nursery,
    ):
        clients = []
        for _ in range(100):
            clients.append(await nursery.start(_hold_client, proxy.address))
        t0 = trio.current_time()
        await proxy.reset()
        with trio.fail_after(2 * 4.0):
            for zk in clients:
                await zk.wait_connected()
        measured("storm: 100 sessions back", trio.current_time() - t0)
        nursery.cancel_scope.cancel()


async def _hold_client(address: str, *, task_status: trio.TaskStatus[ZooKeeper]) -> None:
    async with open_zookeeper(address, session_timeout=4) as zk:
        task_status.started(zk)
        await trio.sleep_forever()
