"""Locks: :class:`Lock`, :class:`ReadLock`, :class:`WriteLock` and :class:`Semaphore`.

Lock directories are created as CONTAINER nodes (removed by the server once
empty). Node layout with ``layout=Layout.KAZOO`` (the default; the same as
kazoo 2.11, so the two exclude each other):

* a lock directory ``path`` holds one ephemeral sequential node per
  contender, ``<uuid4 hex>__lock__<10-digit sequence>`` for exclusive and
  write locks and ``<uuid4 hex>__rlock__<sequence>`` for read locks, whose
  data is the contender's identifier (UTF-8);
* a contender holds the lock when no node it must wait for has a lower
  sequence number; otherwise it watches only the nearest two such nodes
  (no herd effect: see :class:`_NearWatches`);
* a semaphore ``path`` stores ``str(max_leases)`` as its data and one
  ephemeral ``<uuid4 hex>`` child per lease holder (identifier as data);
  contenders for a lease first take the lock ``path + "-__lock__"``, so only
  the lock holder watches the lease count.

With ``layout=Layout.CURATOR`` (Apache Curator 5's recipes):

* ``Lock`` is an ``InterProcessMutex``: ``_c_<uuid>-lock-<sequence>``
  (protected mode), data = identifier (Curator's default is the host's IP
  address, used here when the identifier is empty); ordered by sequence;
* ``ReadLock``/``WriteLock`` are ``InterProcessReadWriteLock``:
  ``_c_<uuid>-__READ__<sequence>`` / ``_c_<uuid>-__WRIT__<sequence>``
  sharing one counter; a reader waits for writers queued before it, a writer
  for everyone queued before it;
* ``Semaphore`` is an ``InterProcessSemaphoreV2``: an internal mutex at
  ``path/locks`` and ``_c_<uuid>-lease-<sequence>`` nodes in
  ``path/leases``; the mutex holder creates its lease node, then waits until
  at most ``max_leases`` lease nodes exist. ``max_leases`` is not stored.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import ClassVar

import trio

from .. import (
    ACL,
    ConnectionLossError,
    CreateMode,
    EventType,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
    Stat,
    Transaction,
    WatchEvents,
    ZooKeeper,
    ZooKeeperError,
)
from ._common import (
    HoldGuard,
    Layout,
    LockLostError,
    LossPolicy,
    ManagedBlock,
    check_acl,
    check_path,
    cleanup_prefix,
    curator_prefix,
    deletion_next,
    ensure_parents,
    guaranteed_delete,
    held_scope,
    join_path,
    local_address,
    new_guid,
    no_auth,
    protected_create,
    retry,
    wait_any,
)

__all__ = ["Lock", "ReadLock", "Semaphore", "WriteLock"]

_CONTENDER = re.compile(r"(__lock__|__rlock__|lock-|__READ__|__WRIT__|latch-)(-?\d{10})$")
_LAYOUT_KINDS = {
    Layout.KAZOO: frozenset({"__lock__", "__rlock__"}),
    Layout.CURATOR: frozenset({"lock-", "__READ__", "__WRIT__", "latch-"}),
}


def _sequence(name: str) -> tuple[str, int] | None:
    match = _CONTENDER.search(name)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


async def _exists_watches(zk: ZooKeeper, *paths: str) -> list[tuple[Stat | None, WatchEvents]]:
    """Exists watches on several nodes, all requests in flight at once.

    Returns:
        ``(stat, events)`` per path, in order (``stat`` None: no such node;
        the watch then fires on its creation).

    Raises:
        The first error a request raised; no watch is left open then.
    """
    got: dict[str, tuple[Stat | None, WatchEvents] | Exception] = {}

    async def watch(path: str) -> None:
        try:
            got[path] = await zk.with_watcher().exists(path)
        except Exception as exc:
            got[path] = exc

    try:
        async with trio.open_nursery() as nursery:
            for path in paths:
                nursery.start_soon(watch, path)
        results: list[tuple[Stat | None, WatchEvents]] = []
        for path in paths:
            value = got[path]
            if isinstance(value, Exception):
                raise value
            results.append(value)
        return results
    except BaseException:
        for value in got.values():
            if not isinstance(value, Exception):
                value[1].close()
        raise


def _not_deleted(events: WatchEvents) -> bool:
    """True if no deletion (or other change, or end) is buffered on ``events``."""
    while True:
        try:
            event = events.receive_nowait()
        except trio.WouldBlock:
            return True
        except (trio.EndOfChannel, ZooKeeperError):
            return False
        if event.event_type is not EventType.NONE:
            return False


class _NearWatches:
    """The exists watches a waiting contender keeps on its nearest nodes.

    A waiter with one node below its own (its predecessor) watches it and
    its own node, and holds on the predecessor's deletion alone: sequence
    numbers only grow, so no lower node can appear, and the server notifies
    one session in the order of the changes, so a deletion of our own node
    before it would have been seen first.

    A waiter with more nodes below watches the nearest two and its own node,
    and lists the directory again when any of them changes. Commonly the
    lower of the two held the lock and left, the nearer one now holds, and
    we list while it holds: that listing finds it alone below us, and its
    watch and our own are kept (no request), so that its deletion later is
    enough to hold. The next holder then enters with no request between a
    release and its entry. A deletion wakes at most two waiters, never the
    herd.

    Channels are kept across listings while they have seen nothing; one that
    has seen an event (or ended) is closed, and its node watched again if
    still wanted.
    """

    __slots__ = ("_channels", "_zk")

    def __init__(self, zk: ZooKeeper) -> None:
        self._zk = zk
        self._channels: dict[str, WatchEvents] = {}

    async def watch(self, paths: list[str]) -> list[bool]:
        """Hold exists watches on exactly ``paths``.

        Returns:
            Per path, whether it existed when watched (a kept watch that has
            seen nothing counts as existing).
        """
        channels = self._channels
        for path in list(channels):
            if path not in paths or not _not_deleted(channels[path]):
                channels.pop(path).close()
        missing = [path for path in paths if path not in channels]
        existing = dict.fromkeys(paths, True)
        if missing:
            for path, (stat, events) in zip(
                missing, await _exists_watches(self._zk, *missing), strict=True
            ):
                channels[path] = events
                existing[path] = stat is not None
        return [existing[path] for path in paths]

    def intact(self, path: str) -> bool:
        """Whether the watch on ``path`` has seen no deletion, change or end so far."""
        return _not_deleted(self._channels[path])

    async def deleted(self, path: str, own: str) -> bool:
        """Wait for ``path``'s next node event: True if it was deleted and ``own`` is intact."""
        return await deletion_next(self._channels[path]) and self.intact(own)

    async def any_event(self) -> None:
        """Wait for the first node event (or end) on any watched node."""
        await wait_any(*self._channels.values())

    def close(self) -> None:
        for events in self._channels.values():
            events.close()
        self._channels.clear()


