"""kazoo's side of the recipe and scale benchmarks (threading handler, sync API).

The same workloads as ``recipes_trio.py``, with kazoo's own recipes
(``Lock``, ``Election``, ``Queue``, ``Counter``, ``TreeCache``); contenders
that need their own session get their own ``KazooClient``, each driven from
its own thread, as a kazoo application would.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

from _common import (
    PAYLOAD_WARMUP,
    Meter,
    Result,
    Spec,
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
    timed_ops,
)
from kazoo.client import KazooState
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock
from kazoo.recipe.queue import Queue
from raw_client import OP_CREATE, OP_DELETE, RawClient, RawError, Writer, create_body, delete_body
from workloads_kazoo import close_client, connect

logging.getLogger("kazoo").setLevel(logging.ERROR)
clock = time.perf_counter


def _base(spec: Spec, name: str) -> str:
    return f"{spec['recipe_prefix']}/{name}-kazoo-{os.getpid()}"


# ----------------------------------------------------------------- recipes
def lock(spec: Spec) -> Result:
    result = Result()
    zk = connect(spec)
    try:
        lk = Lock(zk, _base(spec, "lock"), identifier="bench")

        def cycle(_: int) -> None:
            with lk:
                pass

        for i in range(spec["warmup"]):
            cycle(i)
        samples, meter = timed_ops(spec, cycle)
    finally:
        close_client(zk)
    return record_ops(result, samples, meter)


def _handoff(spec: Spec, election: bool) -> Result:
    """As recipes_trio._handoff: the holder leaves once every other contender is queued."""
    result = Result()
    path = _base(spec, spec["workload"])
    contenders = spec["waiters"] + 1
    wanted = spec["ops"]
    samples: list[float] = []
    released = [0.0]
    done = threading.Event()
    deadline = deadline_after(spec["max_seconds"])
    clients = [connect(spec) for _ in range(contenders)]
    errors: list[BaseException] = []

    def body(zk: Any) -> None:
        started = clock()
        if released[0]:
            samples.append(started - released[0])
        if len(samples) >= wanted or clock() > deadline:
            done.set()
        while not done.is_set():
            if len(zk.get_children(path)) >= contenders:
                break
            time.sleep(0.0005)
        released[0] = clock()

    def contender(zk: Any, index: int) -> None:
        try:
            if election:
                recipe = Election(zk, path, identifier=f"c{index}")
                while not done.is_set():
                    recipe.run(body, zk)
            else:
                lk = Lock(zk, path, identifier=f"c{index}")
                while not done.is_set():
                    with lk:
                        body(zk)
        except BaseException as exc:  # reported after the join
            errors.append(exc)
            done.set()

    try:
        clients[0].ensure_path(path)
        threads = [
            threading.Thread(target=contender, args=(zk, i), daemon=True)
            for i, zk in enumerate(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(spec["max_seconds"] + 30)
        if any(t.is_alive() for t in threads):
            raise RuntimeError("a contender did not finish")
    finally:
        for zk in clients:
            close_client(zk)
    if errors:
        raise errors[0]
    if not samples:
        raise RuntimeError("no handoff completed")
    latencies(result, samples)
    result.add("handoffs", len(samples), "ops")
    return result


def lock_handoff(spec: Spec) -> Result:
    return _handoff(spec, election=False)


def election(spec: Spec) -> Result:
    return _handoff(spec, election=True)


def queue(spec: Spec) -> Result:
    result = Result()
    data = payload(spec["payload"])
    zk = connect(spec)
    try:
        q = Queue(zk, _base(spec, "queue"))
        for _ in range(spec["warmup"]):
            q.put(data)
        for _ in range(spec["warmup"]):
            q.get()
        meter = Meter()
        deadline = deadline_after(spec["max_seconds"])
        put = 0
        for _ in range(spec["ops"]):
            q.put(data)
            put += 1
            if clock() > deadline:
                break
        for _ in range(put):
            if q.get() != data:
                raise RuntimeError("queue returned another item")
        meter.stop()
    finally:
        close_client(zk)
    throughput(result, meter, put)
    return result


def counter(spec: Spec) -> Result:
    result = Result()
    path = _base(spec, "counter")
    n = spec["clients"]
    per_client = max(1, spec["ops"] // n)
    deadline = deadline_after(spec["max_seconds"])
    done = [0]
    guard = threading.Lock()
    clients = [connect(spec) for _ in range(n)]
    errors: list[BaseException] = []

    def worker(zk: Any) -> None:
        try:
            c = Counter(zk, path)
            for _ in range(per_client):
                c += 1
                with guard:
                    done[0] += 1
                if clock() > deadline:
                    break
        except BaseException as exc:
            errors.append(exc)

    try:
        _ = Counter(clients[0], path).value
        threads = [threading.Thread(target=worker, args=(zk,), daemon=True) for zk in clients]
        meter = Meter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(spec["max_seconds"] + 30)
        meter.stop()
        final = Counter(clients[0], path).value
    finally:
        for zk in clients:
            close_client(zk)
    if errors:
        raise errors[0]
    if final != done[0]:
        raise RuntimeError(f"counter is {final}, {done[0]} increments were made")
    throughput(result, meter, done[0])
    return result


def treecache(spec: Spec) -> Result:
    result = Result()
    root = spec["tree_root"]
    leaf = spec["tree_leaf"]
    data = payload(spec["payload"])
    zk = connect(spec)
    # The writer connects after the load: its session (never pinged) would
    # expire during a long one.
    writer: Writer | None = None
    initialized = threading.Event()
    updated = threading.Event()

    def listener(event: Any) -> None:
        if event.event_type == TreeEvent.INITIALIZED:
            initialized.set()
        elif event.event_type == TreeEvent.NODE_UPDATED and event.event_data.path == leaf:
            updated.set()

    try:
        zk.get(spec["node"])
        rss0 = rss_now_kib()
        cache = TreeCache(zk, root)
        cache.listen(listener)
        t0 = clock()
        cache.start()
        if not initialized.wait(spec["max_seconds"] * 4):
            raise RuntimeError("the TreeCache did not initialize in time")
        result.add("load_s", clock() - t0, "s")
        rss1 = rss_now_kib()
        nodes = spec["tree_nodes"]
        result.add("nodes", nodes, "nodes")
        result.add("rss_per_node_b", (rss1 - rss0) * 1024 / nodes, "B")
        samples: list[float] = []
        writer = Writer(spec["connect"])
        deadline = deadline_after(spec["max_seconds"])
        for _ in range(spec["rtt_ops"]):
            updated.clear()
            frame = writer.set_data_frame(leaf, data)
            t1 = clock()
            writer.send(frame)
            if not updated.wait(30):
                raise RuntimeError("no NODE_UPDATED event within 30 s")
            samples.append(clock() - t1)
            writer.read_replies(1)
            if clock() > deadline:
                break
        latencies(result, samples, prefix="event_")
        cache.close()
    finally:
        if writer is not None:
            writer.close()
        close_client(zk)
    result.add("peak_rss_kib", peak_rss_kib(), "KiB")
    return result


# ------------------------------------------------------------------- scale
def scale_watches(spec: Spec) -> Result:
    """Exists watches on missing nodes with one shared callback, pipelined through exists_async.

    Then the connection is dropped (its socket shut down). kazoo does not
    re-register watches (it sends no SetWatches: on a lost connection it
    fires every watcher with a NONE event and forgets them), so, as a kazoo
    application must, the watches are set again with exists_async once
    reconnected; timed like trio_zookeeper's, from reconnected until the
    last node's event.
    """
    result = Result()
    prefix = f"{spec['recipe_prefix']}/nowatch-kazoo-{os.getpid()}"
    count = spec["scale_watches"]
    paths = [f"{prefix}/n{i}" for i in range(count)]
    last = paths[-1]
    connected = threading.Event()
    fired = threading.Event()

    def on_event(event: Any) -> None:
        if event.type == "CREATED" and event.path == last:
            fired.set()

    def on_state(state: Any) -> None:
        if state == KazooState.CONNECTED:
            connected.set()
        else:
            connected.clear()

    def set_watches() -> None:
        window: list[Any] = []
        for path in paths:
            window.append(zk.exists_async(path, watch=on_event))
            if len(window) >= spec["in_flight"]:
                for r in window:
                    r.get(timeout=30)
                window.clear()
        for r in window:
            r.get(timeout=30)

    writer: RawClient | None = None
    zk = connect(spec)
    try:
        zk.get(spec["node"])
        rss0 = rss_now_kib()
        t0 = clock()
        set_watches()
        elapsed = clock() - t0
        rss1 = rss_now_kib()
        result.add("register_s", elapsed, "s")
        result.add("rss_per_watch_b", (rss1 - rss0) * 1024 / count, "B")
        result.add("rss_watches_kib", rss1, "KiB")
        zk.add_listener(on_state)
        reset_peak_rss()
        t0 = clock()
        connected.clear()
        zk._connection._socket.shutdown(socket.SHUT_RDWR)
        if not connected.wait(timeout=spec["max_seconds"]):
            raise RuntimeError("kazoo did not reconnect in time")
        t1 = clock()
        set_watches()
        t_set = clock()
        # (A raw session that never pings: made now, not to expire while the
        # watches are set again; its handshake is not counted.)
        writer = RawClient(spec["connect"])
        writer.call(OP_CREATE, create_body(prefix, b""))
        t_writer = clock()
        writer.call(OP_CREATE, create_body(last, b""))
        if not fired.wait(timeout=spec["max_seconds"]):
            raise RuntimeError("the last node's watch did not fire in time")
        t2 = clock() - (t_writer - t_set)
        result.add("reconnect_s", t1 - t0, "s")
        result.add("rewatch_s", t2 - t1, "s")
        result.add("rewatch_rss_kib", peak_rss_kib() - rss1, "KiB")
    finally:
        close_client(zk)
        if writer is not None:
            with contextlib.suppress(RawError):
                writer.call(OP_DELETE, delete_body(last))
            writer.call(OP_DELETE, delete_body(prefix))
            writer.close()
    return result


def scale_sessions(spec: Spec) -> Result:
    """``sessions`` KazooClients from this process, started one after another."""
    result = Result()
    count = spec["scale_sessions"]
    first = connect(spec)
    clients: list[Any] = []
    try:
        first.get(spec["node"])
        rss0 = rss_now_kib()
        t0 = clock()
        deadline = deadline_after(spec["max_seconds"])
        for _ in range(count):
            clients.append(connect(spec))
            if clock() > deadline:
                raise RuntimeError(f"only {len(clients)} sessions in max_seconds")
        result.add("connect_all_s", clock() - t0, "s")
        result.add("rss_per_session_kib", (rss_now_kib() - rss0) / count, "KiB")
        t1 = clock()
        for zk in clients:
            close_client(zk)
        clients.clear()
        result.add("close_all_s", clock() - t1, "s")
    finally:
        for zk in clients:
            close_client(zk)
        close_client(first)
    return result


def scale_payload(spec: Spec) -> Result:
    result = Result()
    data = payload(spec["big_payload"])
    node = spec["big_node"]
    zk = connect(spec)
    try:
        for _ in range(PAYLOAD_WARMUP):
            zk.set(node, data)
            zk.get(node)
        pairs: list[float] = []
        meter = Meter()
        deadline = deadline_after(spec["max_seconds"])
        for _ in range(spec["ops"]):
            t0 = clock()
            zk.set(node, data)
            got, _stat = zk.get(node)
            pairs.append(clock() - t0)
            if len(got) != len(data):
                raise RuntimeError("short read")
            if clock() > deadline:
                break
        meter.stop()
    finally:
        close_client(zk)
    payload_rates(result, meter, pairs, len(data))
    return result


def scale_children(spec: Spec) -> Result:
    result = Result()
    parent = spec["children_parent"]
    samples: list[float] = []
    zk = connect(spec)
    try:
        zk.get_children(parent)  # warm-up
        deadline = deadline_after(spec["max_seconds"])
        for _ in range(spec["ops"]):
            t0 = clock()
            children = zk.get_children(parent)
            samples.append(clock() - t0)
            if len(children) != spec["children"]:
                raise RuntimeError(f"{len(children)} children, want {spec['children']}")
            if clock() > deadline:
                break
    finally:
        close_client(zk)
    latencies(result, samples)
    result.add("peak_rss_kib", peak_rss_kib(), "KiB")
    return result


WORKLOADS = {
    "recipe_lock": lock,
    "recipe_lock_handoff": lock_handoff,
    "recipe_election": election,
    "recipe_queue": queue,
    "recipe_counter": counter,
    "recipe_treecache": treecache,
    "scale_watches": scale_watches,
    "scale_sessions": scale_sessions,
    "scale_payload": scale_payload,
    "scale_children": scale_children,
}

if __name__ == "__main__":
    raise SystemExit(child_main(WORKLOADS))
