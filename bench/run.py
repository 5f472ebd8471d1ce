"""Benchmark trio_zookeeper against kazoo, aiozk and a raw socket client.

Usage: ``python bench/run.py [--quick] [--suite core|recipes|scale|all] [--out DIR]``
(``nox -s bench``).

Suites: ``core`` (the default) is the client against kazoo, aiozk and a raw
socket; ``recipes`` is the coordination recipes against kazoo's (lock,
lock handoff, election failover, queue, counter under contention, TreeCache);
``scale`` is the client at large sizes against kazoo (100,000 watches on one
session, 1,000 sessions, 1 MB payloads, 100,000 children).

It starts a throwaway ZooKeeper server on loopback (``trio_zookeeper.testing``),
lays out the nodes, warms the server's JIT up, then runs every workload for
every client in interleaved rounds (round r runs the clients of a workload in
an order rotated by r: A B C, B C A, ...). Each (client, workload, round) is a
fresh child process, so its CPU time and peak RSS are that client's alone.

Outputs, in ``--out`` (default ``bench/results``): ``results.jsonl`` (one JSON
line per measurement, plus meta, errors, summaries and targets),
``results.md`` (the table, with ratios against kazoo, aiozk and raw from the
same run) and ``results.png``. A full run also copies the table and the plot
to ``docs/_static/bench/``. Targets are reported, never enforced: the exit
status is non-zero only if measurements failed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import raw_client
import report
from _common import PAYLOAD_SIZE, Spec, node_names, payload

BENCH = pathlib.Path(__file__).resolve().parent
REPO = BENCH.parent
DEFAULT_OUT = BENCH / "results"
DOCS_DIR = REPO / "docs" / "_static" / "bench"

NODE = "/bench/node"
CD_PREFIX = "/bench/cd"
FAN_PREFIX = "/bench/fan"
RECIPE_PREFIX = "/bench/recipes"
TREE_ROOT = "/bench/tree"
BIG_NODE = "/bench/big"
CHILDREN_PARENT = "/bench/children"


@dataclass(frozen=True)
class Plan:
    """How much each workload does; every loop is also bounded by max_seconds."""

    mode: str
    rounds: int
    seq_ops: int
    pipe_ops: int
    connect_ops: int
    rtt_ops: int
    watches: int
    codec_ops: int
    in_flight: int
    max_seconds: float
    server_warmup_ops: int
    max_minutes: float
    # recipes and scale (see the module docstring)
    recipe_ops: int = 1_000
    handoffs: int = 200
    waiters: int = 10
    counter_clients: int = 10
    tree_nodes: int = 50_000
    scale_watches: int = 100_000
    scale_sessions: int = 1_000
    big_payload: int = 1_000_000
    big_ops: int = 40
    children: int = 100_000
    children_ops: int = 5
    frame_limit: int = 4 << 20


FULL = Plan(
    mode="full",
    rounds=7,
    seq_ops=5_000,
    pipe_ops=30_000,
    connect_ops=200,
    rtt_ops=1_000,
    watches=10_000,
    codec_ops=100_000,
    in_flight=1_000,
    max_seconds=5.0,
    server_warmup_ops=100_000,
    max_minutes=25.0,
)
QUICK = Plan(
    mode="quick",
    rounds=3,
    seq_ops=800,
    pipe_ops=5_000,
    connect_ops=30,
    rtt_ops=200,
    watches=2_000,
    codec_ops=20_000,
    in_flight=1_000,
    max_seconds=2.0,
    server_warmup_ops=20_000,
    max_minutes=6.0,
    recipe_ops=200,
    handoffs=50,
    tree_nodes=5_000,
    scale_watches=10_000,
    scale_sessions=100,
    big_ops=5,
    children=10_000,
    children_ops=3,
)

#: client key -> (child script, variant)
CLIENT_MODULES: dict[str, tuple[str, str]] = {
    "trio": ("workloads_trio.py", ""),
    "trio_base": ("workloads_trio.py", ""),  # --baseline: another checkout of trio_zookeeper
    "trio_watch": ("workloads_trio.py", "default_watcher"),
    "kazoo": ("workloads_kazoo.py", "sync"),
    "kazoo_async": ("workloads_kazoo.py", "async"),
    "aiozk": ("workloads_aiozk.py", ""),
    "raw": ("raw_client.py", ""),
    # The sequential workloads only: one trio task, no client (trio_loop.py).
    "trio_loop": ("trio_loop.py", "fd"),  # trio's lowest-level I/O: trio's floor
    "trio_stream": ("trio_loop.py", "stream"),  # a trio.SocketStream
    "curator": ("recipes_curator.py", ""),  # the recipe workloads only (Java, Curator 5.4)
}
_SEQ = ("trio", "kazoo", "kazoo_async", "aiozk", "raw", "trio_loop", "trio_stream")
_PIPE = ("trio", "kazoo_async", "aiozk", "raw")  # kazoo's sync API cannot pipeline
_WATCH = ("trio", "trio_watch", "kazoo", "aiozk", "raw")
#: workload -> the clients that run it
WORKLOADS: dict[str, tuple[str, ...]] = {
    "seq_get_data": _SEQ,
    "seq_exists": _SEQ,
    "seq_set_data": _SEQ,
    "seq_create_delete": _SEQ,
    "pipe_get_data": _PIPE,
    "pipe_set_data": _PIPE,
    "connect_close": ("trio", "kazoo", "aiozk", "raw"),
    "watch_rtt": _WATCH,
    "watch_fanout": _WATCH,
    "codec": ("trio", "kazoo", "aiozk", "raw"),
}
_VS_KAZOO = ("trio", "kazoo")
_VS_PEERS = ("trio", "kazoo", "curator")
RECIPE_WORKLOADS: dict[str, tuple[str, ...]] = {
    "recipe_lock": _VS_PEERS,
    "recipe_lock_handoff": _VS_PEERS,
    "recipe_election": _VS_PEERS,
    "recipe_queue": _VS_PEERS,
    "recipe_counter": _VS_PEERS,
    "recipe_treecache": _VS_PEERS,
}
SCALE_WORKLOADS: dict[str, tuple[str, ...]] = {
    "scale_watches": _VS_KAZOO,
    "scale_sessions": _VS_KAZOO,
    "scale_payload": _VS_KAZOO,
    "scale_children": _VS_KAZOO,
}
SUITES: dict[str, tuple[str, ...]] = {
    "core": tuple(WORKLOADS),
    "recipes": tuple(RECIPE_WORKLOADS),
    "scale": tuple(SCALE_WORKLOADS),
}
SUITES["all"] = SUITES["core"] + SUITES["recipes"] + SUITES["scale"]
WORKLOADS.update(RECIPE_WORKLOADS)
WORKLOADS.update(SCALE_WORKLOADS)
#: The child scripts of the recipe and scale workloads.
RECIPE_SCRIPTS = {
    "trio": "recipes_trio.py",
    "trio_base": "recipes_trio.py",
    "kazoo": "recipes_kazoo.py",
    "curator": "recipes_curator.py",
}
#: Set by --baseline: the source tree the "trio_base" client imports trio_zookeeper from.
BASELINE: list[pathlib.Path] = []

NOTES = [
    "Every (client, workload, round) runs in its own child process; CPU is user+sys of "
    "that process (all its threads) over the timed loop ÷ operations; RSS is its peak "
    "(VmHWM), except the fan-out's 'RSS the registered watches keep': VmRSS after "
    "gc.collect() and malloc_trim(0), once the watches are registered, less the same "
    "after connecting. The ZooKeeper JVM is a separate process and is not counted.",
    "trio_zookeeper: public API in trio.run; pipelining = 1,000 tasks sharing one client; "
    "watches via `zk.with_watcher().exists()` (one channel per watch), and as a variant "
    "via `zk.watch().exists()` + `zk.default_watcher`.",
    "kazoo (sync): `zk.get()` etc., threading handler. kazoo (async): `zk.get_async()` "
    "etc.; its pipelining keeps a window of 1,000 outstanding IAsyncResults and waits on "
    "the oldest. Watches: one shared callback function; times are taken in the callback.",
    "aiozk: asyncio default loop; pipelining = 1,000 coroutines via asyncio.gather; "
    "watches via `session.add_watch_callback` (+ `wait_for_events` for the round trip).",
    "raw socket: bench/raw_client.py, blocking socket and hand-written struct packing "
    "(independent of trio_zookeeper's protocol layer); pipelining keeps 1,000 requests "
    "in flight. It decodes replies (data + Stat) but does nothing else: the practical "
    "limit of the server on this machine.",
    "one-task trio loops (sequential workloads only): bench/trio_loop.py, the raw "
    "client's frames and parsing in the one task that times the request, no client and "
    "no reader task. 'fd': os.write, then trio.lowlevel.wait_readable and os.read, one "
    "scheduler pass per request, the floor of any trio client (what it costs over the "
    "raw socket is trio's own scheduling); 'SocketStream': trio.SocketStream's send_all "
    "then receive_some, as a plain trio program writes it.",
    "Watch round trip: the client sets an exists watch, a raw-socket writer (same for "
    "every client, frames encoded in advance) sets the node's data; time from the "
    "write until the event reaches application code. Fan-out: N exists watches on N "
    "nodes, all fired by the raw writer with multi(setData) batches of 1,000; time "
    "until the last event reached the application.",
    "create+delete counts one create and one delete as one operation (a pair).",
    f"Payload: {PAYLOAD_SIZE} bytes. Sessions: 10 s timeout on one standalone server.",
    "Recipes (trio_zookeeper.recipes against kazoo.recipe, same layouts): lock = "
    "uncontended acquire+release; handoff and election = 10 waiters (11 sessions), the "
    "holder leaves once all are queued, latency from its leaving until the next block "
    "starts; queue = put N items then get them (one op = put+get); counter = 10 sessions "
    "adding 1 concurrently (compare-and-set, so retries count against throughput); "
    "TreeCache = load of a 2-level tree (time until INITIALIZED, RSS added per node), then "
    "NODE_UPDATED latency for changes made by the raw writer.",
    "Apache Curator 5.4 (Java 17, bench/RecipesCurator.java, default JVM flags, the "
    "start-up outside the timed loops): InterProcessMutex (lock, handoff), LeaderSelector "
    "with autoRequeue (election), SimpleDistributedQueue offer/take (queue), "
    "DistributedAtomicLong increment, retried at once (counter), CuratorCache (tree "
    "cache; its change event is timed from an async setData of a second Curator client). "
    "One CuratorFramework per session, each contender on its own thread. CPU is the whole "
    "JVM's (JIT compiler and garbage collector included), RSS the JVM process's.",
    "Scale: watches = exists watches on missing nodes on one session (trio: zk.watch(), "
    "1,000 in flight; kazoo: exists_async with one callback, 1,000 in flight); sessions = "
    "sessions held open at once by one process (trio: concurrently, 100 handshakes at a "
    "time; kazoo: KazooClient.start one after another); payload = set_data+get_data pairs "
    "of a 1,000,000-byte value after 3 untimed ones, MB/s both ways at the median pair's "
    "time (the server's garbage collector stalls whichever client runs then; a stall "
    "doubled a 20-pair run's total time); children = get_children of a node with 100,000 children "
    "(client frame limit raised to 4 MiB; the server runs with -Djute.maxbuffer=4194304).",
]


def _log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- CPU pinning
def cpu_split() -> tuple[set[int], set[int]] | None:
    """CPUs for the server and for the clients, or None if pinning is impossible.

    On a small shared VM, whether a client runs on the same CPU as the server's
    network thread changes a sequential round trip by 2-3x (a wake-up on the
    same CPU is cheap; one across CPUs is not), and the scheduler decides that
    anew for every process: unpinned, the latency figures are bimodal from one
    round to the next. Pinning the JVM to the first half of the CPUs and every
    client process to the other half makes every round the cross-CPU case, as
    with a client and a server on different machines, and stops a busy client
    from stealing the server's CPU.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


