"""A subtree cache and a self-healing registration from trio_zookeeper.recipes.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/caches.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import ZooKeeper, open_zookeeper
from trio_zookeeper.recipes import PersistentEphemeralNode, TreeCache, TreeEventType


async def watch_registrations(
    zk: ZooKeeper, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Print the services as they come and go, from a local cache of /services."""
    async with TreeCache(zk, "/services") as cache:
        task_status.started()
        async for event in cache:
            if event.path == "/services":
                continue  # the root itself
            if event.type is TreeEventType.NODE_ADDED and event.node is not None:
                print(f"  up: {event.path} at {event.node.data.decode()}")
            elif event.type is TreeEventType.NODE_REMOVED:
                print(f"  down: {event.path}")
                if event.path == "/services/web-1":
                    return


async def main(hosts: str) -> None:
    """Register a service for a while, with a cache following the registrations."""
    async with open_zookeeper(hosts) as zk:
        await zk.ensure_path("/services")
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await nursery.start(watch_registrations, zk)
                # Kept in place for the block: re-created after a session
                # expiry, or if someone deletes it; deleted when the block ends.
                async with PersistentEphemeralNode(zk, "/services/web-1", b"10.0.0.7:8080"):
                    await trio.sleep(0.1)  # ... serve ...


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
