"""The recursive commands: dump/load round trips, declared modes, partial reads, depth, progress.

``ls -R``, ``tree``, ``dump``, ``load``, ``deleteall`` and ``setAcl -R``
walk the tree with many requests in flight (``trio_zookeeper._tree``). Here:
what they keep (data, ACLs, declared container/TTL modes, ephemeral nodes
only on request), what they do with a node they may not read (print the
rest, warn, exit 3), a 5,000-deep chain, and progress only on a terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio

from trio_zookeeper import (
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    EventType,
    ZooKeeper,
    make_digest_acl,
    make_digest_acl_credential,
    open_zookeeper,
)
from trio_zookeeper.testing import ZooKeeperServer

from .conftest import CLI, SUBPROCESS_TIMEOUT, Result, create_two_levels, run_subprocess

pytestmark = pytest.mark.server

WAIT = 20.0
DEPTH = 5000


async def with_client(hosts: str, check: object) -> object:
    async with open_zookeeper(hosts) as zk:
        return await check(zk)  # type: ignore[operator]


def dump_nodes(result_out: str) -> dict[str, dict[str, object]]:
    document = json.loads(result_out)
    return {node["path"]: node for node in document["nodes"]}


def test_dump_load_keeps_acls_and_skips_ephemerals(
    cli: CLI, prefix: str, hosts: str, tmp_path: Path
) -> None:
    digest = make_digest_acl_credential("admin", "pw")
    admin = ["--auth", "digest:admin:pw"]
    src, dst = f"{prefix}/src", f"{prefix}/dst"
    cli.ok("create", "-p", f"{src}/open", "o")
    cli.ok(*admin, "create", f"{src}/secret", "s", f"digest:{digest}:cdrwa,world:anyone:r")
    cli.ok(*admin, "create", f"{src}/secret/inner", "\xff", f"digest:{digest}:cdrwa")

    async def add_ephemeral(zk: ZooKeeper) -> object:
        from trio_zookeeper import CreateMode

        # The dump runs while this session (and its ephemeral node) lives.
        await zk.create(f"{src}/open/eph", b"e", mode=CreateMode.EPHEMERAL)
        plain = await trio.to_thread.run_sync(
            lambda: run_subprocess("-H", hosts, *admin, "dump", src)
        )
        with_eph = await trio.to_thread.run_sync(
            lambda: run_subprocess("-H", hosts, *admin, "dump", "--ephemeral", src)
        )
        return plain, with_eph

    results = trio.run(with_client, hosts, add_ephemeral)
    assert isinstance(results, tuple)
    plain: Result = results[0]
    with_eph: Result = results[1]
    assert plain.code == 0, plain
    assert "1 ephemeral node(s) left out" in plain.err
    nodes = dump_nodes(plain.out)
    assert sorted(nodes) == ["", "open", "secret", "secret/inner"]
    assert nodes["secret"]["acl"] == [f"digest:{digest}:cdrwa", "world:anyone:r"]
    assert nodes["secret/inner"] == {
        "path": "secret/inner",
        "data": "\xff",  # UTF-8 text from the command line
        "acl": [f"digest:{digest}:cdrwa"],
    }
    assert with_eph.code == 0, with_eph
    assert dump_nodes(with_eph.out)["open/eph"]["mode"] == "ephemeral"

    dump_file = tmp_path / "dump.json"
    dump_file.write_text(with_eph.out)
    loaded = cli.ok(*admin, "--json", "load", dst, str(dump_file))
    report = loaded.json()
    assert isinstance(report, dict)
    assert sorted(report["created"]) == [dst, f"{dst}/open", f"{dst}/secret", f"{dst}/secret/inner"]
    assert report["skipped"] == [f"{dst}/open/eph"]
    assert "1 ephemeral node(s) skipped" in loaded.err

    async def check(zk: ZooKeeper) -> None:
        await zk.add_auth("digest", "admin:pw")
        acl, _ = await zk.get_acl(f"{dst}/secret/inner")
        assert acl == [make_digest_acl("admin", "pw")]
        assert (await zk.get_data(f"{dst}/secret"))[0] == b"s"
        assert await zk.exists(f"{dst}/open/eph") is None

    trio.run(with_client, hosts, check)
    # A dump without ADMIN permission sees masked digests: it says so.
    masked = cli("dump", src)
    assert masked.code == 3
    assert f"the ACL of {src}/secret was read without ADMIN permission" in masked.err
    # Loading over existing nodes: unchanged, or replaced (data and ACL) with --overwrite.
    again = cli.ok(*admin, "--json", "load", dst, str(dump_file)).json()
    assert isinstance(again, dict)
    assert len(again["unchanged"]) == 4
    cli.ok(*admin, "setAcl", f"{dst}/secret", "world:anyone:cdrwa")
    kept = cli.ok(*admin, "--json", "load", dst, str(dump_file)).json()
    assert kept["kept"] == [f"{dst}/secret"]  # type: ignore[index]
    over = cli.ok(*admin, "--json", "load", "--overwrite", dst, str(dump_file)).json()
    assert over["updated"] == [f"{dst}/secret"]  # type: ignore[index]
    acl_text = cli.ok(*admin, "getAcl", f"{dst}/secret").out
    assert acl_text == f"digest:{digest}:cdrwa\nworld:anyone:r\n"


def test_load_honours_declared_container_and_ttl_modes(
    cli: CLI, prefix: str, hosts: str, tmp_path: Path
) -> None:
    document = {
        "format": "trio-zookeeper-dump",
        "version": 2,
        "path": "/anything",
        "nodes": [
            {"path": "", "data": "root"},
            {"path": "jobs", "data": "", "mode": "container"},
            {"path": "jobs/one", "data": "1"},
            {"path": "lease", "data": "l", "mode": "ttl", "ttl": 1},
            {"path": "keep", "data": "k", "mode": "ttl", "ttl": 600000},
        ],
    }
    dump_file = tmp_path / "modes.json"
    dump_file.write_text(json.dumps(document))
    cli.ok("load", prefix, str(dump_file))

    async def check(zk: ZooKeeper) -> None:
        assert (await zk.get_data(f"{prefix}/jobs/one"))[0] == b"1"
        with trio.fail_after(WAIT):
            # The TTL node without children goes once its TTL has passed.
            stat, events = await zk.with_watcher().exists(f"{prefix}/lease")
            if stat is not None:
                async for event in events:
                    if event.event_type is EventType.NODE_DELETED:
                        break
            # The container goes once its last child does.
            await zk.delete(f"{prefix}/jobs/one")
            stat, events = await zk.with_watcher().exists(f"{prefix}/jobs")
            if stat is not None:
                async for event in events:
                    if event.event_type is EventType.NODE_DELETED:
                        break
        assert await zk.exists(f"{prefix}/keep") is not None
        assert await zk.exists(prefix) is not None

    trio.run(with_client, hosts, check)

    bad_cases = [
        ({"path": "x", "mode": "ttl"}, "mode ttl needs a positive integer ttl"),
        ({"path": "x", "mode": "weird"}, "mode must be one of"),
        ({"path": "x", "ttl": 5}, "ttl is only for mode ttl"),
        ({"path": "a/b"}, "comes before its parent"),
        ({"path": "x", "acl": ["world:anyone"]}, "invalid ACL entry"),
        ({"path": "x", "extra": 1}, "unknown field"),
    ]
    for node, message in bad_cases:
        dump_file.write_text(json.dumps({**document, "nodes": [{"path": "", "data": ""}, node]}))
        result = cli("load", f"{prefix}/bad", str(dump_file))
        assert result.code == 1, node
        assert message in result.err, (node, result.err)


def test_version_1_dumps_still_load(cli: CLI, prefix: str, tmp_path: Path) -> None:
    old = {
        "format": "trio-zookeeper-dump",
        "version": 1,
        "path": "/x",
        "root": {"data": "r", "children": {"a": {"data": {"base64": "//4="}, "children": {}}}},
    }
    dump_file = tmp_path / "v1.json"
    dump_file.write_text(json.dumps(old))
    cli.ok("load", prefix, str(dump_file))
    assert cli.ok("get", prefix).out == "r\n"
    assert cli.ok("--json", "get", f"{prefix}/a").json() == {
        "path": f"{prefix}/a",
        "data": {"base64": "//4="},
    }


def test_unreadable_nodes_give_partial_output_and_a_warning(
    cli: CLI, prefix: str, tmp_path: Path
) -> None:
    digest = make_digest_acl_credential("admin", "pw")
    cli.ok("create", "-p", f"{prefix}/a/x")
    cli.ok("create", "-p", f"{prefix}/c")
    cli.ok("--auth", "digest:admin:pw", "create", f"{prefix}/b", "", f"digest:{digest}:cdrwa")
    cli.ok("--auth", "digest:admin:pw", "create", f"{prefix}/b/hidden")

    listed = cli("ls", "-R", prefix)
    assert listed.code == 3
    assert listed.out.splitlines() == [f"{prefix}/a", f"{prefix}/a/x", f"{prefix}/c"]
    assert listed.err == (
        f"warning: cannot read {prefix}/b (not authorized): it and its subtree are left out\n"
    )
    tree = cli("tree", prefix)
    assert tree.code == 3
    assert tree.out == f"{prefix}\n├── a\n│   └── x\n└── c\n"
    dumped = cli("dump", prefix)
    assert dumped.code == 3
    assert sorted(dump_nodes(dumped.out)) == ["", "a", "a/x", "c"]
    assert f"cannot read {prefix}/b" in dumped.err
    # With the credentials, everything.
    full = cli.ok("--auth", "digest:admin:pw", "--json", "ls", "-R", prefix).json()
    assert full == [f"{prefix}/{p}" for p in ("a", "a/x", "b", "b/hidden", "c")]
    # Loading over nodes it may not read: the rest, and a warning.
    dump_file = tmp_path / "all.json"
    cli.ok("--auth", "digest:admin:pw", "dump", prefix, str(dump_file))
    reloaded = cli("--json", "load", prefix, str(dump_file))
    assert reloaded.code == 3
    report = reloaded.json()
    assert isinstance(report, dict)
    assert sorted(report["unchanged"]) == [prefix, f"{prefix}/a", f"{prefix}/a/x", f"{prefix}/c"]
    assert report["skipped"] == [f"{prefix}/b/hidden"]
    assert reloaded.err == (
        f"warning: cannot load {prefix}/b: not authorized: {prefix}/b; its subtree is skipped\n"
    )
    # deleteall deletes what it may; the node it may not list stops it, clearly.
    refused = cli("deleteall", prefix)
    assert (refused.code, refused.err) == (1, f"error: not authorized: {prefix}/b\n")


def test_tree_json_and_ls_json_stream_valid_documents(cli: CLI, prefix: str) -> None:
    for path in ("b/y", "b/x", "a", "c/z/deep"):
        cli.ok("create", "-p", f"{prefix}/{path}")
    tree = cli.ok("--json", "tree", prefix).json()
    assert tree == {
        "name": prefix,
        "path": prefix,
        "children": [
            {"name": "a", "path": f"{prefix}/a", "children": []},
            {
                "name": "b",
                "path": f"{prefix}/b",
                "children": [
                    {"name": "x", "path": f"{prefix}/b/x", "children": []},
                    {"name": "y", "path": f"{prefix}/b/y", "children": []},
                ],
            },
            {
                "name": "c",
                "path": f"{prefix}/c",
                "children": [
                    {
                        "name": "z",
                        "path": f"{prefix}/c/z",
                        "children": [
                            {"name": "deep", "path": f"{prefix}/c/z/deep", "children": []}
                        ],
                    }
                ],
            },
        ],
    }
    assert cli.ok("--json", "ls", "-R", f"{prefix}/a").json() == []


# ---------------------------------------------------------------- depth 5,000
@pytest.fixture
def deep_hosts(deep_server: ZooKeeperServer) -> str:
    return deep_server.connect_string


def test_recursive_commands_on_a_chain_of_5000(
    deep_hosts: str, build_chain: Callable[..., Awaitable[str]], tmp_path: Path
) -> None:
    async def build(zk: ZooKeeper) -> object:
        return await build_chain(zk, "/chain", DEPTH, data=b"d")

    deepest = trio.run(with_client, deep_hosts, build)
    dump_file = tmp_path / "chain.json"
    common = [sys.executable, "-m", "trio_zookeeper", "-H", deep_hosts]
    # The three walks run at once (each is 5,000 round trips deep). Their
    # output goes to files, not pipes: a pipe read only after another
    # walk's would hold the writer (the tree's output is about 50 MB) for as
    # long as that walk takes, its session unpinged meanwhile.
    walks = {
        "ls": [*common, "ls", "-R", "/chain"],
        "tree": [*common, "tree", "/chain"],
        "dump": [*common, "dump", "/chain", str(dump_file)],
    }
    outputs: dict[str, tuple[int, bytes, bytes]] = {}
    with contextlib.ExitStack() as stack:
        running = {}
        for name, command in walks.items():
            out = stack.enter_context(open(tmp_path / f"{name}.out", "w+b"))
            err = stack.enter_context(open(tmp_path / f"{name}.err", "w+b"))
            running[name] = (
                stack.enter_context(subprocess.Popen(command, stdout=out, stderr=err)),
                out,
                err,
            )
        for name, (process, out, err) in running.items():
            code = process.wait(timeout=120)
            out.seek(0)
            err.seek(0)
            outputs[name] = (code, out.read(), err.read())
    ls_code, ls_out, ls_err = outputs["ls"]
    tree_code, tree_out, tree_err = outputs["tree"]
    dump_code, _, dump_err = outputs["dump"]
    assert (ls_code, ls_err) == (0, b""), ls_err[-2000:]
    ls_lines = ls_out.decode().splitlines()
    assert len(ls_lines) == DEPTH
    assert ls_lines[-1] == deepest
    assert (tree_code, tree_err) == (0, b""), tree_err[-2000:]
    tree_lines = tree_out.decode().splitlines()
    assert len(tree_lines) == DEPTH + 1
    assert tree_lines[-1] == " " * 4 * (DEPTH - 1) + "└── n"
    assert (dump_code, dump_err) == (0, b""), dump_err[-2000:]
    document = json.loads(dump_file.read_text())
    assert len(document["nodes"]) == DEPTH + 1
    assert document["nodes"][-1]["path"] == "/".join(["n"] * DEPTH)

    # Load it elsewhere, then deleteall the copy: no depth limit anywhere.
    loaded = run_subprocess("-H", deep_hosts, "load", "/copy", str(dump_file), timeout=120)
    assert loaded.code == 0, loaded.err[-2000:]
    assert (
        loaded.out
        == f"loaded /copy: {DEPTH + 1} created, 0 updated, 0 unchanged, 0 kept, 0 skipped\n"
    )

    async def copied(zk: ZooKeeper) -> object:
        return await zk.get_data("/copy" + "/n" * DEPTH)

    assert trio.run(with_client, deep_hosts, copied)[0] == b"d"  # type: ignore[index]
    deleted = run_subprocess("-H", deep_hosts, "deleteall", "/copy", timeout=120)
    assert deleted.code == 0, deleted.err[-2000:]

    async def left(zk: ZooKeeper) -> object:
        return sorted(await zk.get_children("/"))

    assert trio.run(with_client, deep_hosts, left) == ["chain", "zookeeper"]


# ------------------------------------------------------------------- progress
def run_on_terminal(argv: list[str]) -> tuple[int, bytes, bytes]:
    """Run the CLI with stderr on a pseudo-terminal, stdout on a pipe."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trio_zookeeper", *argv],
            stdout=subprocess.PIPE,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
        )
        os.close(secondary)
        terminal = b""
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                terminal += chunk
            elif proc.poll() is not None:
                break
        assert proc.stdout is not None
        out = proc.stdout.read()
        code = proc.wait(timeout=SUBPROCESS_TIMEOUT)
        proc.stdout.close()
    finally:
        os.close(primary)
    return code, out, terminal