# ------------------------------------------------------------------- server
def start_server(
    default_jvm: bool, max_buffer: int | None = None, heap_mb: int = 512
) -> tuple[Any, str]:
    """Start a throwaway server; returns it and a description of its JVM flags.

    By default the harness's fast-start flag ``-XX:TieredStopAtLevel=1``
    (C1-only JIT, right for tests) is dropped so the server runs with the full
    C2 JIT, as in production; ``--server-default-jvm`` keeps the harness flags.
    ``max_buffer`` sets the server's ``jute.maxbuffer`` (the scale suite's
    100,000 children do not fit the 1 MB default); ``heap_mb`` its heap.
    """
    from trio_zookeeper.testing import ZooKeeperInstallation, ZooKeeperServer

    cls: type[ZooKeeperServer] = ZooKeeperServer
    description = "trio_zookeeper.testing defaults"
    if hasattr(ZooKeeperServer, "_jvm_command") and (not default_jvm or max_buffer):
        extra = [f"-Djute.maxbuffer={max_buffer}"] if max_buffer else []

        class BenchServer(ZooKeeperServer):
            def _jvm_command(self, installation: ZooKeeperInstallation) -> list[str]:
                command: list[str] = super()._jvm_command(installation)
                if not default_jvm:
                    command = [a for a in command if a != "-XX:TieredStopAtLevel=1"]
                return command[:1] + extra + command[1:]

        cls = BenchServer
        if not default_jvm:
            description = "harness flags without -XX:TieredStopAtLevel=1 (full C2 JIT)"
        if max_buffer:
            description += f", -Djute.maxbuffer={max_buffer}"
    try:
        server = cls(heap_mb=heap_mb)
        description += f", -Xmx{heap_mb}m"
    except TypeError:  # a harness without heap_mb
        server = cls()
    server.start(timeout=90)
    return server, description


