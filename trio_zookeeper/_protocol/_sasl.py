"""SASL on the client side, sans-IO: the mechanism interface and DIGEST-MD5 (RFC 2831).

Every SASL mechanism is a :class:`SaslMechanism`: a reusable, immutable
description of *how* to authenticate, that makes one :class:`SaslExchange` per
connection (the session re-authenticates on every new connection, as the Java
client does). The session runs the exchange: it sends
:meth:`SaslExchange.initial_token`, then feeds each server token to
:meth:`SaslExchange.respond` until that returns ``None``. An exchange whose
calls block (GSSAPI talks to the KDC and reads keytabs) says so with
``blocking = True``, and the session runs its calls in a worker thread.

ZooKeeper's SASL exchange carries opaque tokens in ``GetSASLRequest`` /
``SetSASLResponse`` records (opcode 102, normal xids). For DIGEST-MD5 the
client has no initial response: it sends an empty token, the server answers
with a challenge, the client answers with its digest response, and the server
proves it knows the password too with ``rspauth``. The Java client uses the
service ``zookeeper`` and the server name ``zk-sasl-md5``, so the digest-uri is
``zookeeper/zk-sasl-md5``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Protocol, runtime_checkable

import attrs

from ._errors import AuthFailedError

__all__ = ["DigestMD5Client", "SaslDigestMD5", "SaslExchange", "SaslMechanism", "sasl_mechanism"]


@runtime_checkable
class SaslExchange(Protocol):
    """One SASL authentication on one connection, as a state machine.

    Attributes:
        blocking: Whether :meth:`initial_token` and :meth:`respond` may block
            (network or file I/O); the session then calls them in a worker
            thread so that the event loop never stalls.
    """

    blocking: bool

    def initial_token(self) -> bytes:
        """The first token sent to the server (empty when the mechanism has none).

        Raises:
            AuthFailedError: The client cannot start (e.g. no credentials);
                the message says what is wrong.
        """
        ...

    def respond(self, challenge: bytes) -> bytes | None:
        """Answer a server token.

        Returns:
            The next token to send, or ``None`` when the exchange is complete.

        Raises:
            AuthFailedError: The server's token is wrong or the mechanism
                failed; the message says what is wrong.
        """
        ...


@runtime_checkable
class SaslMechanism(Protocol):
    """How to authenticate with SASL: makes a fresh :class:`SaslExchange` per connection.

    Implemented by :class:`SaslDigestMD5` and :class:`~trio_zookeeper.SaslGSSAPI`;
    pass one as ``open_zookeeper(..., sasl=...)``.
    """

    @property
    def mechanism(self) -> str:
        """The SASL mechanism name (``"DIGEST-MD5"``, ``"GSSAPI"``)."""
        ...

    def exchange(self, server_host: str) -> SaslExchange:
        """Begin one authentication with the server at ``server_host``.

        Must not block: blocking work belongs in the exchange's calls.

        Args:
            server_host: The host of the connect-string entry being connected
                to (a name or an address), for mechanisms that name the server.

        Returns:
            A new exchange.
        """
        ...


_PAIR = re.compile(rb'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)')


def _parse(challenge: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(challenge):
        m = _PAIR.match(challenge, pos)
        if m is None or m.end() == pos:
            raise AuthFailedError(f"malformed DIGEST-MD5 challenge near byte {pos}")
        key, value = m.group(1).decode("ascii").lower(), m.group(2)
        if value.startswith(b'"'):
            value = re.sub(rb"\\(.)", rb"\1", value[1:-1])
        out.setdefault(key, value)
        pos = m.end()
    return out


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _hex(data: bytes) -> bytes:
    return data.hex().encode("ascii")


def _quote(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class DigestMD5Client:
    """One DIGEST-MD5 authentication, as a small state machine.

    Args:
        username: The SASL user (a ``user_<name>`` entry of the server's JAAS file).
        password: Its password.
        service: The SASL service name (``zookeeper``).
        host: The SASL server name (ZooKeeper uses ``zk-sasl-md5``).
        cnonce: The client nonce (random when omitted; fixed in tests).
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        service: str = "zookeeper",
        host: str = "zk-sasl-md5",
        cnonce: bytes | None = None,
    ) -> None:
        self.username = username.encode("utf-8")
        self.password = password.encode("utf-8")
        self.digest_uri = f"{service}/{host}".encode()
        self.cnonce = cnonce if cnonce is not None else os.urandom(16).hex().encode("ascii")
        self.complete = False
        self.blocking = False
        self._expected_rspauth: bytes | None = None

    def initial_token(self) -> bytes:
        """The first token: empty (DIGEST-MD5 has no initial response)."""
        return b""

    def _response_value(self, realm: bytes, nonce: bytes, qop: bytes, a2_prefix: bytes) -> bytes:
        a1 = (
            _md5(b":".join([self.username, realm, self.password]))
            + b":"
            + nonce
            + b":"
            + self.cnonce
        )
        a2 = a2_prefix + b":" + self.digest_uri
        return _hex(
            _md5(b":".join([_hex(_md5(a1)), nonce, b"00000001", self.cnonce, qop, _hex(_md5(a2))]))
        )

    def respond(self, token: bytes) -> bytes | None:
        """Answer a server token.

        Returns:
            The token to send next, or None when the exchange is complete
            (the server's ``rspauth`` was checked).

        Raises:
            AuthFailedError: the challenge is malformed, asks for something
                unsupported, or the server's proof is wrong.
        """
        fields = _parse(token)
        if self._expected_rspauth is not None:
            rspauth = fields.get("rspauth")
            if rspauth is None or not hmac.compare_digest(rspauth, self._expected_rspauth):
                raise AuthFailedError("the server's DIGEST-MD5 rspauth does not match")
            self.complete = True
            return None
        nonce = fields.get("nonce")
        if not nonce:
            raise AuthFailedError("DIGEST-MD5 challenge without a nonce")
        qops = [q.strip() for q in fields.get("qop", b"auth").split(b",")]
        if b"auth" not in qops:
            raise AuthFailedError(f"DIGEST-MD5 qop {qops!r} not supported (only auth)")
        algorithm = fields.get("algorithm", b"md5-sess")
        if algorithm.lower() != b"md5-sess":
            raise AuthFailedError(f"DIGEST-MD5 algorithm {algorithm!r} not supported")
        realm = fields.get("realm", b"")
        qop = b"auth"
        response = self._response_value(realm, nonce, qop, b"AUTHENTICATE")
        self._expected_rspauth = self._response_value(realm, nonce, qop, b"")
        parts = [
            b"charset=utf-8",
            b"username=" + _quote(self.username),
            b"realm=" + _quote(realm),
            b"nonce=" + _quote(nonce),
            b"nc=00000001",
            b"cnonce=" + _quote(self.cnonce),
            b"digest-uri=" + _quote(self.digest_uri),
            b"maxbuf=65536",
            b"response=" + response,
            b"qop=" + qop,
        ]
        return b",".join(parts)


