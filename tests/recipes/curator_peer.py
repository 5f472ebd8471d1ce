"""A Java process running Apache Curator 5's recipes on command, for the interop tests.

``tests/curator/CuratorPeer.java`` is compiled once per source version
(``curator_jars.compile_java``: cached in the temp directory, keyed by the
hash of the source and the class path) and started once per test. Commands
are lines ``TAG COMMAND ARG...``; answers are ``TAG ok RESULT`` / ``TAG err
MESSAGE``; events are ``! HANDLE EVENT...``.
"""

from __future__ import annotations

import itertools
import pathlib
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from .curator_jars import JAR_DIR, JavaUnavailable, compile_java

SOURCE = pathlib.Path(__file__).resolve().parents[1] / "curator" / "CuratorPeer.java"


class CuratorPeerError(Exception):
    """The Java peer answered ``err``."""


def build(jar_dir: pathlib.Path = JAR_DIR) -> str:
    """Compile the peer (cached) and return its class path; fail naming what is missing."""
    try:
        return compile_java(SOURCE, jar_dir)
    except JavaUnavailable as exc:
        pytest.fail(f"the Curator interop tests cannot run: {exc}", pytrace=False)


class CuratorPeer:
    """The running Java peer: :meth:`call` a command, :meth:`event` waits for an event."""

    def __init__(self, process: trio.Process) -> None:
        self._process = process
        self._tags = itertools.count(1)
        self._answers: dict[str, str] = {}
        self._events: list[str] = []
        self._changed = trio.Event()
        self.closed = False

    async def _read(self, *, task_status: trio.TaskStatus[None]) -> None:
        assert self._process.stdout is not None
        buffer = b""
        started = False
        async for chunk in self._process.stdout:
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.decode("utf-8").rstrip("\r")
                if line == "ready" and not started:
                    started = True
                    task_status.started()
                elif line.startswith("! "):
                    self._events.append(line[2:])
                else:
                    tag, _, rest = line.partition(" ")
                    self._answers[tag] = rest
                self._changed.set()
                self._changed = trio.Event()
        self.closed = True
        self._changed.set()
        if not started:
            raise RuntimeError("the Curator peer exited before it was ready")

    async def call(self, *args: object) -> str:
        """Run one command; return its result (bound the call with ``trio.fail_after``).

        Raises:
            CuratorPeerError: The command failed in Java.
        """
        tag = str(next(self._tags))
        line = " ".join([tag, *map(str, args)]) + "\n"
        assert self._process.stdin is not None
        await self._process.stdin.send_all(line.encode("utf-8"))
        while tag not in self._answers:
            if self.closed:
                raise CuratorPeerError(f"the peer exited while running {args}")
            await self._changed.wait()
        status, _, result = self._answers.pop(tag).partition(" ")
        if status != "ok":
            raise CuratorPeerError(f"{args}: {result}")
        return result

    async def event(self, handle: str, what: str) -> None:
        """Wait for (and consume) the event ``! HANDLE WHAT``."""
        wanted = f"{handle} {what}"
        while wanted not in self._events:
            if self.closed:
                raise CuratorPeerError(f"the peer exited before event {wanted!r}")
            await self._changed.wait()
        self._events.remove(wanted)

    def events(self, handle: str) -> list[str]:
        """The events of ``handle`` received and not consumed yet."""
        return [e.split(" ", 1)[1] for e in self._events if e.split(" ", 1)[0] == handle]


@asynccontextmanager
async def open_curator_peer(classpath: str, connect_string: str) -> AsyncIterator[CuratorPeer]:
    """Start the peer for the block; it exits when its stdin closes (killed if it hangs)."""
    process = await trio.lowlevel.open_process(
        [
            "java",
            "-Xshare:auto",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            classpath,
            "CuratorPeer",
            connect_string,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        async with trio.open_nursery() as nursery:
            peer = CuratorPeer(process)
            with trio.fail_after(60):
                await nursery.start(peer._read)
            try:
                yield peer
            finally:
                with trio.CancelScope(shield=True):
                    assert process.stdin is not None
                    await process.stdin.aclose()
                    with trio.move_on_after(15):
                        await process.wait()
                nursery.cancel_scope.cancel()
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
