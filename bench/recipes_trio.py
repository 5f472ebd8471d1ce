"""trio_zookeeper's side of the recipe and scale benchmarks: one workload per child.

The recipes are driven through ``trio_zookeeper.recipes`` exactly as an
application would; ``recipes_kazoo.py`` does the same with kazoo's recipes on
the same layout, so the two are compared in the same run. The scale workloads
use the plain client at sizes far beyond the core suite (each bounded in time).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from collections.abc import Callable

import trio
from _common import (
    PAYLOAD_WARMUP,
    Meter,
    Result,
    Spec,
    atimed_ops,
    child_main,
    deadline_after,
    latencies,
    payload,
    payload_rates,
    peak_rss_kib,
    record_ops,
    reset_peak_rss,
    rss_now_kib,
    throughput,
)
from raw_client import OP_CREATE, OP_DELETE, RawClient, RawError, Writer, create_body, delete_body
from workloads_trio import in_trio

from trio_zookeeper import KeeperState, ZooKeeper, open_zookeeper
from trio_zookeeper.recipes import Counter, Election, Lock, Queue, TreeCache, TreeEventType

clock = time.perf_counter


def _base(spec: Spec, name: str) -> str:
    return f"{spec['recipe_prefix']}/{name}-trio-{os.getpid()}"


# ----------------------------------------------------------------- recipes
async def _lock(spec: Spec) -> Result:
    """Uncontended acquire + release of one Lock, back to back."""
    result = Result()
    async with open_zookeeper(spec["connect"]) as zk:
        lock = Lock(zk, _base(spec, "lock"), identifier="bench")

        async def cycle(_: int) -> None:
            async with lock:
                pass

        for i in range(spec["warmup"]):
            await cycle(i)
        samples, meter = await atimed_ops(spec, cycle)
    return record_ops(result, samples, meter)


async def _handoff(spec: Spec, make: Callable[[ZooKeeper, str, str], object]) -> Result:
    """``waiters + 1`` contenders, one session each, cycle through a lock or an election.

    The holder waits until every other contender is queued (their nodes
    exist), notes the time and leaves; the latency is from there until the
    next holder's block starts. ``make(zk, path, identifier)`` builds the
    recipe object (a Lock or an Election, used with ``async with``).
    """
    result = Result()
    path = _base(spec, spec["workload"])
    contenders = spec["waiters"] + 1
    wanted = spec["ops"]
    samples: list[float] = []
    released = [0.0]
    done = [False]
    deadline = deadline_after(spec["max_seconds"])

    async def contender(zk: ZooKeeper, index: int) -> None:
        recipe = make(zk, path, f"c{index}")
        while not done[0]:
            async with recipe:  # type: ignore[attr-defined]
                started = clock()
                if released[0]:
                    samples.append(started - released[0])
                if len(samples) >= wanted or clock() > deadline:
                    done[0] = True
                while not done[0]:
                    children = await zk.get_children(path)
                    if len(children) >= contenders:
                        break
                    await trio.sleep(0.0005)
                released[0] = clock()

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(open_zookeeper(spec["connect"]))
            for _ in range(contenders)
        ]
        await clients[0].ensure_path(path)
        async with trio.open_nursery() as nursery:
            for i, zk in enumerate(clients):
                nursery.start_soon(contender, zk, i)
    if not samples:
        raise RuntimeError("no handoff completed")
    latencies(result, samples)
    result.add("handoffs", len(samples), "ops")
    return result


async def _lock_handoff(spec: Spec) -> Result:
    return await _handoff(spec, lambda zk, path, ident: Lock(zk, path, identifier=ident))


async def _election(spec: Spec) -> Result:
    return await _handoff(spec, lambda zk, path, ident: Election(zk, path, identifier=ident))


async def _queue(spec: Spec) -> Result:
    """Queue.put of ``ops`` items, then Queue.get of them all; one op = one put + one get."""
    result = Result()
    data = payload(spec["payload"])
    async with open_zookeeper(spec["connect"]) as zk:
        queue = Queue(zk, _base(spec, "queue"))
        for _ in range(spec["warmup"]):
            await queue.put(data)
        for _ in range(spec["warmup"]):
            await queue.get()
        meter = Meter()
        deadline = deadline_after(spec["max_seconds"])
        put = 0
        for _ in range(spec["ops"]):
            await queue.put(data)
            put += 1
            if clock() > deadline:
                break
        for _ in range(put):
            if await queue.get() != data:
                raise RuntimeError("queue returned another item")
        meter.stop()
    throughput(result, meter, put)
    return result


async def _counter(spec: Spec) -> Result:
    """``clients`` sessions add 1 to one Counter concurrently, ``ops`` times in all."""
    result = Result()
    path = _base(spec, "counter")
    n = spec["clients"]
    per_client = max(1, spec["ops"] // n)
    deadline = deadline_after(spec["max_seconds"])
    done = [0]

    async def worker(zk: ZooKeeper) -> None:
        counter = Counter(zk, path)
        for _ in range(per_client):
            await counter.add(1)
            done[0] += 1
            if clock() > deadline:
                break

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(open_zookeeper(spec["connect"])) for _ in range(n)
        ]
        await Counter(clients[0], path).get()
        meter = Meter()
        async with trio.open_nursery() as nursery:
            for zk in clients:
                nursery.start_soon(worker, zk)
        meter.stop()
        final = await Counter(clients[0], path).get()
    if final != done[0]:
        raise RuntimeError(f"counter is {final}, {done[0]} increments were made")
    throughput(result, meter, done[0])
    return result


async def _treecache(spec: Spec) -> Result:
    """Load a TreeCache of the prepared tree (time, RSS), then time change events."""
    result = Result()
    root = spec["tree_root"]
    data = payload(spec["payload"])
    # The writer connects after the load: its session (never pinged) would
    # expire during a long one.
    writer: Writer | None = None
    try:
        async with open_zookeeper(spec["connect"]) as zk:
            await zk.get_data(spec["node"])
            rss0 = rss_now_kib()
            t0 = clock()
            # Room for one event per node of the first load (they are drained below).
            # The load (inside __aenter__) is bounded by max_seconds.
            load_scope = trio.CancelScope(deadline=trio.current_time() + spec["max_seconds"])
            with load_scope:
                async with TreeCache(zk, root, max_events=spec["tree_nodes"] + 1024) as cache:
                    load_scope.deadline = math.inf
                    events = aiter(cache)
                    while (await anext(events)).type is not TreeEventType.INITIALIZED:
                        pass
                    result.add("load_s", clock() - t0, "s")
                    nodes = len(cache.paths())
                    if nodes < spec["tree_nodes"]:
                        raise RuntimeError(f"cache holds {nodes} nodes, want {spec['tree_nodes']}")
                    rss1 = rss_now_kib()
                    result.add("nodes", nodes, "nodes")
                    result.add("rss_per_node_b", (rss1 - rss0) * 1024 / nodes, "B")
                    leaf = spec["tree_leaf"]
                    writer = Writer(spec["connect"])
                    samples: list[float] = []
                    deadline = deadline_after(spec["max_seconds"])
                    for _ in range(spec["rtt_ops"]):
                        frame = writer.set_data_frame(leaf, data)
                        t1 = clock()
                        writer.send(frame)
                        with trio.fail_after(30):
                            while True:
                                event = await anext(events)
                                if event.type is TreeEventType.NODE_UPDATED and event.path == leaf:
                                    break
                        samples.append(clock() - t1)
                        writer.read_replies(1)
                        if clock() > deadline:
                            break
                    latencies(result, samples, prefix="event_")
            if load_scope.cancelled_caught:
                raise RuntimeError(
                    f"loading {spec['tree_nodes']:,} nodes took longer than "
                    f"{spec['max_seconds']:.0f} s"
                )
    finally:
        if writer is not None:
            writer.close()
    result.add("peak_rss_kib", peak_rss_kib(), "KiB")
    return result


# ------------------------------------------------------------------- scale
async def _scale_watches(spec: Spec) -> Result:
    """Register ``watches`` exists watches on one session (missing nodes), then re-register them.

    Time and RSS of registering; then the connection is dropped (its socket
    shut down): the time to reconnect (with the client's random pause of up
    to 1 s, as Java's), and from reconnected until every watch is set again
    (SetWatches, by the client itself), measured by creating the last watched
    node and waiting for its event; and the peak RSS re-registration adds.
    """
    result = Result()
    prefix = f"{spec['recipe_prefix']}/nowatch-trio-{os.getpid()}"
    count = spec["scale_watches"]
    sockets: list[trio.socket.SocketType] = []

    async def open_tcp(host: str, port: int) -> trio.abc.Stream:
        stream = await trio.open_tcp_stream(host, port)
        sockets.append(stream.socket)
        return stream

    last = f"{prefix}/n{count - 1}"
    writer: RawClient | None = None
    try:
        async with open_zookeeper(
            spec["connect"], watch_buffer=count + 16, stream_factory=open_tcp
        ) as zk:
            await zk.get_data(spec["node"])
            rss0 = rss_now_kib()
            next_index = [0]
            deadline = deadline_after(spec["max_seconds"])

            async def register() -> None:
                while next_index[0] < count and clock() < deadline:
                    i = next_index[0]
                    next_index[0] += 1
                    await zk.watch().exists(f"{prefix}/n{i}")

            t0 = clock()
            async with trio.open_nursery() as nursery:
                for _ in range(spec["in_flight"]):
                    nursery.start_soon(register)
            elapsed = clock() - t0
            if next_index[0] < count:
                raise RuntimeError("registering the watches took longer than max_seconds")
            rss1 = rss_now_kib()
            result.add("register_s", elapsed, "s")
            result.add("rss_per_watch_b", (rss1 - rss0) * 1024 / count, "B")
            result.add("rss_watches_kib", rss1, "KiB")
            # (A raw session that never pings: made now, not to expire meanwhile.)
            writer = RawClient(spec["connect"])
            writer.call(OP_CREATE, create_body(prefix, b""))
            reset_peak_rss()
            events = zk.default_watcher
            async with zk.session_states() as states:
                t0 = clock()
                sockets[-1].shutdown(socket.SHUT_RDWR)
                with trio.fail_after(spec["max_seconds"]):
                    while await states.receive() is not KeeperState.SYNC_CONNECTED:
                        pass
                t1 = clock()
                writer.call(OP_CREATE, create_body(last, b""))
                with trio.fail_after(spec["max_seconds"]):
                    while (await events.receive()).path != last:
                        pass
                t2 = clock()
            result.add("reconnect_s", t1 - t0, "s")
            result.add("rewatch_s", t2 - t1, "s")
            result.add("rewatch_rss_kib", peak_rss_kib() - rss1, "KiB")
    finally:
        if writer is not None:
            with contextlib.suppress(RawError):
                writer.call(OP_DELETE, delete_body(last))
            writer.call(OP_DELETE, delete_body(prefix))
            writer.close()
    return result


async def _scale_sessions(spec: Spec) -> Result:
    """Hold ``sessions`` sessions open at once from this process; time and RSS each.

    Each session is held by its own task (a session's nursery lives in the
    task that opened it); at most 100 handshakes are in progress at a time.
    """
    result = Result()
    count = spec["scale_sessions"]
    connected = [0]
    all_connected = trio.Event()
    close = trio.Event()
    limiter = trio.CapacityLimiter(100)

    async def hold() -> None:
        async with limiter:
            cm = open_zookeeper(spec["connect"])
            zk = await cm.__aenter__()
        try:
            connected[0] += 1
            if connected[0] == count:
                all_connected.set()
            await close.wait()
        finally:
            await cm.__aexit__(None, None, None)
        del zk

    async with open_zookeeper(spec["connect"]) as first:
        await first.get_data(spec["node"])
        rss0 = rss_now_kib()
        with trio.fail_after(spec["max_seconds"]):
            async with trio.open_nursery() as nursery:
                t0 = clock()
                for _ in range(count):
                    nursery.start_soon(hold)
                await all_connected.wait()
                result.add("connect_all_s", clock() - t0, "s")
                result.add("rss_per_session_kib", (rss_now_kib() - rss0) / count, "KiB")
                t1 = clock()
                close.set()
            result.add("close_all_s", clock() - t1, "s")
    return result


async def _scale_payload(spec: Spec) -> Result:
    """set_data then get_data of a ``big_payload``-byte value, ``ops`` pairs; MB/s both ways."""
    result = Result()
    data = payload(spec["big_payload"])
    node = spec["big_node"]
    async with open_zookeeper(spec["connect"]) as zk:
        for _ in range(PAYLOAD_WARMUP):
            await zk.set_data(node, data)
            await zk.get_data(node)
        pairs: list[float] = []
        meter = Meter()
        deadline = deadline_after(spec["max_seconds"])
        for _ in range(spec["ops"]):
            t0 = clock()
            await zk.set_data(node, data)
            got, _stat = await zk.get_data(node)
            pairs.append(clock() - t0)
            if len(got) != len(data):
                raise RuntimeError("short read")
            if clock() > deadline:
                break
        meter.stop()
    payload_rates(result, meter, pairs, len(data))
    return result


async def _scale_children(spec: Spec) -> Result:
    """get_children of a node with ``children`` children, with a raised frame limit."""
    result = Result()
    parent = spec["children_parent"]
    samples: list[float] = []
    async with open_zookeeper(spec["connect"], max_frame_size=spec["frame_limit"]) as zk:
        await zk.get_children(parent)  # warm-up
        deadline = deadline_after(spec["max_seconds"])
        for _ in range(spec["ops"]):
            t0 = clock()
            children = await zk.get_children(parent)
            samples.append(clock() - t0)
            if len(children) != spec["children"]:
                raise RuntimeError(f"{len(children)} children, want {spec['children']}")
            if clock() > deadline:
                break
    latencies(result, samples)
    result.add("peak_rss_kib", peak_rss_kib(), "KiB")
    return result


WORKLOADS = {
    "recipe_lock": in_trio(_lock),
    "recipe_lock_handoff": in_trio(_lock_handoff),
    "recipe_election": in_trio(_election),
    "recipe_queue": in_trio(_queue),
    "recipe_counter": in_trio(_counter),
    "recipe_treecache": in_trio(_treecache),
    "scale_watches": in_trio(_scale_watches),
    "scale_sessions": in_trio(_scale_sessions),
    "scale_payload": in_trio(_scale_payload),
    "scale_children": in_trio(_scale_children),
}

if __name__ == "__main__":
    raise SystemExit(child_main(WORKLOADS))
