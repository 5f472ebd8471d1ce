"""Fixtures for the recipe tests: one shared real server, a chroot per test, kazoo."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
import trio
from kazoo.client import KazooClient

from trio_zookeeper import NoNodeError, ZooKeeper, open_zookeeper
from trio_zookeeper.recipes import LeaderLatch
from trio_zookeeper.testing import ExternalZooKeeperServer, ZooKeeperServer

Server = ZooKeeperServer | ExternalZooKeeperServer
Connect = Callable[..., AbstractAsyncContextManager[ZooKeeper]]


@pytest.fixture
def rng() -> random.Random:
    seed = int(os.environ.get("TZK_SEED", random.SystemRandom().randrange(2**32)))
    print(f"random seed: {seed} (replay with TZK_SEED={seed})")
    return random.Random(seed)


@pytest.fixture
def chroot() -> str:
    return f"/t-{uuid.uuid4().hex}"


@pytest.fixture
async def hosts(zookeeper_server: Server, chroot: str) -> AsyncIterator[str]:
    """The connect string of the shared server with a fresh chroot, removed afterwards."""
    async with open_zookeeper(zookeeper_server.connect_string) as admin:
        await admin.ensure_path(chroot)
        yield zookeeper_server.connect_string + chroot
        with trio.move_on_after(10, shield=True):
            await admin.delete(chroot, recursive=True)


@pytest.fixture
def connect(hosts: str) -> Connect:
    """``connect(**options)``: open a client on the test's chroot."""

    def _connect(**options: object) -> AbstractAsyncContextManager[ZooKeeper]:
        return open_zookeeper(hosts, **options)  # type: ignore[arg-type]

    return _connect


@pytest.fixture
async def zk(connect: Connect) -> AsyncIterator[ZooKeeper]:
    async with connect() as client:
        yield client


@pytest.fixture
async def kazoo(hosts: str) -> AsyncIterator[KazooClient]:
    """A started kazoo client (threaded) on the same chroot."""
    client = KazooClient(hosts=hosts, timeout=10)
    await trio.to_thread.run_sync(client.start, 15)
    try:
        yield client
    finally:
        await trio.to_thread.run_sync(client.stop)
        client.close()


async def hold(
    cm: AbstractAsyncContextManager[object],
    release: trio.Event,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Hold ``cm`` (a lock...) in this task until ``release`` is set."""
    async with cm:
        task_status.started()
        await release.wait()


async def wait_children(
    zk: ZooKeeper, path: str, predicate: Callable[[list[str]], bool]
) -> list[str]:
    """Wait (on child watches, no polling) until ``predicate(children)`` holds."""
    async with zk.watch_children(path) as follower:
        async for children in follower:
            if predicate(children or []):
                return children or []
    raise AssertionError("unreachable")


async def children(zk: ZooKeeper, path: str) -> list[str]:
    """The children of ``path``; ``[]`` once it is gone (recipe directories are containers)."""
    try:
        return await zk.get_children(path)
    except NoNodeError:
        return []


def leads(latch: LeaderLatch) -> bool:
    """``latch.has_leadership``, read afresh (not narrowed by earlier asserts)."""
    return latch.has_leadership
