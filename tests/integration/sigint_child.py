"""The child process of test_interrupt.py: one scenario, interrupted by a real SIGINT.

Usage: ``python sigint_child.py MODE [HOST PORT]``. The child prints
``ready`` on stdout at the moment the parent must send SIGINT (the client is
then provably inside the phase under test) and never returns normally.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import trio

from trio_zookeeper import open_zookeeper
from trio_zookeeper.testing import FaultProxy, open_fault_proxy


def ready() -> None:
    print("ready", flush=True)


async def when(predicate: Callable[[], bool]) -> None:
    """Print ready once ``predicate`` holds (a system task: never interrupted itself)."""
    while not predicate():  # noqa: ASYNC110 - client internals have no event to wait on
        await trio.sleep(0.001)
    ready()


class _ReadyOnFirstWarning(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.done = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.done:
            self.done = True
            ready()


async def connecting_refused() -> None:
    # A connection attempt has failed: the client is in its retry loop.
    logging.getLogger("trio_zookeeper.session").addHandler(_ReadyOnFirstWarning())
    async with open_zookeeper("127.0.0.1:1"):
        raise AssertionError("connected to port 1")


async def connecting_handshake(proxy: FaultProxy) -> None:
    # The server accepted the connection but never answers the handshake.
    proxy.blackhole()
    trio.lowlevel.spawn_system_task(when, lambda: proxy.total_connections >= 1)
    async with open_zookeeper(proxy.address, session_timeout=30):
        raise AssertionError("connected through a blackholed proxy")


async def held(proxy: FaultProxy, *, closing: bool) -> None:
    """A request (or, when ``closing``, the closeSession) written and held by the proxy."""
    async with open_zookeeper(proxy.address, close_timeout=60 if closing else 1) as zk:
        await zk.exists("/")
        proxy.pause_upstream()  # what the client writes from now on stays in the proxy
        trio.lowlevel.spawn_system_task(when, lambda: zk.statistics().pending_requests >= 1)
        if not closing:
            await zk.get_data("/")
            raise AssertionError("a held request was answered")
    raise AssertionError("close returned although closeSession was held")


async def main(mode: str, args: list[str]) -> None:
    if mode == "connecting-refused":
        await connecting_refused()
        return
    host, port = args[0], int(args[1])
    async with open_fault_proxy(host, port) as proxy:
        if mode == "connecting-handshake":
            await connecting_handshake(proxy)
        else:
            await held(proxy, closing=mode == "closing")


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2:])
