"""Curator's leader latch: :class:`LeaderLatch`.

Node layout (Apache Curator 5's ``LeaderLatch``): one ephemeral sequential
``_c_<uuid>-latch-<sequence>`` node per participant in the latch directory
(a container), whose data is the participant id; the lowest sequence leads,
and every other participant watches only its predecessor.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import ClassVar

import trio

from .. import (
    ACL,
    CreateMode,
    KeeperState,
    NoAuthError,
    ZooKeeper,
)
from ._common import (
    BackgroundBlock,
    Layout,
    check_acl,
    check_path,
    cleanup_prefix,
    curator_prefix,
    guaranteed_delete,
    join_path,
    no_auth,
    protected_create,
    retry,
    wait_for_node_change,
)
from ._lock import _Contender

__all__ = ["LeaderLatch"]


class _LatchNames(_Contender):
    """Only for the latch's naming and ordering rules (never acquired)."""

    _NAMES: ClassVar[dict[Layout, tuple[str, frozenset[str]]]] = {
        Layout.KAZOO: ("latch-", frozenset({"latch-"})),
        Layout.CURATOR: ("latch-", frozenset({"latch-"})),
    }


class LeaderLatch(BackgroundBlock):
    """A participant in Curator's ``LeaderLatch`` for the duration of a block.

    Entering the block joins the latch (it does not wait for leadership);
    :meth:`wait_leader` waits until this participant leads,
    :attr:`has_leadership` tells if it does now, :meth:`changes` follows it.
    Leadership is given up as soon as the connection is suspended (it may
    come back when the connection does, on the same session) and when our
    node is gone; after a session expiry a new node is created (at the end
    of the queue). Leaving the block deletes our node, handing leadership to
    the next participant. Java processes using Curator's ``LeaderLatch`` on
    the same path take part as equals.

    Example::

        latch = LeaderLatch(zk, "/latch/scheduler", identifier="host-a")
        async with latch:
            await latch.wait_leader()
            print(await latch.participants())   # ["host-a", "host-b"]
            async with latch.changes() as changes:
                async for leading in changes:
                    ...

    Args:
        zk: The client.
        path: The latch directory.
        identifier: Our participant id (the node's data).
        acl: The ACL of the nodes it creates; None for the client's default.

    Attributes:
        path: The latch directory.
        identifier: Our participant id.
        node: Our participant node while in the block, else None.
    """

    _WHAT = "leader latch"

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        identifier: str = "",
        *,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        self._zk = zk
        self.path = check_path(path)
        self.identifier = str(identifier)
        self.acl = check_acl(acl)
        self._names = _LatchNames(zk, self.path, self.identifier, layout=Layout.CURATOR)
        self._prefix = curator_prefix() + "latch-"
        self.node: str | None = None
        self._session_id = 0
        self._leader = False
        self._subscribers: list[trio.MemorySendChannel[bool]] = []
        self._state_changed = trio.Event()

    @property
    def has_leadership(self) -> bool:
        """True while this participant leads."""
        return self._leader

    def _set_leader(self, value: bool) -> None:
        if value == self._leader:
            return
        self._leader = value
        self._state_changed.set()
        self._state_changed = trio.Event()
        for channel in list(self._subscribers):
            try:
                channel.send_nowait(value)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.remove(channel)

    async def wait_leader(self) -> None:
        """Return once this participant leads (bound it with ``trio.fail_after``).

        Raises:
            RuntimeError: Not inside the ``async with`` block.
        """
        while not self._leader:
            if not self._entered:
                raise RuntimeError("wait_leader() needs the LeaderLatch's async with block")
            await self._state_changed.wait()

    @asynccontextmanager
    async def changes(self) -> AsyncIterator[trio.MemoryReceiveChannel[bool]]:
        """Follow leadership: a channel of booleans, the current value first, then each change.

        Yields:
            A receive channel of ``True`` (now leading) / ``False``.
        """
        send, receive = trio.open_memory_channel[bool](math.inf)
        send.send_nowait(self._leader)
        self._subscribers.append(send)
        try:
            yield receive
        finally:
            if send in self._subscribers:
                self._subscribers.remove(send)
            send.close()
            receive.close()

    async def participants(self) -> list[str]:
        """The participant ids, the leader first (Java participants included).

        Returns:
            The ids, in latch order.
        """
        return await self._names.contenders()

    async def leader(self) -> str | None:
        """The id of the current leader, or None if nobody participates.

        Returns:
            The leader's id.
        """
        ids = await self.participants()
        return ids[0] if ids else None

    async def _wait_disturbed(self, path: str) -> None:
        """Return when ``path`` changes or the connection leaves SYNC_CONNECTED."""
        zk = self._zk

        async def states(scope: trio.CancelScope) -> None:
            async with zk.session_states() as channel:
                if zk.state is KeeperState.SYNC_CONNECTED:
                    while True:
                        try:
                            state = await channel.receive()
                        except (trio.EndOfChannel, trio.ClosedResourceError):
                            break
                        if state is not KeeperState.SYNC_CONNECTED:
                            break
            self._set_leader(False)
            scope.cancel()

        async def node(scope: trio.CancelScope) -> None:
            await wait_for_node_change(zk, path)
            scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(states, nursery.cancel_scope)
            nursery.start_soon(node, nursery.cancel_scope)

    async def _run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        zk = self._zk
        started = False
        try:
            while True:
                await zk.wait_connected()
                if self.node is None or zk.session_id != self._session_id:
                    self._set_leader(False)
                    self.node = None
                    node, stat = await protected_create(
                        zk,
                        self.path,
                        self._prefix,
                        self._names._data,
                        CreateMode.EPHEMERAL_SEQUENTIAL,
                        acl=self.acl,
                    )
                    self.node, self._session_id = node, stat.ephemeral_owner
                name = self.node.rsplit("/", 1)[1]
                children = await retry(zk, zk.get_children, self.path)
                if zk.session_id != self._session_id or name not in children:
                    self.node = None  # gone (expired, or deleted): join again
                    continue
                predecessor, _ = self._names._predecessor(name, children)
                self._set_leader(predecessor is None)
                if not started:
                    started = True
                    task_status.started()
                watched = self.node if predecessor is None else join_path(self.path, predecessor)
                await self._wait_disturbed(watched)
        except NoAuthError as exc:
            raise no_auth(self.path, "leader latch", self.acl, exc) from None

    async def _after_exit(self) -> None:
        self._set_leader(False)
        self._state_changed.set()  # wake wait_leader() callers: the block is over
        node, session_id = self.node, self._session_id
        self.node = None
        if node is not None:
            await guaranteed_delete(self._zk, node, session_id)
        else:
            await cleanup_prefix(self._zk, self.path, self._prefix, self._zk.session_id)
