"""Session timing and recovery rules against the fake server, on trio's clock.

Each test runs under ``autojump_clock``: timers are exact and a "30 second"
scenario costs milliseconds. The rules are Java's (``ClientCnxn``,
``StaticHostProvider``) as docs/reliability.rst lists them:

* connect timeout per host = session timeout / number of hosts;
* the connection is dead after 2/3 of the negotiated timeout without
  receiving anything; a ping goes out after 1/3 of it without sending;
* a random pause before each reconnect and a pause after a full round of
  hosts (Java: 0-1 s and 1 s; here at most timeout/6);
* expiry is suspected after 4/3 of the timeout without any server.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

import trio_zookeeper
from trio_zookeeper import (
    AuthFailedError,
    ConnectionLossError,
    EventType,
    KeeperState,
    NoNodeError,
    NotReadOnlyError,
    Retry,
    RetryFailedError,
    SessionExpiredError,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper._protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    ClientProtocol,
    ConnectRequest,
    ConnectResponse,
    OpCode,
    ServerProtocol,
    SetWatches,
    SetWatches2,
)
from trio_zookeeper.testing._fake import FakeConnection, FakeZooKeeper

pytestmark = pytest.mark.timeout(60)


class Attempts:
    """A stream factory that records each connection attempt (time, host:port)."""

    def __init__(self, fake: FakeZooKeeper) -> None:
        self.fake = fake
        self.log: list[tuple[float, str]] = []

    async def __call__(self, host: str, port: int) -> trio.abc.Stream:
        self.log.append((trio.current_time(), f"{host}:{port}"))
        return await self.fake.connect(host, port)

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.log]

    @property
    def hosts(self) -> list[str]:
        return [h for _, h in self.log]


def client(fake: FakeZooKeeper, hosts: str = "fake:2181", **kw: Any) -> Any:
    kw.setdefault("stream_factory", fake.connect)
    return open_zookeeper(hosts, **kw)


class StateLog:
    """Every session state change, with the time it was reported."""

    def __init__(self) -> None:
        self.log: list[tuple[float, KeeperState]] = []
        self._changed = trio.Event()

    async def run(self, zk: ZooKeeper, *, task_status: trio.TaskStatus[None]) -> None:
        async with zk.session_states() as states:
            task_status.started()
            async for state in states:
                self.log.append((trio.current_time(), state))
                self._changed.set()
                self._changed = trio.Event()

    @property
    def states(self) -> list[KeeperState]:
        return [s for _, s in self.log]

    def first(self, state: KeeperState, after: float = -1.0) -> float:
        return next(t for t, s in self.log if s is state and t >= after)

    async def wait_for(self, state: KeeperState, count: int = 1) -> float:
        while self.states.count(state) < count:
            await self._changed.wait()
        return [t for t, s in self.log if s is state][count - 1]


@asynccontextmanager
async def watching_states(zk: ZooKeeper) -> AsyncIterator[StateLog]:
    log = StateLog()
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run, zk)
        yield log
        nursery.cancel_scope.cancel()


async def until(predicate: Callable[[], bool]) -> None:
    """Poll the fake's or the client's state (cheap under the autojump clock)."""
    while not predicate():  # noqa: ASYNC110 - plain attributes, no event to wait on
        await trio.sleep(0.001)


def ops(conn: FakeConnection) -> list[int]:
    return [r.op for r in conn.requests]


# ================================================================ host list


async def test_hosts_are_shuffled_per_client(fake: FakeZooKeeper) -> None:
    hosts = ",".join(f"h{i}:2181" for i in range(6))
    firsts: list[str] = []
    for _ in range(20):
        attempts = Attempts(fake)
        async with client(fake, hosts, stream_factory=attempts):
            pass
        firsts.append(attempts.hosts[0])
    # (1/6)**19 for all the same by chance
    assert len(set(firsts)) > 1, firsts
    attempts = Attempts(fake)
    async with client(fake, hosts, stream_factory=attempts, randomize_hosts=False):
        pass
    assert attempts.hosts == ["h0:2181"]


async def test_hosts_are_handed_to_the_opener_unresolved(fake: FakeZooKeeper) -> None:
    # Names and IPv6 literals reach the stream opener as written: resolution
    # happens per connection attempt (trio.open_tcp_stream), never at parse time.
    attempts = Attempts(fake)
    async with client(fake, "[::1]:2181", stream_factory=attempts) as zk:
        assert zk.statistics().server == "[::1]:2181"
    attempts2 = Attempts(fake)
    async with client(fake, "zk.example.invalid:2182", stream_factory=attempts2):
        pass
    assert attempts.hosts == ["::1:2181"]
    assert attempts2.hosts == ["zk.example.invalid:2182"]


# ============================================================== connecting


async def test_connect_timeout_is_session_timeout_over_hosts_with_jitter_and_round_pause(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    fake.silent = True  # accepts, reads, never answers the handshake
    attempts = Attempts(fake)
    hosts = "a:1,b:2,c:3,d:4"
    java_like = trio_zookeeper.Backoff(initial=1.0, factor=1.0, jitter=0.0)  # Java's 1 s
    with trio.move_on_after(40):
        async with client(
            fake, hosts, stream_factory=attempts, session_timeout=8, reconnect_backoff=java_like
        ):
            pytest.fail("connected to a silent server")
    # connectTimeout = 8 s / 4 hosts = 2 s; jitter in [0, min(1, 8/6)] = [0, 1];
    # after each round of 4, an extra pause of 1 s (a constant policy here;
    # the growing default is checked below).
    times = attempts.times
    assert len(times) >= 12
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for i, gap in enumerate(gaps):
        if (i + 1) % 4 == 0:  # from the last host of a round to the first of the next
            assert 3.0 - 1e-6 <= gap <= 4.0 + 1e-6, (i, gap)
        else:
            assert 2.0 - 1e-6 <= gap <= 3.0 + 1e-6, (i, gap)
    assert len({round(g, 6) for g in gaps}) > len(gaps) // 2, "the pauses are jittered"
    for start in range(0, len(attempts.hosts) - 3, 4):
        assert sorted(attempts.hosts[start : start + 4]) == sorted(hosts.split(","))


async def test_reconnect_attempts_are_bounded_while_every_server_is_down(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    attempts = Attempts(fake)
    async with client(fake, "a:1,b:2,c:3", stream_factory=attempts, session_timeout=10) as zk:
        fake.refuse = True  # every new connection is closed at once
        down_at = trio.current_time()
        before = len(attempts.log)
        await fake.current.close()
        await trio.sleep(30)
        made = len(attempts.log) - before
        # at most hosts * (T / 1 s + 1) attempts in T seconds (promise 13)
        assert made <= 3 * (30 + 1), made
        # But it does keep trying: a round (3 jitters of at most 1 s) at least
        # every 16 s + 3 s (the default Backoff's cap).
        assert made >= 3 * (30 // 19), made
        assert zk.state is KeeperState.EXPIRED or zk.state is KeeperState.DISCONNECTED
        fake.refuse = False
        with trio.fail_after(20):
            await zk.wait_connected()
        assert trio.current_time() - down_at < 30 + 16 + 3


# ============================================================ pings, reads


async def test_pings_after_a_third_of_the_timeout_without_sending(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    pings: list[float] = []

    def hook(conn: FakeConnection, request: Any) -> bool:
        if request.op == OpCode.PING:
            pings.append(trio.current_time())
        return False

    fake.on_request = hook
    async with client(fake, session_timeout=3) as zk:
        t0 = trio.current_time()
        await trio.sleep(10.5)
        idle = [p - t0 for p in pings]
        assert idle == pytest.approx([1.0 * i for i in range(1, 11)]), idle
        # busy: a request every 0.5 s means no ping is needed
        pings.clear()
        for _ in range(20):
            await zk.exists("/")
            await trio.sleep(0.5)
        assert pings == []
        assert zk.state is KeeperState.SYNC_CONNECTED
        assert len(fake.connections) == 1


async def test_pings_at_least_every_ten_seconds(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    pings: list[float] = []

    def hook(conn: FakeConnection, request: Any) -> bool:
        if request.op == OpCode.PING:
            pings.append(trio.current_time())
        return False

    fake.on_request = hook
    async with client(fake, session_timeout=60):
        await trio.sleep(35)
    # Java's MAX_SEND_PING_INTERVAL: 10 s even though a third of 60 s is 20 s
    assert len(pings) == 3


async def test_dead_after_two_thirds_of_the_timeout_then_next_host(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    attempts = Attempts(fake)
    async with (
        client(fake, "a:1,b:2", stream_factory=attempts, session_timeout=6) as zk,
        watching_states(zk) as states,
    ):
        sid = zk.session_id
        first_host = attempts.hosts[-1]
        await trio.sleep(3.3)
        fake.silent = True
        t_disc = await states.wait_for(KeeperState.DISCONNECTED)
        assert t_disc - zk._session.last_recv == pytest.approx(4.0)  # 2/3 of 6 s
        fake.silent = False
        await states.wait_for(KeeperState.SYNC_CONNECTED)
        assert attempts.hosts[-1] != first_host  # moved on to the other host
        assert zk.session_id == sid
        assert states.states == [KeeperState.DISCONNECTED, KeeperState.SYNC_CONNECTED]


# ======================================================== reconnect priming


async def test_reconnect_sends_credentials_then_watches_then_queued_requests(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(fake, auth=[("digest", "u:p")], session_timeout=6) as zk:
        await zk.create("/d", b"")
        await zk.create("/c", b"")
        await zk.watch().get_data("/d")
        await zk.watch().exists("/missing")
        await zk.watch().get_children("/c")
        sid, passwd, zxid = zk.session_id, zk.session_password, zk.last_zxid
        fake.refuse = True
        await fake.current.close()
        await until(lambda: not zk.connected)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(zk.create, "/queued", b"")  # queued while disconnected
            await trio.sleep(0.01)
            fake.refuse = False
        conn = fake.current
        assert ops(conn) == [
            OpCode.CREATE_SESSION,
            OpCode.AUTH,
            OpCode.SET_WATCHES,
            OpCode.CREATE,
        ]
        connect = conn.requests[0].request
        assert isinstance(connect, ConnectRequest)
        assert (connect.session_id, connect.passwd, connect.last_zxid_seen) == (sid, passwd, zxid)
        set_watches = conn.requests[2].request
        assert isinstance(set_watches, SetWatches)
        assert set_watches.relative_zxid == zxid
        assert set_watches.data_watches == ("/d",)
        assert set_watches.exist_watches == ("/missing",)
        assert set_watches.child_watches == ("/c",)
        creates = [r for (_, op, r) in fake.request_log if op == OpCode.CREATE]
        assert [r.path for r in creates].count("/queued") == 1  # type: ignore[attr-defined]


async def test_queued_add_auth_gets_its_own_reply_after_priming(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(fake, auth=[("digest", "u:p")], session_timeout=6) as zk:
        fake.refuse = True
        await fake.current.close()
        await until(lambda: not zk.connected)
        result: list[BaseException | None] = []

        async def add_bad_auth() -> None:
            try:
                await zk.add_auth("fail", "x")  # the fake rejects scheme "fail"
            except AuthFailedError as exc:
                result.append(exc)
            else:
                result.append(None)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(add_bad_auth)
            await trio.sleep(0.01)
            fake.refuse = False
        # the priming auth's success reply must not be taken for this one's
        assert isinstance(result[0], AuthFailedError)
        assert zk.state is KeeperState.AUTH_FAILED


async def test_set_watches_batches_stay_under_the_frame_limit(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames: list[int] = []
    original = ClientProtocol.send_set_watches

    def recording(self: ClientProtocol, request: SetWatches | SetWatches2) -> bytes:
        frame = original(self, request)
        frames.append(len(frame) - 4)
        return frame

    monkeypatch.setattr(ClientProtocol, "send_set_watches", recording)
    limit = 64 * 1024
    async with client(fake, session_timeout=6, max_frame_size=limit) as zk:
        paths = [f"/{i:05d}-" + "x" * 200 for i in range(3000)]  # ~620 KB of paths

        async def watch(path: str) -> None:
            await zk.watch().exists(path)

        async with trio.open_nursery() as nursery:
            for path in paths:
                nursery.start_soon(watch, path)
        assert zk.statistics().watches == len(paths)
        await fake.current.close()
        await fake.wait_connections(2)
        await zk.wait_connected()
        await zk.exists("/")  # the SetWatches replies came before this one
        requests = [r.request for r in fake.current.requests if r.op == OpCode.SET_WATCHES]
        assert len(requests) == len(frames) >= 10
        assert max(frames) <= limit
        seen: list[str] = []
        for request in requests:
            assert isinstance(request, SetWatches)
            seen += request.exist_watches
        assert sorted(seen) == sorted(paths)  # every watch once, none twice
        # with the default limit, Java's ~128 KiB batches
        frames.clear()
        zk._session.max_frame_size = DEFAULT_MAX_FRAME_SIZE
        await fake.current.close()
        await fake.wait_connections(3)
        await zk.wait_connected()
        await zk.exists("/")
        assert 5 <= len(frames) <= 6
        assert max(frames) <= 128 * 1024 + 64


# ============================================================ in flight


async def test_in_flight_fails_with_connection_loss_and_is_never_resent(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(fake, session_timeout=6) as zk:
        sid = zk.session_id
        fake.hold_replies = True
        outcome: list[BaseException] = []

        async def doomed() -> None:
            try:
                await zk.create("/in-flight", b"")
            except ConnectionLossError as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(doomed)
            await until(lambda: bool(fake.held))
            fake.held.clear()
            fake.hold_replies = False
            await fake.current.close()
        assert isinstance(outcome[0], ConnectionLossError)
        await zk.wait_connected()
        assert zk.session_id == sid
        await zk.exists("/")
        creates = [r for (_, op, r) in fake.request_log if op == OpCode.CREATE]
        assert len(creates) == 1  # applied once by the server, never resent


# ================================================================ expiry


async def test_client_suspects_expiry_at_four_thirds_of_the_timeout(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        client(fake, session_timeout=3) as zk,
        watching_states(zk) as states,
    ):
        sid = zk.session_id
        await zk.create("/n", b"")
        _, watch = await zk.with_watcher().get_data("/n")
        fake.silent = True
        t_disc = await states.wait_for(KeeperState.DISCONNECTED)
        last_recv = zk._session.last_recv
        queued_error: list[BaseException] = []
        waiter_done: list[float] = []

        async def queued() -> None:
            try:
                await zk.get_data("/n")
            except SessionExpiredError as exc:
                queued_error.append(exc)

        async def waiter() -> None:
            await zk.wait_connected()
            waiter_done.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(queued)
            nursery.start_soon(waiter)
            t_exp = await states.wait_for(KeeperState.EXPIRED)
            assert t_disc - last_recv == pytest.approx(2.0)
            assert t_exp - last_recv == pytest.approx(4.0)  # 4/3 of 3 s, on time
            await trio.sleep(0.01)
            assert isinstance(queued_error[0], SessionExpiredError)
            events = [e async for e in watch]  # ends: nobody waits forever
            assert [e.keeper_state for e in events] == [
                KeeperState.DISCONNECTED,
                KeeperState.EXPIRED,
            ]
            assert all(e.event_type is EventType.NONE for e in events)
            fake.silent = False
        assert waiter_done
        assert waiter_done[0] > t_exp
        assert zk.session_id not in (0, sid)
        assert states.states == [
            KeeperState.DISCONNECTED,
            KeeperState.EXPIRED,
            KeeperState.DISCONNECTED,
            KeeperState.SYNC_CONNECTED,
        ]
        assert zk._session.expired_sessions == 1


async def test_server_expiry_answer_is_reported_and_a_new_session_follows(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        client(fake, session_timeout=6) as zk,
        watching_states(zk) as states,
    ):
        sid = zk.session_id
        await zk.create("/e", b"")
        _, watch = await zk.with_watcher().exists("/e")
        fake.expire(sid)
        await states.wait_for(KeeperState.SYNC_CONNECTED)
        assert states.states == [
            KeeperState.DISCONNECTED,
            KeeperState.EXPIRED,
            KeeperState.DISCONNECTED,
            KeeperState.SYNC_CONNECTED,
        ]
        assert zk.session_id != sid
        assert [e.keeper_state async for e in watch][-1] is KeeperState.EXPIRED
        assert zk.statistics().watches == 0


async def test_final_expiry_wakes_every_waiter(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(fake, session_timeout=3, reconnect_after_expiry=False) as zk:
        fake.silent = True
        outcomes: list[BaseException] = []

        async def wait_connected() -> None:
            with pytest.raises(SessionExpiredError) as info:
                await zk.wait_connected()
            outcomes.append(info.value)

        async def retried() -> None:
            retry = Retry(max_tries=None, wait_connected=zk.wait_connected)
            with pytest.raises(SessionExpiredError) as info:
                await retry(zk.get_data, "/")
            outcomes.append(info.value)

        with trio.fail_after(10):
            await until(lambda: not zk.connected)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait_connected)
                nursery.start_soon(retried)
        assert len(outcomes) == 2
        assert zk.state is KeeperState.EXPIRED
        with pytest.raises(SessionExpiredError):
            await zk.exists("/")


async def test_close_wakes_wait_connected(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(fake, session_timeout=3) as zk:
        fake.silent = True
        await until(lambda: not zk.connected)
        async with trio.open_nursery() as nursery:

            async def waiter() -> None:
                with pytest.raises(trio.ClosedResourceError):
                    await zk.wait_connected()

            nursery.start_soon(waiter)
            await trio.sleep(0.1)
            with trio.fail_after(1):
                await zk.aclose()


async def test_never_attaches_to_a_server_behind_it(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    # The fake "loses its data": its zxid goes back below the client's last
    # zxid, so it refuses the client's ConnectRequest (as ZooKeeper does).
    constant = trio_zookeeper.Backoff(factor=1.0)  # this test is about zxids, not backoff
    async with (
        client(fake, session_timeout=3, reconnect_backoff=constant) as zk,
        watching_states(zk) as states,
    ):
        for i in range(5):
            await zk.create(f"/w{i}", b"")
        seen = zk.last_zxid
        assert seen == 5
        fake.zxid = 0
        await fake.current.close()
        await trio.sleep(30)  # ten session timeouts
        assert KeeperState.SYNC_CONNECTED not in states.states
        # loud: suspended, then expiry suspected once; then it keeps trying
        assert states.states == [
            KeeperState.DISCONNECTED,
            KeeperState.EXPIRED,
            KeeperState.DISCONNECTED,
        ]
        assert zk.state is KeeperState.DISCONNECTED
        connects = [r for (_, op, r) in fake.request_log if op == OpCode.CREATE_SESSION]
        later = connects[1:]
        assert len(later) >= 10
        for request in later:
            assert isinstance(request, ConnectRequest)
            assert request.last_zxid_seen == seen  # never forgets what it has seen
        assert any(r.session_id == 0 for r in later)  # type: ignore[attr-defined]
        assert zk.last_zxid == seen
        # once the server catches up again, the client attaches (new session)
        fake.zxid = seen
        with trio.fail_after(5):
            await zk.wait_connected()
    # a brand-new client starts from zxid 0 and would attach at once
    fake.zxid = 0
    async with client(fake) as fresh:
        assert fresh.connected


async def test_server_must_keep_the_requested_session_id(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    swapped: list[int] = []

    def hook(conn: FakeConnection, request: Any) -> bool:
        body = request.request
        if request.op == OpCode.CREATE_SESSION and body.session_id and not swapped:
            swapped.append(body.session_id)
            frame = ServerProtocol.connect_response(
                ConnectResponse(
                    protocol_version=0,
                    time_out=body.time_out,
                    session_id=0x7777,
                    passwd=b"\x01" * 16,
                    read_only=False,
                )
            )
            fake._nursery.start_soon(conn.send, frame)
            return True
        return False

    async with (
        client(fake, session_timeout=6) as zk,
        watching_states(zk) as states,
    ):
        sid = zk.session_id
        fake.on_request = hook
        await fake.current.close()
        await states.wait_for(KeeperState.SYNC_CONNECTED)
        assert swapped == [sid]
        assert states.states[:2] == [KeeperState.DISCONNECTED, KeeperState.EXPIRED]
        assert zk.session_id == 0x7777


async def test_resuming_a_session_given_by_the_caller(fake: FakeZooKeeper) -> None:
    async with client(fake) as first:
        sid, passwd = first.session_id, first.session_password
        async with client(fake, session_id=sid, session_password=passwd) as second:
            assert second.session_id == sid
            connect = fake.current.requests[0].request
            assert isinstance(connect, ConnectRequest)
            assert connect.session_id == sid


# ============================================================= read-only


async def test_read_only_server_only_with_read_only_flag(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    fake.read_only = True
    async with client(fake, read_only=True, session_timeout=3) as zk:
        assert zk.state is KeeperState.CONNECTED_READ_ONLY
    with trio.move_on_after(10) as scope:
        async with client(fake, session_timeout=3):
            pytest.fail("attached to a read-only server without read_only=True")
    assert scope.cancelled_caught


# ================================================================= Retry


def test_retry_is_exported() -> None:
    assert trio_zookeeper.Retry is Retry
    assert trio_zookeeper.RetryFailedError is RetryFailedError
    assert "Retry" in trio_zookeeper.__all__
    assert "RetryFailedError" in trio_zookeeper.__all__


async def test_retry_backs_off_with_jitter(autojump_clock: trio.testing.MockClock) -> None:
    calls: list[float] = []

    async def flaky(fail_times: int) -> str:
        calls.append(trio.current_time())
        if len(calls) <= fail_times:
            raise ConnectionLossError("lost")
        return "ok"

    retry = Retry(max_tries=5, delay=0.1, backoff=2.0, jitter=0.5, rng=random.Random(7))
    assert await retry(flaky, 3) == "ok"
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    for n, gap in enumerate(gaps):
        base = 0.1 * 2**n
        assert base <= gap <= base * 1.5 + 1e-9, (n, gap)
    assert len({round(g / (0.1 * 2**n), 6) for n, g in enumerate(gaps)}) > 1  # jittered

    calls.clear()
    with pytest.raises(RetryFailedError) as info:
        await retry(flaky, 100)
    assert len(calls) == 5
    assert isinstance(info.value.__cause__, ConnectionLossError)

    calls.clear()

    async def missing() -> None:
        calls.append(0.0)
        raise NoNodeError("/x")

    with pytest.raises(NoNodeError):
        await retry(missing)
    assert len(calls) == 1  # not retryable: raised at once


async def test_retry_waits_for_the_reconnect(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(fake, session_timeout=6) as zk:
        await zk.create("/r", b"v")
        fake.hold_replies = True
        retry = Retry(max_tries=3, wait_connected=zk.wait_connected)

        async def drop_soon() -> None:
            await until(lambda: bool(fake.held))
            fake.held.clear()
            fake.hold_replies = False
            await fake.current.close()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drop_soon)
            data, _ = await retry(zk.get_data, "/r")  # idempotent: safe to repeat
        assert data == b"v"
        assert len(fake.connections) == 2


# ============================================================ writes on RO


async def test_writes_on_a_read_only_server_raise_not_read_only(
    fake: FakeZooKeeper,
) -> None:
    fake.read_only = True

    def hook(conn: FakeConnection, request: Any) -> bool:
        if request.op == OpCode.CREATE:
            fake._nursery.start_soon(conn.send, ServerProtocol.reply(request.xid, 0, -119))
            return True
        return False

    fake.on_request = hook
    async with client(fake, read_only=True) as zk:
        with pytest.raises(NotReadOnlyError):
            await zk.create("/x", b"")
        assert zk.state is KeeperState.CONNECTED_READ_ONLY
