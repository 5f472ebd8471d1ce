"""Queues, counters and barriers from trio_zookeeper.recipes.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/queues.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import ZooKeeper, open_zookeeper
from trio_zookeeper.recipes import Barrier, Counter, DoubleBarrier, LockingQueue, Queue


async def queues(zk: ZooKeeper) -> None:
    """A plain queue, and one whose items survive a consumer's crash."""
    mail = Queue(zk, "/queues/mail")
    await mail.put(b"later", priority=200)
    await mail.put(b"first", priority=10)  # lower priorities come out first
    print("  mail:", await mail.get(), await mail.get())

    jobs = LockingQueue(zk, "/queues/jobs")
    await jobs.put_all([b"job-1", b"job-2"])
    async with jobs.take() as job:
        # Consumed if this block succeeds; if it raises (or this process
        # dies), the job goes back to the queue for another consumer.
        print("  processing", job)
    print("  jobs left:", await jobs.length())


async def counting(zk: ZooKeeper) -> None:
    """A counter that many clients change concurrently (compare-and-set)."""
    counter = Counter(zk, "/counters/processed")
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(counter.add, 1)
    print("  counted:", await counter.get())


async def member(zk: ZooKeeper, name: str, log: list[str]) -> None:
    """Start together, finish together."""
    async with DoubleBarrier(zk, "/barriers/round-1", 3, identifier=name):
        log.append(f"{name} working")
    log.append(f"{name} done")


async def barriers(zk: ZooKeeper) -> None:
    """A barrier holds waiters until it is removed; a double barrier waits for all."""
    gate = Barrier(zk, "/barriers/deploy")
    await gate.create()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gate.wait)  # blocks until the gate is removed
        await trio.sleep(0.05)
        await gate.remove()

    log: list[str] = []
    async with trio.open_nursery() as nursery:
        for name in ("a", "b", "c"):
            nursery.start_soon(member, zk, name, log)
    # Nobody was done before everybody had started working.
    assert all(entry.endswith("working") for entry in log[:3])
    print("  double barrier:", log)


async def main(hosts: str) -> None:
    """Use each of them once."""
    async with open_zookeeper(hosts) as zk:
        with trio.fail_after(30):
            await queues(zk)
            await counting(zk)
            await barriers(zk)


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
