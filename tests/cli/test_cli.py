"""The command line against a real ZooKeeper server.

Most tests call :func:`trio_zookeeper._cli.main` in-process and capture its
output; a few run ``python -m trio_zookeeper`` as a real subprocess to check
exit codes, the one-line errors and signal handling. Each test works under its
own unique path prefix.
"""

from __future__ import annotations

import base64
import json
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
import trio

from trio_zookeeper import CreateMode, open_zookeeper
from trio_zookeeper._cli import main
from trio_zookeeper.testing import ZooKeeperServer

from .conftest import CLI, SUBPROCESS_TIMEOUT, Server, free_port, popen_cli, run_subprocess

pytestmark = pytest.mark.server


# ---------------------------------------------------------------- basic CRUD
def test_create_get_set_stat_delete(cli: CLI, prefix: str) -> None:
    assert cli.ok("create", prefix, "hello").out == f"{prefix}\n"
    assert cli.ok("get", prefix).out == "hello\n"

    assert cli.ok("set", prefix, "world").out == ""
    got = cli.ok("--json", "get", "--stat", prefix).json()
    assert isinstance(got, dict)
    assert got["path"] == prefix
    assert got["data"] == "world"
    assert got["stat"]["version"] == 1
    assert got["stat"]["data_length"] == 5

    stat_text = cli.ok("stat", prefix).out
    assert re.search(r"^version\s+= 1$", stat_text, re.M), stat_text
    assert re.search(r"^czxid\s+= 0x[0-9a-f]+$", stat_text, re.M), stat_text
    stat_json = cli.ok("stat", prefix, "--json").json()  # options after the command too
    assert isinstance(stat_json, dict)
    assert stat_json["version"] == 1
    assert stat_json["num_children"] == 0

    # A conditional set with the wrong version fails; with the right one it works.
    bad = cli("set", "--version", "0", prefix, "nope")
    assert (bad.code, bad.out, bad.err) == (1, "", f"error: version mismatch: {prefix}\n")
    set_json = cli.ok("--json", "set", "-v", "1", prefix, "again").json()
    assert isinstance(set_json, dict)
    assert set_json["stat"]["version"] == 2

    bad = cli("delete", "--version", "7", prefix)
    assert (bad.code, bad.err) == (1, f"error: version mismatch: {prefix}\n")
    assert cli.ok("--json", "delete", "--version", "2", prefix).json() == {"deleted": prefix}
    missing = cli("get", prefix)
    assert (missing.code, missing.out, missing.err) == (1, "", f"error: no node: {prefix}\n")
    assert cli("stat", prefix).err == f"error: no node: {prefix}\n"


