"""The sdist and the wheel are what we mean to publish.

Both are built once per module, the way ``scripts/run build`` builds them
(``python -m build``: the sdist, then the wheel from the unpacked sdist), but
without build isolation, so that no package index is needed: the backend is
the ``setuptools`` of the dev dependency group. The build runs on a copy of
the project, so the checkout gets no ``build/`` or ``*.egg-info`` from it.

Checked: the license text is in both, the sdist holds exactly the entries
``MANIFEST.in`` chooses, the wheel holds only the package, the metadata has
the project URLs and the classifiers of the Python versions the suite runs
on, the README renders on a package index, and ``twine check --strict``
passes.
"""

from __future__ import annotations

import email.message
import email.parser
import importlib.metadata
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 300

#: The top-level entries of the sdist, as MANIFEST.in chooses them (plus what
#: setuptools always writes: PKG-INFO, setup.cfg, the egg-info).
SDIST_ENTRIES = {
    "CHANGELOG.md",
    "LICENSE",
    "MANIFEST.in",
    "PKG-INFO",
    "README.md",
    "pyproject.toml",
    "setup.cfg",
    "trio_zookeeper",
    "trio_zookeeper.egg-info",
}

#: The Python versions the test suite runs on (CI runs Debian's Python 3.11).
#: Add one here, and its classifier, once the suite runs on it.
TESTED_PYTHONS = {"3.11"}

PROJECT_URLS = {
    "Homepage": "https://github.com/trio-zookeeper/trio-zookeeper",
    "Documentation": "https://trio-zookeeper.readthedocs.io/",
    "Changelog": "https://trio-zookeeper.readthedocs.io/en/latest/changelog.html",
    "Issues": "https://github.com/trio-zookeeper/trio-zookeeper/issues",
}

#: Not copied into the build directory: version control, environments, caches
#: and earlier build output (none of them may reach the sdist anyway).
_NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".nox",
    "*_cache",
    ".hypothesis",
    "__pycache__",
    "build",
    "dist",
    "*.egg-info",
    "_build",
    "results",
)


def _require(distribution: str, minimum: tuple[int, ...]) -> None:
    """Fail (never skip) when a build tool is missing or too old, naming it."""
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            f"building the distributions needs {distribution} "
            "(scripts/bootstrap.sh installs it with the dev group)",
            pytrace=False,
        )
    found = tuple(int(part) for part in re.findall(r"\d+", version)[: len(minimum)])
    if found < minimum:
        wanted = ".".join(map(str, minimum))
        pytest.fail(
            f"building the distributions needs {distribution} >= {wanted}, found {version} "
            "(scripts/bootstrap.sh installs it with the dev group)",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    """Build the sdist and the wheel; return their paths."""
    _require("build", (1, 2))
    _require("setuptools", (77,))
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(REPO, source, ignore=_NOT_COPIED)
    out = base / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"the build failed:\n{result.stdout}\n{result.stderr}"
    sdists = sorted(out.glob("*.tar.gz"))
    wheels = sorted(out.glob("*.whl"))
    assert len(sdists) == 1, sdists
    assert len(wheels) == 1, wheels
    return sdists[0], wheels[0]


def sdist_names(sdist: pathlib.Path) -> tuple[str, list[str]]:
    """The sdist's root directory and its member names relative to that root."""
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    root = names[0].split("/")[0]
    assert all(name == root or name.startswith(root + "/") for name in names), names
    return root, [name[len(root) + 1 :] for name in names if name != root]


def wheel_metadata(wheel: pathlib.Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(name).decode()
    return email.parser.Parser().parsestr(text)


def test_license_is_in_the_repository_the_sdist_and_the_wheel(
    dists: tuple[pathlib.Path, pathlib.Path],
) -> None:
    sdist, wheel = dists
    license_text = (REPO / "LICENSE").read_bytes()
    assert b"Apache License" in license_text
    assert b"Version 2.0, January 2004" in license_text
    assert b"END OF TERMS AND CONDITIONS" in license_text  # the full text
    root, _ = sdist_names(sdist)
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(f"{root}/LICENSE")
        assert member is not None
        assert member.read() == license_text
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(name) == license_text


def test_sdist_holds_exactly_the_chosen_entries(dists: tuple[pathlib.Path, pathlib.Path]) -> None:
    sdist, _ = dists
    _, names = sdist_names(sdist)
    top_level = {name.split("/")[0] for name in names}
    assert top_level == SDIST_ENTRIES
    # The package is complete: every module of the checkout and py.typed.
    package = {name for name in names if name.startswith("trio_zookeeper/")}
    expected = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "trio_zookeeper").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert expected <= package
    assert {name for name in package if "." in name.rsplit("/", 1)[-1]} == expected


def test_wheel_holds_only_the_package(dists: tuple[pathlib.Path, pathlib.Path]) -> None:
    _, wheel = dists
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top_level = {name.split("/")[0] for name in names}
    [dist_info] = [entry for entry in top_level if entry.endswith(".dist-info")]
    assert top_level == {"trio_zookeeper", dist_info}
    assert "trio_zookeeper/py.typed" in names
    assert "trio_zookeeper/testing/pytest_plugin.py" in names


def test_metadata_has_urls_license_and_tested_pythons(
    dists: tuple[pathlib.Path, pathlib.Path],
) -> None:
    _, wheel = dists
    metadata = wheel_metadata(wheel)
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL", []))
    assert urls == PROJECT_URLS
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    classifiers = metadata.get_all("Classifier", [])
    versions = {
        match.group(1)
        for classifier in classifiers
        if (match := re.fullmatch(r"Programming Language :: Python :: (\d+\.\d+)", classifier))
    }
    assert versions == TESTED_PYTHONS
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert running in TESTED_PYTHONS, (
        f"the suite runs on Python {running}: add it to TESTED_PYTHONS and to the classifiers"
    )
    assert metadata["Requires-Python"] == f">={min(TESTED_PYTHONS)}"


def test_readme_is_the_long_description_and_reads_on_an_index(
    dists: tuple[pathlib.Path, pathlib.Path],
) -> None:
    _, wheel = dists
    metadata = wheel_metadata(wheel)
    readme = (REPO / "README.md").read_text()
    assert metadata["Description-Content-Type"] == "text/markdown"
    description = metadata.get_payload()
    assert isinstance(description, str)
    assert description.strip() == readme.strip()
    assert "pip install trio-zookeeper" in readme
    # The two set-up commands stay as they are.
    assert "scripts/run demo " in readme
    assert "scripts/run tests " in readme
    # A package index shows the README without the repository around it:
    # every link must be absolute.
    links = re.findall(r"\]\(([^)]*)\)", readme)
    relative = [link for link in links if not link.startswith("https://")]
    assert not relative, f"links that break on a package index: {relative}"


def test_twine_check_strict_passes(dists: tuple[pathlib.Path, pathlib.Path]) -> None:
    _require("twine", (5,))
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dists)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout
