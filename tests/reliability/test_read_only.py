"""Read-only mode on a dedicated 3-member ensemble (docs/reliability.rst, promises 53-55).

The members run with ``readonlymode.enabled`` (the harness also sets
``localSessionsEnabled``, which a read-only server needs to hand out
sessions). With two members down, the survivor serves reads only:

* a client opened with ``read_only=True`` attaches to it
  (CONNECTED_READ_ONLY), reads work and writes raise NotReadOnlyError;
* a client without it never attaches;
* once the majority is back, the read-only client finds a read-write server
  by itself (``isro`` probes) and reports SYNC_CONNECTED.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from trio_zookeeper import (
    CreateMode,
    KeeperState,
    NotReadOnlyError,
    open_zookeeper,
)
from trio_zookeeper.testing import (
    ExternalZooKeeperServer,
    ZooKeeperEnsemble,
    ZooKeeperServer,
    open_fault_proxy,
)

from ._util import SESSION_TIMEOUT, measured, state_log

pytestmark = [pytest.mark.ensemble, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def ro_ensemble() -> Iterator[ZooKeeperEnsemble]:
    ensemble = ZooKeeperEnsemble(3, tick_time=500, read_only_mode=True)
    try:
        ensemble.start(90)
        yield ensemble
    finally:
        ensemble.close()


async def wait_mode(ensemble: ZooKeeperEnsemble, index: int, mode: str) -> None:
    while await ensemble.members[index].amode(timeout=1.0) != mode:  # noqa: ASYNC110 - a JVM
        await trio.sleep(0.1)


async def test_read_only_client_on_a_minority_then_back_to_read_write(
    ro_ensemble: ZooKeeperEnsemble,
) -> None:
    ensemble = ro_ensemble
    survivor = 2
    async with open_zookeeper(ensemble.connect_string) as admin:
        await admin.create("/ro-data", b"before")
    # The write needed a quorum, which may not have included the survivor:
    # make sure it has applied the write before the others go.
    async with open_zookeeper(ensemble.members[survivor].connect_string) as on_survivor:
        await on_survivor.sync("/ro-data")
        assert (await on_survivor.get_data("/ro-data"))[0] == b"before"
    t_kill = trio.current_time()
    ensemble.members[0].kill()
    ensemble.members[1].kill()
    with trio.fail_after(30):
        await wait_mode(ensemble, survivor, "read-only")
    measured("read-only: survivor turned read-only", trio.current_time() - t_kill)
    try:
        # Without read_only=True the client never attaches to it.
        with trio.move_on_after(3 * SESSION_TIMEOUT / 2) as scope:
            async with open_zookeeper(ensemble.connect_string, session_timeout=SESSION_TIMEOUT):
                pytest.fail("attached to a read-only server without read_only=True")
        assert scope.cancelled_caught

        with trio.fail_after(90):
            async with (
                open_zookeeper(
                    ensemble.connect_string, read_only=True, session_timeout=SESSION_TIMEOUT
                ) as zk,
                state_log(zk) as states,
            ):
                assert zk.state is KeeperState.CONNECTED_READ_ONLY
                assert (await zk.get_data("/ro-data"))[0] == b"before"
                with pytest.raises(NotReadOnlyError):
                    await zk.create("/ro-write", b"")
                with pytest.raises(NotReadOnlyError):
                    await zk.set_data("/ro-data", b"after")
                assert zk.state is KeeperState.CONNECTED_READ_ONLY  # the session survives

                # The majority comes back; the client moves to read-write by itself.
                t_restart = trio.current_time()
                for index in (0, 1):
                    await ensemble.members[index].astart(wait=False)
                await ensemble.await_quorum(60)
                measured("read-only: majority restarted", trio.current_time() - t_restart)
                with trio.fail_after(45):
                    t_rw = await states.wait_for(KeeperState.SYNC_CONNECTED)
                measured("read-only: read-write again, from the restart", t_rw - t_restart)
                assert zk.statistics().state is KeeperState.SYNC_CONNECTED
                await zk.create("/ro-write", b"now")
                await zk.create("/ro-eph", b"", mode=CreateMode.EPHEMERAL)
                assert (await zk.get_data("/ro-write"))[0] == b"now"
    finally:
        for index in (0, 1):
            if not ensemble.members[index].is_running:
                await ensemble.members[index].astart(wait=False)


async def test_read_only_client_probes_for_a_read_write_server_with_isro(
    ro_ensemble: ZooKeeperEnsemble,
    zookeeper_server: ZooKeeperServer | ExternalZooKeeperServer,
) -> None:
    """The ``isro`` probe itself: the read-only server stays up and read-only.

    The client's host list holds the survivor and, behind a proxy that first
    refuses every connection, a read-write server (the shared standalone
    one; the client cannot tell). Once the proxy lets connections through,
    the next ``isro`` probe (backing off from 0.1 s) answers ``rw`` and the
    client moves there, with a new session: a read-only server's session is
    local and never resumed elsewhere.
    """
    ensemble = ro_ensemble
    await ensemble.await_quorum(60)
    survivor = 2
    ensemble.members[0].kill()
    ensemble.members[1].kill()
    try:
        with trio.fail_after(30):
            await wait_mode(ensemble, survivor, "read-only")
        async with open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as rw:
            rw.refuse()
            hosts = f"{ensemble.members[survivor].connect_string},{rw.address}"
            with trio.fail_after(60):
                async with (
                    open_zookeeper(hosts, read_only=True, session_timeout=SESSION_TIMEOUT) as zk,
                    state_log(zk) as states,
                ):
                    assert zk.state is KeeperState.CONNECTED_READ_ONLY
                    ro_session = zk.session_id
                    await trio.sleep(1.0)  # a few probes fail meanwhile
                    rw.refuse(False)
                    t_open = trio.current_time()
                    t_rw = await states.wait_for(KeeperState.SYNC_CONNECTED)
                    measured("read-only: isro found the read-write server", t_rw - t_open)
                    assert zk.statistics().server == rw.address
                    assert zk.session_id not in (0, ro_session)
                    assert states.states == [KeeperState.DISCONNECTED, KeeperState.SYNC_CONNECTED]
    finally:
        for index in (0, 1):
            if not ensemble.members[index].is_running:
                await ensemble.members[index].astart(wait=False)
        await ensemble.await_quorum(60)
