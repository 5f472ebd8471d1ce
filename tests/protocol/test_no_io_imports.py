"""The sans-IO layer imports no I/O: checked in a fresh interpreter.

``trio_zookeeper/__init__.py`` will import the trio client, and importing
``trio_zookeeper._protocol`` normally executes the parent package first. To
test what the ``_protocol`` modules themselves import, the child interpreter
puts a stub ``trio_zookeeper`` module in ``sys.modules`` (an empty module whose
``__path__`` is the real package directory, found with ``find_spec``, which
does not execute the package) and then imports ``trio_zookeeper._protocol``
with the normal import machinery: every ``_protocol`` module is loaded from the
real files, but the parent's ``__init__`` never runs. The child is started
with ``-I`` (isolated: no PYTHON* variables, no user site, no cwd on the path),
so it sees the installed package exactly as a user would.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import trio_zookeeper._protocol

FORBIDDEN = ("trio", "socket", "ssl", "selectors", "asyncio")

PROBE = r"""
import importlib, importlib.util, json, pkgutil, sys, types

FORBIDDEN = {forbidden!r}
before = sorted(m for m in FORBIDDEN if m in sys.modules)
spec = importlib.util.find_spec("trio_zookeeper")
stub = types.ModuleType("trio_zookeeper")
stub.__path__ = list(spec.submodule_search_locations)
sys.modules["trio_zookeeper"] = stub
{extra}
package = importlib.import_module("trio_zookeeper._protocol")
# Also the modules the package does not import itself.
for info in pkgutil.iter_modules(package.__path__):
    importlib.import_module("trio_zookeeper._protocol." + info.name)
print(json.dumps({{
    "before": before,
    "after": sorted(m for m in FORBIDDEN if m in sys.modules),
    "loaded": sorted(m for m in sys.modules if m.startswith("trio_zookeeper")),
    "stub_kept": sys.modules["trio_zookeeper"] is stub,
}}))
"""


def probe(extra: str = "") -> dict[str, object]:
    code = PROBE.format(forbidden=FORBIDDEN, extra=extra)
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_protocol_imports_no_io_modules() -> None:
    result = probe()
    assert result["before"] == []
    assert result["stub_kept"] is True
    # Every module file of the subpackage was really imported (nothing else of
    # trio_zookeeper was)...
    package_dir = pathlib.Path(trio_zookeeper._protocol.__file__).parent
    modules = {f"trio_zookeeper._protocol.{p.stem}" for p in package_dir.glob("*.py")}
    modules.discard("trio_zookeeper._protocol.__init__")
    assert len(modules) >= 11
    loaded = result["loaded"]
    assert isinstance(loaded, list)
    assert set(loaded) == {"trio_zookeeper", "trio_zookeeper._protocol", *modules}
    # ...and none of them pulled in an I/O module.
    assert result["after"] == []


def test_the_probe_detects_an_io_import() -> None:
    # The same probe, with one I/O import slipped in, must notice it.
    result = probe(extra="import selectors")
    assert result["after"] == ["selectors"]
