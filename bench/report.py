"""Statistics, targets, the Markdown table and the plot of a benchmark run.

``run.py`` calls :func:`write_reports`; ``python bench/report.py results.jsonl
[--out DIR]`` re-renders the table and plot from a saved run.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Display names, in table/plot column order.
CLIENT_NAMES: dict[str, str] = {
    "trio": "trio_zookeeper",
    "trio_base": "trio_zookeeper (baseline)",
    "trio_watch": "trio_zookeeper (zk.watch())",
    "kazoo": "kazoo (sync)",
    "kazoo_async": "kazoo (async)",
    "aiozk": "aiozk",
    "raw": "raw socket",
    "trio_loop": "one-task trio loop (fd)",
    "trio_stream": "one-task trio loop (SocketStream)",
    "curator": "Apache Curator (Java)",
}

#: Workloads in table order, with a human label.
WORKLOAD_LABELS: dict[str, str] = {
    "seq_get_data": "sequential get_data",
    "seq_exists": "sequential exists",
    "seq_set_data": "sequential set_data",
    "seq_create_delete": "sequential create+delete (pair)",
    "pipe_get_data": "pipelined get_data (1,000 in flight)",
    "pipe_set_data": "pipelined set_data (1,000 in flight)",
    "connect_close": "connect + close",
    "watch_rtt": "watch round trip",
    "watch_fanout": "watch fan-out",
    "codec": "protocol encode+decode (GetData, no I/O)",
    "recipe_lock": "Lock acquire+release, uncontended",
    "recipe_lock_handoff": "Lock handoff, 10 waiters",
    "recipe_election": "Election failover, 10 waiting",
    "recipe_queue": "Queue put+get",
    "recipe_counter": "Counter +1, 10 clients contending",
    "recipe_treecache": "TreeCache (see sizes)",
    "scale_watches": "watches on one session (see sizes)",
    "scale_sessions": "sessions from one process (see sizes)",
    "scale_payload": "1 MB set_data+get_data",
    "scale_children": "get_children of a large node (see sizes)",
}

#: Metrics shown per workload: (metric, label, True if higher is better).
METRICS: dict[str, list[tuple[str, str, bool]]] = {
    **{
        w: [
            ("ops_per_s", "ops/s", True),
            ("p50_us", "p50 µs", False),
            ("p99_us", "p99 µs", False),
            ("cpu_us_per_op", "client CPU µs/op", False),
        ]
        for w in ("seq_get_data", "seq_exists", "seq_set_data", "seq_create_delete")
    },
    **{
        w: [("ops_per_s", "ops/s", True), ("cpu_us_per_op", "client CPU µs/op", False)]
        for w in ("pipe_get_data", "pipe_set_data")
    },
    "connect_close": [
        ("p50_us", "p50 µs", False),
        ("p99_us", "p99 µs", False),
        ("cpu_us_per_op", "client CPU µs/op", False),
    ],
    "watch_rtt": [("p50_us", "p50 µs", False), ("p99_us", "p99 µs", False)],
    "watch_fanout": [
        ("fanout_ms", "all events delivered, ms", False),
        ("events_per_s", "events/s", True),
        ("register_s", "registering the watches, s", False),
        ("rss_one_conn_kib", "peak RSS, one connection, KiB", False),
        ("rss_watches_kib", "peak RSS with the watches, KiB", False),
        ("watch_rss_delta_kib", "peak RSS added while registering the watches, KiB", False),
        ("watch_rss_kept_kib", "RSS the registered watches keep (after gc), KiB", False),
    ],
    "codec": [("ns_per_op", "ns/op", False)],
    "recipe_lock": [
        ("ops_per_s", "ops/s", True),
        ("p50_us", "p50 µs", False),
        ("p99_us", "p99 µs", False),
        ("cpu_us_per_op", "client CPU µs/op", False),
    ],
    "recipe_lock_handoff": [("p50_us", "p50 µs", False), ("p99_us", "p99 µs", False)],
    "recipe_election": [("p50_us", "p50 µs", False), ("p99_us", "p99 µs", False)],
    "recipe_queue": [("ops_per_s", "ops/s", True), ("cpu_us_per_op", "client CPU µs/op", False)],
    "recipe_counter": [
        ("ops_per_s", "increments/s", True),
        ("cpu_us_per_op", "client CPU µs/op", False),
    ],
    "recipe_treecache": [
        ("load_s", "initial load, s", False),
        ("rss_per_node_b", "RSS per cached node, bytes", False),
        ("event_p50_us", "change event p50 µs", False),
        ("event_p99_us", "change event p99 µs", False),
        ("peak_rss_kib", "peak RSS, KiB", False),
    ],
    "scale_watches": [
        ("register_s", "registering, s", False),
        ("rss_per_watch_b", "RSS per watch, bytes", False),
        ("reconnect_s", "connection drop to reconnected, s", False),
        ("rewatch_s", "reconnected to every watch set again, s", False),
        ("rewatch_rss_kib", "peak RSS added by re-registering, KiB", False),
    ],
    "scale_sessions": [
        ("connect_all_s", "connecting all, s", False),
        ("rss_per_session_kib", "RSS per session, KiB", False),
        ("close_all_s", "closing all, s", False),
    ],
    "scale_payload": [("mb_per_s", "MB/s", True), ("cpu_us_per_op", "client CPU µs/pair", False)],
    "scale_children": [("p50_us", "p50 µs", False), ("peak_rss_kib", "peak RSS, KiB", False)],
}

#: Ratio columns: trio_zookeeper ÷ each of these.
RATIO_AGAINST = (
    "trio_base",
    "kazoo",
    "kazoo_async",
    "aiozk",
    "raw",
    "trio_loop",
    "trio_stream",
    "curator",
)


@dataclass(frozen=True)
class Stat:
    """One (workload, client, metric) over the rounds."""

    median: float
    low: float
    high: float
    n: int
    unit: str


Key = tuple[str, str, str]  # workload, client, metric


def summarize(samples: Iterable[Mapping[str, Any]]) -> dict[Key, Stat]:
    """Median, min and max over rounds of every sample line."""
    values: dict[Key, list[float]] = {}
    units: dict[Key, str] = {}
    for s in samples:
        key = (s["workload"], s["client"], s["metric"])
        values.setdefault(key, []).append(float(s["value"]))
        units[key] = s.get("unit", "")
    return {
        key: Stat(statistics.median(v), min(v), max(v), len(v), units[key])
        for key, v in values.items()
    }


@dataclass(frozen=True)
class Target:
    """One performance target of the issue and whether this run met it."""

    name: str
    description: str
    ratio: float | None  # trio ÷ reference (NaN/None if missing)
    limit: float
    higher_is_better: bool

    @property
    def met(self) -> bool | None:
        if self.ratio is None or math.isnan(self.ratio):
            return None
        return self.ratio >= self.limit if self.higher_is_better else self.ratio <= self.limit

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "target",
            "name": self.name,
            "description": self.description,
            "ratio": self.ratio,
            "limit": self.limit,
            "comparison": ">=" if self.higher_is_better else "<=",
            "met": self.met,
        }


def ratio(summary: Mapping[Key, Stat], workload: str, metric: str, other: str) -> float | None:
    a = summary.get((workload, "trio", metric))
    b = summary.get((workload, other, metric))
    if a is None or b is None or b.median == 0:
        return None
    return a.median / b.median


TARGET_SPECS: list[tuple[str, str, str, str, str, float, bool]] = [
    # name, description, workload, metric, reference client, limit, higher is better
    (
        "pipe_get_data",
        "pipelined get_data ops/s ≥ 0.9 x raw",
        "pipe_get_data",
        "ops_per_s",
        "raw",
        0.9,
        True,
    ),
    (
        "pipe_set_data",
        "pipelined set_data ops/s ≥ 0.9 x raw",
        "pipe_set_data",
        "ops_per_s",
        "raw",
        0.9,
        True,
    ),
    (
        "seq_get_data_p50",
        "sequential get_data p50 ≤ 1.3 x raw",
        "seq_get_data",
        "p50_us",
        "raw",
        1.3,
        False,
    ),
    (
        "seq_get_data_cpu",
        "client CPU per sequential get_data ≤ 0.4 x kazoo (sync)",
        "seq_get_data",
        "cpu_us_per_op",
        "kazoo",
        0.4,
        False,
    ),
    (
        "watch_rtt",
        "watch round trip p50 no slower than kazoo",
        "watch_rtt",
        "p50_us",
        "kazoo",
        1.0,
        False,
    ),
    (
        "connect_close",
        "connect+close p50 no slower than kazoo",
        "connect_close",
        "p50_us",
        "kazoo",
        1.0,
        False,
    ),
    (
        "watch_rss",
        "peak RSS added while registering the watches ≤ kazoo's",
        "watch_fanout",
        "watch_rss_delta_kib",
        "kazoo",
        1.0,
        False,
    ),
    (
        "watch_rss_kept",
        "RSS the registered watches keep (after gc) ≤ kazoo's",
        "watch_fanout",
        "watch_rss_kept_kib",
        "kazoo",
        1.0,
        False,
    ),
    # Issue 17: every recipe at least 2x kazoo's throughput or at most half its latency,
    # and TreeCache's memory per node no more than kazoo's.
    (
        "recipe_lock",
        "Lock acquire+release ops/s ≥ 2 x kazoo",
        "recipe_lock",
        "ops_per_s",
        "kazoo",
        2.0,
        True,
    ),
    (
        "recipe_lock_handoff",
        "Lock handoff p50 ≤ 0.5 x kazoo",
        "recipe_lock_handoff",
        "p50_us",
        "kazoo",
        0.5,
        False,
    ),
    (
        "recipe_election",
        "Election failover p50 ≤ 0.5 x kazoo",
        "recipe_election",
        "p50_us",
        "kazoo",
        0.5,
        False,
    ),
    (
        "recipe_queue",
        "Queue put+get ops/s ≥ 2 x kazoo",
        "recipe_queue",
        "ops_per_s",
        "kazoo",
        2.0,
        True,
    ),
    (
        "recipe_counter",
        "Counter increments/s ≥ 2 x kazoo",
        "recipe_counter",
        "ops_per_s",
        "kazoo",
        2.0,
        True,
    ),
    (
        "recipe_treecache_load",
        "TreeCache initial load ≤ 0.5 x kazoo",
        "recipe_treecache",
        "load_s",
        "kazoo",
        0.5,
        False,
    ),
    (
        "recipe_treecache_rss",
        "TreeCache RSS per node ≤ kazoo's",
        "recipe_treecache",
        "rss_per_node_b",
        "kazoo",
        1.0,
        False,
    ),
]


def evaluate_targets(summary: Mapping[Key, Stat]) -> list[Target]:
    """The targets of the workloads that ran (a suite's table shows only its own)."""
    ran = {workload for workload, _, _ in summary}
    return [
        Target(name, desc, ratio(summary, w, m, ref), limit, higher)
        for name, desc, w, m, ref, limit, higher in TARGET_SPECS
        if w in ran
    ]


def fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(stat: Stat | None) -> str:
    if stat is None:
        return "—"
    if stat.n == 1:
        return fmt(stat.median)
    return f"{fmt(stat.median)} [{fmt(stat.low)} .. {fmt(stat.high)}]"


def _ratio_cell(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}x"


def clients_present(summary: Mapping[Key, Stat]) -> list[str]:
    present = {client for _, client, _ in summary}
    return [c for c in CLIENT_NAMES if c in present]


def render_markdown(
    summary: Mapping[Key, Stat],
    targets: Sequence[Target],
    meta: Mapping[str, Any],
    errors: Sequence[Mapping[str, Any]] = (),
) -> str:
    clients = clients_present(summary)
    ratio_refs = [c for c in RATIO_AGAINST if c in clients]
    lines: list[str] = []
    lines.append("# trio_zookeeper benchmark")
    lines.append("")
    lines.append(
        f"Mode **{meta.get('mode', '?')}**, {meta.get('rounds', '?')} interleaved rounds "
        f"(A B A B …): each cell is the **median** over rounds, **[min .. max]** in brackets. "
        f"Ratios are trio_zookeeper ÷ the other client's median (for rows marked ↑ "
        f"higher is better, for ↓ lower is better)."
    )
    lines.append("")
    env = [
        ("date", meta.get("date")),
        ("machine", meta.get("machine")),
        ("python", meta.get("python")),
        ("ZooKeeper", meta.get("zookeeper")),
        ("server JVM", meta.get("server_jvm")),
        ("versions", meta.get("versions")),
        ("commit", meta.get("commit")),
        ("workload sizes", meta.get("sizes")),
    ]
    for name, value in env:
        if value:
            lines.append(f"- {name}: {value}")
    lines.append("")
    lines.append("## Targets (reported, never enforced)")
    lines.append("")
    lines.append("| target | ratio | limit | met |")
    lines.append("| --- | --- | --- | --- |")
    for t in targets:
        met = {True: "yes", False: "**no**", None: "n/a"}[t.met]
        comparison = "≥" if t.higher_is_better else "≤"
        lines.append(
            f"| {t.description} | {_ratio_cell(t.ratio)} | {comparison} {t.limit:g} | {met} |"
        )
    lines.append("")
    lines.append("## Results")
    lines.append("")
    header = ["workload", "metric", *(CLIENT_NAMES[c] for c in clients)]
    header += [f"trio ÷ {CLIENT_NAMES[c]}" for c in ratio_refs]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + " --- |" * len(header))
    for workload, metrics in METRICS.items():
        if not any((workload, c, m) in summary for c in clients for m, _, _ in metrics):
            continue
        for metric, label, higher in metrics:
            if not any((workload, c, metric) in summary for c in clients):
                continue
            row = [WORKLOAD_LABELS[workload], f"{label} {'↑' if higher else '↓'}"]
            row += [_cell(summary.get((workload, c, metric))) for c in clients]
            row += [_ratio_cell(ratio(summary, workload, metric, c)) for c in ratio_refs]
            lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("## How each client is driven")
    lines.append("")
    lines.extend(f"- {note}" for note in meta.get("notes", ()))
    if errors:
        lines.append("")
        lines.append("## Failed measurements")
        lines.append("")
        for e in errors:
            lines.append(
                f"- round {e.get('round')}, {e.get('workload')}, "
                f"{CLIENT_NAMES.get(str(e.get('client')), e.get('client'))}: {e.get('error')}"
            )
    lines.append("")
    return "\n".join(lines)


