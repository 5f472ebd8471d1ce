"""An in-memory mirror of a subtree: :class:`TreeCache`.

Built on one persistent recursive watch (``addWatch``, ZooKeeper 3.6+) on
the root. Every node event makes the cache re-read that one node, so the
cache converges on the server's state whatever the order of events and
reads. The first load (and every re-read) walks the subtree with
:meth:`~trio_zookeeper.ZooKeeper.walk`, many nodes at once and with no depth
limit; a node whose ancestors the cache lacks is read with them in one
multi-read. Changes made while disconnected are not replayed by the server, so
after a reconnect (the SYNC_CONNECTED session event on the watch channel)
the whole subtree is re-read and diffed, after a random delay of up to
``resync_jitter`` seconds so that many caches do not re-read at once
(kazoo #664, CURATOR-441). After a session expiry the watch is set again and
the subtree re-read.
"""

from __future__ import annotations

import collections
import enum
import math
import random
from types import TracebackType
from typing import Self, cast

import attrs
import trio

from .. import (
    AddWatchMode,
    ConnectionLossError,
    EventType,
    KeeperState,
    NoNodeError,
    SessionExpiredError,
    Stat,
    WatchedEvent,
    WatchOverflowError,
    ZooKeeper,
    ZooKeeperError,
)
from ._common import background, check_path, join_path

__all__ = ["NodeData", "TreeCache", "TreeEvent", "TreeEventType"]


_READ_BATCH_BYTES = 256 * 1024  # path bytes per multi-read: well below jute.maxbuffer


def _batches(paths: list[str]) -> list[list[str]]:
    """``paths`` cut into runs small enough for one multi-read each."""
    batches: list[list[str]] = [[]]
    size = 0
    for path in paths:
        if batches[-1] and size + len(path) > _READ_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(path)
        size += len(path.encode("utf-8")) + 16
    return batches


class TreeEventType(enum.Enum):
    """What a :class:`TreeEvent` reports.

    Attributes:
        NODE_ADDED: A node appeared in the cache.
        NODE_UPDATED: A node's data (or Stat) changed.
        NODE_REMOVED: A node left the cache.
        INITIALIZED: The first full load is complete.
        CONNECTION_SUSPENDED: The connection was lost; the cache may be stale.
        CONNECTION_RECONNECTED: Connected again; a resync is scheduled.
        CONNECTION_LOST: The session expired; the cache re-reads everything.
        RESYNCED: A full re-read after a reconnect or expiry completed.
    """

    NODE_ADDED = "node_added"
    NODE_UPDATED = "node_updated"
    NODE_REMOVED = "node_removed"
    INITIALIZED = "initialized"
    CONNECTION_SUSPENDED = "connection_suspended"
    CONNECTION_RECONNECTED = "connection_reconnected"
    CONNECTION_LOST = "connection_lost"
    RESYNCED = "resynced"


@attrs.frozen
class NodeData:
    """A cached node.

    Attributes:
        path: The node's path.
        data: Its data.
        stat: Its Stat when read.
    """

    path: str
    data: bytes
    stat: Stat


@attrs.frozen
class TreeEvent:
    """A change of the cache.

    Attributes:
        type: What happened.
        path: The node concerned (None for connection events).
        node: The node's new value (its old one for NODE_REMOVED), or None.
    """

    type: TreeEventType
    path: str | None = None
    node: NodeData | None = None


