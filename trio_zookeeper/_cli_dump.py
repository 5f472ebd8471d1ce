"""The command line's dump file format: writing it node by node, and reading it.

A dump is one JSON document::

    {"format": "trio-zookeeper-dump", "version": 2, "path": "/app",
     "nodes": [
      {"path": "", "data": "root data", "acl": ["world:anyone:cdrwa"]},
      {"path": "config", "data": {"base64": "AAE="}, "acl": ["digest:admin:HASH:cdrwa"]},
      {"path": "config/lease", "data": "", "mode": "ttl", "ttl": 60000},
      {"path": "jobs", "data": "", "mode": "container"}
     ]}

``nodes`` lists the subtree flat (so a tree of any depth reads and writes
without recursion), each parent before its children; ``path`` is relative to
the dumped root (``""`` is the root). ``data`` is UTF-8 text, or
``{"base64": ...}`` for other bytes. ``acl`` (optional; default
``world:anyone:cdrwa``) holds zkCli-style ``scheme:id:perms`` entries.
``mode`` (optional) is ``persistent`` (the default), ``container``, ``ttl``
(with ``ttl`` in milliseconds) or ``ephemeral``: ZooKeeper 3.8 does not tell
clients which nodes are containers or TTL nodes, so a dump only writes
``ephemeral`` itself (when asked to keep ephemeral nodes); a user declares the
others by editing the file, and ``load`` honours them. Version 1 files (a
nested ``root`` with ``data`` and ``children``, no ACLs) are still read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable

import attrs

from ._protocol import ACL, CreateMode, Id, validate_path

__all__ = [
    "DUMP_FORMAT",
    "DUMP_VERSION",
    "DumpError",
    "DumpNode",
    "DumpWriter",
    "acl_text",
    "decode_data",
    "encode_data",
    "parse_acl_entry",
    "parse_dump",
    "perms_text",
]

DUMP_FORMAT = "trio-zookeeper-dump"
DUMP_VERSION = 2

# zkCli's letters, in zkCli's order.
PERM_LETTERS: tuple[tuple[str, int], ...] = (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16))

MODES: dict[str, CreateMode] = {
    "persistent": CreateMode.PERSISTENT,
    "container": CreateMode.CONTAINER,
    "ttl": CreateMode.PERSISTENT_WITH_TTL,
    "ephemeral": CreateMode.EPHEMERAL,
}


class DumpError(Exception):
    """A dump file that cannot be read (the message says where and why)."""


class AclError(ValueError):
    """An ACL entry that is not ``scheme:id:perms``."""


def encode_data(data: bytes) -> str | dict[str, str]:
    """Data as JSON: text when it is UTF-8, else ``{"base64": ...}``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def decode_data(value: object, where: str) -> bytes:
    """The inverse of :func:`encode_data` (``null`` is empty data)."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"} and isinstance(value["base64"], str):
        try:
            return base64.b64decode(value["base64"], validate=True)
        except binascii.Error as exc:
            raise DumpError(f"bad base64 data at {where}: {exc}") from None
    raise DumpError(f'data at {where} must be a string, {{"base64": ...}} or null')


def perms_text(perms: int) -> str:
    """Permission bits as zkCli's letters (``cdrwa``)."""
    return "".join(letter for letter, bit in PERM_LETTERS if perms & bit)


def acl_text(acl: ACL) -> str:
    """An ACL entry as ``scheme:id:perms``."""
    return f"{acl.id.scheme}:{acl.id.id}:{perms_text(acl.perms)}"


def parse_acl_entry(text: str) -> ACL:
    """``scheme:id:perms`` (the id may itself contain ``:``) to an ACL entry.

    Raises:
        AclError: The entry is malformed.
    """
    scheme, sep, rest = text.partition(":")
    ident, sep2, letters = rest.rpartition(":")
    if not scheme or not sep or not sep2:
        raise AclError(
            f"invalid ACL entry {text!r}: expected SCHEME:ID:PERMS, e.g. world:anyone:cdrwa"
        )
    perms = 0
    bits = dict(PERM_LETTERS)
    for letter in letters:
        if letter not in bits:
            raise AclError(
                f"invalid ACL entry {text!r}: unknown permission {letter!r} "
                "(use the letters c, d, r, w, a)"
            )
        perms |= bits[letter]
    if not perms:
        raise AclError(f"invalid ACL entry {text!r}: no permissions (use letters of cdrwa)")
    return ACL(perms=perms, id=Id(scheme=scheme, id=ident))


@attrs.frozen
class DumpNode:
    """One node read from a dump file.

    Attributes:
        path: Relative to the dumped root (``""`` for the root).
        data: The data.
        acl: The ACL, or None for the default.
        mode: ``persistent``, ``container``, ``ttl`` or ``ephemeral``.
        ttl: The TTL in milliseconds (``ttl`` mode only).
    """

    path: str
    data: bytes
    acl: tuple[ACL, ...] | None = None
    mode: str = "persistent"
    ttl: int | None = None

    @property
    def depth(self) -> int:
        """0 for the root, 1 for its children, ..."""
        return self.path.count("/") + 1 if self.path else 0


