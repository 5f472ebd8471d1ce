"""Smoke test of the benchmark harness (bench/run.py): shape of its output, never speed.

Runs the quick harness for trio_zookeeper and the raw client only, with a tiny
op count and a real throwaway server, and checks that every workload produced
positive numbers in results.jsonl, a Markdown table and a PNG. The machine is
shared and noisy: nothing here compares or bounds any figure.
"""

from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from trio_zookeeper.testing.pytest_plugin import require_zookeeper

REPO = pathlib.Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "run.py"
CLIENTS = ("trio", "raw")
#: The one-task trio loops (trio's own floor) run the sequential workloads only.
LOOPS = ("trio_loop", "trio_stream")
LOOP_WORKLOADS = ("seq_get_data", "seq_exists", "seq_set_data", "seq_create_delete")
WORKLOADS = (
    "seq_get_data",
    "seq_exists",
    "seq_set_data",
    "seq_create_delete",
    "pipe_get_data",
    "pipe_set_data",
    "connect_close",
    "watch_rtt",
    "watch_fanout",
    "codec",
)
#: Metrics that must be > 0 (RSS deltas may legitimately be 0 for a few watches).
POSITIVE = {
    "seq_get_data": ("ops_per_s", "p50_us", "p99_us", "cpu_us_per_op"),
    "seq_exists": ("ops_per_s", "p50_us", "p99_us", "cpu_us_per_op"),
    "seq_set_data": ("ops_per_s", "p50_us", "p99_us", "cpu_us_per_op"),
    "seq_create_delete": ("ops_per_s", "p50_us", "p99_us", "cpu_us_per_op"),
    "pipe_get_data": ("ops_per_s", "cpu_us_per_op"),
    "pipe_set_data": ("ops_per_s", "cpu_us_per_op"),
    "connect_close": ("ops_per_s", "p50_us", "p99_us", "cpu_us_per_op"),
    "watch_rtt": ("p50_us", "p99_us"),
    "watch_fanout": ("fanout_ms", "events_per_s", "rss_one_conn_kib", "rss_watches_kib"),
    "codec": ("ns_per_op",),
}
TARGETS = {
    "pipe_get_data",
    "pipe_set_data",
    "seq_get_data_p50",
    "seq_get_data_cpu",
    "watch_rtt",
    "connect_close",
    "watch_rss",
    "watch_rss_kept",
}


