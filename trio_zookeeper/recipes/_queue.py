"""Distributed queues: :class:`Queue` and :class:`LockingQueue`.

Node layout (kazoo compatible):

* :class:`Queue`: persistent sequential ``entry-<priority:03d>-<sequence>``
  children of the queue node, taken in name order (priority, then FIFO);
* :class:`LockingQueue`: entries ``<path>/entries/entry-<priority:03d>-<seq>``
  and, for an entry being processed, an ephemeral ``<path>/taken/<entry>``
  whose data is the consumer's id. An entry is deleted (together with its
  ``taken`` node, atomically) only when its consumer is done, so an entry
  whose consumer dies is taken again by another one.

The queue nodes are persistent (kazoo expects them to stay); missing
ancestors are created as containers.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio

from .. import (
    ACL,
    ConnectionLossError,
    CreateMode,
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
    retry,
    wait_any,
    wait_connected_same_session,
)

if TYPE_CHECKING:
    from .. import Pending

__all__ = ["LockingQueue", "Queue"]


def _check_item(value: bytes, priority: int) -> None:
    if not isinstance(value, bytes):
        raise TypeError("a queue item must be bytes")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise TypeError("priority must be an int")
    if not 0 <= priority <= 999:
        raise ValueError("priority must be between 0 and 999")


async def _children_watch(zk: ZooKeeper, path: str) -> tuple[list[str], WatchEvents]:
    while True:
        try:
            result = await zk.with_watcher().get_children(path)
        except (ConnectionLossError, SessionExpiredError):
            await zk.wait_connected()
            continue
        return result


class Queue:
    """A distributed FIFO queue with priorities (kazoo ``Queue`` layout).

    An item is removed when it is taken (``delete`` decides which consumer
    gets it, so one item goes to one consumer). An item taken by a consumer
    that then dies is lost: use :class:`LockingQueue` when that matters. If
    the connection drops during that delete and the item is gone afterwards,
    the item is returned (another consumer's delete in that same instant
    would also return it: the outcome of a lost request is unknowable).

    As with kazoo, each consumer lists the queue once and takes the listed
    items in order (priority, then FIFO), listing again only when they are
    used up: an item put meanwhile, even with a lower priority, comes after
    them. Each take deletes one item and reads the next one's data in the
    same round trip.

    Example::

        queue = Queue(zk, "/queues/mail")
        await queue.put(b"hello", priority=10)
        item = await queue.get()           # waits for an item

    Args:
        zk: The client.
        path: The queue node.
        acl: The ACL of the nodes it creates; None for the client's default.
    """

    prefix = "entry-"

    def __init__(self, zk: ZooKeeper, path: str, *, acl: Sequence[ACL] | None = None) -> None:
        self._zk = zk
        self.path = check_path(path)
        self.acl = check_acl(acl)
        self._ensured = False
        # The items listed and not yet tried, in order, and the first one's
        # data when it was read ahead (name, data).
        self._listed: collections.deque[str] = collections.deque()
        self._ahead: tuple[str, bytes] | None = None

    async def _ensure(self) -> None:
        if not self._ensured:
            await ensure_node(self._zk, self.path, self.acl)
            self._ensured = True

    async def put(self, value: bytes, priority: int = 100) -> str:
        """Add an item; lower priorities are taken first.

        Args:
            value: The item.
            priority: 0 to 999.

        Returns:
            The entry's path.
        """
        _check_item(value, priority)
        await self._ensure()
        return await self._zk.create(
            join_path(self.path, f"{self.prefix}{priority:03d}-"),
            value,
            mode=CreateMode.PERSISTENT_SEQUENTIAL,
            acl=self.acl,
        )

    async def length(self) -> int:
        """How many items are queued.

        Returns:
            The number of entries.
        """
        await self._ensure()
        children = await retry(self._zk, self._zk.get_children, self.path)
        return sum(1 for c in children if c.startswith(self.prefix))

    def _list(self, children: list[str]) -> None:
        self._listed = collections.deque(sorted(c for c in children if c.startswith(self.prefix)))
        self._ahead = None

    async def _delete(self, path: str, sent: Pending[None] | None = None) -> bool:
        """Delete an item we read: True if our delete took it.

        ``sent`` is the delete already sent in a pipeline, if any.
        """
        zk = self._zk
        while True:
            try:
                if sent is not None:
                    pending, sent = sent, None
                    await pending
                else:
                    await zk.delete(path)
                return True
            except NoNodeError:
                return False
            except (ConnectionLossError, SessionExpiredError):
                await zk.wait_connected()
                if await retry(zk, zk.exists, path) is None:
                    return True  # outcome unknown; see the class docstring

    async def _take_listed(self) -> bytes | None:
        """Take the first listed item still there; None once the listing is used up."""
        zk = self._zk
        listed = self._listed
        while listed:
            name = listed.popleft()
            ahead, self._ahead = self._ahead, None
            path = join_path(self.path, name)
            if ahead is not None and ahead[0] == name:
                data = ahead[1]
            else:
                try:
                    data, _ = await retry(zk, zk.get_data, path)
                except NoNodeError:
                    continue  # taken by another consumer
            if not listed:
                taken = await self._delete(path)
            else:
                # Read the next item's data behind the delete: one round trip.
                following = listed[0]
                async with zk.pipeline() as pipe:
                    deleted = pipe.delete(path)
                    reading = pipe.get_data(join_path(self.path, following))
                    taken = await self._delete(path, deleted)
                    try:
                        read: tuple[bytes, Stat] | None = await reading
                    except Exception:  # taken by another consumer, or lost: read it later
                        read = None
                if read is not None and listed and listed[0] == following:
                    self._ahead = (following, read[0])
            if taken:
                return data
        return None

    async def get_nowait(self) -> bytes | None:
        """Take the first item if there is one.

        Returns:
            The item, or None if the queue is empty.
        """
        await self._ensure()
        value = await self._take_listed()
        if value is None:
            self._list(await retry(self._zk, self._zk.get_children, self.path))
            value = await self._take_listed()
        return value

    async def get(self) -> bytes:
        """Take the first item, waiting for one (bound it with ``trio.fail_after``).

        Returns:
            The item.
        """
        await self._ensure()
        while True:
            value = await self._take_listed()
            if value is not None:
                return value
            children, events = await _children_watch(self._zk, self.path)
            try:
                self._list(children)
                if not self._listed:
                    await wait_any(events)
            finally:
                events.close()


class LockingQueue:
    """A distributed queue whose items are consumed exactly once (kazoo ``LockingQueue`` layout).

    :meth:`get` locks an entry (an ephemeral ``taken`` node) and returns it;
    :meth:`consume` deletes the entry and its lock in one transaction, fenced
    by the lock node's version and our session; :meth:`release` gives it
    back. If the consumer dies, its session ends, the lock goes away and
    another consumer gets the entry. :meth:`take` wraps this in ``async with``.

    Example::

        queue = LockingQueue(zk, "/queues/jobs")
        await queue.put(b"job-1")
        async with queue.take() as job:     # consumed if the block succeeds,
            await process(job)              # released for others if it raises

    Args:
        zk: The client.
        path: The queue node.
        acl: The ACL of the nodes it creates; None for the client's default.
    """

    def __init__(self, zk: ZooKeeper, path: str, *, acl: Sequence[ACL] | None = None) -> None:
        self._zk = zk
        self.path = check_path(path)
        self.acl = check_acl(acl)
        self.id = new_guid().encode()
        self._entries = join_path(self.path, "entries")
        self._taken = join_path(self.path, "taken")
        self._ensured = False
        self._current: tuple[str, bytes, Stat] | None = None

    async def _ensure(self) -> None:
        if not self._ensured:
            await ensure_node(self._zk, self.path, self.acl)
            await ensure_node(self._zk, self._entries, self.acl)
            await ensure_node(self._zk, self._taken, self.acl)
            self._ensured = True

    async def put(self, value: bytes, priority: int = 100) -> str:
        """Add an entry; lower priorities are taken first.

        Args:
            value: The entry.
            priority: 0 to 999.

        Returns:
            The entry's path.
        """
        _check_item(value, priority)
        await self._ensure()
        return await self._zk.create(
            join_path(self._entries, f"entry-{priority:03d}-"),
            value,
            mode=CreateMode.PERSISTENT_SEQUENTIAL,
            acl=self.acl,
        )

    async def put_all(self, values: Sequence[bytes], priority: int = 100) -> None:
        """Add several entries atomically (all or none).

        Args:
            values: The entries.
            priority: 0 to 999, for all of them.
        """
        for value in values:
            _check_item(value, priority)
        await self._ensure()
        tx = self._zk.multi()
        for value in values:
            tx.create(
                join_path(self._entries, f"entry-{priority:03d}-"),
                value,
                mode=CreateMode.PERSISTENT_SEQUENTIAL,
                acl=self.acl,
            )
        await tx.run()

    async def length(self) -> int:
        """How many entries there are, locked ones included.

        Returns:
            The number of entries.
        """
        await self._ensure()
        return len(await retry(self._zk, self._zk.get_children, self._entries))

    async def _lock(self, name: str) -> Stat | None:
        zk = self._zk
        path = join_path(self._taken, name)
        while True:
            try:
                _, stat = await zk.create2(path, self.id, mode=CreateMode.EPHEMERAL, acl=self.acl)
                return stat
            except NodeExistsError:
                try:
                    data, stat = await retry(zk, zk.get_data, path)
                except NoNodeError:
                    continue
                # Ours only if our create was lost and applied on this session.
                if data == self.id and stat.ephemeral_owner == zk.session_id:
                    return stat
                return None
            except (ConnectionLossError, SessionExpiredError):
                await zk.wait_connected()

    async def _try_take(self, names: list[str], taken: list[str]) -> tuple[str, bytes] | None:
        zk = self._zk
        locked = set(taken)
        for name in sorted(names):
            if name in locked:
                continue
            stat = await self._lock(name)
            if stat is None:
                continue
            try:
                value, _ = await retry(zk, zk.get_data, join_path(self._entries, name))
            except NoNodeError:
                # Consumed by someone else meanwhile: drop our lock.
                await guaranteed_delete(zk, join_path(self._taken, name), stat.ephemeral_owner)
                continue
            except BaseException:
                await guaranteed_delete(zk, join_path(self._taken, name), stat.ephemeral_owner)
                raise
            self._current = (name, value, stat)
            return name, value
        return None

    async def get(self) -> bytes:
        """Lock the first free entry and return it, waiting for one.

        If the entry taken before was neither consumed nor released, it is
        returned again.

        Returns:
            The entry.
        """
        if self._current is not None:
            await trio.lowlevel.checkpoint()
            return self._current[1]
        await self._ensure()
        zk = self._zk
        while True:
            names, entry_events = await _children_watch(zk, self._entries)
            try:
                taken, taken_events = await _children_watch(zk, self._taken)
                try:
                    got = await self._try_take(names, taken)
                    if got is not None:
                        return got[1]
                    await wait_any(entry_events, taken_events)
                finally:
                    taken_events.close()
            finally:
                entry_events.close()

    async def holds_lock(self) -> bool:
        """Whether we still hold the lock on the entry being processed.

        Returns:
            True if the entry's ``taken`` node is ours.
        """
        if self._current is None:
            await trio.lowlevel.checkpoint()
            return False
        name, _, stat = self._current
        try:
            await retry(self._zk, self._zk.sync, self._taken)
            data, now = await retry(self._zk, self._zk.get_data, join_path(self._taken, name))
        except NoNodeError:
            return False
        return data == self.id and now.ephemeral_owner == stat.ephemeral_owner

    async def _finish(self, *, consume: bool) -> bool:
        if self._current is None:
            await trio.lowlevel.checkpoint()
            return False
        zk = self._zk
        name, _, stat = self._current
        taken = join_path(self._taken, name)
        try:
            while True:
                if zk.session_id != stat.ephemeral_owner:
                    return False  # our lock went with our session
                tx = zk.multi().check(taken, stat.version)
                if consume:
                    tx.delete(join_path(self._entries, name))
                tx.delete(taken)
                try:
                    await tx.run()
                    return True
                except ConnectionLossError:
                    if not await wait_connected_same_session(zk, stat.ephemeral_owner):
                        return False
                    # Same session: nobody else could remove our lock node.
                    if await retry(zk, zk.exists, taken) is None:
                        return True
                except ZooKeeperError:
                    return False
        finally:
            self._current = None

    async def consume(self) -> bool:
        """Delete the entry being processed (and its lock), atomically.

        Returns:
            True if it was consumed by us; False if we no longer held it.
        """
        return await self._finish(consume=True)

    async def release(self) -> bool:
        """Give the entry being processed back to the queue.

        Returns:
            True if our lock was removed; False if we no longer held it.
        """
        return await self._finish(consume=False)

    @asynccontextmanager
    async def take(self) -> AsyncIterator[bytes]:
        """Lock an entry for the block: consumed if the block succeeds, released if not.

        Yields:
            The entry.
        """
        value = await self.get()
        try:
            yield value
        except BaseException:
            with trio.CancelScope(shield=True):
                await self.release()
            raise
        await self.consume()
