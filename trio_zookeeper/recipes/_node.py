"""Nodes kept in existence for a block: :class:`PersistentNode`, :class:`PersistentEphemeralNode`.

The trio form of Curator's ``PersistentNode`` (in the TTL modes the node
itself is touched, where Curator's ``PersistentTtlNode`` touches a TTL child
of a container node): the
node is created on entry in any :class:`~trio_zookeeper.CreateMode`, and a
background task re-creates it whenever it disappears (deleted by somebody, a
session expiry for the ephemeral modes, an emptied container, an expired
TTL). Sequential names are protected (``_c_<uuid>-<name><sequence>``, as
Curator's ``withProtection``). Missing parents are created as containers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import trio

from .. import (
    ACL,
    ConnectionLossError,
    CreateMode,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
    Stat,
    ZooKeeper,
)
from ._common import (
    BackgroundBlock,
    check_acl,
    check_path,
    curator_prefix,
    guaranteed_delete,
    no_auth,
    protected_create,
    retry,
    wait_for_node_change,
    watch_node_gone,
)

__all__ = ["PersistentEphemeralNode", "PersistentNode"]


class PersistentNode(BackgroundBlock):
    """A node kept in place, in any create mode, for the duration of a block.

    The node is created on entry (entering returns once it exists); a
    background task re-creates it whenever it disappears, and leaving the
    block deletes it. What "disappears" means depends on the mode:

    * EPHEMERAL / EPHEMERAL_SEQUENTIAL: the node goes with its session; after
      a session expiry it is created again on the new session (service
      registrations survive expiry this way). If an ephemeral node of another
      session (maybe an older one of ours) is in the way, it waits for it
      to go.
    * PERSISTENT / CONTAINER / the TTL modes: an existing node at the path is
      adopted (its data set to ours), as Curator does. A CONTAINER node that
      the server removes after its last child went is created again.
    * PERSISTENT_WITH_TTL / PERSISTENT_SEQUENTIAL_WITH_TTL (``ttl=``
      milliseconds; the server needs extended types): the node is touched
      (its data re-written) every ``ttl/2`` so that it outlives the TTL while
      the block runs, and expires by itself if this process dies.
    * Sequential modes: the name gets Curator's protected prefix and a
      sequence number; :attr:`path` changes when the node is re-created.

    Example::

        async with PersistentNode(zk, "/workers/host-a", b"10.0.0.7", mode=CreateMode.EPHEMERAL):
            await serve_forever()

    Args:
        zk: The client.
        path: The node (for sequential modes, the parent plus the name
            prefix).
        data: The node's data.
        mode: Its create mode.
        ttl: Milliseconds, for the TTL modes only.
        acl: The ACL of the node and of missing parents; None for the
            client's default.

    Raises:
        ValueError: ``ttl`` given for a mode without TTL, or missing for a
            TTL mode.

    Attributes:
        path: The node's current path (None before entry).
        stat: Its Stat when created or adopted.
        data: The node's data.
        mode: The create mode.
        recreated: How many times the node was re-created.
    """

    _WHAT = "persistent node"
    _take_over = False  # replace another session's ephemeral node (service discovery)

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        data: bytes = b"",
        *,
        mode: CreateMode = CreateMode.EPHEMERAL,
        ttl: int | None = None,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        self._zk = zk
        self._requested = check_path(path)
        self.data = bytes(data)
        self.mode = CreateMode(mode)
        if self.mode.is_ttl:
            if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
                raise ValueError(
                    f"mode {self.mode.name} needs ttl= (milliseconds > 0), not {ttl!r}"
                )
        elif ttl is not None:
            raise ValueError(f"ttl= is only valid with a TTL mode, not {self.mode.name}")
        self.ttl = ttl
        self.acl = check_acl(acl)
        self.path: str | None = None
        self.stat: Stat | None = None
        self.recreated = 0
        self._changed = trio.Event()
        self._stopped = False
        parent, name = self._requested.rsplit("/", 1)
        self._parent = parent or "/"
        self._name = name
        if self.mode.is_sequential:
            self._name = curator_prefix() + name

    async def _create(self) -> tuple[str, Stat]:
        zk = self._zk
        while True:
            try:
                path, stat = await protected_create(
                    zk, self._parent, self._name, self.data, self.mode, acl=self.acl, ttl=self.ttl
                )
                if stat.data_length != len(self.data) or stat.version > 0:
                    # Perhaps adopted (a persistent node already there): our data.
                    data, _ = await retry(zk, zk.get_data, path)
                    if data != self.data:
                        stat = await retry(zk, zk.set_data, path, self.data)
                return path, stat
            except NoNodeError:
                continue  # adopted, then deleted at once: create again
            except NodeExistsError:
                if self.mode.is_ephemeral:
                    if self._take_over:
                        # Curator's service registration: delete it, create ours.
                        with contextlib.suppress(NoNodeError):
                            await retry(zk, zk.delete, self._requested)
                        continue
                    # Another session's node (maybe our expired one): wait for it to go.
                    await wait_for_node_change(zk, self._requested)
                    continue
                # A persistent node in the way: adopt it with our data.
                try:
                    stat = await retry(zk, zk.set_data, self._requested, self.data)
                except NoNodeError:
                    continue
                return self._requested, stat

    async def _touch(self, path: str) -> None:
        assert self.ttl is not None
        zk = self._zk
        while True:
            await trio.sleep(self.ttl / 2000)
            try:
                await zk.set_data(path, self.data)
            except NoNodeError:
                return  # the watch sees it gone and re-creates it
            except (ConnectionLossError, SessionExpiredError):
                await zk.wait_connected()

    async def _run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        zk = self._zk
        self._stopped = False
        first = True
        while True:
            await zk.wait_connected()
            try:
                path, stat = await self._create()
            except NoAuthError as exc:
                raise no_auth(self._requested, "persistent node", self.acl, exc) from None
            self.path, self.stat = path, stat
            if first:
                task_status.started()
                first = False
            else:
                self.recreated += 1
            self._changed.set()
            self._changed = trio.Event()
            async with trio.open_nursery() as nursery:
                if self.ttl is not None:
                    nursery.start_soon(self._touch, path)
                await watch_node_gone(zk, path)
                nursery.cancel_scope.cancel()
            if self._stopped:
                await trio.sleep_forever()

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

    async def _stop(self) -> None:
        """Stop keeping the node and delete it (the block goes on)."""
        self._stopped = True
        await self._delete()

    async def _after_exit(self) -> None:
        await self._delete()

    async def _delete(self) -> None:
        path, stat = self.path, self.stat
        self.path = self.stat = None
        if path is None or stat is None:
            return
        if self.mode.is_ephemeral:
            await guaranteed_delete(self._zk, path, stat.ephemeral_owner)
            return
        with trio.move_on_after(2 * self._zk.session_timeout + 1.0, shield=True):
            while True:
                try:
                    await self._zk.delete(path)
                except NoNodeError:
                    return
                except (ConnectionLossError, SessionExpiredError):
                    await self._zk.wait_connected()
                    continue
                except Exception:
                    return
                return


class PersistentEphemeralNode(PersistentNode):
    """An ephemeral node kept in place for a block: ``PersistentNode`` in an ephemeral mode.

    Kept as a thin alias of :class:`PersistentNode` with ``mode=EPHEMERAL``
    (``EPHEMERAL_SEQUENTIAL`` with ``sequential=True``).

    Example::

        async with PersistentEphemeralNode(zk, "/services/web/host-a", b"10.0.0.7:80"):
            await serve_forever()

    Args:
        zk: The client.
        path: The node, or with ``sequential=True`` the name prefix.
        data: The node's data.
        sequential: Use EPHEMERAL_SEQUENTIAL.
        acl: The ACL; None for the client's default.
    """

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        data: bytes = b"",
        *,
        sequential: bool = False,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        mode = CreateMode.EPHEMERAL_SEQUENTIAL if sequential else CreateMode.EPHEMERAL
        super().__init__(zk, path, data, mode=mode, acl=acl)
        self.sequential = sequential
