"""Fixtures for client unit tests against the in-memory fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from trio_zookeeper.testing._fake import FakeZooKeeper, open_fake_zookeeper


@pytest.fixture
async def fake() -> AsyncIterator[FakeZooKeeper]:
    async with open_fake_zookeeper() as server:
        yield server