def test_binary_data_from_file_and_to_file(cli: CLI, prefix: str, tmp_path: Path) -> None:
    payload = bytes(range(256))
    source = tmp_path / "in.bin"
    source.write_bytes(payload)
    cli.ok("create", prefix, "--file", str(source))

    shown = cli.ok("get", prefix)
    assert shown.out == base64_text(payload) + "\n"
    assert "binary data, 256 bytes" in shown.err
    assert cli.ok("--json", "get", prefix).json() == {
        "path": prefix,
        "data": {"base64": base64_text(payload)},
    }
    target = tmp_path / "out.bin"
    cli.ok("get", prefix, "-o", str(target))
    assert target.read_bytes() == payload

    unreadable = cli("set", prefix, "-f", str(tmp_path / "absent"))
    assert unreadable.code == 1
    assert unreadable.err.startswith(f"error: cannot read {tmp_path / 'absent'}: ")


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_create_modes(cli: CLI, prefix: str) -> None:
    created = cli.ok("create", "--makepath", f"{prefix}/a/b/c", "deep").out
    assert created == f"{prefix}/a/b/c\n"
    seq = cli.ok("create", "-m", "sequential", f"{prefix}/seq-").out.strip()
    assert re.fullmatch(rf"{re.escape(prefix)}/seq-\d{{10}}", seq), seq
    bare_seq = cli.ok("--json", "create", "-m", "sequential", f"{prefix}/").json()
    assert isinstance(bare_seq, dict)
    assert re.fullmatch(rf"{re.escape(prefix)}/\d{{10}}", bare_seq["path"]), bare_seq

    # An ephemeral node lives as long as the command's session: gone afterwards.
    eph = cli.ok("create", "-m", "ephemeral-sequential", f"{prefix}/eph-").out.strip()
    assert re.fullmatch(rf"{re.escape(prefix)}/eph-\d{{10}}", eph), eph
    assert cli("stat", eph).code == 1
    cli.ok("create", "--mode", "ephemeral", f"{prefix}/eph")
    assert cli("stat", f"{prefix}/eph").code == 1

    cli.ok("create", "-m", "container", f"{prefix}/box")
    cli.ok("create", "-m", "ttl", "--ttl", "600000", f"{prefix}/ttl", "t")
    ttl_seq = cli.ok("create", "-m", "ttl-sequential", "--ttl", "600000", f"{prefix}/ts-")
    assert re.fullmatch(rf"{re.escape(prefix)}/ts-\d{{10}}\n", ttl_seq.out)
    assert cli.ok("get", f"{prefix}/ttl").out == "t\n"

    exists = cli("create", f"{prefix}/a", "again")
    assert (exists.code, exists.err) == (1, f"error: node exists: {prefix}/a\n")
    no_parent = cli("create", f"{prefix}/nope/child")
    assert (no_parent.code, no_parent.err) == (1, f"error: no node: {prefix}/nope/child\n")

    # Usage errors: exit 2, one line, nothing sent.
    for argv in (
        ["create", "-m", "ttl", f"{prefix}/x"],
        ["create", "-e", "-t", "5", f"{prefix}/x"],
        ["create", "-c", "-s", f"{prefix}/x"],
        ["create", "-m", "persistent", "-s", f"{prefix}/x"],
        ["create", "-t", "5", "--ttl", "5", f"{prefix}/x"],
        ["create", f"{prefix}/x", "data", "world:anyone"],
        ["create", f"{prefix}/x", "data", "--file", "/dev/null"],
        ["create", f"{prefix}/trailing/"],
        ["create", "-m", "sideways", f"{prefix}/x"],
    ):
        usage = cli(*argv)
        assert usage.code == 2, (argv, usage)
        assert usage.err.strip().splitlines()[-1].startswith(("error:", "trio-zookeeper")), usage
    assert cli("stat", f"{prefix}/x").code == 1


def test_ls_tree_and_recursive_delete(cli: CLI, prefix: str) -> None:
    for path in ("b/y", "b/x", "a", "c/z/deep"):
        cli.ok("create", "-p", f"{prefix}/{path}")
    assert cli.ok("ls", prefix).out == "a\nb\nc\n"
    assert cli.ok("--json", "ls", prefix).json() == ["a", "b", "c"]
    recursive = [f"{prefix}/{p}" for p in ("a", "b", "b/x", "b/y", "c", "c/z", "c/z/deep")]
    assert cli.ok("ls", "-R", prefix).out.splitlines() == recursive
    assert cli.ok("ls", "--recursive", "--json", prefix).json() == recursive

    assert cli.ok("tree", prefix).out == (
        f"{prefix}\n├── a\n├── b\n│   ├── x\n│   └── y\n└── c\n    └── z\n        └── deep\n"
    )
    tree = cli.ok("--json", "tree", f"{prefix}/b").json()
    assert tree == {
        "name": f"{prefix}/b",
        "path": f"{prefix}/b",
        "children": [
            {"name": "x", "path": f"{prefix}/b/x", "children": []},
            {"name": "y", "path": f"{prefix}/b/y", "children": []},
        ],
    }
    assert cli("tree", f"{prefix}/none").err == f"error: no node: {prefix}/none\n"
    assert cli("ls", f"{prefix}/none").err == f"error: no node: {prefix}/none\n"

    not_empty = cli("delete", f"{prefix}/b")
    assert not_empty.code == 1
    assert not_empty.err == f"error: node has children (use delete -r or deleteall): {prefix}/b\n"
    cli.ok("delete", "-r", prefix)
    assert cli("ls", prefix).code == 1

    bad_path = cli("ls", "relative/path")
    assert bad_path.code == 2
    assert "must start with '/'" in bad_path.err


