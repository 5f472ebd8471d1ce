"""The session: connections to the ensemble, one after another, and the requests on them.

One :class:`Session` lives inside the nursery of ``open_zookeeper``. Its
supervisor task (:meth:`Session.run`) picks a server, connects, performs the
handshake, re-sends credentials and re-registers watches, then runs three
tasks on the connection until it dies:

* the **reader** parses frames into events (through the sans-IO
  ``ClientProtocol``), hands each reply to its waiting caller, and fans watch
  events out to the watchers' channels; it never waits on user code;
* the **writer** takes requests from the outbox, allocates their xids in the
  protocol at the moment of writing (so wire order is pending order), and
  writes whole frames, batched. When the writer is idle and nothing is
  queued, a caller on a plain TCP connection writes its own frame instead,
  synchronously, with no checkpoint between xid allocation and the kernel
  write (see ``Session._write_now``): one writer at a time still owns the
  socket, frames are never interleaved, and a sequential request saves a
  task hop;
* the **pinger** asks the writer for a ping after 1/3 of the session timeout
  without sending anything.

When a connection dies, the requests written on it fail with
:class:`ConnectionLossError` (their outcome is unknown); requests not yet
written stay queued for the next connection on the same session, and are
never sent twice. Nothing is retried behind the caller's back.

Timing follows the Java client (``ClientCnxn``): connect timeout per host =
session timeout / number of hosts (TCP, TLS and handshake together); the
connection is dead when nothing was received for 2/3 of the negotiated
timeout; a ping after 1/3 of it without sending; a random pause before each
reconnect (Java's 0-1 s, capped at a sixth of the timeout) and, after a full
round of hosts, one that grows (the :class:`Backoff` policy; capped at a
third of the timeout while a session is held). The hosts, their order and
the rebalancing after ``update_hosts`` come from ``_hostprovider``; names are
resolved at every attempt. Expiry is suspected when no server was heard from
for 4/3 of the timeout (ZOOKEEPER-4508): pauses and connection attempts are
cut short at that moment, so the suspicion is reported on time. All timers
use trio's clock, so tests run them under ``autojump_clock``.

The last zxid seen never goes back, not even across an expiry: a server
whose data is behind it (one restarted with a wiped database, say) refuses
the client, so the client keeps cycling the hosts, DISCONNECTED, and reports
EXPIRED once the budget is spent; it never reports a connection to such a
server and never quietly starts over on it. Only a new client starts from
zxid 0.

Cancellation contract: a caller cancelled while its request is still queued
removes it (it is never sent); a caller cancelled after the request was
written leaves it in place, and its reply is read and dropped when it comes.

A failed connection attempt says why: its cause, in words
(:func:`describe_connect_failure`), is logged at WARNING (the first failure
of a host, then at most once per ``CONNECT_WARNING_INTERVAL`` with a count),
kept for ``statistics().connect_errors``, and, with ``connect_rounds``, put
in the :class:`ConnectFailedError` that ends an open that got nowhere.

Opening and closing never leave a session behind: the first connection is
handed over to ``open_zookeeper`` and shielded from the caller's scopes in
one step (:meth:`Session._hand_over`); an open cancelled once the server was
asked for a session closes that session itself
(:meth:`Session._close_unwanted_session`); :meth:`Session.close` sends
closeSession only on a connection that is alive, and returns at once
without one.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence

import attrs
import trio

from ._hostprovider import Backoff, HostListUpdate, HostProvider
from ._hosts import ConnectString, HostPort
from ._net import TRANSPORT_ERRORS, four_letter_word, open_stream
from ._protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    SET_WATCHES_XID,
    AuthFailedError,
    AuthPacket,
    AuthReply,
    Chroot,
    ClientProtocol,
    Connected,
    ConnectionClosed,
    ConnectionLossError,
    ConnectRequest,
    Empty,
    ErrorCode,
    FrameTooLargeError,
    GetSASLRequest,
    KeeperState,
    LocalProtocolError,
    Notification,
    OpCode,
    ProtocolError,
    ProtocolState,
    RemoteProtocolError,
    Reply,
    SessionEvent,
    SessionExpiredError,
    SetSASLResponse,
    SetWatches,
    SetWatches2,
    WatchedEvent,
    ZooKeeperError,
    error_for_code,
    transition,
)
from ._protocol._sasl import SaslDigestMD5, SaslMechanism, sasl_mechanism
from ._watchers import WatchEvents, WatchKind, WatchRegistry

__all__ = ["ConnectFailedError", "Session", "SessionStatistics", "StreamFactory"]

log = logging.getLogger("trio_zookeeper.session")

#: A test seam: open a byte stream to (host, port) instead of TCP.
StreamFactory = Callable[[str, int], Awaitable[trio.abc.Stream]]

_RECV_SIZE = 65536
#: Java batches SetWatches at about 128 KiB of path characters (ZOOKEEPER-706).
_SET_WATCHES_BATCH = 128 * 1024
#: Java pings at least every 10 s, whatever the timeout (MAX_SEND_PING_INTERVAL).
_MAX_PING_INTERVAL = 10.0
_NEW_PASSWORD = b"\x00" * 16
#: A host that keeps failing is logged at WARNING at most once per this many
#: seconds (its first failure always), with the count of failures not logged.
CONNECT_WARNING_INTERVAL = 60.0

_QUEUED, _WRITTEN, _DONE, _ABANDONED = range(4)


class _ConnectionDead(Exception):
    """Internal: why the current connection ended."""


class ConnectFailedError(ZooKeeperError):
    """Opening gave up: no server of the connect string gave a session.

    Raised by ``open_zookeeper(..., connect_rounds=N)`` after N full rounds of
    the host list without a session. The message names each host and the last
    reason it could not be used, e.g. ``could not connect to 127.0.0.1:1:
    connection refused``.

    Attributes:
        causes: The last failure of each host, as ``{"host:port": cause}`` in
            connect-string order; the causes are human-readable text such as
            ``"connection refused"`` or ``"name or service not known"``.
    """

    def __init__(self, causes: dict[str, str]) -> None:
        self.causes = dict(causes)
        super().__init__(_connect_failed_message(self.causes))


def _connect_failed_message(causes: dict[str, str]) -> str:
    if len(causes) == 1:
        ((host, cause),) = causes.items()
        return f"could not connect to {host}: {cause}"
    listed = "; ".join(f"{host}: {cause}" for host, cause in causes.items())
    return f"could not connect to any of {len(causes)} hosts: {listed}"


def describe_connect_failure(exc: BaseException) -> str:
    """A short human-readable cause for a failed connection attempt.

    ``trio.open_tcp_stream`` wraps the per-address errors in a group under a
    generic OSError; TLS errors come wrapped in ``trio.BrokenResourceError``.
    Both are unwrapped to the error that says what happened.
    """
    if isinstance(exc, _ConnectionDead):
        inner = exc.__cause__
        return describe_connect_failure(inner) if inner is not None else str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failure: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return str(exc.strerror or exc).lower()
    if isinstance(exc, OSError) and exc.errno is None and exc.__cause__ is not None:
        # "all attempts to connect to h:p failed", caused by each address's error.
        leaves = _leaf_errors(exc.__cause__)
        described = list(dict.fromkeys(describe_connect_failure(e) for e in leaves))
        if described:
            return ", ".join(described)
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno > 0:
        # trio words strerror as "Error connecting to (addr): Connection refused".
        return os.strerror(exc.errno).lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, trio.BrokenResourceError):
        if exc.__cause__ is not None:
            return describe_connect_failure(exc.__cause__)
        return "the connection broke"
    if isinstance(exc, RemoteProtocolError):
        return f"the server broke the protocol: {exc}"
    return str(exc) or type(exc).__name__


def _connection_loss(message: str, cause: BaseException | None) -> ConnectionLossError:
    """A ConnectionLossError whose ``__cause__`` is the transport's error."""
    err = ConnectionLossError(message)
    err.__cause__ = cause
    return err


