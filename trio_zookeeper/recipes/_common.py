"""Building blocks shared by the recipes.

* :func:`retry` re-runs an idempotent operation after a connection loss;
* :func:`protected_create` creates a node whose name starts with a GUID, so
  that after a :class:`~trio_zookeeper.ConnectionLossError` it can be found
  again by listing the parent (Curator's ``withProtection``, kazoo's lock
  prefix; docs/reliability.rst, promise 34);
* :func:`guaranteed_delete` deletes one of our own ephemeral nodes, retrying
  across connection losses until it is gone or its session is (promise 35);
* :func:`held_scope` runs the body of a ``lock``/``leadership`` block in a
  cancel scope that a monitor task cancels when the hold is lost (promise 36);
* :func:`ensure_container` / :func:`ensure_parents` create recipe
  directories as CONTAINER nodes (Curator's
  ``creatingParentContainersIfNeeded``), which the server removes once empty;
* :class:`Layout` chooses kazoo's or Apache Curator's node names, and
  :func:`curator_prefix` makes Curator's protected-mode ``_c_<uuid>-`` prefix;
* :func:`protected_create` creates a recipe's node exactly once, across
  connection losses; its first attempt may come from the caller's
  :meth:`~trio_zookeeper.ZooKeeper.pipeline`, so that a listing follows it
  in the same round trip.

Everything here uses only the public client API.
"""

from __future__ import annotations

import enum
import functools
import socket
import types
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import trio

from .. import (
    ACL,
    AuthFailedError,
    ConnectionLossError,
    CreateMode,
    EventType,
    KeeperState,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
    Stat,
    UnimplementedError,
    WatchEvents,
    ZooKeeper,
    ZooKeeperError,
    ZooKeeperInternalError,
)

if TYPE_CHECKING:
    from .. import Pending

__all__ = [
    "BackgroundBlock",
    "Layout",
    "LeadershipLostError",
    "LockLostError",
    "LossPolicy",
    "ManagedBlock",
    "after_first_step",
    "background",
    "check_acl",
    "check_path",
    "cleanup_prefix",
    "create_container",
    "curator_prefix",
    "deletion_next",
    "ensure_container",
    "ensure_node",
    "ensure_parents",
    "guaranteed_delete",
    "held_scope",
    "join_path",
    "local_address",
    "new_guid",
    "no_auth",
    "protected_create",
    "retry",
    "wait_any",
    "wait_connected_same_session",
    "wait_for_node_change",
    "watch_node_gone",
]

T = TypeVar("T")

_TERMINAL = (SessionExpiredError, AuthFailedError, trio.ClosedResourceError)


class LockLostError(ZooKeeperError):
    """A lock, read/write lock or semaphore lease was lost while its block ran.

    Raised by the ``async with`` block of a lock after its body was cancelled
    because the session was suspended (or, with ``LossPolicy.LOST``, lost) or
    because the lock node disappeared.

    Attributes:
        reason: What happened, in words.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LeadershipLostError(ZooKeeperError):
    """Leadership was lost while the leader's code ran (see :class:`LockLostError`).

    Attributes:
        reason: What happened, in words.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LossPolicy(enum.Enum):
    """When a held lock or leadership counts as lost.

    Attributes:
        SUSPENDED: As soon as the connection is lost (the session may
            survive, but another client may already hold the lock if it does
            not): the safe default, Curator's "standard" policy.
        LOST: Only when the session is gone (expired, closed) or the node was
            deleted; the body keeps running through a short disconnection.
    """

    SUSPENDED = "suspended"
    LOST = "lost"


class Layout(enum.Enum):
    """Whose node names and data a recipe uses on its path.

    A path is used by one layout: a kazoo-layout lock and a Curator-layout
    lock on the same path do not exclude each other.

    Attributes:
        KAZOO: kazoo 2.11's layout (``<uuid hex>__lock__<sequence>``...),
            the default.
        CURATOR: Apache Curator 5's layout (protected-mode
            ``_c_<uuid>-lock-<sequence>``, ``__READ__``/``__WRIT__``,
            ``locks``/``leases`` for the semaphore), so that Java services
            using Curator's ``InterProcessMutex``, ``InterProcessReadWriteLock``,
            ``InterProcessSemaphoreV2`` and ``LeaderSelector`` take part.
    """

    KAZOO = "kazoo"
    CURATOR = "curator"