class _HeldBlock(ManagedBlock):
    """A hold's ``async with`` (locks, semaphores, leases, elections).

    The block acquires, runs the body in :func:`held_scope` (which cancels it
    when the hold is lost, per ``cancel_on``), releases however the body
    ends, and then raises the loss. Subclasses say how to acquire and
    release, which node stands for the hold and how the loss is named.
    """

    _ALREADY = "already held (not re-entrant)"
    _zk: ZooKeeper
    _session_id: int
    cancel_on: LossPolicy

    async def _acquire(self) -> None:
        raise NotImplementedError

    async def _release(self) -> None:
        raise NotImplementedError

    def _held_node(self) -> str | None:
        """Our node whose deletion means the hold is lost."""
        raise NotImplementedError

    def _held_what(self) -> str:
        """What is held, for messages (``lock /app/lock``)."""
        raise NotImplementedError

    def _lost_error(self, reason: str) -> ZooKeeperError:
        return LockLostError(reason)

    @asynccontextmanager
    async def _block(self) -> AsyncIterator[None]:
        await self._acquire()
        guard: HoldGuard | None = None
        try:
            # The release runs inside held_scope, before the monitor's
            # teardown is waited for: the delete goes out first (handoff
            # latency, one scheduler pass less per hold).
            async with held_scope(
                self._zk,
                session_id=self._session_id,
                policy=self.cancel_on,
                node=self._held_node(),
                what=self._held_what(),
                release=self._release,
            ) as guard:
                yield
        finally:
            if guard is None:
                await self._release()  # held_scope did not start: release here
        if guard is not None and guard.lost:
            assert guard.reason is not None
            raise self._lost_error(guard.reason)