def _only_cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is a trio.Cancelled, or a group of nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return isinstance(exc, trio.Cancelled)


def _leaf_errors(exc: BaseException) -> list[BaseException]:
    inner = getattr(exc, "exceptions", None)
    if inner is None:
        return [exc]
    out: list[BaseException] = []
    for sub in inner:
        out += _leaf_errors(sub)
    return out


class _Call:
    """One request and the slot its reply goes into.

    A reply is a single value handed from the reader to one waiting caller, so
    the slot is two attributes and the parked task itself
    (``wait_task_rescheduled`` / ``reschedule``, the primitive trio's channels
    are built on): no channel or Event object per request, which matters for
    the per-call CPU budget. Watch events, which are streams, do go through
    receive channels.

    The abort hook is what makes "cancelled before it is written means never
    sent" exact: trio calls it synchronously when the cancellation is
    delivered, so the writer, whenever it runs next, sees the call abandoned.
    """

    __slots__ = (
        "error",
        "on_reply",
        "op",
        "path",
        "request",
        "result",
        "state",
        "task",
        "written",
    )

    def __init__(
        self,
        op: int,
        request: object,
        path: str | None,
        on_reply: Callable[[int], None] | None,
    ) -> None:
        self.op = op
        self.request = request
        self.path = path
        self.on_reply = on_reply
        self.state = _QUEUED
        self.result: object | None = None
        self.error: BaseException | None = None
        self.task: trio.lowlevel.Task | None = None
        self.written = False

    def finish(self, result: object | None, error: BaseException | None) -> None:
        if self.state == _DONE:
            return
        self.state = _DONE
        self.result = result
        self.error = error
        task = self.task
        if task is not None:
            self.task = None
            trio.lowlevel.reschedule(task)

    def _abort(self, raise_cancel: object) -> trio.lowlevel.Abort:
        self.task = None
        if self.state in (_QUEUED, _WRITTEN):
            # Queued: the writer will skip it (never sent). Written: its reply
            # is read and dropped when it comes.
            self.state = _ABANDONED
        return trio.lowlevel.Abort.SUCCEEDED

    async def wait(self) -> object:
        """Wait for the reply (a checkpoint); return the result or raise the error."""
        if self.state == _DONE:
            await trio.lowlevel.cancel_shielded_checkpoint()
        else:
            self.task = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort)
        if self.error is not None:
            raise self.error
        return self.result


@attrs.frozen
class SessionStatistics:
    """A snapshot of the client's internals, from ``zk.statistics()``.

    Attributes:
        state: The session state.
        session_id: The session id (0 before the first connection).
        negotiated_timeout: The session timeout the server granted, in seconds.
        last_zxid: The newest zxid seen in a reply.
        server: The server currently connected, as ``host:port`` (or None).
        queued_requests: Requests waiting to be written.
        pending_requests: Requests written and awaiting their reply.
        watches: Server-side watches registered by this session.
        connections: Connections made since the client opened.
        hosts: The host list now, as ``host:port`` strings, in the client's
            (shuffled) order.
        host_list_updates: Host list changes (``update_hosts``, tracked
            ensemble changes) since the client opened.
        host_list_moves: Those of them that made the client leave its server.
        last_host_list_update: The last change and its decision (None before).
        connect_errors: Why each host that failed at its latest attempt could
            not be used, as ``{"host:port": cause}`` (e.g. ``"connection
            refused"``); a host leaves it once a connection to it succeeds.
    """

    state: KeeperState
    session_id: int
    negotiated_timeout: float
    last_zxid: int
    server: str | None
    queued_requests: int
    pending_requests: int
    watches: int
    connections: int
    hosts: tuple[str, ...] = ()
    host_list_updates: int = 0
    host_list_moves: int = 0
    last_host_list_update: HostListUpdate | None = None
    connect_errors: dict[str, str] = attrs.field(factory=dict, hash=False)


class _StateChannel(trio.abc.ReceiveChannel[KeeperState]):
    """The receive side of ``zk.session_states()``: every later state change."""

    def __init__(self, owner: Session) -> None:
        self._owner = owner
        self._queue: collections.deque[KeeperState] = collections.deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False

    def _push(self, state: KeeperState) -> None:
        self._queue.append(state)
        self._lot.unpark_all()

    async def receive(self) -> KeeperState:
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._closed:
                raise trio.ClosedResourceError("this session state channel was closed")
            if self._queue:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return self._queue.popleft()
            if self._owner.state is KeeperState.CLOSED:
                raise trio.EndOfChannel
            await self._lot.park()

    def close(self) -> None:
        self._closed = True
        self._owner._state_channels.discard(self)
        self._lot.unpark_all()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()


