"""A minimal raw-socket ZooKeeper client: the practical limit of the server here.

It is deliberately independent of trio_zookeeper's protocol layer: a blocking
socket and hand-written ``struct`` packing, no validation beyond what it needs,
no session management (no pings: every use is shorter than the session
timeout), no reconnects. It does the handshake, requests one at a time or
pipelined, and reads watch notifications. Whatever a real client costs on top
of this is the client's overhead.

The benchmark also uses it as the neutral *writer* of the watch workloads and
to lay out the nodes before a run. Run as a script it is a benchmark child
(see ``_common.py``).
"""

from __future__ import annotations

import itertools
import socket
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Self

from _common import (
    CLOCK_EVERY,
    Meter,
    Result,
    Spec,
    child_main,
    deadline_after,
    latencies,
    node_names,
    payload,
    peak_rss_kib,
    record_ops,
    settled_rss_kib,
    throughput,
    timed_ops,
)

# Opcodes and special xids (ZooDefs.OpCode, ClientCnxn).
OP_CREATE = 1
OP_DELETE = 2
OP_EXISTS = 3
OP_GET_DATA = 4
OP_SET_DATA = 5
OP_MULTI = 14
OP_CLOSE = -11
XID_NOTIFICATION = -1
XID_PING = -2
ERR_NO_NODE = -101
ERR_NODE_EXISTS = -110

_I = struct.Struct(">i")
_HDR = struct.Struct(">iii")  # length, xid, type
_REPLY = struct.Struct(">iqi")  # xid, zxid, err
_STAT = struct.Struct(">qqqqiiiqiiq")  # 68 bytes
_MULTI_HDR = struct.Struct(">i?i")  # type, done, err
_CONNECT = struct.Struct(">iqiqi")  # protocolVersion, lastZxidSeen, timeOut, sessionId, len(passwd)
_WORLD_ANYONE = _I.pack(1) + _I.pack(31) + _I.pack(5) + b"world" + _I.pack(6) + b"anyone"

Stat = tuple[int, int, int, int, int, int, int, int, int, int, int]
Buf = bytes | bytearray
Frame = tuple[int, int, int, Buf]  # xid, zxid, err, body


class RawError(Exception):
    """The server answered with an error code."""

    def __init__(self, err: int) -> None:
        super().__init__(f"ZooKeeper error {err}")
        self.err = err


def _ustring(s: str) -> bytes:
    b = s.encode()
    return _I.pack(len(b)) + b


def _buffer(b: bytes) -> bytes:
    return _I.pack(len(b)) + b


# --------------------------------------------------------------- request bodies
def get_data_body(path: str, watch: bool = False) -> bytes:
    return _ustring(path) + (b"\x01" if watch else b"\x00")


exists_body = get_data_body


def set_data_body(path: str, data: bytes, version: int = -1) -> bytes:
    return _ustring(path) + _buffer(data) + _I.pack(version)


def create_body(path: str, data: bytes, flags: int = 0) -> bytes:
    return _ustring(path) + _buffer(data) + _WORLD_ANYONE + _I.pack(flags)


def delete_body(path: str, version: int = -1) -> bytes:
    return _ustring(path) + _I.pack(version)


def multi_set_data_body(items: Iterable[tuple[str, bytes]]) -> bytes:
    parts = [
        _MULTI_HDR.pack(OP_SET_DATA, False, -1) + set_data_body(path, data) for path, data in items
    ]
    parts.append(_MULTI_HDR.pack(-1, True, -1))
    return b"".join(parts)


def encode_frame(xid: int, op: int, body: bytes) -> bytes:
    """A request frame: length, xid, opcode, body."""
    return _HDR.pack(len(body) + 8, xid, op) + body


def reply_frame(xid: int, zxid: int, err: int, body: bytes) -> bytes:
    """A reply frame as the server sends it (used to feed codec benchmarks)."""
    return _I.pack(len(body) + 16) + _REPLY.pack(xid, zxid, err) + body


def stat_bytes(stat: Stat) -> bytes:
    return _STAT.pack(*stat)


# -------------------------------------------------------------- reply decoding
def parse_stat(body: Buf, pos: int = 0) -> Stat:
    return _STAT.unpack_from(body, pos)


def parse_get_data(body: Buf) -> tuple[bytes, Stat]:
    (n,) = _I.unpack_from(body, 0)
    data = bytes(body[4 : 4 + n]) if n >= 0 else b""
    return data, _STAT.unpack_from(body, 4 + max(n, 0))


