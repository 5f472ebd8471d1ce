"""Chroot: every path in and out of a chrooted client is relative to the chroot."""

from __future__ import annotations

import pytest
import trio

from trio_zookeeper import (
    AddWatchMode,
    CreateMode,
    EventType,
    KeeperState,
    NodeExistsError,
    NoNodeError,
    Perm,
    WatchedEvent,
    ZooKeeper,
    make_acl,
    open_zookeeper,
)

from ._util import node_event

pytestmark = pytest.mark.server


def _ev(event_type: EventType, path: str) -> WatchedEvent:
    return WatchedEvent(event_type, KeeperState.SYNC_CONNECTED, path)


async def test_paths_out_of_a_chrooted_client_are_relative(
    zk: ZooKeeper, root_zk: ZooKeeper, chroot: str
) -> None:
    with trio.fail_after(10):
        assert await zk.create("/a", b"A") == "/a"
        path, _ = await zk.create2("/b")
        assert path == "/b"
        assert await zk.create("/a/s-", mode=CreateMode.PERSISTENT_SEQUENTIAL) == "/a/s-0000000000"
        assert await zk.create("/a/", mode=CreateMode.EPHEMERAL_SEQUENTIAL) == "/a/0000000001"
        assert await zk.create("/e", mode=CreateMode.EPHEMERAL) == "/e"
        assert await zk.create("/c", mode=CreateMode.CONTAINER) == "/c"
        assert (
            await zk.create("/t-", mode=CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=60_000)
            == "/t-0000000004"
        )
        assert await zk.create("/m/n/o", makepath=True) == "/m/n/o"
        assert sorted(await zk.get_ephemerals()) == ["/a/0000000001", "/e"]
        assert await zk.get_ephemerals("/a") == ["/a/0000000001"]
        assert await zk.sync("/a") == "/a"
        assert await zk.sync("/") == "/"
        results = await (
            zk.multi()
            .create("/x")
            .create("/x/s-", mode=CreateMode.PERSISTENT_SEQUENTIAL)
            .create("/x/c", mode=CreateMode.CONTAINER)
            .create("/x/t", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=60_000)
            .set_data("/a", b"A2")
            .delete("/b")
            .run()
        )
        assert results[:2] == ["/x", "/x/s-0000000000"]
        assert [r[0] for r in results[2:4]] == ["/x/c", "/x/t"]  # type: ignore[index]
        # Errors name the path as the caller wrote it.
        with pytest.raises(NodeExistsError) as exists_error:
            await zk.create("/a")
        assert exists_error.value.path == "/a"
        assert chroot not in str(exists_error.value)
        with pytest.raises(NoNodeError) as multi_error:
            await zk.multi().create("/y").delete("/nope").run()
        assert multi_error.value.path == "/nope"
        # "/" is the chroot node itself.
        assert await zk.exists("/") == await root_zk.exists(chroot)
        assert sorted(await zk.get_children("/")) == sorted(await root_zk.get_children(chroot))
        assert await zk.get_all_children_number("/") == await root_zk.get_all_children_number(
            chroot
        )


async def test_a_client_without_chroot_sees_the_full_paths(
    zk: ZooKeeper, root_zk: ZooKeeper, chroot: str
) -> None:
    with trio.fail_after(10):
        await zk.create("/a", b"from chroot")
        await zk.create("/a/e-", mode=CreateMode.EPHEMERAL_SEQUENTIAL)
        assert (await root_zk.get_data(f"{chroot}/a"))[0] == b"from chroot"
        assert await root_zk.get_children(f"{chroot}/a") == ["e-0000000000"]
        assert await root_zk.create(f"{chroot}/r", b"from root") == f"{chroot}/r"
        assert (await zk.get_data("/r"))[0] == b"from root"
        await root_zk.create(f"{chroot}/re", mode=CreateMode.EPHEMERAL)
        assert await root_zk.get_ephemerals(chroot) == [f"{chroot}/re"]
        assert await zk.get_ephemerals() == ["/a/e-0000000000"]
        results = await root_zk.multi().create(f"{chroot}/m").run()
        assert results == [f"{chroot}/m"]
        assert await root_zk.sync(chroot) == chroot
        # The same change seen by both: each with its own paths.
        _, mine = await zk.with_watcher().get_data("/a")
        _, theirs = await root_zk.with_watcher().get_data(f"{chroot}/a")
        await root_zk.set_data(f"{chroot}/a", b"x")
        assert await mine.receive() == _ev(EventType.NODE_DATA_CHANGED, "/a")
        assert await theirs.receive() == _ev(EventType.NODE_DATA_CHANGED, f"{chroot}/a")


