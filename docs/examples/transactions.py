"""Atomic transactions (multi) and batched reads (multiRead).

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/transactions.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import (
    BadVersionError,
    CreateMode,
    ZooKeeper,
    open_zookeeper,
)


async def move_job(zk: ZooKeeper, job: str, version: int) -> list[object]:
    """Move a job from /queue to /done, only if nobody changed it meanwhile."""
    data, _ = await zk.get_data(f"/queue/{job}")
    return await (
        zk.multi()
        .check(f"/queue/{job}", version)
        .delete(f"/queue/{job}")
        .create(f"/done/{job}", data)
        .create("/log/entry-", job.encode(), mode=CreateMode.PERSISTENT_SEQUENTIAL)
        .run()
    )


async def main(hosts: str) -> None:
    """Move jobs atomically; see what a failed transaction reports."""
    async with open_zookeeper(hosts) as zk:
        for path in ("/queue", "/done", "/log"):
            await zk.create(path)
        await zk.create("/queue/job-1", b"payload")

        results = await move_job(zk, "job-1", version=0)
        print("  applied:", results)  # [None, None, '/done/job-1', '/log/entry-0000000000']

        await zk.create("/queue/job-2", b"payload")
        await zk.set_data("/queue/job-2", b"changed")  # now at version 1
        try:
            await move_job(zk, "job-2", version=0)
        except BadVersionError as error:
            # Nothing was applied. error.results has every operation's outcome:
            # the failing check's error, then RuntimeInconsistencyError for the
            # operations after it (RolledBackError for any before it).
            print("  rejected:", [type(result).__name__ for result in error.results or ()])
        assert await zk.exists("/queue/job-2") is not None  # still in the queue

        # Several reads in one round trip; each succeeds or fails on its own.
        answers = await zk.multi_read().get_children("/done").get_data("/queue/job-1").run()
        print("  batched reads:", answers)  # [['job-1'], NoNodeError(...)]

        for path in ("/queue", "/done", "/log"):
            await zk.delete(path, recursive=True)


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
