"""Keep an ephemeral node registered across connection loss and session expiry.

The node (a service registration) lives as long as the session. A lost
connection does not remove it; an expired session does, and the client then
starts a new session: the node must be created again.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/registration.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import (
    ConnectionLossError,
    CreateMode,
    KeeperState,
    NodeExistsError,
    ZooKeeper,
    open_zookeeper,
)


async def register(zk: ZooKeeper, path: str, data: bytes) -> None:
    """Make sure ``path`` exists as an ephemeral node of the *current* session."""
    while True:
        await zk.wait_connected()
        try:
            await zk.create(path, data, mode=CreateMode.EPHEMERAL)
            return
        except (ConnectionLossError, NodeExistsError):
            # ConnectionLossError: the create may or may not have been applied.
            # NodeExistsError: maybe it was, by our own earlier attempt. Look.
            pass
        try:
            stat = await zk.exists(path)
        except ConnectionLossError:
            continue
        if stat is None:
            continue  # the lost create was not applied: try again
        if stat.ephemeral_owner == zk.session_id:
            return  # it was applied: the node is ours
        raise NodeExistsError(path=path)  # someone else's node


async def stay_registered(
    zk: ZooKeeper,
    path: str,
    data: bytes,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Register, and register again after every session expiry. Runs until cancelled."""
    async with zk.session_states() as states:
        await register(zk, path, data)
        task_status.started()
        async for state in states:
            if state is KeeperState.DISCONNECTED:
                print("  connection lost: the node stays while the session lives")
            elif state is KeeperState.EXPIRED:
                print("  session expired: the node is gone; registering again")
                await register(zk, path, data)
            elif state is KeeperState.SYNC_CONNECTED:
                print(f"  connected, session 0x{zk.session_id:x}")


async def main(hosts: str) -> None:
    """Register this process under /services/web while it does its work."""
    async with open_zookeeper(hosts) as zk:
        await zk.ensure_path("/services/web")
        async with trio.open_nursery() as nursery:
            await nursery.start(stay_registered, zk, "/services/web/worker-1", b"10.0.0.7:8080")
            print("  registered:", await zk.get_children("/services/web"))
            await trio.sleep(0.1)  # ... the application's work ...
            nursery.cancel_scope.cancel()
    # Leaving the block closed the session: the registration is gone at once.


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
