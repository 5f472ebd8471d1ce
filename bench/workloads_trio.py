"""trio_zookeeper's side of the benchmark: one workload per child process.

Each workload uses the public API only (``open_zookeeper``, ``get_data``, ...,
``with_watcher()``), the way an application would. The ``watch`` variant
(``spec["variant"] == "default_watcher"``) sets watches with ``zk.watch()`` and
reads every event from ``zk.default_watcher`` instead of one channel per watch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable

import trio
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
from raw_client import Writer

from trio_zookeeper import EventType, WatchEvents, ZooKeeper, open_zookeeper

Op = Callable[[int], Awaitable[object]]


def _make_op(zk: ZooKeeper, spec: Spec, workload: str) -> Op:
    node = spec["node"]
    data = payload(spec["payload"])
    if workload.endswith("get_data"):

        async def op(i: int) -> object:
            return await zk.get_data(node)

    elif workload.endswith("exists"):

        async def op(i: int) -> object:
            return await zk.exists(node)

    elif workload.endswith("set_data"):

        async def op(i: int) -> object:
            return await zk.set_data(node, data)

    elif workload.endswith("create_delete"):
        base = f"{spec['prefix']}/trio-{os.getpid()}-"

        async def op(i: int) -> object:
            path = await zk.create(f"{base}{i}", data)
            await zk.delete(path)
            return path

    else:
        raise ValueError(f"no operation for workload {workload!r}")
    return op


async def _sequential(spec: Spec) -> Result:
    result = Result()
    async with open_zookeeper(spec["connect"]) as zk:
        op = _make_op(zk, spec, spec["workload"])
        for i in range(spec["warmup"]):
            await op(-1 - i)
        samples, meter = await atimed_ops(spec, op, check_every=CLOCK_EVERY)
    return record_ops(result, samples, meter)


async def _pipelined(spec: Spec) -> Result:
    """``in_flight`` tasks share one connection, each issuing requests back to back."""
    result = Result()
    clock = time.perf_counter
    in_flight = spec["in_flight"]
    async with open_zookeeper(spec["connect"]) as zk:
        op = _make_op(zk, spec, spec["workload"])

        async def burst(total: int, deadline: float) -> int:
            left = [total]
            done = [0]

            async def worker() -> None:
                while left[0] > 0 and clock() < deadline:
                    left[0] -= 1
                    await op(0)
                    done[0] += 1

            async with trio.open_nursery() as nursery:
                for _ in range(in_flight):
                    nursery.start_soon(worker)
            return done[0]

        await burst(spec["warmup"], deadline_after(spec["max_seconds"]))
        meter = Meter()
        done = await burst(spec["ops"], deadline_after(spec["max_seconds"]))
        meter.stop()
    throughput(result, meter, done)
    return result


async def _connect_close(spec: Spec) -> Result:
    result = Result()
    connect = spec["connect"]
    for _ in range(spec["warmup"]):
        async with open_zookeeper(connect):
            pass

    async def cycle(_: int) -> None:
        async with open_zookeeper(connect):
            pass

    samples, meter = await atimed_ops(spec, cycle)
    return record_ops(result, samples, meter)


async def _watch_rtt(spec: Spec) -> Result:
    """Watch with ``with_watcher().exists``; a raw writer changes the node; time the event."""
    result = Result()
    clock = time.perf_counter
    node = spec["node"]
    data = payload(spec["payload"])
    default = spec.get("variant") == "default_watcher"
    writer = Writer(spec["connect"])
    samples: list[float] = []
    try:
        async with open_zookeeper(spec["connect"]) as zk:
            deadline = deadline_after(spec["max_seconds"])
            for i in range(spec["warmup"] + spec["ops"]):
                if default:
                    await zk.watch().exists(node)
                    channel = zk.default_watcher
                else:
                    _stat, channel = await zk.with_watcher().exists(node)
                frame = writer.set_data_frame(node, data)
                t0 = clock()
                writer.send(frame)
                while (await channel.receive()).event_type is EventType.NONE:
                    pass
                t1 = clock()
                writer.read_replies(1)
                if i >= spec["warmup"]:
                    samples.append(t1 - t0)
                    if clock() > deadline:
                        break
    finally:
        writer.close()
    latencies(result, samples)
    result.add("round_trips", len(samples), "ops")
    return result


async def _watch_fanout(spec: Spec) -> Result:
    """Register N exists watches (peak RSS before/after), fire them all, time the events."""
    result = Result()
    clock = time.perf_counter
    paths = node_names(spec["fan_prefix"], spec["watches"])
    default = spec.get("variant") == "default_watcher"
    # The default watcher's buffer must hold every event if the consumer lags.
    async with open_zookeeper(spec["connect"], watch_buffer=len(paths) + 16) as zk:
        await zk.get_data(spec["node"])
        result.add("rss_one_conn_kib", peak_rss_kib(), "KiB")
        rss_settled = settled_rss_kib()
        channels: list[WatchEvents] = []
        deadline = deadline_after(spec["max_seconds"])
        next_index = [0]

        async def register() -> None:
            while next_index[0] < len(paths) and clock() < deadline:
                path = paths[next_index[0]]
                next_index[0] += 1
                if default:
                    await zk.watch().exists(path)
                else:
                    _stat, channel = await zk.with_watcher().exists(path)
                    channels.append(channel)

        t0 = clock()
        async with trio.open_nursery() as nursery:
            for _ in range(spec["in_flight"]):
                nursery.start_soon(register)
        result.add("register_s", clock() - t0, "s")
        if next_index[0] < len(paths):
            raise RuntimeError("registering the watches took longer than max_seconds")
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
        with trio.move_on_after(spec["max_seconds"]):
            t0 = clock()
            for frame in frames:
                writer.send(frame)
            if default:
                while received < len(paths):
                    event = await zk.default_watcher.receive()
                    if event.event_type is not EventType.NONE:
                        received += 1
            else:
                for channel in channels:
                    while True:
                        event = await channel.receive()
                        if event.event_type is not EventType.NONE:
                            break
                    received += 1
        elapsed = clock() - t0
        writer.read_replies(len(frames))
        writer.close()
    if received < len(paths):
        raise RuntimeError(f"only {received} of {len(paths)} watch events arrived in time")
    result.add("fanout_ms", elapsed * 1e3, "ms")
    result.add("events_per_s", received / elapsed, "events/s")
    return result


def in_trio(fn: Callable[[Spec], Awaitable[Result]]) -> Callable[[Spec], Result]:
    """A workload function running ``fn`` in ``trio.run``."""

    def run(spec: Spec) -> Result:
        return trio.run(fn, spec)

    return run


WORKLOADS = {
    "seq_get_data": in_trio(_sequential),
    "seq_exists": in_trio(_sequential),
    "seq_set_data": in_trio(_sequential),
    "seq_create_delete": in_trio(_sequential),
    "pipe_get_data": in_trio(_pipelined),
    "pipe_set_data": in_trio(_pipelined),
    "connect_close": in_trio(_connect_close),
    "watch_rtt": in_trio(_watch_rtt),
    "watch_fanout": in_trio(_watch_fanout),
}

if __name__ == "__main__":
    raise SystemExit(child_main(WORKLOADS))
