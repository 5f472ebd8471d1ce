"""Locks, read/write locks, semaphores and leases from trio_zookeeper.recipes.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/locks.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import ZooKeeper, open_zookeeper
from trio_zookeeper.recipes import (
    Lease,
    Lock,
    LockLostError,
    ReadLock,
    Semaphore,
    WriteLock,
)


async def update_report(zk: ZooKeeper, worker: str) -> None:
    """Exclusive work, with writes that cannot land after the lock is lost."""
    lock = Lock(zk, "/locks/report", identifier=worker)
    try:
        async with lock:
            data, _ = await zk.get_data("/report")
            # A fenced transaction applies only while our lock node exists: a
            # write "under the lock" cannot happen after the lock was lost.
            await lock.fenced().set_data("/report", data + worker.encode() + b";").run()
    except LockLostError as error:
        # The block was cancelled because the lock may have been lost (the
        # connection dropped: another client may hold it by now).
        print(f"  {worker} lost the lock: {error.reason}")


async def read_and_write(zk: ZooKeeper) -> None:
    """Readers share a read/write lock; a writer excludes everyone."""
    async with (
        ReadLock(zk, "/locks/table", identifier="reader-1"),
        ReadLock(zk, "/locks/table", identifier="reader-2"),
    ):
        print("  two readers hold the read lock together")
    async with WriteLock(zk, "/locks/table", identifier="writer"):
        print("  the writer holds it alone")


async def limited(zk: ZooKeeper, name: str, running: list[str]) -> None:
    """At most two of these run at the same time."""
    async with Semaphore(zk, "/semaphores/db", identifier=name, max_leases=2):
        running.append(name)
        assert len(running) <= 2
        await trio.sleep(0.05)
        running.remove(name)


async def main(hosts: str) -> None:
    """Exercise the locks with concurrent workers."""
    async with open_zookeeper(hosts) as zk:
        await zk.create("/report", b"")
        async with trio.open_nursery() as nursery:
            for worker in ("w1", "w2", "w3"):
                nursery.start_soon(update_report, zk, worker)
        print("  report:", (await zk.get_data("/report"))[0])

        await read_and_write(zk)

        running: list[str] = []
        async with trio.open_nursery() as nursery:
            for index in range(5):
                nursery.start_soon(limited, zk, f"job-{index}", running)
        print("  five jobs ran, at most two at a time")

        # A lease is obtained without waiting, for a duration (here 60 s).
        lease = Lease(zk, "/leases/cleanup", 60.0, identifier="host-a")
        print("  host-a gets the lease:", await lease.obtain())
        other = Lease(zk, "/leases/cleanup", 60.0, identifier="host-b")
        print("  host-b gets it too:", await other.obtain())


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