# -------------------------------------------------------------- dump / load
def test_dump_load_round_trip(cli: CLI, prefix: str, tmp_path: Path) -> None:
    src, dst = f"{prefix}/src", f"{prefix}/copy/dst"
    cli.ok("create", "-p", f"{src}/conf/db", "host=db1")
    cli.ok("create", f"{src}/conf/empty")
    cli.ok("create", f"{src}/text", "héllo wörld ✓")
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    cli.ok("create", f"{src}/bin", "-f", str(binary))
    cli.ok("set", src, "root data")

    dumped = cli.ok("dump", src).json()
    assert isinstance(dumped, dict)
    assert dumped["format"] == "trio-zookeeper-dump"
    assert dumped["path"] == src
    assert dumped["version"] == 2
    nodes = {node["path"]: node for node in dumped["nodes"]}
    # Parents first, in sorted depth-first order.
    assert [node["path"] for node in dumped["nodes"]] == [
        "",
        "bin",
        "conf",
        "conf/db",
        "conf/empty",
        "text",
    ]
    assert nodes[""]["data"] == "root data"
    assert nodes["bin"] == {
        "path": "bin",
        "data": {"base64": "//4AAQ=="},
        "acl": ["world:anyone:cdrwa"],
    }
    assert nodes["text"]["data"] == "héllo wörld ✓"
    assert nodes["conf/db"]["data"] == "host=db1"

    dump_file = tmp_path / "dump.json"
    written = cli.ok("dump", src, str(dump_file))
    assert written.out == f"wrote 6 node(s) under {src} to {dump_file}\n"

    # Into another path whose parents do not exist yet.
    loaded = cli.ok("--json", "load", dst, str(dump_file)).json()
    assert isinstance(loaded, dict)
    assert len(loaded["created"]) == 6
    assert loaded["updated"] == loaded["unchanged"] == loaded["kept"] == []
    copy = cli.ok("dump", dst).json()
    assert isinstance(copy, dict)
    assert copy["nodes"] == dumped["nodes"]
    assert cli.ok("get", f"{dst}/text", "-o", "-").out == "héllo wörld ✓"  # raw: no newline
    assert cli.ok("get", f"{dst}/text").out == "héllo wörld ✓\n"

    # Loading again changes nothing; differing nodes are kept unless --overwrite.
    cli.ok("set", f"{dst}/conf/db", "host=changed")
    cli.ok("delete", f"{dst}/conf/empty")
    again = cli.ok("load", dst, str(dump_file))
    assert again.out == f"loaded {dst}: 1 created, 0 updated, 4 unchanged, 1 kept, 0 skipped\n"
    assert "use --overwrite" in again.err
    assert cli.ok("get", f"{dst}/conf/db").out == "host=changed\n"
    over = cli.ok("--json", "load", "--overwrite", dst, str(dump_file)).json()
    assert isinstance(over, dict)
    assert over["updated"] == [f"{dst}/conf/db"]
    assert cli.ok("get", f"{dst}/conf/db").out == "host=db1\n"

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    invalid = cli("load", dst, str(bad))
    assert invalid.code == 1
    assert invalid.err.startswith(f"error: invalid dump file {bad}")
    assert cli("dump", f"{prefix}/none").err == f"error: no node: {prefix}/none\n"


