"""Our Layout.CURATOR recipes and Apache Curator 5.4's on the same paths, both directions.

The Java side is ``tests/curator/CuratorPeer.java`` (one JVM per test, see
``curator_peer.py``); it needs Debian's libcurator-*-java packages and a JDK,
and the tests fail naming them when they are missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest
import trio

from trio_zookeeper import ZooKeeper
from trio_zookeeper.recipes import Layout, Lock, ReadLock, Semaphore, WriteLock

from .conftest import children, wait_children
from .curator_peer import CuratorPeer, build, open_curator_peer

pytestmark = pytest.mark.server

CURATOR = Layout.CURATOR
LOCK = "/locks/shared"
PROTECTED = re.compile(r"^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-")


@pytest.fixture(scope="session")
def curator_classpath() -> str:
    return build()


@pytest.fixture
async def java(curator_classpath: str, hosts: str) -> AsyncIterator[CuratorPeer]:
    """The Java peer with one connected Curator client, ``c``, on the test's chroot."""
    with trio.fail_after(90):  # JVM start under load
        async with open_curator_peer(curator_classpath, hosts) as peer:
            await peer.call("connect", "c")
            yield peer


def sequence(name: str) -> int:
    return int(name[-10:])


async def test_python_lock_waits_for_java_mutex(zk: ZooKeeper, java: CuratorPeer) -> None:
    with trio.fail_after(30):
        await java.call("mutex", "m", "c", LOCK)
        assert await java.call("acquire", "m") == "true"
        acquired = trio.Event()
        lock = Lock(zk, LOCK, identifier="py-1", layout=CURATOR)

        async def ours() -> None:
            async with lock:
                acquired.set()
                await trio.sleep_forever()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ours)
            names = await wait_children(zk, LOCK, lambda c: len(c) == 2)
            for name in names:
                assert PROTECTED.match(name), name
                assert name[-15:-10] == "lock-"
            # Curator sees both participants, Java's (the holder) first.
            participants = (await java.call("participants", "m")).split(",")
            assert [p.rsplit("/", 1)[1] for p in participants] == sorted(names, key=sequence)
            assert participants[1] == lock.node
            assert not acquired.is_set()
            data = [(await zk.get_data(f"{LOCK}/{n}"))[0] for n in sorted(names, key=sequence)]
            assert data[1] == b"py-1"
            await java.call("release", "m")
            await acquired.wait()
            assert await java.call("acquire", "m", 300) == "false"
            nursery.cancel_scope.cancel()
        assert await children(zk, LOCK) == []


async def test_java_acquire_times_out_while_python_holds(
    zk: ZooKeeper, java: CuratorPeer
) -> None:
    with trio.fail_after(30):
        await java.call("mutex", "m", "c", LOCK)
        async with Lock(zk, LOCK, layout=CURATOR) as lock:
            assert lock.node is not None
            assert PROTECTED.match(lock.node.rsplit("/", 1)[1])
            assert await java.call("acquire", "m", 500) == "false"
        # Released: Java gets it now, and then we wait for Java.
        assert await java.call("acquire", "m", 10000) == "true"
        with trio.move_on_after(0.5) as scope:
            async with Lock(zk, LOCK, layout=CURATOR):
                pass
        assert scope.cancelled_caught
        await java.call("release", "m")
        async with Lock(zk, LOCK, layout=CURATOR):
            pass
