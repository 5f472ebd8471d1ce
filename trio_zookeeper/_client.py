"""The public client: :func:`open_zookeeper` and :class:`ZooKeeper`."""

from __future__ import annotations

import logging
import math
import random
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, final

import trio

from ._acl import OPEN_ACL_UNSAFE
from ._hostprovider import (
    SHARED_NO_SHUFFLE,
    SHARED_RNG,
    Backoff,
    HostListUpdate,
    parse_dynamic_config,
)
from ._hosts import ConnectString, parse_connect_string
from ._protocol import (
    ACL,
    CONFIG_NODE,
    DEFAULT_MAX_FRAME_SIZE,
    AddWatchMode,
    CheckVersionRequest,
    ClientInfo,
    Create2Response,
    CreateMode,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    Empty,
    ErrorCode,
    EventType,
    ExistsRequest,
    GetACLRequest,
    GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse,
    GetChildren2Request,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    GetEphemeralsRequest,
    GetEphemeralsResponse,
    KeeperState,
    MultiOp,
    MultiRequest,
    MultiResponse,
    NodeExistsError,
    NoNodeError,
    OpCode,
    ReconfigRequest,
    ServerError,
    SetACLRequest,
    SetDataRequest,
    SetDataResponse,
    Stat,
    SyncRequest,
    SyncResponse,
    WatcherType,
    WhoAmIResponse,
    ZooKeeperError,
    ZooKeeperInternalError,
    error_for_code,
    slot_builder,
    validate_path,
)
from ._session import Session, SessionStatistics, StreamFactory
from ._watchers import WatchEvents, WatchKind
from ._watchplumbing import Registrar, ServerWatches

if TYPE_CHECKING:  # loaded on first use: by clients with SASL, a tracer, a tree walk
    from ._pipeline import Pipeline
    from ._protocol._sasl import SaslMechanism
    from ._trace import Tracer
    from ._tree import ErrorHook, TreeNode

__all__ = [
    "MultiRead",
    "Transaction",
    "WatchingClient",
    "WithWatcherClient",
    "ZooKeeper",
    "open_zookeeper",
]

log = logging.getLogger("trio_zookeeper.client")

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
#: The largest TTL in milliseconds the server accepts for the TTL create
#: modes (``EphemeralType.EXTENDED_FEATURE_VALUE_MASK``, about 34 years).
MAX_TTL_MS = 0x00FFFFFFFFFF

#: Nodes a tree walk or a recursive delete reads at once by default (each
#: node has one or two requests in flight: at most 256, well under the
#: server's default globalOutstandingLimit of 1,000); ``_tree`` does both, on
#: the public API.
DEFAULT_CONCURRENCY = 128


def _check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise TypeError(f"version must be an int, not {type(version).__name__}")
    if not _INT32_MIN <= version <= _INT32_MAX:
        raise ValueError(f"version {version} is out of the 32-bit range")
    return version


