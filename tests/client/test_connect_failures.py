"""Failed connection attempts say why: WARNING logs (rate-limited) and ConnectFailedError.

Against the fake server under ``autojump_clock``, so the rate limit's timing is
exact; the real-world causes (refused, unresolvable, TLS) are tested against
real sockets and the real server in tests/integration/test_connect_failures.py.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import trio
import trio.testing

from trio_zookeeper import ConnectFailedError, ZooKeeperError, open_zookeeper
from trio_zookeeper._protocol import OpCode
from trio_zookeeper._session import CONNECT_WARNING_INTERVAL
from trio_zookeeper.testing._fake import FakeConnection, FakeZooKeeper

pytestmark = pytest.mark.timeout(60)

LOGGER = "trio_zookeeper.session"


def warnings_for(caplog: pytest.LogCaptureFixture, host: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.WARNING and f" {host}:" in r.getMessage()
    ]


async def test_connect_rounds_gives_up_after_that_many_rounds_and_names_each_host(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    fake.refuse = True
    attempts: list[str] = []

    async def opener(host: str, port: int) -> trio.abc.Stream:
        attempts.append(f"{host}:{port}")
        return await fake.connect(host, port)

    with trio.fail_after(60), pytest.raises(ConnectFailedError) as info:
        async with open_zookeeper(
            "a:1,b:2", stream_factory=opener, connect_rounds=3, session_timeout=6
        ):
            pytest.fail("connected to a server that refuses every connection")
    assert sorted(attempts) == ["a:1"] * 3 + ["b:2"] * 3
    err = info.value
    assert isinstance(err, ZooKeeperError)
    assert list(err.causes) == ["a:1", "b:2"]  # connect-string order, not shuffled order
    cause = err.causes["a:1"]
    assert cause == err.causes["b:2"]
    assert str(err) == f"could not connect to any of 2 hosts: a:1: {cause}; b:2: {cause}"


async def test_a_timeout_is_named_as_such(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    fake.silent = True  # accepts and reads, never answers the handshake
    with trio.fail_after(60), pytest.raises(ConnectFailedError) as info:
        async with open_zookeeper(
            "silent:2181", stream_factory=fake.connect, connect_rounds=1, session_timeout=4
        ):
            pytest.fail("connected to a silent server")
    assert str(info.value) == "could not connect to silent:2181: timed out after 4.0s"
    assert info.value.causes == {"silent:2181": "timed out after 4.0s"}


async def test_a_server_closing_during_the_handshake_is_explained(
    fake: FakeZooKeeper,
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server reads the ConnectRequest and closes, as a server whose data
    # is behind the client's last zxid does.
    async def refuse(conn: FakeConnection, request: object) -> None:
        await conn.close()

    monkeypatch.setattr(fake, "_handshake", refuse)
    with trio.fail_after(60), pytest.raises(ConnectFailedError) as info:
        async with open_zookeeper("behind:2181", stream_factory=fake.connect, connect_rounds=1):
            pytest.fail("connected")
    assert info.value.causes == {
        "behind:2181": "the server closed the connection during the handshake (its data "
        "may be behind this client's last zxid, or it is read-only)"
    }


async def test_without_connect_rounds_opening_keeps_trying(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    fake.refuse = True
    with trio.move_on_after(120) as scope:
        async with open_zookeeper("a:1", stream_factory=fake.connect, session_timeout=6):
            pytest.fail("connected")
    assert scope.cancelled_caught
    assert len(fake.connections) > 5  # round after round, backing off


async def test_connect_rounds_bounds_only_the_first_connection(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_zookeeper(
        "a:1", stream_factory=fake.connect, connect_rounds=1, session_timeout=6
    ) as zk:
        fake.refuse = True
        await fake.current.close()
        await trio.sleep(30)  # many failed rounds: the open client keeps trying
        assert zk.statistics().connect_errors == {"a:1": zk.statistics().connect_errors["a:1"]}
        fake.refuse = False
        with trio.fail_after(30):  # the round pauses back off up to 16 s
            await zk.exists("/")
        assert zk.statistics().connect_errors == {}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
async def test_connect_rounds_is_validated(fake: FakeZooKeeper, bad: object) -> None:
    with pytest.raises(ValueError, match="connect_rounds must be a positive number"):
        async with open_zookeeper(
            "a:1",
            stream_factory=fake.connect,
            connect_rounds=bad,  # type: ignore[arg-type]
        ):
            pass


async def test_each_hosts_failures_are_logged_at_warning_rate_limited(
    fake: FakeZooKeeper,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    fake.refuse = True
    attempts: list[tuple[float, str]] = []

    async def opener(host: str, port: int) -> trio.abc.Stream:
        attempts.append((trio.current_time(), host))
        return await fake.connect(host, port)

    start = trio.current_time()
    span = 3.5 * CONNECT_WARNING_INTERVAL
    with trio.move_on_after(span):
        async with open_zookeeper("a:1,b:2", stream_factory=opener, session_timeout=6):
            pytest.fail("connected")
    for host in ("a", "b"):
        # A refused attempt fails at the virtual instant it is made.
        times = [t - start for t, h in attempts if h == host]
        assert len(times) > 8  # many failures...
        # ...but only the first, then one per interval, is logged, each
        # counting the failures not logged since the previous one.
        expected: list[int] = []
        last_logged, suppressed = times[0], 0
        expected.append(0)
        for t in times[1:]:
            if t - last_logged >= CONNECT_WARNING_INTERVAL:
                expected.append(suppressed)
                last_logged, suppressed = t, 0
            else:
                suppressed += 1
        assert len(expected) >= 3  # about one a minute over 210 s
        logged = warnings_for(caplog, host)
        assert re.fullmatch(rf"cannot connect to ZooKeeper server {host}:\d: .+", logged[0])
        counts = [0]
        for message in logged[1:]:
            found = re.search(r"\((\d+) more failures? of this host not logged", message)
            assert found, message
            counts.append(int(found.group(1)))
        assert counts == expected, logged


async def test_a_cancelled_open_waits_for_an_asked_session_at_most_close_timeout(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    # The ConnectRequest is out, so the server may be making a session that
    # only this client could close: the cancellation waits for the answer,
    # shielded, but never longer than close_timeout.
    fake.silent = True
    start = trio.current_time()
    with trio.move_on_after(1.0) as scope:
        async with open_zookeeper(
            "silent:2181", stream_factory=fake.connect, session_timeout=30, close_timeout=3.0
        ):
            pytest.fail("connected to a silent server")
    assert scope.cancelled_caught
    assert trio.current_time() - start == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("dropped", "options", "cause"),
    [
        (
            OpCode.AUTH,
            {"auth": [("digest", "user:secret")]},
            "the server did not answer the credentials within 6.0s",
        ),
        (
            OpCode.SASL,
            {"sasl": ("alice", "secret")},
            "SASL DIGEST-MD5 as 'alice': the server did not answer within 6.0s",
        ),
    ],
    ids=["auth", "sasl"],
)
async def test_credentials_the_server_never_answers_are_a_named_connect_failure(
    fake: FakeZooKeeper,
    autojump_clock: trio.testing.MockClock,
    dropped: int,
    options: dict[str, Any],
    cause: str,
) -> None:
    # The handshake is answered, the credentials are not: that connection
    # attempt fails (and is retried), it does not crash the client.
    fake.on_request = lambda conn, request: request.op == dropped
    with trio.fail_after(60), pytest.raises(ConnectFailedError) as info:
        async with open_zookeeper(
            "mute:2181", stream_factory=fake.connect, connect_rounds=2, session_timeout=6, **options
        ):
            pytest.fail("connected without an answer to the credentials")
    assert info.value.causes == {"mute:2181": cause}
    assert len(fake.connections) == 2
