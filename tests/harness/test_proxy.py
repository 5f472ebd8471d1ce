"""Tests of the fault-injection proxy against in-process trio servers (no JVM).

Every wait is bounded with trio.fail_after; "nothing arrives" is asserted over
a short, explicit observation window (move_on_after), never with a sleep.
"""

from __future__ import annotations

import contextlib
import functools
import struct
from collections.abc import Awaitable, Callable

import pytest
import trio

from trio_zookeeper.testing import FaultProxy, open_fault_proxy
from trio_zookeeper.testing._proxy import _FrameScanner

LOOPBACK = "127.0.0.1"
QUIET = 0.3  # seconds of observed silence that count as "nothing forwarded"
DEADLINE = 5.0

Handler = Callable[[trio.SocketStream], Awaitable[None]]


async def serve(nursery: trio.Nursery, handler: Handler) -> int:
    """Run a TCP server on a free loopback port for the test; return the port."""

    async def guarded(stream: trio.SocketStream) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await handler(stream)

    listeners: list[trio.SocketListener] = await nursery.start(
        functools.partial(trio.serve_tcp, guarded, 0, host=LOOPBACK)
    )
    port: int = listeners[0].socket.getsockname()[1]
    return port


async def echo(stream: trio.SocketStream) -> None:
    async for data in stream:
        await stream.send_all(data)


async def connect(proxy: FaultProxy) -> trio.SocketStream:
    return await trio.open_tcp_stream(proxy.host, proxy.port)


async def assert_reset_on_connect(proxy: FaultProxy) -> None:
    """Connect and read: the proxy's RST shows up at connect time or on the first read.

    (trio checks SO_ERROR after the kernel finished the handshake, so an RST
    sent right after accept() can already fail the connect.)
    """
    try:
        stream = await connect(proxy)
    except OSError:
        return
    async with stream:
        with pytest.raises(trio.BrokenResourceError):
            await stream.receive_some(10)


async def receive_exactly(stream: trio.SocketStream, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        data = await stream.receive_some(size - len(buf))
        if not data:
            raise EOFError(f"EOF after {len(buf)} of {size} bytes")
        buf += data
    return bytes(buf)


async def assert_silent(stream: trio.SocketStream) -> None:
    with trio.move_on_after(QUIET):
        data = await stream.receive_some(1024)
        pytest.fail(f"expected silence, got {data!r}")


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


async def read_frame(stream: trio.SocketStream) -> bytes:
    (length,) = struct.unpack(">i", await receive_exactly(stream, 4))
    return await receive_exactly(stream, length)


# --- pass-through ------------------------------------------------------------------


async def test_pass_through_echo(nursery: trio.Nursery) -> None:
    port = await serve(nursery, echo)
    with trio.fail_after(DEADLINE):
        async with open_fault_proxy(LOOPBACK, port, seed=1) as proxy:
            assert proxy.address == f"127.0.0.1:{proxy.port}"
            assert proxy.upstream == (LOOPBACK, port)
            assert proxy.seed == 1
            payload = bytes(range(256)) * 4096  # 1 MiB: more than the per-link queue bound
            async with await connect(proxy) as client:
                await proxy.wait_for_connections(1)
                assert proxy.connections == 1

                async def send() -> None:
                    await client.send_all(payload)

                async with trio.open_nursery() as inner:
                    inner.start_soon(send)
                    assert await receive_exactly(client, len(payload)) == payload
            await proxy.wait_for_no_connections()
            assert proxy.total_connections == 1


async def test_body_exception_is_not_wrapped(nursery: trio.Nursery) -> None:
    port = await serve(nursery, echo)
    with pytest.raises(KeyError, match="boom"):
        async with open_fault_proxy(LOOPBACK, port):
            raise KeyError("boom")


async def test_closing_proxy_closes_links(nursery: trio.Nursery) -> None:
    port = await serve(nursery, echo)
    with trio.fail_after(DEADLINE):
        async with open_fault_proxy(LOOPBACK, port) as proxy:
            client = await connect(proxy)
            await client.send_all(b"x")
            assert await receive_exactly(client, 1) == b"x"
        async with client:
            with contextlib.suppress(trio.BrokenResourceError):
                assert await client.receive_some(10) == b""


async def test_dead_upstream_resets_client() -> None:
    with trio.socket.socket() as sock:  # a port with nothing listening on it
        await sock.bind((LOOPBACK, 0))
        port = sock.getsockname()[1]
    with trio.fail_after(DEADLINE):
        async with open_fault_proxy(LOOPBACK, port) as proxy:
            await assert_reset_on_connect(proxy)
            await proxy.wait_for_no_connections()
            assert proxy.total_connections == 1


# --- blackhole / heal ----------------------------------------------------------------


async def test_blackhole_is_silent_then_heal_delivers(nursery: trio.Nursery) -> None:
    port = await serve(nursery, echo)
    with trio.fail_after(DEADLINE + QUIET * 3):
        async with open_fault_proxy(LOOPBACK, port) as proxy, await connect(proxy) as client:
            await client.send_all(b"before")
            assert await receive_exactly(client, 6) == b"before"
            proxy.blackhole()
            await client.send_all(b"during")
            await assert_silent(client)
            assert proxy.connections == 1  # the socket stays open: no FIN, no RST
            proxy.heal()
            assert await receive_exactly(client, 6) == b"during"


async def test_blackhole_new_connection_is_silent_and_not_forwarded(
    nursery: trio.Nursery,
) -> None:
    upstream_connections = 0

    async def counting_echo(stream: trio.SocketStream) -> None:
        nonlocal upstream_connections
        upstream_connections += 1
        await echo(stream)

    port = await serve(nursery, counting_echo)
    with trio.fail_after(DEADLINE + QUIET * 3):
        async with open_fault_proxy(LOOPBACK, port) as proxy:
            proxy.blackhole()
            async with await connect(proxy) as client:
                await proxy.wait_for_connections(1)
                await client.send_all(b"hello")
                await assert_silent(client)
                assert upstream_connections == 0
                proxy.heal()
                assert await receive_exactly(client, 5) == b"hello"
                assert upstream_connections == 1


# --- delay / slice --------------------------------------------------------------------


async def test_delay_adds_latency_each_way_and_keeps_order(nursery: trio.Nursery) -> None:
    port = await serve(nursery, echo)
    with trio.fail_after(DEADLINE):
        async with (
            open_fault_proxy(LOOPBACK, port, seed=7) as proxy,
            await connect(proxy) as client,
        ):
            proxy.delay(0.2)
            start = trio.current_time()
            await client.send_all(b"ping")
            assert await receive_exactly(client, 4) == b"ping"
            # A lower bound only: a loaded machine can only make it slower.
            assert trio.current_time() - start >= 0.4

            proxy.delay(0.1, jitter=0.1)
            expected = b"".join(b"%03d" % i for i in range(30))
            for i in range(30):
                await client.send_all(b"%03d" % i)
            assert await receive_exactly(client, len(expected)) == expected

            # delay(0) switches the latency off: with the hour-long delay
            # still in force, nothing would arrive within DEADLINE.
            proxy.delay(3600)
            proxy.delay(0)
            await client.send_all(b"fast")
            assert await receive_exactly(client, 4) == b"fast"


async def test_delay_rejects_bad_values(nursery: trio.Nursery) -> None:
    port = await serve(nursery, echo)
    async with open_fault_proxy(LOOPBACK, port) as proxy:
        with pytest.raises(ValueError, match="finite"):
            proxy.delay(-1)
        with pytest.raises(ValueError, match="finite"):
            proxy.delay(1, jitter=float("nan"))


async def test_heal_releases_delayed_bytes_at_once(nursery: trio.Nursery) -> None:
    port = await serve(nursery, echo)
    with trio.fail_after(DEADLINE):
        async with open_fault_proxy(LOOPBACK, port) as proxy, await connect(proxy) as client:
            proxy.delay(30)
            await client.send_all(b"slow")
            await assert_silent(client)
            proxy.heal()
            assert await receive_exactly(client, 4) == b"slow"


async def test_slice_delivers_one_byte_per_write(nursery: trio.Nursery) -> None:
    message = bytes(range(100))

    async def talker(stream: trio.SocketStream) -> None:
        await stream.receive_some(1)
        await stream.send_all(message)
        await stream.receive_some(1)

    port = await serve(nursery, talker)
    with trio.fail_after(DEADLINE):
        async with open_fault_proxy(LOOPBACK, port) as proxy, await connect(proxy) as client:
            proxy.slice()
            await client.send_all(b"?")
            chunks: list[bytes] = []
            while sum(map(len, chunks)) < len(message):
                chunks.append(await client.receive_some(1000))
            assert b"".join(chunks) == message
            assert len(chunks) > 1, "slice mode should fragment the reply"
            assert len(chunks[0]) < len(message)


# --- reset / refuse ---------------------------------------------------------------------


async def test_reset_is_seen_as_connection_error_on_both_sides(nursery: trio.Nursery) -> None:
    upstream_error: list[BaseException] = []
    upstream_done = trio.Event()

    async def watcher(stream: trio.SocketStream) -> None:
        try:
            async for data in stream:
                await stream.send_all(data)
        except trio.BrokenResourceError as exc:
            upstream_error.append(exc)
        finally:
            upstream_done.set()

    port = await serve(nursery, watcher)
    with trio.fail_after(DEADLINE):
        async with open_fault_proxy(LOOPBACK, port) as proxy, await connect(proxy) as client:
            await client.send_all(b"up")
            assert await receive_exactly(client, 2) == b"up"
            await proxy.reset()
            assert proxy.connections == 0
            with pytest.raises(trio.BrokenResourceError):
                await client.receive_some(10)
            await upstream_done.wait()
            assert upstream_error, "the server side should see a reset, not a clean EOF"
            async with await connect(proxy) as again:  # new connections still work
                await again.send_all(b"ok")
                assert await receive_exactly(again, 2) == b"ok"


async def test_refuse_resets_new_connections_only(nursery: trio.Nursery) -> None:
    port = await serve(nursery, echo)
    with trio.fail_after(DEADLINE):
        async with open_fault_proxy(LOOPBACK, port) as proxy, await connect(proxy) as kept:
            await kept.send_all(b"a")
            assert await receive_exactly(kept, 1) == b"a"
            proxy.refuse()
            await assert_reset_on_connect(proxy)
            assert proxy.total_connections == 2
            await kept.send_all(b"b")  # the existing link is untouched
            assert await receive_exactly(kept, 1) == b"b"
            proxy.refuse(False)
            async with await connect(proxy) as accepted:
                await accepted.send_all(b"c")
                assert await receive_exactly(accepted, 1) == b"c"


# --- pause_upstream -----------------------------------------------------------------------


async def test_pause_upstream_holds_requests_but_not_replies(nursery: trio.Nursery) -> None:
    received_send, received = trio.open_memory_channel[bytes](100)
    send_more = trio.Event()

    async def server(stream: trio.SocketStream) -> None:
        await stream.send_all(b"hello")

        async def push_later() -> None:
            await send_more.wait()
            await stream.send_all(b"more")

        async with trio.open_nursery() as inner:
            inner.start_soon(push_later)
            async for data in stream:
                await received_send.send(bytes(data))

    port = await serve(nursery, server)
    with trio.fail_after(DEADLINE + QUIET * 3):
        async with open_fault_proxy(LOOPBACK, port) as proxy, await connect(proxy) as client:
            assert await receive_exactly(client, 5) == b"hello"
            proxy.pause_upstream()
            await client.send_all(b"request")
            send_more.set()
            assert await receive_exactly(client, 4) == b"more"  # server -> client flows
            with trio.move_on_after(QUIET):
                data = await received.receive()
                pytest.fail(f"client -> server must be held while paused, got {data!r}")
            proxy.pause_upstream(False)
            got = b""
            while len(got) < 7:
                got += await received.receive()
            assert got == b"request"


# --- frame-aware: drop_next_reply / inject_to_client -----------------------------------------


CONNECT_RESPONSE = struct.pack(">iiq", 0, 4000, 0x1234) + struct.pack(">i", 16) + bytes(16) + b"\0"


async def fake_zookeeper(stream: trio.SocketStream) -> None:
    """Answer a connect frame, then every request (xid, opcode) with (xid, zxid, 0) + opcode."""
    await read_frame(stream)
    await stream.send_all(frame(CONNECT_RESPONSE))
    zxid = 100
    while True:
        try:
            request = await read_frame(stream)
        except EOFError:
            return
        xid, opcode = struct.unpack(">ii", request[:8])
        zxid += 1
        await stream.send_all(frame(struct.pack(">iqii", xid, zxid, 0, opcode)))


def request(xid: int, opcode: int) -> bytes:
    return frame(struct.pack(">ii", xid, opcode) + b"/path")


async def test_drop_next_reply_matching_opcode(nursery: trio.Nursery) -> None:
    port = await serve(nursery, fake_zookeeper)
    with trio.fail_after(DEADLINE):
        async with open_fault_proxy(LOOPBACK, port) as proxy, await connect(proxy) as client:
            # Connect frame split at an awkward point: framing must survive it.
            connect_frame = frame(b"C" * 44)
            await client.send_all(connect_frame[:3])
            await client.send_all(connect_frame[3:])
            assert await read_frame(client) == CONNECT_RESPONSE
            proxy.drop_next_reply(opcode=1)
            # Pipelined: a read, the create (whose reply is lost), another read.
            await client.send_all(request(1, 4) + request(2, 1) + request(3, 4))
            reply = await read_frame(client)
            assert struct.unpack(">iqii", reply)[0] == 1
            with pytest.raises((trio.BrokenResourceError, EOFError)):
                await read_frame(client)
            assert proxy.dropped_replies == 1
            assert proxy.connections == 0
            # One-shot: the next link is untouched.
            async with await connect(proxy) as again:
                await again.send_all(frame(b"C" * 44))
                await read_frame(again)
                await again.send_all(request(1, 1))
                assert struct.unpack(">iqii", await read_frame(again))[0] == 1


async def test_drop_next_reply_any_skips_pings(nursery: trio.Nursery) -> None:
    port = await serve(nursery, fake_zookeeper)
    with trio.fail_after(DEADLINE):
        async with open_fault_proxy(LOOPBACK, port) as proxy, await connect(proxy) as client:
            await client.send_all(frame(b"C" * 44))
            await read_frame(client)
            proxy.drop_next_reply()
            proxy.slice()  # a reply split byte by byte must still be recognised
            await client.send_all(request(-2, 11) + request(5, 3))
            assert struct.unpack(">iqii", await read_frame(client))[0] == -2
            with pytest.raises((trio.BrokenResourceError, EOFError)):
                await read_frame(client)
            assert proxy.dropped_replies == 1


async def test_inject_to_client_waits_for_a_frame_boundary(nursery: trio.Nursery) -> None:
    finish = trio.Event()

    async def half_frame_server(stream: trio.SocketStream) -> None:
        await read_frame(stream)
        await stream.send_all(frame(CONNECT_RESPONSE))
        whole = frame(b"0123456789")
        await stream.send_all(whole[:7])  # a frame cut in the middle
        await finish.wait()
        await stream.send_all(whole[7:])
        await stream.receive_some(1)

    port = await serve(nursery, half_frame_server)
    forged = frame(struct.pack(">iqi", -1, 0, 0) + b"forged")
    with trio.fail_after(DEADLINE + QUIET * 3):
        async with open_fault_proxy(LOOPBACK, port) as proxy, await connect(proxy) as client:
            await client.send_all(frame(b"C" * 44))
            assert await read_frame(client) == CONNECT_RESPONSE
            assert await receive_exactly(client, 7) == frame(b"0123456789")[:7]
            with trio.move_on_after(QUIET) as scope:
                await proxy.inject_to_client(forged)
            assert scope.cancelled_caught, "injection must not split the server's frame"
            finish.set()
            await proxy.inject_to_client(forged)
            assert await receive_exactly(client, 7) == frame(b"0123456789")[7:]
            assert await read_frame(client) == forged[4:]


async def test_inject_to_client_reaches_every_link(nursery: trio.Nursery) -> None:
    port = await serve(nursery, echo)
    with trio.fail_after(DEADLINE):
        async with (
            open_fault_proxy(LOOPBACK, port) as proxy,
            await connect(proxy) as one,
            await connect(proxy) as two,
        ):
            await proxy.wait_for_connections(2)
            await proxy.inject_to_client(b"\x00\x00\x00\x01!")
            assert await receive_exactly(one, 5) == b"\x00\x00\x00\x01!"
            assert await receive_exactly(two, 5) == b"\x00\x00\x00\x01!"


# --- the frame scanner itself -------------------------------------------------------------


def test_frame_scanner_is_split_invariant() -> None:
    stream = (
        frame(b"connect-request")
        + request(1, 4)
        + frame(b"")
        + request(2, 1)
        + frame(struct.pack(">ii", 3, 5))
    )
    whole = _FrameScanner(8).feed(stream)
    assert [f.header for f in whole] == [
        b"connect-",
        struct.pack(">ii", 1, 4),
        b"",
        struct.pack(">ii", 2, 1),
        struct.pack(">ii", 3, 5),
    ]
    for cut1 in range(len(stream) + 1):
        for cut2 in range(cut1, len(stream) + 1):
            scanner = _FrameScanner(8)
            frames = []
            offset = 0
            for part in (stream[:cut1], stream[cut1:cut2], stream[cut2:]):
                frames += [(f.index, f.start + offset, f.header) for f in scanner.feed(part)]
                offset += len(part)
            assert frames == [(f.index, f.start, f.header) for f in whole]
            assert scanner.at_boundary