async def test_watch_event_paths_are_relative_to_the_chroot(
    zk: ZooKeeper, root_zk: ZooKeeper, chroot: str
) -> None:
    # One-shot and persistent watches are kept on different paths: before
    # ZooKeeper 3.9 (ZOOKEEPER-4466) a session's watch modes on one path
    # override each other on the server.
    with trio.fail_after(10):
        await zk.watch().exists("/w")
        async with (
            zk.add_watch("/", AddWatchMode.PERSISTENT_RECURSIVE) as recursive,
            zk.add_watch("/p", AddWatchMode.PERSISTENT) as persistent,
        ):
            await root_zk.create(f"{chroot}/w")
            _, children = await zk.with_watcher().get_children("/w")
            await root_zk.create(f"{chroot}/w/kid")
            await root_zk.delete(f"{chroot}/w/kid")
            assert await node_event(zk.default_watcher) == _ev(EventType.NODE_CREATED, "/w")
            assert await children.receive() == _ev(EventType.NODE_CHILDREN_CHANGED, "/w")
            await root_zk.create(f"{chroot}/p")
            await root_zk.create(f"{chroot}/p/kid")
            await root_zk.delete(f"{chroot}/p/kid")
            for want in (
                _ev(EventType.NODE_CREATED, "/p"),
                _ev(EventType.NODE_CHILDREN_CHANGED, "/p"),
                _ev(EventType.NODE_CHILDREN_CHANGED, "/p"),
            ):
                assert await node_event(persistent) == want
            for want in (
                _ev(EventType.NODE_CREATED, "/w"),
                _ev(EventType.NODE_CREATED, "/w/kid"),
                _ev(EventType.NODE_DELETED, "/w/kid"),
                _ev(EventType.NODE_CREATED, "/p"),
                _ev(EventType.NODE_CREATED, "/p/kid"),
                _ev(EventType.NODE_DELETED, "/p/kid"),
            ):
                assert await node_event(recursive) == want
            # Changes to the chroot node itself are reported as "/".
            await root_zk.set_data(chroot, b"root data")
            assert await node_event(recursive) == _ev(EventType.NODE_DATA_CHANGED, "/")
        async with zk.watch_children("/w") as lists:
            assert await anext(lists) == []
            await root_zk.create(f"{chroot}/w/k2")
            assert await anext(lists) == ["k2"]


async def test_a_chroot_that_does_not_exist_yet(
    root_zk: ZooKeeper, zk_connect_string: str, chroot: str
) -> None:
    with trio.fail_after(10):
        async with open_zookeeper(f"{zk_connect_string}/later") as zk:
            assert await zk.exists("/") is None
            with pytest.raises(NoNodeError):
                await zk.create("/x")
            await zk.watch().exists("/")
            await root_zk.create(f"{chroot}/later")
            assert await node_event(zk.default_watcher) == _ev(EventType.NODE_CREATED, "/")
            assert await zk.create("/x") == "/x"
            assert await root_zk.get_children(f"{chroot}/later") == ["x"]


async def test_recursive_delete_of_the_chroot_root_deletes_a_user_node_named_zookeeper(
    zk: ZooKeeper, zk_connect_string: str
) -> None:
    with trio.fail_after(10):
        await zk.create("/app")
        async with open_zookeeper(zk_connect_string + "/app") as app:
            await app.create("/zookeeper")
            await app.create("/zookeeper/settings", b"user data")
            await app.create("/other")
            await app.delete("/", recursive=True)
        assert await zk.exists("/app") is None


async def test_a_missing_chroot_is_named_in_the_error(
    root_zk: ZooKeeper, zk_connect_string: str, chroot: str
) -> None:
    with trio.fail_after(10):
        async with open_zookeeper(f"{zk_connect_string}/app") as zk:
            missing = f"the chroot {chroot}/app does not exist"
            for path in ("/x", "/workers/w-"):
                with pytest.raises(NoNodeError, match=missing) as info:
                    await zk.create(path, mode=CreateMode.EPHEMERAL_SEQUENTIAL)
                assert info.value.path == path
            for read in (zk.get_data, zk.get_children):
                with pytest.raises(NoNodeError, match=missing):
                    await read("/")
            # Nothing was created on the way.
            assert await root_zk.exists(f"{chroot}/app") is None


async def test_a_missing_parent_inside_an_existing_chroot_is_named(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/present")
        with pytest.raises(NoNodeError, match=r"No node: /present/missing \(the parent of "):
            await zk.create("/present/missing/x")
        with pytest.raises(NoNodeError) as info:
            await zk.create("/missing/x")
        assert "chroot" not in str(info.value)
        assert str(info.value) == "No node: /missing (the parent of /missing/x)"


async def test_makepath_creates_a_missing_chroot_with_the_default_acl(
    root_zk: ZooKeeper, zk_connect_string: str, chroot: str
) -> None:
    # Everything but ADMIN, so that it differs from OPEN_ACL_UNSAFE.
    acl = (make_acl("world", "anyone", Perm.ALL & ~Perm.ADMIN),)
    with trio.fail_after(10):
        # The README's own example, on a chroot (two levels) that does not exist.
        async with open_zookeeper(f"{zk_connect_string}/app/v1", default_acl=acl) as zk:
            path = await zk.create(
                "/workers/w-", b"up", mode=CreateMode.EPHEMERAL_SEQUENTIAL, makepath=True
            )
            assert path == "/workers/w-0000000000"
            assert await zk.get_children("/workers") == ["w-0000000000"]
            for node in ("/app", "/app/v1", "/app/v1/workers"):
                stored, _ = await root_zk.get_acl(chroot + node)
                assert stored == list(acl), node
            assert (await root_zk.get_data(f"{chroot}/app/v1/workers/w-0000000000"))[0] == b"up"


async def test_ensure_path_creates_a_missing_chroot(
    root_zk: ZooKeeper, zk_connect_string: str, chroot: str
) -> None:
    with trio.fail_after(10):
        async with open_zookeeper(f"{zk_connect_string}/e1") as zk:
            await zk.ensure_path("/")
            assert await root_zk.exists(f"{chroot}/e1") is not None
            assert await zk.get_children("/") == []
        async with open_zookeeper(f"{zk_connect_string}/e2/deep") as zk:
            await zk.ensure_path("/a/b")
            assert await root_zk.get_children(f"{chroot}/e2/deep/a") == ["b"]
            await zk.ensure_path("/a/b")  # idempotent
            await zk.create("/a/b/c", makepath=True)
            assert await zk.get_children("/a/b") == ["c"]
