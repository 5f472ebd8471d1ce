"""One trio task doing one request at a time, with no client around it: trio's floor.

Each request is written, then its reply read until the frame is whole, in
the one task that also times it: no reader task, no session, no pings, no
xid bookkeeping beyond a check. Frames are packed and replies parsed by
``raw_client.py``'s hand-written helpers (independent of trio_zookeeper),
and the handshake is ``RawClient``'s, done before the timed loop on the same
socket. Two variants:

* ``fd`` (client ``trio_loop``): trio's lowest-level I/O, ``os.write`` on the
  non-blocking socket, then ``trio.lowlevel.wait_readable`` and ``os.read``:
  one scheduler pass per request, the least any trio client can do;
* ``stream`` (client ``trio_stream``): a ``trio.SocketStream``,
  ``send_all`` then ``receive_some``, as a plain trio program would (their
  checkpoints add scheduler passes).

What a trio client costs on top of ``trio_loop`` is the client; what that
costs on top of ``raw_client.py`` (a blocking socket) is trio's own
scheduling. Run as a script it is a benchmark child (see ``_common.py``); it
runs the sequential workloads only.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Awaitable, Callable

import trio
from _common import (
    CLOCK_EVERY,
    Result,
    Spec,
    atimed_ops,
    child_main,
    payload,
    record_ops,
)
from raw_client import (
    OP_CREATE,
    OP_DELETE,
    OP_EXISTS,
    OP_GET_DATA,
    OP_SET_DATA,
    RawClient,
    RawError,
    create_body,
    delete_body,
    exists_body,
    get_data_body,
    parse_get_data,
    parse_stat,
    parse_string,
    set_data_body,
)

_LEN_REPLY = struct.Struct(">iiqi")  # frame length, xid, zxid, err


class _Loop:
    """One session's socket, one request at a time (see the module docstring)."""

    def __init__(self, raw: RawClient, variant: str) -> None:
        self.raw = raw
        raw.sock.setblocking(False)
        self.fd = raw.sock.fileno()
        self.stream: trio.SocketStream | None = None
        if variant == "stream":
            self.stream = trio.SocketStream(trio.socket.from_stdlib_socket(raw.sock))

    async def _send(self, frame: bytes) -> None:
        if self.stream is not None:
            await self.stream.send_all(frame)
            return
        sent = os.write(self.fd, frame)  # a request frame fits in the socket's buffer
        if sent != len(frame):
            raise RuntimeError(f"short write ({sent} of {len(frame)} bytes)")

    async def _receive(self) -> bytes:
        if self.stream is not None:
            data = await self.stream.receive_some(65536)
        else:
            while True:
                await trio.lowlevel.wait_readable(self.fd)
                try:
                    data = os.read(self.fd, 65536)
                    break
                except BlockingIOError:
                    continue
        if not data:
            raise ConnectionError("server closed the connection")
        return data

    async def call(self, op: int, body: bytes) -> bytes:
        """Send one request and return its reply body (raises RawError on an error)."""
        await self._send(self.raw.frame(op, body))
        data = await self._receive()
        while len(data) < 4 or len(data) < 4 + _LEN_REPLY.unpack_from(data, 0)[0]:
            data += await self._receive()
        size, xid, _zxid, err = _LEN_REPLY.unpack_from(data, 0)
        if xid != self.raw.xid or len(data) != 4 + size:
            raise RuntimeError(f"unexpected frame (xid {xid}, {len(data)} bytes)")
        if err:
            raise RawError(err)
        return data[20:]


async def _sequential(spec: Spec) -> Result:
    result = Result()
    workload, node = spec["workload"], spec["node"]
    raw = RawClient(spec["connect"])
    try:
        loop = _Loop(raw, spec.get("variant", ""))
        op: Callable[[int], Awaitable[object]]
        if workload == "seq_get_data":
            get_data = get_data_body(node)

            async def op(i: int) -> object:
                return parse_get_data(await loop.call(OP_GET_DATA, get_data))
        elif workload == "seq_exists":
            exists = exists_body(node)

            async def op(i: int) -> object:
                return parse_stat(await loop.call(OP_EXISTS, exists))
        elif workload == "seq_set_data":
            set_data = set_data_body(node, payload(spec["payload"]))

            async def op(i: int) -> object:
                return parse_stat(await loop.call(OP_SET_DATA, set_data))
        else:
            data = payload(spec["payload"])
            base = f"{spec['prefix']}/loop-{os.getpid()}-"

            async def op(i: int) -> object:
                path = f"{base}{i}"
                parse_string(await loop.call(OP_CREATE, create_body(path, data)))
                return await loop.call(OP_DELETE, delete_body(path))

        for i in range(spec["warmup"]):
            await op(-1 - i)
        samples, meter = await atimed_ops(spec, op, check_every=CLOCK_EVERY)
        if loop.stream is not None:
            await loop.stream.aclose()
    finally:
        raw.sock.close()
    return record_ops(result, samples, meter)


def _run(spec: Spec) -> Result:
    return trio.run(_sequential, spec)


WORKLOADS = dict.fromkeys(("seq_get_data", "seq_exists", "seq_set_data", "seq_create_delete"), _run)

if __name__ == "__main__":
    raise SystemExit(child_main(WORKLOADS))