def test_progress_only_on_a_terminal(cli: CLI, prefix: str, hosts: str, tmp_path: Path) -> None:
    async def build(zk: ZooKeeper) -> None:
        await zk.create(prefix)
        for start in range(0, 300, 100):
            transaction = zk.multi()
            for i in range(start, start + 100):
                transaction.create(f"{prefix}/{i:03d}", b"x")
            await transaction.run()

    trio.run(with_client, hosts, build)
    dump_file = tmp_path / "d.json"
    code, out, terminal = run_on_terminal(["-H", hosts, "dump", prefix, str(dump_file)])
    assert code == 0
    assert out == f"wrote 301 node(s) under {prefix} to {dump_file}\n".encode()
    # At least the first update is shown (later ones are throttled), then cleared.
    assert f"dump {prefix}: ".encode() in terminal, terminal
    assert terminal.endswith(b"\r\x1b[K"), terminal[-200:]
    code, out, terminal = run_on_terminal(["-H", hosts, "deleteall", prefix])
    assert (code, out) == (0, b"")
    assert f"deleteall {prefix}: ".encode() in terminal
    # Not a terminal: nothing but warnings and errors on stderr.
    piped = run_subprocess("-H", hosts, "ls", "-R", "/zookeeper")
    assert (piped.code, piped.err) == (0, "")


