"""What every benchmark child process shares: its JSON protocol, timers and statistics.

A child is started by ``run.py`` as ``python bench/<module>.py '<spec json>'``.
It runs exactly one workload with one client and prints exactly one JSON line
on stdout, ``{"ok": true, "metrics": {...}, "units": {...}}`` or
``{"ok": false, "error": "..."}``; anything else it says goes to stderr. One
process per (client, workload, round) means ``getrusage(RUSAGE_SELF)`` and the
peak RSS describe that client alone (the ZooKeeper JVM is another process).

Every loop is bounded twice: by its operation count and by ``max_seconds``.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import math
import resource
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypedDict

#: The node payload of the data workloads (the issue's 100 bytes).
PAYLOAD_SIZE = 100
#: How often (in operations) a loop looks at the clock to honour max_seconds.
CLOCK_EVERY = 32
#: Untimed set+get pairs before a payload run (its first pairs are slower).
PAYLOAD_WARMUP = 3


class Spec(TypedDict, total=False):
    """What the orchestrator asks a child to do (all fields set by run.py)."""

    workload: str
    client: str
    variant: str
    connect: str
    ops: int
    warmup: int
    max_seconds: float
    in_flight: int
    payload: int
    node: str
    prefix: str
    fan_prefix: str
    watches: int
    profile: str
    # The recipe and scale workloads (recipes_trio.py, recipes_kazoo.py):
    recipe_prefix: str
    waiters: int
    clients: int
    rtt_ops: int
    tree_root: str
    tree_leaf: str
    tree_nodes: int
    scale_watches: int
    scale_sessions: int
    big_node: str
    big_payload: int
    children_parent: str
    children: int
    frame_limit: int


class Result:
    """Metrics of one workload run, printed as the child's single JSON line."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.units: dict[str, str] = {}
        self.notes: list[str] = []

    def add(self, name: str, value: float, unit: str) -> None:
        self.metrics[name] = float(value)
        self.units[name] = unit

    def to_json(self) -> dict[str, Any]:
        return {"ok": True, "metrics": self.metrics, "units": self.units, "notes": self.notes}


def payload(size: int) -> bytes:
    """A deterministic payload of ``size`` bytes."""
    return bytes((i * 7 + 13) % 251 for i in range(size))


def cpu_seconds() -> float:
    """User + system CPU time of this whole process (every thread)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def peak_rss_kib() -> float:
    """This process's peak resident set size so far, in KiB.

    Read from ``VmHWM`` in ``/proc/self/status``: ``ru_maxrss`` is not usable
    in a child, because Linux carries the parent's peak across ``vfork`` +
    ``exec`` (which ``subprocess`` uses) into the child's ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def reset_peak_rss() -> None:
    """Start :func:`peak_rss_kib` over from the current RSS (Linux ``clear_refs``; else a no-op)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def rss_now_kib() -> float:
    """This process's current resident set size, in KiB (``VmRSS``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    return float("nan")


def settled_rss_kib() -> float:
    """The current RSS after a full garbage collection and ``malloc_trim``, in KiB.

    What live objects keep resident (with the free space the allocators
    cannot give back among them), as opposed to :func:`peak_rss_kib`, which
    also counts what was only alive for a while (requests in flight, their
    tasks and frames). Without the trim, glibc keeps freed pages resident
    and the figure would equal the peak.

    The trim hands pages back without the kernel recording the RSS in its
    high-water mark first, so ``VmHWM`` could then lose a peak reached
    before: the peak is restarted from here (:func:`reset_peak_rss`), and a
    caller takes the larger of the peaks before and after.
    """
    gc.collect()
    _malloc_trim()
    rss = rss_now_kib()
    reset_peak_rss()
    return rss


