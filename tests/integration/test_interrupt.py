"""Ctrl-C stays Ctrl-C: a real SIGINT at each moment of a client's life.

Each scenario runs in a child process (tests/integration/sigint_child.py),
which prints ``ready`` once it is provably inside the phase under test; the
parent then sends SIGINT. The child must die of the KeyboardInterrupt exactly
as an uncaught Ctrl-C does: CPython then re-raises SIGINT on itself, so the
return code is ``-SIGINT``, and the traceback ends with the bare
``KeyboardInterrupt`` line (not ZooKeeperInternalError, not an exception
group).
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

import pytest
import trio

from trio_zookeeper.testing import ExternalZooKeeperServer, ZooKeeperServer

pytestmark = pytest.mark.timeout(120)

CHILD = pathlib.Path(__file__).with_name("sigint_child.py")
ROOT = pathlib.Path(__file__).resolve().parents[2]


async def interrupt_child(mode: str, args: list[str], stderr_path: pathlib.Path) -> tuple[int, str]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    with stderr_path.open("wb") as stderr:
        proc = await trio.lowlevel.open_process(
            [sys.executable, str(CHILD), mode, *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
    try:
        assert proc.stdout is not None
        with trio.fail_after(60):
            out = b""
            while b"ready\n" not in out:
                chunk = await proc.stdout.receive_some(4096)
                if not chunk:
                    await proc.wait()
                    pytest.fail(
                        f"the child exited ({proc.returncode}) before it was ready:\n"
                        + await trio.Path(stderr_path).read_text()
                    )
                out += chunk
            proc.send_signal(signal.SIGINT)
            returncode = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            with trio.move_on_after(10, shield=True):
                await proc.wait()
        if proc.stdout is not None:
            await proc.stdout.aclose()
    return returncode, await trio.Path(stderr_path).read_text()


def assert_died_of_keyboard_interrupt(returncode: int, stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "no traceback"
    assert lines[-1] == "KeyboardInterrupt", stderr
    assert "ZooKeeperInternalError" not in stderr, stderr
    assert "ExceptionGroup" not in stderr, stderr
    assert returncode == -signal.SIGINT, (returncode, stderr)


async def test_sigint_while_connecting_to_an_unreachable_host(tmp_path: pathlib.Path) -> None:
    returncode, stderr = await interrupt_child("connecting-refused", [], tmp_path / "stderr")
    assert_died_of_keyboard_interrupt(returncode, stderr)


@pytest.mark.server
@pytest.mark.parametrize("mode", ["connecting-handshake", "mid-request", "closing"])
async def test_sigint_against_a_real_server(
    zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer,
    tmp_path: pathlib.Path,
    mode: str,
) -> None:
    args = [zookeeper_server.host, str(zookeeper_server.port)]
    returncode, stderr = await interrupt_child(mode, args, tmp_path / "stderr")
    assert_died_of_keyboard_interrupt(returncode, stderr)
