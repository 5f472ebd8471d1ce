"""Opt-in pytest plugin with real-ZooKeeper fixtures.

Enable it in a ``conftest.py``::

    pytest_plugins = ["trio_zookeeper.testing.pytest_plugin"]

Fixtures (session scoped, synchronous, so usable from sync and trio tests):

``zookeeper_server``
    A started standalone :class:`~trio_zookeeper.testing.ZooKeeperServer`
    (tickTime 500 ms so sessions are 1 to 10 s, TTL/extended types on, read-only
    mode off, container checks every 500 ms). If the environment variable
    ``ZOOKEEPER_HOSTS`` is set (``host:port[,host:port...]``), no JVM is
    started: the fixture is an
    :class:`~trio_zookeeper.testing.ExternalZooKeeperServer` for that server.
    Its ``connect_string``, ``host``, ``port`` and four letter
    words work; stop/kill/pause/resume/restart/wipe raise
    :class:`~trio_zookeeper.testing.ExternalServerError`, so tests needing them
    must start their own :class:`~trio_zookeeper.testing.ZooKeeperServer`.

``zk_connect_string`` (function scoped, async)
    ``zookeeper_server``'s connect string with a chroot unique to the test,
    created before it and deleted (recursively) after it.

``zk`` (function scoped, async)
    A connected :class:`~trio_zookeeper.ZooKeeper` client on that chroot; it
    is closed after the test.

``zookeeper_ensemble``
    A started 3-member :class:`~trio_zookeeper.testing.ZooKeeperEnsemble` with
    the same settings, started only when a test asks for it (always local JVMs).
    Tests that kill or pause members should call
    :meth:`~trio_zookeeper.testing.ZooKeeperEnsemble.restore` when done.

Both fixtures are shared by the whole session: isolate tests with a unique
chroot or path prefix instead of restarting servers.

``ZOOKEEPER_HOSTS`` is the one variable: the command-line client and the
documentation's examples read it too. The variable's former name,
``TZK_SERVERS``, is refused (the session stops with a usage error saying to
rename it) rather than silently ignored.

Missing ZooKeeper is a failure, never a skip: tests that use these fixtures,
or carry the ``server``/``ensemble`` marker (:data:`requires_zookeeper`,
:data:`requires_ensemble`), fail at setup with a message naming what to
install. When a test fails, the tail of the server log(s) it used is attached
to the report as an extra section.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
import trio

from trio_zookeeper import ZooKeeper

from ._ensemble import ZooKeeperEnsemble
from ._server import (
    ExternalZooKeeperServer,
    ZooKeeperNotFoundError,
    ZooKeeperServer,
    find_zookeeper,
)

__all__ = [
    "SERVERS_ENV",
    "require_zookeeper",
    "requires_ensemble",
    "requires_zookeeper",
    "zookeeper_ensemble",
    "zookeeper_missing_reason",
    "zookeeper_server",
]

SERVERS_ENV = "ZOOKEEPER_HOSTS"
"""Environment variable naming an external server, ``host:port[,host:port...]``.

The same variable the command-line client and the documentation's examples read.
"""

_RETIRED_SERVERS_ENV = "TZK_SERVERS"

LOG_TAIL_LINES = 100

requires_zookeeper = pytest.mark.server
"""Marks a test (or a module, with ``pytestmark = requires_zookeeper``) as needing a server.