PLOTS: list[tuple[str, list[tuple[str, str]], str]] = [
    # title, [(workload, metric)], y label
    (
        "Sequential throughput",
        [
            ("seq_get_data", "ops_per_s"),
            ("seq_exists", "ops_per_s"),
            ("seq_set_data", "ops_per_s"),
            ("seq_create_delete", "ops_per_s"),
        ],
        "ops/s (higher is better)",
    ),
    (
        "Sequential latency p50",
        [
            ("seq_get_data", "p50_us"),
            ("seq_exists", "p50_us"),
            ("seq_set_data", "p50_us"),
            ("seq_create_delete", "p50_us"),
        ],
        "µs (lower is better)",
    ),
    (
        "Sequential latency p99",
        [
            ("seq_get_data", "p99_us"),
            ("seq_exists", "p99_us"),
            ("seq_set_data", "p99_us"),
            ("seq_create_delete", "p99_us"),
        ],
        "µs (lower is better)",
    ),
    (
        "Pipelined throughput (1,000 in flight)",
        [("pipe_get_data", "ops_per_s"), ("pipe_set_data", "ops_per_s")],
        "ops/s (higher is better)",
    ),
    (
        "Client CPU per operation",
        [
            ("seq_get_data", "cpu_us_per_op"),
            ("seq_set_data", "cpu_us_per_op"),
            ("pipe_get_data", "cpu_us_per_op"),
            ("pipe_set_data", "cpu_us_per_op"),
        ],
        "CPU µs/op (lower is better)",
    ),
    (
        "Connect+close and watch round trip (p50)",
        [("connect_close", "p50_us"), ("watch_rtt", "p50_us")],
        "µs (lower is better)",
    ),
    (
        "Watch fan-out: time until every event arrived",
        [("watch_fanout", "fanout_ms")],
        "ms (lower is better)",
    ),
    (
        "Memory (RSS)",
        [
            ("watch_fanout", "rss_one_conn_kib"),
            ("watch_fanout", "rss_watches_kib"),
            ("watch_fanout", "watch_rss_delta_kib"),
            ("watch_fanout", "watch_rss_kept_kib"),
        ],
        "KiB (lower is better)",
    ),
    ("Protocol encode+decode (GetData)", [("codec", "ns_per_op")], "ns/op (lower is better)"),
    (
        "Recipe throughput",
        [
            ("recipe_lock", "ops_per_s"),
            ("recipe_queue", "ops_per_s"),
            ("recipe_counter", "ops_per_s"),
        ],
        "ops/s (higher is better)",
    ),
    (
        "Recipe latency p50",
        [
            ("recipe_lock", "p50_us"),
            ("recipe_lock_handoff", "p50_us"),
            ("recipe_election", "p50_us"),
            ("recipe_treecache", "event_p50_us"),
        ],
        "µs (lower is better)",
    ),
    (
        "TreeCache memory",
        [("recipe_treecache", "rss_per_node_b")],
        "bytes per node (lower is better)",
    ),
    (
        "Scale: time",
        [
            ("scale_watches", "register_s"),
            ("scale_watches", "rewatch_s"),
            ("scale_sessions", "connect_all_s"),
            ("recipe_treecache", "load_s"),
        ],
        "s (lower is better)",
    ),
    (
        "Scale: memory",
        [("scale_watches", "rss_per_watch_b")],
        "bytes per watch (lower is better)",
    ),
]