def parse_string(body: Buf) -> str:
    (n,) = _I.unpack_from(body, 0)
    return body[4 : 4 + n].decode()


def parse_notification(body: Buf) -> tuple[int, int, str]:
    event_type, state, n = struct.unpack_from(">iii", body, 0)
    return event_type, state, body[12 : 12 + n].decode()


class RawClient:
    """One ZooKeeper session over one blocking socket."""

    def __init__(self, connect: str, *, session_timeout_ms: int = 10_000, timeout: float = 10.0):
        host, _, port = connect.split(",")[0].rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._pos = 0
        self.xid = 0
        body = _CONNECT.pack(0, 0, session_timeout_ms, 0, 16) + b"\x00" * 16 + b"\x00"
        self.sock.sendall(_I.pack(len(body)) + body)
        reply = self._read_frame()
        _proto, self.timeout_ms, self.session_id = struct.unpack_from(">iiq", reply, 0)
        if self.timeout_ms <= 0:
            raise ConnectionError("session refused by the server")
        self.notifications: list[tuple[int, int, str]] = []

    # ---------------------------------------------------------------- framing
    def frame(self, op: int, body: bytes) -> bytes:
        """A request frame with the next xid."""
        self.xid += 1
        return encode_frame(self.xid, op, body)

    def _fill(self) -> None:
        # 64 KiB: a larger recv() size makes CPython allocate (mmap) a buffer that
        # big for every call, which costs more than the read itself.
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        if self._pos and self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        self._buf += chunk

    def _read_frame(self) -> Buf:
        while True:
            buf, pos = self._buf, self._pos
            if len(buf) - pos >= 4:
                (size,) = _I.unpack_from(buf, pos)
                if len(buf) - pos - 4 >= size:
                    self._pos = pos + 4 + size
                    return buf[pos + 4 : pos + 4 + size]
            self._fill()

    def read_frames(self) -> list[Frame]:
        """Every complete reply frame buffered, reading the socket once if there is none."""
        out: list[Frame] = []
        while not out:
            buf, pos, end = self._buf, self._pos, len(self._buf)
            while end - pos >= 4:
                (size,) = _I.unpack_from(buf, pos)
                if end - pos - 4 < size:
                    break
                xid, zxid, err = _REPLY.unpack_from(buf, pos + 4)
                out.append((xid, zxid, err, buf[pos + 20 : pos + 4 + size]))
                pos += 4 + size
            self._pos = pos
            if not out:
                self._fill()
        return out

    def read_reply(self) -> Frame:
        """The next reply to a request; notifications and pings are set aside."""
        while True:
            buf, pos = self._buf, self._pos
            if len(buf) - pos >= 20:
                (size,) = _I.unpack_from(buf, pos)
                if len(buf) - pos - 4 >= size:
                    self._pos = pos + 4 + size
                    xid, zxid, err = _REPLY.unpack_from(buf, pos + 4)
                    body = buf[pos + 20 : pos + 4 + size]
                    if xid == XID_NOTIFICATION:
                        self.notifications.append(parse_notification(body))
                        continue
                    if xid != XID_PING:
                        return xid, zxid, err, body
                    continue
            self._fill()

    # ------------------------------------------------------------- requests
    def call(self, op: int, body: bytes) -> Buf:
        """Send one request and wait for its reply body."""
        self.sock.sendall(self.frame(op, body))
        _xid, _zxid, err, reply = self.read_reply()
        if err:
            raise RawError(err)
        return reply

    def pipeline(
        self,
        frames: Iterable[bytes],
        in_flight: int,
        deadline: float,
        decode: Callable[[Buf], object] | None = None,
    ) -> int:
        """Send the frames keeping ``in_flight`` unanswered; returns the replies read.

        Stops taking new frames at ``deadline`` and then drains what is pending.
        """
        it = iter(frames)
        first = list(itertools.islice(it, in_flight))
        if not first:
            return 0
        self.sock.sendall(b"".join(first))
        pending = len(first)
        done = 0
        exhausted = False
        clock = time.perf_counter
        while pending:
            more: list[bytes] = []
            for xid, _zxid, err, body in self.read_frames():
                if xid < 0:
                    if xid == XID_NOTIFICATION:
                        self.notifications.append(parse_notification(body))
                    continue
                if err:
                    raise RawError(err)
                if decode is not None:
                    decode(body)
                pending -= 1
                done += 1
                if not exhausted:
                    nxt = next(it, None)
                    if nxt is None:
                        exhausted = True
                    else:
                        more.append(nxt)
                        pending += 1
            if more:
                self.sock.sendall(b"".join(more))
            if not exhausted and clock() > deadline:
                exhausted = True
        return done

    def wait_notification(self) -> tuple[int, int, str]:
        """Block until a watch notification arrives (replies in between are dropped)."""
        while not self.notifications:
            for xid, _zxid, _err, body in self.read_frames():
                if xid == XID_NOTIFICATION:
                    self.notifications.append(parse_notification(body))
        return self.notifications.pop(0)

    def close(self) -> None:
        try:
            self.sock.sendall(self.frame(OP_CLOSE, b""))
            self.read_reply()
        except OSError:
            pass
        finally:
            self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------ layout helpers
