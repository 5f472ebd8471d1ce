"""A fake ZooKeeper server over trio memory streams, for unit tests.

It speaks the real protocol (through the same sans-IO codec as the client,
server side) and keeps a small in-memory tree, so ordinary operations work;
its purpose is what a real server cannot do on demand: exact timing under
``autojump_clock``, holding or reordering replies, going silent, dropping the
connection mid-request, expiring a session at a chosen instant, and sending
hostile bytes.

Keep it honest: behaviour tests that use it also run against the real server
(the integration suite), so the fake must answer as ZooKeeper does for every
operation it implements.

Use it through :func:`open_fake_zookeeper`::

    async with open_fake_zookeeper() as fake:
        async with open_zookeeper("fake:2181", stream_factory=fake.connect) as zk:
            ...
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import attrs
import trio

from trio_zookeeper._protocol import (
    ClientRequest,
    ConnectRequest,
    ConnectResponse,
    Create2Response,
    CreateMode,
    CreateResponse,
    ErrorCode,
    EventType,
    ExistsResponse,
    GetChildren2Response,
    GetChildrenResponse,
    GetDataResponse,
    KeeperState,
    OpCode,
    RemoteProtocolError,
    ServerProtocol,
    SetDataResponse,
    Stat,
    SyncResponse,
)

__all__ = ["FakeConnection", "FakeZooKeeper", "open_fake_zookeeper"]


@attrs.define
class _Node:
    data: bytes
    stat: Stat
    ephemeral_owner: int = 0
    children: set[str] = attrs.field(factory=set)


@attrs.define
class _FakeSession:
    session_id: int
    password: bytes
    timeout_ms: int
    expired: bool = False


class FakeConnection:
    """One client connection to the fake server.

    Attributes:
        server: The fake server.
        stream: The server's end of the connection.
        session: The session of the connection, once the handshake is done.
        requests: Every request received on this connection, in order.
        closed: Whether the connection is closed.
    """

    def __init__(self, server: FakeZooKeeper, stream: trio.abc.Stream) -> None:
        self.server = server
        self.stream = stream
        self.protocol = ServerProtocol()
        self.session: _FakeSession | None = None
        self.requests: list[ClientRequest] = []
        self.closed = False
        self.data_watches: set[str] = set()
        self.child_watches: set[str] = set()
        self.exist_watches: set[str] = set()

    async def send(self, data: bytes) -> None:
        """Send raw bytes to the client (frames or garbage)."""
        if self.closed:
            return
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.closed = True

    async def close(self) -> None:
        """Drop the connection abruptly."""
        self.closed = True
        await trio.aclose_forcefully(self.stream)


class FakeZooKeeper:
    """A scriptable in-memory ZooKeeper server.

    Attributes:
        connections: Every connection made, in order.
        silent: When true, the server reads but never answers (a hung server).
        lockstep: When true, new connections use a lockstep stream pair, so a
            client's write blocks until the server reads it.
        reading: Cleared to stop the server reading (with ``lockstep``, the
            client's writer then blocks: back-pressure).
        hold_replies: When true, replies to normal requests are kept in
            :attr:`held` instead of being sent; :meth:`release` sends them.
        held: The held ``(connection, reply frame)`` pairs, in order.
        refuse: When true, new connections are closed at once.
        read_only: When true, the server says it is read-only in its
            handshake answers.
        omit_read_only_byte: When true, handshake answers lack the final
            read-only byte, as those of very old servers do.
        min_timeout_ms: The smallest session timeout granted.
        max_timeout_ms: The largest session timeout granted.
        zxid: The server's last zxid.
        sessions: The sessions, by id.
        tree: The nodes, by path.
        request_log: ``(xid, opcode, request)`` of every request received.
        on_request: A hook called with each request before it is answered;
            when it returns true, the request is not answered (the hook may
            answer it itself, or not at all).
    """

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.connections: list[FakeConnection] = []
        self.sessions: dict[int, _FakeSession] = {}
        self.silent = False
        self.hold_replies = False
        self.refuse = False
        self.omit_read_only_byte = False
        self.lockstep = False
        self.reading = trio.Event()
        self.reading.set()
        self.read_only = False
        self.held: list[tuple[FakeConnection, bytes]] = []
        self.min_timeout_ms = 200
        self.max_timeout_ms = 60_000
        self.zxid = 0
        self._next_session = 0x1000
        self.request_log: list[tuple[int, int, object]] = []
        self.on_request: Callable[[FakeConnection, ClientRequest], bool] | None = None
        now = int(time.time() * 1000)
        self.tree: dict[str, _Node] = {
            "/": _Node(b"", _stat(0, 0, now, 0)),
            "/zookeeper": _Node(b"", _stat(0, 0, now, 0)),
        }
        self.tree["/"].children.add("zookeeper")
        self._new_connection = trio.Event()

    # ----------------------------------------------------------- plumbing
    async def connect(self, host: str, port: int) -> trio.abc.Stream:
        """A ``stream_factory`` for ``open_zookeeper``: a new connection."""
        pair = (
            trio.testing.lockstep_stream_pair if self.lockstep else trio.testing.memory_stream_pair
        )
        client: trio.abc.Stream
        server: trio.abc.Stream
        client, server = pair()
        conn = FakeConnection(self, server)
        self.connections.append(conn)
        self._new_connection.set()
        self._new_connection = trio.Event()
        if self.refuse:
            await conn.close()
        else:
            self._nursery.start_soon(self._serve, conn)
        return client

    async def wait_connections(self, count: int) -> FakeConnection:
        """Wait until ``count`` connections were made; return the latest."""
        while len(self.connections) < count:
            await self._new_connection.wait()
        return self.connections[-1]

    @property
    def current(self) -> FakeConnection:
        """The latest connection."""
        return self.connections[-1]

    async def release(self) -> None:
        """Send every held reply, in order."""
        held, self.held = self.held, []
        for conn, frame in held:
            await conn.send(frame)

    def expire(self, session_id: int) -> None:
        """Expire a session now, as the server does when it times out."""
        session = self.sessions.get(session_id)
        if session is not None:
            session.expired = True
        for path in [p for p, n in self.tree.items() if n.ephemeral_owner == session_id]:
            self._delete(path)
        for conn in self.connections:
            if conn.session is not None and conn.session.session_id == session_id:
                self._nursery.start_soon(conn.close)

    async def _serve(self, conn: FakeConnection) -> None:
        try:
            while not conn.closed:
                await self.reading.wait()
                try:
                    data = await conn.stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break
                if not data:
                    break
                try:
                    requests = conn.protocol.receive_data(bytes(data))
                except RemoteProtocolError:
                    break
                for request in requests:
                    conn.requests.append(request)
                    self.request_log.append((request.xid, request.op, request.request))
                    if self.silent:
                        continue
                    if self.on_request is not None and self.on_request(conn, request):
                        continue
                    await self._answer(conn, request)
        finally:
            conn.closed = True
            await trio.aclose_forcefully(conn.stream)

    # ----------------------------------------------------------- answers
    async def _reply(self, conn: FakeConnection, frame: bytes, *, normal: bool = True) -> None:
        if normal and self.hold_replies:
            self.held.append((conn, frame))
            return
        await conn.send(frame)

    async def _answer(self, conn: FakeConnection, req: ClientRequest) -> None:
        op = req.op
        if op == OpCode.CREATE_SESSION:
            await self._handshake(conn, req.request)  # type: ignore[arg-type]
            return
        if op == OpCode.PING:
            await conn.send(ServerProtocol.reply(-2, self.zxid, 0))
            return
        if op == OpCode.AUTH:
            scheme = getattr(req.request, "scheme", "")
            err = ErrorCode.AUTH_FAILED if scheme == "fail" else 0
            await conn.send(ServerProtocol.reply(-4, 0, err))
            if err:
                await conn.close()
            return
        if op in (OpCode.SET_WATCHES, OpCode.SET_WATCHES2):
            await conn.send(ServerProtocol.reply(-8, self.zxid, 0))
            return
        if op == OpCode.CLOSE_SESSION:
            if conn.session is not None:
                self.expire(conn.session.session_id)
            await self._reply(conn, ServerProtocol.reply(req.xid, self.zxid, 0))
            await conn.close()
            return
        err, response, zxid = self._execute(conn, req)
        await self._reply(conn, ServerProtocol.reply(req.xid, zxid, err, response))

    async def _handshake(self, conn: FakeConnection, request: ConnectRequest) -> None:
        if request.last_zxid_seen > self.zxid:
            await conn.close()  # "client must try another server"
            return
        timeout = max(self.min_timeout_ms, min(self.max_timeout_ms, request.time_out))
        session: _FakeSession | None
        if request.session_id:
            session = self.sessions.get(request.session_id)
            if session is None or session.expired or session.password != request.passwd:
                await conn.send(
                    ServerProtocol.connect_response(
                        ConnectResponse(
                            protocol_version=0,
                            time_out=0,
                            session_id=0,
                            passwd=b"\x00" * 16,
                            read_only=False,
                        ),
                        include_read_only=not self.omit_read_only_byte,
                    )
                )
                await conn.close()
                return
        else:
            self._next_session += 1
            session = _FakeSession(self._next_session, os.urandom(16), timeout)
            self.sessions[session.session_id] = session
        conn.session = session
        await conn.send(
            ServerProtocol.connect_response(
                ConnectResponse(
                    protocol_version=0,
                    time_out=session.timeout_ms,
                    session_id=session.session_id,
                    passwd=session.password,
                    read_only=self.read_only,
                ),
                include_read_only=not self.omit_read_only_byte,
            )
        )

    def _execute(self, conn: FakeConnection, req: ClientRequest) -> tuple[int, object | None, int]:
        op, r = req.op, req.request
        path: str = getattr(r, "path", "/")
        node = self.tree.get(path)
        if op in (OpCode.CREATE, OpCode.CREATE2, OpCode.CREATE_CONTAINER, OpCode.CREATE_TTL):
            flags = CreateMode(r.flags)  # type: ignore[attr-defined]
            parent_path = path.rsplit("/", 1)[0] or "/"
            parent = self.tree.get(parent_path)
            if parent is None:
                return ErrorCode.NO_NODE, None, self.zxid
            if parent.ephemeral_owner:
                return ErrorCode.NO_CHILDREN_FOR_EPHEMERALS, None, self.zxid
            if flags.is_sequential:
                path = f"{path}{parent.stat.cversion:010d}"
            if path in self.tree:
                return ErrorCode.NODE_EXISTS, None, self.zxid
            self.zxid += 1
            owner = conn.session.session_id if (conn.session and flags.is_ephemeral) else 0
            data = r.data or b""  # type: ignore[attr-defined]
            now = int(time.time() * 1000)
            new = _Node(data, _stat(self.zxid, owner, now, len(data)), owner)
            self.tree[path] = new
            parent.children.add(path.rsplit("/", 1)[1])
            parent.stat = parent.stat.__replace__(
                cversion=parent.stat.cversion + 1,
                num_children=len(parent.children),
                pzxid=self.zxid,
            )
            self._fire(path, EventType.NODE_CREATED)
            self._fire(parent_path, EventType.NODE_CHILDREN_CHANGED)
            if op == OpCode.CREATE:
                return 0, CreateResponse(path=path), self.zxid
            return 0, Create2Response(path=path, stat=new.stat), self.zxid
        if node is None:
            if op == OpCode.EXISTS and r.watch:  # type: ignore[attr-defined]
                conn.exist_watches.add(path)
            return ErrorCode.NO_NODE, None, self.zxid
        if op == OpCode.DELETE:
            if r.version not in (-1, node.stat.version):  # type: ignore[attr-defined]
                return ErrorCode.BAD_VERSION, None, self.zxid
            if node.children:
                return ErrorCode.NOT_EMPTY, None, self.zxid
            self.zxid += 1
            self._delete(path)
            return 0, None, self.zxid
        if op == OpCode.EXISTS:
            if r.watch:  # type: ignore[attr-defined]
                conn.data_watches.add(path)
            return 0, ExistsResponse(stat=node.stat), self.zxid
        if op == OpCode.GET_DATA:
            if r.watch:  # type: ignore[attr-defined]
                conn.data_watches.add(path)
            return 0, GetDataResponse(data=node.data, stat=node.stat), self.zxid
        if op == OpCode.SET_DATA:
            if r.version not in (-1, node.stat.version):  # type: ignore[attr-defined]
                return ErrorCode.BAD_VERSION, None, self.zxid
            self.zxid += 1
            node.data = r.data or b""  # type: ignore[attr-defined]
            node.stat = node.stat.__replace__(
                mzxid=self.zxid,
                version=node.stat.version + 1,
                data_length=len(node.data),
                mtime=int(time.time() * 1000),
            )
            self._fire(path, EventType.NODE_DATA_CHANGED)
            return 0, SetDataResponse(stat=node.stat), self.zxid
        if op in (OpCode.GET_CHILDREN, OpCode.GET_CHILDREN2):
            if r.watch:  # type: ignore[attr-defined]
                conn.child_watches.add(path)
            names = tuple(sorted(node.children))
            if op == OpCode.GET_CHILDREN:
                return 0, GetChildrenResponse(children=names), self.zxid
            return 0, GetChildren2Response(children=names, stat=node.stat), self.zxid
        if op == OpCode.SYNC:
            return 0, SyncResponse(path=path), self.zxid
        return ErrorCode.UNIMPLEMENTED, None, self.zxid

    def _delete(self, path: str) -> None:
        node = self.tree.pop(path, None)
        if node is None:
            return
        parent_path = path.rsplit("/", 1)[0] or "/"
        parent = self.tree.get(parent_path)
        if parent is not None:
            parent.children.discard(path.rsplit("/", 1)[1])
            parent.stat = parent.stat.__replace__(
                cversion=parent.stat.cversion + 1,
                num_children=len(parent.children),
                pzxid=self.zxid,
            )
        self._fire(path, EventType.NODE_DELETED)
        self._fire(parent_path, EventType.NODE_CHILDREN_CHANGED)

    def _fire(self, path: str, event_type: EventType) -> None:
        for conn in self.connections:
            if conn.closed:
                continue
            fire = False
            if event_type in (EventType.NODE_CREATED, EventType.NODE_DATA_CHANGED):
                fire = path in conn.data_watches or path in conn.exist_watches
                conn.data_watches.discard(path)
                conn.exist_watches.discard(path)
            elif event_type is EventType.NODE_DELETED:
                fire = (
                    path in conn.data_watches
                    or path in conn.child_watches
                    or (path in conn.exist_watches)
                )
                conn.data_watches.discard(path)
                conn.child_watches.discard(path)
                conn.exist_watches.discard(path)
            elif event_type is EventType.NODE_CHILDREN_CHANGED:
                fire = path in conn.child_watches
                conn.child_watches.discard(path)
            if fire:
                frame = ServerProtocol.notification(event_type, KeeperState.SYNC_CONNECTED, path)
                self._nursery.start_soon(conn.send, frame)


def _stat(zxid: int, owner: int, now: int, length: int) -> Stat:
    return Stat(
        czxid=zxid,
        mzxid=zxid,
        ctime=now,
        mtime=now,
        version=0,
        cversion=0,
        aversion=0,
        ephemeral_owner=owner,
        data_length=length,
        num_children=0,
        pzxid=zxid,
    )


@asynccontextmanager
async def open_fake_zookeeper() -> AsyncIterator[FakeZooKeeper]:
    """Run a :class:`FakeZooKeeper` for the duration of the block.

    Yields:
        The fake server; pass ``fake.connect`` as ``stream_factory``.
    """
    async with trio.open_nursery() as nursery:
        fake = FakeZooKeeper(nursery)
        try:
            yield fake
        finally:
            for conn in fake.connections:
                conn.closed = True
                await trio.aclose_forcefully(conn.stream)
            nursery.cancel_scope.cancel()
