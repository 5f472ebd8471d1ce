"""Observing a client against the real server: the tracer, the counters, the log lines."""

from __future__ import annotations

import logging

import pytest
import trio

from trio_zookeeper import (
    HostListUpdate,
    KeeperState,
    NoNodeError,
    RequestTrace,
    Tracer,
    open_zookeeper,
)
from trio_zookeeper.testing import expire_session, open_fault_proxy

from .conftest import Connect, Server


class Recorder(Tracer):
    def __init__(self) -> None:
        self.started: list[RequestTrace] = []
        self.ended: list[RequestTrace] = []
        self.events: list[tuple[object, ...]] = []

    def request_started(self, request: RequestTrace) -> None:
        assert request.ended is None
        self.started.append(request)

    def request_ended(self, request: RequestTrace) -> None:
        self.ended.append(request)

    def connecting(self, server: str) -> None:
        self.events.append(("connecting", server))

    def connect_failed(self, server: str, cause: str) -> None:
        self.events.append(("connect_failed", server, cause))

    def connected(self, server: str, session_id: int, read_only: bool) -> None:
        self.events.append(("connected", server, session_id, read_only))

    def connection_lost(self, server: str, cause: str) -> None:
        self.events.append(("connection_lost", server, cause))

    def session_expired(self, session_id: int, reason: str) -> None:
        self.events.append(("session_expired", session_id))

    def hosts_changed(self, update: HostListUpdate) -> None:
        self.events.append(("hosts_changed", update.hosts))


async def test_the_tracer_sees_each_request_and_its_outcome(connect: Connect) -> None:
    tracer = Recorder()
    with trio.fail_after(30):
        async with connect(tracer=tracer) as zk:
            await zk.create("/t", b"x")
            await zk.get_data("/t")
            with pytest.raises(NoNodeError):
                await zk.get_data("/missing")
            with trio.CancelScope() as scope:
                scope.cancel()
                await zk.exists("/t")  # cancelled before it starts: no request
            server = zk.statistics().server
            session_id = zk.session_id
    seen = [(r.op, r.path, r.outcome) for r in tracer.ended]
    assert seen[:3] == [
        ("create", "/t", "ok"),
        ("get_data", "/t", "ok"),
        ("get_data", "/missing", "NoNodeError"),
    ]
    assert seen[3:] == [("close_session", None, "ok")] or seen[3:] == []
    assert tracer.started[:3] == tracer.ended[:3]
    for request in tracer.ended:
        assert request.ended is not None
        assert request.duration is not None
        assert request.duration >= 0
    assert isinstance(tracer.ended[2].error, NoNodeError)
    assert tracer.events[:2] == [("connecting", server), ("connected", server, session_id, False)]


async def test_a_cancelled_request_is_traced_as_cancelled(
    zookeeper_server: Server, chroot: str
) -> None:
    tracer = Recorder()
    with trio.fail_after(30):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot, tracer=tracer) as zk,
        ):
            proxy.pause_upstream()
            with trio.move_on_after(0.2) as scope:
                await zk.exists("/held")
            assert scope.cancelled_caught
            proxy.pause_upstream(False)
            assert await zk.exists("/") is not None
    held = [r for r in tracer.ended if r.path == "/held"]
    assert [(r.op, r.outcome) for r in held] == [("exists", "Cancelled")]
    assert isinstance(held[0].error, trio.Cancelled)


async def test_loss_and_expiry_reach_the_tracer_and_the_counters(
    zookeeper_server: Server, chroot: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trio_zookeeper.session")
    tracer = Recorder()
    with trio.fail_after(60):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot, tracer=tracer) as zk,
            zk.session_states() as states,
        ):
            await zk.create("/n", b"")
            first_id = zk.session_id
            # A lost connection: the session survives, the client reconnects.
            await proxy.reset()
            assert await states.receive() is KeeperState.DISCONNECTED
            assert await states.receive() is KeeperState.SYNC_CONNECTED
            assert zk.session_id == first_id
            # A real expiry, through a second connection to the server.
            await expire_session(zk, via=zookeeper_server.connect_string)
            await zk.wait_connected()
            second_id = zk.session_id
            stats = zk.statistics()
    kinds = [event[0] for event in tracer.events]
    assert "connection_lost" in kinds
    assert ("session_expired", first_id) in tracer.events
    connected = [event for event in tracer.events if event[0] == "connected"]
    assert next(event[2] for event in connected) == first_id
    assert connected[-1][2] == second_id
    assert stats.expirations == 1
    assert stats.reconnects == stats.connections - 1 >= 2
    # Every line about the session names it; the loss names the server too.
    lost = [r for r in caplog.records if "lost" in r.getMessage()]
    assert lost, caplog.text
    assert lost[0].getMessage().startswith(f"[session 0x{first_id:x} via {proxy.address}]")
    assert lost[0].zk_session_id == first_id  # type: ignore[attr-defined]
    assert lost[0].zk_server == proxy.address  # type: ignore[attr-defined]
    expired = [r for r in caplog.records if "expired" in r.getMessage()]
    assert expired, caplog.text
    assert f"0x{first_id:x}" in expired[0].getMessage()
    assert expired[0].levelno == logging.WARNING


async def test_statistics_count_requests_errors_bytes_and_watch_events(
    connect: Connect,
) -> None:
    with trio.fail_after(30):
        async with connect() as zk, connect() as writer:
            before = zk.statistics()
            assert before.requests == 0
            assert before.errors == {}
            await zk.create("/s", b"0")
            for _ in range(3):
                with pytest.raises(NoNodeError):
                    await zk.get_data("/nope")
            _, events = await zk.with_watcher().get_data("/s")
            await writer.set_data("/s", b"1")
            await events.receive()
            await zk.get_data("/s")
            stats = zk.statistics()
    assert stats.requests == 6  # create, 3 failures, the watched read, the last read
    assert stats.errors == {"NoNodeError": 3}
    assert stats.watch_events == 1
    assert stats.connections == 1
    assert stats.reconnects == 0
    assert stats.expirations == 0
    # At least the ConnectRequest (about 45 bytes) and six requests went out;
    # the replies (a ConnectResponse, six replies, one event) came back.
    assert stats.bytes_sent > 45 + 6 * 12
    assert stats.bytes_received > 36 + 6 * 16


async def test_a_raising_tracer_does_not_break_the_client(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Tracer):
        def request_ended(self, request: RequestTrace) -> None:
            raise RuntimeError("tracer bug")

    with trio.fail_after(30):
        async with connect(tracer=Broken()) as zk:
            await zk.create("/b", b"x")
            assert await zk.get_data("/b") == (b"x", (await zk.exists("/b")))
    assert "tracer bug" in caplog.text
    assert any(r.name == "trio_zookeeper.trace" for r in caplog.records)


async def test_a_tracer_must_be_a_tracer(zk_connect_string: str) -> None:
    with pytest.raises(TypeError, match=r"tracer must be a trio_zookeeper\.Tracer"):
        async with open_zookeeper(zk_connect_string, tracer=print):  # type: ignore[arg-type]
            pass


async def test_host_list_changes_reach_the_tracer(zookeeper_server: Server) -> None:
    tracer = Recorder()
    with trio.fail_after(30):
        async with open_zookeeper(zookeeper_server.connect_string, tracer=tracer) as zk:
            update = zk.update_hosts(f"{zookeeper_server.connect_string},127.0.0.1:1")
    assert ("hosts_changed", update.hosts) in tracer.events
