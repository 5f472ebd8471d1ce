"""The front page's example: register, then follow the list of workers.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/quickstart.py``
(it runs until interrupted with Ctrl+C).
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import CreateMode, open_zookeeper


async def main(hosts: str) -> None:
    """Join the workers and print the list whenever it changes."""
    async with open_zookeeper(hosts) as zk:
        await zk.create("/workers/w-", b"up", mode=CreateMode.EPHEMERAL_SEQUENTIAL, makepath=True)
        async with zk.watch_children("/workers") as updates:
            async for workers in updates:
                print("workers:", workers)


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
