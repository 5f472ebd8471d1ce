"""Apache Curator's side of the recipe benchmarks: compiles and runs ``RecipesCurator.java``.

Curator 5.4 and the ZooKeeper client jars come from Debian's packages (as for
the interop tests, whose jar list and compile step this reuses:
``tests/recipes/curator_jars.py``). The Java program runs the workload named
in the spec and prints the child's one JSON line, which this relays. The JVM
runs with its default flags (the full JIT, as a Curator service would); its
start-up is outside every timed loop, which the Java side times itself.
"""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
from types import ModuleType

from _common import emit

BENCH = pathlib.Path(__file__).resolve().parent
SOURCE = BENCH / "RecipesCurator.java"
JARS_MODULE = BENCH.parent / "tests" / "recipes" / "curator_jars.py"


def _jars() -> ModuleType:
    spec = importlib.util.spec_from_file_location("curator_jars", JARS_MODULE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    """Run the workload of the spec ``argv[0]`` in a JVM; relay its JSON line."""
    if len(argv) != 1:
        sys.stderr.write("usage: recipes_curator.py '<spec json>'\n")
        return 2
    jars = _jars()
    try:
        classpath = jars.compile_java(SOURCE)
        java = jars.java()
    except jars.JavaUnavailable as exc:
        emit({"ok": False, "error": f"Apache Curator is not available: {exc}"})
        return 1
    proc = subprocess.run(
        [java, "-cp", classpath, "RecipesCurator", argv[0]],
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stderr.write(proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        emit({"ok": False, "error": f"java exited {proc.returncode} with no JSON answer: {tail}"})
        return 1
    sys.stdout.write(lines[-1] + "\n")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