class _Contender(_HeldBlock):
    """One contender node in a lock directory: acquire, release, hold.

    Subclasses set, per layout, the node name and the names they wait for.
    """

    _NAMES: ClassVar[dict[Layout, tuple[str, frozenset[str]]]] = {
        Layout.KAZOO: ("__lock__", frozenset({"__lock__", "__rlock__"})),
        Layout.CURATOR: ("lock-", frozenset({"lock-"})),
    }
    _WHAT: ClassVar[str] = "lock"

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        identifier: str = "",
        *,
        cancel_on: LossPolicy = LossPolicy.SUSPENDED,
        layout: Layout = Layout.KAZOO,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        self._zk = zk
        self.path = check_path(path)
        self.identifier = str(identifier)
        self.cancel_on = LossPolicy(cancel_on)
        self.layout = Layout(layout)
        self.acl = check_acl(acl)
        node_name, self._waits_for = self._NAMES[self.layout]
        if self.layout is Layout.CURATOR:
            self._data = (self.identifier or local_address()).encode("utf-8")
            self._prefix = curator_prefix() + node_name
        else:
            self._data = self.identifier.encode("utf-8")
            self._prefix = new_guid() + node_name
        self.node: str | None = None
        self.stat: Stat | None = None
        self._session_id = 0
        self._busy = False
        self._held = False

    # ------------------------------------------------------------ state
    @property
    def is_acquired(self) -> bool:
        """True between acquisition and release."""
        return self._held

    @property
    def fencing_token(self) -> int:
        """The czxid of our lock node, which grows with each successive holder.

        Raises:
            RuntimeError: The lock is not held.
        """
        if not self._held or self.stat is None:
            raise RuntimeError(f"the {self._WHAT} is not held")
        return self.stat.czxid

    def fenced(self) -> Transaction:
        """A transaction whose first operation checks that our lock node still exists.

        Add writes and ``await tx.run()``: they are applied atomically only if
        the lock node (with the version it had when acquired) is still there,
        so a write "under the lock" cannot land after the lock was lost.

        Returns:
            A :class:`~trio_zookeeper.Transaction` starting with ``check``.

        Raises:
            RuntimeError: The lock is not held.
        """
        if not self._held or self.node is None or self.stat is None:
            raise RuntimeError(f"the {self._WHAT} is not held")
        return self._zk.multi().check(self.node, self.stat.version)

    async def contenders(self) -> list[str]:
        """The identifiers of every contender, in queue order (holder(s) first).

        Returns:
            The identifiers (``""`` for contenders without one).
        """
        try:
            children = await retry(self._zk, self._zk.get_children, self.path)
        except NoNodeError:
            return []
        ranked: list[tuple[int, str]] = []
        kinds = _LAYOUT_KINDS[self.layout]
        for child in children:
            parsed = _sequence(child)
            if parsed is not None and parsed[0] in kinds:
                ranked.append((parsed[1], child))
        ranked.sort()
        out: list[str] = []
        for _, child in ranked:
            try:
                data, _ = await retry(self._zk, self._zk.get_data, join_path(self.path, child))
            except NoNodeError:
                continue
            out.append(data.decode("utf-8", "replace"))
        return out

    # ---------------------------------------------------------- machinery
    def _predecessor(self, name: str, children: list[str]) -> tuple[str | None, str | None]:
        """The node we wait for, and the next lower one.

        Returns:
            The nearest lower node of a kind we wait for (None: we hold),
            and the nearest below that one (None if it is the only one: once
            it is deleted we hold, since sequence numbers only grow and no
            lower node can appear).
        """
        mine = _sequence(name)
        assert mine is not None
        lower: list[tuple[int, str]] = []
        for child in children:
            parsed = _sequence(child)
            if parsed is None or parsed[0] not in self._waits_for or parsed[1] >= mine[1]:
                continue
            lower.append((parsed[1], child))
        if not lower:
            return None, None
        lower.sort()
        return lower[-1][1], lower[-2][1] if len(lower) > 1 else None

    async def _enqueue(self) -> list[str] | None:
        """Create our node, and list the directory in the same round trip.

        Returns:
            The listing, or None if it failed; it counts only if it holds
            our node (then it was made after our node was created).
        """
        zk = self._zk
        mode = CreateMode.EPHEMERAL_SEQUENTIAL
        async with zk.pipeline() as pipe:
            first = pipe.create2(
                join_path(self.path, self._prefix), self._data, mode=mode, acl=self.acl
            )
            listing = pipe.get_children(self.path)
            node, stat = await protected_create(
                zk,
                self.path,
                self._prefix,
                self._data,
                mode,
                acl=self.acl,
                persistent_parent=self.layout is Layout.KAZOO,
                first=first,
            )
            try:
                children: list[str] | None = await listing
            except Exception:  # e.g. no directory yet, or a lost connection: list again
                children = None
        self.node, self.stat = node, stat
        self._session_id = stat.ephemeral_owner
        return children

    async def _acquire(self) -> None:
        """Wait until we hold the lock; cancellable, and leaves no node behind if it fails."""
        if self._busy:
            raise RuntimeError(
                f"this {type(self).__name__} is already acquired or being acquired "
                "(locks are not re-entrant; make one object per holder)"
            )
        self._busy = True
        zk = self._zk
        watches = _NearWatches(zk)
        try:
            while True:
                children: list[str] | None = None
                if self.node is None or zk.session_id != self._session_id:
                    self.node = self.stat = None
                    if not zk.connected:
                        await zk.wait_connected()
                    children = await self._enqueue()
                assert self.node is not None
                name = self.node.rsplit("/", 1)[1]
                if children is None or name not in children:
                    children = await retry(zk, zk.get_children, self.path)
                if zk.session_id != self._session_id or name not in children:
                    # Our node went with an expired session: queue again.
                    self.node = None
                    continue
                predecessor, second = self._predecessor(name, children)
                if predecessor is None:
                    break
                nearest = join_path(self.path, predecessor)
                paths = [nearest, self.node]
                if second is not None:
                    paths.append(join_path(self.path, second))
                try:
                    existing = await watches.watch(paths)
                    if not existing[1]:
                        continue  # our own node is gone: the listing says so next
                    if second is not None:
                        if all(existing):
                            await watches.any_event()
                        continue  # look again
                    if existing[0]:
                        if not await watches.deleted(nearest, self.node):
                            continue
                    elif not watches.intact(self.node):
                        continue
                except (ConnectionLossError, SessionExpiredError):
                    await zk.wait_connected()
                    continue
                if zk.connected and zk.session_id == self._session_id:
                    # The only node we waited for is gone, and our own node
                    # was not deleted before it: we hold, with no second listing.
                    break
            self._held = True
        except NoAuthError as exc:
            await self._cleanup()
            raise no_auth(self.path, self._WHAT, self.acl, exc) from None
        except BaseException:
            await self._cleanup()
            raise
        finally:
            watches.close()

    async def _cleanup(self) -> None:
        node, session_id = self.node, self._session_id
        self.node = self.stat = None
        self._held = False
        self._busy = False
        if node is not None:
            await guaranteed_delete(self._zk, node, session_id)
        else:
            # A create may have been sent and applied: find it by our GUID.
            await cleanup_prefix(self._zk, self.path, self._prefix, self._zk.session_id)

    async def _release(self) -> None:
        """Delete our node (guaranteed, shielded)."""
        await self._cleanup()

    def _held_node(self) -> str | None:
        assert self.node is not None
        return self.node

    def _held_what(self) -> str:
        return f"{self._WHAT} {self.path}"


