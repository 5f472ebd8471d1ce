"""aiozk's side of the benchmark (asyncio, default event loop).

Watches use aiozk's own mechanism: a callback registered with
``session.add_watch_callback(event_type, path, callback)`` plus a read with
``watch=True`` (what its ``wait_for_events`` and recipes do). One shared
callback serves every watch, as with kazoo.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from _common import (
    CLOCK_EVERY,
    Meter,
    Result,
    Spec,
    atimed_ops,
    child_main,
    deadline_after,
    latencies,
    node_names,
    payload,
    peak_rss_kib,
    record_ops,
    settled_rss_kib,
    throughput,
)
from aiozk import ZKClient
from aiozk.protocol import WatchEvent
from raw_client import Writer

Op = Callable[[int], Awaitable[object]]

logging.getLogger("aiozk").setLevel(logging.ERROR)


async def _connect(spec: Spec) -> Any:
    zk = ZKClient(spec["connect"], session_timeout=10)
    await zk.start()
    return zk


def _make_op(zk: Any, spec: Spec, workload: str) -> Op:
    node = spec["node"]
    data = payload(spec["payload"])
    if workload.endswith("get_data"):

        async def op(i: int) -> object:
            return await zk.get(node)

    elif workload.endswith("exists"):

        async def op(i: int) -> object:
            return await zk.exists(node)

    elif workload.endswith("set_data"):

        async def op(i: int) -> object:
            return await zk.set(node, data, -1)

    elif workload.endswith("create_delete"):
        base = f"{spec['prefix']}/aiozk-{os.getpid()}-"

        async def op(i: int) -> object:
            path = await zk.create(f"{base}{i}", data)
            await zk.delete(path, force=True)
            return path

    else:
        raise ValueError(f"no operation for workload {workload!r}")
    return op


async def _sequential(spec: Spec) -> Result:
    result = Result()
    zk = await _connect(spec)
    try:
        op = _make_op(zk, spec, spec["workload"])
        for i in range(spec["warmup"]):
            await op(-1 - i)
        samples, meter = await atimed_ops(spec, op, check_every=CLOCK_EVERY)
    finally:
        await zk.close()
    return record_ops(result, samples, meter)


async def _burst(op: Op, total: int, in_flight: int, deadline: float) -> int:
    clock = time.perf_counter
    left = [total]
    done = [0]

    async def worker() -> None:
        while left[0] > 0 and clock() < deadline:
            left[0] -= 1
            await op(0)
            done[0] += 1

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return done[0]


async def _pipelined(spec: Spec) -> Result:
    result = Result()
    zk = await _connect(spec)
    try:
        op = _make_op(zk, spec, spec["workload"])
        await _burst(op, spec["warmup"], spec["in_flight"], deadline_after(spec["max_seconds"]))
        meter = Meter()
        done = await _burst(op, spec["ops"], spec["in_flight"], deadline_after(spec["max_seconds"]))
        meter.stop()
    finally:
        await zk.close()
    throughput(result, meter, done)
    return result


async def _connect_close(spec: Spec) -> Result:
    result = Result()
    for _ in range(spec["warmup"]):
        await (await _connect(spec)).close()

    async def cycle(_: int) -> None:
        await (await _connect(spec)).close()

    samples, meter = await atimed_ops(spec, cycle)
    return record_ops(result, samples, meter)


async def _watch_rtt(spec: Spec) -> Result:
    result = Result()
    clock = time.perf_counter
    node = spec["node"]
    data = payload(spec["payload"])
    writer = Writer(spec["connect"])
    zk = await _connect(spec)
    samples: list[float] = []
    try:
        deadline = deadline_after(spec["max_seconds"])
        for i in range(spec["warmup"] + spec["ops"]):
            arrived = zk.wait_for_events([WatchEvent.DATA_CHANGED], node)
            await zk.exists(node, watch=True)
            frame = writer.set_data_frame(node, data)
            t0 = clock()
            writer.send(frame)
            await asyncio.wait_for(arrived, spec["max_seconds"])
            t1 = clock()
            writer.read_replies(1)
            if i >= spec["warmup"]:
                samples.append(t1 - t0)
                if clock() > deadline:
                    break
    finally:
        await zk.close()
        writer.close()
    latencies(result, samples)
    result.add("round_trips", len(samples), "ops")
    return result


async def _watch_fanout(spec: Spec) -> Result:
    result = Result()
    clock = time.perf_counter
    paths = node_names(spec["fan_prefix"], spec["watches"])
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    count = [0]

    def on_event(path: str) -> None:
        count[0] += 1
        if count[0] == len(paths) and not done.done():
            done.set_result(clock())

    zk = await _connect(spec)
    try:
        await zk.get(spec["node"])
        result.add("rss_one_conn_kib", peak_rss_kib(), "KiB")
        rss_settled = settled_rss_kib()
        it = iter(paths)

        async def register(i: int) -> object:
            path = next(it)
            zk.session.add_watch_callback(WatchEvent.DATA_CHANGED, path, on_event)
            return await zk.exists(path, watch=True)

        t0 = clock()
        registered = await _burst(
            register, len(paths), spec["in_flight"], deadline_after(spec["max_seconds"])
        )
        if registered < len(paths):
            raise RuntimeError("registering the watches took longer than max_seconds")
        result.add("register_s", clock() - t0, "s")
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
        t0 = clock()
        for frame in frames:
            writer.send(frame)
        try:
            last = await asyncio.wait_for(done, spec["max_seconds"])
        except TimeoutError:
            raise RuntimeError(
                f"only {count[0]} of {len(paths)} watch events arrived in time"
            ) from None
        writer.read_replies(len(frames))
        writer.close()
    finally:
        await zk.close()
    elapsed = last - t0
    result.add("fanout_ms", elapsed * 1e3, "ms")
    result.add("events_per_s", len(paths) / elapsed, "events/s")
    return result


def _asyncio(fn: Callable[[Spec], Coroutine[Any, Any, Result]]) -> Callable[[Spec], Result]:
    def run(spec: Spec) -> Result:
        return asyncio.run(fn(spec))

    return run


WORKLOADS = {
    "seq_get_data": _asyncio(_sequential),
    "seq_exists": _asyncio(_sequential),
    "seq_set_data": _asyncio(_sequential),
    "seq_create_delete": _asyncio(_sequential),
    "pipe_get_data": _asyncio(_pipelined),
    "pipe_set_data": _asyncio(_pipelined),
    "connect_close": _asyncio(_connect_close),
    "watch_rtt": _asyncio(_watch_rtt),
    "watch_fanout": _asyncio(_watch_fanout),
}

if __name__ == "__main__":
    raise SystemExit(child_main(WORKLOADS))
