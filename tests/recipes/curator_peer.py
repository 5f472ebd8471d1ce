"""A Java process running Apache Curator 5's recipes on command, for the interop tests.

``tests/curator/CuratorPeer.java`` is compiled once per source version (cached
in the temp directory, keyed by the hash of the source and the class path) and
started once per test. Commands are lines ``TAG COMMAND ARG...``; answers are
``TAG ok RESULT`` / ``TAG err MESSAGE``; events are ``! HANDLE EVENT...``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pathlib
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

SOURCE = pathlib.Path(__file__).resolve().parents[1] / "curator" / "CuratorPeer.java"
JAR_DIR = pathlib.Path(os.environ.get("TZK_CURATOR_JARS", "/usr/share/java"))
JARS = {
    "curator-x-discovery.jar": "libcurator-discovery-java",
    "curator-recipes.jar": "libcurator-recipes-java",
    "curator-framework.jar": "libcurator-framework-java",
    "curator-client.jar": "libcurator-client-java",
    "zookeeper.jar": "libzookeeper-java",
    "zookeeper-jute.jar": "libzookeeper-java",
    "slf4j-api.jar": "libslf4j-java",
    "slf4j-nop.jar": "libslf4j-java",
    "jackson-databind.jar": "libjackson2-databind-java",
    "jackson-core.jar": "libjackson2-core-java",
    "jackson-annotations.jar": "libjackson2-annotations-java",
    "guava.jar": "libguava-java",
}
INSTALL = (
    "apt-get install -y openjdk-17-jdk-headless libcurator-framework-java "
    "libcurator-recipes-java libcurator-discovery-java libcurator-client-java libzookeeper-java "
    "(scripts/bootstrap.sh does this as root)"
)


class CuratorPeerError(Exception):
    """The Java peer answered ``err``."""


def build(jar_dir: pathlib.Path = JAR_DIR) -> str:
    """Compile the peer (cached) and return its class path; fail naming what is missing."""
    missing = sorted({pkg for jar, pkg in JARS.items() if not (jar_dir / jar).is_file()})
    if missing:
        pytest.fail(
            f"the Curator interop tests need Apache Curator's jars in {jar_dir}; missing "
            f"Debian packages: {' '.join(missing)}. Install: {INSTALL}",
            pytrace=False,
        )
    javac = shutil.which("javac")
    if javac is None or shutil.which("java") is None:
        pytest.fail(f"the Curator interop tests need javac and java. Install: {INSTALL}")
    jars = ":".join(str(jar_dir / jar) for jar in JARS)
    key = hashlib.sha256(SOURCE.read_bytes() + jars.encode()).hexdigest()[:16]
    out = pathlib.Path(tempfile.gettempdir()) / f"trio-zookeeper-curator-peer-{key}"
    if not (out / "CuratorPeer.class").is_file():
        work = pathlib.Path(tempfile.mkdtemp(prefix="curator-peer-build-"))
        result = subprocess.run(
            [javac, "-encoding", "UTF-8", "-nowarn", "-d", str(work), "-cp", jars, str(SOURCE)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"javac failed on {SOURCE}:\n{result.stderr}")
        try:
            work.rename(out)  # atomic; another session may have won the race
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
    return f"{out}:{jars}"


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
