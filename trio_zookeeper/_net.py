"""Shared network helpers: opening a stream to a server, and four-letter words.

This module owns the two things every part of the package that talks to a
ZooKeeper port needs, once:

* :func:`open_stream`: resolve a :class:`~trio_zookeeper._hosts.HostPort` now
  (an IP address without the resolver thread), connect to one of its
  addresses (every address behind a name is a candidate, tried in a shuffled
  order so that clients spread over them) and, with an ``ssl_context``,
  complete the TLS handshake;
* :func:`four_letter_word`: send an admin command (``srvr``, ``mntr``,
  ``isro``, ...) instead of a ConnectRequest and read the answer to EOF,
  bounded in size, over TCP or TLS;
* :data:`TRANSPORT_ERRORS`: the exceptions that mean "this byte stream is
  dead" (the session maps exactly these to a lost connection).

The session, the command line and ``trio_zookeeper.testing`` use these; none
of them opens a socket by other means. Callers bound the time (a cancel scope).
"""

from __future__ import annotations

import functools
import logging
import random
import socket
import ssl
from typing import Any

import trio

from ._hosts import HostPort

__all__ = ["MAX_FOUR_LETTER_ANSWER", "TRANSPORT_ERRORS", "four_letter_word", "open_stream"]

log = logging.getLogger("trio_zookeeper.net")

#: The exceptions that mean the byte stream under a connection is dead.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
)

#: A bound on a four-letter word's answer (``dump``/``wchp`` on a busy server
#: can be large; an endless answer must not exhaust memory).
MAX_FOUR_LETTER_ANSWER = 16 * 1024 * 1024


#: getaddrinfo flags that accept only an IP address and a numeric port: no DNS.
_NUMERIC_ONLY = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


async def _resolve(host: HostPort) -> list[tuple[Any, ...]]:
    """The TCP addresses of ``host`` (``getaddrinfo`` entries), resolved now.

    An IP address is converted at once, with no resolver thread and no
    checkpoint (the connect that follows is one); a name is resolved in
    trio's resolver thread.

    Raises:
        OSError: the name does not resolve (``socket.gaierror``).
    """
    numeric = _numeric_address(host.host, host.port)
    if numeric is not None:
        return list(numeric)
    return await trio.socket.getaddrinfo(host.host, host.port, type=trio.socket.SOCK_STREAM)


@functools.lru_cache(maxsize=1024)
def _numeric_address(host: str, port: int) -> tuple[tuple[Any, ...], ...] | None:
    """``getaddrinfo`` of an IP address (None for a name), remembered.

    Converting an address involves no resolver and always gives the same
    answer, so it is done once per (address, port), not at every connect
    (``socket.getaddrinfo``'s enum conversions are a fair part of opening).
    """
    try:
        return tuple(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=_NUMERIC_ONLY))
    except socket.gaierror:
        return None


async def open_tcp(host: HostPort, rng: random.Random | None = None) -> trio.SocketStream:
    """Resolve ``host`` now and connect to one of its addresses.

    Every address behind the name is a candidate (several A/AAAA records are
    several servers), tried one after the other in a shuffled order (``rng``;
    none: the resolver's order) so that clients spread over them. Each is
    connected to directly, as resolved: no second resolution and no task per
    attempt (``trio.open_tcp_stream`` would add both, for happy eyeballs,
    which a list of servers tried in turn does not need).

    Raises:
        OSError: the name does not resolve, or no address accepted (the
            last address's error, e.g. ``ConnectionRefusedError``).
    """
    candidates: dict[str, tuple[Any, ...]] = {}
    for info in await _resolve(host):
        candidates.setdefault(str(info[4][0]), info)
    infos = list(candidates.values())
    if rng is not None:
        rng.shuffle(infos)
    error: OSError | None = None
    for family, type_, proto, _, sockaddr in infos:
        sock = trio.socket.socket(family, type_, proto)
        try:
            await sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            log.debug("%s (%s) refused: %r", host, sockaddr[0], exc)
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return trio.SocketStream(sock)
    raise error or OSError(f"{host.host} resolved to no address")


async def open_stream(
    host: HostPort,
    ssl_context: ssl.SSLContext | None = None,
    *,
    rng: random.Random | None = None,
) -> trio.abc.Stream:
    """Open a TCP stream to ``host`` and, with ``ssl_context``, wrap it in TLS.

    The TLS handshake is completed before returning (the server name checked
    is ``host.host``); a stream whose handshake fails is closed.

    Raises:
        OSError: resolving or connecting failed.
        trio.BrokenResourceError: the TLS handshake failed (its ``__cause__``
            is the :class:`ssl.SSLError`).
    """
    stream: trio.abc.Stream = await open_tcp(host, rng)
    if ssl_context is None:
        return stream
    tls = trio.SSLStream(stream, ssl_context, server_hostname=host.host)
    try:
        await tls.do_handshake()
    except BaseException:
        await trio.aclose_forcefully(tls)
        raise
    return tls


def _encode_word(word: str | bytes) -> bytes:
    data = word.encode("ascii", "replace") if isinstance(word, str) else bytes(word)
    if len(data) != 4 or not data.isalpha():
        raise ValueError(f"a four letter word is four ASCII letters, got {word!r}")
    return data


async def four_letter_word(
    host: HostPort,
    word: str | bytes,
    *,
    ssl_context: ssl.SSLContext | None = None,
    max_answer: int = MAX_FOUR_LETTER_ANSWER,
) -> str:
    """Send a four-letter word and read the whole answer (the caller bounds the time).

    Args:
        host: The server.
        word: The command, e.g. ``"srvr"``, ``"mntr"``, ``"isro"``.
        ssl_context: Talk TLS (a secure client port) with this context.
        max_answer: Give up on an answer longer than this many bytes.

    Returns:
        The answer decoded as UTF-8 (undecodable bytes replaced), unstripped.
        A command that is not whitelisted is answered with a sentence saying
        so, not an error.

    Raises:
        ValueError: ``word`` is not four ASCII letters.
        OSError: the connection was refused or reset (a stream that broke
            while talking is a ``ConnectionResetError``), or the answer
            exceeds ``max_answer``.
        trio.BrokenResourceError: the TLS handshake failed.
    """
    data = _encode_word(word)
    stream = await open_stream(host, ssl_context)
    chunks: list[bytes] = []
    size = 0
    async with stream:
        try:
            await stream.send_all(data)
            if isinstance(stream, trio.SocketStream):
                await stream.send_eof()
            while chunk := await stream.receive_some(65536):
                chunks.append(bytes(chunk))
                size += len(chunk)
                if size > max_answer:
                    raise OSError(f"{word!r} answer from {host} exceeds {max_answer} bytes")
        except trio.BrokenResourceError as exc:
            raise ConnectionResetError(f"{word!r} to {host}: {exc}") from exc
    return b"".join(chunks).decode("utf-8", errors="replace")
