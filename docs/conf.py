"""Sphinx configuration for the trio_zookeeper documentation.

CI builds it with ``sphinx-build -W --keep-going -n -b html docs docs/_build/html``
(``scripts/run docs``): every warning is an error and every cross-reference
must resolve (nitpicky).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

from trio_zookeeper._version import __version__  # noqa: E402

# -- Project ------------------------------------------------------------------
project = "trio_zookeeper"
author = "trio_zookeeper developers"
copyright = "trio_zookeeper developers"
version = ".".join(__version__.split(".")[:2])
release = __version__

# -- Extensions ---------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinxcontrib_trio",
    "sphinx_rtd_theme",
    # Ours (docs/_ext/tzk_docs.py): the generated state diagram and table, the
    # exception tree, Markdown includes, and private -> public name resolution.
    "tzk_docs",
]

# -- Cross-references -----------------------------------------------------------
nitpicky = True

# Intersphinx would link Python's and trio's names to their docs, but it has to
# download their objects.inv when the docs are built, and the machines that
# build these docs have no network access. So no inventories are configured
# (an empty mapping fetches nothing); instead, references to objects of *other*
# projects are allowed to stay unresolved: they are rendered as plain
# (unlinked) names. Only external namespaces are listed here, so a typo in a
# reference to one of *our* names still fails the build. Built-in types and
# ``typing`` names need no entry: Sphinx resolves them itself.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
_EXTERNAL_MODULES = (
    "trio",
    "ssl",
    "collections",
    "contextlib",
    "enum",
    "random",
    "pathlib",
    "os",
    "types",
    "typing_extensions",
    "attr",
    "attrs",
    "pytest",
    "_pytest",
    "subprocess",
    "socket",
    "logging",
    "datetime",
    "abc",
)
nitpick_ignore_regex = [
    # Classes, functions, exceptions, ... of other projects: trio.Nursery,
    # trio.abc.ReceiveChannel, ssl.SSLContext, collections.abc.AsyncIterator, ...
    (r"py:.*", rf"({'|'.join(_EXTERNAL_MODULES)})(\..+)?"),
]

# -- autodoc / napoleon -------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = False
napoleon_custom_sections = [("Cancellation", "notes_style"), ("Error handling", "notes_style")]
python_use_unqualified_type_names = True

# -- Content ----------------------------------------------------------------------
root_doc = "index"
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
default_role = "py:obj"
rst_prolog = """
.. |project| replace:: trio_zookeeper
"""

# -- HTML -----------------------------------------------------------------------
html_theme = "sphinx_rtd_theme"
html_title = f"trio_zookeeper {release}"
html_static_path = ["_static"]
html_css_files = ["tzk.css"]
html_theme_options = {"navigation_depth": 3, "collapse_navigation": False}
html_show_sourcelink = False
