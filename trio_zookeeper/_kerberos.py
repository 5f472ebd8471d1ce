"""SASL GSSAPI (Kerberos V5) for ZooKeeper, through the optional ``gssapi`` binding.

:class:`SaslGSSAPI` is the mechanism users pass as ``open_zookeeper(...,
sasl=SaslGSSAPI(...))``; it makes one :class:`_GSSAPIExchange` per connection,
so that every new connection acquires credentials afresh and re-authenticates
(as the Java client does). Every call of an exchange may block (it reads
keytabs and credential caches and talks to the KDC): the session runs them in a
worker thread. ``gssapi`` is imported only when an exchange starts, so the rest
of the package works without it; it comes with the ``kerberos`` extra
(``pip install trio-zookeeper[kerberos]``).

The exchange follows RFC 4752 as the server's Java SASL implementation speaks
it: GSS-API context tokens until the context is established, then the server
sends a wrapped 4-byte security-layer offer and the client answers with a
wrapped ``[layer=1 (none), max buffer 0]`` followed by its principal name
(the authorisation id the Java client sends).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from typing import TYPE_CHECKING, Any

import attrs

from ._protocol._errors import AuthFailedError
from ._protocol._sasl import SaslExchange

if TYPE_CHECKING:
    import gssapi as _gssapi_module

__all__ = ["SaslGSSAPI"]

_NO_SECURITY_LAYER = 1
_SPACES = re.compile(r"\s+")
_STATUS_CODE = re.compile(r"\b(?:Major|Minor) \(\d+\): ")
_INSTALL_HINT = (
    "SASL GSSAPI (Kerberos) needs the gssapi package: pip install 'trio-zookeeper[kerberos]' "
    "(it builds against the MIT Kerberos headers: apt-get install libkrb5-dev)"
)


def _import_gssapi() -> Any:
    try:
        import gssapi
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return gssapi


def _one_line(exc: BaseException) -> str:
    gen = getattr(exc, "gen_message", None)
    text = _STATUS_CODE.sub("", str(gen() if callable(gen) else exc))
    text = text.replace(", Success", "").replace(", Unknown error", "")
    return _SPACES.sub(" ", text).strip()


def _canonical_host(host: str) -> str:
    """The host's canonical name, as Java's ``InetAddress.getCanonicalHostName``.

    Forward-resolves the name, then reverse-resolves the first address; when
    the reverse lookup fails the name is kept as given.
    """
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        address = str(infos[0][4][0])
        return socket.gethostbyaddr(address)[0]
    except (OSError, IndexError):
        return host


@attrs.frozen(kw_only=True)
class SaslGSSAPI:
    """SASL GSSAPI: authenticate with Kerberos, as the Java client's ``Client`` JAAS section.

    The session is then known by its Kerberos principal: ``who_am_i()`` lists
    ``("sasl", "<principal as the server maps it>")`` and ``sasl:`` ACLs name
    that id. The server principal is ``<service>/<host>`` (the host in lower
    case) in the client's default realm, unless ``server_principal`` names it
    outright.

    Credentials are acquired again on every connection: with a ``keytab``,
    fresh tickets are obtained from the KDC whenever the cached ones are
    missing or about to expire, so a long-running service never needs
    ``kinit``; with a credential cache the tickets must be kept fresh by
    someone else (``kinit -R``, ``k5start``, a sidecar), and an expired
    ticket fails the connection with :class:`~trio_zookeeper.AuthFailedError`.

    Args:
        service: The service part of the server principal (Java's
            ``zookeeper.sasl.client.username``), ``"zookeeper"`` by default.
        hostname: The host part of the server principal; by default the host
            of the connect-string entry being connected to.
        canonicalize_hostname: Replace that host by its canonical name
            (forward then reverse DNS), as Java's
            ``zookeeper.sasl.client.canonicalize.hostname`` (true by default).
            Not applied to an explicit ``hostname``.
        server_principal: The whole server principal, e.g.
            ``"zookeeper/zk1.example.com@EXAMPLE.COM"`` (Java's
            ``zookeeper.server.principal``); overrides the three options above.
        principal: The client principal, e.g. ``"app@EXAMPLE.COM"``; by
            default the principal of the credential cache (or the keytab's).
        keytab: Log in from this keytab file (Java's ``useKeyTab=true
            keyTab=...``); tickets are kept in a private in-memory cache.
        ccache: The credential cache to use (e.g. ``"FILE:/tmp/krb5cc_app"``);
            by default ``KRB5CCNAME`` or the system default. Ignored with a keytab.

    Raises:
        ImportError: The ``gssapi`` package is missing (the message names the
            ``kerberos`` extra).
        ValueError: An option is empty or malformed.
    """

    service: str = "zookeeper"
    hostname: str | None = None
    canonicalize_hostname: bool = True
    server_principal: str | None = None
    principal: str | None = None
    keytab: str | os.PathLike[str] | None = None
    ccache: str | None = None
    _memory_ccache: str = attrs.field(
        init=False, eq=False, repr=False, factory=lambda: f"MEMORY:tzk-{secrets.token_hex(8)}"
    )

    def __attrs_post_init__(self) -> None:
        _import_gssapi()  # fail here, naming the extra, rather than at connect time
        if not self.service or "/" in self.service or "@" in self.service:
            raise ValueError(f"SaslGSSAPI service must be a plain name, not {self.service!r}")
        for name in ("hostname", "server_principal", "principal", "ccache"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"SaslGSSAPI {name} must be a non-empty string or None")
        if self.keytab is not None and not os.fspath(self.keytab):
            raise ValueError("SaslGSSAPI keytab must be a path or None")

    @property
    def mechanism(self) -> str:
        """``"GSSAPI"``."""
        return "GSSAPI"

    def exchange(self, server_host: str) -> SaslExchange:
        """A new Kerberos exchange with the server at ``server_host`` (does not block).

        Args:
            server_host: The host of the connect-string entry being connected to.

        Returns:
            The exchange; its calls block and run in a worker thread.
        """
        return _GSSAPIExchange(self, server_host)

    def target_principal(self, server_host: str, *, resolve: bool = True) -> str:
        """The server principal this mechanism authenticates to (may do DNS: blocking).

        Args:
            server_host: The host of the connect-string entry being connected to.
            resolve: Apply ``canonicalize_hostname`` (forward and reverse DNS).

        Returns:
            ``server_principal`` when given, else ``"<service>/<host>"``.
        """
        if self.server_principal is not None:
            return self.server_principal
        host = self.hostname
        if host is None:
            host = server_host.strip("[]")
            if self.canonicalize_hostname and resolve:
                host = _canonical_host(host)
        return f"{self.service}/{host.lower()}"


class _GSSAPIExchange:
    """One GSSAPI authentication (blocking calls: the session threads them)."""

    blocking = True

    def __init__(self, config: SaslGSSAPI, server_host: str) -> None:
        self._config = config
        self._server_host = server_host
        self._context: _gssapi_module.SecurityContext | None = None
        self._target = ""
        self._done = False

    def _credentials(self, gssapi: Any) -> Any:
        config = self._config
        name = (
            None
            if config.principal is None
            else gssapi.Name(config.principal, gssapi.NameType.kerberos_principal)
        )
        store: dict[bytes, bytes] | None = None
        source = "the default credential cache"
        if config.keytab is not None:
            keytab = os.fspath(config.keytab)
            if not os.path.isfile(keytab):
                raise AuthFailedError(f"Kerberos: the keytab {keytab} does not exist")
            if not os.access(keytab, os.R_OK):
                raise AuthFailedError(f"Kerberos: the keytab {keytab} is not readable")
            store = {
                b"client_keytab": keytab.encode(),
                b"ccache": config._memory_ccache.encode(),
            }
            source = f"keytab {keytab}"
        elif config.ccache is not None:
            store = {b"ccache": config.ccache.encode()}
            source = f"credential cache {config.ccache}"
        who = config.principal or "the default principal"
        try:
            creds = gssapi.Credentials(name=name, usage="initiate", store=store)
            lifetime = creds.lifetime  # raises if the tickets have expired
        except gssapi.exceptions.ExpiredCredentialsError as exc:
            raise AuthFailedError(
                f"Kerberos: the ticket of {who} in {source} has expired "
                "(renew it with kinit, or log in from a keytab)"
            ) from exc
        except gssapi.exceptions.GSSError as exc:
            hint = ""
            detail = _one_line(exc)
            if (
                config.keytab is not None
                and config.principal is not None
                and "Kerberos database" not in detail
            ):
                hint = f" (is {config.principal} in the keytab? see klist -k)"
            raise AuthFailedError(
                f"Kerberos: no credentials for {who} from {source}: {detail}{hint}"
            ) from exc
        if lifetime is not None and lifetime <= 0:
            raise AuthFailedError(
                f"Kerberos: the ticket of {who} in {source} has expired "
                "(renew it with kinit, or log in from a keytab)"
            )
        return creds

    def initial_token(self) -> bytes:
        gssapi = _import_gssapi()
        creds = self._credentials(gssapi)
        self._target = self._config.target_principal(self._server_host)
        target = gssapi.Name(self._target, gssapi.NameType.kerberos_principal)
        flags = (
            gssapi.RequirementFlag.mutual_authentication
            | gssapi.RequirementFlag.integrity
            | gssapi.RequirementFlag.out_of_sequence_detection
        )
        self._context = gssapi.SecurityContext(
            name=target, creds=creds, usage="initiate", mech=gssapi.MechType.kerberos, flags=flags
        )
        return self._step(gssapi, None)

    def _step(self, gssapi: Any, token: bytes | None) -> bytes:
        assert self._context is not None
        try:
            return bytes(self._context.step(token) or b"")
        except gssapi.exceptions.GSSError as exc:
            raise AuthFailedError(
                f"Kerberos: cannot authenticate to {self._target}: {_one_line(exc)}"
            ) from exc

    def respond(self, challenge: bytes) -> bytes | None:
        if self._done:
            return None
        gssapi = _import_gssapi()
        context = self._context
        assert context is not None, "initial_token() first"
        if not context.complete:
            return self._step(gssapi, challenge)
        # The security-layer negotiation (RFC 4752 section 3.1).
        try:
            offer = context.unwrap(challenge).message
        except gssapi.exceptions.GSSError as exc:
            raise AuthFailedError(
                f"Kerberos: the server's security-layer offer is invalid: {_one_line(exc)}"
            ) from exc
        if len(offer) != 4:
            raise AuthFailedError(
                f"Kerberos: the server's security-layer offer has {len(offer)} bytes, not 4"
            )
        if not offer[0] & _NO_SECURITY_LAYER:
            raise AuthFailedError(
                "Kerberos: the server requires a SASL security layer (integrity or "
                "privacy), which ZooKeeper clients do not use"
            )
        authzid = str(context.initiator_name).encode("utf-8")
        answer = bytes([_NO_SECURITY_LAYER, 0, 0, 0]) + authzid
        self._done = True
        return bytes(context.wrap(answer, False).message)
