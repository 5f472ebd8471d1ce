"""One-shot watches: the default watcher, and a channel per watch.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/watches.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import EventType, Stat, WatchEvents, ZooKeeper, open_zookeeper


async def default_watcher(zk: ZooKeeper) -> None:
    """``zk.watch()``: every watch set this way reports to ``zk.default_watcher``."""
    stat = await zk.watch().exists("/jobs/42")  # None: the watch fires on creation
    assert stat is None
    await zk.watch().get_children("/jobs")

    await zk.create("/jobs/42", b"pending")  # fires both watches
    for _ in range(2):
        with trio.fail_after(10):
            event = await zk.default_watcher.receive()
        print(f"  default watcher: {event.event_type.name} {event.path}")


async def own_channel(zk: ZooKeeper) -> None:
    """``zk.with_watcher()``: each call returns its result and its own channel."""
    result: tuple[tuple[bytes, Stat], WatchEvents] = await zk.with_watcher().get_data("/jobs/42")
    (data, stat), events = result
    print(f"  /jobs/42 is {data!r} at version {stat.version}; watching it")

    await zk.set_data("/jobs/42", b"done", version=stat.version)

    with trio.fail_after(10):
        async for event in events:
            if event.event_type is EventType.NONE:
                # News about the connection (DISCONNECTED, SYNC_CONNECTED):
                # the watch is still set. Events may be late, never lost.
                continue
            print(f"  own channel: {event.event_type.name} {event.path}")
    # A one-shot channel ends after its node event (the loop above ends).


async def main(hosts: str) -> None:
    """Set watches and watch them fire."""
    async with open_zookeeper(hosts) as zk:
        await zk.ensure_path("/jobs")
        await default_watcher(zk)
        await own_channel(zk)
        await zk.delete("/jobs", recursive=True)


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
