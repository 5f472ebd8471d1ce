"""A client of a whole ensemble that keeps working while servers come and go.

Run it with ``ZOOKEEPER_HOSTS=h1:2181,h2:2181,h3:2181 python docs/examples/failover.py``
and kill servers meanwhile: the session moves to another member and its
ephemeral node stays.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import (
    ConnectionLossError,
    CreateMode,
    NotReadOnlyError,
    ZooKeeper,
    open_zookeeper,
)


async def report_states(
    zk: ZooKeeper, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Print every state change with the server the client is on."""
    async with zk.session_states() as states:
        task_status.started()
        async for state in states:
            print(f"  {state.name}: server {zk.statistics().server}")


async def heartbeat(zk: ZooKeeper, path: str, beats: int, interval: float) -> None:
    """Write a counter every ``interval`` seconds, riding out failovers."""
    for beat in range(beats):
        try:
            await zk.set_data(path, str(beat).encode())
        except ConnectionLossError:
            # Outcome unknown. Writing the beat again is harmless, so retry it
            # once the session is connected again (to whichever server).
            await zk.wait_connected()
            await zk.set_data(path, str(beat).encode())
        except NotReadOnlyError:
            # Only a read-only server (cut off from the majority) is reachable:
            # reads work, writes do not. Skip this beat.
            print("  read-only: skipping a beat")
        await trio.sleep(interval)


async def main(hosts: str) -> None:
    """Heartbeat for a while, accepting read-only servers."""
    async with open_zookeeper(hosts, session_timeout=6.0, read_only=True) as zk:
        print(f"  session 0x{zk.session_id:x} on {zk.statistics().server}")
        print(f"  negotiated session timeout: {zk.session_timeout} s")
        async with trio.open_nursery() as nursery:
            await nursery.start(report_states, zk)
            await zk.create("/alive", b"", mode=CreateMode.EPHEMERAL)
            await heartbeat(zk, "/alive", beats=5, interval=0.05)
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
