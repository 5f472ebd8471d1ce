"""Fixtures for the integration suite: the client API against the real server.

The shared server, the per-test chroot (``zk_connect_string``) and the ``zk``
client come from trio_zookeeper's pytest plugin (enabled in tests/conftest.py).
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
import trio
from kazoo.client import KazooClient

from trio_zookeeper import ZooKeeper, open_zookeeper
from trio_zookeeper.testing import ExternalZooKeeperServer, FaultProxy, ZooKeeperServer

from ._util import through_proxy

Server = ZooKeeperServer | ExternalZooKeeperServer
Connect = Callable[..., AbstractAsyncContextManager[ZooKeeper]]


@pytest.fixture
def rng() -> random.Random:
    """A seeded random generator; the seed is printed (replay with ``TZK_SEED``)."""
    seed = int(os.environ.get("TZK_SEED", random.SystemRandom().randrange(2**32)))
    print(f"random seed: {seed} (replay with TZK_SEED={seed})")
    return random.Random(seed)


@pytest.fixture
def chroot(zookeeper_server: Server, zk_connect_string: str) -> str:
    """The server-side path of this test's chroot (e.g. ``/tzk-test-0123...``)."""
    base = zookeeper_server.connect_string
    assert zk_connect_string.startswith(base)
    return zk_connect_string[len(base) :]


@pytest.fixture
def connect(zk_connect_string: str) -> Connect:
    """``connect(**options)``: open another client on this test's chroot."""

    def _connect(**options: object) -> AbstractAsyncContextManager[ZooKeeper]:
        return open_zookeeper(zk_connect_string, **options)  # type: ignore[arg-type]

    return _connect


@pytest.fixture
async def proxy_zk(
    zookeeper_server: Server, chroot: str
) -> AsyncIterator[tuple[FaultProxy, ZooKeeper]]:
    """A client on this test's chroot whose connections go through a fault proxy."""
    async with through_proxy(zookeeper_server.host, zookeeper_server.port, chroot) as pair:
        yield pair


@pytest.fixture
async def root_zk(zookeeper_server: Server) -> AsyncIterator[ZooKeeper]:
    """A client without a chroot: it sees the server's full paths."""
    async with open_zookeeper(zookeeper_server.connect_string) as client:
        yield client


@pytest.fixture
async def kazoo(zk_connect_string: str) -> AsyncIterator[KazooClient]:
    """A started kazoo client (threaded) on this test's chroot."""
    client = KazooClient(hosts=zk_connect_string, timeout=10)
    await trio.to_thread.run_sync(client.start, 15)
    try:
        yield client
    finally:
        await trio.to_thread.run_sync(client.stop)
        await trio.to_thread.run_sync(client.close)