@attrs.frozen(repr=False)
class SaslDigestMD5:
    """SASL DIGEST-MD5 with a user name and password from the server's JAAS ``Server`` section.

    The session is then known as ``sasl:<username>`` (an ``("sasl", username)``
    ACL id). ``open_zookeeper(..., sasl=("user", "pw"))`` means the same.

    Args:
        username: The user (a ``user_<name>`` entry of the server's JAAS file).
        password: Its password.
    """

    username: str
    password: str

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.username, str) or not self.username:
            raise ValueError("SaslDigestMD5 needs a non-empty username")
        if not isinstance(self.password, str):
            raise TypeError("SaslDigestMD5 password must be a str")

    def __repr__(self) -> str:
        return f"SaslDigestMD5(username={self.username!r}, password=<hidden>)"

    @property
    def mechanism(self) -> str:
        """``"DIGEST-MD5"``."""
        return "DIGEST-MD5"

    def exchange(self, server_host: str) -> SaslExchange:
        """A new DIGEST-MD5 exchange (the server name is always ``zk-sasl-md5``).

        Args:
            server_host: Unused: ZooKeeper's digest-uri does not name the host.

        Returns:
            The exchange.
        """
        return DigestMD5Client(self.username, self.password)


def sasl_mechanism(value: object) -> SaslMechanism | None:
    """Normalise ``open_zookeeper``'s ``sasl=`` argument.

    Args:
        value: ``None``, a ``(username, password)`` tuple (DIGEST-MD5), or a
            :class:`SaslMechanism`.

    Returns:
        The mechanism, or ``None``.

    Raises:
        TypeError: Anything else.
    """
    if value is None or isinstance(value, SaslMechanism):
        return value
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(part, str) for part in value)
    ):
        return SaslDigestMD5(value[0], value[1])
    raise TypeError(
        "sasl= takes a SASL mechanism (SaslDigestMD5(...), SaslGSSAPI(...)) or a "
        f"(username, password) tuple, not {type(value).__name__}"
    )
