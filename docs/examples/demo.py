"""The example the project started from (tokio-zookeeper's), in trio.

Run it with ``scripts/run demo``: it uses the ZooKeeper at $ZOOKEEPER_HOSTS,
or starts a throwaway one on a free loopback port and removes it afterwards.
"""

from __future__ import annotations

import os
import sys

import trio

from trio_zookeeper import (
    OPEN_ACL_UNSAFE,
    CreateMode,
    EventType,
    KeeperState,
    NotEmptyError,
    open_zookeeper,
)


def say(step: str) -> None:
    print(f"  {step}", flush=True)


async def main(hosts: str) -> None:
    """Walk through the basic operations against ``hosts``."""
    async with open_zookeeper(hosts) as zk:
        say(f"connected to {hosts}, session 0x{zk.session_id:x}")

        # Is /example there? .watch() leaves a one-shot watch whose event
        # arrives on zk.default_watcher the next time /example changes.
        stat = await zk.watch().exists("/example")
        assert stat is None
        say("/example does not exist yet (and we are watching it)")

        path = await zk.create(
            "/example", b"Hello world", acl=OPEN_ACL_UNSAFE, mode=CreateMode.PERSISTENT
        )
        assert path == "/example"
        say(f"created {path} with b'Hello world'")

        stat = await zk.watch().exists("/example")
        assert stat is not None
        assert stat.data_length == len(b"Hello world")
        say(f"it exists now: {stat.data_length} bytes, version {stat.version}")

        data, stat = await zk.get_data("/example")
        assert data == b"Hello world"
        say(f"read it back: {data!r}")

        stat = await zk.set_data("/example", b"Bye world", version=stat.version)
        assert stat.data_length == len(b"Bye world")
        say(f"set it to b'Bye world' at version {stat.version - 1}: now version {stat.version}")

        path = await zk.create("/example/more", b"Hello more")
        assert path == "/example/more"
        say(f"created the child {path}")

        children = await zk.get_children("/example")
        assert children == ["more"]
        say(f"children of /example: {children}")

        try:
            await zk.delete("/example")
        except NotEmptyError:
            say("deleting /example failed, as it must: it is not empty")
        else:
            raise AssertionError("deleting a node with children must fail")

        await zk.delete("/example/more")
        await zk.delete("/example")
        say("deleted /example/more, then /example")

        assert await zk.exists("/example") is None
        say("/example is gone")

        # The first watch fired when /example was created.
        with trio.fail_after(10):
            event = await zk.default_watcher.receive()
        assert event.event_type is EventType.NODE_CREATED
        assert event.keeper_state is KeeperState.SYNC_CONNECTED
        assert event.path == "/example"
        say(f"the global watch saw: {event.event_type.name} {event.path}")
    say("session closed")


def run() -> int:
    """Run the demo against $ZOOKEEPER_HOSTS or a throwaway server."""
    hosts = os.environ.get("ZOOKEEPER_HOSTS")
    if hosts:
        trio.run(main, hosts)
        return 0
    from trio_zookeeper.testing import ZooKeeperServer

    print("starting a throwaway ZooKeeper (set ZOOKEEPER_HOSTS to use yours)...", flush=True)
    with ZooKeeperServer() as server:
        trio.run(main, server.connect_string)
    print("done: the throwaway ZooKeeper is stopped and removed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run())
