"""One connection to one server: everything that dies with its socket.

A :class:`Connection` is made by the session for each attempt and thrown
away when the attempt fails or the connection dies; nothing in it is reused.
It owns:

* the byte stream and the sans-IO :class:`~trio_zookeeper._protocol.ClientProtocol`
  (the wire rules live in ``_protocol/_connection.py``; this module is the I/O
  around one instance of it);
* the requests written on this connection: each written
  :class:`~trio_zookeeper._calls.Call` is the context of its entry in the
  protocol's pending FIFO (the one record of what awaits a reply; its
  :class:`~trio_zookeeper._protocol.Reply` carries the call back), and
  written credentials wait in a FIFO of their own for their AuthReply. When
  the connection dies they fail with
  :class:`~trio_zookeeper.ConnectionLossError` (their outcome is unknown);
* the handshake (:meth:`Connection.handshake`) and the priming
  (:meth:`Connection.prime`: SASL, credentials, SetWatches batches);
* the reader and the writer (:meth:`Connection.serve`: the reader in the
  session's task, which also keeps the ping time; the writer in a task of
  its own, started when first needed) and the callers' fast direct write,
  all behind :meth:`Connection.submit`.

Three rules hold here and nowhere else:

* **one read helper** (:meth:`Connection._receive`) reads bytes and feeds the
  protocol, for the handshake, the priming and the reader alike; one write
  helper (:meth:`Connection._send`) writes whole frames;
* **one place where a call becomes written** (:meth:`Connection._encode`):
  its xid is allocated, it enters the protocol's pending FIFO, its state
  becomes WRITTEN; before that it is only in the session's outbox;
* **one mapping of transport errors** (OSError, BrokenResourceError,
  ClosedResourceError, and bytes that break the protocol) to
  :class:`ConnectionDead`, "this connection is dead", in those two helpers
  and in :meth:`Connection.open`.

What survives a connection (the outbox of unwritten requests, the host
order, states, expiry, statistics) belongs to the session
(``_session.py``); a connection reaches it only through the
:class:`ConnectionOwner` interface.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import trio

from ._calls import ABANDONED, DONE, QUEUED, WRITTEN, Call
from ._hosts import HostPort
from ._net import TRANSPORT_ERRORS
from ._protocol import (
    SET_WATCHES_XID,
    AuthFailedError,
    AuthPacket,
    ClientProtocol,
    Connected,
    ConnectionClosed,
    ConnectionLossError,
    ConnectRequest,
    ConnectResponse,
    Empty,
    ErrorCode,
    FrameTooLargeError,
    GetSASLRequest,
    LocalProtocolError,
    Notification,
    OpCode,
    ProtocolError,
    ProtocolState,
    RemoteProtocolError,
    Reply,
    SetSASLResponse,
    SetWatches,
    SetWatches2,
    WatchedEvent,
    error_for_code,
)
from ._protocol import AuthReply as _AuthReply

if TYPE_CHECKING:  # loaded with SASL only
    from ._protocol._sasl import SaslMechanism

__all__ = ["Connection", "ConnectionDead", "ConnectionOwner", "connection_loss"]

_RECV_SIZE = 65536
#: Priming bytes (credentials, SetWatches batches) are written once this many are encoded.
_PRIMING_WRITE = 256 * 1024
#: Java pings at least every 10 s, whatever the timeout (MAX_SEND_PING_INTERVAL).
_MAX_PING_INTERVAL = 10.0
#: How many requests callers write directly between two runs of the reader or
#: the writer before the rest of a burst is left to the writer (one write for
#: all). Two, so that a pipelined pair (a recipe's create and its listing)
#: goes out without waking the writer.
_DIRECT_BURST = 2
_EMPTY = Empty()


class ConnectionDead(Exception):
    """Why a connection ended; ``__cause__`` is the transport's error, if any."""


def connection_loss(message: str, cause: BaseException | None) -> ConnectionLossError:
    """A ConnectionLossError whose ``__cause__`` is the transport's error."""
    err = ConnectionLossError(message)
    err.__cause__ = cause
    return err


