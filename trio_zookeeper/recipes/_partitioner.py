"""Work sharing among a party: :class:`SetPartitioner`.

Node layout (kazoo compatible): members join ``<path>/party`` as a
:class:`ShallowParty` (``<uuid4 hex>-<identifier>``); each item of the set is
owned through a lock ``<path>/locks/<item>``.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

import trio

from .. import ACL, ZooKeeper
from ._common import (
    HoldGuard,
    LossPolicy,
    check_acl,
    check_path,
    ensure_container,
    held_scope,
    join_path,
    new_guid,
)
from ._lock import Lock
from ._party import ShallowParty

__all__ = ["SetPartitioner"]

PartitionFunc = Callable[[str, Sequence[str], Sequence[Hashable]], list[Hashable]]


def _round_robin(
    identifier: str, members: Sequence[str], items: Sequence[Hashable]
) -> list[Hashable]:
    ordered = sorted(items, key=str)
    workers = sorted(members)
    index = workers.index(identifier)
    return ordered[index :: len(workers)]


class SetPartitioner:
    """Divide a set of items among the members of a party; each item has one owner.

    ``async with SetPartitioner(...)`` joins the party; each
    ``async with partitioner.allocation() as mine`` waits until membership
    has been stable for ``time_boundary`` seconds, computes our share, takes
    a lock per item, and runs the block with ``mine`` (our items). The block
    is cancelled, and the allocation ends *normally*, when the membership
    changes or the connection is suspended (or lost, per ``cancel_on``):
    loop to get the next allocation; :attr:`release_reason` says why.

    Example::

        async with SetPartitioner(zk, "/work", ["q1", "q2", "q3"], identifier="w1") as sp:
            while True:
                async with sp.allocation() as mine:
                    await serve_queues(mine)   # cancelled on repartition

    Args:
        zk: The client.
        path: The partitioner's directory.
        items: The set to divide; ``str(item)`` must be a valid node name.
        identifier: Our unique member name (default: host, pid and a GUID).
        partition_func: ``f(identifier, members, items) -> our items``; the
            default deals sorted items round-robin over sorted members.
        time_boundary: Seconds of stable membership before allocating.
        cancel_on: When an allocation ends because of the connection.
        acl: The ACL of the nodes it creates; None for the client's default.

    Attributes:
        release_reason: Why the last allocation ended early, or None.
    """

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        items: Iterable[Hashable],
        identifier: str | None = None,
        *,
        partition_func: PartitionFunc | None = None,
        time_boundary: float = 1.0,
        cancel_on: LossPolicy = LossPolicy.SUSPENDED,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        self.acl = check_acl(acl)
        if not (time_boundary >= 0 and math.isfinite(time_boundary)):
            raise ValueError("time_boundary must be a finite number >= 0")
        self._zk = zk
        self.path = check_path(path)
        self.items = list(items)
        for item in self.items:
            if "/" in str(item) or not str(item):
                raise ValueError(f"item {item!r} is not a valid node name")
        self.identifier = identifier or f"{socket.gethostname()}-{os.getpid()}-{new_guid()[:8]}"
        self._partition = partition_func or _round_robin
        self.time_boundary = time_boundary
        self.cancel_on = LossPolicy(cancel_on)
        self._party = ShallowParty(zk, join_path(self.path, "party"), self.identifier, acl=self.acl)
        self._locks_path = join_path(self.path, "locks")
        self.release_reason: str | None = None

    async def members(self) -> list[str]:
        """The identifiers of the party's members.

        Returns:
            The identifiers, sorted.
        """
        return sorted(await self._party.members())

    async def __aenter__(self) -> Self:
        await ensure_container(self._zk, self._locks_path, self.acl)
        await self._party.join()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with trio.CancelScope(shield=True):
            await self._party.leave()

    async def _stable_members(self) -> list[str]:
        async with self._party.watch() as follower:
            members = await anext(follower)
            while True:
                with trio.move_on_after(self.time_boundary) as scope:
                    members = await anext(follower)
                if scope.cancelled_caught:
                    return sorted(members)

    async def _wait_changed(self, members: list[str]) -> None:
        async with self._party.watch() as follower:
            async for now in follower:
                if sorted(now) != members:
                    return

    async def _take(self, locks: list[Lock], members: list[str]) -> bool:
        changed = False

        async def watch(scope: trio.CancelScope) -> None:
            nonlocal changed
            await self._wait_changed(members)
            changed = True
            scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch, nursery.cancel_scope)
            for lock in locks:
                await lock._acquire()
            nursery.cancel_scope.cancel()
        return not changed

    @asynccontextmanager
    async def allocation(self) -> AsyncIterator[list[Hashable]]:
        """Wait for a stable allocation, hold its locks, and yield our items.

        Yields:
            Our items (possibly none).
        """
        zk = self._zk
        self.release_reason = None
        while True:
            await zk.wait_connected()
            await self._party.join()  # again after a session expiry
            members = await self._stable_members()
            if self.identifier not in members:
                continue
            mine = self._partition(self.identifier, members, self.items)
            locks = [
                Lock(zk, join_path(self._locks_path, str(item)), acl=self.acl) for item in mine
            ]
            try:
                taken = await self._take(locks, members)
            except BaseException:
                await self._release(locks)
                raise
            if taken:
                break
            await self._release(locks)
        session_id = zk.session_id

        async def party_changed(guard: HoldGuard) -> None:
            await self._wait_changed(members)
            guard.lose("the party's membership changed")

        try:
            async with held_scope(
                zk,
                session_id=session_id,
                policy=self.cancel_on,
                node=None,
                what=f"partition {self.path}",
                extra=party_changed,
            ) as guard:
                yield mine
        finally:
            await self._release(locks)
        if guard.lost:
            self.release_reason = guard.reason

    async def _release(self, locks: list[Lock]) -> None:
        with trio.CancelScope(shield=True):
            for lock in locks:
                if lock.node is not None or lock.is_acquired:
                    await lock._release()
