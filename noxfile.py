"""Developer sessions. Run them through ``scripts/run NAME``, which installs
everything first; they run inside the project's ``.venv`` (no per-session
virtualenvs: the machine has two cores and one environment is enough).
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]

PACKAGE = "trio_zookeeper"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite against real ZooKeeper servers started by the harness."""
    args = session.posargs or []
    # pytest exits 5 when it collected nothing: nox treats that as a failure,
    # as it must ("no tests" is never a pass).
    session.run("python", "-m", "pytest", *args)


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
