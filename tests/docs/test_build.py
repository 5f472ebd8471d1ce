"""The documentation builds without a single warning, and documents the whole API.

This is the build CI runs (``scripts/run docs``: ``sphinx-build -W --keep-going
-n -b html``), into a temporary directory, plus what a warning-free build does
not check by itself: that every public name of every public namespace is an
object of the built docs (read from the build's ``objects.inv``), so that a
new public name without documentation fails here.

It takes a few seconds; it runs in the normal suite so that a broken docs
build is caught by ``scripts/run tests`` too, before CI's separate docs step.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import subprocess
import sys
import zlib

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
#: The public namespaces and the API reference page that documents each.
NAMESPACES = ["trio_zookeeper", "trio_zookeeper.testing", "trio_zookeeper.recipes"]


def read_inventory(path: pathlib.Path) -> set[str]:
    """The object names in a Sphinx ``objects.inv`` (format version 2)."""
    raw = path.read_bytes()
    header_lines = 4
    offset = 0
    for _ in range(header_lines):
        offset = raw.index(b"\n", offset) + 1
    assert raw.startswith(b"# Sphinx inventory version 2"), raw[:40]
    names: set[str] = set()
    for line in zlib.decompress(raw[offset:]).decode().splitlines():
        name, domain_role, *_ = line.split(" ", 2)
        if domain_role.startswith("py:"):
            names.add(name)
    return names


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Build the docs as CI does (warnings are errors), into a temporary directory."""
    out = tmp_path_factory.mktemp("docs")
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-n",
        "-b",
        "html",
        "-q",
        "-d",
        str(out / "doctrees"),
        str(DOCS),
        str(out / "html"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"the docs build failed:\n{result.stdout}\n{result.stderr}"
    return out / "html"


def test_docs_build_without_warnings(built_docs: pathlib.Path) -> None:
    assert (built_docs / "index.html").is_file()
    assert (built_docs / "objects.inv").is_file()


def test_state_diagram_is_generated(built_docs: pathlib.Path) -> None:
    """The sessions guide embeds the SVG drawn from the transition table."""
    from trio_zookeeper._protocol._state import TRANSITIONS

    page = (built_docs / "guides" / "sessions-and-states.html").read_text()
    assert "<svg" in page
    for state, event in TRANSITIONS:
        assert state.name in page
        assert event.name in page


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_public_name_is_documented(built_docs: pathlib.Path, namespace: str) -> None:
    try:
        module = importlib.import_module(namespace)
    except ImportError:
        pytest.skip(f"{namespace} does not exist (yet)")
    documented = read_inventory(built_docs / "objects.inv")
    missing = [
        f"{namespace}.{name}" for name in module.__all__ if f"{namespace}.{name}" not in documented
    ]
    assert not missing, f"public but not in the API reference: {missing}"


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_public_method_is_documented(built_docs: pathlib.Path, namespace: str) -> None:
    """Each public class's public methods and properties are documented too.

    Members inherited from the package's own (private) base classes count;
    those of other projects' bases (``trio.abc.ReceiveChannel``) do not.
    """
    try:
        module = importlib.import_module(namespace)
    except ImportError:
        pytest.skip(f"{namespace} does not exist (yet)")
    documented = read_inventory(built_docs / "objects.inv")
    missing: list[str] = []
    for name in module.__all__:
        cls = getattr(module, name)
        if not inspect.isclass(cls) or issubclass(cls, BaseException):
            continue
        members: dict[str, object] = {}
        for base in reversed(cls.__mro__):  # the package's own classes, private bases too
            if base.__module__.startswith("trio_zookeeper"):
                members.update(vars(base))
        for attribute, value in members.items():
            if attribute.startswith("_") and attribute != "__call__":
                continue
            if not (inspect.isfunction(value) or isinstance(value, property)):
                continue
            if f"{namespace}.{name}.{attribute}" not in documented:
                missing.append(f"{namespace}.{name}.{attribute}")
    assert not missing, f"public but not in the API reference: {missing}"
