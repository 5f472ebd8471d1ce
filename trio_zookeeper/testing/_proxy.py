"""A trio TCP proxy with per-link fault injection (docs/reliability.rst, "Faults").

Point a client at :attr:`FaultProxy.address` instead of the server, then break
the path on demand: silence it (:meth:`~FaultProxy.blackhole`), slow it
(:meth:`~FaultProxy.delay`), fragment it (:meth:`~FaultProxy.slice`), cut it
(:meth:`~FaultProxy.reset`, :meth:`~FaultProxy.refuse`), lose one reply
(:meth:`~FaultProxy.drop_next_reply`), stall requests
(:meth:`~FaultProxy.pause_upstream`) or send forged bytes
(:meth:`~FaultProxy.inject_to_client`).

Design: every accepted connection becomes a *link* with one pump task per
direction. A pump reads a chunk, stamps it, queues it (at most
``_MAX_QUEUED`` bytes per direction, so memory is bounded and back-pressure
reaches the sender), and writes it when its delay has passed. Mode changes
cancel only the pumps' *waits* (a cancelled ``receive_some`` loses no data;
``send_all`` is never cancelled by a mode change), so modes apply at once. All
tasks live in the nursery of :func:`open_fault_proxy`, and leaving it closes
every socket.

The proxy also follows ZooKeeper's framing (4-byte big-endian length prefix;
after the connect frame, requests start with ``int xid, int opcode`` and
replies with ``int xid``), which is what makes
:meth:`~FaultProxy.drop_next_reply` and frame-aligned injection possible.
Mode setters must be called from the trio thread that runs the proxy.
"""

from __future__ import annotations

import contextlib
import math
import random
import socket
import struct
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import trio

from .._hosts import HostPort
from .._net import TRANSPORT_ERRORS, open_tcp

__all__ = ["FaultProxy", "open_fault_proxy"]

_LOOPBACK = "127.0.0.1"
_CHUNK = 64 * 1024  # bytes per receive_some
_MAX_QUEUED = 256 * 1024  # queued bytes per direction per link before the pump stops reading
_CONNECT_TIMEOUT = 10.0  # bound on connecting upstream (loopback: instant, or refused)
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@attrs.frozen
class _Frame:
    index: int  # 0 is the connect request/response
    start: int  # offset of the length prefix in the chunk fed; negative if it began earlier
    header: bytes  # up to header_size bytes of the frame body


class _FrameScanner:
    """Follows length-prefixed frames through one direction of a byte stream."""

    def __init__(self, header_size: int) -> None:
        self._header_size = header_size
        self._buf = bytearray()  # length prefix + header bytes of the current frame
        self._want = 0  # header bytes to capture for the current frame
        self._length = 0
        self._skip = 0  # body bytes still to pass after the header
        self._start = 0
        self._index = 0

    @property
    def at_boundary(self) -> bool:
        """Whether everything fed so far ends exactly at a frame boundary."""
        return not self._buf and self._skip == 0

    def feed(self, data: bytes) -> list[_Frame]:
        frames: list[_Frame] = []
        pos, size = 0, len(data)
        while pos < size:
            if self._skip:
                step = min(self._skip, size - pos)
                self._skip -= step
                pos += step
                continue
            if not self._buf:
                self._start = pos
            if len(self._buf) < 4:
                take = min(4 - len(self._buf), size - pos)
                self._buf += data[pos : pos + take]
                pos += take
                if len(self._buf) < 4:
                    break
                self._length = int.from_bytes(self._buf[:4], "big", signed=True)
                self._want = max(0, min(self._length, self._header_size))
            take = min(4 + self._want - len(self._buf), size - pos)
            self._buf += data[pos : pos + take]
            pos += take
            if len(self._buf) < 4 + self._want:
                break
            frames.append(_Frame(self._index, self._start, bytes(self._buf[4:])))
            self._index += 1
            self._skip = max(0, self._length - self._want)
            self._buf.clear()
        if self._buf:
            self._start -= size  # relative to the next chunk
        return frames


@attrs.define
class _Chunk:
    read_at: float
    offset: float  # jitter sampled when read
    data: bytes


