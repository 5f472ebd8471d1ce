"""Shared test configuration.

The real-server fixtures come from trio_zookeeper's own pytest plugin, the
same one users enable in their projects.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator

import pytest

import trio_zookeeper._client
from trio_zookeeper import ZooKeeper
from trio_zookeeper.testing import ZooKeeperServer

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
        shared = trio_zookeeper._client._random_source

        def seeded(randomize_hosts: bool) -> random.Random:
            if not randomize_hosts:
                return shared(randomize_hosts)
            return random.Random(master.getrandbits(64))

        monkeypatch.setattr(trio_zookeeper._client, "_random_source", seeded)

    return seed


#: How deep the chains of the no-recursion-limit tests are (issue: every walk
#: of a tree is iterative, tested at this depth).
DEEP_CHAIN = 5000
# A 5,000-deep chain holds ~25 MB of paths (the server stores each node's full
# path): more than the shared server's small heap.
_DEEP_SERVER_HEAP_MB = 1024

ChainBuilder = Callable[..., Awaitable[str]]


@pytest.fixture(scope="module")
def deep_server() -> Iterator[ZooKeeperServer]:
    """A server of the test module's own, with a heap large enough for 5,000-deep chains."""
    with ZooKeeperServer(heap_mb=_DEEP_SERVER_HEAP_MB) as server:
        yield server


async def _build_chain(
    zk: ZooKeeper, root: str, depth: int = DEEP_CHAIN, *, data: bytes = b""
) -> str:
    """Create ``root`` and a chain of ``depth`` nodes named ``n`` below it; the deepest path."""
    await zk.create(root, data)
    path, remaining = root, depth
    while remaining:
        transaction = zk.multi()
        size = 0
        while remaining and size < 200_000:  # path bytes per transaction
            path += "/n"
            transaction.create(path, data)
            size += len(path)
            remaining -= 1
        await transaction.run()
    return path


@pytest.fixture
def build_chain() -> ChainBuilder:
    """``await build_chain(zk, root, depth=DEEP_CHAIN, data=b"")``: a chain, in transactions.

    Creates ``root`` and ``depth`` nodes named ``n`` below it (all with
    ``data``) in few transactions, and returns the deepest path.
    """
    return _build_chain
