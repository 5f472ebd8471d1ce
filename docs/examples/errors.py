"""Handling errors: logical outcomes, optimistic concurrency, and unknown outcomes.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/errors.py``.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import trio

from trio_zookeeper import (
    BadVersionError,
    ConnectionLossError,
    NodeExistsError,
    NoNodeError,
    Retry,
    ZooKeeper,
    open_zookeeper,
)

#: How many increments the counter node remembers.
RECENT = 32


async def create_if_absent(zk: ZooKeeper, path: str, data: bytes) -> bool:
    """Create ``path`` unless it exists; True if this call created it."""
    try:
        await zk.create(path, data)
    except NodeExistsError:
        return False
    return True


async def increment(zk: ZooKeeper, path: str) -> int:
    """Add one to the counter in ``path``, safely against concurrent writers.

    The value is written only if the node still has the version it was read
    at (compare-and-set). The node also remembers the last few increments by
    token, so that after a lost connection the next read tells whether this
    increment was applied: the write itself is never blindly repeated.
    """
    token = uuid.uuid4().hex  # names this increment across attempts
    # Reads are safe to repeat: retry them on connection loss, with back-off.
    read = Retry(max_tries=None, wait_connected=zk.wait_connected)
    while True:
        data, stat = await read(zk.get_data, path)
        counter: dict[str, Any] = json.loads(data) if data else {"value": 0, "recent": {}}
        if token in counter["recent"]:
            return int(counter["recent"][token])  # an earlier attempt was applied
        value = int(counter["value"]) + 1
        recent = dict(list(counter["recent"].items())[-(RECENT - 1) :])
        recent[token] = value
        new = json.dumps({"value": value, "recent": recent}).encode()
        try:
            await zk.set_data(path, new, version=stat.version)
            return value
        except BadVersionError:
            continue  # someone else wrote first: read again, try again
        except ConnectionLossError:
            continue  # outcome unknown: the next read shows whether it was applied


async def main(hosts: str) -> None:
    """Count to ten from three concurrent tasks."""
    async with open_zookeeper(hosts) as zk:
        print("  created:", await create_if_absent(zk, "/counter", b""))
        print("  created again:", await create_if_absent(zk, "/counter", b""))

        async def worker() -> None:
            for _ in range(3):
                await increment(zk, "/counter")

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(worker)
        print("  counter:", await increment(zk, "/counter"))  # 10
        assert json.loads((await zk.get_data("/counter"))[0])["value"] == 10

        try:
            await zk.get_data("/missing")
        except NoNodeError as error:
            print(f"  {type(error).__name__}: {error} (code {error.code}, path {error.path})")
        await zk.delete("/counter")


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