def test_set_acl_recursive_sets_every_node_and_warns_for_one_it_may_not_change(
    cli: CLI, prefix: str, hosts: str
) -> None:
    # 300 nodes, more than the writes it keeps in flight; one readable by
    # anyone but changeable by nobody without ADMIN.
    async def build(zk: ZooKeeper) -> None:
        async with zk.pipeline() as pipe:
            create_two_levels(pipe, prefix, 15, 19)
            pipe.create(f"{prefix}/locked", acl=READ_ACL_UNSAFE)

    trio.run(with_client, hosts, build)
    result = cli("--json", "setAcl", "-R", prefix, "world:anyone:cdrwa,world:anyone:r")
    assert result.code == 3, result.err
    assert f"cannot set the ACL of {prefix}/locked: not authorized" in result.err
    assert json.loads(result.out) == {"path": prefix, "nodes": 301}

    async def check(zk: ZooKeeper) -> None:
        async with zk.walk(prefix, acl=True) as nodes:
            changed = [node.path async for node in nodes if node.acl and len(node.acl) == 2]
        assert len(changed) == 301
        assert f"{prefix}/locked" not in changed

    trio.run(with_client, hosts, check)


def spawned_by(monkeypatch: pytest.MonkeyPatch, command: Callable[[], object]) -> int:
    """How many trio tasks ``command()`` spawns (its ``trio.run`` instrumented)."""
    spawned: list[trio.lowlevel.Task] = []

    class Spawns(trio.abc.Instrument):
        def task_spawned(self, task: trio.lowlevel.Task) -> None:
            spawned.append(task)

    run = trio.run
    with monkeypatch.context() as patch:
        patch.setattr(trio, "run", lambda *a, **kw: run(*a, instruments=[Spawns()], **kw))
        command()
    return len(spawned)


