"""A reply larger than ``max_frame_size`` is named as such, against the real server."""

from __future__ import annotations

import logging
import re

import pytest
import trio

from trio_zookeeper import ConnectionLossError, KeeperState, ZooKeeper

from .conftest import Connect

pytestmark = pytest.mark.server

LIMIT = 8192


async def test_a_reply_over_the_frame_limit_says_so_and_how_to_raise_it(
    zk: ZooKeeper, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"child-{i:04d}-" + "x" * 50 for i in range(200)]
    await zk.create("/wide")
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for name in names:
                nursery.start_soon(zk.create, f"/wide/{name}")
    # getChildren's reply: header (xid, zxid, err) + vector count + each
    # string as length + bytes; the frame limit counts what follows the
    # length prefix, as the server and the Java client do.
    reply_size = 16 + 4 + sum(4 + len(n) for n in names)
    assert reply_size > LIMIT
    async with connect(max_frame_size=LIMIT) as small:
        connections = small.statistics().connections
        with trio.fail_after(30), pytest.raises(ConnectionLossError) as info:
            await small.get_children("/wide")
        message = str(info.value)
        assert re.search(
            rf"the reply of {reply_size} bytes exceeds the frame limit of {LIMIT} bytes", message
        ), message
        assert "max_frame_size" in message, message
        assert "retrying will not help" in message, message
        # The oversized frame is logged for whoever runs the service.
        warned = [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and "frame limit" in r.getMessage()
        ]
        assert warned, caplog.text
        # The client drops that connection and carries on, on the same session.
        with trio.fail_after(30):
            assert await small.exists("/wide") is not None
        assert small.state is KeeperState.SYNC_CONNECTED
        assert small.statistics().connections == connections + 1
        # A reply within the limit is fine; a raised limit reads the big one.
        assert await small.get_children("/wide/" + names[0]) == []
    async with connect(max_frame_size=reply_size) as enough:
        assert sorted(await enough.get_children("/wide")) == names