def _check_data(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        raise TypeError("node data must be bytes, not str: encode it, e.g. value.encode()")
    raise TypeError(f"node data must be bytes, not {type(data).__name__}")


def _check_acl(acl: object) -> tuple[ACL, ...]:
    if isinstance(acl, ACL):
        return (acl,)
    if not isinstance(acl, Iterable) or isinstance(acl, (str, bytes)):
        raise TypeError(f"acl must be a sequence of ACL, not {type(acl).__name__}")
    items = tuple(acl)
    for item in items:
        if not isinstance(item, ACL):
            raise TypeError(f"acl entries must be ACL records, not {type(item).__name__}")
    if not items:
        raise ValueError("acl may not be empty (the server answers InvalidACL)")
    return items


_PRIVATE = object()


# What the public methods return, made from a reply's record: one copy each,
# shared by the methods, transactions, multi-reads and pipelines.
def exists_result(response: Any) -> Stat | None:
    """An exists reply (None: the node does not exist) as ``exists`` returns it."""
    return None if response is None else response.stat


def data_result(response: Any) -> tuple[bytes, Stat]:
    """A getData reply as ``get_data`` returns it (null data reads as ``b""``)."""
    return (response.data or b"", response.stat)


def children_result(response: Any) -> list[str]:
    """A getChildren reply as ``get_children`` returns it."""
    return list(response.children or ())


def children2_result(response: Any) -> tuple[list[str], Stat]:
    """A getChildren2 reply as ``get_children2`` returns it."""
    return (list(response.children or ()), response.stat)


def stat_result(response: Any) -> Stat:
    """The Stat of a setData or setACL reply."""
    return response.stat  # type: ignore[no-any-return]


def acl_result(response: Any) -> tuple[list[ACL], Stat]:
    """A getACL reply as ``get_acl`` returns it."""
    return (list(response.acl or ()), response.stat)


# The requests sent most are built positionally, in field order, by a
# generated function (one ``tuple.__new__`` call): calling the record class
# with keywords costs a keyword dict and two more calls, a third of what
# encoding and decoding a get_data cost.
_delete_req = slot_builder(DeleteRequest)
_set_data_req = slot_builder(SetDataRequest)
_create_req = slot_builder(CreateRequest)

#: The reads ``ZooKeeper._read`` makes: per opcode, the request builder
#: (``make(path, watch)``), the kind of one-shot watch it may set, and what
#: the method returns.
_READS: dict[int, tuple[Callable[[str, bool], object], WatchKind, Callable[[Any], Any]]] = {
    OpCode.EXISTS: (slot_builder(ExistsRequest), WatchKind.DATA, exists_result),
    OpCode.GET_DATA: (slot_builder(GetDataRequest), WatchKind.DATA, data_result),
    OpCode.GET_CHILDREN: (slot_builder(GetChildrenRequest), WatchKind.CHILD, children_result),
    OpCode.GET_CHILDREN2: (
        slot_builder(GetChildren2Request),
        WatchKind.CHILD,
        children2_result,
    ),
}

#: What ``open_zookeeper(default_acl=...)`` takes: one ACL for every node, or
#: a provider called with each node's path (relative to the chroot) that
#: returns the ACL for that node (Curator's ``ACLProvider``).
ACLProvider = Callable[[str], Sequence[ACL]]


@final
class ZooKeeper:
    """A ZooKeeper session, made by :func:`open_zookeeper`.

    Every operation is an ``async`` method. There are no ``timeout=``
    parameters: bound a call with a trio cancel scope
    (``with trio.fail_after(5): ...``).

    Cancellation: a request cancelled before it is written is never sent. One
    cancelled after it is written keeps its place on the connection and its
    reply is read and dropped: a cancelled *write may still have been applied*,
    exactly as after a :class:`ConnectionLossError`.

    Paths are absolute (``/a/b``) and relative to the chroot of the connect
    string, if any.
    """

    def __init__(
        self,
        session: Session,
        *,
        watch_buffer: int,
        default_acl: Sequence[ACL] | ACLProvider = OPEN_ACL_UNSAFE,
        _private: object = None,
    ) -> None:
        if _private is not _PRIVATE:
            raise TypeError(
                "ZooKeeper has no public constructor; "
                "use `async with trio_zookeeper.open_zookeeper(...) as zk`"
            )
        self._session = session
        self._chroot = session.chroot
        self._watch_buffer = watch_buffer
        self._watches = ServerWatches(session, self._call, self._path)
        self._default_acl: tuple[ACL, ...] | None = None
        self._acl_provider: ACLProvider | None = None
        if callable(default_acl):
            self._acl_provider = default_acl
        else:
            self._default_acl = _check_acl(default_acl)

    # ================================================================= ACLs
    def acl_for(self, path: str) -> tuple[ACL, ...]:
        """The ACL this client gives a node it creates at ``path`` without ``acl=``.

        It is the ``default_acl`` of :func:`open_zookeeper` (``OPEN_ACL_UNSAFE``
        when none was given), or what its ACL provider returns for ``path``.

        Args:
            path: The node's path, relative to the chroot.

        Returns:
            The ACL.

        Raises:
            ValueError: The provider returned something that is not a
                non-empty sequence of ACL entries.
        """
        if self._default_acl is not None:
            return self._default_acl
        assert self._acl_provider is not None
        try:
            return _check_acl(self._acl_provider(path))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"the default_acl provider gave an invalid ACL for {path}: {exc}"
            ) from exc

    def _acl(self, acl: Sequence[ACL] | None, path: str) -> Sequence[ACL]:
        return self.acl_for(path) if acl is None else acl

    # ================================================================ state
    @property
    def state(self) -> KeeperState:
        """The session state (SYNC_CONNECTED, DISCONNECTED, ...)."""
        return self._session.state

    @property
    def session_id(self) -> int:
        """The current session id (a new one after an expiry)."""
        return self._session.session_id

    @property
    def session_password(self) -> bytes:
        """The session password, to resume the session from another client."""
        return self._session.password

    @property
    def session_timeout(self) -> float:
        """The session timeout the server granted, in seconds."""
        return self._session.negotiated_timeout

    @property
    def last_zxid(self) -> int:
        """The newest zxid seen in a reply; it never decreases."""
        return self._session.last_zxid

    @property
    def connected(self) -> bool:
        """True while connected to a server (read-write or read-only)."""
        return self.state in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY)

    @property
    def default_watcher(self) -> WatchEvents:
        """The channel of events of the watches set through :meth:`watch`."""
        return self._session.default_watcher

    async def wait_connected(self) -> None:
        """Wait until the session is connected (read-write or read-only).

        Raises:
            trio.ClosedResourceError: the client was closed.
            SessionExpiredError: the session expired and expiry is final.
            AuthFailedError: authentication failed.
        """
        await self._session.wait_connected()

    @asynccontextmanager
    async def session_states(self) -> AsyncIterator[trio.abc.ReceiveChannel[KeeperState]]:
        """Stream every later change of the session state.

        Yields:
            A channel of :class:`KeeperState`: DISCONNECTED when the
            connection is lost (the session may survive), SYNC_CONNECTED or
            CONNECTED_READ_ONLY when connected, EXPIRED when the session is
            gone (a new one follows unless expiry is final), AUTH_FAILED,
            and finally CLOSED.
        """
        channel = self._session.open_state_channel()
        try:
            yield channel
        finally:
            channel.close()

    def statistics(self) -> SessionStatistics:
        """A snapshot of the client's internals (state, queues, watches, hosts)."""
        return self._session.statistics()

    def update_hosts(self, hosts: str) -> HostListUpdate:
        """Replace the host list, keeping the session (Java's ``updateServerList``).

        The client keeps its server if it is still listed, except that when
        the list grows it moves to one of the new servers with probability
        ``1 - old_size / new_size``, so that the load comes out even across
        the new list. A client whose server is no longer listed moves at once.
        A move drops the connection, never the session: ephemerals and
        watches stay, requests in flight fail with
        :class:`ConnectionLossError` as on any reconnect, and queued requests
        go to the next server. The decision is returned, logged (logger
        ``trio_zookeeper.session``) and kept in :meth:`statistics`.

        Args:
            hosts: A connect string, ``"h1:2181,h2:2181"``; a chroot, if
                given, must be the client's own.

        Returns:
            What was decided, and why.

        Raises:
            ValueError: The connect string is malformed or names another chroot.
            trio.ClosedResourceError: The client is closed.
        """
        return self._session.update_hosts(parse_connect_string(hosts))

    async def aclose(self) -> None:
        """Close the session (idempotent).

        Sends closeSession (so ephemeral nodes go at once), waits for the reply
        for at most ``close_timeout`` seconds, shielded from cancellation, and
        stops every background task. Requests still pending fail with
        ``trio.ClosedResourceError``, as does every later call.
        """
        await self._session.close()

    # ============================================================== helpers
    def _path(self, path: str, *, sequential: bool = False) -> str:
        validate_path(path, sequential=sequential)
        return self._chroot.apply(path)

    def _strip(self, path: str) -> str:
        return self._chroot.strip(path)

    async def _read(
        self,
        op: int,
        path: str,
        watcher: WatchEvents | None,
        *,
        own: bool = False,
        request: object | None = None,
    ) -> Any:
        """One exists/get_data/get_children/get_children2, maybe setting a one-shot watch.

        Returns what the public method of ``op`` returns; with ``own`` (the
        channel is the read's own, :meth:`with_watcher`), the pair of that and
        ``watcher``, whose channel is closed if the read fails before
        registering it. A watch for ``watcher`` is registered by the reply
        (:class:`Registrar`), which is settled however the call ends, so that
        a read never answered stops counting as a watch on its way.

        The one coroutine between the caller and the session, awaiting it
        directly: thousands of watching reads may be in flight, and each
        frame counts. ``request`` replaces the one built from ``path`` (the
        config node, outside any chroot).
        """
        make, kind, convert = _READS[op]
        watches = self._watches
        if request is None:
            request = make(self._path(path), watches.wants_server_watch(kind, path, watcher))
        hook: Registrar | None = None
        if watcher is not None:
            if op == OpCode.EXISTS:
                hook = watches.exists_registrar(path, watcher)
            else:
                hook = watches.registrar(kind, path, watcher)
        response: Any
        try:
            response = await self._session.call(op, request, path=path, on_reply=hook)
        except BaseException as exc:
            if hook is not None:
                hook.settle()
            if op == OpCode.EXISTS and isinstance(exc, NoNodeError):
                response = None
            else:
                if own and watcher is not None and not watcher._reg_list():
                    watcher.close()
                if isinstance(exc, NoNodeError) and path == "/" and self._chroot:
                    # "/" always exists, so the missing node is the chroot itself.
                    raise self._chroot_missing_error(path) from None
                raise
        else:
            if hook is not None:
                hook.settle()
        result = convert(response)
        return (result, watcher) if own else result

    async def _call(
        self,
        op: int,
        request: object,
        path: str | None,
        on_reply: Callable[[int], None] | None = None,
    ) -> Any:
        try:
            return await self._session.call(op, request, path=path, on_reply=on_reply)
        except NoNodeError:
            if path == "/" and self._chroot:
                # "/" always exists, so the missing node is the chroot itself.
                raise self._chroot_missing_error(path) from None
            raise

    def _chroot_missing_error(self, path: str) -> NoNodeError:
        return NoNodeError(
            f"No node: the chroot {self._chroot.prefix} does not exist (the connect "
            "string's path); create it, or let ensure_path() or create(..., makepath=True) "
            "create it",
            path=path,
        )

    async def _chroot_exists(self) -> bool:
        request = ExistsRequest(path=self._chroot.prefix, watch=False)
        try:
            await self._session.call(OpCode.EXISTS, request)
        except NoNodeError:
            return False
        return True

    async def _no_parent_error(self, path: str) -> NoNodeError:
        """The error for a create that failed with NONODE: which node is missing."""
        parent = path.rsplit("/", 1)[0] or "/"
        if self._chroot and parent != "/" and not await self._chroot_exists():
            return self._chroot_missing_error(path)
        return self._parent_missing_error(path)

    def _parent_missing_error(self, path: str) -> NoNodeError:
        """The error for a create that failed with NONODE, without asking the server."""
        parent = path.rsplit("/", 1)[0] or "/"
        if self._chroot and parent == "/":
            return self._chroot_missing_error(path)
        return NoNodeError(f"No node: {parent} (the parent of {path})", path=path)

    def _delete_request(self, path: str, version: int) -> DeleteRequest:
        return _delete_req(self._path(path), _check_version(version))

    def _set_data_request(self, path: str, data: bytes, version: int) -> SetDataRequest:
        return _set_data_req(self._path(path), _check_data(data), _check_version(version))

    def _set_acl_request(self, path: str, acl: Sequence[ACL], version: int) -> SetACLRequest:
        return SetACLRequest(
            path=self._path(path), acl=_check_acl(acl), version=_check_version(version)
        )

    async def _create_persistent(self, path: str, acl: Sequence[ACL] | None) -> None:
        """Create a persistent node with empty data, if it is not there already."""
        op, request = self._create_request(
            path, b"", acl, CreateMode.PERSISTENT, None, with_stat=False
        )
        with suppress(NodeExistsError):
            await self._call(op, request, path)

    async def _ensure_chroot(self, acl: Sequence[ACL] | None) -> None:
        """Create the chroot node and its missing ancestors (outside the chroot).

        Each gets ``acl`` if given, else the default ACL for ``/`` (the
        chroot node is this client's root).
        """
        node_acl = _check_acl(self._acl(acl, "/"))
        parts = self._chroot.prefix.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            request = CreateRequest(
                path="/" + "/".join(parts[:i]),
                data=b"",
                acl=node_acl,
                flags=CreateMode.PERSISTENT,
            )
            with suppress(NodeExistsError):
                await self._session.call(OpCode.CREATE, request)

    # ============================================================ creating
    def _create_request(
        self,
        path: str,
        data: bytes,
        acl: Sequence[ACL] | None,
        mode: CreateMode,
        ttl: int | None,
        *,
        with_stat: bool,
    ) -> tuple[int, object]:
        mode = CreateMode(mode)
        server_path = self._path(path, sequential=mode.is_sequential)
        data = _check_data(data)
        acl_t = _check_acl(self._acl(acl, path))
        if mode.is_ttl:
            if ttl is None:
                raise ValueError(f"mode {mode.name} needs ttl= (milliseconds)")
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= MAX_TTL_MS:
                raise ValueError(
                    f"ttl must be an int in (0, {MAX_TTL_MS}] milliseconds, not {ttl!r}"
                )
            return OpCode.CREATE_TTL, CreateTTLRequest(
                path=server_path, data=data, acl=acl_t, flags=mode, ttl=ttl
            )
        if ttl is not None:
            raise ValueError(f"ttl= is only valid with a TTL mode, not {mode.name}")
        request = _create_req(server_path, data, acl_t, mode)
        if mode is CreateMode.CONTAINER:
            return OpCode.CREATE_CONTAINER, request
        return (OpCode.CREATE2 if with_stat else OpCode.CREATE), request

    async def create(
        self,
        path: str,
        data: bytes = b"",
        *,
        acl: Sequence[ACL] | None = None,
        mode: CreateMode = CreateMode.PERSISTENT,
        ttl: int | None = None,
        makepath: bool = False,
    ) -> str:
        """Create a node.

        Args:
            path: The node's path. For a sequential mode the server appends a
                10-digit counter (the path may then end with ``/``).
            data: The node's data.
            acl: Its access-control list; by default the client's
                ``default_acl`` (see :meth:`acl_for`).
            mode: PERSISTENT, EPHEMERAL, the SEQUENTIAL variants, CONTAINER,
                or a TTL mode.
            ttl: For the TTL modes: milliseconds without change (and without
                children) after which the server may delete the node. Needs
                ``zookeeper.extendedTypesEnabled=true`` on the server.
            makepath: Create missing parent nodes (as persistent nodes, with
                ``acl`` if given, else each with the client's default ACL).

        Returns:
            The path of the created node (with its sequence suffix).

        Raises:
            NodeExistsError: The node exists.
            NoNodeError: The parent does not exist (and ``makepath`` is false).
            NoChildrenForEphemeralsError: The parent is ephemeral.
            UnimplementedError: A TTL mode on a server without extended types.
        """
        path_out, _ = await self._create(path, data, acl, mode, ttl, makepath, with_stat=False)
        return path_out

    async def create2(
        self,
        path: str,
        data: bytes = b"",
        *,
        acl: Sequence[ACL] | None = None,
        mode: CreateMode = CreateMode.PERSISTENT,
        ttl: int | None = None,
        makepath: bool = False,
    ) -> tuple[str, Stat]:
        """Like :meth:`create`, and also return the new node's :class:`Stat` (op create2).

        Returns:
            The path of the created node and its Stat.
        """
        path_out, stat = await self._create(path, data, acl, mode, ttl, makepath, with_stat=True)
        assert stat is not None
        return path_out, stat

    async def _create(
        self,
        path: str,
        data: bytes,
        acl: Sequence[ACL] | None,
        mode: CreateMode,
        ttl: int | None,
        makepath: bool,
        *,
        with_stat: bool,
    ) -> tuple[str, Stat | None]:
        op, request = self._create_request(path, data, acl, mode, ttl, with_stat=with_stat)
        try:
            response = await self._call(op, request, path)
        except NoNodeError:
            if not makepath:
                raise await self._no_parent_error(path) from None
            parent = path.rsplit("/", 1)[0] or "/"
            await self.ensure_path(parent, acl=acl)
            try:
                response = await self._call(op, request, path)
            except NoNodeError:
                # The parent went again meanwhile (deleted by another client).
                raise await self._no_parent_error(path) from None
        if isinstance(response, Create2Response):
            return self._strip(response.path), response.stat
        assert isinstance(response, CreateResponse)
        return self._strip(response.path), None

    async def ensure_path(self, path: str, *, acl: Sequence[ACL] | None = None) -> None:
        """Create ``path`` and any missing parents as persistent nodes (``mkdir -p``).

        Nodes that already exist are left as they are. With a chroot in the
        connect string, a missing chroot node (and its missing ancestors) is
        created too, as the client's root ``/``: ``ensure_path("/")`` makes
        just the chroot.

        Args:
            path: The node to create.
            acl: The ACL of every node created; by default each gets the
                client's default ACL for its path (see :meth:`acl_for`).
        """
        validate_path(path)
        if acl is not None:
            _check_acl(acl)
        if await self.exists(path) is not None:
            return
        if path == "/":
            # Only a chroot can be missing: "/" itself always exists.
            await self._ensure_chroot(acl)
            return
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            node = "/" + "/".join(parts[:i])
            try:
                await self._create_persistent(node, acl)
            except NoNodeError:
                if i > 1 or not self._chroot:
                    raise await self._no_parent_error(node) from None
                await self._ensure_chroot(acl)
                await self._create_persistent(node, acl)

    # ============================================================ deleting
    async def delete(self, path: str, version: int = -1, *, recursive: bool = False) -> None:
        """Delete a node.

        Args:
            path: The node.
            version: Delete only if the node has this version (-1: any).
            recursive: Delete the node's descendants first (not atomic:
                concurrent creates below it can make this fail with
                NotEmptyError). ``version`` then applies to ``path`` only.

        Raises:
            NoNodeError: The node does not exist.
            BadVersionError: The version does not match.
            NotEmptyError: The node has children (and ``recursive`` is false).
        """
        request = self._delete_request(path, version)
        if recursive:
            await self._delete_children(path)
        await self._call(OpCode.DELETE, request, path)

    async def _delete_children(self, path: str) -> None:
        # Iterative and pipelined (any depth; few round trips): see _tree.
        # The server's own subtree, which it refuses to delete.
        from ._tree import delete_subtree  # loaded on first use

        await delete_subtree(self, path, skip=() if self._chroot else ("/zookeeper",))

    # ============================================================== reading
    async def exists(self, path: str) -> Stat | None:
        """The node's :class:`Stat`, or None if it does not exist."""
        stat: Stat | None = await self._read(OpCode.EXISTS, path, None)
        return stat

    async def get_data(self, path: str) -> tuple[bytes, Stat]:
        """The node's data and :class:`Stat`.

        A node created with null data (by another client) reads as ``b""``.

        Raises:
            NoNodeError: The node does not exist.
        """
        result: tuple[bytes, Stat] = await self._read(OpCode.GET_DATA, path, None)
        return result

    async def get_children(self, path: str) -> list[str]:
        """The names of the node's children (in no particular order).

        Raises:
            NoNodeError: The node does not exist.
        """
        children: list[str] = await self._read(OpCode.GET_CHILDREN, path, None)
        return children

    async def get_children2(self, path: str) -> tuple[list[str], Stat]:
        """The node's children and its :class:`Stat` (op getChildren2).

        Raises:
            NoNodeError: The node does not exist.
        """
        result: tuple[list[str], Stat] = await self._read(OpCode.GET_CHILDREN2, path, None)
        return result

    def walk(
        self,
        path: str,
        *,
        data: bool = False,
        acl: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        skip: Sequence[str] = (),
        on_error: ErrorHook | None = None,
    ) -> AbstractAsyncContextManager[trio.abc.ReceiveChannel[TreeNode]]:
        """Read the whole subtree under ``path``, many nodes at once.

        ``async with zk.walk("/app", data=True) as nodes: async for node in nodes: ...``
        receives a :class:`TreeNode` for ``path`` and for every descendant, in
        sorted depth-first pre-order (a node before its children, siblings by
        name), each as soon as it and every node before it are read. The walk
        is iterative (a tree of any depth is fine) and keeps up to
        ``concurrency`` nodes' reads in flight, so a wide tree takes few
        round trips; a chain still needs one round trip per level. The task
        that receives does the reading, in one :meth:`pipeline` (no task is
        started, none per node), and a cancelled receive loses nothing.
        Leaving the block early stops the walk (the reads on their way are
        abandoned). It is not a snapshot: nodes changed while it runs are
        seen as they are when read.

        Args:
            path: The subtree's root.
            data: Also read each node's data (:attr:`TreeNode.data`).
            acl: Also read each node's ACL (:attr:`TreeNode.acl`).
            concurrency: How many nodes are read at once (at least 1).
            skip: Paths left out with their subtrees (e.g. ``"/zookeeper"``).
            on_error: ``on_error(path, error)`` is called when a descendant
                cannot be read (e.g. NoAuthError); that node and its subtree
                are left out and the walk goes on. Without it, such an error
                ends the walk. A descendant deleted during the walk is simply
                left out; a read cut by a lost connection is repeated after
                the client reconnects (a few times).

        Returns:
            An async context manager giving a channel of :class:`TreeNode`.

        Raises:
            NoNodeError: ``path`` does not exist (when the walk starts).
            ZooKeeperError: ``path`` (or, without ``on_error``, a descendant)
                cannot be read, or the session failed.
            ValueError: ``concurrency`` is less than 1.
        """
        validate_path(path)
        from ._tree import walk_tree  # loaded on first use

        return walk_tree(
            self,
            path,
            data=data,
            acl=acl,
            concurrency=concurrency,
            skip=skip,
            on_error=on_error,
        )

    async def get_all_children_number(self, path: str) -> int:
        """The number of descendants of the node, at any depth (ZooKeeper 3.6+)."""
        request = GetAllChildrenNumberRequest(path=self._path(path))
        response: GetAllChildrenNumberResponse = await self._call(
            OpCode.GET_ALL_CHILDREN_NUMBER, request, path
        )
        return response.total_number

    async def get_ephemerals(self, prefix: str = "/") -> list[str]:
        """The paths of this session's ephemeral nodes under ``prefix`` (ZooKeeper 3.6+)."""
        request = GetEphemeralsRequest(prefix_path=self._path(prefix))
        response: GetEphemeralsResponse = await self._call(OpCode.GET_EPHEMERALS, request, prefix)
        return [self._strip(p) for p in response.ephemerals or ()]

    async def sync(self, path: str = "/") -> str:
        """Wait until the server this client talks to has caught up with the leader.

        A read after ``sync`` sees every write that completed before the sync
        was sent (barring a leader change meanwhile). ZooKeeper reads are
        sequentially consistent, not linearizable: without ``sync``, a
        follower may serve a slightly older state (never older than what this
        session has already seen).

        Returns:
            The path, as the server echoes it.
        """
        response: SyncResponse = await self._call(
            OpCode.SYNC, SyncRequest(path=self._path(path)), path
        )
        return self._strip(response.path)

    # ============================================================== writing
    async def set_data(self, path: str, data: bytes, version: int = -1) -> Stat:
        """Replace the node's data.

        Args:
            path: The node.
            data: The new data.
            version: Write only if the node has this version (-1: any).

        Returns:
            The node's new :class:`Stat`.

        Raises:
            NoNodeError: The node does not exist.
            BadVersionError: The version does not match.
        """
        request = self._set_data_request(path, data, version)
        return stat_result(await self._call(OpCode.SET_DATA, request, path))

    async def get_acl(self, path: str) -> tuple[list[ACL], Stat]:
        """The node's ACL and :class:`Stat`."""
        return acl_result(
            await self._call(OpCode.GET_ACL, GetACLRequest(path=self._path(path)), path)
        )

    async def set_acl(self, path: str, acl: Sequence[ACL], version: int = -1) -> Stat:
        """Replace the node's ACL if its ACL version (``aversion``) matches.

        Returns:
            The node's new :class:`Stat`.
        """
        request = self._set_acl_request(path, acl, version)
        return stat_result(await self._call(OpCode.SET_ACL, request, path))

    async def add_auth(self, scheme: str, credential: str | bytes) -> None:
        """Authenticate this session, e.g. ``add_auth("digest", "user:password")``.

        The credentials are re-sent on every reconnect. ``digest`` credentials
        are never rejected here: wrong ones only show up as NoAuthError when
        they fail to match an ACL.

        Raises:
            AuthFailedError: the server rejected the scheme; the session is
                then over (the state becomes AUTH_FAILED).
        """
        if isinstance(credential, str):
            credential = credential.encode()
        await self._session.authenticate(scheme, credential)

    async def who_am_i(self) -> list[ClientInfo]:
        """The identities this session is authenticated as (ZooKeeper 3.7+)."""
        response: WhoAmIResponse = await self._call(OpCode.WHO_AM_I, Empty(), None)
        return list(response.client_info or ())

    # ======================================================= configuration
    async def get_config(self) -> tuple[bytes, Stat]:
        """The ensemble's dynamic configuration (``/zookeeper/config``)."""
        return await self._get_config(None)

    async def _get_config(self, watcher: WatchEvents | None) -> tuple[bytes, Stat]:
        # The config node lies outside any chroot: its path is never prefixed.
        path = CONFIG_NODE
        request = GetDataRequest(path=path, watch=watcher is not None)
        result: tuple[bytes, Stat] = await self._read(
            OpCode.GET_DATA, path, watcher, request=request
        )
        return result

    async def reconfig(
        self,
        *,
        joining: str | None = None,
        leaving: str | None = None,
        new_members: str | None = None,
        from_config: int = -1,
    ) -> tuple[bytes, Stat]:
        """Change the ensemble's membership (needs ``reconfigEnabled`` and super rights).

        Returns:
            The new configuration and its Stat.
        """
        request = ReconfigRequest(
            joining_servers=joining,
            leaving_servers=leaving,
            new_members=new_members,
            cur_config_id=from_config,
        )
        response: GetDataResponse = await self._call(OpCode.RECONFIG, request, None)
        return response.data or b"", response.stat

    # ============================================================== watches
    def watch(self) -> WatchingClient:
        """Operations that leave a one-shot watch whose event goes to :attr:`default_watcher`.

        ``stat = await zk.watch().exists("/a")``
        """
        return WatchingClient(self)

    def with_watcher(self) -> WithWatcherClient:
        """Operations that leave a one-shot watch with its own channel.

        ``(data, stat), events = await zk.with_watcher().get_data("/b")``;
        ``event = await events.receive()``. The channel may first carry
        session events (DISCONNECTED, SYNC_CONNECTED); it ends after the node
        event, or with an EXPIRED/CLOSED event if the watch can no longer fire.
        """
        return WithWatcherClient(self, self._watch_buffer)

    @asynccontextmanager
    async def add_watch(
        self, path: str, mode: AddWatchMode = AddWatchMode.PERSISTENT
    ) -> AsyncIterator[WatchEvents]:
        """A persistent (optionally recursive) watch for the duration of the block.

        Persistent watches are not one-shot: they deliver every change until
        the block exits, which removes them from the server. A recursive watch
        covers the whole subtree but never reports NODE_CHILDREN_CHANGED. After
        a reconnect the watch is re-added and the channel receives a
        SYNC_CONNECTED session event: changes made while disconnected are
        *not* replayed, so re-read what you need. Needs ZooKeeper 3.6+.

        One-shot watches on the same path keep working alongside (see
        :doc:`/guides/watches` for how, on servers before 3.9).

        Yields:
            The :class:`WatchEvents` channel of this watch.

        Raises:
            UnimplementedError: A server before 3.9 cannot hold a persistent
                and a recursive watch of one session on the same path.
        """
        async with self._watches.persistent(
            path, AddWatchMode(mode), self._watch_buffer
        ) as watcher:
            yield watcher

    async def remove_watches(
        self, path: str, watcher_type: WatcherType = WatcherType.ANY, *, local: bool = False
    ) -> None:
        """Remove this session's watches of a kind on ``path``.

        Local watchers of that kind on the path receive a
        ``DATA_WATCH_REMOVED``, ``CHILD_WATCH_REMOVED`` or
        ``PERSISTENT_WATCH_REMOVED`` event and end (the :attr:`default_watcher`
        gets the event and stays open). ``WatcherType.DATA`` and ``CHILDREN``
        remove one-shot watches only: a persistent watch on the path stays
        armed. ``PERSISTENT`` and ``PERSISTENT_RECURSIVE`` also work on
        servers before 3.9, which cannot remove them by type.

        With ``local=True`` (Java's ``local``, zkCli's ``removewatches -l``),
        this client's watchers are removed even when the server cannot be
        asked: at once while the client is not connected, and whatever the
        server answers (the connection lost meanwhile, say) when it is. The
        server forgets the watches at the latest when the client connects
        again, since the re-registration leaves them out.

        Raises:
            NoWatcherError: There is no such watch (also: ``DATA`` or
                ``CHILDREN`` on a path with a persistent watch of this client
                but no such one-shot watch); with ``local=True``: this client
                has no such watcher.
        """
        if not isinstance(local, bool):
            raise TypeError(f"local must be a bool, not {type(local).__name__}")
        await self._watches.remove(path, WatcherType(watcher_type), local=local)

    async def check_watches(self, path: str, watcher_type: WatcherType = WatcherType.ANY) -> bool:
        """Whether the server holds a watch of this kind on ``path`` for this session.

        A server before 3.9 cannot check the types ``PERSISTENT`` and
        ``PERSISTENT_RECURSIVE``: it then says whether this client has such a
        watch there and the server holds some watch of the path.
        """
        return await self._watches.check(path, WatcherType(watcher_type))

    @asynccontextmanager
    async def watch_data(
        self, path: str
    ) -> AsyncIterator[AsyncIterator[tuple[bytes, Stat] | None]]:
        """Follow a node's data: the current value, then the value after each change.

        The trio way of kazoo's ``DataWatch``. Each iteration yields
        ``(data, stat)``, or ``None`` while the node does not exist. ZooKeeper
        watches are one-shot, so changes that happen while a value is being
        re-read are coalesced: you always get the *latest* value, not
        necessarily every intermediate one. Across a reconnect the watch
        survives (changes made meanwhile are reported); after a session
        expiry the value is simply re-read. Leaving the block removes the
        server-side watch when no other watcher of this client needs it.

        Yields:
            An async iterator of values.
        """
        follower = _Follower(self, path, children=False)
        try:
            yield follower
        finally:
            await follower.aclose()

    @asynccontextmanager
    async def watch_children(self, path: str) -> AsyncIterator[AsyncIterator[list[str] | None]]:
        """Follow a node's children: the current list, then the list after each change.

        Yields ``None`` while the node does not exist. Same coalescing and
        reconnect rules as :meth:`watch_data`.

        Yields:
            An async iterator of sorted child-name lists.
        """
        follower = _Follower(self, path, children=True)
        try:
            yield follower
        finally:
            await follower.aclose()

    # ========================================================= transactions
    def multi(self) -> Transaction:
        """Start an atomic transaction: ``await zk.multi().create(...).delete(...).run()``."""
        return Transaction(self)

    def multi_read(self) -> MultiRead:
        """Several reads in one round trip.

        ``await zk.multi_read().get_data(a).get_children(b).run()``
        """
        return MultiRead(self)

    def pipeline(self) -> Pipeline:
        """Send requests now and take their replies later, in an ``async with`` block.

        ``async with zk.pipeline() as pipe:`` gives a :class:`Pipeline`, whose
        methods send a request at once (in order) and return a
        :class:`Pending` reply: several requests in one round trip, with no
        task per request. Unlike :meth:`multi`, each request succeeds or fails
        on its own, and writes and reads mix. Leaving the block waits for the
        replies; when it raises, the replies not yet come are abandoned.
        """
        from ._pipeline import Pipeline  # loaded on first use

        return Pipeline(self)


