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
    """``seeded_clients(base)``: clients opened afterwards get reproducible random sources.

    Client n of the test draws from ``Random(s_n)``, where ``s_n`` is the n-th
    64-bit draw of ``Random(base)``: host order, address order and
    rebalancing draws are then the same on every run. The base is printed.
    """

    def seed(base: int) -> None:
        print(f"client seed base: {base}")
        master = random.Random(base)
        fake_random = types.SimpleNamespace(Random=lambda: random.Random(master.getrandbits(64)))
        monkeypatch.setattr(trio_zookeeper._client, "random", fake_random)

    return seed
