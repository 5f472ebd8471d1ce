"""Memory an ``import`` costs: RSS of fresh interpreters, interleaved (issue 17).

Usage: ``python bench/import_rss.py [--runs 7] [--baseline DIR] [--out FILE]``

Each sample is a fresh interpreter that imports one thing and reports its
resident set size (``VmRSS``). Targets:
nothing, ``trio``, ``trio_zookeeper`` (this checkout), the ``--baseline``
source tree's ``trio_zookeeper``, ``kazoo`` and ``aiozk``. Rounds are
interleaved (one sample of each target per round), and the report gives the
median and min-max of each, and the RSS each adds over ``import trio`` (the
trio clients) or over a bare interpreter (the others).

Bytecode is compiled once into a private cache before the first round, so
every sample loads cached bytecode, as an installed package does (compiling
from source costs about 2 MB more, and varies). The interpreter is started
from a temporary directory, so that the current directory shadows nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]

#: What a child runs: import the target, then print its VmRSS in KiB.
_PROBE = (
    "import {module}\n"
    "for line in open('/proc/self/status'):\n"
    "    if line.startswith('VmRSS:'):\n"
    "        print(line.split()[1])\n"
)


def _targets(baseline: pathlib.Path | None) -> dict[str, tuple[str, pathlib.Path | None]]:
    """Target name -> (module to import, source tree to put first on the path)."""
    targets: dict[str, tuple[str, pathlib.Path | None]] = {
        "python": ("sys", None),
        "trio": ("trio", None),
        "trio_zookeeper": ("trio_zookeeper", REPO),
    }
    if baseline is not None:
        targets["trio_zookeeper (baseline)"] = ("trio_zookeeper", baseline)
    targets["kazoo"] = ("kazoo.client", None)
    targets["aiozk"] = ("aiozk", None)
    return targets


def _sample(module: str, path: pathlib.Path | None, cache: str, cwd: str) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env["PYTHONPYCACHEPREFIX"] = cache
    if path is not None:
        env["PYTHONPATH"] = str(path)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
        cwd=cwd,
    )
    return int(out.stdout.split()[-1])


def measure(runs: int, baseline: pathlib.Path | None) -> dict[str, list[int]]:
    """``runs`` interleaved samples of every target, in KiB."""
    targets = _targets(baseline)
    samples: dict[str, list[int]] = {name: [] for name in targets}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as cwd:
        for module, path in targets.values():  # compile into the cache, unmeasured
            _sample(module, path, cache, cwd)
        for _ in range(runs):
            for name, (module, path) in targets.items():
                samples[name].append(_sample(module, path, cache, cwd))
    return samples


def report(samples: dict[str, list[int]]) -> str:
    """A Markdown table: median, min-max, and what the import adds."""
    median = {name: statistics.median(values) for name, values in samples.items()}
    lines = [
        "| import | RSS after, KiB (median) | min-max | added |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, values in samples.items():
        base = "trio" if name.startswith("trio_zookeeper") else "python"
        added = "" if name == "python" else f"{median[name] - median[base]:,.0f} over {base}"
        lines.append(
            f"| {name} | {median[name]:,.0f} | {min(values):,}-{max(values):,} | {added} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--baseline", type=pathlib.Path, help="another source tree to compare")
    parser.add_argument("--out", type=pathlib.Path, help="also write the samples here (JSON)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    samples = measure(args.runs, args.baseline)
    if args.out is not None:
        args.out.write_text(json.dumps(samples, indent=2) + "\n")
    sys.stdout.write(report(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