@final
class WatchingClient:
    """The read operations of a client, each leaving a one-shot watch on the default watcher.

    Made by :meth:`ZooKeeper.watch`. Each method returns what the
    :class:`ZooKeeper` method of the same name returns, and the watch's event
    arrives on :attr:`ZooKeeper.default_watcher`. A watch is set even when
    ``exists`` finds no node (it then fires on creation); ``get_data`` and
    ``get_children`` on a missing node raise :class:`NoNodeError` and set no
    watch.
    """

    __slots__ = ("_zk",)

    def __init__(self, zk: ZooKeeper) -> None:
        self._zk = zk

    async def exists(self, path: str) -> Stat | None:
        """:meth:`ZooKeeper.exists`, watching for creation, deletion or data change."""
        zk = self._zk
        return await zk._read(OpCode.EXISTS, path, zk.default_watcher)  # type: ignore[no-any-return]

    async def get_data(self, path: str) -> tuple[bytes, Stat]:
        """:meth:`ZooKeeper.get_data`, watching for deletion or data change."""
        zk = self._zk
        return await zk._read(OpCode.GET_DATA, path, zk.default_watcher)  # type: ignore[no-any-return]

    async def get_children(self, path: str) -> list[str]:
        """:meth:`ZooKeeper.get_children`, watching for child changes or deletion."""
        zk = self._zk
        return await zk._read(OpCode.GET_CHILDREN, path, zk.default_watcher)  # type: ignore[no-any-return]

    async def get_children2(self, path: str) -> tuple[list[str], Stat]:
        """:meth:`ZooKeeper.get_children2`, watching for child changes or deletion."""
        zk = self._zk
        return await zk._read(OpCode.GET_CHILDREN2, path, zk.default_watcher)  # type: ignore[no-any-return]


