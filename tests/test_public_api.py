"""The public API: every exported name exists, is documented, and is in the API reference.

The reference pages (``docs/reference/*.rst``) name each public object in an
autodoc directive; this test reads them (no docs build needed: the build,
with its inventory check, is ``tests/docs/test_build.py``).
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import sys
from types import ModuleType

import pytest
from _pytest.fixtures import getfixturemarker

import trio_zookeeper

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
NAMESPACES = ["trio_zookeeper", "trio_zookeeper.testing", "trio_zookeeper.recipes"]
PLUGIN = "trio_zookeeper.testing.pytest_plugin"
_DIRECTIVE = re.compile(
    r"^(?P<indent> *)\.\. (?P<kind>auto(?:module|class|exception|function|data|method|"
    r"property|attribute)|module|currentmodule|py:\w+)::\s*(?P<name>[\w.]+)",
    re.MULTILINE,
)


def namespace(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        pytest.skip(f"{name} does not exist (yet)")


def reference_names() -> set[str]:
    """Fully qualified names of the objects the reference pages document."""
    names: set[str] = set()
    for page in sorted((DOCS / "reference").glob("*.rst")):
        module = ""
        cls = ""
        for match in _DIRECTIVE.finditer(page.read_text()):
            kind, name, indent = match["kind"], match["name"], match["indent"]
            if kind in ("module", "currentmodule", "automodule", "py:module"):
                module, cls = name, ""
                names.add(name)
                continue
            if indent and cls:  # nested in a class: a member
                names.add(f"{module}.{cls}.{name}")
                continue
            qualified = name if name.startswith("trio_zookeeper.") else f"{module}.{name}"
            names.add(qualified)
            cls = name if kind in ("autoclass", "autoexception") else ""
    return names


def defining_module_doc(obj: object, attribute: str, package: str) -> str | None:
    """The doc comment (``#:``) or docstring of a module-level constant, where it is defined."""
    from sphinx.pycode import ModuleAnalyzer

    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith(package.split(".")[0]) or module is None:
            continue
        if getattr(module, attribute, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except Exception:
            continue
        comment = docs.get(("", attribute))
        if comment and "".join(comment).strip():
            return "".join(comment)
    return None


@pytest.mark.parametrize("name", NAMESPACES)
def test_all_names_exist(name: str) -> None:
    module = namespace(name)
    missing = [item for item in module.__all__ if not hasattr(module, item)]
    assert not missing
    assert len(set(module.__all__)) == len(module.__all__), "duplicates in __all__"


@pytest.mark.parametrize("name", NAMESPACES)
def test_public_objects_are_ours_and_documented(name: str) -> None:
    module = namespace(name)
    problems: list[str] = []
    for item in module.__all__:
        obj = getattr(module, item)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if not obj.__module__.startswith("trio_zookeeper"):
                problems.append(f"{item}: defined in {obj.__module__}")
            own_doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
            if not (own_doc and own_doc.strip()):
                problems.append(f"{item}: no docstring of its own")
        elif defining_module_doc(obj, item, name) is None:
            problems.append(f"{item}: a constant without a doc comment where it is defined")
    assert not problems, problems


@pytest.mark.parametrize("name", [*NAMESPACES, PLUGIN])
def test_public_names_are_in_the_api_reference(name: str) -> None:
    module = namespace(name)
    documented = reference_names()
    assert name in documented, f"no reference page declares the module {name}"
    public = getattr(module, "__all__", [])
    missing = [
        item
        for item in public
        if f"{name}.{item}" not in documented and getfixturemarker(getattr(module, item)) is None
    ]
    assert not missing, f"public names of {name} missing from docs/reference: {missing}"


def test_zookeeper_methods_are_each_in_the_reference() -> None:
    """ZooKeeper's members are listed one by one (grouped by topic): none may be forgotten."""
    documented = reference_names()
    public = [
        attribute
        for attribute, value in vars(trio_zookeeper.ZooKeeper).items()
        if not attribute.startswith("_") and (callable(value) or isinstance(value, property))
    ]
    missing = [a for a in public if f"trio_zookeeper.ZooKeeper.{a}" not in documented]
    assert not missing, f"add these to docs/reference/api.rst: {missing}"


def test_plugin_fixtures_are_in_the_testing_guide() -> None:
    plugin = importlib.import_module(PLUGIN)
    fixtures = [
        name
        for name, value in vars(plugin).items()
        if not name.startswith("_") and getfixturemarker(value) is not None
    ]
    assert fixtures, "the plugin defines no fixtures?"
    guide = (DOCS / "guides" / "testing.rst").read_text()
    missing = [name for name in fixtures if f"``{name}``" not in guide]
    assert not missing, f"fixtures not described in docs/guides/testing.rst: {missing}"
