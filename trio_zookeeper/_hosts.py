"""Connect strings: ``"h1:2181,h2:2182,[::1]:2183/chroot"``.

Facts from ZooKeeper's ``ConnectStringParser``: the chroot is everything from
the first ``/``; ``/`` alone means no chroot; a host without a port gets
2181. IPv6 literals are written in brackets.
"""

from __future__ import annotations

from ._protocol import validate_path
from ._protocol._valuerecord import ValueRecord

__all__ = ["ConnectString", "HostPort", "parse_connect_string"]

DEFAULT_PORT = 2181


class HostPort(ValueRecord):
    """One server address of a connect string."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class ConnectString(ValueRecord):
    """A parsed connect string: the servers, in the order given, and the chroot."""

    hosts: tuple[HostPort, ...]
    chroot: str | None


def _parse_host(item: str, whole: str) -> HostPort:
    item = item.strip()
    if not item:
        raise ValueError(f"invalid connect string {whole!r}: empty host entry")
    port_text: str | None
    if item.startswith("["):
        close = item.find("]")
        if close < 0:
            raise ValueError(f"invalid connect string {whole!r}: unclosed '[' in {item!r}")
        host = item[1:close]
        rest = item[close + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"invalid connect string {whole!r}: junk after ']' in {item!r}")
        port_text = rest[1:] if rest else None
    elif item.count(":") > 1:
        raise ValueError(
            f"invalid connect string {whole!r}: IPv6 address {item!r} must be in brackets,"
            " e.g. [::1]:2181"
        )
    else:
        host, _, port_text = item.partition(":")
        port_text = port_text or None
    if not host:
        raise ValueError(f"invalid connect string {whole!r}: no host in {item!r}")
    port = DEFAULT_PORT
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"invalid connect string {whole!r}: bad port in {item!r}")
        port = int(port_text)
    return HostPort(host, port)


def parse_connect_string(text: str) -> ConnectString:
    """Parse ``"host:port[,host:port...][/chroot]"``.

    Raises:
        ValueError: the string is malformed; the message names the bad part.
    """
    if not isinstance(text, str):
        raise TypeError(f"the connect string must be a str, not {type(text).__name__}")
    hosts_part, slash, root = text.partition("/")
    chroot: str | None = None
    if slash and root:
        chroot = "/" + root
        try:
            validate_path(chroot)
        except ValueError as exc:
            raise ValueError(f"invalid chroot in connect string {text!r}: {exc}") from None
    if not hosts_part.strip():
        raise ValueError(f"invalid connect string {text!r}: no hosts")
    hosts = tuple(_parse_host(item, text) for item in hosts_part.split(","))
    return ConnectString(hosts, chroot)
