"""zkCli's commands and flags, as zkCli spells them, against the real server.

Every effect is checked with a second client (``open_zookeeper``), not only
with the command line's own output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
import trio

from trio_zookeeper import (
    ACL,
    CreateMode,
    EventType,
    Id,
    ZooKeeper,
    make_digest_acl_credential,
    open_zookeeper,
)
from trio_zookeeper._cli import main

from .conftest import CLI, Result

pytestmark = pytest.mark.server

WAIT = 20.0


async def second(hosts: str, check: Callable[[ZooKeeper], object]) -> object:
    async with open_zookeeper(hosts) as zk:
        return await check(zk)  # type: ignore[misc]


async def run_until_done(
    hosts: str,
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    poke: Callable[[ZooKeeper, int], object],
) -> Result:
    """Run ``main(argv)`` in a thread, calling ``poke`` until it returns (a watch fired)."""
    codes: list[int] = []

    async def run() -> None:
        codes.append(
            await trio.to_thread.run_sync(main, ["-H", hosts, *argv], abandon_on_cancel=True)
        )

    capsys.readouterr()
    async with open_zookeeper(hosts) as zk:
        with trio.fail_after(WAIT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run)
                index = 0
                while not codes:
                    await poke(zk, index)  # type: ignore[misc]
                    index += 1
                    await trio.sleep(0.05)  # pace the changes; the loop ends on the result
    captured = capsys.readouterr()
    return Result(codes[0], captured.out, captured.err)


async def wait_deleted(zk: ZooKeeper, path: str) -> None:
    """Wait (bounded) until ``path`` is deleted by the server."""
    with trio.fail_after(WAIT):
        stat, events = await zk.with_watcher().exists(path)
        if stat is None:
            return
        async for event in events:
            if event.event_type is EventType.NODE_DELETED:
                return


def test_create_flags_as_zkcli(cli: CLI, prefix: str, hosts: str) -> None:
    cli.ok("create", prefix)
    seq = cli.ok("create", "-s", f"{prefix}/s-", "x").out.strip()
    assert re.fullmatch(rf"{re.escape(prefix)}/s-\d{{10}}", seq), seq
    eph = cli.ok("create", "-e", "-s", f"{prefix}/e-").out.strip()
    assert re.fullmatch(rf"{re.escape(prefix)}/e-\d{{10}}", eph), eph
    # zkCli's positional ACL (scheme:id:perms[,...]).
    cli.ok("create", f"{prefix}/acl", "data", "world:anyone:r,ip:127.0.0.1:cdrwa")
    cli.ok("create", "-t", "600000", f"{prefix}/ttl", "t")
    ttl_seq = cli.ok("create", "-s", "-t", "600000", f"{prefix}/ts-").out.strip()
    cli.ok("create", "-c", f"{prefix}/box")

    async def check(zk: ZooKeeper) -> None:
        data, stat = await zk.get_data(seq)
        assert (data, stat.ephemeral_owner) == (b"x", 0)
        assert await zk.exists(eph) is None  # ended with the command's session
        acl, _ = await zk.get_acl(f"{prefix}/acl")
        assert acl == [
            ACL(perms=1, id=Id(scheme="world", id="anyone")),
            ACL(perms=31, id=Id(scheme="ip", id="127.0.0.1")),
        ]
        assert (await zk.get_data(f"{prefix}/ttl"))[0] == b"t"
        assert await zk.exists(ttl_seq) is not None
        # A container goes once its last child does (the server checks every 500 ms).
        await zk.create(f"{prefix}/box/kid")
        await zk.delete(f"{prefix}/box/kid")
        await wait_deleted(zk, f"{prefix}/box")

    trio.run(second, hosts, check)

    # A TTL node without children goes once its TTL has passed.
    cli.ok("create", "-t", "1", f"{prefix}/short")

    async def check_ttl(zk: ZooKeeper) -> None:
        await wait_deleted(zk, f"{prefix}/short")

    trio.run(second, hosts, check_ttl)


def test_ls_get_set_stat_flags(cli: CLI, prefix: str, hosts: str) -> None:
    cli.ok("create", prefix, "v0")
    cli.ok("create", f"{prefix}/b")
    cli.ok("create", f"{prefix}/a")
    listed = cli.ok("ls", "-s", prefix).out.splitlines()
    assert listed[:2] == ["a", "b"]
    assert "num_children    = 2" in listed
    listed_json = cli.ok("--json", "ls", "-s", prefix).json()
    assert isinstance(listed_json, dict)
    assert listed_json["children"] == ["a", "b"]
    assert listed_json["stat"]["num_children"] == 2

    set_stat = cli.ok("set", "-s", prefix, "v1").out
    assert re.search(r"^version\s+= 1$", set_stat, re.M), set_stat
    bad = cli("set", "-v", "0", prefix, "v2")
    assert (bad.code, bad.err) == (1, f"error: version mismatch: {prefix}\n")
    cli.ok("set", "-v", "1", prefix, "v2")
    got = cli.ok("get", "-s", prefix).out.splitlines()
    assert got[0] == "v2"
    assert "version         = 2" in got

    bad = cli("delete", "-v", "5", f"{prefix}/a")
    assert bad.code == 1
    cli.ok("delete", "-v", "0", f"{prefix}/a")

    async def check(zk: ZooKeeper) -> None:
        assert await zk.get_children(prefix) == ["b"]
        assert (await zk.get_data(prefix))[0] == b"v2"

    trio.run(second, hosts, check)
    assert cli.ok("getAllChildrenNumber", prefix).out == "1\n"
    assert cli.ok("--json", "getAllChildrenNumber", prefix).json() == {
        "path": prefix,
        "number": 1,
    }
    assert cli.ok("sync", prefix).out == ""
    assert cli.ok("--json", "sync", prefix).json() == {"synced": prefix}
    assert cli.ok("getEphemerals", prefix).out == ""  # a fresh session has none
    assert cli.ok("version").out.startswith("trio-zookeeper ")
    assert cli.ok("whoami").out == "ip: 127.0.0.1\n"
    who = cli.ok("--json", "--auth", "digest:alice:pw", "whoami").json()
    assert {"scheme": "digest", "user": "alice"} in who  # type: ignore[operator]
    assert cli.ok("addauth", "digest", "alice:pw").out == ""
    assert cli("addauth", "digest", "nocolon").code == 2


async def test_watch_flags_wait_for_their_event(
    hosts: str, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with open_zookeeper(hosts) as zk:
        await zk.create(prefix, b"0")

    async def set_data(zk: ZooKeeper, index: int) -> None:
        await zk.set_data(prefix, str(index).encode())

    got = await run_until_done(hosts, ["get", "-w", prefix], capsys, set_data)
    assert got.code == 0
    lines = got.out.splitlines()
    assert lines[1] == f"WATCHER: NODE_DATA_CHANGED {prefix}"

    async def add_child(zk: ZooKeeper, index: int) -> None:
        await zk.create(f"{prefix}/c{index}")

    listed = await run_until_done(hosts, ["ls", "-w", prefix], capsys, add_child)
    assert listed.out.splitlines()[-1] == f"WATCHER: NODE_CHILDREN_CHANGED {prefix}"

    async def flip(zk: ZooKeeper, index: int) -> None:
        await zk.create(f"{prefix}/later")
        await zk.delete(f"{prefix}/later")

    flipped = await run_until_done(hosts, ["--json", "stat", "-w", f"{prefix}/later"], capsys, flip)
    # Missing when asked: the watch fires on creation, then the error; present:
    # the Stat, then the deletion.
    lines = flipped.out.splitlines()
    if flipped.code == 1:
        event = json.loads(lines[0])
        assert json.loads(lines[1])["error"]["type"] == "NoNodeError"
        kind = "NODE_CREATED"
    else:
        assert flipped.code == 0
        event = json.loads(lines[-1])
        kind = "NODE_DELETED"
    assert event == {"watch": {"type": kind, "path": f"{prefix}/later", "state": "SYNC_CONNECTED"}}

    async def persistent(zk: ZooKeeper, index: int) -> None:
        await zk.set_data(prefix, b"p%d" % index)

    added = await run_until_done(
        hosts, ["addWatch", "-m", "persistent", "-n", "2", prefix], capsys, persistent
    )
    assert added.code == 0
    assert added.out == f"NODE_DATA_CHANGED {prefix}\n" * 2


def test_deleteall_batches_and_rmr(cli: CLI, prefix: str, hosts: str) -> None:
    async def build(zk: ZooKeeper) -> None:
        await zk.create(prefix)
        for i in range(25):
            await zk.create(f"{prefix}/{i}/x", makepath=True)

    trio.run(second, hosts, build)
    assert cli.ok("--json", "deleteall", "-b", "7", prefix).json() == {
        "deleted": prefix,
        "nodes": 51,
    }

    async def gone(zk: ZooKeeper) -> object:
        return await zk.exists(prefix)

    assert trio.run(second, hosts, gone) is None
    cli.ok("create", "-p", f"{prefix}/y/z")
    cli.ok("rmr", prefix)
    assert trio.run(second, hosts, gone) is None
    assert cli("deleteall", prefix).err == f"error: no node: {prefix}\n"
    assert cli("deleteall", "/").code == 1
    assert cli("deleteall", "-b", "0", prefix).code == 2


def test_get_and_set_acl_as_zkcli(cli: CLI, prefix: str, hosts: str) -> None:
    digest = make_digest_acl_credential("admin", "pw")
    for path in ("", "/a", "/a/b", "/c"):
        cli.ok("create", f"{prefix}{path}")
    acl_text = cli.ok("getAcl", "-s", prefix).out.splitlines()
    assert acl_text[0] == "world:anyone:cdrwa"
    assert "aversion        = 0" in acl_text
    new_acl = f"digest:{digest}:cdrwa,world:anyone:r"
    stale = cli("setAcl", "-v", "3", prefix, new_acl)
    assert (stale.code, stale.err) == (1, f"error: version mismatch: {prefix}\n")
    out = cli.ok("setAcl", "-s", "-R", prefix, new_acl)
    assert out.code == 0

    async def check(zk: ZooKeeper) -> None:
        for path in ("", "/a", "/a/b", "/c"):
            acl, stat = await zk.get_acl(f"{prefix}{path}")
            assert [a.id.scheme for a in acl] == ["digest", "world"], path
            assert stat.aversion == 1

    trio.run(second, hosts, check)
    # Without ADMIN, a further -R fails on the root with a clear error.
    denied = cli("setAcl", "-R", prefix, "world:anyone:cdrwa")
    assert (denied.code, denied.err) == (1, f"error: not authorized: {prefix}\n")
    admin = ["--auth", "digest:admin:pw"]
    assert cli.ok(*admin, "--json", "setAcl", "-R", prefix, "world:anyone:cdrwa").json() == {
        "path": prefix,
        "nodes": 4,
    }
    for bad in ("world:anyone", "world:anyone:rx,", "nocolons"):
        assert cli("setAcl", prefix, bad).code == 2, bad


def test_quotas(cli: CLI, prefix: str, hosts: str) -> None:
    cli.ok("create", "-p", f"{prefix}/q/a")
    assert cli("listquota", f"{prefix}/q").err == f"error: no quota on {prefix}/q\n"
    cli.ok("setquota", "-n", "5", f"{prefix}/q")
    cli.ok("setquota", "-B", "1000", f"{prefix}/q")
    listed = cli.ok("listquota", f"{prefix}/q").out.splitlines()
    assert listed[0] == f"quota for {prefix}/q: count=5,bytes=-1=;byteHardLimit=1000"
    quota = cli.ok("--json", "listquota", f"{prefix}/q").json()
    assert isinstance(quota, dict)
    assert quota["quota"] == {"count": 5, "bytes": -1, "byteHardLimit": 1000}
    # Quotas do not nest.
    nested = cli("setquota", "-n", "1", f"{prefix}/q/a")
    assert nested.err == f"error: {prefix}/q/a has a parent {prefix}/q which has a quota\n"
    above = cli("setquota", "-n", "1", prefix)
    assert above.err == f"error: {prefix} has a child {prefix}/q which has a quota\n"

    async def limits(zk: ZooKeeper) -> object:
        return (await zk.get_data(f"/zookeeper/quota{prefix}/q/zookeeper_limits"))[0]

    assert trio.run(second, hosts, limits) == b"count=5,bytes=-1=;byteHardLimit=1000"
    cli.ok("delquota", "-n", f"{prefix}/q")
    assert trio.run(second, hosts, limits) == b"count=-1,bytes=-1=;byteHardLimit=1000"
    cli.ok("delquota", f"{prefix}/q")

    async def quota_nodes(zk: ZooKeeper) -> object:
        return await zk.exists(f"/zookeeper/quota{prefix}")

    assert trio.run(second, hosts, quota_nodes) is None
    assert cli("setquota", f"{prefix}/q").code == 2
    assert cli("setquota", "-n", "1", f"{prefix}/none").code == 1


def test_config_reconfig_removewatches_status(cli: CLI) -> None:
    # A standalone server has no dynamic configuration: empty, and reconfig is off.
    assert cli.ok("config").out == ""
    config = cli.ok("--json", "config", "-s", "-c").json()
    assert isinstance(config, dict)
    assert config["config"] == ""
    assert "stat" in config
    refused = cli("reconfig", "-add", "server.5=127.0.0.1:1:2;3")
    assert (refused.code, refused.err) == (1, "error: Reconfiguration is disabled\n")
    assert cli("reconfig").code == 2
    assert cli("reconfig", "-members", "a", "-add", "b").code == 2
    none = cli("removewatches", "/", "-d")
    assert (none.code, none.err) == (1, "error: No such watcher: /\n")
    for word in ("conf", "envi", "wchs", "isro", "dirs"):
        assert cli.ok("status", word).out.strip(), word


def test_json_errors_and_max_frame_size(cli: CLI, prefix: str) -> None:
    missing = cli("--json", "get", f"{prefix}/none")
    assert (missing.code, missing.err) == (1, "")
    assert missing.json() == {
        "error": {
            "type": "NoNodeError",
            "message": f"no node: {prefix}/none",
            "path": f"{prefix}/none",
            "code": -101,
        }
    }
    usage = cli("--json", "ls", "relative")
    assert (usage.code, usage.err) == (2, "")
    error = usage.json()
    assert isinstance(error, dict)
    assert error["error"]["type"] == "UsageError"
    assert "must start with '/'" in error["error"]["message"]
    unknown = cli("--json", "frobnicate")
    assert unknown.code == 2
    assert "invalid choice" in unknown.json()["error"]["message"]  # type: ignore[index]

    # A listing larger than --max-frame-size fails; the default frame size reads it.
    cli.ok("create", prefix)
    names = [f"{'n' * 60}{i:03d}" for i in range(40)]

    async def build(zk: ZooKeeper) -> None:
        transaction = zk.multi()
        for name in names:
            transaction.create(f"{prefix}/{name}", b"", mode=CreateMode.PERSISTENT)
        await transaction.run()

    trio.run(second, cli.hosts, build)
    assert cli.ok("ls", prefix).out.splitlines() == names
    small = cli("--max-frame-size", "1024", "ls", prefix)
    assert small.code == 1
    assert small.err.startswith("error: "), small
    assert cli("--max-frame-size", "0", "ls", prefix).code == 2
