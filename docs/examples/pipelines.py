"""Pipelines: many requests in one round trip, replies taken later, no task per request.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/pipelines.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import NoNodeError, ZooKeeper, open_zookeeper


async def read_all(zk: ZooKeeper, paths: list[str]) -> dict[str, bytes | None]:
    """Read many nodes in one round trip; a missing node reads as None."""
    async with zk.pipeline() as pipe:
        pending = {path: pipe.get_data(path) for path in paths}
        out: dict[str, bytes | None] = {}
        for path, reply in pending.items():
            try:
                out[path], _ = await reply
            except NoNodeError:
                out[path] = None
    return out


async def write_all(zk: ZooKeeper, values: dict[str, bytes]) -> None:
    """Set many nodes at once. A failure nobody awaited is raised as the block ends."""
    async with zk.pipeline() as pipe:
        for path, data in values.items():
            pipe.set_data(path, data)


async def main(hosts: str) -> None:
    """Write and read a batch of nodes; see an unobserved failure reported."""
    async with open_zookeeper(hosts) as zk:
        async with zk.pipeline() as pipe:
            pipe.create("/config")
            for name in ("a", "b", "c"):
                pipe.create(f"/config/{name}", b"1")
            # Sent after the creates, answered after them: it sees them.
            listing = pipe.get_children("/config")
        print("  created:", sorted(await listing))  # ['a', 'b', 'c']

        await write_all(zk, {"/config/a": b"2", "/config/b": b"2"})
        print("  read:", await read_all(zk, ["/config/a", "/config/b", "/config/zz"]))

        try:
            await write_all(zk, {"/config/c": b"3", "/config/missing": b"3"})
        except* NoNodeError as group:
            print("  not written:", [str(error) for error in group.exceptions])
        assert (await zk.get_data("/config/c"))[0] == b"3"  # the others were applied

        await zk.delete("/config", recursive=True)


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
