"""Walking and deleting whole subtrees: iterative (no depth limit) and pipelined.

:func:`walk_tree` reads a subtree with many requests in flight at once (one
task and one :meth:`~trio_zookeeper.ZooKeeper.pipeline`: the reads of up to
``concurrency`` nodes are sent, taken from a stack so that the walk runs
roughly depth first and the next node to hand out is usually already read)
and hands the nodes out in sorted depth-first pre-order, as they are ready.
No task is started per node. Nothing in it recurses, so a chain of any
depth is fine.

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

import collections
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

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
    from ._pipeline import Pending, Pipeline

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


class _Node:
    """A node of the walk, from when it is found until it is handed out.

    A plain slotted class (an attrs class costs ~15 KiB at import, for a
    private helper of a rarely used walk); compared by identity.
    """

    __slots__ = ("depth", "done", "kids", "last", "node", "partial", "path", "reads")

    def __init__(self, path: str, depth: int, last: bool = False) -> None:
        self.path = path
        self.depth = depth
        # Whether it is the last of its parent's children handed out.
        self.last = last
        # Its pipelined reads, once sent (until they are taken).
        self.reads: tuple[Pending[Any], ...] = ()
        # Read but for its children (a walk with data reads them second).
        self.partial: TreeNode | None = None
        # Filled in when read: the node, or None when it is to be left out.
        self.node: TreeNode | None = None
        self.kids: list[_Node] = []
        self.done = False


def _send_reads(pipe: Pipeline, item: _Node, *, data: bool, acl: bool) -> None:
    """Send ``item``'s reads (into ``item.reads``).

    Without data, its children and Stat (with its ACL when asked) at once.
    With data, its data and Stat (and ACL) first, and its children second,
    only if the Stat says it has any: a leaf, most nodes of most trees, costs
    one request, not two.
    """
    path = item.path
    if item.partial is not None:
        item.reads = (pipe.get_children(path),)
    elif data:
        item.reads = (pipe.get_data(path), pipe.get_acl(path)) if acl else (pipe.get_data(path),)
    elif acl:
        item.reads = (pipe.get_children(path), pipe.get_acl(path))
    else:
        item.reads = (pipe.get_children2(path),)


async def _take_reads(item: _Node, *, data: bool, acl: bool) -> TreeNode | None:
    """``item``'s node from its reads' replies, or None if its children are still to read.

    Several reads failing for one reason (NoAuth) are one error.
    """
    results: list[Any] = []
    error: ZooKeeperError | None = None
    for read in item.reads:
        try:
            results.append(await read)
        except ZooKeeperError as exc:
            error = error or exc
    if error is not None:
        raise error
    path, depth = item.path, item.depth
    if item.partial is not None:
        return item.partial.__replace__(children=tuple(sorted(results[0])))
    if data:
        node_data, stat = results[0]
        node_acl = tuple(results[1][0]) if acl else None
        node = TreeNode(path, depth, (), stat, node_data, node_acl)
        if stat.num_children:
            item.partial = node
            return None
        return node
    if acl:
        acl_list, stat = results[1]
        return TreeNode(path, depth, tuple(sorted(results[0])), stat, None, tuple(acl_list))
    names, stat = results[0]
    return TreeNode(path, depth, tuple(sorted(names)), stat)


async def _read_node(
    zk: ZooKeeper, pipe: Pipeline, item: _Node, *, data: bool, acl: bool
) -> TreeNode | None:
    """:func:`_take_reads`, the reads sent again after a lost connection (reads repeat safely).

    Cancellation-safe: the reads stay in ``item.reads`` (a pending reply can
    be awaited again), so a cancelled receive loses nothing.
    """
    for attempt in range(_READ_ATTEMPTS):
        try:
            return await _take_reads(item, data=data, acl=acl)
        except ConnectionLossError:
            if attempt == _READ_ATTEMPTS - 1:
                raise
            await zk.wait_connected()
            _send_reads(pipe, item, data=data, acl=acl)
    raise AssertionError("unreachable")  # pragma: no cover


class _Walk(trio.abc.ReceiveChannel[TreeNode]):
    """The nodes of one walk, read by whichever task receives them (see :func:`walk_tree`).

    No task of its own: :meth:`receive` sends the reads of up to
    ``concurrency`` nodes in the walk's pipeline (taken from a stack, so the
    walk runs roughly depth first and the next node to hand out is usually
    read already) and takes replies, oldest first (they come in the order
    sent), until the next node in sorted depth-first pre-order is ready. The
    window is refilled once it is half empty, so that the reads go out in
    bursts, in few writes.
    """

    def __init__(
        self,
        zk: ZooKeeper,
        pipe: Pipeline,
        root: str,
        *,
        data: bool,
        acl: bool,
        concurrency: int,
        skip: frozenset[str],
        on_error: ErrorHook | None,
    ) -> None:
        self._zk = zk
        self._pipe = pipe
        self._data = data
        self._acl = acl
        self._concurrency = concurrency
        self._skip = skip
        self._on_error = on_error
        first = _Node(root, 0, last=True)
        self._stack: list[_Node] = [first]  # to read; popped from the end
        self._order: list[_Node] = [first]  # to hand out; popped from the end
        self._sent: collections.deque[_Node] = collections.deque()  # oldest first
        self._busy = False
        self._closed = False
        self._failed: BaseException | None = None

    async def receive(self) -> TreeNode:
        """The next node.

        Raises:
            trio.EndOfChannel: Every node was received.
            ZooKeeperError: The root (or, without ``on_error``, a descendant)
                cannot be read, or the session failed.
            trio.BrokenResourceError: The walk failed before.
            trio.BusyResourceError: Another task is receiving.
            trio.ClosedResourceError: This channel was closed.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._closed:
            raise trio.ClosedResourceError("this walk's channel was closed")
        if self._failed is not None:
            raise trio.BrokenResourceError("the walk failed") from self._failed
        if self._busy:
            raise trio.BusyResourceError("another task is already receiving from this walk")
        self._busy = True
        try:
            node = await self._next()
        except BaseException as exc:
            if not isinstance(exc, trio.Cancelled):
                self._failed = exc
            raise
        finally:
            self._busy = False
        if node is None:
            raise trio.EndOfChannel
        return node

    async def aclose(self) -> None:
        self._closed = True
        await trio.lowlevel.checkpoint()

    @property
    def reading(self) -> bool:
        """True while reads of this walk are on their way."""
        return bool(self._sent)

    async def _next(self) -> TreeNode | None:
        order, sent, stack = self._order, self._sent, self._stack
        concurrency = self._concurrency
        while order:
            item = order[-1]
            while not item.done:
                if stack and len(sent) <= concurrency // 2:
                    pipe, data, acl = self._pipe, self._data, self._acl
                    while stack and len(sent) < concurrency:
                        ahead = stack.pop()
                        _send_reads(pipe, ahead, data=data, acl=acl)
                        sent.append(ahead)
                # Taken off the window once settled: a cancelled receive
                # leaves it there, to be taken again. One whose children
                # were sent for goes back in, last (its reads are the newest).
                oldest = sent[0]
                await self._settle(oldest)
                sent.popleft()
                if not oldest.done:
                    sent.append(oldest)
            order.pop()
            node = item.node
            if node is None:
                continue
            order.extend(reversed(item.kids))
            return node.__replace__(last=item.last)
        return None

    async def _settle(self, item: _Node) -> None:
        """Take ``item``'s replies; queue its children to be read, or send for them.

        ``item`` is done unless its children were sent for (then it is
        settled again when their reply comes).
        """
        try:
            item.node = await _read_node(self._zk, self._pipe, item, data=self._data, acl=self._acl)
            if item.node is None:
                _send_reads(self._pipe, item, data=self._data, acl=self._acl)
                return
        except ServerError as exc:
            if item.depth == 0 or isinstance(exc, _SESSION_ERRORS):
                raise
            if not isinstance(exc, NoNodeError):
                if self._on_error is None:
                    raise
                self._on_error(item.path, exc)
            item.node = None
        item.reads = ()
        if item.node is not None:
            skip = self._skip
            path, depth = item.node.path, item.depth + 1
            item.kids = [
                _Node(child, depth)
                for child in (join_path(path, name) for name in item.node.children)
                if child not in skip
            ]
            if item.kids:
                item.kids[-1].last = True
            # Reversed, so that the first child is read first.
            self._stack.extend(reversed(item.kids))
        item.done = True


class _LeftEarly(Exception):
    """Raised in a walk's pipeline block to abandon the reads still to come."""


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
) -> AsyncIterator[trio.abc.ReceiveChannel[TreeNode]]:
    """Read the subtree under ``root``, many nodes at once, for the duration of a block.

    ``async with walk_tree(zk, "/app") as nodes: async for node in nodes: ...``
    receives every node (the root first) in sorted depth-first pre-order, each
    as soon as it and the nodes before it are read. The receiving task does
    the reading (no task is started), in one pipeline. Leaving the block
    early stops the walk.

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
    try:
        async with zk.pipeline() as pipe:
            walk = _Walk(
                zk,
                pipe,
                root,
                data=data,
                acl=acl,
                concurrency=concurrency,
                skip=frozenset(skip),
                on_error=on_error,
            )
            yield walk
            if walk.reading:
                # Left early: the reads still to come are abandoned (as when
                # the block raises), not waited for.
                raise _LeftEarly
    except _LeftEarly:
        pass


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