def curator_prefix() -> str:
    """Curator's protected-mode name prefix, ``_c_<uuid4 with dashes>-``."""
    return f"_c_{uuid.uuid4()}-"


@functools.cache
def local_address() -> str:
    """This host's IP address, Curator's default lock node data (``127.0.0.1`` if unknown).

    Found without a name lookup (which could block): the source address the
    kernel picks for an outgoing UDP socket; nothing is sent.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, no packet
            address: str = probe.getsockname()[0]
            return address
    except OSError:
        return "127.0.0.1"


def check_acl(acl: Sequence[ACL] | None) -> tuple[ACL, ...] | None:
    """Check a recipe's ``acl=`` argument: None (the client's default) or ACL entries.

    Raises:
        TypeError: Not a sequence of :class:`~trio_zookeeper.ACL`.
        ValueError: An empty sequence.
    """
    if acl is None:
        return None
    seq: object = acl
    if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
        raise TypeError(f"acl must be a sequence of ACL entries or None, not {acl!r}")
    entries = tuple(acl)
    if not entries:
        raise ValueError("acl must not be empty (None means the client's default ACL)")
    for entry in entries:
        if not isinstance(entry, ACL):
            raise TypeError(f"acl entries must be trio_zookeeper.ACL, not {entry!r}")
    return entries


def no_auth(path: str, what: str, acl: Sequence[ACL] | None, exc: NoAuthError) -> NoAuthError:
    """A :class:`~trio_zookeeper.NoAuthError` that names the path and the ACL problem."""
    given = "the client's default ACL" if acl is None else f"acl={list(acl)!r}"
    error = NoAuthError(
        f"{what} {path}: this session is not allowed to use the nodes it works with "
        f"(created with {given}); give the session's own identity READ, WRITE, CREATE "
        "and DELETE in the ACL, or authenticate first"
    )
    error.__cause__ = exc
    return error


# Clients whose server refused a CONTAINER create (older than 3.5.3): use PERSISTENT.
_NO_CONTAINERS: weakref.WeakSet[ZooKeeper] = weakref.WeakSet()


async def create_container(
    zk: ZooKeeper, path: str, data: bytes = b"", acl: Sequence[ACL] | None = None
) -> None:
    """Create ``path`` as a CONTAINER node (PERSISTENT on a server without containers).

    Raises:
        NodeExistsError: It exists.
        NoNodeError: Its parent does not.
    """
    if zk not in _NO_CONTAINERS:
        try:
            await zk.create(path, data, mode=CreateMode.CONTAINER, acl=acl)
            return
        except UnimplementedError:
            _NO_CONTAINERS.add(zk)
    await zk.create(path, data, mode=CreateMode.PERSISTENT, acl=acl)


async def ensure_container(zk: ZooKeeper, path: str, acl: Sequence[ACL] | None = None) -> None:
    """Create ``path`` and its missing ancestors as CONTAINER nodes (``mkdir -p``).

    The server deletes a container once its last child is gone, so recipe
    directories do not pile up (Curator's ``creatingParentContainersIfNeeded``).
    A server without containers gets PERSISTENT nodes instead. Existing nodes
    are left alone. Retries across connection losses.

    Args:
        zk: The client.
        path: The directory.
        acl: Their ACL; None for the client's default.
    """
    if path == "/":
        await trio.lowlevel.checkpoint()
        return
    if await retry(zk, zk.exists, path) is not None:
        return
    parts = path.strip("/").split("/")
    i = 1  # iterative, so any depth is fine
    while i <= len(parts):
        node = "/" + "/".join(parts[:i])
        try:
            await create_container(zk, node, b"", acl)
        except NodeExistsError:
            pass
        except NoNodeError:
            # A container ancestor was removed under us: start over from the top.
            i = 1
            continue
        except (ConnectionLossError, SessionExpiredError):
            await zk.wait_connected()
            continue
        i += 1


async def ensure_parents(zk: ZooKeeper, path: str, acl: Sequence[ACL] | None = None) -> None:
    """Create the missing ancestors of ``path`` (not ``path``) as containers.

    See :func:`ensure_container`.
    """
    await ensure_container(zk, path.rsplit("/", 1)[0] or "/", acl)


async def ensure_node(zk: ZooKeeper, path: str, acl: Sequence[ACL] | None = None) -> None:
    """Create ``path`` as a PERSISTENT node if missing, its missing ancestors as containers.

    For nodes that must outlive being empty (a queue, a barrier, a counter),
    which kazoo clients expect to keep existing.
    """
    while True:
        if await retry(zk, zk.exists, path) is not None:
            return
        try:
            await zk.create(path, b"", acl=acl)
            return
        except NodeExistsError:
            return
        except NoNodeError:
            await ensure_parents(zk, path, acl)
        except (ConnectionLossError, SessionExpiredError):
            await zk.wait_connected()


def new_guid() -> str:
    """A fresh 32-hex-digit GUID (uuid4), as kazoo and Curator use in node names."""
    return uuid.uuid4().hex


def check_path(path: str) -> str:
    """Check that ``path`` is an absolute node path (not ``/``), and return it.

    Raises:
        TypeError: Not a string.
        ValueError: Not absolute, the root, or ending with ``/``.
    """
    if not isinstance(path, str):
        raise TypeError(f"a recipe path must be a str, not {type(path).__name__}")
    if not path.startswith("/") or path == "/" or path.endswith("/") or "//" in path:
        raise ValueError(f"invalid recipe path {path!r}: use an absolute path like '/locks/x'")
    return path


def join_path(parent: str, name: str) -> str:
    """``parent`` + ``/`` + ``name``, for any parent including ``/``."""
    return f"{parent.rstrip('/')}/{name}"


async def retry(zk: ZooKeeper, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run an *idempotent* operation, again after each connection loss or expiry.

    Args:
        zk: The client.
        fn: The operation, e.g. ``zk.get_children``.
        *args: Its positional arguments.
        **kwargs: Its keyword arguments.

    Returns:
        What ``fn`` returned.

    Raises:
        SessionExpiredError: The session expired and the client does not
            start a new one.
        trio.ClosedResourceError: The client was closed.
    """
    while True:
        try:
            return await fn(*args, **kwargs)
        except (ConnectionLossError, SessionExpiredError):
            await zk.wait_connected()


async def wait_connected_same_session(zk: ZooKeeper, session_id: int) -> bool:
    """Wait until ``zk`` is connected again on session ``session_id``.

    Returns:
        True once connected on that session; False as soon as that session is
        gone (expired, closed, authentication failed): never waits for a new
        session, so it is bounded by the session timeout even when no server
        is reachable (the client then suspects expiry).
    """
    async with zk.session_states() as states:
        while True:
            if zk.session_id != session_id or zk.state in (
                KeeperState.CLOSED,
                KeeperState.AUTH_FAILED,
                KeeperState.EXPIRED,
            ):
                return False
            if zk.connected:
                return True
            try:
                await states.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                return False


def _cleanup_scope(zk: ZooKeeper) -> trio.CancelScope:
    """A shielded scope for cleanup, bounded by twice the session timeout.

    Within that time the node is deleted, or the session is reported gone
    (which removes the node). The bound only matters when the client can no
    longer make progress at all, e.g. when the scope enclosing
    ``open_zookeeper`` was cancelled and its background tasks are gone; the
    session then ends and the server removes the node at expiry.
    """
    return trio.move_on_after(2 * zk.session_timeout + 1.0, shield=True)


async def guaranteed_delete(zk: ZooKeeper, path: str, session_id: int) -> None:
    """Delete our ephemeral node ``path`` of session ``session_id``, whatever it takes.

    Shielded from cancellation. A connection loss is followed by a wait for
    the same session to reconnect and another try; the loop ends when the
    node is gone or when its session is (which removes it anyway). This is
    bounded by the session timeout: past it the client reports the session
    expired.
    """
    with _cleanup_scope(zk):
        while True:
            if zk.session_id != session_id:
                return
            try:
                await zk.delete(path)
                return
            except (NoNodeError, NoAuthError):
                return  # gone, or not ours to delete (the ACL): it goes with the session
            except _TERMINAL:
                return
            except ConnectionLossError:
                if not await wait_connected_same_session(zk, session_id):
                    return


async def cleanup_prefix(zk: ZooKeeper, parent: str, prefix: str, session_id: int) -> None:
    """Delete every child of ``parent`` whose name starts with ``prefix`` (our GUID).

    Used when a create may or may not have been applied (cancelled or lost
    after it was sent). Shielded and bounded like :func:`guaranteed_delete`.
    """
    with _cleanup_scope(zk):
        while True:
            if zk.session_id != session_id:
                return
            try:
                children = await zk.get_children(parent)
            except (NoNodeError, NoAuthError):
                return  # NoAuth: unreadable (the ACL); our node goes with the session
            except _TERMINAL:
                return
            except ConnectionLossError:
                if not await wait_connected_same_session(zk, session_id):
                    return
                continue
            for child in children:
                if child.startswith(prefix):
                    await guaranteed_delete(zk, join_path(parent, child), session_id)
            return


async def _find_child(zk: ZooKeeper, parent: str, prefix: str) -> str | None:
    # A sync first, so that a create sent on the lost connection and applied
    # by the ensemble is visible to the server answering now.
    try:
        await retry(zk, zk.sync, parent)
        children = await retry(zk, zk.get_children, parent)
    except NoNodeError:
        return None
    for child in children:
        if child.startswith(prefix):
            return join_path(parent, child)
    return None


async def protected_create(
    zk: ZooKeeper,
    parent: str,
    prefix: str,
    data: bytes,
    mode: CreateMode,
    *,
    acl: Sequence[ACL] | None = None,
    ttl: int | None = None,
    persistent_parent: bool = False,
    first: Pending[tuple[str, Stat]] | None = None,
) -> tuple[str, Stat]:
    """Create ``parent/prefix`` (plus a sequence number for sequential modes), exactly once.

    ``prefix`` must start with a GUID of the caller. After a connection loss
    (outcome unknown) the parent's children are listed for that prefix: the
    node is adopted if the lost create was applied, and created otherwise; a
    second node is never made. Missing parents are created as containers
    (:func:`ensure_container`) with the same ACL; with ``persistent_parent``,
    ``parent`` itself is made PERSISTENT (:func:`ensure_node`), as kazoo makes
    its recipe directories: a kazoo object checks its directory once and then
    relies on it, so a container the server removed would fail it.

    Args:
        zk: The client.
        parent: The parent node.
        prefix: The node name, or its start for sequential modes.
        data: The node's data.
        mode: The create mode.
        acl: The node's (and new parents') ACL; None for the client's default.
        ttl: For the TTL modes, milliseconds.
        persistent_parent: Make a missing ``parent`` PERSISTENT, not a container.
        first: The first create, already sent in the caller's pipeline
            (``pipe.create2(join_path(parent, prefix), data, mode=mode,
            ttl=ttl, acl=acl)``), so that requests can follow it in the same
            round trip; its outcome is handled as this function's own.

    Returns:
        The node's path and its Stat.

    Raises:
        SessionExpiredError: The session expired and the client does not
            start a new one.
        trio.ClosedResourceError: The client was closed.
    """
    path = join_path(parent, prefix)
    sequential = CreateMode(mode).is_sequential
    maybe_created = False
    while True:
        if maybe_created:
            found = await _find_child(zk, parent, prefix)
            if found is not None and (sequential or found == path):
                stat = await retry(zk, zk.exists, found)
                if stat is not None:
                    return found, stat
            maybe_created = False
        try:
            if first is not None:
                sent, first = first, None
                return await sent
            return await zk.create2(path, data, mode=mode, ttl=ttl, acl=acl)
        except ConnectionLossError:
            maybe_created = True
            await zk.wait_connected()
        except SessionExpiredError:
            await zk.wait_connected()
        except NoNodeError:
            await (ensure_node if persistent_parent else ensure_container)(zk, parent, acl)
        except NodeExistsError:
            # Only for a non-sequential name, which holds our GUID: a create
            # of ours whose reply was lost. Adopt it unless it is an ephemeral
            # node of an older session of ours (not yet expired on the server).
            stat = await retry(zk, zk.exists, path)
            if stat is None:
                continue
            if not _is_ephemeral(mode) or stat.ephemeral_owner == zk.session_id:
                return path, stat
            raise


def _is_ephemeral(mode: CreateMode) -> bool:
    return CreateMode(mode).is_ephemeral


async def watch_node_gone(zk: ZooKeeper, path: str) -> str:
    """Return when ``path`` is deleted; used by the hold monitors.

    Returns:
        Why the wait ended: the node was deleted, or the session ended.
    """
    while True:
        try:
            try:
                result = await zk.with_watcher().exists(path)
            except ConnectionLossError:
                await zk.wait_connected()
                continue
        except _TERMINAL as exc:
            return f"the session ended ({exc!r})"
        stat, events = result
        try:
            if stat is None:
                return f"node {path} was deleted"
            async for event in events:
                if event.event_type is EventType.NODE_DELETED:
                    return f"node {path} was deleted"
                if event.event_type is not EventType.NONE:
                    break  # data changed: watch again
        except ZooKeeperError:
            pass  # overflow: watch again
        finally:
            events.close()


class HoldGuard:
    """What the monitor of a hold records when the hold is lost (internal)."""

    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.reason: str | None = None
        # Set when the body has ended: a monitor that had not started yet
        # then returns at once (a short body costs no watch, no channel).
        self.ended = False
        # What made the monitor fail, if it did (raised after the body).
        self.failure: Exception | None = None
        # One cancel scope per running watcher task of the monitor (see stop).
        self.watchers: list[trio.CancelScope] = []

    def stop(self, monitor_scope: trio.CancelScope) -> None:
        """Stop the monitor once the body has ended.

        Each running watcher is cancelled through its own scope, so it ends
        normally and the monitor's nursery closes without collecting
        ``Cancelled`` exceptions into an exception group (building and
        filtering that group was about a third of the teardown's cost). A
        monitor that has no watcher running yet is cancelled as a whole; its
        watchers see ``ended`` when they start and return at once.
        """
        self.ended = True
        if self.watchers:
            for scope in self.watchers:
                scope.cancel()
        else:
            monitor_scope.cancel()

    def lose(self, reason: str) -> None:
        """Record the first reason and cancel the body."""
        if self.reason is None:
            self.reason = reason
        self.scope.cancel()

    @property
    def lost(self) -> bool:
        """True if the body was cancelled because the hold was lost."""
        return self.reason is not None and self.failure is None and self.scope.cancelled_caught


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            out += _leaves(exc)
        else:
            out.append(exc)
    return out


async def _watch_states(
    zk: ZooKeeper, guard: HoldGuard, session_id: int, policy: LossPolicy, what: str
) -> None:
    """Cancel ``guard``'s body when the session is lost, or suspended (per ``policy``)."""

    def bad(state: KeeperState) -> str | None:
        if zk.session_id != session_id or state in (
            KeeperState.EXPIRED,
            KeeperState.CLOSED,
            KeeperState.AUTH_FAILED,
        ):
            return f"{what} was lost: the session ended ({state.name})"
        if policy is LossPolicy.SUSPENDED and state is not KeeperState.SYNC_CONNECTED:
            return f"{what} may have been lost: the connection was suspended ({state.name})"
        return None

    async with zk.session_states() as states:
        reason = bad(zk.state)
        while reason is None:
            try:
                state = await states.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                reason = f"{what} was lost: the client was closed"
            else:
                reason = bad(state)
        guard.lose(reason)


async def _watch_node(zk: ZooKeeper, guard: HoldGuard, node: str, what: str) -> None:
    """Cancel ``guard``'s body when ``node`` is deleted."""
    why = await watch_node_gone(zk, node)
    guard.lose(f"{what} was lost: {why}")


async def _watcher(guard: HoldGuard, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
    """Run one watcher of a hold in its own cancel scope (see :meth:`HoldGuard.stop`)."""
    if guard.ended:
        return
    scope = trio.CancelScope()
    guard.watchers.append(scope)
    with scope:
        await fn(*args)


async def _monitor(
    zk: ZooKeeper,
    guard: HoldGuard,
    scope: trio.CancelScope,
    session_id: int,
    policy: LossPolicy,
    node: str | None,
    what: str,
    extra: Callable[[HoldGuard], Awaitable[None]] | None,
) -> None:
    """The monitor of one hold; runs until ``scope`` is cancelled, never raises."""
    if guard.ended:
        return  # the body ended before the monitor ran: nothing to watch
    try:
        with scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    _watcher, guard, _watch_states, zk, guard, session_id, policy, what
                )
                if node is not None:
                    nursery.start_soon(_watcher, guard, _watch_node, zk, guard, node, what)
                if extra is not None:
                    nursery.start_soon(_watcher, guard, extra, guard)
    except Exception as exc:
        guard.failure = exc
        guard.lose(f"the {what} monitor failed")


@asynccontextmanager
async def held_scope(
    zk: ZooKeeper,
    *,
    session_id: int,
    policy: LossPolicy,
    node: str | None,
    what: str,
    extra: Callable[[HoldGuard], Awaitable[None]] | None = None,
    release: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> AsyncIterator[HoldGuard]:
    """Run the body in a cancel scope that is cancelled when the hold is lost.

    A monitor cancels the body when the session ends (or, with
    ``LossPolicy.SUSPENDED``, the connection is suspended), when ``node`` is
    deleted, or when ``extra(guard)`` calls ``guard.lose``. It is a child
    task of this block, cancelled when the body ends (a body that ends
    before the monitor first runs costs no watch and no channel), so nothing
    outlives the block. The caller converts ``guard.lost`` into its Lost
    error after the block. The body's own exceptions, and outer
    cancellations, leave unchanged (not wrapped in an exception group).

    ``release`` (shielded by the caller, e.g. :func:`guaranteed_delete`) is
    awaited however the body ends, inside this block: its request is written
    first, then the monitor is cancelled (:func:`after_first_step`), and the
    monitor unwinds (its watches, its state channel) while the release waits
    for its reply, so the next holder is not kept waiting by it, and a short
    hold saves a scheduler pass. A monitor that sees the release (our node deleted) after
    the body ended changes nothing: ``guard.lost`` only counts a body the
    guard cancelled.

    Yields:
        The guard; ``guard.lost`` tells, after the block, if loss cancelled it.

    Raises:
        ZooKeeperInternalError: The monitor failed (the body was cancelled).
    """
    guard = HoldGuard()
    monitor_scope = trio.CancelScope()

    def stop() -> None:
        guard.stop(monitor_scope)

    body_error: BaseException | None = None
    release_error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                _monitor, zk, guard, monitor_scope, session_id, policy, node, what, extra
            )
            try:
                with guard.scope:
                    yield guard
            except BaseException as exc:
                body_error = exc
            finally:
                if release is None:
                    guard.stop(monitor_scope)
                else:
                    try:
                        # The monitor is cancelled right after the release's
                        # first step (its request written), not before it:
                        # delivering that cancellation to the monitor's tasks
                        # costs tens of microseconds, which would otherwise
                        # delay the delete the next holder waits for. Our
                        # task does not block in between, so no monitor task
                        # runs before it is cancelled.
                        await after_first_step(release(), stop)
                    except BaseException as exc:
                        release_error = exc
    except BaseExceptionGroup as group:
        # The monitor records its failures and never raises: only an outer
        # cancellation reaches here.
        if body_error is None and release_error is None:
            raise _leaves(group)[0] from None
    if release_error is not None:
        # As a release in a ``finally`` after the block would: it wins.
        try:
            raise release_error from body_error
        finally:
            body_error = release_error = None
    if body_error is not None:
        try:
            raise body_error
        finally:
            body_error = None
    if guard.failure is not None:
        raise ZooKeeperInternalError(f"the {what} monitor task failed") from guard.failure


@types.coroutine
def after_first_step(
    coro: Coroutine[Any, Any, T], hook: Callable[[], object]
) -> Generator[Any, Any, T]:
    """Await ``coro``, calling ``hook()`` once right after its first step.

    The first step of a client call runs until its first checkpoint, and the
    client writes (or queues) the request before that checkpoint; so
    ``await after_first_step(zk.delete(path), hook)`` runs ``hook`` after the
    delete is on its way and before this task first blocks: no other task
    runs in between. ``hook`` also runs if ``coro`` ends or raises in its
    first step. Otherwise this is ``await coro`` (a ``yield from`` written
    out: every value trio sends, and every exception thrown, goes to ``coro``).

    Returns:
        What ``coro`` returned.
    """
    try:
        try:
            trap = coro.send(None)
        finally:
            hook()
    except StopIteration as done:
        return cast("T", done.value)
    while True:
        try:
            sent = yield trap
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                trap = coro.throw(exc)
            except StopIteration as done:
                return cast("T", done.value)
        else:
            try:
                trap = coro.send(sent)
            except StopIteration as done:
                return cast("T", done.value)


class ManagedBlock:
    """``async with`` over the context manager that ``self._block()`` makes.

    Entered and exited in the same task, properly nested (the block opens a
    nursery); not re-entrant.
    """

    _cm: AbstractAsyncContextManager[Any] | None = None
    _ALREADY: str = "already entered"

    def _block(self) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    @property
    def _entered(self) -> bool:
        return self._cm is not None

    async def __aenter__(self) -> Self:
        if self._cm is not None:
            raise RuntimeError(f"this {type(self).__name__} is {self._ALREADY}")
        cm = self._block()
        await cm.__aenter__()
        self._cm = cm
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        cm, self._cm = self._cm, None
        assert cm is not None
        result: bool | None = await cm.__aexit__(exc_type, exc, tb)
        return result


class BackgroundBlock(ManagedBlock):
    """A :class:`ManagedBlock` running ``self._run`` in the background, then ``_after_exit``.

    ``_run`` is started with ``nursery.start`` (entering returns once it
    calls ``task_status.started()``); its failure cancels the block (see
    :func:`background`). ``_after_exit`` runs whenever the block ends, or
    entering fails.
    """

    _WHAT: str = "recipe"

    async def _run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        raise NotImplementedError

    async def _after_exit(self) -> None:
        raise NotImplementedError

    @asynccontextmanager
    async def _block(self) -> AsyncIterator[None]:
        try:
            async with background(self._run, what=self._WHAT):
                yield
        finally:
            await self._after_exit()


@asynccontextmanager
async def background(
    fn: Callable[..., Awaitable[None]], *args: Any, what: str = "recipe"
) -> AsyncIterator[Any]:
    """Run ``fn`` (started with ``nursery.start``) in the background for the block.

    The body's exceptions leave unchanged; a failure of the background task
    cancels the body and is raised as is when it is a single
    :class:`~trio_zookeeper.ZooKeeperError`.

    Yields:
        The value ``fn`` passed to ``task_status.started``.
    """
    body_error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            value = await nursery.start(fn, *args)
            try:
                yield value
            except BaseException as exc:
                body_error = exc
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        others = [e for e in leaves if e is not body_error and not isinstance(e, trio.Cancelled)]
        if len(others) == 1 and isinstance(others[0], ZooKeeperError):
            raise others[0] from None
        if others:
            raise ZooKeeperInternalError(f"the {what} background task failed") from group
        if body_error is None:
            raise leaves[0] from None
    if body_error is not None:
        try:
            raise body_error
        finally:
            body_error = None


async def wait_any(*channels: WatchEvents) -> None:
    """Return after the first node event (not a session event) on any channel, or its end."""

    async def one(channel: WatchEvents, scope: trio.CancelScope) -> None:
        try:
            async for event in channel:
                if event.event_type is not EventType.NONE:
                    break
        except ZooKeeperError:
            pass
        scope.cancel()

    async with trio.open_nursery() as nursery:
        for channel in channels:
            nursery.start_soon(one, channel, nursery.cancel_scope)


async def wait_for_node_change(zk: ZooKeeper, path: str) -> bool:
    """Return when ``path`` is deleted or changed, or the session is disturbed.

    The caller re-checks its position afterwards, so returning early is safe.

    Returns:
        True if ``path`` is known to be gone (it did not exist, or its
        deletion was seen); False for any other reason to look again.
    """
    try:
        stat, events = await zk.with_watcher().exists(path)
    except (ConnectionLossError, SessionExpiredError):
        await zk.wait_connected()
        return False
    try:
        return stat is None or await deletion_next(events)
    finally:
        events.close()


async def deletion_next(events: WatchEvents) -> bool:
    """Wait for the next node event of a one-shot watch: True if it is the node's deletion.

    Session events are passed over (DISCONNECTED / SYNC_CONNECTED: the watch
    survives a reconnect); another change, the channel's end (EXPIRED) or
    its error give False.
    """
    try:
        async for event in events:
            if event.event_type is EventType.NODE_DELETED:
                return True
            if event.event_type is not EventType.NONE:
                return False
    except ZooKeeperError:
        pass
    return False