# ----------------------------------------------------------------------- ACLs
def test_acl_digest_get_set(cli: CLI, prefix: str, zookeeper_server: Server) -> None:
    digest = cli.ok("acl", "digest", "alice:s3cret").out.strip()
    assert digest.startswith("alice:")
    assert cli.ok("--json", "acl", "digest", "alice:s3cret").json() == {
        "scheme": "digest",
        "id": digest,
    }
    node = f"{prefix}/secret"
    cli.ok("create", "-p", f"{prefix}/x")
    cli.ok("create", node, "hidden", "--acl", f"digest:{digest}:cdrwa")

    denied = cli("get", node)
    assert (denied.code, denied.out, denied.err) == (1, "", f"error: not authorized: {node}\n")
    alice = ["--auth", "digest:alice:s3cret"]
    assert cli.ok(*alice, "get", node).out == "hidden\n"
    assert cli.ok("acl", "get", node, *alice).out == f"digest:{digest}:cdrwa\n"  # --auth after
    assert cli("--auth", "digest:alice:wrong", "get", node).code == 1

    # Only alice may change the ACL; then everybody may read, nobody else write.
    assert cli("acl", "set", node, "world:anyone:r").err == f"error: not authorized: {node}\n"
    set_json = cli.ok(
        *alice, "--json", "acl", "set", node, "world:anyone:r", f"digest:{digest}:cdrwa"
    ).json()
    assert set_json == {"path": node, "aversion": 1}
    assert cli.ok("get", node).out == "hidden\n"
    acl = cli.ok(*alice, "--json", "acl", "get", node).json()
    assert acl == {
        "path": node,
        "acl": [
            {"scheme": "world", "id": "anyone", "perms": "r"},
            {"scheme": "digest", "id": digest, "perms": "cdrwa"},
        ],
        "aversion": 1,
    }
    # Without ADMIN permission the server (3.6+) masks digest hashes as "x".
    assert cli.ok("acl", "get", node).out == "world:anyone:r\ndigest:alice:x:cdrwa\n"
    assert cli("set", node, "x").err == f"error: not authorized: {node}\n"
    stale = cli(*alice, "acl", "set", "--version", "0", node, "world:anyone:cdrwa")
    assert stale.err == f"error: version mismatch: {node}\n"

    cli.ok("acl", "set", f"{prefix}/x", "ip:127.0.0.1:rw", "world:anyone:a")
    assert cli.ok("acl", "get", f"{prefix}/x").out == "ip:127.0.0.1:rw\nworld:anyone:a\n"

    for bad in ("world:anyone", "world:anyone:rx", "nocolons", "world:anyone:"):
        usage = cli("acl", "set", node, bad)
        assert usage.code == 2, (bad, usage)
        assert usage.err.startswith("error: invalid ACL entry"), usage
    assert cli("--auth", "nocolon", "ls", "/").code == 2