def _lines(path: pathlib.Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.server
@pytest.mark.timeout(150)
def test_quick_harness_output_shape(tmp_path: pathlib.Path) -> None:
    require_zookeeper(local=True)  # the harness starts its own server
    out = tmp_path / "results"
    docs = tmp_path / "docs"
    proc = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--quick",
            "--clients",
            ",".join((*CLIENTS, *LOOPS)),
            "--ops",
            "30",
            "--watches",
            "40",
            "--out",
            str(out),
            "--docs-dir",
            str(docs),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    lines = _lines(out / "results.jsonl")
    kinds = {line["type"] for line in lines}
    assert {"meta", "sample", "summary", "target"} <= kinds
    assert "error" not in kinds
    meta = next(line for line in lines if line["type"] == "meta")
    assert meta["mode"] == "quick"
    assert meta["rounds"] >= 3

    samples = [line for line in lines if line["type"] == "sample"]
    for sample in samples:
        assert set(sample) >= {"round", "workload", "client", "metric", "value", "unit"}
        assert math.isfinite(sample["value"]), sample
        if sample["metric"] != "watch_rss_kept_kib":
            # (That one is the difference of two current RSS figures: for a
            # few watches it is within the noise, either side of zero.)
            assert sample["value"] >= 0, sample
    seen = {(s["workload"], s["client"], s["metric"]) for s in samples}
    rounds = {s["round"] for s in samples}
    assert rounds == set(range(1, meta["rounds"] + 1))
    for workload, metrics in POSITIVE.items():
        for client in (*CLIENTS, *LOOPS) if workload in LOOP_WORKLOADS else CLIENTS:
            for metric in metrics:
                assert (workload, client, metric) in seen, (workload, client, metric)
                values = [
                    s["value"]
                    for s in samples
                    if (s["workload"], s["client"], s["metric"]) == (workload, client, metric)
                ]
                assert len(values) == meta["rounds"]
                assert all(v > 0 for v in values), (workload, client, metric, values)

    summaries = [line for line in lines if line["type"] == "summary"]
    assert summaries
    for s in summaries:
        assert s["min"] <= s["median"] <= s["max"], s
        assert s["n"] == meta["rounds"]

    targets = {line["name"]: line for line in lines if line["type"] == "target"}
    assert set(targets) == TARGETS
    # Only trio, raw and the trio loops ran: targets against raw are evaluated, those
    # against kazoo are n/a.
    assert targets["pipe_get_data"]["ratio"] > 0
    assert targets["pipe_get_data"]["met"] in (True, False)
    assert targets["seq_get_data_cpu"]["met"] is None

    table = (out / "results.md").read_text()
    assert "## Targets" in table
    assert "## Results" in table
    assert (
        "| workload | metric | trio_zookeeper | raw socket | one-task trio loop (fd) "
        "| one-task trio loop (SocketStream) | trio ÷ raw socket "
        "| trio ÷ one-task trio loop (fd) | trio ÷ one-task trio loop (SocketStream) |"
    ) in table
    rows = [row for row in table.splitlines() if row.startswith("| sequential get_data |")]
    assert len(rows) == 4  # ops/s, p50, p99, CPU
    for name in ("pipelined set_data", "watch fan-out", "protocol encode+decode"):
        assert f"| {name}" in table

    assert (docs / "results.md").read_text() == table
    if importlib.util.find_spec("matplotlib") is None:
        # matplotlib comes with the 'bench' dependency group; without it the
        # harness still writes the JSON lines and the table, and says so.
        assert not (out / "results.png").exists()
        assert "no plot" in proc.stderr
        return
    png = (out / "results.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert (docs / "results.png").read_bytes() == png


RECIPE_AND_SCALE = {
    "recipe_lock": ("ops_per_s", "p50_us", "p99_us", "cpu_us_per_op"),
    "recipe_lock_handoff": ("p50_us", "p99_us", "handoffs"),
    "recipe_election": ("p50_us", "p99_us", "handoffs"),
    "recipe_queue": ("ops_per_s", "cpu_us_per_op"),
    "recipe_counter": ("ops_per_s", "cpu_us_per_op"),
    "recipe_treecache": ("load_s", "nodes", "event_p50_us", "peak_rss_kib"),
    # (and rewatch_rss_kib, which may be 0 at this size)
    "scale_watches": ("register_s", "rss_watches_kib", "reconnect_s", "rewatch_s"),
    "scale_sessions": ("connect_all_s", "close_all_s"),
    "scale_payload": ("ops_per_s", "mb_per_s", "cpu_us_per_op"),
    "scale_children": ("p50_us", "peak_rss_kib"),
}


@pytest.mark.server
@pytest.mark.timeout(240)
def test_recipe_and_scale_suites_run_against_kazoo_and_curator(tmp_path: pathlib.Path) -> None:
    """Every recipe and scale workload, tiny, for trio_zookeeper, its baseline and kazoo.

    The recipe workloads also run with Apache Curator (bench/RecipesCurator.java,
    compiled against Debian's Curator jars, as for the interop tests).

    ``--baseline`` points at this same checkout: it only checks that the
    before/after client runs and is reported beside the others.
    """
    require_zookeeper(local=True)
    out = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--quick",
            "--suite",
            "all",
            "--workloads",
            ",".join(RECIPE_AND_SCALE),
            "--clients",
            "trio,trio_base,kazoo,curator",
            "--baseline",
            str(REPO),
            "--rounds",
            "2",
            "--ops",
            "20",
            "--out",
            str(out),
            "--no-docs",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = _lines(out / "results.jsonl")
    errors = [line for line in lines if line["type"] == "error"]
    assert not errors, errors  # e.g. a missing part, named with what to install
    samples = [line for line in lines if line["type"] == "sample"]
    for workload, metrics in RECIPE_AND_SCALE.items():
        peers = ("kazoo", "curator") if workload.startswith("recipe_") else ("kazoo",)
        for client in ("trio", "trio_base", *peers):
            for metric in metrics:
                values = [
                    s["value"]
                    for s in samples
                    if (s["workload"], s["client"], s["metric"]) == (workload, client, metric)
                ]
                assert len(values) == 2, (workload, client, metric, values)
                assert all(math.isfinite(v) and v > 0 for v in values), (workload, metric, values)
    targets = {line["name"] for line in lines if line["type"] == "target"}
    assert targets == {
        "recipe_lock",
        "recipe_lock_handoff",
        "recipe_election",
        "recipe_queue",
        "recipe_counter",
        "recipe_treecache_load",
        "recipe_treecache_rss",
    }
    table = (out / "results.md").read_text()
    for label in (
        "Lock handoff, 10 waiters",
        "TreeCache (see sizes)",
        "get_children of a large node (see sizes)",
    ):
        assert f"| {label} |" in table
    assert "trio ÷ trio_zookeeper (baseline)" in table
    assert "trio ÷ kazoo (sync)" in table
    assert "trio ÷ Apache Curator (Java)" in table


def test_import_rss_measures_every_target(tmp_path: pathlib.Path) -> None:
    # One interleaved round, this checkout also as the baseline: the shape only.
    out = tmp_path / "import.json"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "import_rss.py"),
            "--runs",
            "1",
            "--baseline",
            str(REPO),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    samples = json.loads(out.read_text())
    names = ["python", "trio", "trio_zookeeper", "trio_zookeeper (baseline)", "kazoo", "aiozk"]
    assert list(samples) == names
    for name in names:
        assert len(samples[name]) == 1, name
        assert samples[name][0] > samples["python"][0] or name == "python", (name, samples)
    table = result.stdout
    assert "| trio_zookeeper | " in table
    assert " over trio |" in table
    assert " over python |" in table
