"""ZooKeeper "four letter word" admin commands over a plain TCP connection.

A four letter word (``srvr``, ``ruok``, ``mntr``, ``cons``, ``isro``, ...) is sent
on a client port *instead of* a ConnectRequest. The server writes a text answer
and closes the connection. Only whitelisted words are answered
(``4lw.commands.whitelist``); ``srvr`` is whitelisted by default.
"""

from __future__ import annotations

import contextlib
import socket
import time

import trio

__all__ = ["afour_letter_word", "four_letter_word"]

_MAX_ANSWER = 16 * 1024 * 1024  # `dump`/`wchp` on a busy server can be large; bound it anyway.


def _encode_command(cmd: str) -> bytes:
    data = cmd.encode("ascii")
    if len(data) != 4 or not data.isalpha():
        raise ValueError(f"a four letter word is four ASCII letters, got {cmd!r}")
    return data


def four_letter_word(host: str, port: int, cmd: str, *, timeout: float = 5.0) -> str:
    """Send a four letter word and return the server's whole answer (blocking).

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
    data = _encode_command(cmd)
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        with contextlib.suppress(OSError):  # the server already closed: read what it sent
            sock.shutdown(socket.SHUT_WR)
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{cmd!r} to {host}:{port} got no complete answer in {timeout}s")
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise TimeoutError(
                    f"{cmd!r} to {host}:{port} got no complete answer in {timeout}s"
                ) from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > _MAX_ANSWER:
                raise OSError(f"{cmd!r} answer from {host}:{port} exceeds {_MAX_ANSWER} bytes")
    return b"".join(chunks).decode("utf-8", errors="replace")


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
    data = _encode_command(cmd)
    chunks: list[bytes] = []
    size = 0
    with trio.move_on_after(timeout) as scope:
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            try:
                await stream.send_all(data)
                await stream.send_eof()
                while True:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > _MAX_ANSWER:
                        raise OSError(
                            f"{cmd!r} answer from {host}:{port} exceeds {_MAX_ANSWER} bytes"
                        )
            except trio.BrokenResourceError as exc:
                raise ConnectionResetError(f"{cmd!r} to {host}:{port}: {exc}") from exc
    if scope.cancelled_caught:
        raise TimeoutError(f"{cmd!r} to {host}:{port} got no complete answer in {timeout}s")
    return b"".join(chunks).decode("utf-8", errors="replace")
