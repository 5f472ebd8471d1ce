"""Shared test configuration.

The real-server fixtures come from trio_zookeeper's own pytest plugin, the
same one users enable in their projects.
"""

from __future__ import annotations

import random
import types
from collections.abc import Callable

import pytest

import trio_zookeeper._client

pytest_plugins = ["trio_zookeeper.testing.pytest_plugin"]


@pytest.fixture
def seeded_clients(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """``seeded_clients(base)``: clients opened afterwards draw from ``Random(base + n)``.

    Each client's random source (host order, address order, rebalancing
    draws) is then reproducible: client n of the test gets seed ``base + n``.
    The base is printed.
    """

    def seed(base: int) -> None:
        print(f"client seed base: {base}")
        counter = iter(range(10**6))
        fake_random = types.SimpleNamespace(Random=lambda: random.Random(base + next(counter)))
        monkeypatch.setattr(trio_zookeeper._client, "random", fake_random)

    return seed