def ensure_nodes(connect: str, paths: Sequence[str], data: bytes = b"") -> None:
    """Create the nodes that do not exist (pipelined); parents must come first."""
    with RawClient(connect) as c:
        c.sock.sendall(b"".join(c.frame(OP_CREATE, create_body(p, data)) for p in paths))
        for _ in paths:
            _xid, _zxid, err, _body = c.read_reply()
            if err not in (0, ERR_NODE_EXISTS):
                raise RawError(err)


class Writer:
    """The neutral writer of the watch workloads, with its frames encoded in advance."""

    def __init__(self, connect: str) -> None:
        self.client = RawClient(connect)

    def set_data_frame(self, path: str, data: bytes) -> bytes:
        return self.client.frame(OP_SET_DATA, set_data_body(path, data))

    def multi_frames(self, paths: Sequence[str], data: bytes, chunk: int = 1000) -> list[bytes]:
        return [
            self.client.frame(
                OP_MULTI, multi_set_data_body((p, data) for p in paths[i : i + chunk])
            )
            for i in range(0, len(paths), chunk)
        ]

    def send(self, frame: bytes) -> None:
        self.client.sock.sendall(frame)

    def read_replies(self, count: int) -> None:
        for _ in range(count):
            _xid, _zxid, err, _body = self.client.read_reply()
            if err:
                raise RawError(err)

    def close(self) -> None:
        self.client.close()


# ------------------------------------------------------------------ workloads
def _seq(spec: Spec, op: int, body: bytes, decode: bool) -> Result:
    result = Result()
    n, deadline_s = spec["ops"], spec["max_seconds"]
    with RawClient(spec["connect"]) as c:
        for _ in range(spec["warmup"]):
            c.call(op, body)
        samples: list[float] = []
        clock = time.perf_counter
        meter = Meter()
        deadline = deadline_after(deadline_s)
        for i in range(n):
            t0 = clock()
            reply = c.call(op, body)
            if decode:
                parse_get_data(reply) if op == OP_GET_DATA else parse_stat(reply)
            samples.append(clock() - t0)
            if i % CLOCK_EVERY == 0 and clock() > deadline:
                break
        meter.stop()
    return record_ops(result, samples, meter)


def seq_get_data(spec: Spec) -> Result:
    return _seq(spec, OP_GET_DATA, get_data_body(spec["node"]), True)


def seq_exists(spec: Spec) -> Result:
    return _seq(spec, OP_EXISTS, exists_body(spec["node"]), True)


def seq_set_data(spec: Spec) -> Result:
    return _seq(spec, OP_SET_DATA, set_data_body(spec["node"], payload(spec["payload"])), True)


def seq_create_delete(spec: Spec) -> Result:
    result = Result()
    data = payload(spec["payload"])
    prefix = spec["prefix"]
    with RawClient(spec["connect"]) as c:

        def one(path: str) -> None:
            parse_string(c.call(OP_CREATE, create_body(path, data)))
            c.call(OP_DELETE, delete_body(path))

        for i in range(spec["warmup"]):
            one(f"{prefix}/w{i}")
        samples, meter = timed_ops(spec, lambda i: one(f"{prefix}/n{i}"), check_every=CLOCK_EVERY)
    return record_ops(result, samples, meter)


def _pipe(spec: Spec, op: int, body: bytes, decode: Callable[[Buf], object]) -> Result:
    result = Result()
    in_flight = spec["in_flight"]
    with RawClient(spec["connect"]) as c:
        warm = (c.frame(op, body) for _ in range(spec["warmup"]))
        c.pipeline(warm, in_flight, deadline_after(spec["max_seconds"]), decode)
        meter = Meter()
        deadline = deadline_after(spec["max_seconds"])
        # Frames are made lazily, as a client makes them when it sends.
        frames = (c.frame(op, body) for _ in range(spec["ops"]))
        done = c.pipeline(frames, in_flight, deadline, decode)
        meter.stop()
    throughput(result, meter, done)
    return result


