"""The cancellation contract, each piece pinned to the one place that enforces it.

* A request written on a connection that dies fails with
  ConnectionLossError (outcome unknown): the requests pending in the
  connection's protocol (each entry's context is its Call) are failed in
  ``Connection.aclose``, and the next connection starts empty.
* A request not yet written waits in the session's outbox for the next
  connection, and is sent exactly once (``Connection._encode`` is the only
  place a request leaves the outbox for the wire).
* A request cancelled while queued is never sent: ``Call``'s abort hook marks
  it, the writer skips it.

Against the fake server, on trio's autojump clock.
"""

from __future__ import annotations

import struct

import pytest
import trio
import trio.testing

from trio_zookeeper import ConnectionLossError, KeeperState, ZooKeeper, open_zookeeper
from trio_zookeeper._calls import ABANDONED, QUEUED, WRITTEN, Call
from trio_zookeeper._io_connection import Connection
from trio_zookeeper._protocol import OpCode
from trio_zookeeper.testing._fake import FakeZooKeeper


def _creates(fake: FakeZooKeeper) -> list[str]:
    return [r.path for (_, op, r) in fake.request_log if op == OpCode.CREATE]  # type: ignore[attr-defined]


def _written(conn: Connection) -> list[Call]:
    """The calls pending in the connection's protocol, oldest first."""
    protocol = conn.protocol
    calls = [protocol.pending_context(xid) for xid in protocol.pending_xids()]
    assert all(isinstance(call, Call) for call in calls), calls
    return calls  # type: ignore[return-value]


async def _disconnect(fake: FakeZooKeeper, zk: ZooKeeper) -> None:
    """Drop the connection and refuse new ones, until the client is DISCONNECTED."""
    async with zk.session_states() as states:
        fake.refuse = True
        await fake.current.close()
        with trio.fail_after(10):
            assert await states.receive() is KeeperState.DISCONNECTED


async def test_in_flight_requests_die_with_their_connection(fake: FakeZooKeeper) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        first = zk._session._connection
        assert isinstance(first, Connection)
        fake.hold_replies = True
        outcome: list[BaseException] = []

        async def doomed() -> None:
            try:
                await zk.create("/x", b"")
            except ConnectionLossError as exc:
                outcome.append(exc)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(doomed)
                await trio.testing.wait_all_tasks_blocked()
                # Written: it is pending in this connection's protocol, not queued.
                assert [c.state for c in _written(first)] == [WRITTEN]
                assert zk.statistics().pending_requests == 1
                assert zk.statistics().queued_requests == 0
                fake.hold_replies = False
                fake.held.clear()
                await fake.current.close()
            await zk.wait_connected()
        assert len(outcome) == 1
        assert "outcome is unknown" in str(outcome[0])
        # The dead connection's record was emptied as it closed; the new
        # connection is a new object with nothing in flight.
        assert first.protocol.pending_count == 0
        assert first.death is not None
        second = zk._session._connection
        assert second is not None
        assert second is not first
        assert second.protocol.pending_count == 0
        # It was not re-sent on the new connection.
        assert _creates(fake) == ["/x"]
        assert zk.statistics().errors == {"ConnectionLossError": 1}


async def test_replies_read_with_bytes_that_break_the_protocol_fail_as_lost(
    fake: FakeZooKeeper,
) -> None:
    # Two replies and then a frame answering no request, in one read: the
    # read raises, so the two replies are never delivered. Their calls are
    # still in the protocol's record and fail with the connection; none hangs.
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        first = zk._session._connection
        assert isinstance(first, Connection)
        fake.hold_replies = True
        outcome: list[BaseException] = []

        async def doomed(path: str) -> None:
            try:
                await zk.create(path, b"")
            except ConnectionLossError as exc:
                outcome.append(exc)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(doomed, "/a")
                nursery.start_soon(doomed, "/b")
                await trio.testing.wait_all_tasks_blocked()
                assert [c.state for c in _written(first)] == [WRITTEN, WRITTEN]
                assert len(fake.held) == 2
                replies = b"".join(frame for _, frame in fake.held)
                fake.held.clear()
                fake.hold_replies = False
                stray = struct.pack(">iiqi", 16, 999_999, 1, 0)
                await fake.current.send(replies + stray)
            await zk.wait_connected()
        assert len(outcome) == 2
        assert all("outcome is unknown" in str(exc) for exc in outcome)
        assert first.protocol.pending_count == 0
        assert sorted(_creates(fake)) == ["/a", "/b"]  # each sent once


