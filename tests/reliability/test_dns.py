"""Host names resolved at every attempt, every address a candidate, on the real server.

trio's custom hostname resolver maps a test name to loopback addresses
(127.0.0.1, 127.0.0.2, ... are all loopback on Linux). Behind each address a
:class:`FaultProxy` listens on one shared port and forwards to the shared
server, so the proxies' connection counts show which address each client
chose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import trio

from trio_zookeeper import open_zookeeper
from trio_zookeeper.testing import FaultProxy, ZooKeeperServer, open_fault_proxy

from ._util import NameResolver

NAME = "zk.h7.invalid"
DEADLINE = 30.0


@asynccontextmanager
async def resolver() -> AsyncIterator[NameResolver]:
    ours = NameResolver({NAME: []})
    previous = trio.socket.set_custom_hostname_resolver(ours)
    try:
        yield ours
    finally:
        trio.socket.set_custom_hostname_resolver(previous)


@asynccontextmanager
async def proxies(
    server: ZooKeeperServer, addresses: Sequence[str]
) -> AsyncIterator[list[FaultProxy]]:
    """One proxy to ``server`` per loopback address, all on the same port."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(
            open_fault_proxy(server.host, server.port, seed=1, host=addresses[0])
        )
        out = [first]
        for address in addresses[1:]:
            out.append(
                await stack.enter_async_context(
                    open_fault_proxy(
                        server.host, server.port, seed=1, host=address, port=first.port
                    )
                )
            )
        yield out


async def test_one_name_with_several_addresses_spreads_clients(
    zookeeper_server: ZooKeeperServer, seeded_clients: Callable[[int], None]
) -> None:
    seeded_clients(5150)
    addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    async with resolver() as names, proxies(zookeeper_server, addresses) as links:
        names.table[NAME] = list(addresses)
        port = links[0].port
        with trio.fail_after(DEADLINE * 2):
            async with AsyncExitStack() as stack:
                for _ in range(30):
                    zk = await stack.enter_async_context(open_zookeeper(f"{NAME}:{port}"))
                    assert zk.statistics().server == f"{NAME}:{port}"  # the name, not an address
                counts = [link.connections for link in links]
                spread = dict(zip(addresses, counts, strict=True))
                print(f"\n30 clients on one name, 3 addresses: {spread}")
                assert sum(counts) == 30
                # 10 each if even; Bin(30, 1/3) < 3 has probability 3e-4
                assert all(count >= 3 for count in counts), counts
        assert names.lookups[NAME] >= 30  # resolved per attempt, not once


async def test_a_changed_address_is_followed_at_the_next_reconnect(
    zookeeper_server: ZooKeeperServer, seeded_clients: Callable[[int], None]
) -> None:
    seeded_clients(8080)
    async with (
        resolver() as names,
        proxies(zookeeper_server, ["127.0.0.2", "127.0.0.3"]) as (old, new),
    ):
        names.table[NAME] = ["127.0.0.2"]
        with trio.fail_after(DEADLINE):
            async with open_zookeeper(f"{NAME}:{old.port}", session_timeout=10) as zk:
                sid = zk.session_id
                assert (old.connections, new.connections) == (1, 0)
                names.table[NAME] = ["127.0.0.3"]  # the name moves
                old.refuse()
                await old.reset()
                await new.wait_for_connections(1)
                await zk.wait_connected()
                assert zk.session_id == sid
                assert await zk.exists("/") is not None
                assert new.connections == 1
                assert old.total_connections == 1  # never tried the old address again