@final
class WithWatcherClient:
    """The read operations of a client, each leaving a one-shot watch with its own channel.

    Made by :meth:`ZooKeeper.with_watcher`. Each method returns a pair
    ``(result, events)``: what the :class:`ZooKeeper` method of the same name
    returns, and the :class:`WatchEvents` channel of that one watch. A watch
    is set even when ``exists`` finds no node (it then fires on creation);
    ``get_data`` and ``get_children`` on a missing node raise
    :class:`NoNodeError` and set no watch.
    """

    __slots__ = ("_buffer", "_zk")

    def __init__(self, zk: ZooKeeper, buffer: int) -> None:
        self._zk = zk
        self._buffer = buffer

    def _watcher(self) -> WatchEvents:
        return WatchEvents(max_buffer=self._buffer, one_shot=True)

    # Each method awaits the read itself (one coroutine, ZooKeeper._read, in
    # between): a task per watching read in flight, thousands at once, and
    # each frame counts.
    async def exists(self, path: str) -> tuple[Stat | None, WatchEvents]:
        """:meth:`ZooKeeper.exists`, watching for creation, deletion or data change."""
        return await self._zk._read(OpCode.EXISTS, path, self._watcher(), own=True)  # type: ignore[no-any-return]

    async def get_data(self, path: str) -> tuple[tuple[bytes, Stat], WatchEvents]:
        """:meth:`ZooKeeper.get_data`, watching for deletion or data change."""
        return await self._zk._read(OpCode.GET_DATA, path, self._watcher(), own=True)  # type: ignore[no-any-return]

    async def get_children(self, path: str) -> tuple[list[str], WatchEvents]:
        """:meth:`ZooKeeper.get_children`, watching for child changes or deletion."""
        return await self._zk._read(OpCode.GET_CHILDREN, path, self._watcher(), own=True)  # type: ignore[no-any-return]

    async def get_children2(self, path: str) -> tuple[tuple[list[str], Stat], WatchEvents]:
        """:meth:`ZooKeeper.get_children2`, watching for child changes or deletion."""
        return await self._zk._read(OpCode.GET_CHILDREN2, path, self._watcher(), own=True)  # type: ignore[no-any-return]