class Lock(_Contender):
    """An exclusive lock; kazoo's ``Lock`` on the same path excludes it and vice versa.

    ``async with`` waits for the lock (cancellably: a cancelled waiter leaves
    no node behind), runs the block while holding it, and releases it
    (a guaranteed delete, retried across connection losses). The block runs in
    a cancel scope that is cancelled when the lock may have been lost: when
    the connection is suspended (default) or, with
    ``cancel_on=LossPolicy.LOST``, only when the session is lost or the lock
    node deleted; the block then raises :class:`LockLostError`.

    Waiters watch only their two nearest predecessors (no herd). The lock is
    not re-entrant: one object per holder.

    Example::

        async with trio_zookeeper.open_zookeeper("127.0.0.1:2181") as zk:
            lock = Lock(zk, "/locks/report", identifier="worker-1")
            async with lock:
                # Writes that must not land after the lock is lost:
                await lock.fenced().set_data("/report", b"done").run()

    Args:
        zk: The client.
        path: The lock directory.
        identifier: Who we are, stored as the node's data (see
            :meth:`contenders`).
        cancel_on: When the body is cancelled (:class:`LossPolicy`).
        layout: :attr:`Layout.KAZOO` (kazoo's ``Lock``) or
            :attr:`Layout.CURATOR` (Curator's ``InterProcessMutex``).
        acl: The ACL of the nodes it creates (lock node, and the lock
            directory if missing); None for the client's default ACL.

    Raises:
        NoAuthError: (when acquiring) The ACL keeps this session from
            reading or creating in the lock directory.

    Attributes:
        path: The lock directory.
        identifier: Our identifier.
        layout: The node layout.
        acl: The ACL given (None: the client's default).
        node: Our contender node while acquiring or holding, else None.
        stat: Its Stat (``czxid`` is a fencing token).
    """


