"""Timeouts are trio cancel scopes: bound a connect, a call, or a whole piece of work.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/timeouts.py``.
"""

from __future__ import annotations

import math
import os

import trio

from trio_zookeeper import ZooKeeper, open_zookeeper


async def bounded_calls(zk: ZooKeeper) -> None:
    """One call, and several calls, each under a deadline."""
    # One call: trio.TooSlowError if there is no answer within 5 seconds.
    with trio.fail_after(5):
        data, _ = await zk.get_data("/settings")
    print(f"  read {data!r} in time")

    # Best effort: give up quietly on what does not fit in the time budget.
    done = 0
    with trio.move_on_after(2):
        for index in range(10):
            await zk.create(f"/settings/item-{index}", b"")
            done += 1
    print(f"  created {done} items within the budget")


async def cancelled_write(zk: ZooKeeper) -> None:
    """A cancelled write may or may not have been applied: find out by reading."""
    _, stat = await zk.get_data("/settings")
    with trio.move_on_after(0.5) as scope:
        await zk.set_data("/settings", b"blue", version=stat.version)
    if scope.cancelled_caught:
        # The request may have reached the server before the cancellation.
        data, now = await zk.get_data("/settings")
        applied = now.version == stat.version + 1 and data == b"blue"
        print(f"  the write was cancelled; applied anyway: {applied}")
    else:
        print("  the write completed in time")


async def main(hosts: str) -> None:
    """Bound connecting, then each piece of work."""
    # Entering the block waits until a session is established. Give up after
    # two rounds of the hosts, with ConnectFailedError saying why each one
    # failed ("could not connect to 127.0.0.1:2181: connection refused"), and
    # after 10 seconds at most; lift that deadline for the rest of the block.
    with trio.fail_after(10) as connect_scope:
        async with open_zookeeper(hosts, connect_rounds=2) as zk:
            connect_scope.deadline = math.inf
            await zk.create("/settings", b"red")
            await bounded_calls(zk)
            await cancelled_write(zk)
            await zk.delete("/settings", recursive=True)


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
