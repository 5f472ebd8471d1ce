"""The documentation's examples, run against a real ZooKeeper server.

Every ``docs/examples/*.py`` is a real program. Those with an
``async def main(hosts)`` are imported and run here, each in a chroot of its
own (the plugin's ``zk_connect_string``), so that the docs' examples cannot
rot. The examples that need more than a connect string (TLS, the pytest
example) and the behaviour the guides promise on top of a plain run (the
registration survives an expiry, the mirror re-reads after a reconnect) have
their own tests below.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import os
import pathlib
import re
import sys
from types import ModuleType

import pytest
import trio

from trio_zookeeper import KeeperState, open_zookeeper
from trio_zookeeper.testing import (
    ExternalZooKeeperServer,
    ZooKeeperServer,
    expire_session,
    open_fault_proxy,
)

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "examples"
#: Examples that are not a main(hosts) that returns, tested one by one below.
SPECIAL = {"harness", "quickstart", "secured", "tls", "test_with_plugin"}
#: A generous bound on one example (they take well under a second each).
EXAMPLE_DEADLINE = 60


def load(name: str) -> ModuleType:
    """Import ``docs/examples/<name>.py`` under a private module name."""
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _runs_with_hosts_only(name: str) -> bool:
    main = getattr(load(name), "main", None)
    if main is None or not inspect.iscoroutinefunction(main):
        return False
    return list(inspect.signature(main).parameters) == ["hosts"]


ALL_EXAMPLES = sorted(path.stem for path in EXAMPLES.glob("*.py"))
MAIN_EXAMPLES = [
    name for name in ALL_EXAMPLES if name not in SPECIAL and _runs_with_hosts_only(name)
]


def test_every_example_is_run() -> None:
    """A new example is either an ``async def main(hosts)`` program or has its own test."""
    untested = set(ALL_EXAMPLES) - set(MAIN_EXAMPLES) - SPECIAL
    assert not untested, f"examples neither runnable as main(hosts) nor in SPECIAL: {untested}"


def test_every_example_is_shown_in_the_docs() -> None:
    """An example file nobody includes is dead weight (or a forgotten page)."""
    included: set[str] = set()
    for page in DOCS.rglob("*.rst"):
        if "_build" in page.parts:
            continue
        included |= set(re.findall(r"examples/(\w+)\.py", page.read_text()))
    assert set(ALL_EXAMPLES) <= included, set(ALL_EXAMPLES) - included


@pytest.mark.parametrize("name", MAIN_EXAMPLES)
async def test_example(name: str, zk_connect_string: str) -> None:
    module = load(name)
    with trio.fail_after(EXAMPLE_DEADLINE):
        await module.main(zk_connect_string)


async def test_quickstart_example(zk_connect_string: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The front page's example follows the workers until it is cancelled.

    It is cancelled once it has printed the first list (not after a fixed
    time, which a loaded machine may need all of just to connect).
    """
    module = load("quickstart")
    printed: list[str] = []
    with trio.fail_after(EXAMPLE_DEADLINE), trio.CancelScope() as scope:

        def record(*args: object) -> None:
            printed.append(" ".join(map(str, args)))
            scope.cancel()

        monkeypatch.setattr(module, "print", record, raising=False)
        await module.main(zk_connect_string)
    assert printed == ["workers: ['w-0000000000']"]


def test_harness_example(zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer) -> None:
    """docs/examples/harness.py starts (and breaks) a server of its own.

    (Synchronous: the example calls ``trio.run`` itself. The fixture is only
    there to fail this test, as the plugin does, when ZooKeeper is missing.)
    """
    if isinstance(zookeeper_server, ExternalZooKeeperServer):
        pytest.skip("ZOOKEEPER_HOSTS is set: no local ZooKeeper installation to start")
    load("harness").run()