Without a ZooKeeper server (no local installation and no ``ZOOKEEPER_HOSTS``) the test fails at
setup with a message naming what to install. It is never skipped.
"""

requires_ensemble = pytest.mark.ensemble
"""Like :data:`requires_zookeeper`, for tests needing a local 3-member ensemble."""


def _external_hosts() -> str | None:
    """The external server the environment names, or ``None`` to start one locally.

    Returns:
        ``$ZOOKEEPER_HOSTS`` stripped, or ``None`` when it is unset or blank.

    Raises:
        pytest.UsageError: ``TZK_SERVERS`` (the variable's former name) is
            set: it would otherwise be silently ignored.
    """
    if _RETIRED_SERVERS_ENV in os.environ:
        raise pytest.UsageError(
            f"{_RETIRED_SERVERS_ENV} is set ({_RETIRED_SERVERS_ENV}="
            f"{os.environ[_RETIRED_SERVERS_ENV]!r}), but trio_zookeeper's pytest plugin no "
            f"longer reads it: rename it to {SERVERS_ENV} (host:port[,host:port...]), "
            f"or unset it to let the plugin start a ZooKeeper server of its own"
        )
    value = os.environ.get(SERVERS_ENV, "").strip()
    return value or None


def zookeeper_missing_reason(*, local: bool = False) -> str | None:
    """Say why no ZooKeeper is available, or return ``None`` if one is.

    Args:
        local: Require a local installation (Java + jars) even when
            ``ZOOKEEPER_HOSTS`` names an external server.

    Returns:
        ``None`` when a server can be had, else a message naming what to
        install and which environment variables to set.
    """
    if not local and _external_hosts() is not None:
        return None
    try:
        find_zookeeper()
    except ZooKeeperNotFoundError as exc:
        return str(exc)
    return None


def require_zookeeper(*, local: bool = False) -> None:
    """Fail the current test (never skip it) unless a ZooKeeper server is available.

    Args:
        local: Require a local installation even when ``ZOOKEEPER_HOSTS`` is set.
    """
    reason = zookeeper_missing_reason(local=local)
    if reason is not None:
        pytest.fail(f"this test needs a real ZooKeeper server: {reason}", pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers the plugin understands; refuse the retired variable name."""
    _external_hosts()
    config.addinivalue_line(
        "markers", "server: needs a real ZooKeeper server (fails, never skips, without one)"
    )
    config.addinivalue_line(
        "markers", "ensemble: needs a local 3-member ZooKeeper ensemble (fails without one)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests using the fixtures, so ``-m "not ensemble"`` deselects them."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "zookeeper_ensemble" in names:
            item.add_marker(pytest.mark.ensemble)
        if "zookeeper_server" in names:
            item.add_marker(pytest.mark.server)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail marked tests up front, with the install hint, when ZooKeeper is missing."""
    if item.get_closest_marker("ensemble") is not None:
        require_zookeeper(local=True)
    elif item.get_closest_marker("server") is not None:
        require_zookeeper()


def _log_sections(item: pytest.Item) -> list[tuple[str, str]]:
    funcargs: dict[str, object] = getattr(item, "funcargs", {})
    sections: list[tuple[str, str]] = []
    server = funcargs.get("zookeeper_server")
    if isinstance(server, ZooKeeperServer):
        sections.append(
            (
                f"zookeeper_server log {server.connect_string} (last {LOG_TAIL_LINES} lines)",
                server.log_tail(LOG_TAIL_LINES),
            )
        )
    ensemble = funcargs.get("zookeeper_ensemble")
    if isinstance(ensemble, ZooKeeperEnsemble):
        for index, member in enumerate(ensemble.members):
            sections.append(
                (
                    f"zookeeper_ensemble member {index + 1} log {member.connect_string} "
                    f"(last {LOG_TAIL_LINES} lines)",
                    member.log_tail(LOG_TAIL_LINES),
                )
            )
    return sections


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the server log tails to the report of a failed test."""
    report = yield
    if report.failed:
        for title, text in _log_sections(item):
            report.sections.append((title, text))
    return report


@pytest.fixture(scope="session")
def zookeeper_server() -> Iterator[ZooKeeperServer | ExternalZooKeeperServer]:
    """A running standalone ZooKeeper server shared by the session (see the module docs)."""
    external = _external_hosts()
    if external is not None:
        try:
            remote = ExternalZooKeeperServer(external)
        except ValueError as exc:
            pytest.fail(f"{SERVERS_ENV}={external!r} cannot be used: {exc}", pytrace=False)
        try:
            remote.four_letter_word("srvr", timeout=5.0)
        except OSError as exc:
            pytest.fail(
                f"{SERVERS_ENV}={external} is set but {remote.host}:{remote.port} "
                f"does not answer: {exc}",
                pytrace=False,
            )
        yield remote
        return
    require_zookeeper(local=True)
    server = ZooKeeperServer(
        tick_time=500,
        extended_types=True,
        read_only_mode=False,
        container_check_interval_ms=500,
    )
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def zookeeper_ensemble() -> Iterator[ZooKeeperEnsemble]:
    """A running 3-member ensemble shared by the session, started on first use."""
    require_zookeeper(local=True)
    ensemble = ZooKeeperEnsemble(
        3,
        tick_time=500,
        extended_types=True,
        read_only_mode=False,
        container_check_interval_ms=500,
    )
    try:
        ensemble.start()
        yield ensemble
    finally:
        ensemble.close()


@pytest.fixture
async def zk_connect_string(
    zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer,
) -> AsyncIterator[str]:
    """A connect string confined to a chroot unique to this test.

    The chroot node is created before the test and deleted, with everything
    below it, afterwards. Open as many clients on it as the test needs.
    """
    from trio_zookeeper import open_zookeeper

    chroot = f"/tzk-test-{uuid.uuid4().hex[:16]}"
    base = zookeeper_server.connect_string
    async with open_zookeeper(base) as admin:
        await admin.create(chroot)
        try:
            yield base + chroot
        finally:
            with trio.move_on_after(30, shield=True):
                await admin.delete(chroot, recursive=True)


@pytest.fixture
async def zk(zk_connect_string: str) -> AsyncIterator[ZooKeeper]:
    """A connected client on ``zookeeper_server``, confined to this test's chroot."""
    from trio_zookeeper import open_zookeeper

    async with open_zookeeper(zk_connect_string) as client:
        yield client
