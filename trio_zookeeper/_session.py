"""The session: what outlives a connection, and the supervisor that makes them.

One :class:`Session` lives inside the nursery of ``open_zookeeper``. It owns
what survives a connection: the host order (``_hostprovider``), the pauses
between attempts and the expiry suspicion, the session identity (id,
password, last zxid), the states and their channels, the outbox of requests
not yet written, close, the tracer hooks and the statistics. Its supervisor
task (:meth:`Session.run`) picks a server and makes a
:class:`~trio_zookeeper._io_connection.Connection` to it, which owns what dies
with the socket: the stream, the protocol (whose pending FIFO holds the
written requests), the handshake and priming, the reader (run in the
supervisor task) and the writer task (started when first needed). A request
goes to the serving connection's ``submit`` (written at once when the writer
is idle, else queued for it) or, with no connection, waits in the outbox.

Cancellation contract, each piece enforced in one place:

* a caller cancelled while its request is still queued removes it: it is
  never sent (``Call``'s abort hook marks it; the writer skips it);
* a request written on a connection that dies fails with
  :class:`ConnectionLossError`, its outcome unknown
  (``Connection.aclose``); a caller cancelled after the write leaves it in
  place, and its reply is read and dropped when it comes;
* requests not yet written stay in the session's outbox for the next
  connection on the same session, and are never sent twice (a call leaves
  the outbox exactly when ``Connection._encode`` writes it). Nothing is
  retried behind the caller's back.

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

A failed connection attempt says why: its cause, in words
(:func:`describe_connect_failure`), is logged at WARNING (the first failure
of a host, then at most once per ``CONNECT_WARNING_INTERVAL`` with a count),
kept for ``statistics().connect_errors``, and, with ``connect_rounds``, put
in the :class:`ConnectFailedError` that ends an open that got nowhere.

Opening and closing never leave a session behind: the first connection is
handed over to ``open_zookeeper`` and shielded from the caller's scopes in
one step (:meth:`Session._hand_over`); an open cancelled once the server was
asked for a session closes that session itself
(``Connection.close_unwanted_session``); :meth:`Session.close` sends
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
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import trio

from ._calls import ABANDONED, QUEUED, Call
from ._hostprovider import DEFAULT_BACKOFF, SHARED_RNG, Backoff, HostListUpdate, HostProvider
from ._hosts import ConnectString, HostPort
from ._io_connection import Connection, ConnectionDead
from ._net import TRANSPORT_ERRORS, four_letter_word, open_stream
from ._protocol import (
    CONFIG_NODE,
    DEFAULT_MAX_FRAME_SIZE,
    AuthFailedError,
    AuthPacket,
    Chroot,
    ConnectionLossError,
    ConnectRequest,
    ConnectResponse,
    Empty,
    KeeperState,
    OpCode,
    ProtocolState,
    RemoteProtocolError,
    SessionEvent,
    SessionExpiredError,
    SetWatches,
    SetWatches2,
    WatchedEvent,
    ZooKeeperError,
    ZooKeeperInternalError,
    op_name,
    transition,
)
from ._protocol._valuerecord import ValueRecord, value_field
from ._watchers import WatchEvents, WatchKind, WatchRegistry

if TYPE_CHECKING:  # loaded on first use: by clients with SASL, a tracer
    from ._protocol._sasl import SaslMechanism
    from ._trace import Tracer

__all__ = ["ConnectFailedError", "Session", "SessionStatistics", "StreamFactory"]

log = logging.getLogger("trio_zookeeper.session")

#: A test seam: open a byte stream to (host, port) instead of TCP.
StreamFactory = Callable[[str, int], Awaitable[trio.abc.Stream]]

#: Java batches SetWatches at about 128 KiB of path characters (ZOOKEEPER-706).
_SET_WATCHES_BATCH = 128 * 1024
_NEW_PASSWORD = b"\x00" * 16
#: A host that keeps failing is logged at WARNING at most once per this many
#: seconds (its first failure always), with the count of failures not logged.
CONNECT_WARNING_INTERVAL = 60.0


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
    if isinstance(exc, ConnectionDead):
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


def _only_cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is a trio.Cancelled, or a group of nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return isinstance(exc, trio.Cancelled)


#: TLS alerts with which a server refuses the client's certificate (none
#: offered, untrusted, expired, revoked, or refused by policy).
_CERTIFICATE_REJECTED = frozenset(
    {
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV1_ALERT_UNKNOWN_CA",
    }
)


def certificate_rejection(exc: BaseException) -> str | None:
    """The TLS alert if ``exc`` is the server refusing this client's certificate, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) and not isinstance(
            current, ssl.SSLCertVerificationError
        ):
            reason = current.reason or ""
            return reason if reason in _CERTIFICATE_REJECTED else None
        current = current.__cause__ or current.__context__
    return None