class _Follower:
    """The iterator behind ``watch_data`` / ``watch_children``."""

    def __init__(self, zk: ZooKeeper, path: str, *, children: bool) -> None:
        validate_path(path)
        self._zk = zk
        self._path = path
        self._children = children
        self._watcher: WatchEvents | None = None
        self._closed = False

    def __aiter__(self) -> _Follower:
        return self

    async def _read(self) -> Any:
        zk = self._zk
        while True:
            watcher = WatchEvents(max_buffer=64, one_shot=True)
            self._watcher = watcher
            try:
                if self._children:
                    return sorted(await zk._read(OpCode.GET_CHILDREN, self._path, watcher))
                return await zk._read(OpCode.GET_DATA, self._path, watcher)
            except NoNodeError:
                # Watch for creation instead; if it appeared meanwhile, re-read.
                if await zk._read(OpCode.EXISTS, self._path, watcher) is None:
                    return None

    async def __anext__(self) -> Any:
        if self._closed:
            raise StopAsyncIteration
        watcher = self._watcher
        if watcher is not None:
            while True:
                try:
                    event = await watcher.receive()
                except trio.EndOfChannel:
                    break
                except ZooKeeperError:
                    break  # overflow: re-read
                if event.event_type is not EventType.NONE:
                    break
                if event.keeper_state in (KeeperState.EXPIRED, KeeperState.AUTH_FAILED):
                    await self._zk.wait_connected()
                    break
                if event.keeper_state is KeeperState.CLOSED:
                    raise StopAsyncIteration
        return await self._read()

    async def aclose(self) -> None:
        self._closed = True
        watcher = self._watcher
        if watcher is None:
            return
        await self._zk._watches.close_one_shot(watcher)


