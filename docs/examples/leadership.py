"""Leader election, group membership and work partitioning from trio_zookeeper.recipes.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/leadership.py``.
"""

from __future__ import annotations

import os
from collections.abc import Hashable

import trio

from trio_zookeeper import ZooKeeper, open_zookeeper
from trio_zookeeper.recipes import Election, LeadershipLostError, Party, SetPartitioner


async def candidate(zk: ZooKeeper, name: str, leaders: list[str]) -> None:
    """Wait to lead, lead for a while, step down."""
    election = Election(zk, "/election/scheduler", identifier=name)
    try:
        async with election:
            # Only the leader runs this; it is cancelled (and
            # LeadershipLostError raised) if leadership may have been lost.
            leaders.append(name)
            print(f"  {name} leads; contenders: {await election.contenders()}")
            await trio.sleep(0.05)
    except LeadershipLostError as error:
        print(f"  {name} lost leadership: {error.reason}")


async def worker(
    zk: ZooKeeper, name: str, items: list[str], shares: dict[str, list[Hashable]]
) -> None:
    """Take a share of the items; each item has exactly one owner."""
    partitioner = SetPartitioner(
        zk, "/partitions/queues", items, identifier=name, time_boundary=0.2
    )
    async with partitioner, partitioner.allocation() as mine:
        shares[name] = mine
        await trio.sleep(0.3)  # ... serve our items; cancelled on repartition ...


async def main(hosts: str) -> None:
    """Three candidates take turns leading; two workers share four queues."""
    async with open_zookeeper(hosts) as zk:
        leaders: list[str] = []
        async with trio.open_nursery() as nursery:
            for name in ("host-a", "host-b", "host-c"):
                nursery.start_soon(candidate, zk, name, leaders)
        assert sorted(leaders) == ["host-a", "host-b", "host-c"]

        async with Party(zk, "/party/workers", identifier="worker-1") as party:
            print("  party members:", await party.members())

        shares: dict[str, list[Hashable]] = {}
        items = ["q1", "q2", "q3", "q4"]
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(worker, zk, "w1", items, shares)
                nursery.start_soon(worker, zk, "w2", items, shares)
        print("  shares:", shares)


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
