"""Walking and deleting whole subtrees: iterative (no depth limit) and pipelined.

:func:`walk_tree` reads a subtree with many requests in flight at once (a
pool of tasks taking paths from a shared stack, so that the walk runs
roughly depth first and the next node to hand out is usually already read)
and hands the nodes out in sorted depth-first pre-order, as they are ready.
Nothing in it recurses, so a chain of any depth is fine.

:func:`delete_subtree` deletes every descendant of a node: it walks the
subtree, then deletes the nodes children first (the walk's order, reversed)
in transactions of bounded size, one at a time, so a tree of any depth and
width takes few round trips. A transaction that fails (a node vanished or
gained a child meanwhile) is redone one node at a time.

Both use only the public client API. :meth:`ZooKeeper.walk
<trio_zookeeper.ZooKeeper.walk>` is the public face of :func:`walk_tree` (the
recipes' TreeCache uses it) and ``delete(path, recursive=True)`` that of
:func:`delete_subtree`; the command line calls both directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio

from ._client import DEFAULT_CONCURRENCY
from ._protocol import ACL, Stat
from ._protocol._errors import (
    ConnectionLossError,
    NoNodeError,
    NotEmptyError,
    ServerError,
    SessionExpiredError,
    SessionMovedError,
    ZooKeeperError,
)
from ._protocol._tuplerecord import TupleRecord

if TYPE_CHECKING:
    from ._client import ZooKeeper

__all__ = ["TreeNode", "delete_subtree", "join_path", "walk_tree"]

_DELETE_BATCH_BYTES = 256 * 1024  # path bytes per transaction: well below jute.maxbuffer
_DEFAULT_DELETE_BATCH = 1000  # operations per transaction (zkCli's deleteall default)

_READ_ATTEMPTS = 5  # tries of one node's read across lost connections
# Errors about the session, not the node: they end the walk.
_SESSION_ERRORS = (ConnectionLossError, SessionExpiredError, SessionMovedError)

ErrorHook = Callable[[str, ZooKeeperError], None]


def join_path(parent: str, name: str) -> str:
    """``parent/name`` (``/name`` under the root)."""
    return f"{'' if parent == '/' else parent}/{name}"


class TreeNode(TupleRecord, kw_only=False):
    """One node of a walked subtree.

    Attributes:
        path: The node's path.
        depth: 0 for the walk's root, 1 for its children, and so on.
        children: The children's names, sorted.
        stat: The node's Stat.
        data: The node's data (only when the walk reads data).
        acl: The node's ACL (only when the walk reads ACLs).
        last: Whether it is the last (in sorted order) of its parent's
            children that the walk hands out; True for the root.
    """

    __slots__ = ()

    path: str
    depth: int
    children: tuple[str, ...]
    stat: Stat
    data: bytes | None = None
    acl: tuple[ACL, ...] | None = None
    last: bool = True


class _Pending:
    """A node of the walk, from when it is found until it is handed out.

    A plain slotted class (an attrs class costs ~15 KiB at import, for a
    private helper of a rarely used walk); compared by identity.
    """

    __slots__ = ("depth", "done", "kids", "node", "path")

    def __init__(self, path: str, depth: int) -> None:
        self.path = path
        self.depth = depth
        # Filled in when read: the node, or None when it is to be left out.
        self.node: TreeNode | None = None
        self.kids: list[_Pending] = []
        self.done = False


async def _read_node(zk: ZooKeeper, path: str, depth: int, *, data: bool, acl: bool) -> TreeNode:
    """One node: its children and Stat, with data and ACL when asked (concurrently)."""
    if not data and not acl:
        names, stat = await zk.get_children2(path)
        return TreeNode(path, depth, tuple(sorted(names)), stat)
    children: list[str] = []
    got_data: list[tuple[bytes, Stat]] = []
    got_acl: list[tuple[list[ACL], Stat]] = []

    async def read_children() -> None:
        children.extend(await zk.get_children(path))

    async def read_data() -> None:
        got_data.append(await zk.get_data(path))

    async def read_acl() -> None:
        got_acl.append(await zk.get_acl(path))

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_children)
            if data:
                nursery.start_soon(read_data)
            if acl:
                nursery.start_soon(read_acl)
    except BaseExceptionGroup as group:
        # Several reads of one node failing for one reason (NoAuth) are one error.
        _, rest = group.split(ZooKeeperError)
        if rest is not None:
            raise
        raise _first_leaf(group) from None
    node_data = got_data[0][0] if got_data else None
    node_acl = tuple(got_acl[0][0]) if got_acl else None
    node_stat = got_data[0][1] if got_data else got_acl[0][1]
    return TreeNode(path, depth, tuple(sorted(children)), node_stat, node_data, node_acl)


async def _read_node_retrying(
    zk: ZooKeeper, path: str, depth: int, *, data: bool, acl: bool
) -> TreeNode:
    """:func:`_read_node`, read again after a lost connection (reads are safe to repeat)."""
    for attempt in range(_READ_ATTEMPTS):
        try:
            return await _read_node(zk, path, depth, data=data, acl=acl)
        except ConnectionLossError:
            if attempt == _READ_ATTEMPTS - 1:
                raise
            await zk.wait_connected()
    raise AssertionError("unreachable")  # pragma: no cover


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _first_error(exc: BaseException) -> BaseException:
    """The exception inside (possibly nested) single-exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


