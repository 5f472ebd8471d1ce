"""Developer sessions. Run them through ``scripts/run NAME``, which installs
everything first; they run inside the project's ``.venv`` (no per-session
virtualenvs: the machine has two cores and one environment is enough).
"""

from __future__ import annotations

import hashlib
import os
import tomllib

import nox
from packaging.requirements import Requirement
from packaging.version import Version

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]

PACKAGE = "trio_zookeeper"
#: The separate environment of the ``lowest`` session.
LOWEST_VENV = ".venv-lowest"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite against real ZooKeeper servers started by the harness."""
    args = session.posargs or []
    # pytest exits 5 when it collected nothing: nox treats that as a failure,
    # as it must ("no tests" is never a pass).
    session.run("python", "-m", "pytest", *args)


def _read(path: str) -> str:
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read()


def lowest_pins() -> list[str]:
    """``name==minimum`` for every runtime dependency, from pyproject's ``>=`` bounds."""
    with open("pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    pins = []
    for dependency in dependencies:
        requirement = Requirement(dependency)
        floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(floors) != 1:
            raise SystemExit(
                f"lowest: the dependency {dependency!r} needs exactly one '>=' lower bound"
            )
        pins.append(f"{requirement.name}=={floors[0]}")
    return pins


@nox.session
def lowest(session: nox.Session) -> None:
    """The integration tests with the lowest allowed version of every runtime dependency.

    They run in a separate environment, ``.venv-lowest``, made here (and
    re-made when pyproject.toml changes), with the package, the ``test``
    group and each runtime dependency pinned to its declared minimum.
    """
    python = os.path.join(LOWEST_VENV, "bin", "python")
    pins = lowest_pins()
    stamp = os.path.join(LOWEST_VENV, ".lowest-stamp")
    with open("pyproject.toml", "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()[:16]
    if _read(stamp) != want:
        if not os.path.exists(python):
            session.run("python", "-m", "venv", LOWEST_VENV)
        pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        session.run(*pip, "-U", "pip>=25.1")
        session.run(*pip, *pins, "-e", ".", "--group", "test")
        with open(stamp, "w") as f:
            f.write(want)
    # The pins must be what is installed, or this session proves nothing.
    names = [pin.split("==")[0] for pin in pins]
    script = f"import importlib.metadata as m; print(*(m.version(n) for n in {names!r}))"
    installed = str(session.run(python, "-c", script, silent=True)).split()
    wrong = [
        f"{pin} (installed: {version})"
        for pin, version in zip(pins, installed, strict=True)
        if Version(version) != Version(pin.split("==")[1])
    ]
    if wrong:
        session.error(f"not installed at their minimum: {', '.join(wrong)}")
    session.log(f"lowest: {', '.join(f'{n}=={v}' for n, v in zip(names, installed, strict=True))}")
    session.run(python, "-m", "pytest", "tests/integration", *(session.posargs or ["-q"]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests, the benchmarks and the docs examples."""
    session.run("mypy", "--strict")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs; warnings are errors."""
    session.run(
        "sphinx-build", "-W", "--keep-going", "-n", "-b", "html", "docs", "docs/_build/html"
    )


@nox.session
def demo(session: nox.Session) -> None:
    """The project's demo against a throwaway real ZooKeeper (or $ZOOKEEPER_HOSTS)."""
    session.run("python", "docs/examples/demo.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against kazoo, aiozk and the raw-socket limit."""
    session.run("python", "bench/run.py", *(session.posargs or []))


@nox.session
def build(session: nox.Session) -> None:
    """Build the sdist and wheel and check them with twine."""
    session.run("python", "-m", "build", "--outdir", "dist")
    session.run(
        "twine", "check", "--strict", *(os.path.join("dist", f) for f in os.listdir("dist"))
    )