def _multi_result(op: int, err: int, response: object, strip: Callable[[str], str]) -> object:
    if err != 0 or op == OpCode.ERROR:
        return error_for_code(err)
    if isinstance(response, CreateResponse):
        return strip(response.path)
    if isinstance(response, Create2Response):
        return (strip(response.path), response.stat)
    if isinstance(response, SetDataResponse):
        return stat_result(response)
    if isinstance(response, GetDataResponse):
        return data_result(response)
    if isinstance(response, GetChildrenResponse):
        return children_result(response)
    return None


class Transaction:
    """An atomic multi: every operation is applied, or none is.

    Build it with the chainable methods, then ``await transaction.run()``.
    """

    def __init__(self, zk: ZooKeeper) -> None:
        self._zk = zk
        self._ops: list[MultiOp] = []
        self._paths: list[str] = []
        self._committed = False

    def _add(self, op: int, request: object, path: str) -> Transaction:
        if self._committed:
            raise RuntimeError("this transaction has already been run")
        self._ops.append(MultiOp(op=op, request=request))
        self._paths.append(path)
        return self

    def create(
        self,
        path: str,
        data: bytes = b"",
        *,
        acl: Sequence[ACL] | None = None,
        mode: CreateMode = CreateMode.PERSISTENT,
        ttl: int | None = None,
    ) -> Transaction:
        """Add a create; its result is the created path (a ``(path, Stat)`` for TTL/container)."""
        op, request = self._zk._create_request(path, data, acl, mode, ttl, with_stat=False)
        return self._add(op, request, path)

    def delete(self, path: str, version: int = -1) -> Transaction:
        """Add a delete; its result is None."""
        return self._add(OpCode.DELETE, self._zk._delete_request(path, version), path)

    def set_data(self, path: str, data: bytes, version: int = -1) -> Transaction:
        """Add a set_data; its result is the new :class:`Stat`."""
        return self._add(OpCode.SET_DATA, self._zk._set_data_request(path, data, version), path)

    def check(self, path: str, version: int) -> Transaction:
        """Add a version check: the transaction fails unless ``path`` has ``version``."""
        request = CheckVersionRequest(path=self._zk._path(path), version=_check_version(version))
        return self._add(OpCode.CHECK, request, path)

    async def run(self) -> list[object]:
        """Apply the transaction.

        Returns:
            One result per operation, in order.

        Raises:
            ServerError: The failing operation's error (e.g. BadVersionError),
                with ``results`` holding every operation's outcome: a
                RolledBackError for the operations before it, its own error,
                RuntimeInconsistencyError for the ones after. Nothing was applied.
        """
        if self._committed:
            raise RuntimeError("this transaction has already been run; build a new one")
        self._committed = True
        if not self._ops:
            await trio.lowlevel.checkpoint()
            return []
        response: MultiResponse = await self._zk._call(
            OpCode.MULTI, MultiRequest(ops=tuple(self._ops)), None
        )
        strip = self._zk._strip
        results = [_multi_result(r.op, r.err, r.response, strip) for r in response.results]
        if len(results) != len(self._ops):
            raise ZooKeeperInternalError(
                f"multi of {len(self._ops)} operations got {len(results)} results"
            )
        for index, (result, r) in enumerate(zip(results, response.results, strict=True)):
            if isinstance(result, ServerError) and r.err not in (
                0,
                ErrorCode.RUNTIME_INCONSISTENCY,
            ):
                error = error_for_code(r.err, path=self._paths[index], results=results)
                raise error
        return results


class MultiRead:
    """Several reads answered together (op multiRead, ZooKeeper 3.6+).

    Unlike a transaction, each read succeeds or fails on its own.
    """

    def __init__(self, zk: ZooKeeper) -> None:
        self._zk = zk
        self._ops: list[MultiOp] = []

    def get_data(self, path: str) -> MultiRead:
        """Add a get_data; its result is ``(data, stat)``."""
        request = GetDataRequest(path=self._zk._path(path), watch=False)
        self._ops.append(MultiOp(op=OpCode.GET_DATA, request=request))
        return self

    def get_children(self, path: str) -> MultiRead:
        """Add a get_children; its result is the list of names."""
        request = GetChildrenRequest(path=self._zk._path(path), watch=False)
        self._ops.append(MultiOp(op=OpCode.GET_CHILDREN, request=request))
        return self

    async def run(self) -> list[object]:
        """Run the reads.

        Returns:
            One result per read, in order. Each is the read's value, or
            the exception of that read (e.g. a :class:`NoNodeError` instance).
        """
        if not self._ops:
            await trio.lowlevel.checkpoint()
            return []
        response: MultiResponse = await self._zk._call(
            OpCode.MULTI_READ, MultiRequest(ops=tuple(self._ops)), None
        )
        strip = self._zk._strip
        return [_multi_result(r.op, r.err, r.response, strip) for r in response.results]