class DumpWriter:
    """Writes a dump as the nodes come (parents first).

    Args:
        write: Where the text goes: a file's ``write``, or the command
            line's output (``dump -``).
        root: The dumped root.
    """

    def __init__(self, write: Callable[[str], object], root: str) -> None:
        self._write = write
        self._first = True
        self._root = root
        header = json.dumps({"format": DUMP_FORMAT, "version": DUMP_VERSION, "path": root})
        write(header[:-1] + ', "nodes": [\n')
        self.count = 0

    def add(
        self,
        path: str,
        data: bytes,
        acl: tuple[ACL, ...] | None,
        *,
        mode: str | None = None,
    ) -> None:
        """Write one node (``path`` absolute, under the dumped root)."""
        relative = "" if path == self._root else path[len(self._root) :].lstrip("/")
        entry: dict[str, object] = {"path": relative, "data": encode_data(data)}
        if acl is not None:
            entry["acl"] = [acl_text(a) for a in acl]
        if mode is not None:
            entry["mode"] = mode
        self._write(("" if self._first else ",\n") + json.dumps(entry, ensure_ascii=False))
        self._first = False
        self.count += 1

    def close(self) -> None:
        """Finish the document."""
        self._write("\n]}\n")


def _parse_v2_node(value: object, index: int, seen: set[str]) -> DumpNode:
    where = f"nodes[{index}]"
    if not isinstance(value, dict):
        raise DumpError(f"{where} must be an object")
    unknown = set(value) - {"path", "data", "acl", "mode", "ttl"}
    if unknown:
        raise DumpError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}")
    path = value.get("path")
    if not isinstance(path, str):
        raise DumpError(f"{where}: path must be a string")
    if path:
        try:
            validate_path("/" + path)
        except ValueError as exc:
            raise DumpError(f"{where}: bad path {path!r}: {exc}") from None
        parent = path.rpartition("/")[0]
        if parent not in seen:
            raise DumpError(f"{where}: {path!r} comes before its parent {parent or '(root)'!r}")
    elif index:
        raise DumpError(f'{where}: only the first node may be the root (path "")')
    if path in seen:
        raise DumpError(f"{where}: {path!r} appears twice")
    where = f"{where} ({path or 'root'})"
    acl: tuple[ACL, ...] | None = None
    if "acl" in value:
        entries = value["acl"]
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise DumpError(f"{where}: acl must be a list of SCHEME:ID:PERMS strings")
        if not entries:
            raise DumpError(f"{where}: acl must not be empty")
        try:
            acl = tuple(parse_acl_entry(e) for e in entries)
        except AclError as exc:
            raise DumpError(f"{where}: {exc}") from None
    mode = value.get("mode", "persistent")
    if mode not in MODES:
        raise DumpError(f"{where}: mode must be one of {', '.join(MODES)}, not {mode!r}")
    ttl = value.get("ttl")
    if mode == "ttl":
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1:
            raise DumpError(f"{where}: mode ttl needs a positive integer ttl (milliseconds)")
    elif ttl is not None:
        raise DumpError(f"{where}: ttl is only for mode ttl")
    return DumpNode(path, decode_data(value.get("data"), where), acl, mode, ttl)


def _parse_v1(root: object) -> list[DumpNode]:
    """The nested version 1 layout, flattened (iteratively)."""
    nodes: list[DumpNode] = []
    stack: list[tuple[str, object]] = [("", root)]
    while stack:
        path, value = stack.pop()
        where = path or "root"
        if not isinstance(value, dict):
            raise DumpError(f"the node at {where} must be an object")
        children = value.get("children", {})
        if not isinstance(children, dict):
            raise DumpError(f"children at {where} must be an object")
        nodes.append(DumpNode(path, decode_data(value.get("data"), where)))
        for name, child in reversed(list(children.items())):
            if not name or "/" in name:
                raise DumpError(f"bad child name {name!r} at {where}")
            try:
                validate_path("/" + name)
            except ValueError:
                raise DumpError(f"bad child name {name!r} at {where}") from None
            stack.append((f"{path}/{name}" if path else name, child))
    return nodes


def parse_dump(raw: bytes) -> list[DumpNode]:
    """The nodes of a dump file, parents first.

    Raises:
        DumpError: The file is not a dump this version can read.
    """
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DumpError(f"not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != DUMP_FORMAT:
        raise DumpError("not a trio-zookeeper dump")
    version = document.get("version")
    if version == 1:
        return _parse_v1(document.get("root"))
    if version != DUMP_VERSION:
        raise DumpError(f"version {version!r} (this version reads versions 1 and {DUMP_VERSION})")
    entries = document.get("nodes")
    if not isinstance(entries, list) or not entries:
        raise DumpError("nodes must be a non-empty list")
    seen: set[str] = set()
    nodes = []
    for index, value in enumerate(entries):
        node = _parse_v2_node(value, index, seen)
        seen.add(node.path)
        nodes.append(node)
    if nodes[0].path != "":
        raise DumpError('the first node must be the root (path "")')
    return nodes
