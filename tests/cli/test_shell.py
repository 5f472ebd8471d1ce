"""The interactive shell and Ctrl-C, as real subprocesses.

Scripted through a pipe (lines run in order, one session), and driven through
a pseudo-terminal (completion, history, Ctrl-C cancels the command, not the
shell; a terminal paused with Ctrl-S holds the output, not the session).
Ctrl-C of a one-shot command is a real SIGINT: exit status 130 while
connecting and in the middle of a command, never 1 with an internal error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import trio

from trio_zookeeper import ZooKeeper, open_zookeeper

from .conftest import SUBPROCESS_TIMEOUT, create_two_levels, popen_cli, run_subprocess

pytestmark = pytest.mark.server


def test_scripted_shell_runs_lines_in_order_in_one_session(hosts: str, prefix: str) -> None:
    script = "\n".join(
        [
            f"create {prefix} top",
            f"create -e {prefix}/eph 'two words'",
            f"get {prefix}/eph",
            f"getEphemerals {prefix}",
            "# a comment, then an empty line",
            "",
            f"get {prefix}/missing",
            "frobnicate",
            f"create {prefix}/secret s digest:{_digest()}:cdrwa",
            f"get {prefix}/secret",
            "addauth digest admin:pw",
            f"get {prefix}/secret",
            f"--json ls {prefix}",
            f"ls --json {prefix}",
            "close",
            f"get {prefix}",
            "connect",
            f"ls {prefix}",
            f"deleteall {prefix}",
            "quit",
            "get /never-run",
        ]
    )
    result = run_subprocess("-H", hosts, "shell", stdin=script + "\n")
    assert result.out.splitlines() == [
        prefix,
        f"{prefix}/eph",
        "two words",
        f"{prefix}/eph",
        f"{prefix}/secret",
        "s",  # after addauth, in the same session
        "[",
        '  "eph",',
        '  "secret"',
        "]",
        "[",
        '  "eph",',
        '  "secret"',
        "]",
        "secret",  # after close and connect: a new session, its ephemeral node gone
    ]
    assert result.err.splitlines() == [
        f"error: no node: {prefix}/missing",
        "error: unknown command 'frobnicate' (type 'help')",
        f"error: not authorized: {prefix}/secret",
        "error: not connected (use 'connect')",
    ]
    assert result.code == 1  # the first failing command's status


def test_shell_removewatches_local(hosts: str, prefix: str) -> None:
    script = [
        f"create {prefix} one",
        f"get -w {prefix}",
        f"removewatches {prefix} -d -l",  # this shell's watch: removed
        f"removewatches {prefix} -d -l",  # none left
        f"set {prefix} two",
        f"get {prefix}",  # one more round trip: no event came for the removed watch
    ]
    result = run_subprocess("-H", hosts, "shell", stdin="\n".join(script) + "\n")
    lines = result.out.splitlines()
    # The removed watch's watcher is told, as zkCli prints it.
    assert [line for line in lines if line.startswith("WATCHER")] == [
        f"WATCHER: DATA_WATCH_REMOVED {prefix}"
    ]
    assert [line for line in lines if not line.startswith("WATCHER")] == [prefix, "one", "two"]
    assert result.err.splitlines() == [f"error: No such watcher: {prefix}"]
    assert result.code == 1


def test_shell_history_redo_and_printwatches(hosts: str, prefix: str) -> None:
    script = [
        f"create {prefix} one",  # 0
        "printwatches off",  # 1
        f"get -w {prefix}",  # 2: its event comes while printwatches is off
        f"set {prefix} two",  # 3
        f"get {prefix}",  # 4: one more round trip: the event has been handled
        "printwatches",  # 5
        "printwatches on",  # 6
        f"ls -w {prefix}",  # 7: its event prints
        f"create {prefix}/child",  # 8
        "redo 4",  # 9: becomes 'get {prefix}'
        "redo 9",  # 10: runs line 9 as redone, not the redo
        "redo 99",  # 11: not in the history
        "redo 11",  # 12: a failed redo is not run again
        "redo x",  # 13: a usage error
        "history",  # 14
    ]
    result = run_subprocess("-H", hosts, "shell", stdin="\n".join(script) + "\n")
    lines = result.out.splitlines()
    watch_lines = [line for line in lines if line.startswith("WATCHER")]
    assert watch_lines == [f"WATCHER: NODE_CHILDREN_CHANGED {prefix}"]
    assert [line for line in lines if not line.startswith("WATCHER")] == [
        prefix,
        "one",
        "two",
        "printwatches is off",
        f"{prefix}/child",
        "two",
        "two",
        f"4 - get {prefix}",
        "5 - printwatches",
        "6 - printwatches on",
        f"7 - ls -w {prefix}",
        f"8 - create {prefix}/child",
        f"9 - get {prefix}",
        f"10 - get {prefix}",
        "11 - redo 99",
        "12 - redo 11",
        "13 - redo x",
        "14 - history",
    ]
    errors = result.err.splitlines()
    assert errors[:2] == [
        "error: redo: no command number 99 in the history",
        "error: redo: command 11 is itself a redo",
    ]
    assert "invalid int value: 'x'" in errors[2]
    assert result.code == 2


def test_scripted_shell_stops_at_a_connection_failure(hosts: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_subprocess("-H", f"127.0.0.1:{port}", "shell", stdin="ls /\n")
    assert (result.code, result.out) == (1, "")
    assert result.err == f"error: could not connect to 127.0.0.1:{port}: connection refused\n"


def _digest() -> str:
    from trio_zookeeper import make_digest_acl_credential

    return make_digest_acl_credential("admin", "pw")


class Terminal:
    """A shell on a pseudo-terminal: type into it, read what it shows."""

    def __init__(self, argv: list[str], history: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.environ["TRIO_ZOOKEEPER_HISTORY"] = str(history)
            os.environ["TERM"] = "dumb"
            os.environ["PYTHONUNBUFFERED"] = "1"
            os.execv(sys.executable, [sys.executable, "-m", "trio_zookeeper", *argv])
        # Wide enough that readline never scrolls the line sideways.
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 1000, 0, 0))
        self.seen = b""
        self.cursor = 0

    def expect(self, pattern: bytes, timeout: float = SUBPROCESS_TIMEOUT) -> bytes:
        """Read until ``pattern`` (a regex) appears after the last match; returns the text."""
        start = self.cursor
        deadline = time.monotonic() + timeout
        while (match := re.search(pattern, self.seen[start:])) is None:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {pattern!r} within {timeout}s; saw {self.seen[start:]!r}"
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                assert chunk, f"the shell ended; saw {self.seen[start:]!r}"
                self.seen += chunk
        self.cursor = start + match.end()
        return self.seen[start : self.cursor]

    def type(self, text: bytes) -> None:
        os.write(self.fd, text)

    def wait(self) -> int:
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT
        while time.monotonic() < deadline:
            with_status = os.waitpid(self.pid, os.WNOHANG)
            if with_status[0]:
                return os.waitstatus_to_exitcode(with_status[1])
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):
                    self.seen += os.read(self.fd, 65536)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"the shell did not exit; saw {self.seen[-500:]!r}")

    def close(self) -> None:
        os.close(self.fd)


PROMPT = rb"\[zk: [^\]]*\(CONNECTED\) \d+\] "


def test_interactive_shell_completion_history_and_ctrl_c(
    hosts: str, prefix: str, tmp_path: Path
) -> None:
    async def build(zk: ZooKeeper) -> None:
        await zk.create(f"{prefix}/alpha-node/x", b"x", makepath=True)
        await zk.create(f"{prefix}/beta", b"b")

    trio.run(_with_client, hosts, build)
    history = tmp_path / "history"
    term = Terminal(["-H", hosts, "shell"], history)
    try:
        term.expect(PROMPT)
        # Completion of a command, then of a path read from the server.
        term.type(b"getAllChildrenN\t")
        term.expect(rb"getAllChildrenNumber $")
        term.type(prefix.encode() + b"/al\t")
        term.expect(rb"pha-node")  # completed (shown as readline redraws it)
        term.type(b"\n")
        assert b"\r\n1\r\n" in term.expect(PROMPT)
        # Ctrl-C cancels the running command; the shell goes on.
        term.type(f"watch {prefix}/beta\n".encode())
        term.expect(rb"until interrupted")
        term.type(b"\x03")
        term.expect(rb"\(cancelled\)")
        term.expect(PROMPT)
        # History: the previous command comes back with the up arrow.
        term.type(f"get {prefix}/beta\n".encode())
        term.expect(rb"\r\nb\r\n.*" + PROMPT)
        term.type(b"\x1b[A")
        term.expect(f"get {prefix}/beta".encode())
        term.type(b"\n")
        term.expect(rb"\r\nb\r\n.*" + PROMPT)
        term.type(b"\x04")  # Ctrl-D leaves
        assert term.wait() == 0
    finally:
        term.close()
    assert f"get {prefix}/beta" in history.read_text()


async def _with_client(hosts: str, action: object) -> object:
    async with open_zookeeper(hosts) as zk:
        return await action(zk)  # type: ignore[operator]


# ------------------------------------------------------------------- Ctrl-C
def _interrupt(argv: list[str], ready: object) -> subprocess.CompletedProcess[str]:
    """Start the CLI, wait for ``ready(proc)``, send SIGINT, and collect the result."""
    with popen_cli(*argv) as proc:
        try:
            ready(proc)  # type: ignore[operator]
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def test_ctrl_c_while_connecting_exits_130() -> None:
    # A listener that never answers: the client is connected at TCP level and
    # waits for the handshake.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]

        def connecting(proc: subprocess.Popen[str]) -> None:
            ready, _, _ = select.select([listener], [], [], SUBPROCESS_TIMEOUT)
            assert ready, "the CLI never connected"

        result = _interrupt(["-H", f"127.0.0.1:{port}", "--timeout", "30", "ls", "/"], connecting)
    assert result.returncode == 130, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "Internal" not in result.stderr


def test_ctrl_c_in_the_middle_of_a_command_exits_130(hosts: str, prefix: str) -> None:
    def waiting(proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], SUBPROCESS_TIMEOUT)
        assert ready
        assert "watching for its creation" in proc.stderr.readline()

    result = _interrupt(["-H", hosts, "stat", "-w", f"{prefix}/none"], waiting)
    assert result.returncode == 130, result
    assert "Traceback" not in result.stderr
    # A command that watches until Ctrl-C ends normally.
    assert _interrupt(["-H", hosts, "addWatch", prefix], waiting_for_watch).returncode == 0


def waiting_for_watch(proc: subprocess.Popen[str]) -> None:
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], SUBPROCESS_TIMEOUT)
    assert ready
    assert "until interrupted" in proc.stderr.readline()


# ------------------------------------------------------- a paused terminal
#: The shell's session timeout here (seconds): the shortest the shared server
#: (tickTime 500 ms, so at least 1 s) grants, with some margin.
PAUSED_SESSION_TIMEOUT = 2.0
#: How long the terminal stays paused: three session timeouts. The pause is
#: the point of the test (a user pressed Ctrl-S), not a wait standing in for
#: synchronisation.
PAUSE = 3 * PAUSED_SESSION_TIMEOUT


def test_interactive_shell_paused_by_ctrl_s_keeps_its_session(
    hosts: str, prefix: str, tmp_path: Path
) -> None:
    # Enough output (about 200 KB) to fill the terminal's buffer many times
    # over, so that the shell's writes stop while the terminal is paused.
    async def build(zk: ZooKeeper) -> None:
        async with zk.pipeline() as pipe:
            create_two_levels(pipe, prefix, 40, 50, leaf="node-with-a-long-name-")

    async def ephemeral_owner(zk: ZooKeeper) -> int | None:
        stat = await zk.exists(f"{prefix}/mine")
        return None if stat is None else stat.ephemeral_owner

    trio.run(_with_client, hosts, build)
    argv = ["-H", hosts, "--timeout", f"{PAUSED_SESSION_TIMEOUT:g}", "shell"]
    term = Terminal(argv, tmp_path / "history")
    try:
        term.expect(PROMPT)
        term.type(f"create -e {prefix}/mine\n".encode())
        term.expect(PROMPT)
        owner = trio.run(_with_client, hosts, ephemeral_owner)
        assert owner
        # Ctrl-S: the terminal stops showing output (IXON), and this test
        # stops reading it too, while the shell lists 2,040 nodes.
        term.type(b"\x13")
        term.type(f"ls -R {prefix}\n".encode())
        time.sleep(PAUSE)  # the point of the test: the terminal stays paused
        # The terminal held the listing: its prompt has not been shown yet.
        while select.select([term.fd], [], [], 0)[0]:
            term.seen += os.read(term.fd, 65536)
        assert re.search(PROMPT, term.seen[term.cursor :]) is None
        # The session lived on (pinged by the trio thread meanwhile): the
        # shell's ephemeral node is still there, with the same owner.
        assert trio.run(_with_client, hosts, ephemeral_owner) == owner
        term.type(b"\x11")  # Ctrl-Q: the output goes on, complete
        shown = term.expect(PROMPT)
        lines = [line for line in shown.split(b"\r\n") if line.startswith(prefix.encode())]
        assert len(lines) == 2040, shown[-500:]  # every node under the root
        assert b"expired" not in shown.lower()
        term.type(f"stat {prefix}/mine\n".encode())
        assert f"= {owner:#x}\r\n".encode() in term.expect(PROMPT)  # its ephemeral_owner
        term.type(b"\x04")
        assert term.wait() == 0
    finally:
        term.close()
