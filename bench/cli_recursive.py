"""Time the command line's recursive commands behind a slow link.

Starts a throwaway ZooKeeper, builds a tree of ``--nodes`` nodes (a root
with ``--fanout`` children, each with the same number of children, and so
on), puts a FaultProxy adding ``--delay`` seconds each way in front of it,
and times, through the proxy:

* ``trio-zookeeper ls -R`` and ``trio-zookeeper dump`` (real subprocesses:
  the pipelined walk);
* a sequential walk, one round trip at a time, as the command line did
  before (``get_children`` per node for ``ls -R``; ``get_data`` then
  ``get_children`` per node for ``dump``).

Usage: ``python bench/cli_recursive.py [--nodes 5000] [--delay 0.005]``.
Figures are printed, never checked.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import trio

from trio_zookeeper import ZooKeeper, open_zookeeper
from trio_zookeeper.testing import ZooKeeperServer, open_fault_proxy


async def build(zk: ZooKeeper, root: str, nodes: int, fanout: int) -> None:
    await zk.create(root)
    frontier, made = [root], 0
    while made < nodes:
        parents, frontier = frontier, []
        transaction = zk.multi()
        for parent in parents:
            for i in range(fanout):
                if made == nodes:
                    break
                path = f"{parent}/node-{i:03d}"
                transaction.create(path, b"some data " * 4)
                frontier.append(path)
                made += 1
        await transaction.run()


async def sequential(zk: ZooKeeper, root: str, *, data: bool) -> int:
    count, stack = 0, [root]
    while stack:
        path = stack.pop()
        if data:
            await zk.get_data(path)
        children = await zk.get_children(path)
        count += 1
        base = "" if path == "/" else path
        stack.extend(f"{base}/{name}" for name in sorted(children, reverse=True))
    return count


async def cli(address: str, *args: str) -> float:
    started = time.monotonic()
    await trio.run_process(
        [sys.executable, "-m", "trio_zookeeper", "-H", address, *args],
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started


async def main(nodes: int, fanout: int, delay: float) -> None:
    with ZooKeeperServer(heap_mb=512) as server:
        async with open_zookeeper(server.connect_string) as zk:
            await build(zk, "/bench", nodes, fanout)
        async with open_fault_proxy(server.host, server.port, seed=1) as proxy:
            proxy.delay(delay)
            startup = await cli(proxy.address, "version")
            print(f"{nodes} nodes, fanout {fanout}, +{delay * 1000:g} ms each way")
            print(f"  (python start-up of the CLI: {startup:.2f} s, included below)")
            for label, args in (("ls -R", ["ls", "-R", "/bench"]), ("dump", ["dump", "/bench"])):
                took = await cli(proxy.address, *args)
                print(f"  trio-zookeeper {label:<6} pipelined : {took:7.2f} s")
            async with open_zookeeper(proxy.address) as zk:
                for label, data in (("ls -R", False), ("dump", True)):
                    started = time.monotonic()
                    await sequential(zk, "/bench", data=data)
                    took = time.monotonic() - started
                    print(f"  {label:<6} sequential walk (old way): {took:7.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--fanout", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.005)
    options = parser.parse_args()
    trio.run(main, options.nodes, options.fanout, options.delay)