@attrs.define(eq=False)
class _Link:
    client: trio.SocketStream
    server: trio.SocketStream | None = None
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    wait_scopes: set[trio.CancelScope] = attrs.field(factory=set)
    up_scanner: _FrameScanner = attrs.field(factory=lambda: _FrameScanner(8))
    down_scanner: _FrameScanner = attrs.field(factory=lambda: _FrameScanner(4))
    drop_xid: int | None = None
    client_lock: trio.Lock = attrs.field(factory=trio.Lock)
    delivered: trio.Event = attrs.field(factory=trio.Event)  # replaced after each delivery
    closed: trio.Event = attrs.field(factory=trio.Event)

    def poke(self) -> None:
        for scope in list(self.wait_scopes):
            scope.cancel()

    def notify_delivered(self) -> None:
        self.delivered.set()
        self.delivered = trio.Event()

    def abort(self) -> None:
        """Close both sockets with an RST and cancel the link's tasks (synchronous)."""
        for stream in (self.client, self.server):
            if stream is None:
                continue
            with contextlib.suppress(OSError):
                stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            stream.socket.close()
        self.scope.cancel()


class _ResetLink(Exception):
    """Raised inside a pump to end the link abortively."""


@attrs.define
class _DropRequest:
    opcode: int | None


class FaultProxy:
    """A TCP proxy from :attr:`address` to :attr:`upstream`, with fault injection.

    Make one with :func:`open_fault_proxy`. Faults apply to every link (each
    accepted client connection and its upstream connection), current and
    future, until changed or :meth:`heal` is called; use one proxy per
    (client, server) pair to fault links separately.

    Attributes:
        host: The listening address (``"127.0.0.1"`` unless another was given).
        port: The proxy's listening port.
        upstream: ``(host, port)`` of the server.
        seed: Seed of the jitter random generator (print it to replay a run).
        total_connections: Connections accepted so far, refused ones included.
        dropped_replies: Replies dropped by :meth:`drop_next_reply` so far.
    """

    def __init__(
        self, port: int, upstream: tuple[str, int], seed: int, host: str = _LOOPBACK
    ) -> None:
        self.host = host
        self.port = port
        self.upstream = upstream
        self.seed = seed
        self.total_connections = 0
        self.dropped_replies = 0
        self._rng = random.Random(seed)
        self._links: set[_Link] = set()
        self._blackholed = False
        self._refusing = False
        self._upstream_paused = False
        self._slicing = False
        self._delay = 0.0
        self._jitter = 0.0
        self._drop: _DropRequest | None = None
        self._changed = trio.Event()  # set (and replaced) whenever links change

    @property
    def address(self) -> str:
        """``"127.0.0.1:PORT"``, to put in a client's connect string."""
        return f"{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        """Number of live links."""
        return len(self._links)

    def __repr__(self) -> str:
        return f"<FaultProxy {self.address} -> {self.upstream[0]}:{self.upstream[1]}>"

    # --- modes ----------------------------------------------------------------

    def _poke(self) -> None:
        for link in list(self._links):
            link.poke()

    def blackhole(self) -> None:
        """Stop forwarding in both directions, keeping every socket open (a silent partition).

        Nothing is read or written; bytes pile up in kernel buffers and are
        forwarded after :meth:`heal`. New connections are accepted but stay
        silent (the upstream connection is made only after healing).
        """
        self._blackholed = True
        self._poke()

    def heal(self) -> None:
        """Back to plain forwarding.

        Ends blackhole, delay, slice, refuse and pause_upstream, and forgets a
        pending :meth:`drop_next_reply`. Queued bytes are forwarded at once.
        """
        self._blackholed = False
        self._refusing = False
        self._upstream_paused = False
        self._slicing = False
        self._delay = 0.0
        self._jitter = 0.0
        self._drop = None
        self._poke()

    def delay(self, seconds: float, jitter: float = 0.0) -> None:
        """Hold every chunk, both directions, for ``seconds`` ± ``jitter`` before forwarding it.

        Each chunk gets a jitter offset drawn uniformly from ``[-jitter,
        +jitter]`` when it is read, and is forwarded ``seconds + offset`` (at
        least 0) after it was read. Order is kept: a chunk never overtakes an
        earlier one. A new setting applies to queued chunks too, so
        ``delay(0)`` (or :meth:`heal`) releases them at once.

        Args:
            seconds: Mean added latency per direction.
            jitter: Half-width of the uniform spread.

        Raises:
            ValueError: A negative or non-finite argument.
        """
        if not (math.isfinite(seconds) and math.isfinite(jitter)) or seconds < 0 or jitter < 0:
            raise ValueError("delay and jitter must be finite and >= 0")
        self._delay = seconds
        self._jitter = jitter
        self._poke()

    def slice(self, on: bool = True) -> None:
        """Forward server → client one byte per write, so the client must reassemble frames.

        Args:
            on: Enable (default) or disable.
        """
        self._slicing = on
        self._poke()

    def refuse(self, on: bool = True) -> None:
        """Reset every new connection right after accepting it (existing links are kept).

        The client sees its connection reset (an RST after the handshake that
        the kernel completed), not ``ECONNREFUSED``.

        Args:
            on: Enable (default) or disable.
        """
        self._refusing = on

    def pause_upstream(self, on: bool = True) -> None:
        """Stop reading and forwarding client → server only; server → client keeps flowing.

        Requests stay in the proxy's queue and kernel buffers (back-pressure)
        and are forwarded, in order, when turned off.

        Args:
            on: Enable (default) or disable.
        """
        self._upstream_paused = on
        self._poke()

    def drop_next_reply(self, opcode: int | None = None) -> None:
        """Lose the server's reply to the next matching request, then reset that link.

        The proxy watches client → server frames; the first request read after
        this call whose opcode is ``opcode`` (or, with ``None``, any request
        with a non-negative xid, so not pings, auth or SetWatches) is
        forwarded, the server's reply with that xid is not, and the link is
        closed with an RST on both sides at that point (like Curator's
        ``ChaosMonkeyCnxnFactory``). Replies before it are delivered.
        :attr:`dropped_replies` counts completed drops.

        Args:
            opcode: ZooKeeper opcode to match (e.g. 1 for create, 15 for
                create2), or ``None`` for any ordinary request.
        """
        self._drop = _DropRequest(opcode)

    async def reset(self) -> None:
        """Close every current link abruptly (RST to both client and server).

        Returns when those links are gone. New connections are still accepted.
        """
        links = list(self._links)
        for link in links:
            link.abort()
        for link in links:
            await link.closed.wait()

    async def inject_to_client(self, data: bytes) -> None:
        """Write raw bytes to the client side of every live link.

        The bytes go in at a frame boundary of the server → client stream: if
        the server is in the middle of a frame to that client, this waits until
        the frame is complete (use :func:`trio.fail_after` to bound it).
        Injected bytes are not parsed, so injecting half a frame desynchronises
        the proxy's frame tracking for that link as well as the client.
        Links that die meanwhile are skipped.

        Args:
            data: The bytes, e.g. a crafted reply frame.
        """
        for link in list(self._links):
            while not link.closed.is_set():
                delivered = link.delivered
                async with link.client_lock:
                    if link.down_scanner.at_boundary:
                        with contextlib.suppress(*TRANSPORT_ERRORS):
                            await link.client.send_all(data)
                        break
                await delivered.wait()

    async def wait_for_connections(self, count: int = 1, *, total: bool = False) -> None:
        """Wait until :attr:`connections` (or :attr:`total_connections`) is at least ``count``.

        Args:
            count: The threshold.
            total: Compare :attr:`total_connections` instead of live links.
        """
        while (self.total_connections if total else self.connections) < count:
            await self._changed.wait()

    async def wait_for_no_connections(self) -> None:
        """Wait until no link is live (for instance after the client closed)."""
        while self._links:
            await self._changed.wait()

    def _notify_changed(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # --- machinery --------------------------------------------------------------

    async def _accept_loop(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        while True:
            stream = await listener.accept()
            self.total_connections += 1
            if self._refusing:
                with contextlib.suppress(OSError):
                    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                stream.socket.close()
                self._notify_changed()
                continue
            link = _Link(stream)
            self._links.add(link)
            self._notify_changed()
            nursery.start_soon(self._serve_link, link)

    async def _wait_for_change(self, link: _Link, deadline: float = math.inf) -> None:
        with trio.CancelScope(deadline=deadline) as scope:
            link.wait_scopes.add(scope)
            try:
                await trio.sleep_forever()
            finally:
                link.wait_scopes.discard(scope)

    async def _serve_link(self, link: _Link) -> None:
        try:
            with link.scope:
                while self._blackholed:  # a silent partition: don't even reach upstream
                    await self._wait_for_change(link)
                try:
                    with trio.fail_after(_CONNECT_TIMEOUT):
                        link.server = await open_tcp(HostPort(*self.upstream))
                except (OSError, trio.TooSlowError):
                    link.abort()  # the client sees a reset, as with a dead server
                    return
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._pump, link, True)
                        nursery.start_soon(self._pump, link, False)
                except* _ResetLink:
                    link.abort()
        finally:
            for stream in (link.client, link.server):
                if stream is not None:
                    stream.socket.close()
            self._links.discard(link)
            link.closed.set()
            link.delivered.set()
            self._notify_changed()

    def _held(self, upward: bool) -> bool:
        return self._blackholed or (upward and self._upstream_paused)

    def _release_time(self, chunk: _Chunk) -> float:
        if self._delay == 0 and self._jitter == 0:
            return chunk.read_at
        return chunk.read_at + max(0.0, self._delay + chunk.offset)

    async def _pump(self, link: _Link, upward: bool) -> None:
        """Move bytes client → server (``upward``) or server → client until EOF or error."""
        assert link.server is not None
        source, sink = (link.client, link.server) if upward else (link.server, link.client)
        queue: deque[_Chunk] = deque()
        queued = 0
        eof = False
        try:
            while True:
                held = self._held(upward)
                if queue and not held and self._release_time(queue[0]) <= trio.current_time():
                    chunk = queue.popleft()
                    queued -= len(chunk.data)
                    if upward:
                        await sink.send_all(chunk.data)
                    else:
                        await self._deliver(link, chunk.data)
                    continue
                if eof and not queue and not held:
                    with contextlib.suppress(*TRANSPORT_ERRORS):
                        await sink.send_eof()
                    return
                wake_at = self._release_time(queue[0]) if queue and not held else math.inf
                if held or eof or queued >= _MAX_QUEUED:
                    await self._wait_for_change(link, wake_at)
                    continue
                data: bytes | None = None
                with trio.CancelScope(deadline=wake_at) as scope:
                    link.wait_scopes.add(scope)
                    try:
                        data = await source.receive_some(_CHUNK)
                    finally:
                        link.wait_scopes.discard(scope)
                if data is None:
                    continue  # woken by a deadline or a mode change
                if not data:
                    eof = True
                    continue
                if upward:
                    self._scan_requests(link, data)
                offset = self._rng.uniform(-self._jitter, self._jitter) if self._jitter else 0.0
                queue.append(_Chunk(trio.current_time(), offset, bytes(data)))
                queued += len(data)
        except TRANSPORT_ERRORS:
            raise _ResetLink from None

    def _scan_requests(self, link: _Link, data: bytes) -> None:
        for frame in link.up_scanner.feed(data):
            drop = self._drop
            if drop is None or frame.index == 0 or len(frame.header) < 8:
                continue
            xid, opcode = struct.unpack(">ii", frame.header)
            if (drop.opcode is None and xid >= 0) or opcode == drop.opcode:
                link.drop_xid = xid
                self._drop = None

    async def _deliver(self, link: _Link, data: bytes) -> None:
        """Write server bytes to the client, honouring slice and a pending reply drop."""
        cut: int | None = None
        for frame in link.down_scanner.feed(data):
            if link.drop_xid is None or frame.index == 0 or len(frame.header) < 4:
                continue
            if int.from_bytes(frame.header, "big", signed=True) == link.drop_xid:
                cut = max(frame.start, 0)
                break
        payload = data if cut is None else data[:cut]
        async with link.client_lock:
            if self._slicing:
                for i in range(len(payload)):
                    await link.client.send_all(payload[i : i + 1])
            elif payload:
                await link.client.send_all(payload)
        link.notify_delivered()
        if cut is not None:
            self.dropped_replies += 1
            link.drop_xid = None
            raise _ResetLink


@asynccontextmanager
async def open_fault_proxy(
    upstream_host: str,
    upstream_port: int,
    *,
    seed: int | None = None,
    host: str = _LOOPBACK,
    port: int = 0,
) -> AsyncIterator[FaultProxy]:
    """Run a :class:`FaultProxy` to ``upstream_host:upstream_port`` for the duration of the block.

    The proxy listens on a free port of 127.0.0.1 (or on ``host``/``port``:
    several proxies on 127.0.0.1, 127.0.0.2... with one port stand for the
    several addresses of one host name). It owns a nursery with every
    proxy task; leaving the block cancels them and closes every socket.
    Exceptions from the block propagate unwrapped.

    Args:
        upstream_host: The server's address.
        upstream_port: The server's port.
        seed: Seed for delay jitter; a random one is chosen (and kept in
            :attr:`FaultProxy.seed`) when omitted.
        host: The loopback address to listen on.
        port: The port to listen on (0: a free one).

    Yields:
        The running proxy.
    """
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    listeners = await trio.open_tcp_listeners(port, host=host)
    listener = listeners[0]
    for extra in listeners[1:]:  # pragma: no cover - one address for 127.0.0.1
        await extra.aclose()
    sockname = listener.socket.getsockname()
    proxy = FaultProxy(sockname[1], (upstream_host, upstream_port), seed, host)
    body_error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(proxy._accept_loop, listener, nursery)
            try:
                yield proxy
            except BaseException as exc:  # re-raised below, outside the nursery
                body_error = exc
            finally:
                nursery.cancel_scope.cancel()
    finally:
        listener.socket.close()
        for link in list(proxy._links):  # pragma: no cover - links close themselves when cancelled
            link.abort()
    if body_error is not None:
        try:
            raise body_error
        finally:
            body_error = None
