"""ZooKeeper "four letter word" admin commands for tests, with a time bound.

A four letter word (``srvr``, ``ruok``, ``mntr``, ``cons``, ``isro``, ...) is sent
on a client port *instead of* a ConnectRequest. The server writes a text answer
and closes the connection. Only whitelisted words are answered
(``4lw.commands.whitelist``); ``srvr`` is whitelisted by default.

The exchange itself is the library's one four-letter-word client
(``trio_zookeeper._net.four_letter_word``); this module adds what a test
harness needs around it: a ``timeout`` that becomes :class:`TimeoutError`, and
a blocking form for synchronous code (the harness's start-up polling, plain
pytest tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import trio

from .._hosts import HostPort
from .._net import four_letter_word as _four_letter_word

__all__ = ["afour_letter_word", "four_letter_word"]


def four_letter_word(host: str, port: int, cmd: str, *, timeout: float = 5.0) -> str:
    """Send a four letter word and return the server's whole answer (blocking).

    It may be called from synchronous code anywhere, including from a thread
    that is running a trio loop (the exchange then runs in a helper thread,
    blocking the caller for at most ``timeout``).

    Args:
        host: Server address, e.g. ``"127.0.0.1"``.
        port: The server's (plain) client port.
        cmd: The command, e.g. ``"srvr"``, ``"ruok"``, ``"mntr"``.
        timeout: Bound on the whole exchange (connect, send, read to EOF), in seconds.

    Returns:
        The answer decoded as UTF-8 (undecodable bytes replaced). A command that
        is not whitelisted is answered with a sentence saying so, not an error.

    Raises:
        ValueError: ``cmd`` is not four ASCII letters.
        TimeoutError: The exchange took longer than ``timeout`` (for instance a
            SIGSTOPped server, which still accepts connections in the kernel).
        OSError: The connection was refused or reset.
    """
    return _run_blocking(lambda: afour_letter_word(host, port, cmd, timeout=timeout))


async def afour_letter_word(
    host: str,
    port: int,
    cmd: str,
    *,
    timeout: float = 5.0,  # noqa: ASYNC109 - a safety bound for a test helper; fail_after still works
) -> str:
    """Send a four letter word and return the server's whole answer (trio).

    Same contract as :func:`four_letter_word`. The ``timeout`` is a safety net
    so that a paused server cannot hang a test; an enclosing
    :func:`trio.fail_after` works as usual.

    Args:
        host: Server address, e.g. ``"127.0.0.1"``.
        port: The server's (plain) client port.
        cmd: The command, e.g. ``"srvr"``.
        timeout: Bound on the whole exchange, in seconds.

    Returns:
        The answer decoded as UTF-8 (undecodable bytes replaced).

    Raises:
        ValueError: ``cmd`` is not four ASCII letters.
        TimeoutError: The exchange took longer than ``timeout``.
        OSError: The connection was refused or reset.
    """
    answer: str | None = None
    with trio.move_on_after(timeout):
        answer = await _four_letter_word(HostPort(host, port), cmd)
    if answer is None:
        raise TimeoutError(f"{cmd!r} to {host}:{port} got no complete answer in {timeout}s")
    return answer


def _run_blocking(exchange: Callable[[], object]) -> str:
    """Run ``exchange`` (an async function) to completion from synchronous code."""

    async def main() -> str:
        result = await exchange()  # type: ignore[misc]
        assert isinstance(result, str)
        return result

    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return trio.run(main)  # no trio loop in this thread
    # A trio loop runs in this thread (a sync call from async code): use a fresh thread.
    outcome: list[str | BaseException] = []

    def run() -> None:
        try:
            outcome.append(trio.run(main))
        except BaseException as exc:  # handed back to the caller below
            outcome.append(exc)

    thread = threading.Thread(target=run, name="four-letter-word", daemon=True)
    thread.start()
    thread.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result