@asynccontextmanager
async def open_zookeeper(
    hosts: str,
    *,
    session_timeout: float = 10.0,
    auth: Iterable[tuple[str, str | bytes]] = (),
    read_only: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    reconnect_after_expiry: bool = True,
    session_id: int | None = None,
    session_password: bytes | None = None,
    sasl: SaslMechanism | tuple[str, str] | None = None,
    randomize_hosts: bool = True,
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    watch_buffer: int = 1024,
    close_timeout: float = 2.0,
    connect_rounds: int | None = None,
    stream_factory: StreamFactory | None = None,
    default_acl: Sequence[ACL] | ACLProvider | None = None,
    reconnect_backoff: Backoff | None = None,
    track_ensemble: bool = False,
    tracer: Tracer | None = None,
) -> AsyncIterator[ZooKeeper]:
    """Connect to a ZooKeeper ensemble for the duration of an ``async with`` block.

    Entering the block waits until a session is established: by default for
    as long as it takes (bound it with ``trio.fail_after``), or, with
    ``connect_rounds``, until every host has failed that many times, when
    :exc:`ConnectFailedError` says why each one failed. Every failed
    connection attempt is logged at WARNING on the ``trio_zookeeper.session``
    logger with its cause (at most once a minute per host). Leaving it closes
    the session, so its ephemeral nodes disappear at once, and ends every
    background task: nothing outlives the block.

    Args:
        hosts: The connect string, ``"h1:2181,h2:2181,[::1]:2181/optional/chroot"``.
        session_timeout: The requested session timeout in seconds; the server
            clamps it to its [min, max] (by default 2 and 20 ticks).
        auth: ``(scheme, credential)`` pairs sent on every connection before
            anything else, e.g. ``[("digest", "user:password")]``.
        read_only: Accept read-only servers when no majority is reachable:
            reads work, writes raise NotReadOnlyError, and the client keeps
            looking for a read-write server.
        ssl_context: Use TLS (ZooKeeper's secure client port). Host names are
            checked as Python's ``ssl`` module does.
        reconnect_after_expiry: After the session expires (reported on the
            state stream), start a new session (the default, as kazoo and
            Curator do); if False, expiry is final and every call raises
            SessionExpiredError. A new session never goes back in time: it
            is only made on a server that has seen the client's last zxid.
        sasl: A SASL mechanism, :class:`~trio_zookeeper.SaslGSSAPI` (Kerberos) or
            :class:`~trio_zookeeper.SaslDigestMD5`; a ``(username, password)`` tuple means
            ``SaslDigestMD5(username, password)``. It authenticates every
            connection before anything else is sent, and the session is then
            known as ``sasl:<name>`` (the Kerberos principal, or the user
            name). A rejection, or credentials that cannot be obtained, fail
            the session at once with AuthFailedError (never retried).
        session_id: Resume an existing session (with ``session_password``).
        session_password: The password of ``session_id``.
        randomize_hosts: Shuffle the hosts (per client) to spread load.
        max_frame_size: The largest frame accepted (the server's
            ``jute.maxbuffer``, 0xfffff by default).
        watch_buffer: Buffer size of each watcher's channel; an overflowing
            watcher gets WatchOverflowError instead of stalling the client.
        close_timeout: How long closing waits for the server's answer; also
            how long a cancelled open waits for the session it asked for,
            to close it.
        connect_rounds: Give up opening after this many full rounds of the
            host list without a session, raising :exc:`ConnectFailedError`
            (None, the default: keep trying until cancelled). Only the first
            connection is bounded; once open, the client reconnects for as
            long as the session lives.
        stream_factory: A test seam: ``async (host, port) -> trio.abc.Stream``
            used instead of TCP.
        default_acl: The ACL of every node this client creates without an
            explicit ``acl=``: ``create``, the parents made by ``makepath``
            and ``ensure_path``, and every recipe's nodes. Either one ACL (a
            sequence of :class:`ACL` entries) or a provider, a function of
            the node's path (relative to the chroot) returning its ACL.
            ``OPEN_ACL_UNSAFE`` when not given. An ACL that leaves out the
            session's own identity makes nodes it cannot read back: see the
            ACL section of the TLS and authentication guide.
        reconnect_backoff: The pause policy between connection attempts
            (:class:`Backoff`; the default is ``Backoff()``: up to 1 s before
            each reconnect, and after each full round of hosts without a
            session 1 s, doubling up to 16 s, with jitter). See the ensembles
            and failover guide.
        track_ensemble: Follow the ensemble's own membership: watch
            ``/zookeeper/config`` and apply the members' client addresses
            with :meth:`ZooKeeper.update_hosts` whenever it changes
            (Curator's EnsembleTracker). Needs a server with dynamic
            reconfiguration (3.5+); a configuration without client
            addresses changes nothing.
        tracer: A :class:`Tracer` told of every request (operation, path,
            timing, outcome) and connection event (connecting, connected,
            lost, expired, host list changes); see :doc:`/guides/observability`.
            None (the default) costs nothing.

    Yields:
        The connected :class:`ZooKeeper` client.

    Raises:
        ValueError: The connect string or an option is invalid.
        TypeError: ``sasl`` is neither a mechanism nor a ``(username, password)`` tuple.
        AuthFailedError: The server rejected the credentials, or the SASL
            mechanism could not obtain any (the message says which).
        ConnectFailedError: ``connect_rounds`` rounds of the hosts gave no
            session; its ``causes`` say why, per host.
    """
    connect: ConnectString = parse_connect_string(hosts)
    if not (isinstance(session_timeout, (int, float)) and 0 < session_timeout < math.inf):
        raise ValueError(
            f"session_timeout must be a positive number of seconds, not {session_timeout!r}"
        )
    if watch_buffer < 1:
        raise ValueError("watch_buffer must be at least 1")
    auth_bytes = [(s, c.encode() if isinstance(c, str) else c) for s, c in auth]
    if (session_id is None) != (session_password is None):
        raise ValueError("session_id and session_password go together")
    if reconnect_backoff is not None and not isinstance(reconnect_backoff, Backoff):
        raise TypeError(
            f"reconnect_backoff must be a Backoff, not {type(reconnect_backoff).__name__}"
        )
    if default_acl is None:
        default_acl = OPEN_ACL_UNSAFE
    elif not callable(default_acl):
        default_acl = _check_acl(default_acl)
    session = Session(
        connect,
        session_timeout=float(session_timeout),
        auth=auth_bytes,
        read_only=read_only,
        ssl_context=ssl_context,
        max_frame_size=max_frame_size,
        reconnect_after_expiry=reconnect_after_expiry,
        close_timeout=close_timeout,
        stream_factory=stream_factory,
        rng=_random_source(randomize_hosts),
        session_id=session_id or 0,
        session_password=session_password,
        sasl=sasl,
        reconnect_backoff=reconnect_backoff,
        connect_rounds=connect_rounds,
        tracer=tracer,
    )
    zk = ZooKeeper(session, watch_buffer=watch_buffer, default_acl=default_acl, _private=_PRIVATE)
    body_error: BaseException | None = None
    to_raise: BaseException | None = None
    # Only made with track_ensemble: a cancel scope costs even unused.
    tracker_scope = trio.CancelScope() if track_ensemble else None
    try:
        async with trio.open_nursery() as nursery:
            try:
                # Not nursery.start: the session's task is spawned here at
                # once and reports the hand-over itself (see Session._hand_over).
                nursery.start_soon(session.run)
                try:
                    await session.wait_opened()
                except BaseException:
                    await session.abandon_open()
                    raise
                if tracker_scope is not None:
                    nursery.start_soon(_track_ensemble, zk, tracker_scope)
                try:
                    yield zk
                except BaseException as exc:
                    body_error = exc
            finally:
                if tracker_scope is not None:
                    tracker_scope.cancel()
                await session.close()
    except BaseExceptionGroup as group:
        # Background tasks do not raise in normal operation (they record
        # failures in the session and wake the waiters), so a group here
        # holds the body's own exception, cancellations, or a start-up error.
        leaves = _leaves(group)
        others = [e for e in leaves if e is not body_error and not isinstance(e, trio.Cancelled)]
        # KeyboardInterrupt (and SystemExit) stay what they are, whichever
        # task they landed in (trio raises KeyboardInterrupt in whatever code
        # runs when SIGINT arrives): Ctrl-C must reach the caller as Ctrl-C.
        fatal = [e for e in leaves if not isinstance(e, (Exception, trio.Cancelled))]
        if fatal:
            to_raise = next((e for e in fatal if isinstance(e, KeyboardInterrupt)), fatal[0])
        elif not others:
            to_raise = body_error if body_error is not None else leaves[0]
        elif len(others) == 1 and isinstance(others[0], ZooKeeperError):
            to_raise = others[0]
        else:
            raise ZooKeeperInternalError("a background task of the client failed") from group
    if to_raise is None:
        to_raise = body_error
    if to_raise is not None:
        # Raised outside the except block so the caller's exception keeps its
        # own traceback and chaining, unwrapped.
        raise to_raise


def _random_source(randomize_hosts: bool) -> random.Random:
    """A new client's random source: one shared by every client of the process.

    A function so that tests can give each client a seeded source instead
    (the ``seeded_clients`` fixture).
    """
    return SHARED_RNG if randomize_hosts else SHARED_NO_SHUFFLE


#: The pause after a failed read of the ensemble configuration (the session
#: reconnects meanwhile; this only keeps a broken server from spinning us).
_TRACKER_RETRY = 0.5


async def _track_ensemble(zk: ZooKeeper, scope: trio.CancelScope) -> None:
    """``track_ensemble``: follow ``/zookeeper/config`` into ``update_hosts``.

    Reads the configuration with a watch, applies the members' client
    addresses when they differ from the host list, and reads again on every
    change of the node and after every reconnect (so nothing is missed while
    disconnected). Ends when the client closes.
    """
    session = zk._session
    with scope:
        while True:
            watcher = WatchEvents(max_buffer=64, one_shot=True)
            try:
                await zk.wait_connected()
                data, _ = await zk._get_config(watcher)
                config = parse_dynamic_config(data)
                hosts = config.hosts
                if hosts and set(hosts) != set(session.hosts):
                    log.info(
                        "ensemble configuration version %s lists %s",
                        config.version,
                        config.connect_string(),
                    )
                    session.update_hosts(ConnectString(tuple(hosts), session.chroot.prefix or None))
                async for event in watcher:
                    if event.event_type is not EventType.NONE or event.keeper_state in (
                        KeeperState.SYNC_CONNECTED,
                        KeeperState.CONNECTED_READ_ONLY,
                        KeeperState.EXPIRED,
                    ):
                        break  # changed, or reconnected: read again
            except (trio.ClosedResourceError, trio.EndOfChannel):
                return
            except (ZooKeeperError, ValueError) as exc:
                if session.state is KeeperState.CLOSED:
                    return
                log.warning("could not follow the ensemble configuration: %r", exc)
                await trio.sleep(_TRACKER_RETRY)
            finally:
                watcher.close()


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            out += _leaves(exc)
        else:
            out.append(exc)
    return out