async def test_unwritten_requests_wait_for_the_next_connection_and_go_once(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect, session_timeout=30) as zk:
        await _disconnect(fake, zk)
        results: list[str] = []

        async def create(path: str) -> None:
            results.append(await zk.create(path, b""))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(create, "/a")
            nursery.start_soon(create, "/b")
            await trio.testing.wait_all_tasks_blocked()
            # No connection: both wait on the session, in order.
            session = zk._session
            assert session._connection is None or not session._connection.alive
            assert [c.state for c in session.outbox] == [QUEUED, QUEUED]
            queued = [c.request.path for c in session.outbox]  # type: ignore[attr-defined]
            assert sorted(queued) == ["/a", "/b"]
            assert zk.statistics().queued_requests == 2
            fake.refuse = False
            with trio.fail_after(20):
                await zk.wait_connected()
        assert sorted(results) == ["/a", "/b"]
        assert _creates(fake) == queued  # each exactly once, in the outbox's order
        assert not zk._session.outbox


async def test_a_queued_request_cancelled_while_disconnected_is_never_sent(
    fake: FakeZooKeeper, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect, session_timeout=30) as zk:
        await _disconnect(fake, zk)
        with trio.move_on_after(0.5) as scope:
            await zk.create("/never", b"")
        assert scope.cancelled_caught
        # Marked by the abort hook, left in the outbox for the writer to skip.
        assert [c.state for c in zk._session.outbox] == [ABANDONED]
        assert zk.statistics().queued_requests == 0
        fake.refuse = False
        with trio.fail_after(20):
            await zk.wait_connected()
            await zk.create("/after", b"")
        assert _creates(fake) == ["/after"]
        assert "/never" not in fake.tree


async def test_a_request_cancelled_after_it_was_written_is_answered_and_dropped(
    fake: FakeZooKeeper,
) -> None:
    async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
        conn = zk._session._connection
        assert conn is not None
        fake.hold_replies = True
        with trio.move_on_after(0.05) as scope:
            await zk.create("/written", b"")
        assert scope.cancelled_caught
        # Still awaiting its reply on this connection.
        assert [c.state for c in _written(conn)] == [ABANDONED]
        fake.hold_replies = False
        with trio.fail_after(10):
            await fake.release()
            assert await zk.exists("/written") is not None
        assert conn.protocol.pending_count == 0
        assert _creates(fake) == ["/written"]
        assert zk._session._connection is conn  # the connection stayed in sync


async def test_every_request_is_written_in_the_one_place(
    fake: FakeZooKeeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[int] = []
    original = Connection._encode

    def spy(self: Connection, call: Call) -> bytes | None:
        encoded.append(call.op)
        return original(self, call)

    monkeypatch.setattr(Connection, "_encode", spy)
    async with open_zookeeper(
        "fake:2181", stream_factory=fake.connect, auth=[("digest", "a:b")]
    ) as zk:
        with trio.fail_after(10):
            await zk.create("/one", b"")  # the writer idle: submitted at once
            async with trio.open_nursery() as nursery:
                for index in range(5):  # queued behind each other: the writer's batch
                    nursery.start_soon(zk.create, f"/p{index}", b"")
            await zk.add_auth("digest", "c:d")
    sent = [op for (_, op, _) in fake.request_log if op not in (OpCode.PING, OpCode.CREATE_SESSION)]
    assert sorted(encoded) == sorted(sent)
    assert encoded.count(OpCode.CREATE) == 6
    assert encoded.count(OpCode.AUTH) == 2  # the priming's and add_auth's
