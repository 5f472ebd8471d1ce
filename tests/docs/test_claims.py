"""Promises the guides make in prose (not through an example), checked on a real server."""

from __future__ import annotations

import pytest
import trio

from trio_zookeeper import (
    CreateMode,
    NoAuthError,
    ZooKeeper,
    make_digest_acl,
    open_zookeeper,
)


async def test_a_request_cancelled_before_it_is_written_is_never_sent(zk: ZooKeeper) -> None:
    """timeouts-and-cancellation: "a request cancelled before it is written is never sent".

    trio shuffles the order of ready tasks, so the attempt is repeated: with
    the bug, some of the 30 cancelled creates reach the server (each does with
    a probability of about 1/2).
    """
    for attempt in range(30):
        with trio.CancelScope() as scope:
            scope.cancel()
            await zk.create(f"/never-{attempt}")
    assert await zk.get_children("/") == []


async def test_a_cancelled_client_still_closes_its_session(zk_connect_string: str) -> None:
    """timeouts-and-cancellation: "If the scope around async with open_zookeeper(...) is
    cancelled, the client still closes properly: closing sends closeSession ..."."""
    close_timeout = 60.0  # far beyond the bound below: waiting for it is caught
    with trio.fail_after(30), trio.CancelScope() as scope:
        async with open_zookeeper(zk_connect_string, close_timeout=close_timeout) as zk:
            await zk.create("/ephemeral", b"", mode=CreateMode.EPHEMERAL)
            cancelled_at = trio.current_time()
            scope.cancel()  # the body is cancelled at its next checkpoint
            await trio.sleep_forever()
    closed_in = trio.current_time() - cancelled_at
    async with open_zookeeper(zk_connect_string) as other:
        assert await other.exists("/ephemeral") is None, "the session was not closed"
    # It got the server's answer rather than waiting out close_timeout.
    assert closed_in < close_timeout / 2, f"closing took {closed_in:.1f}s"


async def test_a_cancelled_write_leaves_the_connection_usable(zk: ZooKeeper) -> None:
    """timeouts-and-cancellation: a cancelled call does not disturb the connection."""
    await zk.create("/node", b"0")
    for index in range(20):
        with trio.move_on_after(0):  # cancelled at its first checkpoint
            await zk.set_data("/node", str(index).encode())
        data, _ = await zk.get_data("/node")  # gets its own reply, not a stale one
        assert data.isdigit()
    assert zk.statistics().connections == 1


async def test_wrong_digest_credentials_show_up_as_no_auth(zk_connect_string: str) -> None:
    """tls-and-authentication: a wrong digest password is accepted, then fails on access."""
    async with open_zookeeper(zk_connect_string, auth=[("digest", "u:right")]) as owner:
        await owner.create("/private", b"", acl=[make_digest_acl("u", "right")])
    async with open_zookeeper(zk_connect_string, auth=[("digest", "u:wrong")]) as other:
        with pytest.raises(NoAuthError):
            await other.get_data("/private")
        await other.delete("/private")  # DELETE is checked on the parent
