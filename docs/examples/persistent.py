"""A persistent recursive watch that keeps a local copy of a subtree's data.

It shows the two rules of persistent watches: after a reconnect, re-read
(changes made while disconnected are not replayed), and after an overflow,
start again (the events that did not fit were not delivered).

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/persistent.py``.
"""

from __future__ import annotations

import math
import os

import trio

from trio_zookeeper import (
    AddWatchMode,
    EventType,
    KeeperState,
    NoNodeError,
    WatchOverflowError,
    ZooKeeper,
    open_zookeeper,
)

#: The session events that follow a reconnect.
CONNECTED = (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY)


async def read_tree(zk: ZooKeeper, root: str) -> dict[str, bytes]:
    """Every node's data under ``root`` (not atomic: good enough with a watch set first)."""
    copy: dict[str, bytes] = {}
    try:
        # Many nodes at once, any depth; nodes deleted meanwhile are left out.
        async with zk.walk(root, data=True) as nodes:
            async for node in nodes:
                copy[node.path] = node.data or b""
    except NoNodeError:
        pass  # no root (yet): the watch reports its creation
    return copy


async def mirror(
    zk: ZooKeeper,
    root: str,
    snapshots: trio.MemorySendChannel[dict[str, bytes]],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Keep a copy of the data under ``root``; send a snapshot after each change.

    Runs until cancelled.
    """
    copy: dict[str, bytes] = {}
    started = False
    while True:
        try:
            async with zk.add_watch(root, AddWatchMode.PERSISTENT_RECURSIVE) as events:
                # Watch first, then read: no change can fall in between.
                copy = await read_tree(zk, root)
                await snapshots.send(dict(copy))
                if not started:
                    task_status.started()
                    started = True
                async for event in events:
                    if event.event_type is EventType.NONE:
                        if event.keeper_state in CONNECTED:
                            # Reconnected: the watch is back, but what changed
                            # while we were away is not replayed. Read again.
                            copy = await read_tree(zk, root)
                            await snapshots.send(dict(copy))
                        continue
                    assert event.path is not None
                    if event.event_type is EventType.NODE_DELETED:
                        copy.pop(event.path, None)
                    else:  # NODE_CREATED or NODE_DATA_CHANGED
                        try:
                            copy[event.path], _ = await zk.get_data(event.path)
                        except NoNodeError:
                            copy.pop(event.path, None)
                    await snapshots.send(dict(copy))
        except WatchOverflowError:
            # This consumer fell too far behind and events were dropped (never
            # silently: this error says so). Watch again and read it all again.
            continue


async def main(hosts: str) -> None:
    """Mirror /inventory while it changes."""
    async with open_zookeeper(hosts) as zk:
        await zk.ensure_path("/inventory")
        send, receive = trio.open_memory_channel[dict[str, bytes]](math.inf)
        async with trio.open_nursery() as nursery:
            await nursery.start(mirror, zk, "/inventory", send)
            await zk.create("/inventory/apples", b"3")
            await zk.create("/inventory/pears", b"5")
            await zk.set_data("/inventory/apples", b"2")
            await zk.delete("/inventory/pears")
            with trio.fail_after(10):
                async for snapshot in receive:
                    if snapshot == {"/inventory": b"", "/inventory/apples": b"2"}:
                        print("  mirrored:", snapshot)
                        break
            nursery.cancel_scope.cancel()
        await zk.delete("/inventory", recursive=True)


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