def _leaf_errors(exc: BaseException) -> list[BaseException]:
    inner = getattr(exc, "exceptions", None)
    if inner is None:
        return [exc]
    out: list[BaseException] = []
    for sub in inner:
        out += _leaf_errors(sub)
    return out


class SessionStatistics(ValueRecord):
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
        requests: Requests made since the client opened (each call of an
            operation that goes to the server, credentials included; a
            ``multi`` is one).
        errors: How many requests failed, by exception class name, e.g.
            ``{"NoNodeError": 3, "ConnectionLossError": 1}`` (a caller's
            cancellation is not counted).
        reconnects: Connections made after the first one.
        expirations: Sessions that expired (said by a server or suspected).
        watch_events: Watch notifications received from servers.
        bytes_sent: Bytes written to servers (all connections).
        bytes_received: Bytes read from servers (all connections).
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
    connect_errors: dict[str, str] = value_field(factory=dict, hash=False)
    requests: int = 0
    errors: dict[str, int] = value_field(factory=dict, hash=False)
    reconnects: int = 0
    expirations: int = 0
    watch_events: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


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


class _SessionLog(logging.LoggerAdapter[logging.Logger]):
    """The session's logger: every line names the session id and server.

    Lines are prefixed ``[session 0x… via host:port]`` (``via`` only while
    connected; no prefix before the first session), and every record carries
    ``zk_session_id`` (int, 0 for none) and ``zk_server`` (``"host:port"`` or
    None) for structured logging. The prefix is built only for lines that
    are emitted.
    """

    def __init__(self, logger: logging.Logger, session: Session) -> None:
        super().__init__(logger, {})
        self.session = session

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any]
    ) -> tuple[object, MutableMapping[str, Any]]:
        session_id = self.session.session_id
        server = self.session.server
        kwargs["extra"] = {
            "zk_session_id": session_id,
            "zk_server": None if server is None else str(server),
            **(kwargs.get("extra") or {}),
        }
        if not session_id:
            return msg, kwargs
        where = f" via {server}".replace("%", "%%") if server is not None else ""
        return f"[session 0x{session_id:x}{where}] {msg}", kwargs


