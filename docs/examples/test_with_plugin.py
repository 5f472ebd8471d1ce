"""Testing an application's ZooKeeper code with trio_zookeeper's pytest plugin.

Enable the plugin in the project's top-level ``conftest.py``::

    pytest_plugins = ["trio_zookeeper.testing.pytest_plugin"]

and run ``pytest``: the plugin starts one real ZooKeeper for the session (or
uses ``$ZOOKEEPER_HOSTS``), and each test gets its own chroot.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_zookeeper import (
    CreateMode,
    EventType,
    KeeperState,
    Stat,
    WatchEvents,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper.testing import (
    ExternalZooKeeperServer,
    ZooKeeperServer,
    expire_session,
    open_fake_zookeeper,
    open_fault_proxy,
)

pytestmark = pytest.mark.trio


async def publish(zk: ZooKeeper, name: str, address: bytes) -> str:
    """The application code under test: announce a service instance."""
    await zk.ensure_path("/services")
    return await zk.create(f"/services/{name}-", address, mode=CreateMode.EPHEMERAL_SEQUENTIAL)


async def test_publish(zk: ZooKeeper) -> None:
    """``zk``: a client confined to a chroot of its own, closed after the test."""
    path = await publish(zk, "web", b"10.0.0.7:8080")
    assert path.startswith("/services/web-")
    data, stat = await zk.get_data(path)
    assert data == b"10.0.0.7:8080"
    assert stat.ephemeral_owner == zk.session_id


async def test_instance_disappears_when_its_session_expires(zk_connect_string: str) -> None:
    """``zk_connect_string``: the chroot's connect string, for several clients."""
    async with (
        open_zookeeper(zk_connect_string) as app,
        open_zookeeper(zk_connect_string) as observer,
    ):
        path = await publish(app, "web", b"10.0.0.7:8080")
        result: tuple[Stat | None, WatchEvents] = await observer.with_watcher().exists(path)
        stat, events = result
        assert stat is not None
        with trio.fail_after(10):
            await expire_session(app)  # a real, server-side expiry
            async for event in events:
                if event.event_type is not EventType.NONE:
                    assert event.event_type is EventType.NODE_DELETED
                    break
            await app.wait_connected()  # the application client has a new session


async def test_session_survives_a_dropped_connection(
    zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer, zk_connect_string: str
) -> None:
    """A fault-injecting proxy between the client and the server."""
    chroot = zk_connect_string[zk_connect_string.index("/") :]
    server = zookeeper_server
    async with (
        open_fault_proxy(server.host, server.port) as proxy,
        open_zookeeper(proxy.address + chroot) as app,
        app.session_states() as states,
    ):
        path = await publish(app, "web", b"10.0.0.7:8080")
        session_id = app.session_id
        with trio.fail_after(10):
            await proxy.reset()  # both sides see their connection reset
            assert await states.receive() is KeeperState.DISCONNECTED
            assert await states.receive() is KeeperState.SYNC_CONNECTED
        assert app.session_id == session_id  # same session: the node is still there
        assert await app.exists(path) is not None


async def test_silent_server_is_noticed_in_time(autojump_clock: trio.testing.MockClock) -> None:
    """The in-memory fake server: exact timing under trio's mock clock, no JVM."""
    async with (
        open_fake_zookeeper() as fake,
        open_zookeeper("fake:2181", stream_factory=fake.connect, session_timeout=3) as zk,
        zk.session_states() as states,
    ):
        fake.silent = True  # the server reads requests but answers nothing
        start = trio.current_time()
        assert await states.receive() is KeeperState.DISCONNECTED
        # Silence is noticed after 2/3 of the session timeout.
        assert trio.current_time() - start <= 2.0
