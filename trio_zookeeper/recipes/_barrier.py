"""Barriers: :class:`Barrier` and :class:`DoubleBarrier`.

Node layout (kazoo compatible): a :class:`Barrier` is a single node that
exists while the barrier is up. A :class:`DoubleBarrier` directory holds one
ephemeral ``<uuid4 hex>`` node per member (identifier as data) and a
``ready`` node created when the last member enters. Both are persistent
nodes (kazoo expects them to stay); missing ancestors are created as
containers.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Sequence
from types import TracebackType
from typing import Self

import trio

from .. import (
    ACL,
    ConnectionLossError,
    CreateMode,
    EventType,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
    Stat,
    WatchEvents,
    ZooKeeper,
    ZooKeeperError,
)
from ._common import (
    check_acl,
    check_path,
    ensure_node,
    guaranteed_delete,
    join_path,
    new_guid,
    protected_create,
    retry,
)

__all__ = ["Barrier", "DoubleBarrier"]

_READY = "ready"


async def _exists_watch(zk: ZooKeeper, path: str) -> tuple[Stat | None, WatchEvents]:
    while True:
        try:
            result = await zk.with_watcher().exists(path)
        except (ConnectionLossError, SessionExpiredError):
            await zk.wait_connected()
            continue
        return result


async def _next_node_event(events: WatchEvents) -> EventType | None:
    """The next node event on a one-shot channel, or None if it ended without one."""
    try:
        async for event in events:
            if event.event_type is not EventType.NONE:
                return event.event_type
    except ZooKeeperError:
        return None
    finally:
        events.close()
    return None


class Barrier:
    """A barrier: a node whose existence holds everyone waiting on it.

    Compatible with kazoo's ``Barrier`` on the same path.

    Example::

        barrier = Barrier(zk, "/barriers/deploy")
        await barrier.create()          # coordinator raises it
        ...
        await barrier.wait()            # workers block until it is removed
        ...
        await barrier.remove()          # coordinator lets them through

    Args:
        zk: The client.
        path: The barrier node.
        acl: The ACL of the nodes it creates; None for the client's default.
    """

    def __init__(self, zk: ZooKeeper, path: str, *, acl: Sequence[ACL] | None = None) -> None:
        self._zk = zk
        self.path = check_path(path)
        self.acl = check_acl(acl)

    async def create(self) -> None:
        """Raise the barrier (create the node if it does not exist)."""
        await ensure_node(self._zk, self.path, self.acl)

    async def remove(self) -> bool:
        """Remove the barrier.

        Returns:
            True if this call removed it, False if it was not up.
        """
        try:
            await self._zk.delete(self.path)
        except NoNodeError:
            return False
        except ConnectionLossError:
            await self._zk.wait_connected()
            return await retry(self._zk, self._zk.exists, self.path) is None
        return True

    async def wait(self) -> None:
        """Wait until the barrier is removed (bound it with ``trio.fail_after``)."""
        while True:
            stat, events = await _exists_watch(self._zk, self.path)
            if stat is None:
                events.close()
                return
            if await _next_node_event(events) is EventType.NODE_DELETED:
                return


class DoubleBarrier:
    """A double barrier: members start together and finish together.

    ``async with`` enters (waits until ``num_clients`` members have entered)
    and, when the block ends normally, leaves (waits until every member has
    left). If the block raises, we leave without waiting.

    Example::

        async with DoubleBarrier(zk, "/barriers/round-1", 3, identifier="w1"):
            await compute()   # starts when 3 members are in

    Args:
        zk: The client.
        path: The barrier directory.
        num_clients: How many members make the barrier open.
        identifier: Our member node's data (default: host and pid).
        acl: The ACL of the nodes it creates; None for the client's default.
    """

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        num_clients: int,
        identifier: str | None = None,
        *,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        if num_clients < 1:
            raise ValueError("num_clients must be at least 1")
        self.acl = check_acl(acl)
        self._zk = zk
        self.path = check_path(path)
        self.num_clients = num_clients
        self.identifier = identifier or f"{socket.getfqdn()}-{os.getpid()}"
        self._name = new_guid()
        self.node = join_path(self.path, self._name)
        self._session_id = 0
        self.participating = False

    def _members(self, children: list[str]) -> list[str]:
        return sorted(c for c in children if c != _READY)

    async def enter(self) -> None:
        """Join and wait until ``num_clients`` members have joined."""
        zk = self._zk
        ready = join_path(self.path, _READY)
        try:
            await ensure_node(zk, self.path, self.acl)
            _, stat = await protected_create(
                zk,
                self.path,
                self._name,
                self.identifier.encode(),
                CreateMode.EPHEMERAL,
                acl=self.acl,
            )
            self._session_id = stat.ephemeral_owner
            self.participating = True
            while True:
                exists, events = await _exists_watch(zk, ready)
                if exists is not None:
                    events.close()
                    return
                children = await retry(zk, zk.get_children, self.path)
                if len(self._members(children)) >= self.num_clients:
                    events.close()
                    with contextlib.suppress(NodeExistsError):
                        await retry(zk, zk.create, ready, acl=self.acl)
                    return
                await _next_node_event(events)
        except BaseException:
            await self._abandon()
            raise

    async def _abandon(self) -> None:
        self.participating = False
        await guaranteed_delete(self._zk, self.node, self._session_id or self._zk.session_id)

    async def leave(self) -> None:
        """Leave and wait until every member has left."""
        zk = self._zk
        try:
            while True:
                try:
                    children = self._members(await retry(zk, zk.get_children, self.path))
                except NoNodeError:
                    children = []
                if not children or children == [self._name]:
                    await guaranteed_delete(zk, self.node, self._session_id)
                    with contextlib.suppress(NoNodeError):
                        await retry(zk, zk.delete, join_path(self.path, _READY))
                    self.participating = False
                    return
                if children[0] == self._name:
                    watched = children[-1]  # lowest: wait for the highest to go
                else:
                    if self._name in children:
                        await guaranteed_delete(zk, self.node, self._session_id)
                    watched = children[0]  # others: wait for the lowest to go
                stat, events = await _exists_watch(zk, join_path(self.path, watched))
                if stat is None:
                    events.close()
                    continue
                await _next_node_event(events)
        except BaseException:
            await self._abandon()
            raise

    async def __aenter__(self) -> Self:
        await self.enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.leave()
        else:
            with trio.CancelScope(shield=True):
                await self._abandon()