_SHORT = {
    "seq_get_data": "get_data",
    "seq_exists": "exists",
    "seq_set_data": "set_data",
    "seq_create_delete": "create+delete",
    "pipe_get_data": "get_data (pipelined)",
    "pipe_set_data": "set_data (pipelined)",
    "connect_close": "connect+close",
    "watch_rtt": "watch RTT",
    "watch_fanout": "fan-out",
    "codec": "GetData request + reply",
    "recipe_lock": "lock",
    "recipe_lock_handoff": "lock handoff",
    "recipe_election": "election failover",
    "recipe_queue": "queue put+get",
    "recipe_counter": "counter, 10 clients",
    "recipe_treecache": "TreeCache",
    "scale_watches": "watches",
    "scale_sessions": "sessions",
    "scale_payload": "1 MB payload",
    "scale_children": "100,000 children",
}
_METRIC_SHORT = {
    "rss_one_conn_kib": "one connection",
    "rss_watches_kib": "with watches",
    "watch_rss_delta_kib": "added while registering",
    "watch_rss_kept_kib": "kept by watches",
    "event_p50_us": "TreeCache event",
    "load_s": "TreeCache load",
    "rewatch_s": "watches re-set",
}


def plot(summary: Mapping[Key, Stat], path: pathlib.Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    clients = clients_present(summary)
    panels = [p for p in PLOTS if any((w, c, m) in summary for w, m in p[1] for c in clients)]
    cols = 3
    rows = max(1, math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.2 * rows), squeeze=False)
    colors = plt.get_cmap("tab10")
    width = 0.8 / max(1, len(clients))
    for index, (panel_title, series, ylabel) in enumerate(panels):
        ax = axes[index // cols][index % cols]
        groups = [(w, m) for w, m in series if any((w, c, m) in summary for c in clients)]
        for ci, client in enumerate(clients):
            xs: list[float] = []
            heights: list[float] = []
            errs: list[list[float]] = [[], []]
            for gi, (w, m) in enumerate(groups):
                stat = summary.get((w, client, m))
                if stat is None:
                    continue
                xs.append(gi + (ci - (len(clients) - 1) / 2) * width)
                heights.append(stat.median)
                errs[0].append(stat.median - stat.low)
                errs[1].append(stat.high - stat.median)
            if xs:
                ax.bar(
                    xs,
                    heights,
                    width,
                    yerr=errs,
                    capsize=2,
                    label=CLIENT_NAMES[client],
                    color=colors(ci),
                )
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(
            [_METRIC_SHORT.get(m) or _SHORT.get(w) or w for w, m in groups], fontsize=8
        )
        ax.set_title(panel_title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    for index in range(len(panels), rows * cols):
        axes[index // cols][index % cols].axis("off")
    handles = [Patch(color=colors(ci), label=CLIENT_NAMES[c]) for ci, c in enumerate(clients)]
    fig.suptitle(title, y=0.995, fontsize=12)
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.975), ncol=len(clients))
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def load(path: pathlib.Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Samples, errors and meta of a results.jsonl."""
    samples: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        kind = obj.get("type")
        if kind == "sample":
            samples.append(obj)
        elif kind == "error":
            errors.append(obj)
        elif kind == "meta":
            meta = obj
    return samples, errors, meta


def write_reports(
    out: pathlib.Path,
    samples: Sequence[Mapping[str, Any]],
    errors: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any],
) -> tuple[dict[Key, Stat], list[Target]]:
    """Write results.md and results.png; return the summary and the targets."""
    summary = summarize(samples)
    targets = evaluate_targets(summary)
    (out / "results.md").write_text(render_markdown(summary, targets, meta, errors))
    try:
        plot(
            summary,
            out / "results.png",
            f"trio_zookeeper benchmark ({meta.get('mode', '?')}, median of "
            f"{meta.get('rounds', '?')} rounds, error bars = min..max)",
        )
    except ImportError as exc:  # matplotlib is in the bench group, not the test group
        sys.stderr.write(f"no plot: {exc} (install the 'bench' dependency group)\n")
    return summary, targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("jsonl", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=None)
    args = parser.parse_args()
    samples, errors, meta = load(args.jsonl)
    out = args.out or args.jsonl.parent
    out.mkdir(parents=True, exist_ok=True)
    write_reports(out, samples, errors, meta)
    print(out / "results.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
