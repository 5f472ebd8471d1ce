"""Tests of ZooKeeperEnsemble on real JVMs.

The 3-member tests share the plugin's session ensemble (``zookeeper_ensemble``)
and put it back with ``restore()`` after killing or pausing members.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import time
from collections.abc import Callable, Iterator

import pytest
import trio

from trio_zookeeper.testing import (
    ZooKeeperEnsemble,
    ZooKeeperHarnessError,
    ZooKeeperServer,
    ZooKeeperStartError,
    afour_letter_word,
)
from trio_zookeeper.testing.pytest_plugin import requires_ensemble

pytestmark = requires_ensemble

DEADLINE = 30.0


def wait_until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.05)  # a bounded poll of external state, not a synchronisation


@pytest.fixture
def ensemble(zookeeper_ensemble: ZooKeeperEnsemble) -> Iterator[ZooKeeperEnsemble]:
    """The session ensemble, restored to a full quorum after the test."""
    try:
        yield zookeeper_ensemble
    finally:
        zookeeper_ensemble.restore(DEADLINE)


def test_quorum_has_one_leader_and_two_followers(ensemble: ZooKeeperEnsemble) -> None:
    modes = ensemble.modes()
    assert sorted(modes) == ["follower", "follower", "leader"]
    assert ensemble.leader() == modes.index("leader")
    assert ensemble.connect_string == ",".join(
        f"127.0.0.1:{member.port}" for member in ensemble.members
    )
    assert len({member.port for member in ensemble.members}) == 3
    config = (ensemble.members[0].directory / "zoo.cfg").read_text()
    for index in range(3):
        assert f"server.{index + 1}=127.0.0.1:" in config
        assert (ensemble.members[index].data_dir / "myid").read_text().strip() == str(index + 1)


def test_killing_the_leader_elects_a_new_one(ensemble: ZooKeeperEnsemble) -> None:
    old = ensemble.leader()
    ensemble.members[old].kill()
    ensemble.wait_quorum(DEADLINE)
    new = ensemble.leader()
    assert new != old
    assert ensemble.modes()[old] == ""
    ensemble.members[old].start(DEADLINE)  # rejoins: ready once it follows the new leader
    assert ensemble.members[old].mode() == "follower"
    ensemble.wait_quorum(DEADLINE)
    assert ensemble.leader() == new


def test_paused_leader_is_replaced(ensemble: ZooKeeperEnsemble) -> None:
    old = ensemble.leader()
    ensemble.members[old].pause()
    ensemble.wait_quorum(DEADLINE)  # paused members are left out
    assert ensemble.leader() != old
    ensemble.restore(DEADLINE)
    assert sorted(ensemble.modes()) == ["follower", "follower", "leader"]


def test_member_dying_on_its_own_is_reported(ensemble: ZooKeeperEnsemble) -> None:
    follower = next(m for m in ensemble.members if m.mode() == "follower")
    assert follower.pid is not None
    os.kill(follower.pid, signal.SIGKILL)  # not through the harness
    wait_until(lambda: not follower.is_running)
    with pytest.raises(ZooKeeperStartError, match="exited with status"):
        ensemble.wait_quorum(DEADLINE)


async def test_await_quorum_and_async_probes(zookeeper_ensemble: ZooKeeperEnsemble) -> None:
    with trio.fail_after(DEADLINE):
        await zookeeper_ensemble.await_quorum(DEADLINE)
        modes = [await member.amode() for member in zookeeper_ensemble.members]
        assert sorted(modes) == ["follower", "follower", "leader"]
        for member in zookeeper_ensemble.members:
            assert await afour_letter_word(member.host, member.port, "ruok") == "imok"


def test_read_only_survivor_and_quorum_timeout() -> None:
    with ZooKeeperEnsemble(3, read_only_mode=True) as ensemble:
        config = (ensemble.members[0].directory / "zoo.cfg").read_text()
        assert "localSessionsEnabled=true" in config
        assert "localSessionsUpgradingEnabled=true" in config
        survivor = ensemble.members[(ensemble.leader() + 1) % 3]  # a follower
        for member in ensemble.members:
            if member is not survivor:
                member.kill()
        with pytest.raises(ZooKeeperStartError, match="no quorum"):
            ensemble.wait_quorum(0.5)
        with pytest.raises(ZooKeeperHarnessError, match="no leader"):
            ensemble.leader()
        # Measured: about 2 s after losing its peers (docs/reliability.rst, "Read-only mode").
        wait_until(lambda: survivor.mode(timeout=1.0) == "read-only")
        assert survivor.four_letter_word("isro") == "ro"
        ensemble.restore(DEADLINE)
        assert sorted(ensemble.modes()) == ["follower", "follower", "leader"]
        assert survivor.four_letter_word("isro") == "rw"


async def test_single_member_ensemble_with_tls() -> None:
    with trio.fail_after(DEADLINE * 2):
        async with ZooKeeperEnsemble(1, tls=True) as ensemble:
            assert ensemble.leader() == 0
            assert ensemble.modes() == ["standalone"]
            member = ensemble.members[0]
            assert ensemble.tls_ca_file is not None
            assert member.tls_ca_file == ensemble.tls_ca_file
            assert ensemble.secure_connect_string == f"127.0.0.1:{member.secure_port}"
            context = ssl.create_default_context(cafile=ensemble.tls_ca_file)
            assert member.secure_port is not None
            with (
                socket.create_connection(("127.0.0.1", member.secure_port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname="localhost") as tls,
            ):
                assert tls.version() is not None
        assert not member.is_running
        assert not member.directory.exists()


# ============================================================ dynamic membership


async def test_membership_changes_need_a_dynamic_ensemble() -> None:
    static = ZooKeeperEnsemble(3)
    try:
        with pytest.raises(ZooKeeperHarnessError, match="dynamic=True"):
            await static.add_member()
        with pytest.raises(ZooKeeperHarnessError, match="dynamic=True"):
            await static.remove_member(static.members[0])
        assert static.reconfig_auth is None
        assert not static.dynamic
    finally:
        static.close()


def test_dynamic_members_carry_client_addresses_and_reconfig_switches() -> None:
    ensemble = ZooKeeperEnsemble(2, dynamic=True)
    try:
        assert ensemble.dynamic
        assert ensemble.reconfig_auth == ("digest", "super:tzk-reconfig")
        assert [ensemble.myid(m) for m in ensemble.members] == [1, 2]
        config = ensemble.members[0]._config_lines()
        assert config["reconfigEnabled"] == "true"
        assert config["standaloneEnabled"] == "false"
        for index, member in enumerate(ensemble.members):
            line = config[f"server.{index + 1}"]
            assert line.endswith(f":participant;127.0.0.1:{member.port}"), line
        outsider = ZooKeeperServer()
        try:
            with pytest.raises(ValueError, match="not a member"):
                ensemble.myid(outsider)
        finally:
            outsider.close()
    finally:
        ensemble.close()
    with pytest.raises(ValueError, match="tls=True"):
        ZooKeeperEnsemble(3, dynamic=True, tls=True)