@asynccontextmanager
async def walk_tree(
    zk: ZooKeeper,
    root: str,
    *,
    data: bool = False,
    acl: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    skip: Sequence[str] = (),
    on_error: ErrorHook | None = None,
) -> AsyncIterator[trio.MemoryReceiveChannel[TreeNode]]:
    """Read the subtree under ``root``, many nodes at once, for the duration of a block.

    ``async with walk_tree(zk, "/app") as nodes: async for node in nodes: ...``
    receives every node (the root first) in sorted depth-first pre-order, each
    as soon as it and the nodes before it are read. Leaving the block early
    stops the walk.

    Args:
        zk: The client.
        root: The subtree's root.
        data: Also read each node's data.
        acl: Also read each node's ACL.
        concurrency: How many nodes are read at once.
        skip: Paths left out with their subtrees (e.g. ``/zookeeper``).
        on_error: Called with the path and the error when a descendant cannot
            be read (e.g. NoAuthError); the node and its subtree are left out
            and the walk goes on. Without it, such an error ends the walk.
            A descendant that vanishes during the walk is simply left out; a
            read cut by a lost connection is repeated once the client has
            reconnected (a few times); errors of the session end the walk.

    Yields:
        A channel of :class:`TreeNode`.

    Raises:
        NoNodeError: ``root`` does not exist.
        ZooKeeperError: ``root`` (or, without ``on_error``, a descendant)
            cannot be read.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    skipped = frozenset(skip)
    stack: list[_Pending] = []  # to read; popped from the end
    order: list[_Pending] = []  # to hand out; popped from the end (DFS pre-order)
    first = _Pending(root, 0)
    stack.append(first)
    order.append(first)
    reading = 0
    work = trio.lowlevel.ParkingLot()  # workers wait here for paths
    ready = trio.lowlevel.ParkingLot()  # the sender waits here for the next node
    send, receive = trio.open_memory_channel[TreeNode](0)

    def children_of(node: TreeNode) -> list[_Pending]:
        return [
            _Pending(join_path(node.path, name), node.depth + 1)
            for name in node.children
            if join_path(node.path, name) not in skipped
        ]

    async def worker() -> None:
        nonlocal reading
        while True:
            while not stack:
                if reading == 0:
                    work.unpark_all()
                    return
                await work.park()
            pending = stack.pop()
            reading += 1
            try:
                try:
                    pending.node = await _read_node_retrying(
                        zk, pending.path, pending.depth, data=data, acl=acl
                    )
                except ServerError as exc:
                    if pending.depth == 0 or isinstance(exc, _SESSION_ERRORS):
                        raise
                    if not isinstance(exc, NoNodeError):
                        if on_error is None:
                            raise
                        on_error(pending.path, exc)
                    pending.node = None
            finally:
                reading -= 1
            if pending.node is not None:
                pending.kids = children_of(pending.node)
                # Reversed, so that the first child is read first.
                stack.extend(reversed(pending.kids))
            pending.done = True
            work.unpark_all()
            ready.unpark_all()

    async def sender() -> None:
        async with send:
            # `last_of[path]` says whether a pending node is its parent's last one.
            last_of: dict[str, bool] = {root: True}
            while order:
                pending = order[-1]
                while not pending.done:
                    await ready.park()
                order.pop()
                last = last_of.pop(pending.path)
                node = pending.node
                if node is None:
                    continue
                kids = pending.kids
                for index, kid in enumerate(kids):
                    last_of[kid.path] = index == len(kids) - 1
                order.extend(reversed(kids))
                try:
                    await send.send(node.__replace__(last=last))
                except trio.BrokenResourceError:
                    return  # the consumer stopped reading: nothing more to send

    try:
        async with trio.open_nursery() as nursery:
            for _ in range(concurrency):
                nursery.start_soon(worker)
            nursery.start_soon(sender)
            try:
                yield receive
            finally:
                # Stop the walk before closing the channel, with no checkpoint
                # in between: a consumer that leaves early is not an error.
                nursery.cancel_scope.cancel()
                receive.close()
    except BaseExceptionGroup as group:
        error = _first_error(group)
        if isinstance(error, BaseExceptionGroup):
            _, rest = error.split(ZooKeeperError)
            if rest is None:
                # Several reads failed at once (a lost session fails them all): one error.
                error = _first_leaf(error)
        raise error from None


async def _delete_if_there(zk: ZooKeeper, path: str) -> int:
    """Delete ``path``: 1 if this did, 0 if it was already gone."""
    try:
        await zk.delete(path)
    except NoNodeError:
        return 0
    return 1


async def delete_subtree(
    zk: ZooKeeper,
    path: str,
    *,
    batch: int = _DEFAULT_DELETE_BATCH,
    concurrency: int = DEFAULT_CONCURRENCY,
    skip: Sequence[str] = (),
    on_deleted: Callable[[int], None] | None = None,
) -> int:
    """Delete every descendant of ``path`` (not ``path`` itself).

    Args:
        zk: The client.
        path: The subtree's root; nothing happens if it does not exist.
        batch: At most this many deletes per transaction (1: no transactions).
        concurrency: How many nodes the walk reads at once.
        skip: Paths left alone with their subtrees (``/zookeeper``).
        on_deleted: Called with the number of nodes deleted so far, after
            each transaction.

    Returns:
        How many nodes were deleted.

    Raises:
        ValueError: ``batch`` is less than 1.
        ZooKeeperError: A node could not be deleted (e.g. NoAuthError).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    deleted = 0
    while True:
        paths: list[str] = []
        # A node we may not list can still be deleted if it has no children.
        unreadable: dict[str, ZooKeeperError] = {}
        try:
            async with walk_tree(
                zk,
                path,
                concurrency=concurrency,
                skip=skip,
                on_error=unreadable.__setitem__,
            ) as nodes:
                async for node in nodes:
                    if node.depth:
                        paths.append(node.path)
        except NoNodeError:
            return deleted
        if not paths and not unreadable:
            return deleted
        paths.reverse()  # children before their parents
        for item, error in unreadable.items():
            try:
                deleted += await _delete_if_there(zk, item)
            except NotEmptyError:
                raise error from None
        retry = False
        start = 0
        while start < len(paths):
            end, size = start, 0
            while end < len(paths) and end - start < batch and size < _DELETE_BATCH_BYTES:
                size += len(paths[end].encode("utf-8")) + 16
                end += 1
            chunk = paths[start:end]
            start = end
            if len(chunk) > 1:
                transaction = zk.multi()
                for item in chunk:
                    transaction.delete(item)
                try:
                    await transaction.run()
                    deleted += len(chunk)
                    if on_deleted is not None:
                        on_deleted(deleted)
                    continue
                except (NoNodeError, NotEmptyError):
                    pass  # the tree changed meanwhile: one at a time below
            for item in chunk:
                try:
                    deleted += await _delete_if_there(zk, item)
                except NotEmptyError:
                    retry = True  # it gained a child: walk again afterwards
            if on_deleted is not None:
                on_deleted(deleted)
        if not retry:
            return deleted
