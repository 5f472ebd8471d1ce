"""A real, throwaway ZooKeeper from the test harness, and its failure controls.

Run it with ``python docs/examples/harness.py`` (it needs Java and
ZooKeeper's jars, as the harness does).
"""

from __future__ import annotations

import trio

from trio_zookeeper import open_zookeeper
from trio_zookeeper.testing import ZooKeeperServer


async def main(hosts: str) -> None:
    """Write a node, or read it back if it is there."""
    async with open_zookeeper(hosts) as zk:
        if await zk.exists("/survivor") is None:
            await zk.create("/survivor", b"written before the crash")
        print("  /survivor:", (await zk.get_data("/survivor"))[0])


def run() -> None:
    """Start a server, use it, break it in the ways the harness allows, and remove it."""
    with ZooKeeperServer(tick_time=500) as server:  # started; removed on exit
        print("  running at", server.connect_string)
        trio.run(main, server.connect_string)

        server.pause()  # SIGSTOP: connections stay open, nothing is answered
        server.resume()
        server.kill()  # a crash; the data stays
        server.restart()  # same port, same data
        trio.run(main, server.connect_string)  # the node survived

        server.stop()
        server.wipe()  # forget all data (the server must be stopped)
        server.start()
        trio.run(main, server.connect_string)  # an empty database again


if __name__ == "__main__":
    run()
