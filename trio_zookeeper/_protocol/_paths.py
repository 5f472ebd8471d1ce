"""Path rules (ZooKeeper's ``PathUtils.validatePath``) and chroot handling.

A chroot comes from the connect string (``"h1:2181,h2:2181/app"``); it is
prefixed to every path the client sends (including inside multi and
SetWatches) and stripped from every path it receives (create results, watch
events, multi results).
"""

from __future__ import annotations

import re

__all__ = ["CONFIG_NODE", "Chroot", "validate_path"]

#: The ensemble's dynamic configuration: outside any chroot, read as it is.
CONFIG_NODE = "/zookeeper/config"

# The characters PathUtils rejects: NUL, U+0001-U+001F, U+007F-U+009F,
# U+D800-U+F8FF, U+FFF0-U+FFFF, and anything beyond the BMP (a surrogate pair
# in Java, so rejected there too). One C-level scan instead of a Python loop.
_INVALID_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\uf8ff\ufff0-\U0010ffff]")
# Paths validated recently, plain and sequential: the same few paths are used
# again and again, and a set lookup is cheaper than re-checking (bounded,
# cleared when full). Keyed by the path alone, so that a burst of distinct
# paths (10,000 watches) allocates nothing here but the set's own table.
_VALID: set[str] = set()
_VALID_SEQUENTIAL: set[str] = set()
_VALID_MAX = 1024


def validate_path(path: object, *, sequential: bool = False) -> str:
    """Check a node path with ZooKeeper's own rules.

    Args:
        path: The path to check.
        sequential: True when the server will append a sequence number, so the
            path may end with ``/`` (the node name is then just the number).

    Returns:
        The path, unchanged.

    Raises:
        TypeError: ``path`` is not a string.
        ValueError: the path is invalid; the message says why.
    """
    if not isinstance(path, str):
        raise TypeError(f"a ZooKeeper path must be a str, not {type(path).__name__}")
    valid = _VALID_SEQUENTIAL if sequential else _VALID
    if path in valid:
        return path
    _check(path, sequential)
    if len(valid) >= _VALID_MAX:
        valid.clear()
    valid.add(path)
    return path


def _check(path: str, sequential: bool) -> None:
    if not path:
        raise ValueError("invalid path '': a path may not be empty")
    if path[0] != "/":
        raise ValueError(f"invalid path {path!r}: a path must start with '/'")
    if len(path) == 1:
        return
    check = path + "0" if sequential else path
    if check[-1] == "/":
        raise ValueError(f"invalid path {path!r}: a path may not end with '/'")
    for i, segment in enumerate(check[1:].split("/")):
        if segment == "":
            raise ValueError(f"invalid path {path!r}: empty segment (double '/')")
        if segment in (".", ".."):
            raise ValueError(f"invalid path {path!r}: relative segment {segment!r} at {i + 1}")
    bad = _INVALID_CHAR.search(path)
    if bad is not None:
        raise ValueError(
            f"invalid path {path!r}: invalid character U+{ord(bad.group()):04X} "
            f"at index {bad.start()}"
        )


class Chroot:
    """Prefixes and strips a chroot path.

    ``Chroot(None)`` and ``Chroot("/")`` do nothing.
    """

    __slots__ = ("prefix",)

    def __init__(self, root: str | None) -> None:
        if root in (None, "", "/"):
            self.prefix = ""
        else:
            validate_path(root)
            self.prefix = root

    def __bool__(self) -> bool:
        return bool(self.prefix)

    def __repr__(self) -> str:
        return f"Chroot({self.prefix or '/'!r})"

    def apply(self, path: str) -> str:
        """The server-side path of a client path."""
        if not self.prefix:
            return path
        if path == "/":
            return self.prefix
        return self.prefix + path

    def strip(self, path: str) -> str:
        """The client path of a server-side path.

        A path outside the chroot (which a well-behaved server never sends) is
        returned unchanged rather than mangled.
        """
        prefix = self.prefix
        if not prefix:
            return path
        if path == prefix:
            return "/"
        if path.startswith(prefix) and path[len(prefix)] == "/":
            return path[len(prefix) :]
        return path
