"""An ephemeral node that outlives session expiry: :class:`PersistentEphemeralNode`."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Self

import trio

from .. import (
    CreateMode,
    NodeExistsError,
    Stat,
    ZooKeeper,
)
from ._common import (
    background,
    check_path,
    guaranteed_delete,
    new_guid,
    protected_create,
    retry,
    wait_for_node_change,
    watch_node_gone,
)

__all__ = ["PersistentEphemeralNode"]


class PersistentEphemeralNode:
    """An ephemeral node kept in place for the duration of a block (service registration).

    The node is created on entry; a background task re-creates it whenever it
    disappears: after a session expiry (a new session follows), or when
    somebody deletes it. Leaving the block deletes it. If an ephemeral node of
    an older, not yet expired session of ours is in the way, it waits for
    that node to go.

    Example::

        async with PersistentEphemeralNode(zk, "/services/web/host-a", b"10.0.0.7:80"):
            await serve_forever()

    Args:
        zk: The client.
        path: The node. With ``sequential=True``, the name prefix: the
            actual path (GUID-protected, with a sequence suffix) is
            :attr:`path` and may change when the node is re-created.
        data: The node's data.
        sequential: Use EPHEMERAL_SEQUENTIAL.

    Attributes:
        path: The node's current path (None before entry).
        data: The node's data.
        recreated: How many times the node was re-created.
    """

    def __init__(
        self, zk: ZooKeeper, path: str, data: bytes = b"", *, sequential: bool = False
    ) -> None:
        self._zk = zk
        self._requested = check_path(path)
        self.data = bytes(data)
        self.sequential = sequential
        self.path: str | None = None
        self.stat: Stat | None = None
        self.recreated = 0
        self._cm: AbstractAsyncContextManager[object] | None = None
        self._changed = trio.Event()

    async def _create(self) -> tuple[str, Stat]:
        zk = self._zk
        parent, name = self._requested.rsplit("/", 1)
        parent = parent or "/"
        if self.sequential:
            return await protected_create(
                zk, parent, f"_c_{new_guid()}-{name}", self.data, CreateMode.EPHEMERAL_SEQUENTIAL
            )
        while True:
            try:
                return await protected_create(zk, parent, name, self.data, CreateMode.EPHEMERAL)
            except NodeExistsError:
                # Another session's node (maybe our expired one): wait for it to go.
                await wait_for_node_change(zk, self._requested)

    async def _keep(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        zk = self._zk
        first = True
        while True:
            await zk.wait_connected()
            path, stat = await self._create()
            self.path, self.stat = path, stat
            if first:
                task_status.started()
                first = False
            else:
                self.recreated += 1
            self._changed.set()
            self._changed = trio.Event()
            await watch_node_gone(zk, path)

    async def wait_recreated(self, count: int) -> None:
        """Wait until the node has been re-created at least ``count`` times (for tests)."""
        while self.recreated < count:
            await self._changed.wait()

    async def set_data(self, data: bytes) -> None:
        """Change the node's data (also used for every later re-creation).

        Args:
            data: The new data.
        """
        self.data = bytes(data)
        if self.path is not None:
            await retry(self._zk, self._zk.set_data, self.path, self.data)

    async def __aenter__(self) -> Self:
        cm = background(self._keep, what="persistent ephemeral node")
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
        try:
            return await cm.__aexit__(exc_type, exc, tb)
        finally:
            path, stat = self.path, self.stat
            self.path = self.stat = None
            if path is not None and stat is not None:
                await guaranteed_delete(self._zk, path, stat.ephemeral_owner)
