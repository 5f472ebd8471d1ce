"""Fixtures and helpers of the command-line tests.

``cli(...)`` runs :func:`trio_zookeeper._cli.main` in-process against the
shared server and captures its output; :func:`run_subprocess` runs
``python -m trio_zookeeper`` for real (exit codes, signals, terminals).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import uuid

import attrs
import pytest

from trio_zookeeper import Pipeline
from trio_zookeeper._cli import main
from trio_zookeeper.testing import ExternalZooKeeperServer, ZooKeeperServer

Server = ZooKeeperServer | ExternalZooKeeperServer

SUBPROCESS_TIMEOUT = 30.0


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def hosts(zookeeper_server: Server) -> str:
    return zookeeper_server.connect_string


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)
    return f"/cli-{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cli(hosts: str, capsys: pytest.CaptureFixture[str]) -> CLI:
    return CLI(hosts, capsys)


class CLI:
    """Runs ``main([...])`` in-process against the server, capturing its output."""

    def __init__(self, hosts: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.hosts = hosts
        self.capsys = capsys

    def __call__(self, *args: str, hosts: bool = True) -> Result:
        self.capsys.readouterr()
        argv = ["-H", self.hosts, *args] if hosts else list(args)
        code = main(argv)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str, hosts: bool = True) -> Result:
        result = self(*args, hosts=hosts)
        assert result.code == 0, result
        assert result.err == "" or "error" not in result.err, result
        return result


def create_two_levels(
    pipe: Pipeline, root: str, branches: int, leaves: int, leaf: str = "n"
) -> None:
    """Send the creates of ``root``, its children ``d00``... and theirs ``{leaf}00``..."""
    pipe.create(root)
    for i in range(branches):
        pipe.create(f"{root}/d{i:02d}")
        for j in range(leaves):
            pipe.create(f"{root}/d{i:02d}/{leaf}{j:02d}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_subprocess(
    *args: str, timeout: float = SUBPROCESS_TIMEOUT, stdin: str | None = None
) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "trio_zookeeper", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def popen_cli(*args: str) -> subprocess.Popen[str]:
    """``python -m trio_zookeeper ARGS`` with text pipes (use it in a ``with``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "trio_zookeeper", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
