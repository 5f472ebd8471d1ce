"""Every basic operation against the real server: create, read, write, delete, and the rest."""

from __future__ import annotations

import time

import pytest
import trio

from trio_zookeeper import (
    OPEN_ACL_UNSAFE,
    BadVersionError,
    ClientInfo,
    CreateMode,
    NoNodeError,
    ZooKeeper,
)

from .conftest import Connect

pytestmark = pytest.mark.server


async def test_create_returns_the_path_and_the_data_reads_back(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        assert await zk.create("/a", b"hello") == "/a"
        data, stat = await zk.get_data("/a")
        assert data == b"hello"
        assert stat.version == 0
        assert stat.cversion == 0
        assert stat.aversion == 0
        assert stat.data_length == 5
        assert stat.num_children == 0
        assert stat.ephemeral_owner == 0
        assert stat.czxid == stat.mzxid == stat.pzxid
        now_ms = time.time() * 1000
        assert abs(stat.ctime - now_ms) < 60_000
        assert stat.mtime == stat.ctime
        # bytearray and memoryview are accepted as data (though the
        # annotation says bytes); the default is empty.
        await zk.create("/b", bytearray(b"ba"))  # type: ignore[arg-type]
        await zk.create("/c", memoryview(b"mv"))  # type: ignore[arg-type]
        await zk.create("/d")
        assert (await zk.get_data("/b"))[0] == b"ba"
        assert (await zk.get_data("/c"))[0] == b"mv"
        assert (await zk.get_data("/d"))[0] == b""


async def test_create2_returns_the_stat_exists_reports(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        path, stat = await zk.create2("/node", b"xyz")
        assert path == "/node"
        assert stat.data_length == 3
        assert await zk.exists("/node") == stat
        assert (await zk.get_data("/node"))[1] == stat


async def test_large_and_binary_data_round_trip(zk: ZooKeeper) -> None:
    blob = bytes(range(256)) * 2048  # 512 KiB, every byte value
    with trio.fail_after(10):
        await zk.create("/big", blob)
        data, stat = await zk.get_data("/big")
        assert data == blob
        assert stat.data_length == len(blob)


async def test_non_ascii_node_names_round_trip(zk: ZooKeeper) -> None:
    names = ["ünïcødé", "日本語", "emoji-☃", "space name"]
    with trio.fail_after(10):
        await zk.create("/u")
        for name in names:
            assert await zk.create(f"/u/{name}", name.encode()) == f"/u/{name}"
        assert sorted(await zk.get_children("/u")) == sorted(names)
        for name in names:
            assert (await zk.get_data(f"/u/{name}"))[0] == name.encode()


async def test_create_makepath_creates_missing_parents(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        assert await zk.create("/x/y/z", b"leaf", makepath=True) == "/x/y/z"
        assert (await zk.get_data("/x"))[0] == b""
        assert (await zk.get_data("/x/y"))[0] == b""
        assert (await zk.get_data("/x/y/z"))[0] == b"leaf"
        # Existing parents are kept as they are.
        await zk.set_data("/x", b"keep")
        await zk.create("/x/y/w", makepath=True)
        assert (await zk.get_data("/x"))[0] == b"keep"
        # Sequential and ephemeral nodes work with makepath too.
        seq = await zk.create("/m/n/s-", mode=CreateMode.EPHEMERAL_SEQUENTIAL, makepath=True)
        assert seq.startswith("/m/n/s-")
        stat = await zk.exists("/m/n")
        assert stat is not None
        assert stat.ephemeral_owner == 0  # parents are persistent


async def test_ensure_path_is_mkdir_p_and_idempotent(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/e", b"untouched")
        await zk.ensure_path("/e/f/g")
        assert sorted(await zk.get_children("/e")) == ["f"]
        assert await zk.get_children("/e/f") == ["g"]
        assert (await zk.get_data("/e"))[0] == b"untouched"
        before = await zk.exists("/e/f/g")
        await zk.ensure_path("/e/f/g")
        await zk.ensure_path("/e/f")
        await zk.ensure_path("/")
        assert await zk.exists("/e/f/g") == before


async def test_delete_checks_the_version(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/v", b"0")
        stat = await zk.set_data("/v", b"1")
        assert stat.version == 1
        with pytest.raises(BadVersionError) as info:
            await zk.delete("/v", version=0)
        assert info.value.path == "/v"
        assert await zk.exists("/v") == stat
        await zk.delete("/v", version=1)
        assert await zk.exists("/v") is None
        await zk.create("/w")
        await zk.delete("/w", version=-1)
        assert await zk.exists("/w") is None


async def test_delete_recursive_removes_the_subtree(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        for path in ("/t/a/1", "/t/a/2", "/t/b", "/t/c/d/e"):
            await zk.ensure_path(path)
        await zk.create("/t/eph", mode=CreateMode.EPHEMERAL)
        await zk.create("/keep")
        assert await zk.get_all_children_number("/t") == 8
        await zk.delete("/t", recursive=True)
        assert await zk.exists("/t") is None
        assert await zk.get_children("/") == ["keep"]
        # The version applies to the top node only.
        await zk.ensure_path("/r/s")
        with pytest.raises(BadVersionError):
            await zk.delete("/r", version=5, recursive=True)
        assert await zk.exists("/r") is not None
        assert await zk.exists("/r/s") is None  # children went first (not atomic)
        with pytest.raises(NoNodeError):
            await zk.delete("/missing", recursive=True)


async def test_exists(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        assert await zk.exists("/nope") is None
        assert await zk.exists("/nope/deeper") is None
        _, stat = await zk.create2("/yes", b"1")
        assert await zk.exists("/yes") == stat
        root = await zk.exists("/")
        assert root is not None
        assert root.num_children == 1


async def test_set_data_checks_the_version_and_returns_the_new_stat(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        _, created = await zk.create2("/s", b"a")
        stat1 = await zk.set_data("/s", b"bb", version=0)
        assert stat1.version == 1
        assert stat1.data_length == 2
        assert stat1.czxid == created.czxid
        assert stat1.mzxid > created.mzxid
        with pytest.raises(BadVersionError):
            await zk.set_data("/s", b"lost", version=0)
        assert (await zk.get_data("/s"))[0] == b"bb"
        stat2 = await zk.set_data("/s", b"")
        assert stat2.version == 2
        assert stat2.data_length == 0
        assert await zk.get_data("/s") == (b"", stat2)


async def test_get_children_and_get_children2(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/p")
        assert await zk.get_children("/p") == []
        names = [f"c{i:02d}" for i in range(12)]
        for name in names:
            await zk.create(f"/p/{name}")
        assert sorted(await zk.get_children("/p")) == names
        children, stat = await zk.get_children2("/p")
        assert sorted(children) == names
        assert stat.num_children == 12
        assert stat.cversion == 12
        assert await zk.exists("/p") == stat


async def test_get_all_children_number_counts_every_descendant(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.ensure_path("/n/a/b/c")
        await zk.ensure_path("/n/d")
        assert await zk.get_all_children_number("/n") == 4
        assert await zk.get_all_children_number("/n/a/b/c") == 0
        assert await zk.get_all_children_number("/") == 5


async def test_get_ephemerals_lists_this_sessions_ephemerals(
    zk: ZooKeeper, connect: Connect
) -> None:
    with trio.fail_after(10):
        await zk.ensure_path("/app/x")
        await zk.ensure_path("/other")
        mine = {
            await zk.create("/app/e1", mode=CreateMode.EPHEMERAL),
            await zk.create("/app/x/e2", mode=CreateMode.EPHEMERAL),
            await zk.create("/other/e3", mode=CreateMode.EPHEMERAL),
            await zk.create("/app/s-", mode=CreateMode.EPHEMERAL_SEQUENTIAL),
        }
        async with connect() as other:
            await other.create("/app/theirs", mode=CreateMode.EPHEMERAL)
            assert set(await zk.get_ephemerals()) == mine
            assert set(await zk.get_ephemerals("/app")) == mine - {"/other/e3"}
            assert await zk.get_ephemerals("/app/x") == ["/app/x/e2"]
            assert await zk.get_ephemerals("/nothing") == []
            assert await other.get_ephemerals() == ["/app/theirs"]


async def test_sync_returns_the_path_and_later_reads_see_other_writes(
    zk: ZooKeeper, connect: Connect
) -> None:
    with trio.fail_after(10):
        await zk.create("/synced", b"old")
        async with connect() as other:
            await other.set_data("/synced", b"new")
        assert await zk.sync("/synced") == "/synced"
        assert await zk.sync() == "/"
        assert (await zk.get_data("/synced"))[0] == b"new"


async def test_get_config_on_a_standalone_server(zk: ZooKeeper, root_zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        data, stat = await zk.get_config()
        # A standalone server without dynamic reconfiguration keeps an empty
        # /zookeeper/config; get_config reads it outside the chroot.
        assert data == b""
        assert stat.data_length == 0
        assert (data, stat) == await root_zk.get_data("/zookeeper/config")
        assert (data, stat) == await root_zk.get_config()


async def test_who_am_i_reports_the_ip_identity(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        assert await zk.who_am_i() == [ClientInfo(auth_scheme="ip", user="127.0.0.1")]


async def test_last_zxid_follows_the_writes(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        _, stat = await zk.create2("/z")
        assert zk.last_zxid >= stat.czxid
        before = zk.last_zxid
        stat2 = await zk.set_data("/z", b"1")
        assert stat2.mzxid > before
        assert zk.last_zxid >= stat2.mzxid


async def test_default_acl_is_open(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/open")
        acl, stat = await zk.get_acl("/open")
        assert tuple(acl) == OPEN_ACL_UNSAFE
        assert stat.aversion == 0