class Session:
    """The session machinery behind a :class:`~trio_zookeeper.ZooKeeper` client.

    It outlives its connections: it owns the host order and the pauses
    between attempts, the session identity (id, password, last zxid), the
    states and their channels, expiry (said and suspected), the outbox of
    requests not yet written, close, and the statistics. Each connection is a
    :class:`~trio_zookeeper._io_connection.Connection`, made by
    :meth:`_connect_and_serve` and dropped when it dies.
    """

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
        tracer: Tracer | None = None,
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
        if tracer is not None:
            # Imported only with a tracer: a plain client never loads it.
            from ._trace import Tracer

            if not isinstance(tracer, Tracer):
                raise TypeError(
                    "tracer must be a trio_zookeeper.Tracer (subclass it), "
                    f"not {type(tracer).__name__}"
                )
        self.connect_rounds = connect_rounds
        self.tracer = tracer
        self.log: logging.LoggerAdapter[logging.Logger] = _SessionLog(log, self)
        self._rng = rng or SHARED_RNG
        self._host_provider = HostProvider(connect.hosts, self._rng)
        # Connect-string order, for ConnectFailedError and connect_errors.
        self._host_order = list(connect.hosts)
        self.reconnect_backoff = reconnect_backoff or DEFAULT_BACKOFF
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
        if sasl is None:
            self.sasl: SaslMechanism | None = None
        else:  # imported only with SASL: a plain client never loads it
            from ._protocol._sasl import sasl_mechanism

            self.sasl = sasl_mechanism(sasl)

        self.state = KeeperState.DISCONNECTED
        self.session_id = session_id
        self.password = session_password if session_password is not None else _NEW_PASSWORD
        self.last_zxid = 0
        # A session handed in by the caller was made by a read-write server:
        # resume it (Java sets seenRwServerBefore when given a session id).
        self._seen_rw_server = session_id != 0
        self._terminal_error: BaseException | None = None
        self._closing = False
        self._closed_event = trio.Event()
        self._connected_event = trio.Event()
        self.last_recv = 0.0  # when a server was last heard from
        self._preferred_host: HostPort | None = None
        # The last failure of each host, and its WARNING rate limit: when it
        # was last logged and how many failures were not logged since.
        self._connect_errors: dict[HostPort, str] = {}
        self._warned: dict[HostPort, tuple[float, int]] = {}

        # Requests not yet written: they wait here for a connection.
        self.outbox: collections.deque[Call] = collections.deque()
        # The current connection (from its stream's opening to its end) and
        # where a request goes: the serving connection's submit, or the outbox.
        self._connection: Connection | None = None
        self._submit: Callable[[Call], None] = self.outbox.append

        # Counters for statistics(); bytes of finished connections (the
        # current one counts its own).
        self.connections = 0
        self.expired_sessions = 0
        self.requests = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.watch_events = 0
        self._bytes_sent = 0
        self._bytes_received = 0

        self.registry = WatchRegistry()
        self.default_watcher = WatchEvents(max_buffer=10_000, session_events=False)
        self._state_channels: set[_StateChannel] = set()
        # The scope of run(), made here so that an opener giving up can
        # cancel it even before the task has started (abandon_open).
        self._cancel_scope = trio.CancelScope()
        self._handed_over = False
        # Set when the first connection is handed over, or when run() ends
        # without one: what open_zookeeper waits for (wait_opened).
        self._opened = trio.Event()
        self._run_done = trio.Event()
        self._close_call: Call | None = None

    # ================================================================ API
    @property
    def server(self) -> HostPort | None:
        """The server of the current connection, once it gave a session (else None)."""
        conn = self._connection
        return conn.host if conn is not None and conn.adopted else None

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
        self.log.info(
            "host list changed from %s to %s; %s",
            ",".join(update.previous),
            ",".join(update.hosts),
            update.reason,
        )
        if self.tracer is not None:
            _call_hook(self.tracer.hosts_changed, update)
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
        call = self.start(op, request, path, on_reply)
        if self.tracer is not None:
            return await self._wait(call)
        # _wait, inlined: the path of every untraced request.
        try:
            await call.parked()
            return call.outcome()
        except Exception as exc:
            self.errors[type(exc).__name__] += 1
            raise

    def start(
        self,
        op: int,
        request: object,
        path: str | None = None,
        on_reply: Callable[[int], None] | None = None,
    ) -> Call:
        """Send one request (or queue it, in order) and return its call at once.

        The reply is taken later (:meth:`call` waits for it at once;
        :class:`~trio_zookeeper.Pipeline` later, with ``call.parked_keeping()``
        and ``call.outcome()``). Not a checkpoint. With a tracer, the call is
        a :class:`~trio_zookeeper._trace.TracedCall`, whose trace has started.

        Raises:
            SessionExpiredError: The session is over (and no new one is made).
            trio.ClosedResourceError: The client was closed.
        """
        self.check_usable()
        self.requests += 1
        if self.tracer is None:
            call = Call(op, request, path, on_reply)
        else:
            from ._trace import TracedCall  # loaded on first use

            call = TracedCall(self.tracer, op_name(op), op, request, path, on_reply)
        self._submit(call)
        return call

    async def _wait(self, call: Call) -> object:
        """Wait for ``call``'s reply; count its error, end its trace if the wait raised."""
        try:
            return await call.wait()
        except BaseException as exc:
            if isinstance(exc, Exception):
                self.errors[type(exc).__name__] += 1
            call.abandon(exc)  # a traced call's trace ends with exc (unless the reply did)
            raise

    async def authenticate(self, scheme: str, credential: bytes) -> None:
        """Send an auth packet now and remember it for every later connection."""
        await trio.lowlevel.checkpoint_if_cancelled()
        call = self.start(OpCode.AUTH, AuthPacket(type=0, scheme=scheme, auth=credential))
        # Remembered from now on, so that a reconnect re-sends it even if the
        # caller is cancelled after the packet went out (the server may have
        # accepted it); forgotten only if it was never written.
        entry = (scheme, credential)
        self.auth.append(entry)
        try:
            await self._wait(call)
        except BaseException:
            if call.state == ABANDONED and not call.written:
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
        conn = self._connection
        return SessionStatistics(
            state=self.state,
            session_id=self.session_id,
            negotiated_timeout=self.negotiated_timeout,
            last_zxid=self.last_zxid,
            server=None if self.server is None else str(self.server),
            queued_requests=sum(1 for c in self.outbox if c.state == QUEUED),
            pending_requests=0 if conn is None else conn.pending_requests,
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
            requests=self.requests,
            errors=dict(sorted(self.errors.items())),
            reconnects=max(0, self.connections - 1),
            expirations=self.expired_sessions,
            watch_events=self.watch_events,
            bytes_sent=self._bytes_sent + (0 if conn is None else conn.bytes_sent),
            bytes_received=self._bytes_received + (0 if conn is None else conn.bytes_received),
        )

    # ================================================ the connection's owner
    def deliver(self, event: WatchedEvent) -> None:
        """A watch notification from the server: to the watchers, chroot removed."""
        self.watch_events += 1
        if event.path is not None and self.chroot:
            event = WatchedEvent(
                event.event_type, event.keeper_state, self.chroot.strip(event.path), event.zxid
            )
        self.registry.dispatch(event)

    def auth_failed(self, error: BaseException | None = None) -> None:
        """The server rejected the credentials: final (Java's AUTH_FAILED state).

        Waiting requests fail with ``error`` (by default a generic
        AuthFailedError), which every later call raises as well.
        """
        if error is None:
            error = AuthFailedError("authentication failed: the server rejected the credentials")
        # A later, more precise reason (the SASL exchange's, say) replaces
        # the first one for later calls; waiting requests fail only once.
        first = self._terminal_error is None
        self._terminal_error = error
        if not first:
            return
        self._fail_requests(lambda: error)
        self._set_state(SessionEvent.AUTH_FAILED)
        self.registry.end_all(KeeperState.AUTH_FAILED, keep_open=self.default_watcher)

    # ======================================================== state changes
    def _set_state(self, event: SessionEvent) -> None:
        old = self.state
        new = transition(old, event)
        if new is old:
            return
        self.state = new
        if log.isEnabledFor(logging.DEBUG):  # the enum names cost even when not logged
            self.log.debug("session state %s -> %s (%s)", old.name, new.name, event.value)
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

    def _fail_requests(self, error_factory: Callable[[], BaseException]) -> None:
        """Fail every request: queued on the session, and written on the connection."""
        if self._connection is not None:
            self._connection.fail_pending(error_factory)
        while self.outbox:
            call = self.outbox.popleft()
            if call.state == QUEUED:
                call.finish(None, error_factory())

    def _expire(self, reason: str) -> None:
        """The session is gone (server said so, or it is suspected)."""
        expired_id = self.session_id
        self.log.warning("session expired: %s", reason)
        self.expired_sessions += 1
        if self.tracer is not None:
            _call_hook(self.tracer.session_expired, expired_id, reason)

        def error() -> BaseException:
            return SessionExpiredError(f"session 0x{expired_id:x} expired: {reason}")

        self._fail_requests(error)
        self._set_state(SessionEvent.EXPIRED)
        self.registry.end_all(KeeperState.EXPIRED, keep_open=self.default_watcher)
        self.session_id = 0
        self.password = _NEW_PASSWORD
        if self.reconnect_after_expiry:
            self._set_state(SessionEvent.NEW_SESSION)
        else:
            self._terminal_error = error()

    # ============================================================ supervisor
    async def wait_opened(self) -> None:
        """Wait until :meth:`run` has handed over the first connection.

        Raises:
            ZooKeeperInternalError: :meth:`run` ended without a session and
                without an error (it never does).
        """
        await self._opened.wait()
        if not self._handed_over:
            raise ZooKeeperInternalError("the session's task ended before it opened")

    async def abandon_open(self) -> None:
        """The opener gave up (cancelled, interrupted) before the hand-over.

        What ``nursery.start`` does for a cancelled start: the opening is
        cancelled and waited for, so that nothing but :meth:`run` touches the
        session until it has ended; a session the server made meanwhile is
        closed by :meth:`run` itself (``close_unwanted_session``, bounded by
        ``close_timeout``). Once handed over, there is nothing to do here:
        :meth:`close` sends closeSession.
        """
        if self._handed_over:
            return
        self._cancel_scope.cancel()
        with trio.CancelScope(shield=True):
            await self._run_done.wait()

    async def run(self) -> None:
        """Keep the session connected until closed; hand over the first connection.

        Runs as a task of ``open_zookeeper``'s nursery, which waits for the
        hand-over with :meth:`wait_opened` (a task started with
        ``nursery.start`` would cost a nursery of its own, and a task moved
        between nurseries, at every open).
        """
        try:
            await self._run()
        finally:
            self._run_done.set()
        # Ended without an error (only ever once closed): never leave the
        # opener waiting. An error needs nothing here: it cancels the opener
        # through the nursery, and reaches the caller unwrapped from there.
        self._opened.set()

    async def _run(self) -> None:
        started = False
        # A session handed in by the caller gets a full expiry budget from now.
        self.last_recv = trio.current_time()
        with self._cancel_scope:
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
                    await self._connect_and_serve(host, hand_over=not started)
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
        return self.last_recv + self.negotiated_timeout * 4 / 3

    async def _pause(self, seconds: float) -> None:
        """Sleep between attempts, waking early at the expiry-suspicion deadline.

        A new host list (``update_hosts``) also ends the pause: its servers
        are tried at once.
        """
        with trio.move_on_at(min(trio.current_time() + seconds, self._suspicion_deadline())):
            await self._hosts_changed.wait()

    def _check_suspected_expiry(self) -> None:
        if trio.current_time() >= self._suspicion_deadline():
            silent = trio.current_time() - self.last_recv
            self._expire(
                f"no server reachable for {silent:.1f}s, more than the session timeout of "
                f"{self.negotiated_timeout:.1f}s (expiry suspected by the client)"
            )

    async def _open_stream(self, host: HostPort) -> trio.abc.Stream:
        if self._stream_factory is not None:
            return await self._stream_factory(host.host, host.port)
        return await open_stream(host, self.ssl_context, rng=self._rng)

    async def _connect_and_serve(self, host: HostPort, *, hand_over: bool) -> None:
        """One connection: open, handshake, prime, serve until it dies.

        Every way a connection ends arrives here as a
        :class:`ConnectionDead` (the transport's errors are mapped in the
        connection, the stream opener's here); what was written on it fails
        in :meth:`Connection.aclose`, what was queued stays in the outbox.
        """
        # Java's connectTimeout: the session timeout (the negotiated one once
        # known) divided by the number of hosts, for the TCP connect, the TLS
        # handshake and the ZooKeeper handshake together; never past the
        # moment expiry would be suspected.
        connect_timeout = self.negotiated_timeout / len(self.hosts)
        deadline = min(trio.current_time() + connect_timeout, self._suspicion_deadline())
        conn: Connection | None = None
        cause: BaseException | None = None
        failure: str | None = None  # set when no connection was established
        connected_before = self.connections
        if self.tracer is not None:
            _call_hook(self.tracer.connecting, str(host))
        try:
            read_only: bool | None = None
            with trio.move_on_at(deadline):
                conn = self._connection = await Connection.open(
                    self, host, self._open_stream, max_frame_size=self.max_frame_size
                )
                read_only = self._adopt(await conn.handshake(self._connect_request()))
            if read_only is None:
                failure = f"timed out after {connect_timeout:.1f}s"
                return
            assert conn is not None
            conn.adopted = True
            self._host_provider.connected(host)
            self.last_recv = trio.current_time()
            await conn.prime(
                sasl=self.sasl,
                sasl_timeout=self.requested_timeout,
                auth=self.auth,
                auth_timeout=self.negotiated_timeout,
                set_watches=self._set_watches_batches(),
            )
            self.connections += 1
            # A host that works again: its next failure is logged at once.
            self._connect_errors.pop(host, None)
            self._warned.pop(host, None)
            await conn.serve(
                lambda: self._serving(conn, read_only, hand_over=hand_over),
                self._seek_read_write_server
                if read_only and self._stream_factory is None
                else None,
            )
        except ConnectionDead as exc:
            cause = exc.__cause__ or exc
            if self.connections == connected_before:
                failure = describe_connect_failure(exc)
                alert = certificate_rejection(exc)
                if alert is not None and not self._handed_over:
                    # Opening, the server refused the client certificate: a
                    # credentials error, final like a rejected SASL login (an
                    # ensemble shares its trust settings, and retrying offers
                    # the same certificate). Once a session exists, a
                    # rejection is a connection failure like any other.
                    self.auth_failed(
                        AuthFailedError(
                            f"the server {host} refused this client's TLS certificate "
                            f"({alert}): check the certificate and key loaded into "
                            "ssl_context (load_cert_chain) and that the server trusts its CA"
                        )
                    )
            else:
                reason = str(exc) if exc.__cause__ is None else describe_connect_failure(exc)
                self.log.info("connection to %s lost: %s", host, reason)
                if self.tracer is not None:
                    _call_hook(self.tracer.connection_lost, str(host), reason)
        except BaseException as exc:
            # The caller gave up opening (its scope was cancelled) before the
            # session was handed over. If the server made a session, close it
            # now: nobody else ever will, and it would hold its ephemeral
            # nodes and its memory on the server until it expired. (Out of
            # the connection's nursery the Cancelled comes grouped.)
            if (
                _only_cancelled(exc)
                and hand_over
                and not self._handed_over
                and conn is not None
                and (
                    conn.protocol.state is ProtocolState.CONNECTED
                    or (conn.protocol.state is ProtocolState.HANDSHAKE and conn.handshake_sent)
                )
            ):
                await conn.close_unwanted_session(self.close_timeout)
            raise
        finally:
            self._submit = self.outbox.append
            if failure is not None and not self._closing:
                self._note_connect_failure(host, failure)
            if conn is not None:
                await conn.aclose(cause)
                self._bytes_sent += conn.bytes_sent
                self._bytes_received += conn.bytes_received
            self._connection = None
            close_call = self._close_call
            if close_call is not None and close_call.state == QUEUED:
                # close() queued closeSession on this connection, which ended
                # before writing it: there is nobody to send it to now.
                close_call.finish(None, ConnectionLossError("the connection ended first"))
            if self.state in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY):
                self._set_state(SessionEvent.CONNECTION_LOST)

    def _connect_request(self) -> ConnectRequest:
        # A session only ever seen by read-only servers is a local one that a
        # read-write server would not know: start afresh (Java's
        # seenRwServerBefore).
        return ConnectRequest(
            protocol_version=0,
            last_zxid_seen=self.last_zxid,
            time_out=int(self.requested_timeout * 1000),
            session_id=self.session_id if self._seen_rw_server else 0,
            passwd=self.password,
            read_only=self.allow_read_only,
        )

    def _adopt(self, response: ConnectResponse) -> bool:
        """Judge the server's ConnectResponse; adopt the session it gives.

        Returns:
            Whether the server is read-only.

        Raises:
            ConnectionDead: this server is unusable (it says why).
        """
        asked = self.session_id if self._seen_rw_server else 0
        if response.time_out <= 0:
            self._expire("the server reported the session as expired")
            raise ConnectionDead("the server reported the session as expired")
        if response.read_only and not self.allow_read_only:
            raise ConnectionDead("the server is read-only (and read_only=False)")
        if asked != 0 and response.session_id != asked:
            self._expire(
                f"the server answered with session 0x{response.session_id:x} instead of 0x{asked:x}"
            )
            if self._terminal_error is not None:
                # Expiry is final: do not adopt the new session.
                raise ConnectionDead("the session expired")
        self.session_id = response.session_id
        self.password = response.passwd or _NEW_PASSWORD
        self.negotiated_timeout = response.time_out / 1000.0
        if not response.read_only:
            self._seen_rw_server = True
        return response.read_only

    def _serving(self, conn: Connection, read_only: bool, *, hand_over: bool) -> None:
        """The connection's tasks run: route requests to it and report connected."""
        # Queued requests are the writer's first batch (it has not run yet).
        self._submit = conn.submit
        self._set_state(SessionEvent.CONNECTED_RO if read_only else SessionEvent.CONNECTED_RW)
        if self.tracer is not None:
            _call_hook(self.tracer.connected, str(conn.host), self.session_id, read_only)
        if hand_over:
            self._hand_over()

    def _hand_over(self) -> None:
        """Report the session opened; from then on only :meth:`close` ends its tasks.

        This task runs in ``open_zookeeper``'s nursery, inside the caller's
        scopes: a cancellation of those (a ``move_on_after`` around the open
        firing just now) must not kill the reader and writer before
        closeSession has gone out, so the session's scope is shielded in the
        same step as the opener is woken, with no checkpoint in between.
        From here the opener owns the session: cancelled before it returns,
        it closes the session itself (:meth:`close` sends closeSession). A
        Cancelled that reaches this task before this step closes the new
        session here instead (:meth:`Connection.close_unwanted_session`).
        """
        if self._cancel_scope.cancel_called:
            # The opener gave up just now (abandon_open): no hand-over. The
            # Cancelled that reaches this task at its next checkpoint closes
            # the new session (Connection.close_unwanted_session).
            return
        self._handed_over = True
        self._cancel_scope.shield = True
        self._opened.set()

    def _note_connect_failure(self, host: HostPort, failure: str) -> None:
        """Remember why ``host`` failed and log it at WARNING, rate-limited per host."""
        self._connect_errors[host] = failure
        if self.tracer is not None:
            _call_hook(self.tracer.connect_failed, str(host), failure)
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
            self.log.warning("cannot connect to ZooKeeper server %s: %s%s", host, failure, more)
            self._warned[host] = (now, 0)
        else:
            self.log.debug("cannot connect to ZooKeeper server %s: %s", host, failure)
            self._warned[host] = (last[0], last[1] + 1)

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

    def _connection_dead(self, reason: str) -> None:
        if self._connection is not None:
            self._connection.kill(reason)

    def _set_watches_batches(self) -> list[SetWatches | SetWatches2]:
        reg = self.registry
        if not reg.count():
            return []  # nearly every first connection: no lists to build
        apply = self.chroot.apply
        kinds = (
            WatchKind.DATA,
            WatchKind.EXIST,
            WatchKind.CHILD,
            WatchKind.PERSISTENT,
            WatchKind.PERSISTENT_RECURSIVE,
        )
        lists = {kind: [apply(p) for p in reg.paths(kind)] for kind in kinds}
        if self.chroot:
            # get_config's watch: the configuration node lies outside any
            # chroot (its events come back unprefixed), so its watch is set
            # again there, not on the chroot's own /zookeeper/config.
            data, inside = lists[WatchKind.DATA], apply(CONFIG_NODE)
            if inside in data:
                data[data.index(inside)] = CONFIG_NODE
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
                conn = self._connection
                if (
                    self.state in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY)
                    and self._terminal_error is None
                    and conn is not None
                    and conn.alive  # serving, and the connection is not ending
                ):
                    call = Call(OpCode.CLOSE_SESSION, _EMPTY)
                    self._close_call = call
                    conn.submit(call)
                    # The server answers and closes; a lost connection or an
                    # expiry meanwhile ends the session just as well (the
                    # connection's teardown fails the call, written or not).
                    try:
                        await call.wait()
                    except ZooKeeperError as exc:
                        self.log.debug(
                            "closeSession for 0x%x not answered (%s): the session is left "
                            "to expire on the server",
                            session_id,
                            exc,
                        )
                    else:
                        self.log.debug("closeSession for 0x%x answered", session_id)
                elif session_id:
                    self.log.debug(
                        "closing without a connection: session 0x%x is left to expire on "
                        "the server",
                        session_id,
                    )
        finally:
            self._cancel_scope.cancel()

            def closed() -> BaseException:
                return trio.ClosedResourceError("the ZooKeeper client was closed")

            self._fail_requests(closed)
            self.registry.end_all(KeeperState.CLOSED)
            self.default_watcher._end()
            if self.state is not KeeperState.CLOSED:
                self._set_state(SessionEvent.CLOSE)
            self._closed_event.set()


def _call_hook(hook: Callable[..., None], *args: object) -> None:
    """Call a tracer hook (``_trace`` is loaded only by a client with a tracer)."""
    from ._trace import call_hook

    call_hook(hook, *args)


_EMPTY = Empty()
