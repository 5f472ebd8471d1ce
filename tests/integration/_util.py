"""Helpers shared by the integration tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import queue
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import trio

from trio_zookeeper import (
    EventType,
    KeeperState,
    WatchedEvent,
    WatchEvents,
    ZooKeeper,
    open_zookeeper,
)
from trio_zookeeper.testing import FaultProxy, open_fault_proxy

PING_XID = -2


async def wait_until(predicate: Callable[[], Awaitable[bool]], *, interval: float = 0.05) -> None:
    """Poll a *server* condition (TTL/container expiry) until it holds.

    Only for conditions the server reaches on its own clock, for which there
    is no notification to wait on without also disturbing the node. Bound it
    with the caller's ``trio.fail_after``.
    """
    # Polling is the point here: the server gives no event for a TTL sweep.
    while not await predicate():  # noqa: ASYNC110
        await trio.sleep(interval)


async def node_event(events: WatchEvents) -> WatchedEvent:
    """The next node event of ``events`` (session events are skipped)."""
    while True:
        event = await events.receive()
        if event.event_type is not EventType.NONE:
            return event


async def reconnected(states: trio.abc.ReceiveChannel[KeeperState]) -> list[KeeperState]:
    """Wait on a ``session_states()`` channel for DISCONNECTED, then SYNC_CONNECTED."""
    seen: list[KeeperState] = []
    while KeeperState.DISCONNECTED not in seen or seen[-1] is not KeeperState.SYNC_CONNECTED:
        seen.append(await states.receive())
    return seen


def drain(events: WatchEvents) -> list[WatchedEvent]:
    """Every event already buffered in ``events``, without waiting."""
    out: list[WatchedEvent] = []
    while True:
        try:
            out.append(events.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return out


class RecordingStream(trio.abc.Stream):
    """A TCP stream that records the (xid, opcode) of every request frame sent.

    The first frame of a connection (the ConnectRequest) has no request
    header and is counted in :attr:`connects` instead.
    """

    def __init__(self, inner: trio.abc.Stream) -> None:
        self._inner = inner
        self._buf = bytearray()
        self.connects = 0
        self.frames: list[tuple[int, int]] = []

    @property
    def requests(self) -> list[tuple[int, int]]:
        """The frames sent, pings excluded."""
        return [(xid, op) for xid, op in self.frames if xid != PING_XID]

    def _record(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) >= 4:
            (length,) = struct.unpack_from(">i", self._buf)
            if len(self._buf) < 4 + length:
                return
            body = bytes(self._buf[4 : 4 + length])
            del self._buf[: 4 + length]
            if self.connects == 0:
                self.connects = 1
                continue
            xid, op = struct.unpack_from(">ii", body)
            self.frames.append((xid, op))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self._record(bytes(data))
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._inner.aclose()


class RecordingFactory:
    """A ``stream_factory`` for open_zookeeper that keeps every RecordingStream."""

    def __init__(self) -> None:
        self.streams: list[RecordingStream] = []

    async def __call__(self, host: str, port: int) -> trio.abc.Stream:
        stream = RecordingStream(await trio.open_tcp_stream(host, port))
        self.streams.append(stream)
        return stream

    @property
    def requests(self) -> list[tuple[int, int]]:
        """Every request frame sent on every connection, pings excluded."""
        return [r for s in self.streams for r in s.requests]


class ThreadEvents:
    """Hands events from a foreign thread (kazoo's watch callbacks) to trio."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()

    def put(self, item: object) -> None:
        """Called from any thread."""
        self._queue.put(item)

    # The worker thread cannot be cancelled, so the bound is handed to it.
    async def get(self, *, timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """The next item; fails if none comes within ``timeout`` seconds."""

        def take() -> Any:
            try:
                return self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no event from the other thread within {timeout}s") from None

        with trio.fail_after(timeout + 5):
            return await trio.to_thread.run_sync(take)

    def empty(self) -> bool:
        """Whether nothing is queued right now."""
        return self._queue.empty()


@asynccontextmanager
async def through_proxy(
    host: str, port: int, chroot: str
) -> AsyncIterator[tuple[FaultProxy, ZooKeeper]]:
    """A client on ``chroot`` whose connections go through a fault proxy: ``(proxy, zk)``."""
    async with (
        open_fault_proxy(host, port) as proxy,
        open_zookeeper(proxy.address + chroot) as zk,
    ):
        yield proxy, zk


@contextmanager
def spawned_tasks() -> Iterator[list[trio.lowlevel.Task]]:
    """The trio tasks spawned while the block runs, in a list filled as they are."""
    spawned: list[trio.lowlevel.Task] = []

    class Spawns(trio.abc.Instrument):
        def task_spawned(self, task: trio.lowlevel.Task) -> None:
            spawned.append(task)

    instrument = Spawns()
    trio.lowlevel.add_instrument(instrument)
    try:
        yield spawned
    finally:
        trio.lowlevel.remove_instrument(instrument)


@asynccontextmanager
async def proxied_client(
    host: str,
    port: int,
    chroot: str,
    connect: Callable[[], AbstractAsyncContextManager[ZooKeeper]],
) -> AsyncIterator[tuple[FaultProxy, ZooKeeper, ZooKeeper, trio.abc.ReceiveChannel[KeeperState]]]:
    """A client through a fault proxy, a direct writer, and the client's state changes.

    Yields:
        ``(proxy, zk, writer, states)``.
    """
    async with (
        through_proxy(host, port, chroot) as (proxy, zk),
        connect() as writer,
        zk.session_states() as states,
    ):
        yield proxy, zk, writer, states