# ---------------------------------------------------------------------- watch
async def test_watch_count_recursive_json(
    hosts: str, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    codes: list[int] = []
    argv = ["-H", hosts, "--json", "watch", "-r", "--count", "3", prefix]

    async def watch() -> None:
        codes.append(await trio.to_thread.run_sync(main, argv, abandon_on_cancel=True))

    async with open_zookeeper(hosts) as zk:
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                # Keep making changes until the watcher has seen three of them:
                # the ones made before its watch was set are simply not seen.
                index = 0
                while not codes:
                    await zk.create(f"{prefix}/child-{index}", b"", makepath=True)
                    index += 1
                    await trio.sleep(0.05)
    assert codes == [0]
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert len(events) == 3, captured
    for event in events:
        assert event["type"] == "NODE_CREATED"
        assert event["state"] == "SYNC_CONNECTED"
        assert re.fullmatch(rf"{re.escape(prefix)}(/child-\d+)?", event["path"]), event
    assert f"watching {prefix} and its subtree for 3 event(s)" in captured.err


async def test_watch_data_changes(
    hosts: str, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    codes: list[int] = []

    async def watch() -> None:
        code = await trio.to_thread.run_sync(
            main, ["-H", hosts, "watch", "-n", "2", prefix], abandon_on_cancel=True
        )
        codes.append(code)

    async with open_zookeeper(hosts) as zk:
        await zk.create(prefix, b"0")
        await zk.create(f"{prefix}/child", b"")  # not seen: the watch is not recursive
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                index = 0
                while not codes:
                    index += 1
                    await zk.set_data(prefix, str(index).encode())
                    await zk.set_data(f"{prefix}/child", b"ignored")
                    await trio.sleep(0.05)
    assert codes == [0]
    out = capsys.readouterr().out
    assert out == f"NODE_DATA_CHANGED {prefix}\n" * 2


def readline(pipe: IO[str], timeout: float) -> str:
    """The first line of a pipe nothing has read from yet, waiting at most ``timeout``."""
    ready, _, _ = select.select([pipe], [], [], timeout)
    assert ready, f"no output within {timeout}s"
    return pipe.readline()


def test_watch_sigint_exits_cleanly(hosts: str, prefix: str) -> None:
    with popen_cli("-H", hosts, "--timeout", "5", "watch", prefix) as proc:
        try:
            assert proc.stderr is not None
            assert proc.stdout is not None
            ready = readline(proc.stderr, SUBPROCESS_TIMEOUT)
            assert ready == f"watching {prefix} until interrupted (Ctrl-C)\n", ready

            async def make_node() -> None:
                async with open_zookeeper(hosts) as zk:
                    await zk.create(prefix, b"x")

            trio.run(make_node)
            assert readline(proc.stdout, SUBPROCESS_TIMEOUT) == f"NODE_CREATED {prefix}\n"
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=SUBPROCESS_TIMEOUT)
            elapsed = time.monotonic() - started
            rest_err = proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert code == 0
    assert "Traceback" not in rest_err, rest_err
    assert elapsed < 2.0  # the watch and the session close at once


# --------------------------------------------------------------------- status
def test_status_srvr_and_mntr(cli: CLI, zookeeper_server: Server) -> None:
    text = cli.ok("status").out
    assert text.splitlines()[0] == zookeeper_server.connect_string
    assert re.search(r"^  Mode: (standalone|leader|follower)$", text, re.M), text
    srvr = cli.ok("--json", "status", "srvr").json()
    assert isinstance(srvr, list)
    assert srvr[0]["host"] == zookeeper_server.connect_string
    assert srvr[0]["values"]["Mode"] in ("standalone", "leader", "follower")
    assert isinstance(srvr[0]["values"]["Node count"], int)
    assert cli.ok("--json", "status", "ruok").json() == [
        {"host": zookeeper_server.connect_string, "command": "ruok", "text": "imok"}
    ]
    if isinstance(zookeeper_server, ZooKeeperServer):  # its whitelist is "*"
        mntr = cli.ok("--json", "status", "mntr").json()
        assert isinstance(mntr, list)
        assert isinstance(mntr[0]["values"]["zk_znode_count"], int)


def test_status_reports_unwhitelisted_and_dead_servers(cli: CLI) -> None:
    dead = f"127.0.0.1:{free_port()}"
    with ZooKeeperServer(four_letter_words="srvr") as server:
        live = server.connect_string
        result = cli("-H", f"{live},{dead}", "--timeout", "3", "status", "mntr")
        assert result.code == 1
        assert result.out == ""
        errors = result.err.splitlines()
        assert errors[0] == (
            f"error: {live}: mntr is not whitelisted on this server "
            "(add it to 4lw.commands.whitelist in zoo.cfg)"
        )
        assert errors[1].startswith(f"error: {dead}: cannot ask mntr: ")
        assert len(errors) == 2

        partial = cli("-H", f"{dead},{live}", "--timeout", "3", "--json", "status")
        assert partial.code == 1
        report = partial.json()
        assert isinstance(report, list)
        assert [entry["host"] for entry in report] == [dead, live]
        assert "error" in report[0]
        assert report[1]["values"]["Mode"] == "standalone"


def test_tls(prefix: str) -> None:
    with ZooKeeperServer(tls=True) as server:
        secure, ca = server.secure_connect_string, server.tls_ca_file
        assert secure is not None
        assert ca is not None
        tls = ["-H", secure, "--tls-ca", ca, "--timeout", "5"]
        created = run_subprocess(*tls, "create", prefix, "over tls")
        assert (created.code, created.out, created.err) == (0, f"{prefix}\n", "")
        got = run_subprocess(*tls, "--json", "get", prefix)
        assert got.code == 0, got
        assert got.json() == {"path": prefix, "data": "over tls"}
        status = run_subprocess(*tls, "--json", "status", "ruok")  # four-letter words over TLS
        assert status.json() == [{"host": secure, "command": "ruok", "text": "imok"}]

        plain = run_subprocess("-H", secure, "--timeout", "5", "ls", "/")
        assert plain.code == 1
        # One round of the hosts, then the cause (not a silent wait for the timeout).
        assert plain.err.startswith(f"error: could not connect to {secure}: "), plain
        assert "within" not in plain.err
        assert len(plain.err.splitlines()) == 1
        bad_ca = run_subprocess(*tls[:2], "--tls-ca", "/nonexistent/ca.pem", "ls", "/")
        assert bad_ca.code == 2
        assert bad_ca.err.startswith("error: --tls-ca: cannot load /nonexistent/ca.pem")


# ----------------------------------------------------------- hosts and errors
def test_hosts_from_environment_and_chroot(
    cli: CLI, prefix: str, hosts: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("create", "-p", f"{prefix}/inside", "x")
    monkeypatch.setenv("ZOOKEEPER_HOSTS", f"{hosts}{prefix}")
    assert cli.ok("ls", "/", hosts=False).out == "inside\n"
    assert cli.ok("get", "/inside", hosts=False).out == "x\n"
    monkeypatch.setenv("ZOOKEEPER_HOSTS", "bad host:port:x")
    assert cli("ls", "/", hosts=False).code == 2


def test_subprocess_errors_are_one_line(hosts: str, prefix: str) -> None:
    missing = run_subprocess("-H", hosts, "get", f"{prefix}/missing")
    assert (missing.code, missing.out, missing.err) == (
        1,
        "",
        f"error: no node: {prefix}/missing\n",
    )
    usage = run_subprocess("-H", hosts, "frobnicate")
    assert usage.code == 2
    assert "invalid choice: 'frobnicate'" in usage.err
    assert "Traceback" not in usage.err

    port = free_port()
    down = run_subprocess("-H", f"127.0.0.1:{port}", "ls", "/")
    # After one round of the hosts, with the cause; not after the 10 s timeout.
    assert (down.code, down.out, down.err) == (
        1,
        "",
        f"error: could not connect to 127.0.0.1:{port}: connection refused\n",
    )
    as_json = run_subprocess("-H", f"127.0.0.1:{port}", "--json", "ls", "/")
    assert (as_json.code, as_json.err) == (1, "")
    assert as_json.json() == {
        "error": {
            "type": "ConnectFailedError",
            "message": f"could not connect to 127.0.0.1:{port}: connection refused",
            "causes": {f"127.0.0.1:{port}": "connection refused"},
        }
    }
    verbose = run_subprocess("-H", f"127.0.0.1:{port}", "-v", "ls", "/")
    assert verbose.code == 1
    assert verbose.err.splitlines()[-1] == (
        f"error: could not connect to 127.0.0.1:{port}: connection refused"
    )
    assert "WARNING" in verbose.err  # the client's own log, shown with -v


def test_console_script(hosts: str) -> None:
    script = Path(sys.executable).with_name("trio-zookeeper")
    if not script.exists():
        pytest.skip("trio-zookeeper console script not installed in this environment")
    proc = subprocess.run(
        [str(script), "-H", hosts, "--json", "ls", "/"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "zookeeper" in json.loads(proc.stdout)
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
    )
    assert version.returncode == 0
    assert version.stdout.startswith("trio-zookeeper ")


def test_help_exits_zero(cli: CLI) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in ("ls", "get", "set", "create", "delete", "stat", "watch", "tree", "dump"):
        assert command in result.out
    assert cli("acl", "set", "--help").code == 0
    assert cli().code == 2  # no command


def test_ephemeral_mode_value_matches() -> None:
    # The CLI's mode names map onto the client's CreateMode values.
    from trio_zookeeper._cli_common import _MODES

    assert _MODES["ephemeral-sequential"] is CreateMode.EPHEMERAL_SEQUENTIAL
    assert _MODES["ttl-sequential"] is CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL
    assert set(_MODES.values()) == set(CreateMode)
