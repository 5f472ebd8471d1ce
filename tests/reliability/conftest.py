"""Fixtures of the reliability tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trio_zookeeper.testing import ZooKeeperEnsemble


@pytest.fixture
def ensemble(zookeeper_ensemble: ZooKeeperEnsemble) -> Iterator[ZooKeeperEnsemble]:
    """The shared session ensemble, put back to a full quorum after the test."""
    zookeeper_ensemble.restore(60)
    try:
        yield zookeeper_ensemble
    finally:
        zookeeper_ensemble.restore(60)
