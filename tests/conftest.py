"""Shared test configuration.

The real-server fixtures come from trio_zookeeper's own pytest plugin, the
same one users enable in their projects.
"""

from __future__ import annotations

pytest_plugins = ["trio_zookeeper.testing.pytest_plugin"]