def layout(connect: str, watches: int) -> None:
    """Create /bench, the data node (100-byte payload) and the fan-out nodes."""
    raw_client.ensure_nodes(connect, ["/bench", NODE, CD_PREFIX, FAN_PREFIX])
    with raw_client.RawClient(connect) as c:
        c.call(raw_client.OP_SET_DATA, raw_client.set_data_body(NODE, payload(PAYLOAD_SIZE)))
    _create_many(connect, node_names(FAN_PREFIX, watches), b"x")


def _create_many(connect: str, paths: list[str], data: bytes) -> None:
    for i in range(0, len(paths), 1000):
        raw_client.ensure_nodes(connect, paths[i : i + 1000], data)


def tree_layout(plan: Plan) -> tuple[list[str], int]:
    """The TreeCache tree: parents of up to 1,000 leaves; (paths, node count under the root)."""
    parents = max(1, plan.tree_nodes // 1000)
    leaves = max(1, (plan.tree_nodes - parents) // parents)
    paths: list[str] = []
    for p in range(parents):
        parent = f"{TREE_ROOT}/p{p:03d}"
        paths.append(parent)
        paths.extend(f"{parent}/c{c:04d}" for c in range(leaves))
    return paths, len(paths)


def layout_extra(connect: str, plan: Plan, workloads: list[str]) -> None:
    """The nodes of the recipe and scale workloads that are selected."""
    raw_client.ensure_nodes(connect, [RECIPE_PREFIX])
    if "recipe_treecache" in workloads:
        raw_client.ensure_nodes(connect, [TREE_ROOT])
        _create_many(connect, tree_layout(plan)[0], payload(PAYLOAD_SIZE))
    if "scale_payload" in workloads:
        raw_client.ensure_nodes(connect, [BIG_NODE])
    if "scale_children" in workloads:
        raw_client.ensure_nodes(connect, [CHILDREN_PARENT])
        _create_many(connect, [f"{CHILDREN_PARENT}/c{i:06d}" for i in range(plan.children)], b"")


def warm_server(connect: str, ops: int, max_seconds: float) -> None:
    """Let the server's JIT compile its hot paths before anything is measured."""
    get = raw_client.get_data_body(NODE)
    put = raw_client.set_data_body(NODE, payload(PAYLOAD_SIZE))
    deadline = time.perf_counter() + max_seconds
    with raw_client.RawClient(connect) as c:
        c.pipeline((c.frame(raw_client.OP_GET_DATA, get) for _ in range(ops)), 1000, deadline)
        c.pipeline((c.frame(raw_client.OP_SET_DATA, put) for _ in range(ops // 2)), 1000, deadline)
        for _ in range(min(ops // 20, 5000)):
            c.call(raw_client.OP_GET_DATA, get)
            if time.perf_counter() > deadline:
                break


# ------------------------------------------------------------------ children
def make_spec(workload: str, client: str, plan: Plan, connect: str) -> Spec:
    spec: Spec = {
        "workload": workload,
        "client": client,
        "variant": CLIENT_MODULES[client][1],
        "connect": connect,
        "payload": PAYLOAD_SIZE,
        "node": NODE,
        "prefix": CD_PREFIX,
        "fan_prefix": FAN_PREFIX,
        "watches": plan.watches,
        "in_flight": plan.in_flight,
        "max_seconds": plan.max_seconds,
    }
    if workload.startswith("seq_"):
        spec["ops"], spec["warmup"] = plan.seq_ops, max(10, plan.seq_ops // 10)
    elif workload.startswith("pipe_"):
        spec["ops"], spec["warmup"] = plan.pipe_ops, min(plan.pipe_ops, 2 * plan.in_flight)
        spec["max_seconds"] = plan.max_seconds * 2
    elif workload == "connect_close":
        spec["ops"], spec["warmup"] = plan.connect_ops, 3
    elif workload == "watch_rtt":
        spec["ops"], spec["warmup"] = plan.rtt_ops, max(5, plan.rtt_ops // 20)
    elif workload == "watch_fanout":
        spec["ops"], spec["warmup"], spec["max_seconds"] = plan.watches, 0, 60.0
    elif workload == "codec":
        spec["ops"], spec["warmup"] = plan.codec_ops, max(100, plan.codec_ops // 20)
        spec["max_seconds"] = 30.0
    elif workload in RECIPE_WORKLOADS or workload in SCALE_WORKLOADS:
        _recipe_spec(spec, workload, plan)
    else:
        raise ValueError(f"unknown workload {workload!r}")
    return spec


def _recipe_spec(spec: Spec, workload: str, plan: Plan) -> None:
    tree_paths, tree_nodes = tree_layout(plan)
    spec["recipe_prefix"] = RECIPE_PREFIX
    spec["waiters"] = plan.waiters
    spec["clients"] = plan.counter_clients
    spec["rtt_ops"] = plan.rtt_ops // 5
    spec["tree_root"] = TREE_ROOT
    spec["tree_leaf"] = tree_paths[1] if len(tree_paths) > 1 else tree_paths[0]
    spec["tree_nodes"] = tree_nodes
    spec["scale_watches"] = plan.scale_watches
    spec["scale_sessions"] = plan.scale_sessions
    spec["big_node"] = BIG_NODE
    spec["big_payload"] = plan.big_payload
    spec["children_parent"] = CHILDREN_PARENT
    spec["children"] = plan.children
    spec["frame_limit"] = plan.frame_limit
    spec["ops"] = plan.recipe_ops
    spec["warmup"] = max(3, plan.recipe_ops // 20)
    spec["max_seconds"] = plan.max_seconds * 4
    if workload in ("recipe_lock_handoff", "recipe_election"):
        spec["ops"] = plan.handoffs
    elif workload == "recipe_treecache":
        spec["max_seconds"] = 60.0
    elif workload in ("scale_watches", "scale_sessions"):
        spec["max_seconds"] = 90.0
    elif workload == "scale_payload":
        spec["ops"] = plan.big_ops
    elif workload == "scale_children":
        spec["ops"] = plan.children_ops
        spec["max_seconds"] = 60.0


def run_child(workload: str, client: str, spec: Spec) -> dict[str, Any]:
    """Run one child; its JSON answer, or {"ok": False, "error": ...}."""
    script = "codec.py" if workload == "codec" else CLIENT_MODULES[client][0]
    if workload in RECIPE_WORKLOADS or workload in SCALE_WORKLOADS:
        script = RECIPE_SCRIPTS[client]
    env = dict(os.environ)
    first = str(BASELINE[0]) if client == "trio_base" and BASELINE else str(REPO)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (first, env.get("PYTHONPATH", "")) if p)
    # Bound: warm-up plus measurement are each bounded by max_seconds.
    timeout = 2 * spec["max_seconds"] + 60
    try:
        proc = subprocess.run(
            [sys.executable, str(BENCH / script), json.dumps(spec)],
            cwd=BENCH,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"child timed out after {timeout:.0f}s (killed)"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return {"ok": False, "error": f"exit {proc.returncode}, no JSON answer: {tail}"}
    answer: dict[str, Any] = json.loads(lines[-1])
    if not answer.get("ok"):
        tail = " | ".join(proc.stderr.strip().splitlines()[-2:])
        answer["error"] = f"{answer.get('error')} ({tail})" if tail else answer.get("error")
    return answer


# --------------------------------------------------------------------- meta
def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def make_meta(plan: Plan, server: Any, jvm: str, clients: list[str]) -> dict[str, Any]:
    try:
        zk_version = server.srvr().get("Zookeeper version", "?").split(",")[0].split("-")[0]
    except Exception:  # the harness API may differ; the version is informative only
        zk_version = "?"
    commit = _git("rev-parse", "--short", "HEAD")
    if commit and _git("status", "--porcelain"):
        commit += " (with uncommitted changes)"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "type": "meta",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": plan.mode,
        "rounds": plan.rounds,
        "plan": asdict(plan),
        "clients": clients,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs ({_cpu_model()}), "
        f"load average {load:.2f} at start",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "zookeeper": f"{zk_version}, standalone, loopback",
        "server_jvm": jvm,
        "versions": ", ".join(
            f"{d} {_version(d)}" for d in ("trio-zookeeper", "trio", "kazoo", "aiozk")
        ),
        "commit": commit,
        "sizes": (
            f"sequential {plan.seq_ops} ops, pipelined {plan.pipe_ops} ops "
            f"({plan.in_flight} in flight), connect+close {plan.connect_ops}, "
            f"watch round trips {plan.rtt_ops}, watches {plan.watches:,}, "
            f"codec {plan.codec_ops:,} ops; recipes {plan.recipe_ops:,} ops, "
            f"{plan.handoffs} handoffs with {plan.waiters} waiters, counter {plan.counter_clients} "
            f"clients, TreeCache {plan.tree_nodes:,} nodes; scale {plan.scale_watches:,} "
            f"watches, {plan.scale_sessions:,} sessions, {plan.big_payload:,}-byte payload, "
            f"{plan.children:,} children; every loop also capped in time"
        ),
        "notes": NOTES,
    }


# ---------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="trio_zookeeper benchmark suite (issue 7)")
    parser.add_argument("--quick", action="store_true", help="fewer operations, 3 rounds")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 7, quick 3)")
    parser.add_argument("--clients", help="comma-separated subset of: " + ",".join(CLIENT_MODULES))
    parser.add_argument(
        "--suite",
        choices=sorted(SUITES),
        default="core",
        help="which workloads (default core); --workloads picks any subset instead",
    )
    parser.add_argument("--workloads", help="comma-separated subset of: " + ",".join(WORKLOADS))
    parser.add_argument("--ops", type=int, help="scale every workload to this op count (smoke)")
    parser.add_argument("--watches", type=int, help="watches for fan-out and memory")
    parser.add_argument("--tree-nodes", type=int, help="nodes of the TreeCache workload")
    parser.add_argument(
        "--docs-dir",
        type=pathlib.Path,
        help=f"copy results.md/png here (default for full runs: {DOCS_DIR})",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not copy to the docs")
    parser.add_argument(
        "--baseline",
        type=pathlib.Path,
        help="a source tree of another trio_zookeeper version (e.g. `git archive` of a "
        "commit): adds the client trio_base, run interleaved with the others, for a "
        "before/after table in one run",
    )
    parser.add_argument(
        "--server-default-jvm",
        action="store_true",
        help="keep the harness's C1-only JVM flags instead of the full JIT",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the server and the clients to separate CPUs",
    )
    parser.add_argument(
        "--profile",
        type=pathlib.Path,
        help="write a cProfile of every trio_zookeeper child into this directory "
        "(read with: python -m pstats FILE, or pstats.Stats(FILE).sort_stats('tottime'))",
    )
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    if args.rounds is not None:
        if args.rounds < 1:
            raise SystemExit("--rounds must be at least 1")
        plan = replace(plan, rounds=args.rounds)
    if args.ops is not None:
        n = max(1, args.ops)
        plan = replace(
            plan,
            seq_ops=n,
            pipe_ops=4 * n,
            connect_ops=max(3, n // 10),
            rtt_ops=n,
            codec_ops=20 * n,
            server_warmup_ops=10 * n,
            recipe_ops=n,
            handoffs=max(3, n // 5),
            waiters=min(plan.waiters, max(2, n // 10)),
            counter_clients=min(plan.counter_clients, max(2, n // 10)),
            tree_nodes=10 * n,
            scale_watches=10 * n,
            scale_sessions=max(3, n // 3),
            big_payload=min(plan.big_payload, 1000 * n),
            big_ops=max(2, n // 10),
            children=10 * n,
            children_ops=2,
        )
    if args.watches is not None:
        plan = replace(plan, watches=max(1, args.watches))
    if args.tree_nodes is not None:
        plan = replace(plan, tree_nodes=max(2, args.tree_nodes))
    return plan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    if args.baseline is not None:
        if not (args.baseline / "trio_zookeeper" / "__init__.py").exists():
            raise SystemExit(f"--baseline {args.baseline} has no trio_zookeeper package")
        BASELINE.append(args.baseline.resolve())
        for name, runners in WORKLOADS.items():
            if "trio" in runners and "trio_base" not in runners:
                at = runners.index("trio") + 1
                WORKLOADS[name] = (*runners[:at], "trio_base", *runners[at:])
    default_clients = [c for c in CLIENT_MODULES if c != "trio_base" or BASELINE]
    clients = default_clients if not args.clients else args.clients.split(",")
    workloads = list(SUITES[args.suite]) if not args.workloads else args.workloads.split(",")
    for c in clients:
        if c not in CLIENT_MODULES:
            raise SystemExit(f"unknown client {c!r}; choose from {', '.join(CLIENT_MODULES)}")
    for w in workloads:
        if w not in WORKLOADS:
            raise SystemExit(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    if plan.rounds < 3:
        _log(f"warning: {plan.rounds} round(s); the issue asks for at least 3")
    out: pathlib.Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    hard_stop = started + plan.max_minutes * 60
    _log(f"starting ZooKeeper ({plan.mode} mode, {plan.rounds} rounds)")
    split = None if args.no_pin else cpu_split()
    if split is not None:
        # The JVM inherits the affinity of the process that starts it; children
        # started afterwards inherit the clients' CPUs.
        os.sched_setaffinity(0, split[0])
    max_buffer = plan.frame_limit if "scale_children" in workloads else None
    # The scale suite's 1 MB values: the server keeps its last 500
    # transactions in memory (zookeeper.commitLogCount, for followers to catch
    # up from; it refuses less), 500 MB of them, which overflowed a 512 MiB
    # heap from the third round on (the server died of it).
    heap_mb = 2048 if "scale_payload" in workloads else 512
    server, jvm = start_server(args.server_default_jvm, max_buffer, heap_mb)
    if split is not None:
        os.sched_setaffinity(0, split[1])
        jvm += (
            f"; pinned to CPU {','.join(map(str, sorted(split[0])))}, every client process "
            f"to CPU {','.join(map(str, sorted(split[1])))}"
        )
    else:
        jvm += "; not pinned"
    samples: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    meta: dict[str, Any] = {"type": "meta", "mode": plan.mode, "rounds": plan.rounds}
    try:
        connect = server.connect_string
        _log(f"server {connect}; laying out nodes and warming it up")
        layout(connect, plan.watches)
        if any(w in RECIPE_WORKLOADS or w in SCALE_WORKLOADS for w in workloads):
            layout_extra(connect, plan, workloads)
        warm_server(connect, plan.server_warmup_ops, 30.0)
        meta = make_meta(plan, server, jvm, clients)
        for rnd in range(1, plan.rounds + 1):
            for workload in workloads:
                order = [c for c in WORKLOADS[workload] if c in clients]
                if not order:
                    continue
                shift = (rnd - 1) % len(order)
                order = order[shift:] + order[:shift]
                for position, client in enumerate(order):
                    if time.monotonic() > hard_stop:
                        raise TimeoutError(f"the run exceeded {plan.max_minutes} minutes")
                    spec = make_spec(workload, client, plan, connect)
                    if args.profile and client.startswith("trio"):
                        spec["profile"] = str(args.profile / f"{workload}-{client}-r{rnd}.prof")
                    answer = run_child(workload, client, spec)
                    base = {"round": rnd, "position": position, "workload": workload}
                    base["client"] = client
                    if not answer.get("ok"):
                        errors.append({"type": "error", **base, "error": answer.get("error")})
                        _log(f"round {rnd} {workload} {client}: FAILED {answer.get('error')}")
                        continue
                    units: dict[str, str] = answer.get("units", {})
                    for metric, value in answer["metrics"].items():
                        samples.append(
                            {
                                "type": "sample",
                                **base,
                                "metric": metric,
                                "value": value,
                                "unit": units.get(metric, ""),
                            }
                        )
                    shown = {k: round(v, 1) for k, v in answer["metrics"].items() if k != "ops"}
                    _log(f"round {rnd} {workload} {client}: {shown}")
    except TimeoutError as exc:
        errors.append({"type": "error", "workload": None, "client": None, "error": str(exc)})
        _log(str(exc))
    finally:
        server.close()
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    summary, targets = report.write_reports(out, samples, errors, meta)
    with (out / "results.jsonl").open("w") as f:
        f.write(json.dumps(meta) + "\n")
        for line in [*samples, *errors]:
            f.write(json.dumps(line) + "\n")
        for (workload, client, metric), stat in sorted(summary.items()):
            f.write(
                json.dumps(
                    {
                        "type": "summary",
                        "workload": workload,
                        "client": client,
                        "metric": metric,
                        "unit": stat.unit,
                        "median": stat.median,
                        "min": stat.low,
                        "max": stat.high,
                        "n": stat.n,
                    }
                )
                + "\n"
            )
        for t in targets:
            f.write(json.dumps(t.to_json()) + "\n")
    docs_dir = args.docs_dir
    if docs_dir is None and not args.quick and out.resolve() == DEFAULT_OUT:
        docs_dir = DOCS_DIR
    if docs_dir is not None and not args.no_docs:
        docs_dir.mkdir(parents=True, exist_ok=True)
        # A run with core workloads is results.md; recipes and scale alone get their own.
        stem = "results" if set(workloads) & set(SUITES["core"]) else "results-recipes-scale"
        shutil.copy2(out / "results.md", docs_dir / f"{stem}.md")
        if (out / "results.png").exists():
            shutil.copy2(out / "results.png", docs_dir / f"{stem}.png")
        _log(f"copied the table and the plot to {docs_dir}")
    for t in targets:
        state = {True: "met", False: "NOT met", None: "n/a"}[t.met]
        ratio_text = "n/a" if t.ratio is None else f"{t.ratio:.2f}"
        _log(f"target {t.description}: {ratio_text} -> {state}")
    _log(f"done in {meta['elapsed_s']}s: {out / 'results.md'}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
