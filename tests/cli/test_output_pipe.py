"""A stdout pipe nobody reads for a while must not cost the CLI its session.

The CLI's output is written by a thread, with asynchronous backpressure on
the recursive walks (``trio_zookeeper._cli_output``): while the reader of a
pipe pauses (a pager, a test that reads pipes one after another), the walk
waits without blocking the trio loop, so the session keeps being pinged.
"""

from __future__ import annotations

import array
import fcntl
import json
import os
import subprocess
import sys
import termios
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_zookeeper import open_zookeeper

from .conftest import SUBPROCESS_TIMEOUT

pytestmark = pytest.mark.server

#: The CLI's session timeout here (seconds): the shortest the shared server
#: (tickTime 500 ms, so at least 1 s) grants, with some margin.
SESSION_TIMEOUT = 2.0
#: How long the test leaves the pipes unread: three session timeouts. This
#: pause is the point of the test (a reader that stops reading), not a wait
#: standing in for synchronisation.
PAUSE = 3 * SESSION_TIMEOUT
#: A chain, so that the walks are that many round trips deep (a wide tree is
#: read ahead by the walk's pool before a pipe fills up) and their output
#: grows with the square of the depth: ``tree`` writes about 8 MB, the others
#: about 4 MB each, well over a pipe's 64 KiB plus the CLI's 1 MiB high-water
#: mark.
DEPTH = 2000
#: fcntl's F_GETPIPE_SZ (Linux; named in the fcntl module from Python 3.10 on some builds).
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)


def deep_json(text: bytes) -> Any:
    """``json.loads`` of a document nested DEPTH deep (the nested ``tree --json``)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 3 * DEPTH + 1000))
    try:
        return json.loads(text)
    finally:
        sys.setrecursionlimit(limit)


def wait_until_filling(fd: int) -> None:
    """Wait (bounded) until the pipe whose read end is ``fd`` is half full.

    Linux reports how much a pipe holds (FIONREAD) and its capacity
    (F_GETPIPE_SZ; a pipe of small writes is full a little short of it).
    The CLI writes megabytes without a pause: from half full, its writes
    are about to wait for the reader, which is what the test is about.
    """
    capacity = fcntl.fcntl(fd, F_GETPIPE_SZ)
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    held = array.array("i", [0])
    while True:
        fcntl.ioctl(fd, termios.FIONREAD, held)
        if held[0] >= capacity // 2:
            return
        assert time.monotonic() < deadline, f"the pipe holds {held[0]} of {capacity} bytes"
        time.sleep(0.05)


def test_a_paused_reader_does_not_expire_the_session(
    hosts: str, prefix: str, build_chain: Callable[..., Awaitable[str]], tmp_path: Path
) -> None:
    async def build() -> None:
        async with open_zookeeper(hosts) as zk:
            await build_chain(zk, prefix, DEPTH, data=b"d")

    async def delete() -> None:
        async with open_zookeeper(hosts) as zk:
            await zk.delete(prefix, recursive=True)

    trio.run(build)
    try:
        base = [sys.executable, "-m", "trio_zookeeper", "-H", hosts]
        base += ["--timeout", f"{SESSION_TIMEOUT:g}"]
        walks = {
            "tree": [*base, "tree", prefix],
            "tree --json": [*base, "--json", "tree", prefix],
            "ls -R --json": [*base, "--json", "ls", "-R", prefix],
            "dump -": [*base, "dump", prefix, "-"],
            # The shell runs its commands in a trio thread, sharing one writer.
            # Its walk would go on in a new session after an expiry: -vv
            # logs the session's states, and an expiry must not be one.
            "shell: tree": [*base, "-vv", "shell"],
        }
        script = tmp_path / "script"
        script.write_text(f"tree {prefix}\n")  # the shell exits at its end
        with script.open("rb") as commands:
            processes = {
                name: subprocess.Popen(
                    command,
                    stdin=commands if name.startswith("shell") else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
                for name, command in walks.items()
            }
        try:
            for process in processes.values():
                assert process.stdout is not None
                wait_until_filling(process.stdout.fileno())
            time.sleep(PAUSE)  # the point of the test: nobody reads for a while
            results = {}
            for name, process in processes.items():
                out, err = process.communicate(timeout=SUBPROCESS_TIMEOUT)
                results[name] = (process.returncode, out, err)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
    finally:
        trio.run(delete)

    paths = [prefix + "/n" * depth for depth in range(DEPTH + 1)]
    for name, (code, out, err) in results.items():
        if name.startswith("shell"):
            assert code == 0, (name, code, err[-2000:])
            assert b"-> SYNC_CONNECTED" in err  # -vv logs the session's states...
            assert b"expired" not in err.lower(), (name, err[-2000:])  # ...and no expiry
        else:
            assert (code, err) == (0, b""), (name, code, err[-2000:])
        assert len(out) > 2 * 1024 * 1024, (name, len(out))
    lines = results["tree"][1].decode().splitlines()
    assert lines[0] == prefix
    assert lines[1:] == [" " * 4 * depth + "└── n" for depth in range(DEPTH)]
    assert results["shell: tree"][1] == results["tree"][1]
    node = deep_json(results["tree --json"][1])
    for path in paths:
        assert (node["name"], node["path"]) == (prefix if path == prefix else "n", path)
        children = node["children"]
        assert len(children) == (0 if path == paths[-1] else 1), path
        node = children[0] if children else None
    assert json.loads(results["ls -R --json"][1]) == paths[1:]
    dumped = json.loads(results["dump -"][1])
    assert [node["path"] for node in dumped["nodes"]] == [p[len(prefix) + 1 :] for p in paths]


def test_a_reader_that_goes_away_ends_the_walk_quietly(hosts: str, prefix: str) -> None:
    """``trio-zookeeper ls -R / | head -1``: exit 1 as before, and nothing on stderr."""

    async def build() -> None:
        async with open_zookeeper(hosts) as zk:
            await zk.create(prefix)
            for parent in range(10):
                transaction = zk.multi()
                transaction.create(f"{prefix}/p{parent}")
                for child in range(100):  # ~150 KB of output: more than the pipe holds
                    transaction.create(f"{prefix}/p{parent}/{child:03d}".ljust(150, "x"))
                await transaction.run()

    async def delete() -> None:
        async with open_zookeeper(hosts) as zk:
            await zk.delete(prefix, recursive=True)

    trio.run(build)
    try:
        for walk in (["ls", "-R"], ["--json", "tree"], ["dump"]):
            command = [sys.executable, "-m", "trio_zookeeper", "-H", hosts, *walk, prefix]
            with subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            ) as process:
                try:
                    assert process.stdout is not None
                    assert os.read(process.stdout.fileno(), 100)
                    process.stdout.close()  # as head does after its first lines
                    _, err = process.communicate(timeout=SUBPROCESS_TIMEOUT)
                finally:
                    if process.poll() is None:
                        process.kill()
                        process.wait()
            assert (process.returncode, err) == (1, b""), (walk, err[-2000:])
    finally:
        trio.run(delete)
