"""A connection that cannot be made says why: real sockets, real name resolution.

Port 1 on loopback refuses; a name under the reserved ``.invalid`` top-level
domain never resolves (RFC 6761). The TLS failure and a real server refusing
the session are in tests/reliability/test_standalone.py (its server has a TLS
port and may be wiped).
"""

from __future__ import annotations

import logging

import pytest
import trio

from trio_zookeeper import ConnectFailedError, ZooKeeperError, open_zookeeper
from trio_zookeeper.testing import ExternalZooKeeperServer, ZooKeeperServer

pytestmark = pytest.mark.timeout(60)

REFUSED = "127.0.0.1:1"
UNRESOLVABLE = "zookeeper.trio-zookeeper-test.invalid:2181"


async def test_a_refused_port_is_named_after_one_round() -> None:
    with trio.fail_after(20), pytest.raises(ConnectFailedError) as info:
        async with open_zookeeper(REFUSED, connect_rounds=1):
            pytest.fail("connected to port 1")
    assert str(info.value) == "could not connect to 127.0.0.1:1: connection refused"
    assert info.value.causes == {REFUSED: "connection refused"}
    assert isinstance(info.value, ZooKeeperError)


async def test_an_unresolvable_name_is_named() -> None:
    with trio.fail_after(30), pytest.raises(ConnectFailedError) as info:
        async with open_zookeeper(UNRESOLVABLE, connect_rounds=1):
            pytest.fail("resolved a name under .invalid")
    cause = info.value.causes[UNRESOLVABLE]
    # glibc's wording for a name that does not exist; some resolvers, with no
    # network at all, answer "temporary failure in name resolution".
    assert cause in ("name or service not known", "temporary failure in name resolution")
    assert str(info.value) == f"could not connect to {UNRESOLVABLE}: {cause}"


async def test_several_hosts_are_each_named_in_connect_string_order() -> None:
    with trio.fail_after(30), pytest.raises(ConnectFailedError) as info:
        async with open_zookeeper(f"{UNRESOLVABLE},{REFUSED}", connect_rounds=2):
            pytest.fail("connected")
    causes = info.value.causes
    assert list(causes) == [UNRESOLVABLE, REFUSED]
    assert causes[REFUSED] == "connection refused"
    assert str(info.value) == (
        f"could not connect to any of 2 hosts: {UNRESOLVABLE}: {causes[UNRESOLVABLE]}; "
        f"{REFUSED}: connection refused"
    )


async def test_each_failure_is_logged_at_warning_without_configuration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The WARNING reaches the root logger's default level: nothing to set up.
    assert logging.getLogger("trio_zookeeper.session").getEffectiveLevel() <= logging.WARNING
    with trio.move_on_after(3):
        async with open_zookeeper(REFUSED, session_timeout=3):
            pytest.fail("connected to port 1")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    # Many attempts in 3 s (a pause of at most 0.5 s between them), one WARNING.
    assert [r.getMessage() for r in warnings] == [
        "cannot connect to ZooKeeper server 127.0.0.1:1: connection refused"
    ]
    assert warnings[0].name == "trio_zookeeper.session"


@pytest.mark.server
async def test_a_reachable_host_among_failing_ones_gives_a_session(
    zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hosts = f"{REFUSED},{zookeeper_server.connect_string}"
    with trio.fail_after(30):
        async with open_zookeeper(hosts, connect_rounds=1, randomize_hosts=False) as zk:
            assert await zk.exists("/") is not None
            assert zk.statistics().connect_errors == {REFUSED: "connection refused"}
    assert "127.0.0.1:1: connection refused" in caplog.text