async def test_tls_example() -> None:
    """docs/examples/tls.py against a TLS-enabled server with a throwaway CA."""
    module = load("tls")
    async with ZooKeeperServer(tls=True) as server:
        assert server.secure_connect_string is not None
        assert server.tls_ca_file is not None
        with trio.fail_after(EXAMPLE_DEADLINE):
            await module.main(server.secure_connect_string, server.tls_ca_file)


def test_secured_example(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/examples/secured.py against a throwaway KDC and a Kerberized, client-cert TLS server.

    Synchronous: the example starts its parts and calls ``trio.run`` itself.
    Needs krb5-kdc/krb5-admin-server/krb5-user and the kerberos extra; without
    them it fails naming what to install.
    """
    load("secured").run()
    out = capsys.readouterr().out
    assert "logged in as [('sasl', 'app@TZK.TEST')" in out
    assert "read back: b's3cret'; ACL of /app: [('sasl', 'app@TZK.TEST')]" in out
    assert "another certificate may not read it" in out


async def test_pytest_plugin_example(
    zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer, tmp_path: pathlib.Path
) -> None:
    """docs/examples/test_with_plugin.py, run by pytest the way a user's project runs it.

    A fresh directory with just that file and a two-line conftest.py (no
    project configuration); ``ZOOKEEPER_HOSTS`` points the plugin at the server
    this session already runs, so no second JVM is started.
    """
    (tmp_path / "test_app.py").write_text((EXAMPLES / "test_with_plugin.py").read_text())
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["trio_zookeeper.testing.pytest_plugin"]\n'
    )
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nfilterwarnings = error\naddopts = -p no:cacheprovider\n"
    )
    env = dict(os.environ, ZOOKEEPER_HOSTS=zookeeper_server.connect_string)
    with trio.fail_after(120):
        result = await trio.run_process(
            [sys.executable, "-m", "pytest", "-q", "--rootdir", str(tmp_path), str(tmp_path)],
            cwd=tmp_path,
            env=env,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, output
    assert re.search(r"\b4 passed\b", output), output


async def test_registration_survives_session_expiry(zk_connect_string: str) -> None:
    """The registration example re-creates its node after a real expiry."""
    module = load("registration")
    path = "/services/web/worker-1"
    async with open_zookeeper(zk_connect_string) as zk, trio.open_nursery() as nursery:
        await zk.ensure_path("/services/web")
        await nursery.start(module.stay_registered, zk, path, b"addr")
        first = zk.session_id
        with trio.fail_after(EXAMPLE_DEADLINE):
            await expire_session(zk)
            while True:
                await zk.wait_connected()
                stat = await zk.exists(path)
                if stat is not None and stat.ephemeral_owner == zk.session_id != first:
                    break
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()


async def test_mirror_rereads_after_a_reconnect(
    zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer, zk_connect_string: str
) -> None:
    """Persistent watches do not replay missed changes; the example's re-read covers them."""
    module = load("persistent")
    chroot = zk_connect_string[zk_connect_string.index("/") :]
    server = zookeeper_server
    async with (
        open_fault_proxy(server.host, server.port) as proxy,
        open_zookeeper(proxy.address + chroot) as zk,
        open_zookeeper(zk_connect_string) as other,
        zk.session_states() as states,
        trio.open_nursery() as nursery,
    ):
        await zk.ensure_path("/tree")
        send, receive = trio.open_memory_channel[dict[str, bytes]](math.inf)
        await nursery.start(module.mirror, zk, "/tree", send)
        with trio.fail_after(EXAMPLE_DEADLINE):
            proxy.refuse()  # no new connection gets through...
            await proxy.reset()  # ...and the current one is cut
            assert await states.receive() is KeeperState.DISCONNECTED
            await other.create("/tree/missed", b"while away")  # not replayed later
            proxy.refuse(False)
            assert await states.receive() is KeeperState.SYNC_CONNECTED
            async for snapshot in receive:
                if snapshot.get("/tree/missed") == b"while away":
                    break
        nursery.cancel_scope.cancel()