class WriteLock(_Contender):
    """The write side of a read/write lock (kazoo ``WriteLock`` compatible).

    Excludes every reader and writer that queued before it. Same behaviour and
    arguments as :class:`Lock` (in the kazoo layout, the same lock). With
    ``layout=Layout.CURATOR`` it is the write lock of Curator's
    ``InterProcessReadWriteLock`` (``__WRIT__`` nodes), which is not the
    same lock as Curator's ``InterProcessMutex``.

    Example::

        async with WriteLock(zk, "/locks/table", identifier="migrator"):
            await migrate()
    """

    _NAMES: ClassVar[dict[Layout, tuple[str, frozenset[str]]]] = {
        Layout.KAZOO: ("__lock__", frozenset({"__lock__", "__rlock__"})),
        Layout.CURATOR: ("__WRIT__", frozenset({"__READ__", "__WRIT__"})),
    }


class ReadLock(_Contender):
    """The read side of a read/write lock (kazoo ``ReadLock`` compatible).

    Many readers hold it together; it waits only for writers queued before it.
    Same behaviour and arguments as :class:`Lock`; with
    ``layout=Layout.CURATOR``, the read lock of Curator's
    ``InterProcessReadWriteLock`` (``__READ__`` nodes).

    Example::

        async with ReadLock(zk, "/locks/table", identifier="reporter"):
            rows = await read_table()
    """

    _NAMES: ClassVar[dict[Layout, tuple[str, frozenset[str]]]] = {
        Layout.KAZOO: ("__rlock__", frozenset({"__lock__"})),
        Layout.CURATOR: ("__READ__", frozenset({"__WRIT__"})),
    }


class _SemaphoreLock(_Contender):
    _NAMES: ClassVar[dict[Layout, tuple[str, frozenset[str]]]] = {
        Layout.KAZOO: ("__lock__", frozenset({"__lock__"})),
        Layout.CURATOR: ("lock-", frozenset({"lock-"})),
    }