class TreeCache:
    """An in-memory mirror of the subtree at ``path``, with a stream of its changes.

    Entering the block loads the subtree (waiting for it); the cache then
    follows every change until the block exits. Iterate the cache for
    :class:`TreeEvent` s: one NODE_ADDED per node of the first load, then
    INITIALIZED, then changes.

    Example::

        async with TreeCache(zk, "/config") as cache:
            print(cache.get_data("/config/db"))
            async for event in cache:
                print(event.type, event.path)

    Args:
        zk: The client.
        path: The root of the subtree (it may not exist yet).
        resync_jitter: Upper bound of the random delay, in seconds, before
            re-reading the subtree after a reconnect.
        max_events: How many undelivered events are kept; beyond that the
            iterator raises :class:`~trio_zookeeper.WatchOverflowError`
            (the cache itself stays correct).
        rng: The random generator for the jitter (a test seam).

    Attributes:
        resyncs: How many full re-reads were done after the first load.
    """

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        *,
        resync_jitter: float = 1.0,
        max_events: int = 10_000,
        rng: random.Random | None = None,
    ) -> None:
        if path != "/":
            check_path(path)
        if not (resync_jitter >= 0 and math.isfinite(resync_jitter)):
            raise ValueError("resync_jitter must be a finite number >= 0")
        self._zk = zk
        self.path = path
        self.resync_jitter = resync_jitter
        self._rng = rng or random.Random()
        self._nodes: dict[str, NodeData] = {}
        self._children: dict[str, set[str]] = {}
        self._events: collections.deque[TreeEvent] = collections.deque()
        self._max_events = max_events
        self._overflowed = False
        self._lot = trio.lowlevel.ParkingLot()
        self._open = False
        self.resyncs = 0
        self._cm: object = None

    # ------------------------------------------------------------ reading
    def get_data(self, path: str) -> NodeData | None:
        """The cached node at ``path``, or None.

        Args:
            path: A path in the subtree.

        Returns:
            The node's data and Stat as last seen.
        """
        return self._nodes.get(path)

    def get_children(self, path: str) -> list[str] | None:
        """The cached children names of ``path`` (sorted), or None if it is not cached.

        Args:
            path: A path in the subtree.

        Returns:
            The names.
        """
        if path not in self._nodes:
            return None
        return sorted(self._children.get(path, ()))

    def paths(self) -> list[str]:
        """Every cached path, sorted.

        Returns:
            The paths.
        """
        return sorted(self._nodes)

    # ------------------------------------------------------------ events
    def _emit(self, event: TreeEvent) -> None:
        if len(self._events) >= self._max_events:
            self._overflowed = True
            return
        self._events.append(event)
        self._lot.unpark_all()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> TreeEvent:
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._events:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return self._events.popleft()
            if self._overflowed:
                self._overflowed = False
                raise WatchOverflowError(
                    f"tree cache {self.path}: more than {self._max_events} undelivered events; "
                    "later events were dropped (the cache itself is up to date)"
                )
            if not self._open:
                raise StopAsyncIteration
            await self._lot.park()

    # ------------------------------------------------------------ machinery
    def _parent(self, path: str) -> str | None:
        if path == self.path:
            return None
        return path.rsplit("/", 1)[0] or "/"

    def _put(self, path: str, data: bytes, stat: Stat) -> None:
        old = self._nodes.get(path)
        if old is not None and old.stat.czxid == stat.czxid and old.stat.mzxid >= stat.mzxid:
            if old.stat == stat:
                return
            if old.stat.mzxid > stat.mzxid:
                return  # an older read: keep the newer value
        node = NodeData(path, data, stat)
        self._nodes[path] = node
        self._children.setdefault(path, set())
        parent = self._parent(path)
        if parent is not None:
            self._children.setdefault(parent, set()).add(path.rsplit("/", 1)[1])
        kind = TreeEventType.NODE_ADDED if old is None else TreeEventType.NODE_UPDATED
        self._emit(TreeEvent(kind, path, node))

    def _remove(self, path: str) -> None:
        """Drop ``path`` and its cached descendants (children before their parents)."""
        if path not in self._nodes:
            return
        # Iterative (any depth): collect the subtree in pre-order, drop it reversed.
        order: list[str] = []
        stack = [path]
        while stack:
            item = stack.pop()
            order.append(item)
            stack.extend(join_path(item, child) for child in self._children.get(item, ()))
        for item in reversed(order):
            node = self._nodes.pop(item)
            self._children.pop(item, None)
            parent = self._parent(item)
            if parent is not None and parent in self._children:
                self._children[parent].discard(item.rsplit("/", 1)[1])
            self._emit(TreeEvent(TreeEventType.NODE_REMOVED, item, node))

    async def _refresh(self, path: str) -> None:
        """Re-read ``path``, and first those of its ancestors the cache lacks."""
        # The node and its uncached ancestors (up to the cache's root), the
        # highest first, read together in few round trips (no recursion).
        missing = [path]
        parent = self._parent(path)
        while parent is not None and parent not in self._nodes:
            missing.append(parent)
            parent = self._parent(parent)
        missing.reverse()
        if len(missing) == 1:
            try:
                read: list[object] = [await self._zk.get_data(path)]
            except NoNodeError as exc:
                read = [exc]
        else:
            read = []
            for batch in _batches(missing):
                transaction = self._zk.multi_read()
                for item in batch:
                    transaction.get_data(item)
                read.extend(await transaction.run())
        for item, result in zip(missing, read, strict=True):
            if isinstance(result, NoNodeError):
                # Gone: so is everything below it (an ancestor was never cached).
                self._remove(item)
                return
            if isinstance(result, BaseException):
                raise result
            data, stat = cast(tuple[bytes, Stat], result)
            self._put(item, data, stat)

    async def _full_sync(self) -> None:
        snapshot: dict[str, tuple[bytes, Stat]] = {}
        try:
            # Iterative and pipelined: a subtree of any depth and width.
            async with self._zk.walk(self.path, data=True) as nodes:
                async for node in nodes:
                    snapshot[node.path] = (node.data or b"", node.stat)
        except NoNodeError:
            pass  # the root does not exist (yet): the cache is empty
        for path, (data, stat) in snapshot.items():
            self._put(path, data, stat)
        for path in sorted(set(self._nodes) - set(snapshot), key=len, reverse=True):
            self._remove(path)

    async def _run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        zk = self._zk
        started = False
        while True:
            try:
                async with zk.add_watch(self.path, AddWatchMode.PERSISTENT_RECURSIVE) as events:
                    await self._full_sync()
                    if not started:
                        started = True
                        self._emit(TreeEvent(TreeEventType.INITIALIZED))
                        task_status.started()
                    else:
                        self.resyncs += 1
                        self._emit(TreeEvent(TreeEventType.RESYNCED))
                    resync_at = math.inf
                    while True:
                        event: WatchedEvent | None = None
                        with trio.move_on_at(resync_at):
                            event = await events.receive()
                        if event is None:
                            resync_at = math.inf
                            await self._full_sync()
                            self.resyncs += 1
                            self._emit(TreeEvent(TreeEventType.RESYNCED))
                            continue
                        if event.event_type is EventType.NONE:
                            state = event.keeper_state
                            if state is KeeperState.DISCONNECTED:
                                self._emit(TreeEvent(TreeEventType.CONNECTION_SUSPENDED))
                            elif state is KeeperState.SYNC_CONNECTED:
                                self._emit(TreeEvent(TreeEventType.CONNECTION_RECONNECTED))
                                delay = self._rng.uniform(0.0, self.resync_jitter)
                                resync_at = min(resync_at, trio.current_time() + delay)
                            elif state is KeeperState.EXPIRED:
                                self._emit(TreeEvent(TreeEventType.CONNECTION_LOST))
                            continue
                        if event.path is not None:
                            await self._refresh(event.path)
            except (trio.EndOfChannel, WatchOverflowError):
                pass  # session ended or we fell behind: watch again, re-read all
            except (ConnectionLossError, SessionExpiredError):
                pass
            except trio.ClosedResourceError:
                return
            except ZooKeeperError:
                if zk.state is KeeperState.CLOSED:
                    return
                raise
            if zk.state is KeeperState.CLOSED:
                return
            await zk.wait_connected()

    async def __aenter__(self) -> Self:
        self._open = True
        cm = background(self._run, what="tree cache")
        try:
            await cm.__aenter__()
        except BaseException:
            self._open = False
            raise
        self._cm = cm
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        cm, self._cm = self._cm, None
        self._open = False
        self._lot.unpark_all()
        assert cm is not None
        result: bool | None = await cm.__aexit__(exc_type, exc, tb)  # type: ignore[attr-defined]
        return result
