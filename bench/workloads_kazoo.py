"""kazoo's side of the benchmark (threading handler), sync or async API.

``spec["variant"]`` is ``"sync"`` (``zk.get(path)``...) or ``"async"``
(``zk.get_async(path)`` and ``IAsyncResult.get()``). Pipelining needs the
async API: a sliding window of ``in_flight`` outstanding ``*_async`` results,
waiting on the oldest (replies come back in order). Watches use one shared
callback function, the cheapest way kazoo offers; watch times are taken in the
callback, where application code first sees the event.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

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
from kazoo.client import KazooClient
from raw_client import Writer

Op = Callable[[int], object]
AsyncOp = Callable[[int], Any]  # returns a kazoo IAsyncResult

logging.getLogger("kazoo").setLevel(logging.ERROR)


def connect(spec: Spec) -> Any:
    zk = KazooClient(hosts=spec["connect"], timeout=10.0)
    zk.start(timeout=15)
    return zk


def close_client(zk: Any) -> None:
    zk.stop()
    zk.close()


def _async_op(zk: Any, spec: Spec, workload: str) -> AsyncOp:
    node = spec["node"]
    data = payload(spec["payload"])
    if workload.endswith("get_data"):
        return lambda i: zk.get_async(node)
    if workload.endswith("exists"):
        return lambda i: zk.exists_async(node)
    if workload.endswith("set_data"):
        return lambda i: zk.set_async(node, data)
    raise ValueError(f"no async operation for workload {workload!r}")


def _make_op(zk: Any, spec: Spec, workload: str) -> Op:
    node = spec["node"]
    data = payload(spec["payload"])
    sync = spec.get("variant", "sync") == "sync"
    if workload.endswith("create_delete"):
        base = f"{spec['prefix']}/kazoo-{os.getpid()}-"
        if sync:

            def create_delete(i: int) -> object:
                path = zk.create(f"{base}{i}", data)
                zk.delete(path)
                return path

        else:

            def create_delete(i: int) -> object:
                path = zk.create_async(f"{base}{i}", data).get()
                zk.delete_async(path).get()
                return path

        return create_delete
    if not sync:
        op = _async_op(zk, spec, workload)
        return lambda i: op(i).get()
    if workload.endswith("get_data"):
        return lambda i: zk.get(node)
    if workload.endswith("exists"):
        return lambda i: zk.exists(node)
    if workload.endswith("set_data"):
        return lambda i: zk.set(node, data)
    raise ValueError(f"no operation for workload {workload!r}")


def sequential(spec: Spec) -> Result:
    result = Result()
    zk = connect(spec)
    try:
        op = _make_op(zk, spec, spec["workload"])
        for i in range(spec["warmup"]):
            op(-1 - i)
        samples, meter = timed_ops(spec, op, check_every=CLOCK_EVERY)
    finally:
        close_client(zk)
    return record_ops(result, samples, meter)


def _window(op: AsyncOp, total: int, in_flight: int, deadline: float) -> int:
    """Keep ``in_flight`` requests outstanding until ``total`` (or the deadline)."""
    window: collections.deque[Any] = collections.deque()
    issued = done = 0
    clock = time.perf_counter
    stopped = False
    while issued < total and len(window) < in_flight:
        window.append(op(issued))
        issued += 1
    while window:
        window.popleft().get()
        done += 1
        if not stopped and issued < total:
            if done % CLOCK_EVERY == 0 and clock() > deadline:
                stopped = True
            else:
                window.append(op(issued))
                issued += 1
    return done


def pipelined(spec: Spec) -> Result:
    if spec.get("variant", "sync") == "sync":
        raise ValueError("kazoo's sync API cannot pipeline; use the async variant")
    result = Result()
    zk = connect(spec)
    try:
        op = _async_op(zk, spec, spec["workload"])
        _window(op, spec["warmup"], spec["in_flight"], deadline_after(spec["max_seconds"]))
        meter = Meter()
        done = _window(op, spec["ops"], spec["in_flight"], deadline_after(spec["max_seconds"]))
        meter.stop()
    finally:
        close_client(zk)
    throughput(result, meter, done)
    return result


def connect_close(spec: Spec) -> Result:
    result = Result()
    for _ in range(spec["warmup"]):
        close_client(connect(spec))
    samples, meter = timed_ops(spec, lambda _: close_client(connect(spec)))
    return record_ops(result, samples, meter)


def watch_rtt(spec: Spec) -> Result:
    result = Result()
    clock = time.perf_counter
    node = spec["node"]
    data = payload(spec["payload"])
    arrived = threading.Event()
    stamp = [0.0]

    def on_event(event: Any) -> None:
        stamp[0] = clock()
        arrived.set()

    sync = spec.get("variant", "sync") == "sync"
    writer = Writer(spec["connect"])
    zk = connect(spec)
    samples: list[float] = []
    try:
        deadline = deadline_after(spec["max_seconds"])
        for i in range(spec["warmup"] + spec["ops"]):
            arrived.clear()
            if sync:
                zk.exists(node, watch=on_event)
            else:
                zk.exists_async(node, watch=on_event).get()
            frame = writer.set_data_frame(node, data)
            t0 = clock()
            writer.send(frame)
            if not arrived.wait(timeout=spec["max_seconds"]):
                raise RuntimeError("watch event did not arrive")
            writer.read_replies(1)
            if i >= spec["warmup"]:
                samples.append(stamp[0] - t0)
                if clock() > deadline:
                    break
    finally:
        close_client(zk)
        writer.close()
    latencies(result, samples)
    result.add("round_trips", len(samples), "ops")
    return result


def watch_fanout(spec: Spec) -> Result:
    result = Result()
    clock = time.perf_counter
    paths = node_names(spec["fan_prefix"], spec["watches"])
    count = [0]
    last = [0.0]
    all_arrived = threading.Event()

    def on_event(event: Any) -> None:  # kazoo runs callbacks on one thread, in order
        count[0] += 1
        if count[0] == len(paths):
            last[0] = clock()
            all_arrived.set()

    zk = connect(spec)
    try:
        zk.get(spec["node"])
        result.add("rss_one_conn_kib", peak_rss_kib(), "KiB")
        rss_settled = settled_rss_kib()
        it = iter(paths)
        t0 = clock()
        _window(
            lambda i: zk.exists_async(next(it), watch=on_event),
            len(paths),
            spec["in_flight"],
            deadline_after(spec["max_seconds"]),
        )
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
        ok = all_arrived.wait(timeout=spec["max_seconds"])
        writer.read_replies(len(frames))
        writer.close()
    finally:
        close_client(zk)
    if not ok:
        raise RuntimeError(f"only {count[0]} of {len(paths)} watch events arrived in time")
    elapsed = last[0] - t0
    result.add("fanout_ms", elapsed * 1e3, "ms")
    result.add("events_per_s", len(paths) / elapsed, "events/s")
    return result


WORKLOADS = {
    "seq_get_data": sequential,
    "seq_exists": sequential,
    "seq_set_data": sequential,
    "seq_create_delete": sequential,
    "pipe_get_data": pipelined,
    "pipe_set_data": pipelined,
    "connect_close": connect_close,
    "watch_rtt": watch_rtt,
    "watch_fanout": watch_fanout,
}

if __name__ == "__main__":
    raise SystemExit(child_main(WORKLOADS))
