"""LeaderLatch, SharedCount, ServiceDiscovery, PersistentNode, container parents and recipe ACLs.

Python only, against the real server (the Java side is test_curator_interop.py).
The shared test server checks containers every 500 ms and has TTL nodes on.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
import trio

from trio_zookeeper import (
    CreateMode,
    EventType,
    NoAuthError,
    NoNodeError,
    Perm,
    ZooKeeper,
    make_acl,
    make_digest_acl,
    open_zookeeper,
)
from trio_zookeeper.recipes import (
    Election,
    Layout,
    LeaderLatch,
    LeadershipLostError,
    Lock,
    PersistentEphemeralNode,
    PersistentNode,
    Semaphore,
    ServiceDiscovery,
    ServiceInstance,
    SharedCount,
)
from trio_zookeeper.testing import ZooKeeperServer, expire_session, open_fault_proxy

from .conftest import Connect, children, leads

pytestmark = pytest.mark.server


async def wait_gone(zk: ZooKeeper, path: str) -> None:
    """Wait (on the parent's child watches, no polling) until ``path`` does not exist.

    The parent's watch, not one on ``path``: a node this session cannot read
    gets no watch events.
    """
    parent, name = path.rsplit("/", 1)
    while True:
        names, events = await zk.with_watcher().get_children(parent or "/")
        try:
            if name not in names:
                return
            async for event in events:
                if event.event_type is not EventType.NONE:
                    break
        finally:
            events.close()


Factory = Callable[[ZooKeeper], AbstractAsyncContextManager[object]]
DIRECTORIES: dict[str, tuple[Factory, str]] = {
    "lock-curator": (
        lambda zk: Lock(zk, "/app/locks/order-1", layout=Layout.CURATOR),
        "/app/locks/order-1",
    ),
    "election-curator": (
        lambda zk: Election(zk, "/app/election/e", "me", layout=Layout.CURATOR),
        "/app/election/e",
    ),
    "semaphore-curator": (
        lambda zk: Semaphore(zk, "/app/sem/s", max_leases=2, layout=Layout.CURATOR),
        "/app/sem/s",
    ),
    "latch": (lambda zk: LeaderLatch(zk, "/app/latch/l", "me"), "/app/latch/l"),
}
#: The kazoo layout's own directories are PERSISTENT, as kazoo makes them.
KAZOO_DIRECTORIES: dict[str, tuple[Factory, str]] = {
    "lock-kazoo": (lambda zk: Lock(zk, "/app/locks/order-1"), "/app/locks/order-1"),
    "semaphore-kazoo": (lambda zk: Semaphore(zk, "/app/sem/s", max_leases=2), "/app/sem/s"),
}


@pytest.mark.parametrize("recipe", list(DIRECTORIES))
async def test_empty_recipe_directories_are_removed_by_the_server(
    zk: ZooKeeper, recipe: str
) -> None:
    factory, directory = DIRECTORIES[recipe]
    with trio.fail_after(20):
        async with factory(zk):
            assert await zk.exists(directory) is not None
        # Containers: the server deletes them (and then their emptied parents).
        await wait_gone(zk, directory)
        await wait_gone(zk, "/app")
        # The next user makes them again.
        async with factory(zk):
            assert await zk.exists(directory) is not None


@pytest.mark.parametrize("recipe", list(KAZOO_DIRECTORIES))
async def test_kazoo_layout_directories_outlast_their_users(zk: ZooKeeper, recipe: str) -> None:
    """A kazoo object checks its directory once and relies on it: it must not be reaped."""
    factory, directory = KAZOO_DIRECTORIES[recipe]
    with trio.fail_after(20):
        async with factory(zk):
            assert await zk.exists(directory) is not None
        # A container emptied after ours: once the server has removed it, its
        # container sweep has also seen our emptied directory.
        await zk.create("/sweep-marker", mode=CreateMode.CONTAINER)
        await zk.delete(await zk.create("/sweep-marker/x"))
        await wait_gone(zk, "/sweep-marker")
        stat = await zk.exists(directory)
        assert stat is not None
        assert stat.ephemeral_owner == 0
        assert stat.num_children == 0


ALL_MODES = list(CreateMode)


@pytest.mark.parametrize("mode", ALL_MODES, ids=[m.name for m in ALL_MODES])
async def test_persistent_node_every_mode(
    zk: ZooKeeper, connect: Connect, mode: CreateMode
) -> None:
    ttl = 4000 if mode.is_ttl else None  # touched every 2 s
    with trio.fail_after(20):
        async with connect() as admin:
            node = PersistentNode(zk, "/nodes/n", b"data", mode=mode, ttl=ttl)
            async with node:
                path = node.path
                assert path is not None
                if mode.is_sequential:
                    assert path.startswith("/nodes/_c_")
                    assert path[-10:].isdigit()
                else:
                    assert path == "/nodes/n"
                data, stat = await admin.get_data(path)
                assert data == b"data"
                assert (stat.ephemeral_owner == zk.session_id) == mode.is_ephemeral
                if mode.is_ttl:
                    # Touched while the block runs (the data is re-written).
                    async with admin.watch_data(path) as values:
                        async for value in values:
                            if value is not None and value[1].version > stat.version:
                                break
                with contextlib.suppress(NoNodeError):  # (a TTL may expire under load)
                    await admin.delete(path)  # somebody deletes it: it comes back
                await node.wait_recreated(1)
                assert node.path is not None
                assert (await admin.get_data(node.path))[0] == b"data"
                await node.set_data(b"new")
                assert (await admin.get_data(node.path))[0] == b"new"
                last = node.path
            assert await admin.exists(last) is None
            assert await children(admin, "/nodes") == []


async def test_persistent_node_adopts_existing_persistent_node(
    zk: ZooKeeper, connect: Connect
) -> None:
    with trio.fail_after(10):
        async with connect() as admin:
            await admin.create("/nodes/n", b"old", makepath=True)
            async with PersistentNode(zk, "/nodes/n", b"ours", mode=CreateMode.PERSISTENT):
                assert (await admin.get_data("/nodes/n"))[0] == b"ours"
            assert await admin.exists("/nodes/n") is None


async def test_persistent_node_rejects_bad_ttl(zk: ZooKeeper) -> None:
    with pytest.raises(ValueError, match="needs ttl"):
        PersistentNode(zk, "/n", mode=CreateMode.PERSISTENT_WITH_TTL)
    with pytest.raises(ValueError, match="only valid with a TTL mode"):
        PersistentNode(zk, "/n", mode=CreateMode.PERSISTENT, ttl=100)
    node = PersistentEphemeralNode(zk, "/n", b"x", sequential=True)
    assert node.mode is CreateMode.EPHEMERAL_SEQUENTIAL
    await trio.lowlevel.checkpoint()


async def test_leader_latch_handover_and_structural_loss(zk: ZooKeeper, connect: Connect) -> None:
    with trio.fail_after(20):
        async with connect() as other, connect() as admin:
            first = LeaderLatch(zk, "/latch", "a")
            second = LeaderLatch(other, "/latch", "b")
            async with first:
                await first.wait_leader()
                async with second:
                    assert not leads(second)
                    assert await second.participants() == ["a", "b"]
                    assert await second.leader() == "a"
                    async with second.changes() as changes:
                        assert await changes.receive() is False
                        # Somebody deletes the leader's node: the next one leads,
                        # and the first joins again at the end.
                        assert first.node is not None
                        await admin.delete(first.node)
                        assert await changes.receive() is True
                    assert first.node is None or first.node != second.node
                    async with first.changes() as changes:
                        while await changes.receive():
                            pass
                    assert not leads(first)
                assert not leads(second)
                await first.wait_leader()
            assert await LeaderLatch(zk, "/latch").participants() == []
            with pytest.raises(RuntimeError, match="async with"):
                await first.wait_leader()


async def test_election_curator_node_deleted_cancels_leader(
    zk: ZooKeeper, connect: Connect
) -> None:
    with trio.fail_after(10):
        async with connect() as admin:
            election = Election(zk, "/election", "me", layout=Layout.CURATOR)
            with pytest.raises(LeadershipLostError, match="deleted"):  # noqa: PT012
                async with election:
                    (child,) = await admin.get_children("/election")
                    assert child.startswith("_c_")
                    assert child[-15:-10] == "lock-"
                    await admin.delete(f"/election/{child}")
                    await trio.sleep_forever()
            assert await children(admin, "/election") == []


async def test_shared_count_checks_values(zk: ZooKeeper) -> None:
    with pytest.raises(TypeError, match="seed"):
        SharedCount(zk, "/c", seed="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32-bit"):
        SharedCount(zk, "/c", seed=2**31)
    count = SharedCount(zk, "/count", seed=-(2**31))
    with trio.fail_after(10):
        assert await count.get() == -(2**31)
        with pytest.raises(ValueError, match="32-bit"):
            await count.set(2**31)
        await count.set(2**31 - 1)
        assert await count.get_versioned() == (2**31 - 1, 1)
        await zk.set_data("/count", b"xyz")
        with pytest.raises(ValueError, match="3 bytes"):
            await count.get()


def test_service_instance_json() -> None:
    instance = ServiceInstance(
        name="api",
        id="py-1",
        address="10.0.0.1",
        port=80,
        payload={"zone": "a"},
        registration_time_utc=1700000000000,
        uri_spec="{scheme}://{address}:{port}/x",
    )
    raw = json.loads(instance.to_json())
    assert list(raw) == [
        "name",
        "id",
        "address",
        "port",
        "sslPort",
        "payload",
        "registrationTimeUTC",
        "serviceType",
        "uriSpec",
    ]
    assert raw["payload"] == {"@class": "java.util.LinkedHashMap", "zone": "a"}
    assert raw["serviceType"] == "DYNAMIC"
    assert raw["uriSpec"]["parts"][0] == {"value": "scheme", "variable": True}
    back = ServiceInstance.from_json(instance.to_json())
    assert back == dataclass_with(instance, payload_class="java.util.LinkedHashMap")
    assert back.build_uri() == "http://10.0.0.1:80/x"
    # Curator reads (and so do we) JSON with only name, id, address and port.
    minimal = ServiceInstance.from_json(b'{"name":"a","id":"1","address":"h","port":1,"x":2}')
    assert (minimal.name, minimal.port, minimal.service_type) == ("a", 1, "DYNAMIC")
    with pytest.raises(ValueError, match="node name"):
        ServiceInstance(name="a/b")
    with pytest.raises(ValueError, match="service_type"):
        ServiceInstance(name="a", service_type="OTHER")
    with pytest.raises(ValueError, match="JSON"):
        ServiceInstance.from_json(b"{")


def dataclass_with(instance: ServiceInstance, **changes: object) -> ServiceInstance:
    import dataclasses

    return dataclasses.replace(instance, **changes)  # type: ignore[arg-type]


async def test_discovery_register_update_unregister(zk: ZooKeeper, connect: Connect) -> None:
    with trio.fail_after(15):
        async with connect() as other:
            discovery = ServiceDiscovery(zk, "/svc")
            assert await discovery.names() == []
            assert await discovery.query("api") == []
            mine = ServiceInstance(name="api", id="a", address="h", port=1)
            static = ServiceInstance(name="db", id="s", address="h", port=2, service_type="STATIC")
            async with discovery.register(mine), discovery.register(static):
                seen = ServiceDiscovery(other, "/svc")
                assert await seen.names() == ["api", "db"]
                assert [i.id for i in await seen.query("api")] == ["a"]
                stat = await other.exists("/svc/db/s")
                assert stat is not None
                assert stat.ephemeral_owner == 0  # STATIC: persistent
                with pytest.raises(RuntimeError, match="already registered"):
                    async with discovery.register(mine):
                        pass
                mine.port = 3
                await discovery.update(mine)
                found = await seen.query_instance("api", "a")
                assert found is not None
                assert found.port == 3
                await discovery.unregister(mine)
                assert await seen.query("api") == []
                with pytest.raises(KeyError):
                    await discovery.update(mine)
            assert await ServiceDiscovery(other, "/svc").query("db") == []


NO_READ = [make_acl("world", "anyone", Perm.CREATE | Perm.DELETE)]
CREATE_ONLY = [make_acl("world", "anyone", Perm.CREATE)]


@pytest.mark.parametrize(
    "recipe",
    ["lock-kazoo", "lock-curator", "semaphore-curator", "latch", "shared-count", "discovery"],
)
async def test_acl_that_locks_the_session_out_fails_clearly(zk: ZooKeeper, recipe: str) -> None:
    """A recipe told to create nodes this session cannot read raises NoAuthError; no hang."""
    with trio.fail_after(10):
        with pytest.raises(NoAuthError, match=r"/guarded.*acl=") as info:  # noqa: PT012
            if recipe == "lock-kazoo":
                async with Lock(zk, "/guarded", acl=NO_READ):
                    pass
            elif recipe == "lock-curator":
                async with Lock(zk, "/guarded", acl=NO_READ, layout=Layout.CURATOR):
                    pass
            elif recipe == "semaphore-curator":
                async with Semaphore(zk, "/guarded", acl=NO_READ, layout=Layout.CURATOR):
                    pass
            elif recipe == "latch":
                async with LeaderLatch(zk, "/guarded", acl=NO_READ):
                    pass
            elif recipe == "shared-count":
                await SharedCount(zk, "/guarded", acl=NO_READ).get()
            else:
                discovery = ServiceDiscovery(zk, "/guarded", acl=NO_READ)
                async with discovery.register(ServiceInstance(name="a", id="1")):
                    await discovery.query("a")
        assert "not allowed" in str(info.value)
        # Clean up what the session may delete; the server removes the containers.
        if recipe in ("shared-count", "lock-kazoo"):  # persistent nodes
            await zk.delete("/guarded")
        await wait_gone(zk, "/guarded")


async def test_acl_without_delete_fails_clearly_and_the_node_goes_with_the_session(
    connect: Connect,
) -> None:
    with trio.fail_after(15):
        async with connect() as admin:
            async with connect() as zk:
                with pytest.raises(NoAuthError, match="/no-delete"):
                    async with Lock(zk, "/no-delete", acl=CREATE_ONLY, layout=Layout.CURATOR):
                        pass
            await wait_gone(admin, "/no-delete")  # our node went with the session


async def test_recipe_acl_and_default_acl_are_applied(connect: Connect) -> None:
    # (getACL shows a digest's hash only to a session that may administer the node)
    acl = [make_digest_acl("app", "secret"), make_acl("world", "anyone", Perm.READ)]
    with trio.fail_after(15):
        async with connect() as zk, connect() as admin:
            await zk.add_auth("digest", "app:secret")
            async with Lock(zk, "/acl/lock", acl=acl, layout=Layout.CURATOR) as lock:
                assert lock.node is not None
                assert (await zk.get_acl(lock.node))[0] == acl
                assert (await zk.get_acl("/acl/lock"))[0] == acl
                assert (await zk.get_acl("/acl"))[0] == acl
            count = SharedCount(zk, "/acl/count", seed=3, acl=acl)
            assert await count.get() == 3
            assert (await zk.get_acl("/acl/count"))[0] == acl
            await zk.delete("/acl/count")
            await wait_gone(admin, "/acl")
        async with connect(default_acl=acl) as zk, connect() as admin:
            await zk.add_auth("digest", "app:secret")
            async with LeaderLatch(zk, "/dflt/latch", "me") as latch:
                assert latch.node is not None
                assert (await zk.get_acl(latch.node))[0] == acl
                assert (await zk.get_acl("/dflt/latch"))[0] == acl
            await wait_gone(admin, "/dflt")


async def test_leader_latch_suspension_and_expiry(
    zookeeper_server: ZooKeeperServer, chroot: str, hosts: str
) -> None:
    """Leadership is given up while the connection is down and taken again after it."""
    with trio.fail_after(30):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot, session_timeout=4) as zk,
        ):
            latch = LeaderLatch(zk, "/latch", "me")
            async with latch, latch.changes() as changes:
                assert await changes.receive() is True  # alone: leads on entry
                session, node = zk.session_id, latch.node
                await proxy.reset()  # a short suspension, same session
                assert await changes.receive() is False
                assert await changes.receive() is True
                assert (zk.session_id, latch.node) == (session, node)
                await expire_session(zk)  # a new session: a new node
                assert await changes.receive() is False
                assert await changes.receive() is True
                assert zk.session_id != session
                assert latch.node is not None
                stat = await zk.exists(latch.node)
                assert stat is not None
                assert stat.ephemeral_owner == zk.session_id  # made again on the new session
            assert await children(zk, "/latch") == []


async def test_discovery_replaces_a_stale_registration(zk: ZooKeeper, connect: Connect) -> None:
    """A crashed instance's node (its session not expired yet) is replaced, as Curator does."""
    with trio.fail_after(15):
        async with connect() as old:
            stale = ServiceInstance(name="api", id="i-1", address="old", port=1)
            await old.create(
                "/svc/api/i-1", stale.to_json(), mode=CreateMode.EPHEMERAL, makepath=True
            )
            fresh = ServiceInstance(name="api", id="i-1", address="new", port=2)
            async with ServiceDiscovery(zk, "/svc").register(fresh):
                data, stat = await old.get_data("/svc/api/i-1")
                assert ServiceInstance.from_json(data).address == "new"
                assert stat.ephemeral_owner == zk.session_id
