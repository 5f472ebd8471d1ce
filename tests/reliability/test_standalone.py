"""Session rules against one real standalone server of this module's own.

The server has a TLS port and SASL users, so one JVM covers TLS, SASL, host
resolution, IPv6, large watch sets across a reconnect, and (last, because it
destroys the data) the "server behind the client" case of promise 4.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import pytest
import trio

from trio_zookeeper import (
    AuthFailedError,
    ConnectFailedError,
    ConnectionLossError,
    CreateMode,
    EventType,
    KeeperState,
    NoAuthError,
    WatchedEvent,
    make_digest_acl,
    open_zookeeper,
)
from trio_zookeeper._protocol import DEFAULT_MAX_FRAME_SIZE, ClientProtocol, SetWatches, SetWatches2
from trio_zookeeper.testing import ZooKeeperServer, open_fault_proxy

from ._util import (
    SLACK,
    NameResolver,
    chroot_on,
    measured,
    open_fds,
    state_log,
    task_count,
    until,
)

pytestmark = [pytest.mark.server, pytest.mark.timeout(180)]

SASL_USER, SASL_PASSWORD = "alice", "wonderland"


@pytest.fixture(scope="module")
def server() -> Iterator[ZooKeeperServer]:
    zk_server = ZooKeeperServer(tls=True, sasl_users={SASL_USER: SASL_PASSWORD})
    try:
        zk_server.start(60)
        yield zk_server
    finally:
        zk_server.close()


async def pipelined(calls: Iterable[Callable[[], Awaitable[Any]]], width: int = 400) -> None:
    """Run the calls with up to ``width`` of them in flight on the connection."""
    limit = trio.Semaphore(width)

    async def one(call: Callable[[], Awaitable[Any]]) -> None:
        try:
            await call()
        finally:
            limit.release()

    async with trio.open_nursery() as nursery:
        for call in calls:
            await limit.acquire()
            nursery.start_soon(one, call)


# =================================================================== TLS


async def test_tls_with_the_harness_ca(server: ZooKeeperServer) -> None:
    assert server.secure_port is not None
    assert server.tls_ca_file is not None
    context = ssl.create_default_context(cafile=server.tls_ca_file)
    for host in ("127.0.0.1", "localhost"):
        async with open_zookeeper(f"{host}:{server.secure_port}", ssl_context=context) as zk:
            path = await zk.create(
                "/tls-", b"secret", makepath=True, mode=CreateMode.PERSISTENT_SEQUENTIAL
            )  # sequential
            assert (await zk.get_data(path))[0] == b"secret"
            await zk.delete(path)


async def test_tls_checks_host_names_and_the_ca_and_fails_cleanly(
    server: ZooKeeperServer,
) -> None:
    assert server.secure_port is not None
    assert server.tls_ca_file is not None
    good = ssl.create_default_context(cafile=server.tls_ca_file)
    wrong_ca = ssl.create_default_context()  # the system's CAs, not the harness's
    resolver = NameResolver({"not-in-the-certificate.test": "127.0.0.1"})
    trio.socket.set_custom_hostname_resolver(resolver)
    try:
        fds, tasks = open_fds(), task_count()
        cases = [
            (f"127.0.0.1:{server.secure_port}", wrong_ca),
            (f"not-in-the-certificate.test:{server.secure_port}", good),
        ]
        for hosts, context in cases:
            t0 = trio.current_time()
            with trio.move_on_after(3) as scope:
                async with open_zookeeper(hosts, ssl_context=context, session_timeout=2):
                    pytest.fail(f"TLS accepted {hosts} with the wrong CA or host name")
            assert scope.cancelled_caught
            assert trio.current_time() - t0 < 3 + SLACK  # nothing hangs
        assert resolver.lookups["not-in-the-certificate.test"] >= 2  # retried, resolved each time
        assert open_fds() == fds
        assert task_count() == tasks
    finally:
        trio.socket.set_custom_hostname_resolver(None)


async def test_a_tls_failure_is_named(server: ZooKeeperServer) -> None:
    assert server.secure_port is not None
    wrong_ca = ssl.create_default_context()  # the system's CAs, not the harness's
    host = f"127.0.0.1:{server.secure_port}"
    with trio.fail_after(30), pytest.raises(ConnectFailedError) as info:
        async with open_zookeeper(host, ssl_context=wrong_ca, connect_rounds=1):
            pytest.fail("TLS accepted the wrong CA")
    # The server sends its chain with the harness's CA in it (OpenSSL 1.1
    # spells it "self signed").
    cause = info.value.causes[host]
    assert re.fullmatch(
        "TLS certificate verification failed: self[- ]signed certificate in certificate chain",
        cause,
    ), cause
    assert str(info.value) == f"could not connect to {host}: {cause}"
    # A plain-TCP client on the TLS port: the server drops it mid-handshake.
    with trio.fail_after(30), pytest.raises(ConnectFailedError) as info:
        async with open_zookeeper(host, connect_rounds=1):
            pytest.fail("a plain client got a session on the TLS port")
    assert info.value.causes[host] in (
        "the server closed the connection during the handshake (its data may be behind "
        "this client's last zxid, or it is read-only)",
        "connection reset by peer",
    )


# ================================================================== SASL


async def test_sasl_digest_md5(server: ZooKeeperServer) -> None:
    async with open_zookeeper(server.connect_string, sasl=(SASL_USER, SASL_PASSWORD)) as zk:
        identities = await zk.who_am_i()
        assert ("sasl", SASL_USER) in [(i.auth_scheme, i.user) for i in identities]
        t0 = trio.current_time()
    measured("sasl: close", trio.current_time() - t0)
    assert trio.current_time() - t0 < 1 + SLACK


async def test_sasl_wrong_password_is_final_and_prompt(server: ZooKeeperServer) -> None:
    fds, tasks = open_fds(), task_count()
    t0 = trio.current_time()
    with trio.fail_after(10), pytest.raises(AuthFailedError) as info:
        async with open_zookeeper(
            server.connect_string, sasl=(SASL_USER, "not-the-password"), session_timeout=4
        ):
            pytest.fail("connected with a wrong SASL password")
    assert str(info.value) == (
        f"SASL DIGEST-MD5 as {SASL_USER!r} authentication failed: "
        "the server rejected the credentials"
    )
    measured("sasl: wrong password rejected", trio.current_time() - t0)
    assert trio.current_time() - t0 < 2 + SLACK
    assert open_fds() == fds
    assert task_count() == tasks


async def test_digest_auth_failures(server: ZooKeeperServer) -> None:
    async with chroot_on(server.connect_string) as root:
        async with open_zookeeper(server.connect_string + root) as owner:
            await owner.add_auth("digest", "bob:right")
            await owner.create("/private", b"x", acl=[make_digest_acl("bob", "right")])
        # digest with the wrong password is accepted; access then fails (NoAuth)
        async with open_zookeeper(server.connect_string + root) as zk:
            await zk.add_auth("digest", "bob:wrong")
            with pytest.raises(NoAuthError):
                await zk.get_data("/private")
            assert zk.state is KeeperState.SYNC_CONNECTED
        # a scheme the server rejects ends the session: AUTH_FAILED, final
        async with open_zookeeper(server.connect_string + root) as zk, state_log(zk) as states:
            with trio.fail_after(5), pytest.raises(AuthFailedError):
                await zk.add_auth("no-such-scheme", "x")
            with trio.fail_after(2):
                await states.wait_for(KeeperState.AUTH_FAILED)
            with pytest.raises(AuthFailedError):
                await zk.exists("/")
            with pytest.raises(AuthFailedError):
                await zk.wait_connected()
            t0 = trio.current_time()
        assert trio.current_time() - t0 < 1  # closing after AUTH_FAILED is prompt
        # the credentials are re-sent after a reconnect, before anything else
        async with (
            open_fault_proxy(server.host, server.port) as proxy,
            open_zookeeper(proxy.address + root, session_timeout=4) as zk,
        ):
            await zk.add_auth("digest", "bob:right")
            assert (await zk.get_data("/private"))[0] == b"x"
            sid = zk.session_id
            await proxy.reset()
            with trio.fail_after(5):
                while True:
                    try:
                        data, _ = await zk.get_data("/private")
                        break
                    except ConnectionLossError:
                        await zk.wait_connected()
            assert data == b"x"
            assert zk.session_id == sid
            await zk.delete("/private")  # only bob may list it for the clean-up


# ============================================================ addresses


async def test_host_names_are_resolved_at_each_connect(server: ZooKeeperServer) -> None:
    resolver = NameResolver({"zk-alias.test": "127.0.0.2"})  # nothing listens there
    trio.socket.set_custom_hostname_resolver(resolver)
    try:
        async with trio.open_nursery() as nursery:

            async def repoint() -> None:
                await until(lambda: resolver.lookups["zk-alias.test"] >= 3)
                resolver.table["zk-alias.test"] = "127.0.0.1"

            nursery.start_soon(repoint)
            with trio.fail_after(20):
                async with open_zookeeper(f"zk-alias.test:{server.port}", session_timeout=2) as zk:
                    assert zk.connected
                    assert zk.statistics().server == f"zk-alias.test:{server.port}"
        assert resolver.lookups["zk-alias.test"] >= 4
    finally:
        trio.socket.set_custom_hostname_resolver(None)


async def test_ipv6_literal(server: ZooKeeperServer) -> None:
    async def forward(client: trio.SocketStream) -> None:
        upstream = await trio.open_tcp_stream(server.host, server.port)
        async with client, upstream:

            async def pump(a: trio.SocketStream, b: trio.SocketStream) -> None:
                broken = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
                with contextlib.suppress(*broken):
                    async for chunk in a:
                        await b.send_all(chunk)
                with contextlib.suppress(*broken):
                    await b.send_eof()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump, client, upstream)
                nursery.start_soon(pump, upstream, client)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, forward, 0, host="::1"))
        port = listeners[0].socket.getsockname()[1]
        async with open_zookeeper(f"[::1]:{port}") as zk:
            assert zk.statistics().server == f"[::1]:{port}"
            assert await zk.exists("/") is not None
        nursery.cancel_scope.cancel()


async def test_many_hosts_with_dead_and_silent_ones(server: ZooKeeperServer) -> None:
    async with (
        open_fault_proxy(server.host, server.port) as silent_1,
        open_fault_proxy(server.host, server.port) as silent_2,
        open_fault_proxy(server.host, server.port) as live,
    ):
        silent_1.blackhole()
        silent_2.blackhole()
        dead = []
        for _ in range(5):  # ports with nothing listening: refused at once
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                dead.append(f"127.0.0.1:{s.getsockname()[1]}")
        hosts = [*dead, silent_1.address, silent_2.address, live.address]
        timeout = 8.0
        t0 = trio.current_time()
        with trio.fail_after(timeout * 2 / len(hosts) + 8 + SLACK):  # 2 silent hosts + jitter
            async with open_zookeeper(",".join(hosts), session_timeout=timeout) as zk:
                measured("many hosts: connected", trio.current_time() - t0)
                assert zk.statistics().server == live.address


# ====================================================== watches at scale


async def test_ten_thousand_watches_across_a_reconnect(
    server: ZooKeeperServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames: list[int] = []
    original = ClientProtocol.send_set_watches

    def recording(self: ClientProtocol, request: SetWatches | SetWatches2) -> bytes:
        frame = original(self, request)
        frames.append(len(frame) - 4)
        return frame

    monkeypatch.setattr(ClientProtocol, "send_set_watches", recording)
    n_data, n_exist, n_child = 5000, 4000, 1000
    async with (
        chroot_on(server.connect_string) as root,
        open_zookeeper(server.connect_string + root) as writer,
        open_fault_proxy(server.host, server.port) as proxy,
        open_zookeeper(proxy.address + root, session_timeout=10) as zk,
        state_log(zk) as states,
    ):
        for parent in ("/d", "/x", "/p"):
            await writer.create(parent)
        t0 = trio.current_time()
        await pipelined(
            [lambda i=i: writer.create(f"/d/n{i:05d}", b"0") for i in range(n_data)]
            + [lambda i=i: writer.create(f"/p/q{i:05d}") for i in range(n_child)]
        )
        measured("watch scale: pipelined creates", trio.current_time() - t0)
        seen: collections.Counter[tuple[EventType, str]] = collections.Counter()
        events: list[WatchedEvent] = []

        async def consume() -> None:
            async for event in zk.default_watcher:
                events.append(event)
                assert event.path is not None
                seen[(event.event_type, event.path)] += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            t0 = trio.current_time()
            watching = zk.watch()
            jobs: list[Callable[[], Awaitable[object]]] = []
            jobs += [functools.partial(watching.get_data, f"/d/n{i:05d}") for i in range(n_data)]
            jobs += [functools.partial(watching.exists, f"/x/n{i:05d}") for i in range(n_exist)]
            jobs += [
                functools.partial(watching.get_children, f"/p/q{i:05d}") for i in range(n_child)
            ]
            await pipelined(jobs)
            measured("watch scale: 10,000 watches set", trio.current_time() - t0)
            assert zk.statistics().watches == n_data + n_exist + n_child
            sid = zk.session_id
            proxy.refuse()
            await proxy.reset()
            with trio.fail_after(5):
                t_disc = await states.wait_for(KeeperState.DISCONNECTED)
            t0 = trio.current_time()
            await pipelined(
                [lambda i=i: writer.set_data(f"/d/n{i:05d}", b"1") for i in range(n_data)]
                + [lambda i=i: writer.create(f"/x/n{i:05d}") for i in range(n_exist)]
                + [lambda i=i: writer.create(f"/p/q{i:05d}/c") for i in range(n_child)]
            )
            measured("watch scale: changes while disconnected", trio.current_time() - t0)
            assert not zk.connected
            proxy.refuse(False)
            total = n_data + n_exist + n_child
            with trio.fail_after(20):
                t_back = await states.wait_for(KeeperState.SYNC_CONNECTED, after=t_disc)
                await until(lambda: len(events) >= total)
            measured("watch scale: all events after reconnect", trio.current_time() - t_back)
            await trio.sleep(1.0)  # a window in which duplicates would show up
            nursery.cancel_scope.cancel()
        assert zk.session_id == sid
        assert len(events) == total
        assert all(count == 1 for count in seen.values())
        assert sum(1 for t, _ in seen if t is EventType.NODE_DATA_CHANGED) == n_data
        assert sum(1 for t, _ in seen if t is EventType.NODE_CREATED) == n_exist
        assert sum(1 for t, _ in seen if t is EventType.NODE_CHILDREN_CHANGED) == n_child
        assert zk.statistics().watches == 0
        assert len(frames) >= 2
        assert max(frames) <= DEFAULT_MAX_FRAME_SIZE
        measured("watch scale: SetWatches frames", float(len(frames)))


# ========================================= last: the server loses its data


async def test_server_behind_the_client_is_never_attached_to(server: ZooKeeperServer) -> None:
    """Promise 4, the kazoo #42 scenario: wipe the server and restart it.

    The decision documented here: the client keeps its last zxid across an
    expiry (it never goes back in time), so it does not attach to a server
    whose database is behind it, neither for the old session nor for a new
    one. It reports DISCONNECTED, then EXPIRED once (suspected by the client
    at 4/3 of the timeout), and keeps trying quietly, staying DISCONNECTED.
    It never reports SYNC_CONNECTED and never quietly opens a fresh session.
    Only a new client object starts from zxid 0.
    """
    timeout = 2.0
    async with (
        open_zookeeper(server.connect_string, session_timeout=timeout) as zk,
        state_log(zk) as states,
    ):
        await zk.create("/behind", b"")
        for i in range(60):
            await zk.set_data("/behind", str(i).encode())
        seen = zk.last_zxid
        await server.astop()
        server.wipe()
        await server.astart()
        t_up = trio.current_time()
        with trio.fail_after(4 / 3 * timeout + 2 + SLACK):
            await states.wait_for(KeeperState.EXPIRED)
        await trio.sleep_until(t_up + 4 * timeout)  # observe: it must not attach
        assert KeeperState.SYNC_CONNECTED not in states.states
        assert states.states == [
            KeeperState.DISCONNECTED,
            KeeperState.EXPIRED,
            KeeperState.DISCONNECTED,
        ]
        assert zk.state is KeeperState.DISCONNECTED
        assert zk.last_zxid == seen
        # Why it does not attach, for the user to see: the refusal is named.
        assert zk.statistics().connect_errors == {
            f"{server.host}:{server.port}": "the server closed the connection during the "
            "handshake (its data may be behind this client's last zxid, or it is read-only)"
        }
        async with open_zookeeper(server.connect_string) as fresh:
            assert await fresh.exists("/behind") is None  # the data is gone indeed
            assert fresh.last_zxid < seen