def test_load_over_a_wide_existing_tree_compares_and_overwrites_every_node(
    cli: CLI, prefix: str, hosts: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 200 siblings, more than the nodes load keeps in flight, so that creates,
    # compares and updates of different nodes share the window.
    src = f"{prefix}/src"

    async def build(zk: ZooKeeper) -> None:
        async with zk.pipeline() as pipe:
            pipe.create(prefix)
            pipe.create(src, b"root")
            for i in range(200):
                pipe.create(f"{src}/n{i:03d}", f"v{i}".encode())

    trio.run(with_client, hosts, build)
    dump_file = tmp_path / "wide.json"
    cli.ok("dump", src, str(dump_file))
    deleted = [f"{src}/n{i:03d}" for i in (0, 77, 199)]
    changed = [f"{src}/n{i:03d}" for i in (5, 64, 150)]
    other_acl = f"{src}/n100"

    async def diverge(zk: ZooKeeper) -> None:
        for path in deleted:
            await zk.delete(path)
        for path in changed:
            await zk.set_data(path, b"changed")
        await zk.set_acl(other_acl, [*OPEN_ACL_UNSAFE, make_digest_acl("x", "y")])

    trio.run(with_client, hosts, diverge)
    kept = cli.ok("--json", "load", src, str(dump_file)).json()
    assert isinstance(kept, dict)
    assert sorted(kept["created"]) == deleted
    assert sorted(kept["kept"]) == sorted([*changed, other_acl])
    assert len(kept["unchanged"]) == 201 - 3 - 4
    assert kept["updated"] == kept["skipped"] == []

    async def diverge_again(zk: ZooKeeper) -> None:
        await zk.set_data(changed[0], b"changed again")

    trio.run(with_client, hosts, diverge_again)
    loaded: list[object] = []
    # No task per node: about as many tasks as a command that reads one node
    # (a reconnect meanwhile would add a few; a task per node adds 200).
    tasks = spawned_by(
        monkeypatch,
        lambda: loaded.append(cli.ok("--json", "load", "--overwrite", src, str(dump_file)).json()),
    )
    assert tasks <= spawned_by(monkeypatch, lambda: cli.ok("get", src)) + 10
    over = loaded[0]
    assert isinstance(over, dict)
    assert sorted(over["updated"]) == sorted([*changed, other_acl])
    assert len(over["unchanged"]) == 201 - 4
    assert over["created"] == over["kept"] == over["skipped"] == []

    async def check(zk: ZooKeeper) -> None:
        async with zk.walk(src, data=True, acl=True) as nodes:
            seen = {node.path: (node.data, node.acl) async for node in nodes}
        assert len(seen) == 201
        assert seen[src][0] == b"root"
        for i in range(200):
            data, acl = seen[f"{src}/n{i:03d}"]
            assert data == f"v{i}".encode()
            assert list(acl or ()) == list(OPEN_ACL_UNSAFE)  # world:anyone:cdrwa again

    trio.run(with_client, hosts, check)