def pipe_get_data(spec: Spec) -> Result:
    return _pipe(spec, OP_GET_DATA, get_data_body(spec["node"]), parse_get_data)


def pipe_set_data(spec: Spec) -> Result:
    body = set_data_body(spec["node"], payload(spec["payload"]))
    return _pipe(spec, OP_SET_DATA, body, parse_stat)


def connect_close(spec: Spec) -> Result:
    result = Result()
    for _ in range(spec["warmup"]):
        RawClient(spec["connect"]).close()
    samples, meter = timed_ops(spec, lambda _: RawClient(spec["connect"]).close())
    return record_ops(result, samples, meter)


def watch_rtt(spec: Spec) -> Result:
    result = Result()
    node = spec["node"]
    data = payload(spec["payload"])
    clock = time.perf_counter
    writer = Writer(spec["connect"])
    samples: list[float] = []
    with RawClient(spec["connect"]) as c:
        deadline = deadline_after(spec["max_seconds"])
        for i in range(spec["warmup"] + spec["ops"]):
            c.call(OP_EXISTS, exists_body(node, watch=True))
            frame = writer.set_data_frame(node, data)
            t0 = clock()
            writer.send(frame)
            c.wait_notification()
            t1 = clock()
            writer.read_replies(1)
            if i >= spec["warmup"]:
                samples.append(t1 - t0)
                if clock() > deadline:
                    break
    writer.close()
    latencies(result, samples)
    result.add("round_trips", len(samples), "ops")
    return result


def watch_fanout(spec: Spec) -> Result:
    """Register N exists watches, measure RSS, fire them all with multi, time the events."""
    result = Result()
    paths = node_names(spec["fan_prefix"], spec["watches"])
    with RawClient(spec["connect"]) as c:
        c.call(OP_GET_DATA, get_data_body(spec["node"]))
        result.add("rss_one_conn_kib", peak_rss_kib(), "KiB")
        rss_settled = settled_rss_kib()
        watched: set[str] = set()
        t0 = time.perf_counter()
        c.pipeline(
            (c.frame(OP_EXISTS, exists_body(p, watch=True)) for p in paths),
            spec["in_flight"],
            deadline_after(spec["max_seconds"]),
        )
        watched.update(paths)
        result.add("register_s", time.perf_counter() - t0, "s")
        # The process's peak so far (settled_rss_kib() restarted the kernel's).
        peak = max(peak_rss_kib(), result.metrics["rss_one_conn_kib"])
        result.add("rss_watches_kib", peak, "KiB")
        result.add(
            "watch_rss_delta_kib",
            result.metrics["rss_watches_kib"] - result.metrics["rss_one_conn_kib"],
            "KiB",
        )
        result.add("watch_rss_kept_kib", settled_rss_kib() - rss_settled, "KiB")
        writer = Writer(spec["connect"])
        frames = writer.multi_frames(paths, b"x")
        received = 0
        deadline = deadline_after(spec["max_seconds"])
        t0 = time.perf_counter()
        for f in frames:
            writer.send(f)
        while received < len(paths) and time.perf_counter() < deadline:
            for xid, _zxid, _err, body in c.read_frames():
                if xid == XID_NOTIFICATION:
                    _type, _state, path = parse_notification(body)
                    watched.discard(path)
                    received += 1
        elapsed = time.perf_counter() - t0
        writer.read_replies(len(frames))
        writer.close()
    if received < len(paths):
        raise RuntimeError(f"only {received} of {len(paths)} watch events arrived in time")
    result.add("fanout_ms", elapsed * 1e3, "ms")
    result.add("events_per_s", received / elapsed, "events/s")
    return result


WORKLOADS = {
    "seq_get_data": seq_get_data,
    "seq_exists": seq_exists,
    "seq_set_data": seq_set_data,
    "seq_create_delete": seq_create_delete,
    "pipe_get_data": pipe_get_data,
    "pipe_set_data": pipe_set_data,
    "connect_close": connect_close,
    "watch_rtt": watch_rtt,
    "watch_fanout": watch_fanout,
}

if __name__ == "__main__":
    raise SystemExit(child_main(WORKLOADS))
