"""Our Layout.CURATOR recipes and Apache Curator 5.4's on the same paths, both directions.

The Java side is ``tests/curator/CuratorPeer.java`` (one JVM per test, see
``curator_peer.py``); it needs Debian's libcurator-*-java packages and a JDK,
and the tests fail naming them when they are missing.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import AsyncIterator

import pytest
import trio

from trio_zookeeper import SessionExpiredError, ZooKeeper
from trio_zookeeper.recipes import (
    Election,
    Layout,
    LeaderLatch,
    Lock,
    ReadLock,
    Semaphore,
    ServiceDiscovery,
    ServiceInstance,
    SharedCount,
    WriteLock,
)
from trio_zookeeper.testing import expire_session

from .conftest import Connect, children, leads, wait_children
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


def test_missing_curator_fails_naming_the_packages(tmp_path: pathlib.Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="libcurator-recipes-java") as info:
        build(tmp_path)
    assert "libcurator-discovery-java" in str(info.value)
    assert "apt-get install" in str(info.value)


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


async def test_java_acquire_times_out_while_python_holds(zk: ZooKeeper, java: CuratorPeer) -> None:
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


async def test_read_write_locks_across_languages(zk: ZooKeeper, java: CuratorPeer) -> None:
    path = "/locks/rw"
    with trio.fail_after(40):
        await java.call("rwlock", "jr", "c", path, "read")
        await java.call("rwlock", "jr2", "c", path, "read")
        await java.call("rwlock", "jw", "c", path, "write")
        assert await java.call("acquire", "jr", 5000) == "true"
        # Readers share: ours gets in while Java reads, and Java's writer is shut out.
        async with ReadLock(zk, path, "py-reader", layout=CURATOR) as reader:
            assert reader.node is not None
            assert reader.node[-18:-10] == "__READ__"
            assert await java.call("acquire", "jw", 300) == "false"
        await java.call("release", "jr")
        # Our writer excludes Java's readers; then Java reads again.
        writer_in = trio.Event()
        release_writer = trio.Event()

        async def write() -> None:
            async with WriteLock(zk, path, "py-writer", layout=CURATOR) as writer:
                assert writer.node is not None
                assert writer.node[-18:-10] == "__WRIT__"
                writer_in.set()
                await release_writer.wait()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write)
            await writer_in.wait()
            assert await java.call("acquire", "jr2", 300) == "false"
            release_writer.set()
        assert await java.call("acquire", "jr2", 5000) == "true"
        # Java reads; our writer waits, and gets in once Java's reader is gone.
        got = trio.Event()

        async def write_after() -> None:
            async with WriteLock(zk, path, layout=CURATOR):
                got.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write_after)
            await wait_children(zk, path, lambda c: len(c) == 2)
            assert not got.is_set()
            await java.call("release", "jr2")
        assert got.is_set()


async def test_semaphore_leases_counted_across_languages(zk: ZooKeeper, java: CuratorPeer) -> None:
    path = "/sem/db"
    with trio.fail_after(40):
        await java.call("semaphore", "s", "c", path, 2)
        assert await java.call("lease", "s", 5000) == "true"
        async with Semaphore(zk, path, "py", max_leases=2, layout=CURATOR) as sem:
            assert sem.lease is not None
            assert sem.lease.startswith(f"{path}/leases/_c_")
            assert sorted(await sem.lease_holders())[1] == "py"
            # Two leases are out (one Java, one ours): a third is refused.
            assert await java.call("lease", "s", 300) == "false"
        assert await java.call("lease", "s", 5000) == "true"
        # Both leases Java's: ours waits until Java returns one.
        got = trio.Event()

        async def take() -> None:
            async with Semaphore(zk, path, "py", max_leases=2, layout=CURATOR):
                got.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(take)
            await wait_children(zk, f"{path}/leases", lambda c: len(c) == 3)
            assert not got.is_set()
            await java.call("return", "s")
        assert got.is_set()
        await java.call("return", "s")
    assert await children(zk, f"{path}/leases") == []


async def test_election_with_java_leader_selectors(zk: ZooKeeper, java: CuratorPeer) -> None:
    path = "/election/sched"
    with trio.fail_after(40):
        await java.call("selector", "j1", "c", path, "java-1")
        await java.event("j1", "leader")
        election = Election(zk, path, identifier="py-1", layout=CURATOR)
        led = trio.Event()
        step_down = trio.Event()

        async def campaign() -> None:
            async with election:
                led.set()
                await step_down.wait()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(campaign)
            await wait_children(zk, path, lambda c: len(c) == 2)
            assert await election.contenders() == ["java-1", "py-1"]
            assert await java.call("selectorparticipants", "j1") == "java-1*,py-1"
            assert not led.is_set()
            await java.call("resign", "j1")
            await java.event("j1", "notleader")
            await led.wait()
            assert election.is_leader
            # A second Java selector queues behind us: same order on both sides.
            await java.call("selector", "j2", "c", path, "java-2")
            await wait_children(zk, path, lambda c: len(c) == 2)
            assert await election.contenders() == ["py-1", "java-2"]
            assert await java.call("selectorparticipants", "j2") == "py-1*,java-2"
            assert java.events("j2") == []
            step_down.set()
        await java.event("j2", "leader")
        assert await election.contenders() == ["java-2"]
        await java.call("resign", "j2")
        await java.event("j2", "notleader")


async def test_leader_latch_across_languages(zk: ZooKeeper, java: CuratorPeer) -> None:
    path = "/latch/sched"
    with trio.fail_after(40):
        await java.call("latch", "l1", "c", path, "java-1")
        await java.event("l1", "leader")
        latch = LeaderLatch(zk, path, identifier="py-1")
        async with latch:
            assert latch.node is not None
            assert latch.node[-16:-10] == "latch-"
            assert PROTECTED.match(latch.node.rsplit("/", 1)[1])
            assert not leads(latch)
            assert await latch.participants() == ["java-1", "py-1"]
            assert await java.call("latchparticipants", "l1") == "java-1*,py-1"
            async with latch.changes() as changes:
                assert await changes.receive() is False
                await java.call("close", "l1")  # Java leaves: we lead
                assert await changes.receive() is True
                await latch.wait_leader()
            assert leads(latch)
            await java.call("latch", "l2", "c", path, "java-2")
            await wait_children(zk, path, lambda c: len(c) == 2)
            assert await java.call("hasleadership", "l2") == "false"
            assert await latch.participants() == ["py-1", "java-2"]
            assert await java.call("latchparticipants", "l2") == "py-1*,java-2"
        assert not leads(latch)
        await java.event("l2", "leader")  # handed over when we left
        assert await java.call("hasleadership", "l2") == "true"
        assert await LeaderLatch(zk, path).participants() == ["java-2"]


async def test_shared_count_values_and_versions_both_ways(zk: ZooKeeper, java: CuratorPeer) -> None:
    path = "/counts/jobs"
    with trio.fail_after(30):
        await java.call("count", "sc", "c", path, 5)
        count = SharedCount(zk, path, seed=0)  # Java seeded it first
        assert await count.get_versioned() == (5, 0)
        async with count.changes() as values:
            assert await anext(values) == (5, 0)
            await count.set(41)
            assert (await zk.get_data(path))[0] == b"\x00\x00\x00\x29"
            await java.event("sc", "count 41")
            assert await java.call("getcount", "sc") == "41 1"
            assert await anext(values) == (41, 1)
            await java.call("setcount", "sc", -7)
            assert await anext(values) == (-7, 2)
        assert (await zk.get_data(path))[0] == b"\xff\xff\xff\xf9"
        assert await count.try_set(1, 1) is False  # stale version: refused
        assert await count.try_set(1, 2) is True
        await java.event("sc", "count 1")
        assert await java.call("getcount", "sc") == "1 3"
        await count.set(2)
        await java.event("sc", "count 2")
        assert await java.call("trysetcount", "sc", 9) == "false"  # Java's version 3 is stale
        assert await count.get_versioned() == (2, 4)
        await java.call("getcount", "sc")
        assert await java.call("trysetcount", "sc", 9) == "true"
        assert await count.get_versioned() == (9, 5)


def by_id(instances: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {i["id"]: i for i in instances}


async def test_service_discovery_both_ways(
    zk: ZooKeeper, java: CuratorPeer, connect: Connect
) -> None:
    with trio.fail_after(40):
        await java.call("discovery", "d", "c", "/services")
        await java.call("register", "d", "api", "j-1", "127.0.0.1", 9000, '{"zone":"b"}')
        discovery = ServiceDiscovery(zk, base_path="/services")
        (found,) = await discovery.query("api")
        assert (found.name, found.id, found.address, found.port) == (
            "api",
            "j-1",
            "127.0.0.1",
            9000,
        )
        assert found.payload == {"zone": "b"}
        assert found.payload_class == "java.util.LinkedHashMap"
        assert found.service_type == "DYNAMIC"
        assert found.uri_spec == "{scheme}://{address}:{port}"
        assert found.build_uri() == "http://127.0.0.1:9000"
        assert found.registration_time_utc > 0
        assert await discovery.names() == ["api"]

        me = ServiceInstance(
            name="api",
            id="py-1",
            address="127.0.0.1",
            port=8080,
            ssl_port=8443,
            payload={"zone": "a", "weight": 3},
            uri_spec="{scheme}://{address}:{port}/v1",
        )
        async with discovery.register(me):
            seen = by_id(json.loads(await java.call("query", "d", "api")))
            assert set(seen) == {"j-1", "py-1"}
            assert seen["py-1"]["port"] == 8080
            assert seen["py-1"]["sslPort"] == 8443
            assert seen["py-1"]["payload"] == {"zone": "a", "weight": 3}
            assert seen["py-1"]["serviceType"] == "DYNAMIC"
            assert seen["py-1"]["uri"] == "https://127.0.0.1:8080/v1" == me.build_uri()
            me.port = 8081
            await discovery.update(me)
            seen = by_id(json.loads(await java.call("query", "d", "api")))
            assert seen["py-1"]["port"] == 8081
            assert json.loads(await java.call("names", "d")) == ["api"]
        # Unregistered when the block ends.
        assert set(by_id(json.loads(await java.call("query", "d", "api")))) == {"j-1"}
        # Java unregisters: gone for us.
        await java.call("unregister", "d", "api", "j-1")
        assert await discovery.query("api") == []
        # Registered by a session that then ends (for good): gone for Java.
        worker = ServiceInstance(name="worker", id="py-2", address="10.0.0.2", port=1)
        with pytest.raises(SessionExpiredError):  # noqa: PT012 - the block under test
            async with (
                connect(reconnect_after_expiry=False) as other,
                ServiceDiscovery(other, "/services").register(worker),
            ):
                listed = json.loads(await java.call("query", "d", "worker"))
                assert [i["id"] for i in listed] == ["py-2"]
                await expire_session(other)
                await trio.sleep_forever()  # the registration's end cancels the block
        assert json.loads(await java.call("query", "d", "worker")) == []
        await java.call("connect", "c2")
        await java.call("discovery", "d2", "c2", "/services")
        await java.call("register", "d2", "worker", "j-2", "10.0.0.3", 2)
        assert [i.id for i in await discovery.query("worker")] == ["j-2"]
        await java.call("close", "c2")  # Java's session ends: its registration goes
        await wait_children(zk, "/services/worker", lambda c: c == [])
        assert await discovery.query("worker") == []


async def test_registration_survives_session_expiry(zk: ZooKeeper, java: CuratorPeer) -> None:
    with trio.fail_after(40):
        await java.call("discovery", "d", "c", "/services")
        discovery = ServiceDiscovery(zk, "/services")
        me = ServiceInstance(name="api", id="py-1", address="127.0.0.1", port=8080)
        async with discovery.register(me):
            old_session = zk.session_id
            await expire_session(zk)
            async with zk.watch_data("/services/api/py-1") as values:
                async for value in values:
                    if value is not None and value[1].ephemeral_owner == zk.session_id:
                        break
            assert zk.session_id != old_session
            listed = json.loads(await java.call("query", "d", "api"))
            assert [i["id"] for i in listed] == ["py-1"]
        assert json.loads(await java.call("query", "d", "api")) == []