class Session:
    """The session machinery behind a :class:`~trio_zookeeper.ZooKeeper` client."""

    def __init__(
        self,
        connect: ConnectString,
        *,
        session_timeout: float,
        auth: Sequence[tuple[str, bytes]],
        read_only: bool,
        ssl_context: ssl.SSLContext | None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        reconnect_after_expiry: bool = True,
        close_timeout: float = 2.0,
        stream_factory: StreamFactory | None = None,
        rng: random.Random | None = None,
        session_id: int = 0,
        session_password: bytes | None = None,
        sasl: SaslMechanism | tuple[str, str] | None = None,
        reconnect_backoff: Backoff | None = None,
        connect_rounds: int | None = None,
    ) -> None:
        if connect_rounds is not None and (
            not isinstance(connect_rounds, int)
            or isinstance(connect_rounds, bool)
            or connect_rounds < 1
        ):
            raise ValueError(
                "connect_rounds must be a positive number of rounds or None, "
                f"not {connect_rounds!r}"
            )
        self.connect_rounds = connect_rounds
        self._rng = rng or random.Random()
        self._host_provider = HostProvider(connect.hosts, self._rng)
        # Connect-string order, for ConnectFailedError and connect_errors.
        self._host_order = list(connect.hosts)
        self.reconnect_backoff = reconnect_backoff or Backoff()
        self.host_list_updates = 0
        self.host_list_moves = 0
        self.last_host_list_update: HostListUpdate | None = None
        self._hosts_changed = trio.Event()  # ends a pause: try the new list now
        self.chroot = Chroot(connect.chroot)
        self.requested_timeout = session_timeout
        self.negotiated_timeout = session_timeout
        self.auth: list[tuple[str, bytes]] = list(auth)
        self.allow_read_only = read_only
        self.ssl_context = ssl_context
        self.max_frame_size = max_frame_size
        self.reconnect_after_expiry = reconnect_after_expiry
        self.close_timeout = close_timeout
        self._stream_factory = stream_factory
        self.sasl = sasl
        # Learnt from the server: removeWatches cannot name persistent types.
        self.persistent_removal_unsupported = False

        self.state = KeeperState.DISCONNECTED
        self.session_id = session_id
        self.password = session_password if session_password is not None else _NEW_PASSWORD
        self.last_zxid = 0
        self.server: HostPort | None = None
        self.connections = 0
        self.expired_sessions = 0
        # A session handed in by the caller was made by a read-write server:
        # resume it (Java sets seenRwServerBefore when given a session id).
        self._seen_rw_server = session_id != 0
        self._terminal_error: BaseException | None = None
        self._closing = False
        self._closed_event = trio.Event()
        self._connected_event = trio.Event()

        self._outbox: collections.deque[_Call] = collections.deque()
        # Set while a plain TCP connection is serving: (protocol, socket fd)
        # for callers' direct writes (see _write_now).
        self._direct: tuple[ClientProtocol, int] | None = None
        self._writer_busy = False
        self._leftover = bytearray()
        self._wake_writer = trio.Event()
        self._ping_due = False
        self._inflight: dict[int, _Call] = {}
        self._auth_waiters: collections.deque[_Call] = collections.deque()
        self._last_recv = 0.0
        self._last_send = 0.0
        self._preferred_host: HostPort | None = None
        # The last failure of each host, and its WARNING rate limit: when it
        # was last logged and how many failures were not logged since.
        self._connect_errors: dict[HostPort, str] = {}
        self._warned: dict[HostPort, tuple[float, int]] = {}

        self.registry = WatchRegistry()
        self.default_watcher = WatchEvents(max_buffer=10_000, session_events=False)
        self._state_channels: set[_StateChannel] = set()
        self._cancel_scope: trio.CancelScope | None = None
        self._conn_scope: trio.CancelScope | None = None
        self._start_nursery: trio.Nursery | None = None
        self._handed_over = False
        self._handshake_sent = False
        self._close_call: _Call | None = None

    # ================================================================ API
    @property
    def hosts(self) -> list[HostPort]:
        """The host list, in the client's (shuffled) order."""
        return list(self._host_provider.hosts)

    def update_hosts(self, connect: ConnectString) -> HostListUpdate:
        """Replace the host list, keeping the session (Java's ``updateServerList``).

        When the rebalancing rule says move (the current server is gone, or
        the list grew and this client drew the move), the connection is
        dropped and the next round tries the chosen servers first; the
        session survives.

        Raises:
            ValueError: ``connect`` has another chroot, or no hosts.
        """
        self.check_usable()
        if (connect.chroot or "") != self.chroot.prefix:
            raise ValueError(
                f"update_hosts cannot change the chroot ({self.chroot.prefix or None!r} to"
                f" {connect.chroot!r}): the session's paths depend on it"
            )
        update = self._host_provider.update(connect.hosts, self.server)
        self._host_order = list(connect.hosts)
        for gone in set(self._connect_errors) - set(connect.hosts):
            del self._connect_errors[gone]
            self._warned.pop(gone, None)
        self._hosts_changed.set()
        self._hosts_changed = trio.Event()
        self.host_list_updates += 1
        self.last_host_list_update = update
        log.info(
            "host list changed from %s to %s; %s",
            ",".join(update.previous),
            ",".join(update.hosts),
            update.reason,
        )
        if update.move and self.server is not None:
            self.host_list_moves += 1
            self._connection_dead(f"host list changed: {update.reason}")
        return update

    def check_usable(self) -> None:
        """Raise if the client can no longer send requests."""
        if self._terminal_error is not None:
            raise self._terminal_error
        if self._closing:
            raise trio.ClosedResourceError("the ZooKeeper client is closed")

    async def call(
        self,
        op: int,
        request: object,
        *,
        path: str | None = None,
        on_reply: Callable[[int], None] | None = None,
    ) -> object:
        """Send one request and wait for its reply.

        ``on_reply(err)`` runs in the reader task as the reply is dispatched,
        before any later event, even when the caller was cancelled after the
        request was written (watch registration needs exactly that).

        Returns:
            The response record (None for replies without a body).

        Raises:
            ServerError: the server's error for this request.
            ConnectionLossError: the connection died after the request was
                written: its outcome is unknown.
            SessionExpiredError: the session expired before the reply.
            trio.ClosedResourceError: the client was closed.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        self.check_usable()
        call = _Call(op, request, path, on_reply)
        direct = self._direct
        if direct is not None and not (self._outbox or self._writer_busy or self._leftover):
            self._write_now(call, *direct)
        else:
            self._outbox.append(call)
            self._wake_writer.set()
        return await call.wait()

    def _write_now(self, call: _Call, protocol: ClientProtocol, fd: int) -> None:
        """The fast path: the caller writes its own frame while the writer is idle.

        Safe because nothing here awaits: the xid is allocated, the frame
        handed to the kernel (``os.write`` on the non-blocking socket) and
        whatever did not fit given to the writer task, all before any other
        task runs, so frames stay whole and in xid order. It saves the hop
        through the writer task and trio's post-send checkpoint, about half
        the scheduler passes of a sequential request.
        """
        if protocol.state is ProtocolState.CLOSED:
            # The reader has just seen this connection end (its nursery is
            # not torn down yet): queue the call for the next connection.
            self._outbox.append(call)
            return
        try:
            xid, frame = protocol.send_request(call.op, call.request)
        except LocalProtocolError as exc:
            call.finish(None, exc)
            return
        call.state = _WRITTEN
        call.written = True
        self._inflight[xid] = call
        self._last_send = trio.current_time()
        try:
            sent = os.write(fd, frame)
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # the reader sees the connection die and fails the call
        if sent < len(frame):
            self._leftover += frame[sent:]
            self._wake_writer.set()

    async def authenticate(self, scheme: str, credential: bytes) -> None:
        """Send an auth packet now and remember it for every later connection."""
        await trio.lowlevel.checkpoint_if_cancelled()
        self.check_usable()
        packet = AuthPacket(type=0, scheme=scheme, auth=credential)
        call = _Call(OpCode.AUTH, packet, None, None)
        # Remembered from now on, so that a reconnect re-sends it even if the
        # caller is cancelled after the packet went out (the server may have
        # accepted it); forgotten only if it was never written.
        entry = (scheme, credential)
        self.auth.append(entry)
        self._outbox.append(call)
        self._wake_writer.set()
        try:
            await call.wait()
        except BaseException:
            if call.state == _ABANDONED and call.op == OpCode.AUTH and not call.written:
                with contextlib.suppress(ValueError):
                    self.auth.remove(entry)
            raise

    async def wait_connected(self) -> None:
        """Wait until the session is connected (read-write or read-only)."""
        while True:
            self.check_usable()
            if self.state in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY):
                await trio.lowlevel.checkpoint()
                return
            event = self._connected_event
            await event.wait()

    def open_state_channel(self) -> _StateChannel:
        """A channel of every later state change."""
        channel = _StateChannel(self)
        self._state_channels.add(channel)
        return channel

    def statistics(self) -> SessionStatistics:
        """The current :class:`SessionStatistics`."""
        return SessionStatistics(
            state=self.state,
            session_id=self.session_id,
            negotiated_timeout=self.negotiated_timeout,
            last_zxid=self.last_zxid,
            server=None if self.server is None else str(self.server),
            queued_requests=sum(1 for c in self._outbox if c.state == _QUEUED),
            pending_requests=len(self._inflight),
            watches=self.registry.count(),
            connections=self.connections,
            hosts=tuple(str(h) for h in self._host_provider.hosts),
            host_list_updates=self.host_list_updates,
            host_list_moves=self.host_list_moves,
            last_host_list_update=self.last_host_list_update,
            connect_errors={
                str(h): cause
                for h in self._host_order
                if (cause := self._connect_errors.get(h)) is not None
            },
        )

    # ======================================================== state changes
    def _set_state(self, event: SessionEvent) -> None:
        old = self.state
        new = transition(old, event)
        if new is old:
            return
        self.state = new
        log.debug("session state %s -> %s (%s)", old.name, new.name, event.value)
        if new in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY):
            self._connected_event.set()
        elif self._connected_event.is_set():
            self._connected_event = trio.Event()
        elif new in (KeeperState.EXPIRED, KeeperState.AUTH_FAILED, KeeperState.CLOSED):
            # Wake wait_connected() so that it re-checks: it raises when the
            # session is over for good, and waits again otherwise.
            self._connected_event.set()
            self._connected_event = trio.Event()
        for channel in list(self._state_channels):
            channel._push(new)
        if new is KeeperState.DISCONNECTED and old is not KeeperState.EXPIRED:
            self.registry.session_event(KeeperState.DISCONNECTED)
        elif new in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY):
            self.registry.session_event(new)

    def _fail_queued(self, error_factory: Callable[[], BaseException]) -> None:
        while self._outbox:
            call = self._outbox.popleft()
            if call.state == _QUEUED:
                call.finish(None, error_factory())
        while self._auth_waiters:
            self._auth_waiters.popleft().finish(None, error_factory())

    def _fail_inflight(self, error_factory: Callable[[], BaseException]) -> None:
        inflight, self._inflight = self._inflight, {}
        for call in inflight.values():
            if call.state != _DONE:
                call.finish(None, error_factory())
        while self._auth_waiters:
            self._auth_waiters.popleft().finish(None, error_factory())

    def _expire(self, reason: str) -> None:
        """The session is gone (server said so, or it is suspected)."""
        expired_id = self.session_id
        log.warning("ZooKeeper session 0x%x expired: %s", expired_id, reason)
        self.expired_sessions += 1

        def error() -> BaseException:
            return SessionExpiredError(f"session 0x{expired_id:x} expired: {reason}")

        self._fail_inflight(error)
        self._fail_queued(error)
        self._set_state(SessionEvent.EXPIRED)
        self.registry.end_all(KeeperState.EXPIRED, keep_open=self.default_watcher)
        self.session_id = 0
        self.password = _NEW_PASSWORD
        if self.reconnect_after_expiry:
            self._set_state(SessionEvent.NEW_SESSION)
        else:
            self._terminal_error = error()

    def _auth_failed(self) -> None:
        def error() -> BaseException:
            return AuthFailedError("authentication failed: the server rejected the credentials")

        self._terminal_error = error()
        self._fail_inflight(error)
        self._fail_queued(error)
        self._set_state(SessionEvent.AUTH_FAILED)
        self.registry.end_all(KeeperState.AUTH_FAILED, keep_open=self.default_watcher)

    # ============================================================ supervisor
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the session connected until closed; report started once connected."""
        started = False
        # A session handed in by the caller gets a full expiry budget from now.
        self._last_recv = self._last_send = trio.current_time()
        # The nursery of ``nursery.start`` while opening; see _hand_over.
        self._start_nursery = trio.lowlevel.current_task().parent_nursery
        with trio.CancelScope() as scope:
            self._cancel_scope = scope
            round_no = 0
            failed_rounds = 0
            while not self._stopping():
                # Java's StaticHostProvider order: after the server last
                # connected to (it comes last), or the rebalancing choice
                # after a host list change; a read-write server found while on
                # a read-only one first.
                first = self._preferred_host
                if first is not None:
                    self._preferred_host = None
                hosts = self._host_provider.next_round(first=first)
                generation = self._host_provider.generation
                connected_in_round = False
                for index, host in enumerate(hosts):
                    if self._stopping():
                        break
                    if round_no or index:
                        # Jitter so that many clients do not reconnect in step
                        # (Java sleeps 0-1 s before every reconnect).
                        await self._pause(
                            self.reconnect_backoff.attempt_pause(self._rng, self._jitter_max())
                        )
                    self._check_suspected_expiry()
                    if self._stopping() or self._host_provider.generation != generation:
                        break
                    connected_before = self.connections
                    await self._connect_and_serve(host, None if started else task_status)
                    if self.connections != connected_before:
                        started = connected_in_round = True
                    self._check_suspected_expiry()
                    if self._preferred_host is not None:
                        break  # a read-write server was found: go there now
                    if connected_in_round or self._host_provider.generation != generation:
                        break  # next round: after this server, or the new host list
                round_no += 1
                if connected_in_round or self._host_provider.generation != generation:
                    failed_rounds = 0
                elif not self._stopping():
                    failed_rounds += 1
                    if (
                        not started
                        and self.connect_rounds is not None
                        and failed_rounds >= self.connect_rounds
                    ):
                        raise ConnectFailedError(
                            {
                                str(h): self._connect_errors.get(h, "not tried")
                                for h in self._host_order
                            }
                        )
                    # A full round of hosts without a session: back off (Java: 1 s).
                    await self._pause(
                        self.reconnect_backoff.round_pause(
                            failed_rounds, self._rng, self._round_pause_max()
                        )
                    )
                    self._check_suspected_expiry()
            if not started and self._terminal_error is not None:
                raise self._terminal_error

    def _jitter_max(self) -> float:
        # Never so long that the pauses alone would outlast a short session:
        # at most a sixth of the negotiated timeout.
        return self.negotiated_timeout / 6

    def _round_pause_max(self) -> float:
        # While a session is held, back off at most a third of its timeout, so
        # that a recovering ensemble sees the client again before the session
        # would expire; without one, the policy alone decides.
        return self.negotiated_timeout / 3 if self.session_id else math.inf

    def _stopping(self) -> bool:
        return self._closing or self._terminal_error is not None

    def _suspicion_deadline(self) -> float:
        """When, with no server heard from, the session is taken as expired (inf: n/a).

        The server expires a session about one timeout after it last heard
        from the client (rounded up to its tick); expiry is suspected once 4/3
        of the timeout has passed without hearing from any server
        (ZOOKEEPER-4508's factor), so that a reconnect that could still resume
        the session is not given up too early. Pauses and connection attempts
        are cut short at this deadline, so the suspicion is reported on time.
        """
        if self.session_id == 0 or self.state is not KeeperState.DISCONNECTED:
            return math.inf
        return self._last_recv + self.negotiated_timeout * 4 / 3

    async def _pause(self, seconds: float) -> None:
        """Sleep between attempts, waking early at the expiry-suspicion deadline.

        A new host list (``update_hosts``) also ends the pause: its servers
        are tried at once.
        """
        with trio.move_on_at(min(trio.current_time() + seconds, self._suspicion_deadline())):
            await self._hosts_changed.wait()

    def _check_suspected_expiry(self) -> None:
        if trio.current_time() >= self._suspicion_deadline():
            silent = trio.current_time() - self._last_recv
            self._expire(
                f"no server reachable for {silent:.1f}s, more than the session timeout of "
                f"{self.negotiated_timeout:.1f}s (expiry suspected by the client)"
            )

    async def _open_stream(self, host: HostPort) -> trio.abc.Stream:
        if self._stream_factory is not None:
            return await self._stream_factory(host.host, host.port)
        return await open_stream(host, self.ssl_context, rng=self._rng)

    async def _connect_and_serve(
        self, host: HostPort, task_status: trio.TaskStatus[None] | None
    ) -> None:
        """One connection: handshake, prime, serve until it dies."""
        # Java's connectTimeout: the session timeout (the negotiated one once
        # known) divided by the number of hosts, for the TCP connect, the TLS
        # handshake and the ZooKeeper handshake together; never past the
        # moment expiry would be suspected.
        connect_timeout = self.negotiated_timeout / len(self.hosts)
        deadline = min(trio.current_time() + connect_timeout, self._suspicion_deadline())
        stream: trio.abc.Stream | None = None
        protocol: ClientProtocol | None = None
        cause: BaseException | None = None
        failure: str | None = None  # set when no connection was established
        connected_before = self.connections
        try:
            handshake: tuple[list[object], bool] | None = None
            with trio.move_on_at(deadline):
                stream = await self._open_stream(host)
                protocol = ClientProtocol(
                    max_frame_size=self.max_frame_size, last_zxid=self.last_zxid
                )
                handshake = await self._handshake(stream, protocol, host)
            if handshake is None:
                failure = f"timed out after {connect_timeout:.1f}s"
                return
            events, read_only = handshake
            assert stream is not None
            assert protocol is not None
            self.server = host
            self._host_provider.connected(host)
            self._last_recv = self._last_send = trio.current_time()
            await self._serve(stream, protocol, events, read_only, task_status)
        except _ConnectionDead as exc:
            cause = exc.__cause__ or exc
            if self.connections == connected_before:
                failure = describe_connect_failure(exc)
            else:
                log.info("connection to %s lost: %s", host, exc)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, ProtocolError) as exc:
            cause = exc
            if self.connections == connected_before:
                failure = describe_connect_failure(exc)
            else:
                log.info("connection to %s lost: %s", host, describe_connect_failure(exc))
        except BaseException as exc:
            # The caller gave up opening (its scope was cancelled) before the
            # session was handed over. If the server made a session, close it
            # now: nobody else ever will, and it would hold its ephemeral
            # nodes and its memory on the server until it expired. (Out of
            # the connection's nursery the Cancelled comes grouped.)
            if (
                _only_cancelled(exc)
                and task_status is not None
                and not self._handed_over
                and not self._closing
                and stream is not None
                and protocol is not None
                and (
                    protocol.state is ProtocolState.CONNECTED
                    or (protocol.state is ProtocolState.HANDSHAKE and self._handshake_sent)
                )
            ):
                await self._close_unwanted_session(stream, protocol)
            raise
        finally:
            self.server = None
            if failure is not None and not self._closing:
                self._note_connect_failure(host, failure)
            if stream is not None:
                await trio.aclose_forcefully(stream)
            if isinstance(cause, FrameTooLargeError):
                self._fail_too_large(host, cause)
            close_call = self._close_call
            if close_call is not None and close_call.state == _QUEUED:
                # close() queued closeSession on this connection, which ended
                # before writing it: there is nobody to send it to now.
                close_call.finish(None, ConnectionLossError("the connection ended first"))
            if self._inflight or self._auth_waiters:
                lost_cause = cause
                self._fail_inflight(
                    lambda: _connection_loss(
                        "connection lost after the request was sent; its outcome is unknown",
                        lost_cause,
                    )
                )
            if self.state in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY):
                self._set_state(SessionEvent.CONNECTION_LOST)

    async def _close_unwanted_session(
        self, stream: trio.abc.Stream, protocol: ClientProtocol
    ) -> None:
        """Close the session a cancelled open was getting, shielded, within ``close_timeout``.

        The ConnectRequest is out, so the server has made (or will make) a
        session: finish reading its answer if need be, then send closeSession
        and wait for the reply, as :meth:`close` does.
        """
        with (
            trio.move_on_after(self.close_timeout, shield=True),
            contextlib.suppress(
                OSError,
                trio.BrokenResourceError,
                trio.ClosedResourceError,
                ProtocolError,
                _ConnectionDead,
            ),
        ):
            while protocol.state is ProtocolState.HANDSHAKE:
                data = await stream.receive_some(_RECV_SIZE)
                events = protocol.receive_data(data)
                if events and isinstance(events[0], Connected):
                    if events[0].response.time_out <= 0:
                        return  # no session after all
                    self.session_id = events[0].response.session_id
            if protocol.state is not ProtocolState.CONNECTED:
                return
            log.debug("opening was cancelled: closing the new session 0x%x", self.session_id)
            xid, frame = protocol.send_request(OpCode.CLOSE_SESSION, _EMPTY)
            await stream.send_all(frame)
            await self._read_reply(stream, protocol, xid)
            log.debug("closeSession for 0x%x answered", self.session_id)

    def _fail_too_large(self, host: HostPort, exc: FrameTooLargeError) -> None:
        """A reply outgrew ``max_frame_size``: say so to its caller, and to the others."""
        size, limit = exc.size, exc.limit
        advice = (
            f"raise open_zookeeper(max_frame_size=...) to at least {size} (the client's "
            "counterpart of ZooKeeper's jute.maxbuffer); retrying will not help"
        )
        log.warning(
            "connection to %s dropped: a reply of %d bytes exceeds the frame limit of %d bytes; %s",
            host,
            size,
            limit,
            advice,
        )
        call = self._inflight.pop(exc.xid, None) if exc.xid is not None else None
        if call is not None:
            call.finish(
                None,
                _connection_loss(
                    f"the reply of {size} bytes exceeds the frame limit of {limit} bytes: "
                    f"{advice}. The connection was dropped, so the request's outcome is unknown",
                    exc,
                ),
            )
            others = (
                f"connection lost after the request was sent; its outcome is unknown (the "
                f"connection was dropped because a reply of {size} bytes exceeded the frame "
                f"limit of {limit} bytes)"
            )
        else:
            others = (
                f"connection lost after the request was sent; its outcome is unknown: a reply "
                f"of {size} bytes (to this request or another) exceeds the frame limit of "
                f"{limit} bytes: {advice}"
            )
        self._fail_inflight(lambda: _connection_loss(others, exc))

    def _note_connect_failure(self, host: HostPort, failure: str) -> None:
        """Remember why ``host`` failed and log it at WARNING, rate-limited per host."""
        self._connect_errors[host] = failure
        now = trio.current_time()
        last = self._warned.get(host)
        if last is None or now - last[0] >= CONNECT_WARNING_INTERVAL:
            suppressed = 0 if last is None else last[1]
            more = (
                f" ({suppressed} more failure{'s' if suppressed != 1 else ''} of this host "
                f"not logged in the last {now - last[0]:.0f}s)"
                if last is not None and suppressed
                else ""
            )
            log.warning("cannot connect to ZooKeeper server %s: %s%s", host, failure, more)
            self._warned[host] = (now, 0)
        else:
            log.debug("cannot connect to ZooKeeper server %s: %s", host, failure)
            self._warned[host] = (last[0], last[1] + 1)

    async def _handshake(
        self,
        stream: trio.abc.Stream,
        protocol: ClientProtocol,
        host: HostPort,
    ) -> tuple[list[object], bool]:
        """Send ConnectRequest, read ConnectResponse.

        Returns:
            The events that arrived with the response, and whether the server
            is read-only. The caller bounds this with the connect timeout (a
            cancelled handshake leaves ``handshake`` unset, i.e. None).

        Raises:
            _ConnectionDead: this server is unusable (it says why).
        """
        # A session only ever seen by read-only servers is a local one that a
        # read-write server would not know: start afresh (Java's
        # seenRwServerBefore).
        session_id = self.session_id if self._seen_rw_server else 0
        request = ConnectRequest(
            protocol_version=0,
            last_zxid_seen=self.last_zxid,
            time_out=int(self.requested_timeout * 1000),
            session_id=session_id,
            passwd=self.password,
            read_only=self.allow_read_only,
        )
        self._handshake_sent = False
        await stream.send_all(protocol.connect(request))
        self._handshake_sent = True  # whole: the server makes (or resumes) a session
        while True:
            data = await stream.receive_some(_RECV_SIZE)
            events = protocol.receive_data(data)
            if events:
                break
        first = events[0]
        if isinstance(first, ConnectionClosed):
            # The server refuses us: e.g. its data is behind our last zxid, or
            # it is read-only and we do not accept that. Try another one.
            raise _ConnectionDead(
                "the server closed the connection during the handshake (its data may be "
                "behind this client's last zxid, or it is read-only)"
            )
        assert isinstance(first, Connected)
        response = first.response
        if response.time_out <= 0:
            self._expire("the server reported the session as expired")
            raise _ConnectionDead("the server reported the session as expired")
        if response.read_only and not self.allow_read_only:
            raise _ConnectionDead("the server is read-only (and read_only=False)")
        if session_id != 0 and response.session_id != session_id:
            self._expire(
                f"the server answered with session 0x{response.session_id:x} instead of "
                f"0x{session_id:x}"
            )
            if self._terminal_error is not None:
                # Expiry is final: do not adopt the new session.
                raise _ConnectionDead("the session expired")
        self.session_id = response.session_id
        self.password = response.passwd or _NEW_PASSWORD
        self.negotiated_timeout = response.time_out / 1000.0
        if not response.read_only:
            self._seen_rw_server = True
        return list(events[1:]), response.read_only

    async def _serve(
        self,
        stream: trio.abc.Stream,
        protocol: ClientProtocol,
        early_events: list[object],
        read_only: bool,
        task_status: trio.TaskStatus[None] | None,
    ) -> None:
        if self.sasl is not None:
            await self._sasl_exchange(stream, protocol)
        # Java's primeConnection order: credentials first, then the watches,
        # then (through the writer) the requests that were queued.
        priming = bytearray()
        placeholders: list[_Call] = []
        for scheme, credential in self.auth:
            packet = AuthPacket(type=0, scheme=scheme, auth=credential)
            priming += protocol.send_auth(packet)
            # Auth replies are matched in order: a placeholder takes this
            # one's reply, so that an add_auth() queued meanwhile gets its own.
            placeholder = _Call(OpCode.AUTH, packet, None, None)
            placeholder.state = _WRITTEN
            placeholders.append(placeholder)
            self._auth_waiters.append(placeholder)
        for request in self._set_watches_batches():
            priming += protocol.send_set_watches(request)
        if priming:
            await stream.send_all(priming)
        for event in early_events:
            self._dispatch(event, protocol)
        if placeholders:
            # The server answers credentials in order; a rejection ends the
            # session, and must not be reported as connected (open_zookeeper
            # then raises AuthFailedError instead of entering its block).
            await self._await_auth_replies(stream, protocol, placeholders)
        self.connections += 1
        if self.server is not None:
            # A host that works again: its next failure is logged at once.
            self._connect_errors.pop(self.server, None)
            self._warned.pop(self.server, None)
        try:
            async with trio.open_nursery() as nursery:
                # From here to started() nothing awaits: the reader and writer
                # exist (so close() can send closeSession) by the time the
                # caller sees the session.
                self._conn_scope = nursery.cancel_scope
                if type(stream) is trio.SocketStream:
                    self._direct = (protocol, stream.socket.fileno())
                nursery.start_soon(self._reader, stream, protocol)
                nursery.start_soon(self._writer, stream, protocol)
                nursery.start_soon(self._pinger)
                if read_only and self._stream_factory is None:
                    nursery.start_soon(self._seek_read_write_server)
                self._set_state(
                    SessionEvent.CONNECTED_RO if read_only else SessionEvent.CONNECTED_RW
                )
                if task_status is not None:
                    self._hand_over(task_status)
        finally:
            self._conn_scope = None
            self._direct = None
            self._leftover = bytearray()
        if self._death is not None:
            death, self._death = self._death, None
            raise death

    def _hand_over(self, task_status: trio.TaskStatus[None]) -> None:
        """Report the session started; from then on only :meth:`close` ends its tasks.

        ``started()`` moves this task into ``open_zookeeper``'s nursery, inside
        the caller's scopes: a cancellation of those (a ``move_on_after``
        around the open firing just now) must not kill the reader and writer
        before closeSession has gone out, so the session's scope is shielded
        in the same step, with no checkpoint in between. Unless the start was
        cancelled already: trio then leaves the task where it is and waits for
        it to exit, so it must stay cancellable (shielding it would deadlock),
        and the Cancelled that reaches it closes the new session
        (:meth:`_close_unwanted_session`).
        """
        task_status.started()
        if trio.lowlevel.current_task().parent_nursery is not self._start_nursery:
            self._handed_over = True
            assert self._cancel_scope is not None
            self._cancel_scope.shield = True

    async def _await_auth_replies(
        self, stream: trio.abc.Stream, protocol: ClientProtocol, placeholders: list[_Call]
    ) -> None:
        with trio.move_on_after(self.negotiated_timeout):
            while any(p.state != _DONE for p in placeholders):
                data = await stream.receive_some(_RECV_SIZE)
                for event in protocol.receive_data(data):
                    if isinstance(event, ConnectionClosed):
                        raise _ConnectionDead("the server closed the connection after auth")
                    self._dispatch(event, protocol)
                if self._terminal_error is not None:
                    raise _ConnectionDead("authentication failed")
            return
        # A connection failure like any other (this attempt ends, the next
        # one tries again), not an error escaping the session's task.
        raise _ConnectionDead(
            f"the server did not answer the credentials within {self.negotiated_timeout:.1f}s"
        )

    async def _sasl_exchange(self, stream: trio.abc.Stream, protocol: ClientProtocol) -> None:
        """Authenticate with the SASL mechanism before anything else is sent.

        A fresh exchange per connection: every new connection authenticates
        (and, for Kerberos, acquires credentials) again. An exchange whose
        calls block runs them in a worker thread. Any failure is final, with
        a one-line reason naming the mechanism.
        """
        mechanism = sasl_mechanism(self.sasl)
        assert mechanism is not None
        what = f"SASL {mechanism.mechanism}"
        if isinstance(mechanism, SaslDigestMD5):
            what += f" as {mechanism.username!r}"

        def fail(reason: str, cause: BaseException | None = None) -> _ConnectionDead:
            # Final: the session ends in AUTH_FAILED, and open_zookeeper (or
            # every later call) raises this error with its one-line reason.
            error = AuthFailedError(f"{what} authentication failed: {reason}")
            error.__cause__ = cause
            # Waiting calls get this reason, not the generic one of _auth_failed.
            self._fail_inflight(lambda: error)
            self._fail_queued(lambda: error)
            self._auth_failed()
            self._terminal_error = error
            return _ConnectionDead(str(error))

        async def call(function: Callable[..., bytes | None], *args: bytes) -> bytes | None:
            try:
                if exchange.blocking:
                    return await trio.to_thread.run_sync(function, *args)
                return function(*args)
            except AuthFailedError as exc:
                raise fail(str(exc), exc.__cause__) from exc

        host = self.server.host if self.server is not None else ""
        exchange = mechanism.exchange(host)
        rounds = 0
        with trio.move_on_after(self.requested_timeout):
            token: bytes | None = await call(exchange.initial_token)
            while token is not None:
                xid, frame = protocol.send_request(OpCode.SASL, GetSASLRequest(token=token))
                await stream.send_all(frame)
                rounds += 1
                try:
                    reply = await self._read_reply(stream, protocol, xid)
                except _ConnectionDead as exc:
                    if rounds > 1:
                        # The server closes the connection when it rejects our
                        # response ("Closing client connection due to SASL
                        # authentication failure").
                        raise fail("the server rejected the credentials", exc) from exc
                    raise
                if reply.err == ErrorCode.AUTH_FAILED:
                    raise fail("the server rejected the credentials")
                if reply.err:
                    raise fail(f"the server refused it: {error_for_code(reply.err)}")
                response = reply.response
                assert isinstance(response, SetSASLResponse)
                token = await call(exchange.respond, response.token or b"")
            return
        # A connection failure like any other (the next attempt tries again),
        # not an error escaping the session's task.
        raise _ConnectionDead(
            f"{what}: the server did not answer within {self.requested_timeout:.1f}s"
        )

    async def _read_reply(
        self, stream: trio.abc.Stream, protocol: ClientProtocol, xid: int
    ) -> Reply:
        """Read until the reply to ``xid`` (before the reader task runs)."""
        while True:
            data = await stream.receive_some(_RECV_SIZE)
            found: Reply | None = None
            for event in protocol.receive_data(data):
                if isinstance(event, Reply) and event.xid == xid:
                    found = event
                elif isinstance(event, ConnectionClosed):
                    raise _ConnectionDead("the server closed the connection during SASL")
                else:
                    self._dispatch(event, protocol)
            if found is not None:
                return found

    async def _seek_read_write_server(self) -> None:
        """While on a read-only server, look for a read-write one with ``isro``.

        Backs off from 0.1 s to 60 s, as Java's ``pingRwServer``. When one
        answers ``rw``, the connection is dropped and that server is tried first.
        """
        delay = 0.1
        while True:
            await trio.sleep(delay)
            delay = min(delay * 2, 60.0)
            for host in self.hosts:
                if host == self.server:
                    continue
                answer = ""
                with (
                    trio.move_on_after(self.requested_timeout / 3),
                    contextlib.suppress(ValueError, *TRANSPORT_ERRORS),
                ):
                    answer = (
                        await four_letter_word(host, "isro", ssl_context=self.ssl_context)
                    ).strip()
                if answer == "rw":
                    self._preferred_host = host
                    self._connection_dead(f"found read-write server {host}")
                    return

    _death: _ConnectionDead | None = None

    def _connection_dead(self, reason: str, cause: BaseException | None = None) -> None:
        if self._death is None:
            death = _ConnectionDead(reason)
            death.__cause__ = cause
            self._death = death
        if self._conn_scope is not None:
            self._conn_scope.cancel()

    # ================================================================ tasks
    async def _reader(self, stream: trio.abc.Stream, protocol: ClientProtocol) -> None:
        read_timeout = self.negotiated_timeout * 2 / 3
        # On a plain TCP socket, wait for readability and read the fd
        # directly: trio's receive_some adds a checkpoint after every read,
        # one more scheduler pass per reply. Other streams (TLS, test
        # streams) go through the stream.
        fd = stream.socket.fileno() if type(stream) is trio.SocketStream else -1
        try:
            while True:
                # The read deadline is re-armed only when it fires, from the
                # time of the last receive, not moved on every read.
                with trio.move_on_at(self._last_recv + read_timeout):
                    while True:
                        if fd >= 0:
                            await trio.lowlevel.wait_readable(fd)
                            try:
                                data: bytes | bytearray = os.read(fd, _RECV_SIZE)
                            except BlockingIOError:
                                continue
                        else:
                            data = await stream.receive_some(_RECV_SIZE)
                        self._last_recv = trio.current_time()
                        for event in protocol.receive_data(data):
                            self._dispatch(event, protocol)
                            if isinstance(event, ConnectionClosed):
                                self._connection_dead("the server closed the connection")
                                return
                if trio.current_time() - self._last_recv >= read_timeout:
                    self._connection_dead(
                        f"nothing received from the server for {read_timeout:.2f}s "
                        "(2/3 of the session timeout)"
                    )
                    return
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._connection_dead(f"read failed: {exc!r}", exc)
        except RemoteProtocolError as exc:
            self._connection_dead(f"protocol error from the server: {exc}", exc)

    def _dispatch(self, event: object, protocol: ClientProtocol) -> None:
        if isinstance(event, Reply):
            self.last_zxid = protocol.last_zxid
            if event.xid == SET_WATCHES_XID:
                if event.err:
                    log.warning("SetWatches failed with error %d", event.err)
                return
            call = self._inflight.pop(event.xid, None)
            if call is None:
                return
            err = event.err
            if call.on_reply is not None:
                call.on_reply(err)
            if call.state == _ABANDONED:
                return
            if err == 0:
                call.finish(event.response, None)
            else:
                call.finish(None, error_for_code(err, path=call.path))
                if err == ErrorCode.SESSION_CLOSED_REQUIRE_SASL_AUTH:
                    # enforce.auth.enabled and none of its schemes: the server
                    # closes the connection, and every new one would meet the
                    # same refusal. Final, as Java's AUTH_FAILED state.
                    self._auth_failed()
                    self._terminal_error = error_for_code(err)
                    self._connection_dead("the server requires authentication")
        elif isinstance(event, Notification):
            raw = event.event
            path = raw.path
            if path is not None and self.chroot:
                path = self.chroot.strip(path)
            self.registry.dispatch(WatchedEvent(raw.event_type, raw.keeper_state, path, raw.zxid))
        elif isinstance(event, AuthReply):
            waiter = self._auth_waiters.popleft() if self._auth_waiters else None
            if event.err == ErrorCode.AUTH_FAILED:
                if waiter is not None:
                    waiter.finish(None, AuthFailedError("authentication failed"))
                self._auth_failed()
                self._connection_dead("authentication failed")
            elif waiter is not None:
                if event.err:
                    waiter.finish(None, error_for_code(event.err))
                else:
                    waiter.finish(None, None)
        # PingReply and ConnectionClosed need nothing here.

    async def _writer(self, stream: trio.abc.Stream, protocol: ClientProtocol) -> None:
        outbox = self._outbox
        inflight = self._inflight
        try:
            while True:
                if not outbox and not self._ping_due and not self._leftover:
                    self._wake_writer = trio.Event()
                    await self._wake_writer.wait()
                if protocol.state is ProtocolState.CLOSED:
                    return  # the reader saw the end; queued calls wait for the next connection
                # What a caller's direct write could not hand to the kernel
                # goes first: the rest of that frame.
                batch = bytearray(self._leftover)
                self._leftover = bytearray()
                if self._ping_due:
                    self._ping_due = False
                    batch += protocol.send_ping()
                while outbox and len(batch) < _RECV_SIZE * 4:
                    call = outbox.popleft()
                    if call.state != _QUEUED:
                        continue  # abandoned before it was written: never sent
                    if call.op == OpCode.AUTH:
                        batch += protocol.send_auth(call.request)  # type: ignore[arg-type]
                        call.state = _WRITTEN
                        call.written = True
                        self._auth_waiters.append(call)
                        continue
                    try:
                        xid, frame = protocol.send_request(call.op, call.request)
                    except LocalProtocolError as exc:
                        call.finish(None, exc)
                        continue
                    call.state = _WRITTEN
                    call.written = True
                    inflight[xid] = call
                    batch += frame
                if batch:
                    self._last_send = trio.current_time()
                    # Callers queue behind the writer while it sends, so that
                    # frames are never interleaved and stay in xid order.
                    self._writer_busy = True
                    try:
                        await stream.send_all(batch)
                    finally:
                        self._writer_busy = False
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._connection_dead(f"write failed: {exc!r}", exc)

    async def _pinger(self) -> None:
        interval = min(self.negotiated_timeout / 3, _MAX_PING_INTERVAL)
        while True:
            await trio.sleep_until(self._last_send + interval)
            if trio.current_time() >= self._last_send + interval:
                self._ping_due = True
                self._last_send = trio.current_time()
                self._wake_writer.set()

    def _set_watches_batches(self) -> list[SetWatches | SetWatches2]:
        reg = self.registry
        apply = self.chroot.apply
        kinds = (
            WatchKind.DATA,
            WatchKind.EXIST,
            WatchKind.CHILD,
            WatchKind.PERSISTENT,
            WatchKind.PERSISTENT_RECURSIVE,
        )
        lists = {kind: [apply(p) for p in reg.paths(kind)] for kind in kinds}
        if not any(lists.values()):
            return []
        use_v2 = bool(lists[WatchKind.PERSISTENT] or lists[WatchKind.PERSISTENT_RECURSIVE])
        batches: list[SetWatches | SetWatches2] = []
        current: dict[WatchKind, list[str]] = {k: [] for k in kinds}
        size = 0

        def flush() -> None:
            nonlocal current, size
            if not any(current.values()):
                return
            if use_v2:
                batches.append(
                    SetWatches2(
                        relative_zxid=self.last_zxid,
                        data_watches=tuple(current[WatchKind.DATA]),
                        exist_watches=tuple(current[WatchKind.EXIST]),
                        child_watches=tuple(current[WatchKind.CHILD]),
                        persistent_watches=tuple(current[WatchKind.PERSISTENT]),
                        persistent_recursive_watches=tuple(current[WatchKind.PERSISTENT_RECURSIVE]),
                    )
                )
            else:
                batches.append(
                    SetWatches(
                        relative_zxid=self.last_zxid,
                        data_watches=tuple(current[WatchKind.DATA]),
                        exist_watches=tuple(current[WatchKind.EXIST]),
                        child_watches=tuple(current[WatchKind.CHILD]),
                    )
                )
            current = {k: [] for k in kinds}
            size = 0

        # Each frame stays within the frame limit, however small it was set:
        # 64 bytes cover the length, header, relative zxid and vector counts.
        budget = min(_SET_WATCHES_BATCH, self.max_frame_size - 64)
        for kind in kinds:
            for path in lists[kind]:
                cost = len(path.encode()) + 4
                if size + cost > budget:
                    flush()
                current[kind].append(path)
                size += cost
        flush()
        # Before ZooKeeper 3.9 a recursive watch re-added above takes the
        # child-watch slot of its path: set those child watches again after it.
        use_v2 = False
        for path in map(apply, reg.shadowed_child_paths()):
            cost = len(path.encode()) + 4
            if size + cost > budget:
                flush()
            current[WatchKind.CHILD].append(path)
            size += cost
        flush()
        return batches

    # ================================================================ close
    async def close(self) -> None:
        """Close the session: closeSession (bounded, shielded), then stop everything."""
        if self._closing:
            await self._closed_event.wait()
            return
        self._closing = True
        try:
            with trio.move_on_after(self.close_timeout, shield=True):
                session_id = self.session_id
                if (
                    self.state in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY)
                    and self._terminal_error is None
                    and self._conn_scope is not None  # a reader and writer are running
                    and self._death is None  # and their connection is not ending
                ):
                    call = _Call(OpCode.CLOSE_SESSION, _EMPTY, None, None)
                    self._close_call = call
                    self._outbox.append(call)
                    self._wake_writer.set()
                    # The server answers and closes; a lost connection or an
                    # expiry meanwhile ends the session just as well (the
                    # connection's teardown fails the call if it was never
                    # written).
                    try:
                        await call.wait()
                    except ZooKeeperError as exc:
                        log.debug(
                            "closeSession for 0x%x not answered (%s): the session is left "
                            "to expire on the server",
                            session_id,
                            exc,
                        )
                    else:
                        log.debug("closeSession for 0x%x answered", session_id)
                elif session_id:
                    log.debug(
                        "closing without a connection: session 0x%x is left to expire on "
                        "the server",
                        session_id,
                    )
        finally:
            if self._cancel_scope is not None:
                self._cancel_scope.cancel()

            def closed() -> BaseException:
                return trio.ClosedResourceError("the ZooKeeper client was closed")

            self._fail_inflight(closed)
            self._fail_queued(closed)
            self.registry.end_all(KeeperState.CLOSED)
            self.default_watcher._end()
            if self.state is not KeeperState.CLOSED:
                self._set_state(SessionEvent.CLOSE)
            self._closed_event.set()


_EMPTY = Empty()
