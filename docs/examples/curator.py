"""Working with Java services that use Apache Curator, from trio_zookeeper.recipes.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/curator.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import CreateMode, ZooKeeper, open_zookeeper
from trio_zookeeper.recipes import (
    Election,
    Layout,
    LeaderLatch,
    Lock,
    PersistentNode,
    ServiceDiscovery,
    ServiceInstance,
    SharedCount,
)


async def curator_lock(zk: ZooKeeper) -> None:
    """The same lock as a Java InterProcessMutex on /locks/orders."""
    async with Lock(zk, "/locks/orders", identifier="py-1", layout=Layout.CURATOR) as lock:
        await lock.fenced().set_data("/orders", b"processed").run()


async def curator_election(zk: ZooKeeper) -> None:
    """A LeaderSelector and a LeaderLatch shared with Java participants."""
    election = Election(zk, "/election/scheduler", identifier="py-1", layout=Layout.CURATOR)
    async with election:
        print("  selector leader:", await election.contenders())
    latch = LeaderLatch(zk, "/latch/scheduler", identifier="py-1")
    async with latch:  # a participant; entering does not wait for leadership
        await latch.wait_leader()
        print("  latch participants:", await latch.participants())


async def shared_count(zk: ZooKeeper) -> None:
    """Curator's SharedCount: compare-and-set on the node version."""
    count = SharedCount(zk, "/counts/workers", seed=0)
    while True:
        value, version = await count.get_versioned()
        if await count.try_set(value + 1, version):
            break  # else somebody changed it first: read again
    print("  workers:", await count.get())


async def discovery(zk: ZooKeeper) -> None:
    """Register in curator-x-discovery's layout and find the instances."""
    services = ServiceDiscovery(zk, base_path="/services")
    me = ServiceInstance(
        name="api",
        id="py-1",
        address="127.0.0.1",
        port=8080,
        payload={"zone": "eu-1"},
        uri_spec="{scheme}://{address}:{port}",
    )
    async with services.register(me):  # re-registered after a session expiry
        for instance in await services.query("api"):
            print("  found:", instance.id, instance.build_uri(), instance.payload)


async def main(hosts: str) -> None:
    """Run the Curator-compatible recipes once."""
    async with open_zookeeper(hosts) as zk:
        await zk.create("/orders", b"new")
        with trio.fail_after(30):
            await curator_lock(zk)
            await curator_election(zk)
            await shared_count(zk)
            await discovery(zk)
            # A node kept in existence for the block, in any create mode.
            async with PersistentNode(zk, "/config/active", b"1", mode=CreateMode.CONTAINER):
                pass


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