def _malloc_trim() -> None:
    """Give glibc's free heap pages back to the system (elsewhere, a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Meter:
    """Wall clock and CPU time across one measured loop."""

    def __init__(self) -> None:
        self.wall0 = time.perf_counter()
        self.cpu0 = cpu_seconds()
        self.wall = 0.0
        self.cpu = 0.0

    def stop(self) -> Meter:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = cpu_seconds() - self.cpu0
        return self


def throughput(result: Result, meter: Meter, ops: int, *, prefix: str = "") -> None:
    """Record ops/s and client CPU per operation from a stopped meter."""
    if ops <= 0 or meter.wall <= 0:
        raise RuntimeError(f"no operation completed in {meter.wall:.3f}s")
    result.add(prefix + "ops", ops, "ops")
    result.add(prefix + "ops_per_s", ops / meter.wall, "ops/s")
    result.add(prefix + "cpu_us_per_op", meter.cpu / ops * 1e6, "us")


def latencies(result: Result, samples_s: Sequence[float], *, prefix: str = "") -> None:
    """Record p50/p99 (and mean) of per-operation latencies given in seconds."""
    if not samples_s:
        raise RuntimeError("no latency sample")
    us = [s * 1e6 for s in samples_s]
    result.add(prefix + "p50_us", percentile(us, 50), "us")
    result.add(prefix + "p99_us", percentile(us, 99), "us")
    result.add(prefix + "mean_us", sum(us) / len(us), "us")


def payload_rates(result: Result, meter: Meter, pairs_s: Sequence[float], size: int) -> None:
    """Record a payload run: ops/s and CPU per pair, and MB/s at the median pair.

    MB/s is both ways (a set and a get of ``size`` bytes each) over the
    median pair's time, not the loop's: the server's garbage collector
    stalls now and then, for whichever client runs then (with 1 MB values
    it collects often; a stall can double a short run's total time).
    """
    throughput(result, meter, len(pairs_s))
    latencies(result, pairs_s)
    result.add("mb_per_s", 2 * size / percentile(list(pairs_s), 50) / 1e6, "MB/s")


def deadline_after(seconds: float) -> float:
    """A perf_counter deadline."""
    return time.perf_counter() + seconds


def timed_ops(
    spec: Spec, op: Callable[[int], object], *, check_every: int = 1
) -> tuple[list[float], Meter]:
    """Run ``op(i)`` for i in range(spec["ops"]), bounded by spec["max_seconds"].

    The clock is looked at every ``check_every`` operations. Returns the
    latency of each operation (seconds) and the stopped meter of the loop.
    """
    clock = time.perf_counter
    samples: list[float] = []
    meter = Meter()
    deadline = deadline_after(spec["max_seconds"])
    for i in range(spec["ops"]):
        t0 = clock()
        op(i)
        samples.append(clock() - t0)
        if i % check_every == 0 and clock() > deadline:
            break
    return samples, meter.stop()


async def atimed_ops(
    spec: Spec, op: Callable[[int], Awaitable[object]], *, check_every: int = 1
) -> tuple[list[float], Meter]:
    """:func:`timed_ops` for a coroutine ``op`` (any event loop: it only awaits)."""
    clock = time.perf_counter
    samples: list[float] = []
    meter = Meter()
    deadline = deadline_after(spec["max_seconds"])
    for i in range(spec["ops"]):
        t0 = clock()
        await op(i)
        samples.append(clock() - t0)
        if i % check_every == 0 and clock() > deadline:
            break
    return samples, meter.stop()


def record_ops(result: Result, samples: Sequence[float], meter: Meter) -> Result:
    """Record throughput, CPU per operation and latencies of a timed loop."""
    throughput(result, meter, len(samples))
    latencies(result, samples)
    return result


def node_names(prefix: str, count: int) -> list[str]:
    """The fan-out nodes: ``prefix/n00000`` ... (created by run.py)."""
    return [f"{prefix}/n{i:05d}" for i in range(count)]


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


Workload = Callable[[Spec], Result]


def child_main(workloads: Mapping[str, Workload], argv: Sequence[str] | None = None) -> int:
    """Entry point of a child: run the workload named in the spec, print one JSON line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: <module>.py '<spec json>'\n")
        return 2
    spec: Spec = json.loads(args[0])
    name = spec.get("workload", "")
    fn = workloads.get(name)
    if fn is None:
        emit({"ok": False, "error": f"unknown workload {name!r}; have {sorted(workloads)}"})
        return 2
    try:
        profile_path = spec.get("profile")
        if profile_path:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(fn, spec)
            profiler.dump_stats(profile_path)
        else:
            result = fn(spec)
    except BaseException as exc:  # report anything, including KeyboardInterrupt
        traceback.print_exc(file=sys.stderr)
        emit({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    emit(result.to_json())
    return 0