class Semaphore(_HeldBlock):
    """A semaphore with ``max_leases`` concurrent holders (kazoo ``Semaphore`` compatible).

    ``async with`` waits for a lease (cancellably, leaving nothing behind),
    runs the block while holding it and gives it back. Loss is handled as for
    :class:`Lock`: the block is cancelled and :class:`LockLostError` raised.
    Only the contender at the head of the queue (the holder of the lock
    ``path + "-__lock__"``, or ``path/locks`` in the Curator layout) watches
    the leases, so there is no herd effect.

    With ``layout=Layout.CURATOR`` it is Curator's ``InterProcessSemaphoreV2``
    (leases in ``path/leases``), and Java and Python holders are counted
    together; ``max_leases`` is not stored there, so every user must pass
    the same value.

    Example::

        async with Semaphore(zk, "/sem/db", identifier="job-7", max_leases=3):
            await use_one_of_three_connections()

    Args:
        zk: The client.
        path: The semaphore node; in the kazoo layout its data holds
            ``max_leases``.
        identifier: Stored as our lease's data (see :meth:`lease_holders`);
            in the Curator layout the host's IP address when empty.
        max_leases: How many may hold a lease at once; every user of the
            path must agree (in the kazoo layout, checked against the node's
            data).
        cancel_on: When the body is cancelled (:class:`LossPolicy`).
        layout: :attr:`Layout.KAZOO` or :attr:`Layout.CURATOR`.
        acl: The ACL of the nodes it creates; None for the client's default.

    Raises:
        ValueError: ``max_leases`` < 1.
    """

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        identifier: str = "",
        max_leases: int = 1,
        *,
        cancel_on: LossPolicy = LossPolicy.SUSPENDED,
        layout: Layout = Layout.KAZOO,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        if isinstance(max_leases, bool) or not isinstance(max_leases, int) or max_leases < 1:
            raise ValueError(f"max_leases must be an int >= 1, not {max_leases!r}")
        self._zk = zk
        self.path = check_path(path)
        self.identifier = str(identifier)
        self.max_leases = max_leases
        self.cancel_on = LossPolicy(cancel_on)
        self.layout = Layout(layout)
        self.acl = check_acl(acl)
        if self.layout is Layout.CURATOR:
            self._data = (self.identifier or local_address()).encode("utf-8")
            self._leases = join_path(self.path, "leases")
            lock_path = join_path(self.path, "locks")
        else:
            self._data = self.identifier.encode("utf-8")
            self._leases = self.path
            lock_path = self.path + "-__lock__"
        self._lock = _SemaphoreLock(
            zk, lock_path, self.identifier, layout=self.layout, acl=self.acl
        )
        self.lease: str | None = None
        self._session_id = 0
        self._busy = False

    async def _ensure(self) -> None:
        """Kazoo layout: make the semaphore node, holding max_leases.

        A PERSISTENT node, as kazoo makes it: a kazoo ``Semaphore`` checks for
        it once and then relies on it, so a container (removed by the server
        once the last lease is gone) would fail kazoo peers that outlive us.
        """
        zk = self._zk
        data = str(self.max_leases).encode()
        while True:
            try:
                await zk.create(self.path, data, acl=self.acl)
                return
            except NodeExistsError:
                pass
            except NoNodeError:
                await ensure_parents(zk, self.path, self.acl)
                continue
            except ConnectionLossError:
                await zk.wait_connected()
            try:
                raw, stat = await retry(zk, zk.get_data, self.path)
            except NoNodeError:
                continue  # an emptied container, removed meanwhile
            break
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            with contextlib.suppress(ZooKeeperError):  # someone else set it: fine
                await zk.set_data(self.path, data, version=stat.version)
            return
        try:
            stored = int(text)
        except ValueError:
            return  # not ours to judge (kazoo ignores non-numeric data too)
        if stored != self.max_leases:
            raise ValueError(
                f"semaphore {self.path} has max_leases {stored}, not {self.max_leases}"
            )

    async def lease_holders(self) -> list[str]:
        """The identifiers of the current lease holders (unordered).

        In the Curator layout this includes the contender at the head of the
        queue, whose lease node exists while it waits (up to
        ``max_leases + 1`` nodes, as with Curator).

        Returns:
            The identifiers.
        """
        try:
            children = await retry(self._zk, self._zk.get_children, self._leases)
        except NoNodeError:
            return []
        out = []
        for child in children:
            try:
                data, _ = await retry(self._zk, self._zk.get_data, join_path(self._leases, child))
            except NoNodeError:
                continue
            out.append(data.decode("utf-8", "replace"))
        return out

    async def _acquire(self) -> None:
        if self._busy:
            raise RuntimeError("this Semaphore is already acquired or being acquired")
        self._busy = True
        zk = self._zk
        curator = self.layout is Layout.CURATOR
        name = curator_prefix() + "lease-" if curator else new_guid()
        try:
            try:
                if not curator:
                    await self._ensure()
                await self._lock._acquire()
                try:
                    if curator:
                        await self._take_curator(name)
                    else:
                        await self._take_kazoo(name)
                finally:
                    await self._lock._release()
            except NoAuthError as exc:
                raise no_auth(self.path, "semaphore", self.acl, exc) from None
        except BaseException:
            self.lease = None
            self._busy = False
            await cleanup_prefix(zk, self._leases, name, zk.session_id)
            raise

    async def _take_kazoo(self, name: str) -> None:
        zk = self._zk
        while True:
            try:
                result = await zk.with_watcher().get_children(self.path)
            except (ConnectionLossError, SessionExpiredError):
                await zk.wait_connected()
                continue
            except NoNodeError:
                await self._ensure()  # the emptied container was removed
                continue
            children, events = result
            try:
                if len(children) < self.max_leases or name in children:
                    try:
                        lease, stat = await protected_create(
                            zk, self.path, name, self._data, CreateMode.EPHEMERAL, acl=self.acl
                        )
                    except NodeExistsError:
                        # Our name, made by an expired session: take a new one.
                        name = new_guid()
                        continue
                    self.lease = lease
                    self._session_id = stat.ephemeral_owner
                    return
                async for event in events:
                    if event.event_type is not EventType.NONE:
                        break
            except ZooKeeperError as exc:
                if isinstance(exc, (ConnectionLossError, SessionExpiredError)):
                    await zk.wait_connected()
            finally:
                events.close()

    async def _take_curator(self, prefix: str) -> None:
        # InterProcessSemaphoreV2: create our lease node while holding the
        # mutex, then wait until at most max_leases lease nodes exist.
        zk = self._zk
        while True:
            if self.lease is None or zk.session_id != self._session_id:
                lease, stat = await protected_create(
                    zk,
                    self._leases,
                    prefix,
                    self._data,
                    CreateMode.EPHEMERAL_SEQUENTIAL,
                    acl=self.acl,
                )
                self.lease, self._session_id = lease, stat.ephemeral_owner
            name = self.lease.rsplit("/", 1)[1]
            try:
                children, events = await zk.with_watcher().get_children(self._leases)
            except (ConnectionLossError, SessionExpiredError):
                await zk.wait_connected()
                continue
            except NoNodeError:
                self.lease = None  # the directory, and so our node, is gone
                continue
            try:
                if name not in children:
                    self.lease = None  # gone (expired session, deleted): again, as Curator
                    continue
                if len(children) <= self.max_leases:
                    return
                await wait_any(events)
            finally:
                events.close()

    async def _release(self) -> None:
        lease, self.lease = self.lease, None
        self._busy = False
        if lease is not None:
            await guaranteed_delete(self._zk, lease, self._session_id)

    def _held_node(self) -> str | None:
        return self.lease

    def _held_what(self) -> str:
        return f"semaphore lease {self.path}"
