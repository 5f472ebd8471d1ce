"""Follow a node's data and a node's children (kazoo's DataWatch and ChildrenWatch).

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/follow.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import ZooKeeper, open_zookeeper


async def follow_config(zk: ZooKeeper, until: bytes) -> None:
    """Print every value of /app/config, until it is ``until``."""
    async with zk.watch_data("/app/config") as values:
        async for value in values:
            if value is None:
                print("  /app/config does not exist (yet)")
                continue
            data, stat = value
            print(f"  /app/config = {data!r} (version {stat.version})")
            if data == until:
                return


async def follow_members(zk: ZooKeeper, until: int) -> None:
    """Print the members of /app/members, until there are ``until`` of them."""
    async with zk.watch_children("/app/members") as snapshots:
        async for children in snapshots:
            print(f"  members: {children}")
            if children is not None and len(children) >= until:
                return


async def change_things(zk: ZooKeeper) -> None:
    """What other processes would do."""
    await zk.create("/app/config", b"v1", makepath=True)
    await zk.set_data("/app/config", b"v2")
    await zk.set_data("/app/config", b"v3")
    await zk.ensure_path("/app/members")
    for name in ("a", "b", "c"):
        await zk.create(f"/app/members/{name}")


async def main(hosts: str) -> None:
    """Follow two nodes while another task changes them."""
    async with open_zookeeper(hosts) as zk:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(follow_config, zk, b"v3")
                nursery.start_soon(follow_members, zk, 3)
                await trio.sleep(0.2)  # let the followers print the initial state
                await change_things(zk)
        await zk.delete("/app", recursive=True)


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