class ConnectionOwner(Protocol):
    """What a connection needs from the session that survives it."""

    #: Requests not yet written, shared by every connection of the session.
    outbox: collections.deque[Call]
    #: The newest zxid seen; the reader keeps it current.
    last_zxid: int
    #: When a server was last heard from; the reader keeps it current.
    last_recv: float
    negotiated_timeout: float
    log: logging.LoggerAdapter[logging.Logger]

    def deliver(self, event: WatchedEvent) -> None:
        """Hand a watch notification (server paths) to the watchers."""

    def auth_failed(self, error: BaseException | None = None) -> None:
        """The server rejected the credentials: the session is over for good."""


class Connection:
    """One connection to one server, from the TCP connect to its death.

    Attributes:
        host: The server.
        stream: The byte stream.
        protocol: The sans-IO protocol state of this connection, and the
            record of the written requests awaiting their reply (each
            pending entry's context is its :class:`Call`).
        auth_waiters: Written credentials awaiting their AuthReply, oldest first.
        death: Why it ended, once it has (set once, by the first cause).
        handshake_sent: The ConnectRequest went out whole: the server makes
            (or resumes) a session.
        adopted: The session accepted the server's answer: this connection
            serves it (set by the session).
        bytes_sent: Bytes of frames handed to the socket.
        bytes_received: Bytes read from the socket.
    """

    def __init__(
        self,
        owner: ConnectionOwner,
        host: HostPort,
        stream: trio.abc.Stream,
        *,
        max_frame_size: int,
    ) -> None:
        self.owner = owner
        self.host = host
        self.stream = stream
        self.protocol = ClientProtocol(max_frame_size=max_frame_size, last_zxid=owner.last_zxid)
        self.auth_waiters: collections.deque[Call] = collections.deque()
        self.death: ConnectionDead | None = None
        self.handshake_sent = False
        self.adopted = False
        self.bytes_sent = 0
        self.bytes_received = 0
        # trio.current_time() is this clock's reading, through two more calls:
        # the per-request stamps below read the clock directly.
        self._now = trio.lowlevel.current_clock().current_time
        self.last_send = self._now()
        self._outbox = owner.outbox
        # On a plain TCP socket, the reader reads the fd and callers write it
        # directly (see submit); other streams (TLS, test streams) go through
        # the stream.
        self._fd = stream.socket.fileno() if type(stream) is trio.SocketStream else -1
        self._direct = False  # set while serving on a plain TCP socket
        self._writer_busy = False
        # A request went out directly since the reader or the writer last
        # ran: the next ones are a burst, queued for one write (see submit).
        self._direct_writes = 0
        self._leftover = bytearray()
        self._wake_writer = trio.Event()
        # Set by the reader when nothing was sent for the ping interval; the
        # writer sends the ping (see _reader).
        self._ping_due = False
        self._scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None  # while serving
        self._writer_started = False
        self._response: ConnectResponse | None = None

    @classmethod
    async def open(
        cls,
        owner: ConnectionOwner,
        host: HostPort,
        opener: Callable[[HostPort], Awaitable[trio.abc.Stream]],
        *,
        max_frame_size: int,
    ) -> Connection:
        """Open a stream to ``host`` with ``opener`` and make a connection of it.

        Raises:
            ConnectionDead: the stream could not be opened (``__cause__`` says why).
        """
        try:
            stream = await opener(host)
        except TRANSPORT_ERRORS as exc:
            raise _dead(f"connect failed: {exc!r}", exc) from exc
        return cls(owner, host, stream, max_frame_size=max_frame_size)

    @property
    def alive(self) -> bool:
        """Serving (its reader running) and not dying."""
        return self._scope is not None and self.death is None

    @property
    def pending_requests(self) -> int:
        """Requests written on this connection and awaiting their reply.

        The protocol's pending entries, less its SetWatches (the session's own
        priming, not requests); credentials awaiting an AuthReply not counted.
        """
        protocol = self.protocol
        return protocol.pending_count - protocol.pending_xids().count(SET_WATCHES_XID)

    # ============================================================ requests
    def submit(self, call: Call) -> None:
        """Write ``call`` now if it is alone, else queue it for the writer.

        The fast path: on a plain TCP socket, when nothing is queued, the
        writer is not sending and fewer than two requests were written
        directly since the reader or the writer last ran, the caller writes
        its own frame, synchronously (``os.write`` on the non-blocking
        socket), with no checkpoint between the xid allocation and the kernel
        write; whatever did not fit goes to the writer. It saves the hop through the
        writer task and trio's post-send checkpoint, about half the scheduler
        passes of a sequential request.

        A burst coalesces: once two requests went out directly (so that a
        pipelined pair needs no writer), the next ones (the other callers
        woken by the same read, or tasks started together) queue, and the
        writer, which runs after them, sends them all in one write instead
        of one system call each. A sequential caller is never held back: its
        next request follows a read, which re-opens the fast path. One
        writer at a time owns the socket, so frames are never interleaved
        and stay in xid order.
        """
        if (
            self._direct
            and self._direct_writes < _DIRECT_BURST
            and not (self._outbox or self._writer_busy or self._leftover)
        ):
            self._direct_writes += 1
            frame = self._encode(call)
            if frame is None:
                return
            self.last_send = self._now()
            try:
                sent = os.write(self._fd, frame)
            except BlockingIOError:
                sent = 0
            except OSError:
                return  # the reader sees the connection die and fails the call
            self.bytes_sent += sent
            if sent < len(frame):
                self._leftover += frame[sent:]
                self._wake()
        else:
            self._outbox.append(call)
            self._wake()

    def _wake(self) -> None:
        """Wake the writer; start it first if this connection has none yet.

        The writer task is started when first needed (a request queued, the
        rest of a direct write, a ping), not with the connection: requests
        written directly and their replies need none, so a connection that
        only opens and closes costs no task and no scheduler pass for it.
        Once started it lives as long as the connection. Outside
        :meth:`serve` there is nothing to start: queued requests wait in the
        outbox for the next connection.
        """
        if self._writer_started:
            self._wake_writer.set()
        elif self._nursery is not None and self.death is None:
            self._writer_started = True
            self._nursery.start_soon(self._writer)

    def _encode(self, call: Call) -> bytes | None:
        """The one place where a call becomes written: its frame, or None if refused."""
        if call.op == OpCode.AUTH:
            frame = self.protocol.send_auth(call.request)  # type: ignore[arg-type]
            self.auth_waiters.append(call)
        else:
            try:
                _, frame = self.protocol.send_request(call.op, call.request, call)
            except LocalProtocolError as exc:
                call.finish(None, exc)
                return None
        call.state = WRITTEN
        call.written = True
        return frame

    def fail_pending(self, error_factory: Callable[[], BaseException]) -> None:
        """Fail every request written on this connection and not yet answered."""
        for call in self.protocol.drain_pending():
            if isinstance(call, Call) and call.state != DONE:
                call.finish(None, error_factory())
        while self.auth_waiters:
            self.auth_waiters.popleft().finish(None, error_factory())

    # ================================================================ I/O
    async def _receive(self) -> list[object]:
        """The one read helper: read some bytes and return the protocol's events.

        Raises:
            ConnectionDead: the stream failed or the bytes broke the protocol.
        """
        fd = self._fd
        try:
            while True:
                if fd >= 0:
                    # trio's receive_some adds a checkpoint after every read,
                    # one more scheduler pass per reply.
                    await trio.lowlevel.wait_readable(fd)
                    try:
                        data: bytes | bytearray = os.read(fd, _RECV_SIZE)
                    except BlockingIOError:
                        continue
                else:
                    data = await self.stream.receive_some(_RECV_SIZE)
                break
            self.bytes_received += len(data)
            return self.protocol.receive_data(data)  # type: ignore[return-value]
        except TRANSPORT_ERRORS as exc:
            raise _dead(f"read failed: {exc!r}", exc) from exc
        except RemoteProtocolError as exc:
            raise _dead(f"protocol error from the server: {exc}", exc) from exc

    async def _send(self, data: bytes | bytearray) -> None:
        """The one write helper for whole frames (the writer, handshake, priming).

        On a plain TCP socket the bytes go to the kernel at once (``os.write``
        on the non-blocking socket, as a caller's direct write): no scheduler
        pass when they all fit, which they nearly always do; the rest, if
        any, goes through the stream.
        """
        try:
            sent = 0
            if self._fd >= 0:
                try:
                    sent = os.write(self._fd, data)
                except BlockingIOError:
                    sent = 0
                self.bytes_sent += sent
            if sent < len(data):
                await self.stream.send_all(memoryview(data)[sent:] if sent else data)
                self.bytes_sent += len(data) - sent
        except TRANSPORT_ERRORS as exc:
            raise _dead(f"write failed: {exc!r}", exc) from exc

    async def _read_until(self, done: Callable[[], bool], closed: str) -> None:
        """Read and dispatch events until ``done()`` (before the reader task runs).

        Raises:
            ConnectionDead: the connection failed, or the server closed it
                (with the message ``closed``) before ``done()``.
        """
        while not done():
            events = await self._receive()
            for event in events:
                self._dispatch(event)
            if done():
                return
            if any(isinstance(event, ConnectionClosed) for event in events):
                raise ConnectionDead(closed)

    # ========================================================== handshake
    async def handshake(self, request: ConnectRequest) -> ConnectResponse:
        """Send the ConnectRequest and read the ConnectResponse.

        Events that arrive with the response are dispatched at once. The
        caller bounds the time and judges the response.

        Raises:
            ConnectionDead: the connection failed, or the server closed it
                (it refuses this client).
        """
        self.handshake_sent = False
        await self._send(self.protocol.connect(request))
        self.handshake_sent = True  # whole: the server makes (or resumes) a session
        await self._read_until(
            lambda: self._response is not None,
            "the server closed the connection during the handshake (its data may be "
            "behind this client's last zxid, or it is read-only)",
        )
        assert self._response is not None
        return self._response

    async def prime(
        self,
        *,
        sasl: SaslMechanism | None,
        sasl_timeout: float,
        auth: Sequence[tuple[str, bytes]],
        auth_timeout: float,
        set_watches: Sequence[SetWatches | SetWatches2],
    ) -> None:
        """Prepare the connection for requests, in Java's ``primeConnection`` order.

        SASL first (before anything else is sent), then the credentials and
        the watches (in one write, or one per ~256 KiB of watches), then wait
        for the credentials' answers: a
        rejection ends the session and must not be reported as connected.

        Raises:
            ConnectionDead: the connection failed, was refused, or an answer
                did not come in time (the next attempt tries again); after a
                rejection of the credentials the session is already over
                (:meth:`ConnectionOwner.auth_failed`).
        """
        if sasl is not None:
            await self._sasl_exchange(sasl, sasl_timeout)
        priming = bytearray()
        placeholders: list[Call] = []
        for scheme, credential in auth:
            # Auth replies are matched in order: a placeholder takes this
            # one's reply, so that an add_auth() queued meanwhile gets its own.
            placeholder = Call(OpCode.AUTH, AuthPacket(type=0, scheme=scheme, auth=credential))
            priming += self._encode(placeholder) or b""
            placeholders.append(placeholder)
        for request in set_watches:
            priming += self.protocol.send_set_watches(request)
            if len(priming) >= _PRIMING_WRITE:
                # Many watches: written as they are encoded (each batch is
                # ~128 KiB), not all held in one buffer (4.5 MB at 100,000).
                await self._send(priming)
                priming = bytearray()
        if priming:
            await self._send(priming)
        if not placeholders:
            return
        with trio.move_on_after(auth_timeout):
            await self._read_until(
                lambda: all(p.state == DONE for p in placeholders) or self.death is not None,
                "the server closed the connection after auth",
            )
            if self.death is not None:
                raise self.death
            return
        raise ConnectionDead(
            f"the server did not answer the credentials within {auth_timeout:.1f}s"
        )

    async def _sasl_exchange(self, mechanism: SaslMechanism, sasl_timeout: float) -> None:
        """Authenticate with the SASL mechanism before anything else is sent.

        A fresh exchange per connection: every new connection authenticates
        (and, for Kerberos, acquires credentials) again. An exchange whose
        calls block runs them in a worker thread. Any failure is final, with
        a one-line reason naming the mechanism.
        """
        from ._protocol._sasl import SaslDigestMD5  # loaded with SASL only

        what = f"SASL {mechanism.mechanism}"
        if isinstance(mechanism, SaslDigestMD5):
            what += f" as {mechanism.username!r}"

        def fail(reason: str, cause: BaseException | None = None) -> ConnectionDead:
            # Final: the session ends in AUTH_FAILED, and open_zookeeper (or
            # every later call) raises this error with its one-line reason.
            error = AuthFailedError(f"{what} authentication failed: {reason}")
            error.__cause__ = cause
            self.owner.auth_failed(error)
            return ConnectionDead(str(error))

        async def step(function: Callable[..., bytes | None], *args: bytes) -> bytes | None:
            try:
                if exchange.blocking:
                    return await trio.to_thread.run_sync(function, *args)
                return function(*args)
            except AuthFailedError as exc:
                raise fail(str(exc), exc.__cause__) from exc

        exchange = mechanism.exchange(self.host.host)
        rounds = 0
        with trio.move_on_after(sasl_timeout):
            token: bytes | None = await step(exchange.initial_token)
            while token is not None:
                call = Call(OpCode.SASL, GetSASLRequest(token=token))
                frame = self._encode(call)
                assert frame is not None
                await self._send(frame)
                rounds += 1
                try:
                    await self._read_until(
                        lambda: call.state == DONE,  # noqa: B023 - read at once
                        "the server closed the connection during SASL",
                    )
                except ConnectionDead as exc:
                    if rounds > 1:
                        # The server closes the connection when it rejects our
                        # response ("Closing client connection due to SASL
                        # authentication failure").
                        raise fail("the server rejected the credentials", exc) from exc
                    raise
                if isinstance(call.error, AuthFailedError):
                    raise fail("the server rejected the credentials")
                if call.error is not None:
                    raise fail(f"the server refused it: {call.error}")
                response = call.result
                assert isinstance(response, SetSASLResponse)
                token = await step(exchange.respond, response.token or b"")
            return
        # A connection failure like any other (the next attempt tries again),
        # not an error escaping the session's task.
        raise ConnectionDead(f"{what}: the server did not answer within {sasl_timeout:.1f}s")

    # ============================================================ serving
    async def serve(
        self,
        on_serving: Callable[[], None],
        extra: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Run the reader and the writer (and ``extra``) until the connection dies.

        The writer (started when first needed, see :meth:`_wake`) and
        ``extra`` get tasks of their own; the reader runs in the calling
        task. ``on_serving`` runs once the connection can take requests, with
        no checkpoint before it: by the time the session reports itself
        connected, a request (or closeSession) it submits is written.

        Raises:
            ConnectionDead: why the connection ended.
        """
        if self.death is not None:
            raise self.death  # killed while priming (a host list move, say)
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                self._nursery = nursery
                self._direct = self._fd >= 0
                if self._outbox:
                    self._wake()  # queued requests are the writer's first batch
                if extra is not None:
                    nursery.start_soon(extra)
                on_serving()
                # The reader runs in this task (the session's), not in one of
                # its own: one task less to spawn, schedule and wait for on
                # every connection. Nothing else runs here while serving.
                await self._reader()
        finally:
            self._scope = None
            self._nursery = None
            self._direct = False
        if self.death is not None:
            raise self.death

    def kill(self, reason: str, cause: BaseException | None = None) -> None:
        """End the connection (its tasks are cancelled; the first reason is kept)."""
        if self.death is None:
            death = ConnectionDead(reason)
            death.__cause__ = cause
            self.death = death
        self._die()

    def _die(self, death: ConnectionDead | None = None) -> None:
        if self.death is None:
            self.death = death
        self._direct = False
        if self._scope is not None:
            self._scope.cancel()

    async def _reader(self) -> None:
        """Read and dispatch until the connection dies; also keep the ping time.

        Its one deadline is the sooner of the read deadline (nothing received
        for 2/3 of the session timeout: the connection is dead) and the ping
        time (nothing sent for the ping interval: the writer is woken to send
        a ping), so the writer waits without a cancel scope of its own.
        """
        owner = self.owner
        read_timeout = owner.negotiated_timeout * 2 / 3
        interval = self._ping_interval()
        receive = self._receive
        dispatch = self._dispatch
        now = self._now
        try:
            while True:
                # Re-armed only when it fires, from the time of the last
                # receive and of the last send, not moved on every read.
                # While a ping is due and not yet written, look again one
                # interval later (the writer runs meanwhile).
                sent = now() if self._ping_due else self.last_send
                with trio.move_on_at(min(owner.last_recv + read_timeout, sent + interval)):
                    while True:
                        events = await receive()
                        owner.last_recv = now()
                        self._direct_writes = 0
                        for event in events:
                            dispatch(event)
                            if isinstance(event, ConnectionClosed):
                                self.kill("the server closed the connection")
                                return
                moment = now()
                if moment - owner.last_recv >= read_timeout:
                    self.kill(
                        f"nothing received from the server for {read_timeout:.2f}s "
                        "(2/3 of the session timeout)"
                    )
                    return
                if moment >= self.last_send + interval and not self._ping_due:
                    self._ping_due = True
                    self._wake()
        except ConnectionDead as exc:
            self._die(exc)

    def _dispatch(self, event: object) -> None:
        if isinstance(event, Reply):
            self.owner.last_zxid = self.protocol.last_zxid
            if event.xid == SET_WATCHES_XID:
                if event.err:
                    self.owner.log.warning("SetWatches failed with error %d", event.err)
                return
            call = event.context
            if not isinstance(call, Call):
                return
            err = event.err
            if call.on_reply is not None:
                call.on_reply(err)
            if call.state == ABANDONED:
                return
            if err == 0:
                call.finish(event.response, None)
            else:
                call.finish(None, error_for_code(err, path=call.path))
                if err == ErrorCode.SESSION_CLOSED_REQUIRE_SASL_AUTH:
                    # enforce.auth.enabled and none of its schemes: the server
                    # closes the connection, and every new one would meet the
                    # same refusal. Final, as Java's AUTH_FAILED state.
                    self.owner.auth_failed(error_for_code(err))
                    self.kill("the server requires authentication")
        elif isinstance(event, Notification):
            self.owner.deliver(event.event)
        elif isinstance(event, _AuthReply):
            waiter = self.auth_waiters.popleft() if self.auth_waiters else None
            if event.err == ErrorCode.AUTH_FAILED:
                if waiter is not None:
                    waiter.finish(None, AuthFailedError("authentication failed"))
                self.owner.auth_failed()
                self.kill("authentication failed")
            elif waiter is not None:
                if event.err:
                    waiter.finish(None, error_for_code(event.err))
                else:
                    waiter.finish(None, None)
        elif isinstance(event, Connected):
            self._response = event.response
        # PingReply and ConnectionClosed need nothing here.

    def _ping_interval(self) -> float:
        # A ping is due when nothing has been sent for 1/3 of the session
        # timeout, at most 10 s (as Java).
        return min(self.owner.negotiated_timeout / 3, _MAX_PING_INTERVAL)

    async def _writer(self) -> None:
        """Write what callers queued, the rest of a direct write, and the pings.

        The reader says when a ping is due (``_ping_due``: nothing sent for
        the ping interval), so the idle wait needs no deadline: no cancel
        scope per wait, and no task of its own keeps that time.
        """
        outbox = self._outbox
        protocol = self.protocol
        encode = self._encode
        interval = self._ping_interval()
        try:
            while True:
                if not outbox and not self._leftover and not self._ping_due:
                    self._wake_writer = trio.Event()
                    await self._wake_writer.wait()
                ping = self._ping_due
                if ping:
                    self._ping_due = False
                    if self._now() < self.last_send + interval:
                        ping = False  # a direct write went out meanwhile
                if protocol.state is ProtocolState.CLOSED:
                    return  # the reader saw the end; queued calls wait for the next connection
                self._direct_writes = 0
                # What a caller's direct write could not hand to the kernel
                # goes first: the rest of that frame.
                batch = bytearray(self._leftover)
                self._leftover = bytearray()
                if ping:
                    batch += protocol.send_ping()
                while outbox and len(batch) < _RECV_SIZE * 4:
                    call = outbox.popleft()
                    if call.state != QUEUED:
                        continue  # abandoned before it was written: never sent
                    frame = encode(call)
                    if frame is not None:
                        batch += frame
                if batch:
                    self.last_send = self._now()
                    # Callers queue behind the writer while it sends, so that
                    # frames are never interleaved and stay in xid order.
                    self._writer_busy = True
                    try:
                        await self._send(batch)
                    finally:
                        self._writer_busy = False
        except ConnectionDead as exc:
            self._die(exc)

    # ============================================================ the end
    async def aclose(self, cause: BaseException | None) -> None:
        """Close the stream; fail what was written on it (outcome unknown)."""
        if type(self.stream) is trio.SocketStream:
            # What aclose() does, without its checkpoint (a scheduler pass).
            self.stream.socket.close()
        else:
            await trio.aclose_forcefully(self.stream)
        if isinstance(cause, FrameTooLargeError):
            self._fail_too_large(cause)
        if self.protocol.pending_count or self.auth_waiters:
            self.fail_pending(
                lambda: connection_loss(
                    "connection lost after the request was sent; its outcome is unknown", cause
                )
            )

    def _fail_too_large(self, exc: FrameTooLargeError) -> None:
        """A reply outgrew ``max_frame_size``: say so to its caller, and to the others."""
        size, limit = exc.size, exc.limit
        advice = (
            f"raise open_zookeeper(max_frame_size=...) to at least {size} (the client's "
            "counterpart of ZooKeeper's jute.maxbuffer); retrying will not help"
        )
        self.owner.log.warning(
            "connection to %s dropped: a reply of %d bytes exceeds the frame limit of %d bytes; %s",
            self.host,
            size,
            limit,
            advice,
        )
        call = self.protocol.pending_context(exc.xid) if exc.xid is not None else None
        if isinstance(call, Call):
            call.finish(
                None,
                connection_loss(
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
        self.fail_pending(lambda: connection_loss(others, exc))

    async def close_unwanted_session(self, close_timeout: float) -> None:
        """Close the session a cancelled open was getting, shielded, within ``close_timeout``.

        The ConnectRequest is out, so the server has made (or will make) a
        session: finish reading its answer if need be, then send closeSession
        and wait for the reply.
        """
        log = self.owner.log
        with (
            trio.move_on_after(close_timeout, shield=True),
            contextlib.suppress(ConnectionDead, ProtocolError),
        ):
            if self.protocol.state is ProtocolState.HANDSHAKE:
                response = await self.handshake_response()
                if response.time_out <= 0:
                    return  # no session after all
            if self.protocol.state is not ProtocolState.CONNECTED:
                return
            assert self._response is not None
            session_id = self._response.session_id
            log.debug("opening was cancelled: closing the new session 0x%x", session_id)
            call = Call(OpCode.CLOSE_SESSION, _EMPTY)
            frame = self._encode(call)
            assert frame is not None
            await self._send(frame)
            await self._read_until(lambda: call.state == DONE, "closed")
            log.debug("closeSession for 0x%x answered", session_id)

    async def handshake_response(self) -> ConnectResponse:
        """Finish reading the ConnectResponse of a handshake already sent."""
        await self._read_until(lambda: self._response is not None, "closed during the handshake")
        assert self._response is not None
        return self._response


def _dead(message: str, cause: BaseException) -> ConnectionDead:
    death = ConnectionDead(message)
    death.__cause__ = cause
    return death
