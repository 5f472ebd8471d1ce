"""The ``trio-zookeeper`` command line (also ``python -m trio_zookeeper``).

Everyday work against any ZooKeeper ensemble, with zkCli's commands and flags
as well as our own::

    trio-zookeeper -H 127.0.0.1:2181 ls -R /app
    trio-zookeeper create -p /app/config/db 'host=db1'
    trio-zookeeper create -e -s /app/workers/w- '' 'world:anyone:r'
    trio-zookeeper get -s /app/config/db
    trio-zookeeper getAllChildrenNumber /app
    trio-zookeeper watch -r /app            # until Ctrl-C
    trio-zookeeper dump /app > app.json && trio-zookeeper load /app-copy app.json
    trio-zookeeper setAcl -R /app digest:admin:<hash>:cdrwa,world:anyone:r
    trio-zookeeper status mntr
    trio-zookeeper shell                    # many commands, one session

The connect string comes from ``--hosts``/``-H``, else ``$ZOOKEEPER_HOSTS``,
else ``127.0.0.1:2181``. Output is meant for people unless ``--json`` is
given. Exit status: 0 on success, 1 on an error (one line, ``error: ...``, on
stderr; with ``--json`` one ``{"error": {...}}`` object on stdout), 2 on a
usage error, 3 when a recursive command could not read part of the tree (it
printed the rest, and a warning naming each node it could not read), 130 when
interrupted (except the commands that watch until Ctrl-C, which exit 0).

The recursive commands (``ls -R``, ``tree``, ``dump``, ``load``,
``deleteall``, ``setAcl -R``) keep many requests in flight, stream their
output, have no depth limit, and show progress on stderr when it is a
terminal. The dump format is described in :mod:`trio_zookeeper._cli_dump`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import re
import signal
import ssl
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import IO, Any, NoReturn

import attrs
import trio

from ._acl import OPEN_ACL_UNSAFE, make_digest_acl_credential
from ._cli_dump import (
    MODES as DUMP_MODES,
)
from ._cli_dump import (
    AclError,
    DumpError,
    DumpNode,
    DumpWriter,
    acl_text,
    encode_data,
    parse_acl_entry,
    parse_dump,
    perms_text,
)
from ._client import MAX_TTL_MS, ZooKeeper, open_zookeeper
from ._hosts import HostPort, parse_connect_string
from ._net import four_letter_word
from ._protocol import (
    ACL,
    DEFAULT_MAX_FRAME_SIZE,
    AddWatchMode,
    CreateMode,
    EventType,
    Stat,
    WatchedEvent,
    WatcherType,
    validate_path,
)
from ._protocol._errors import (
    BadVersionError,
    ConnectionLossError,
    InvalidACLError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    ServerError,
    UnimplementedError,
    ZooKeeperError,
)
from ._session import ConnectFailedError
from ._tree import delete_subtree, join_path, walk_tree
from ._version import __version__

__all__ = ["CommandError", "main"]

PROG = "trio-zookeeper"
HOSTS_ENV = "ZOOKEEPER_HOSTS"
DEFAULT_HOSTS = "127.0.0.1:2181"
DEFAULT_TIMEOUT = 10.0

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

_MODES: dict[str, CreateMode] = {
    "persistent": CreateMode.PERSISTENT,
    "ephemeral": CreateMode.EPHEMERAL,
    "sequential": CreateMode.PERSISTENT_SEQUENTIAL,
    "ephemeral-sequential": CreateMode.EPHEMERAL_SEQUENTIAL,
    "container": CreateMode.CONTAINER,
    "ttl": CreateMode.PERSISTENT_WITH_TTL,
    "ttl-sequential": CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL,
}

# Every four-letter word ZooKeeper 3.8 knows (stmk, which takes an argument, aside).
_STATUS_WORDS = (
    "srvr",
    "mntr",
    "ruok",
    "stat",
    "conf",
    "envi",
    "cons",
    "crst",
    "dirs",
    "dump",
    "gtmk",
    "hash",
    "isro",
    "srst",
    "wchc",
    "wchp",
    "wchs",
)
_NOT_WHITELISTED = re.compile(r"\bis not executed because it is not in the whitelist\b")

_ZXID_FIELDS = frozenset({"czxid", "mzxid", "pzxid"})
_TIME_FIELDS = frozenset({"ctime", "mtime"})

_QUOTA_ROOT = "/zookeeper/quota"
_QUOTA_LIMITS = "zookeeper_limits"
_QUOTA_STATS = "zookeeper_stats"
# setquota/delquota flag -> StatsTrack key.
_QUOTA_KEYS = {"n": "count", "b": "bytes", "N": "countHardLimit", "B": "byteHardLimit"}
_QUOTA_FLAGS = (
    ("-n", "node count, soft"),
    ("-b", "bytes, soft"),
    ("-N", "node count, hard"),
    ("-B", "bytes, hard"),
)

_LOAD_BATCH = 500  # creates per transaction in load
_LOAD_BATCH_BYTES = 256 * 1024  # request bytes per transaction: well below jute.maxbuffer
_PROGRESS_INTERVAL = 0.2  # seconds between progress updates on a terminal

# Commands that wait for events until Ctrl-C (or a count): Ctrl-C is their
# normal end, so it exits 0.
_WATCHING = frozenset({"watch", "addWatch"})


class CommandError(Exception):
    """An expected failure of a command, reported as one ``error: ...`` line.

    Args:
        message: What went wrong (one line).
        exit_code: The process exit status (1 by default).
    """

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _UsageError(Exception):
    """A bad argument: one ``error: ...`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exceptions (so the shell survives them)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}" if self.prog.strip() else message)


@attrs.frozen
class _Connection:
    hosts: str
    timeout: float
    auth: tuple[tuple[str, str], ...]
    ssl_context: ssl.SSLContext | None
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE


# ================================================================== output
class _Output:
    """Where results go: stdout for results, stderr for notes, warnings and progress."""

    def __init__(self, *, as_json: bool) -> None:
        self.json = as_json
        self.warnings = 0
        self._progress_shown = False
        self._progress_at = -math.inf

    def line(self, text: str = "") -> None:
        self.clear_progress()
        print(text, file=sys.stdout, flush=True)

    def json_value(self, value: object, *, compact: bool = False) -> None:
        text = json.dumps(value, separators=(",", ":")) if compact else json.dumps(value, indent=2)
        self.line(text)

    def note(self, text: str) -> None:
        self.clear_progress()
        print(text, file=sys.stderr, flush=True)

    def warning(self, text: str) -> None:
        self.warnings += 1
        self.note(f"warning: {text}")

    def raw(self, data: bytes) -> None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    def progress(self, text: str, *, force: bool = False) -> None:
        """Show ``text`` as progress on stderr, if it is a terminal (throttled)."""
        if not _isatty(sys.stderr):
            return
        now = trio.current_time()
        if not force and now - self._progress_at < _PROGRESS_INTERVAL:
            return
        self._progress_at = now
        sys.stderr.write(f"\r\x1b[K{text}")
        sys.stderr.flush()
        self._progress_shown = True

    def clear_progress(self) -> None:
        if self._progress_shown:
            self._progress_shown = False
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


class _JsonList:
    """Streams a JSON array to stdout, one item per line."""

    def __init__(self, out: _Output) -> None:
        self._out = out
        self._first = True

    def add(self, value: object) -> None:
        self._out.clear_progress()
        sys.stdout.write(("[\n  " if self._first else ",\n  ") + json.dumps(value))
        self._first = False

    def close(self) -> None:
        sys.stdout.write("[]\n" if self._first else "\n]\n")
        sys.stdout.flush()


def _stat_dict(stat: Stat) -> dict[str, int]:
    return {name: int(value) for name, value in attrs.asdict(stat).items()}


def _format_millis(millis: int) -> str:
    if millis <= 0:
        return str(millis)
    when = datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.UTC)
    return f"{when.isoformat(timespec='milliseconds').replace('+00:00', 'Z')} ({millis})"


def _stat_lines(stat: Stat) -> list[str]:
    fields = _stat_dict(stat)
    width = max(len(name) for name in fields)
    lines = []
    for name, value in fields.items():
        if name in _ZXID_FIELDS or (name == "ephemeral_owner" and value):
            shown = hex(value)
        elif name in _TIME_FIELDS:
            shown = _format_millis(value)
        else:
            shown = str(value)
        lines.append(f"{name:<{width}} = {shown}")
    return lines


def _acl_json(acl: Sequence[ACL]) -> list[dict[str, str]]:
    return [{"scheme": a.id.scheme, "id": a.id.id, "perms": perms_text(a.perms)} for a in acl]


def _parse_acl_entry(text: str) -> ACL:
    try:
        return parse_acl_entry(text)
    except AclError as exc:
        raise _UsageError(str(exc)) from None


def _parse_acl_list(text: str) -> list[ACL]:
    """ZkCli's ``scheme:id:perms[,scheme:id:perms...]``."""
    entries = [e for e in text.split(",") if e]
    if not entries:
        raise _UsageError(f"invalid ACL {text!r}: expected SCHEME:ID:PERMS[,...]")
    return [_parse_acl_entry(e) for e in entries]


def _error_message(exc: BaseException) -> str | None:
    """The one-line message for an expected error, or None for a bug."""
    if isinstance(exc, CommandError):
        return str(exc)
    if isinstance(exc, ServerError):
        path = exc.path
        labels: tuple[tuple[type[ServerError], str], ...] = (
            (NoNodeError, "no node"),
            (NodeExistsError, "node exists"),
            (NotEmptyError, "node has children (use delete -r or deleteall)"),
            (BadVersionError, "version mismatch"),
            (NoAuthError, "not authorized"),
            (InvalidACLError, "invalid ACL"),
            (NoChildrenForEphemeralsError, "ephemeral nodes cannot have children"),
        )
        for cls, label in labels:
            if isinstance(exc, cls):
                return f"{label}: {path}" if path else label
        if isinstance(exc, UnimplementedError):
            hint = "not implemented by the server (TTL nodes need zookeeper.extendedTypesEnabled)"
            return f"{hint}: {path}" if path else hint
    if isinstance(exc, ZooKeeperError):
        return str(exc)
    if isinstance(exc, trio.ClosedResourceError):
        return "the session was closed"
    return None


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out += _leaves(inner)
        return out
    return [exc]


def _error_object(exc: BaseException, message: str) -> dict[str, object]:
    """The ``{"error": {...}}`` object ``--json`` prints for an error."""
    if isinstance(exc, _UsageError):
        kind = "UsageError"
    elif isinstance(exc, CommandError):
        kind = "CommandError"
    else:
        kind = type(exc).__name__
    error: dict[str, object] = {"type": kind, "message": message}
    path = getattr(exc, "path", None)
    if isinstance(exc, ServerError) and path:
        error["path"] = path
    if isinstance(exc, ServerError):
        error["code"] = int(exc.code) if hasattr(exc, "code") else None
    if isinstance(exc, ConnectFailedError):
        error["causes"] = dict(exc.causes)
    return {"error": error}


# ================================================================== parser
def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _quota_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < -1:
        raise argparse.ArgumentTypeError(f"must be -1 (no limit) or more: {text!r}")
    return value


def _version_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not -1 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"out of range (-1 means any version): {text!r}")
    return value


def _node_path(text: str) -> str:
    try:
        return validate_path(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_connection_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # The options are accepted before and after the subcommand; after it they
    # default to SUPPRESS so that they do not hide values given before it.
    def default(value: object) -> dict[str, Any]:
        return {"default": value if top else argparse.SUPPRESS}

    group = parser.add_argument_group("connection and output options")
    group.add_argument(
        "-H",
        "--hosts",
        metavar="HOSTS",
        help=f"connect string host:port[,host:port...][/chroot] "
        f"(default: ${HOSTS_ENV}, else {DEFAULT_HOSTS})",
        **default(None),
    )
    group.add_argument(
        "--auth",
        action="append",
        metavar="SCHEME:CREDENTIAL",
        dest="auth" if top else "auth_late",
        help="authenticate the session, e.g. digest:user:password (repeatable)",
        **default([]),
    )
    group.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help=f"session timeout, and bound on connecting (default: {DEFAULT_TIMEOUT:g})",
        **default(DEFAULT_TIMEOUT),
    )
    group.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="use TLS, verifying the servers with this CA certificate file (PEM)",
        **default(None),
    )
    group.add_argument(
        "--max-frame-size",
        type=_positive_int,
        metavar="BYTES",
        help="the largest reply accepted: raise it for servers with a raised "
        f"jute.maxbuffer (default: {DEFAULT_MAX_FRAME_SIZE})",
        **default(DEFAULT_MAX_FRAME_SIZE),
    )
    group.add_argument(
        "--json",
        action="store_true",
        help="print machine-readable JSON instead of text (errors too)",
        **default(False),
    )
    verbose = ("-v", "--verbose") if top else ("--verbose",)
    group.add_argument(
        *verbose,
        action="count",
        dest="verbose" if top else "verbose_late",
        help="log what the client does on stderr (-vv: in detail)"
        + ("" if top else "; -v before the command"),
        **default(0),
    )


def _data_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "data",
        nargs="?",
        help="the data, as UTF-8 text" + ("" if required else " (default: empty)"),
    )
    parser.add_argument(
        "-f",
        "--file",
        metavar="FILE",
        help="read the data (raw bytes) from FILE instead ('-': standard input)",
    )


def _watch_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help=f"also leave a watch on the {what}, and print its event when it fires "
        "(a one-shot command waits for it)",
    )


def _build_parser(*, shell: bool = False) -> _Parser:
    common = _Parser(add_help=False)
    if not shell:
        _add_connection_options(common, top=False)
    else:
        common.add_argument("--json", action="store_true", help="print JSON instead of text")

    parser = _Parser(
        prog="" if shell else PROG,
        description="A command-line ZooKeeper client (trio_zookeeper), "
        "with zkCli's commands and flags.",
        epilog="Run '%(prog)s COMMAND --help' for a command's options.",
        add_help=not shell,
    )
    if not shell:
        _add_connection_options(parser, top=True)
        parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str,
        help_text: str,
        parent: argparse._SubParsersAction[_Parser] = commands,
        aliases: Sequence[str] = (),
    ) -> _Parser:
        return parent.add_parser(
            name, parents=[common], help=help_text, description=help_text, aliases=list(aliases)
        )

    # ------------------------------------------------------------ reading
    p = command("ls", "list the children of a node")
    p.add_argument("path", type=_node_path, nargs="?", default="/", help="the node (default: /)")
    p.add_argument(
        "-R", "--recursive", action="store_true", help="list every descendant, as full paths"
    )
    p.add_argument("-s", "--stat", action="store_true", help="also print the node's Stat")
    _watch_flag(p, "node's children")

    p = command("get", "print a node's data")
    p.add_argument("path", type=_node_path)
    p.add_argument("-s", "--stat", action="store_true", help="also print the node's Stat")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write the raw data to FILE ('-': standard output)"
    )
    _watch_flag(p, "node's data")

    p = command("stat", "print a node's Stat")
    p.add_argument("path", type=_node_path)
    _watch_flag(p, "node (created, changed or deleted)")

    p = command("getAllChildrenNumber", "print how many descendants a node has")
    p.add_argument("path", type=_node_path)

    p = command("getEphemerals", "list this session's ephemeral nodes (under a path)")
    p.add_argument("path", type=_node_path, nargs="?", default="/", help="(default: /)")

    p = command("tree", "draw a subtree")
    p.add_argument("path", type=_node_path, nargs="?", default="/", help="the root (default: /)")

    p = command("sync", "make the server catch up with the leader on a path")
    p.add_argument("path", type=_node_path)

    # ------------------------------------------------------------ writing
    p = command("create", "create a node (prints the created path)")
    p.add_argument("path", help="the node; with a sequential mode it may end with '/'")
    _data_options(p, required=False)
    p.add_argument(
        "acl_list",
        nargs="?",
        metavar="acl",
        help="zkCli-style ACL SCHEME:ID:PERMS[,...] (default: world:anyone:cdrwa)",
    )
    p.add_argument("-s", dest="sequential", action="store_true", help="sequential")
    p.add_argument(
        "-e",
        dest="ephemeral",
        action="store_true",
        help="ephemeral (lives as long as this command's session; in the shell, until it exits)",
    )
    p.add_argument("-c", dest="container", action="store_true", help="container")
    p.add_argument(
        "-t",
        dest="ttl",
        type=_positive_int,
        metavar="TTL",
        help="time to live in ms (a TTL node; with -s, sequential)",
    )
    p.add_argument(
        "-m",
        "--mode",
        choices=list(_MODES),
        metavar="MODE",
        help=f"instead of the flags, one of {', '.join(_MODES)}",
    )
    p.add_argument("--ttl", dest="ttl_long", type=_positive_int, metavar="MS", help="same as -t")
    p.add_argument(
        "-p", "--makepath", action="store_true", help="create missing parents (persistent)"
    )
    p.add_argument(
        "--acl",
        action="append",
        metavar="SCHEME:ID:PERMS",
        help="an ACL entry (repeatable; default: world:anyone:cdrwa)",
    )

    p = command("set", "replace a node's data")
    p.add_argument("path", type=_node_path)
    _data_options(p, required=True)
    p.add_argument(
        "-v",
        "--version",
        type=_version_int,
        default=-1,
        help="only if the node has this data version (default: any)",
    )
    p.add_argument("-s", "--stat", action="store_true", help="print the node's new Stat")

    p = command("delete", "delete a node")
    p.add_argument("path", type=_node_path)
    p.add_argument(
        "-r", "--recursive", action="store_true", help="delete its descendants first (deleteall)"
    )
    p.add_argument(
        "-v",
        "--version",
        type=_version_int,
        default=-1,
        help="only if the node has this data version (default: any)",
    )

    p = command("deleteall", "delete a node and everything under it", aliases=["rmr"])
    p.add_argument("path", type=_node_path)
    p.add_argument(
        "-b",
        "--batch",
        type=_positive_int,
        default=1000,
        metavar="BATCHSIZE",
        help="deletes per transaction (default: 1000)",
    )

    # --------------------------------------------------------------- ACLs
    p = command("getAcl", "print a node's ACL, one SCHEME:ID:PERMS per line")
    p.add_argument("path", type=_node_path)
    p.add_argument("-s", "--stat", action="store_true", help="also print the node's Stat")

    p = command("setAcl", "replace a node's ACL")
    p.add_argument("path", type=_node_path)
    p.add_argument("acl", metavar="acl", help="SCHEME:ID:PERMS[,SCHEME:ID:PERMS...]")
    p.add_argument(
        "-v",
        "--version",
        type=_version_int,
        default=-1,
        help="only if the node has this ACL version (aversion; default: any)",
    )
    p.add_argument("-s", "--stat", action="store_true", help="print the node's new Stat")
    p.add_argument("-R", "--recursive", action="store_true", help="also set it on every descendant")

    p = command("addauth", "authenticate the session (in the shell: for later commands)")
    p.add_argument("scheme", help="e.g. digest")
    p.add_argument("credential", metavar="auth", nargs="?", default="", help="e.g. user:password")

    p = command("whoami", "print who the session is authenticated as")

    acl_parser = commands.add_parser(
        "acl", help="get or set a node's ACL", description="Get or set a node's ACL."
    )
    acl_commands = acl_parser.add_subparsers(dest="acl_command", metavar="ACTION", required=True)
    p = command("get", "print a node's ACL, one SCHEME:ID:PERMS per line", acl_commands)
    p.add_argument("path", type=_node_path)
    p = command("set", "replace a node's ACL", acl_commands)
    p.add_argument("path", type=_node_path)
    p.add_argument(
        "entries",
        nargs="+",
        metavar="SCHEME:ID:PERMS",
        help="e.g. world:anyone:cdrwa, digest:user:HASH:rw, ip:127.0.0.1:r, auth::cdrwa",
    )
    p.add_argument(
        "-v",
        "--version",
        type=_version_int,
        default=-1,
        help="only if the node has this ACL version (aversion; default: any)",
    )
    p = command("digest", "print the digest id of USER:PASSWORD for a digest ACL", acl_commands)
    p.add_argument("credential", metavar="USER:PASSWORD")

    # ------------------------------------------------------------ watches
    p = command("watch", "print changes to a node (or subtree) until interrupted")
    p.add_argument("path", type=_node_path)
    p.add_argument(
        "-r", "--recursive", action="store_true", help="watch the whole subtree (recursive watch)"
    )
    p.add_argument(
        "-n", "--count", type=_positive_int, metavar="N", help="stop after N node events"
    )

    p = command(
        "addWatch",
        "add a persistent watch and print its events (a one-shot command: until interrupted)",
    )
    p.add_argument("path", type=_node_path)
    p.add_argument(
        "-m",
        "--mode",
        choices=["persistent", "persistentRecursive"],
        default="persistentRecursive",
        help="(default: persistentRecursive, as zkCli)",
    )
    p.add_argument(
        "-n", "--count", type=_positive_int, metavar="N", help="stop after N node events"
    )

    p = command("removewatches", "remove this session's watches on a node")
    p.add_argument("path", type=_node_path)
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("-c", dest="kind", action="store_const", const="c", help="child watches")
    kind.add_argument("-d", dest="kind", action="store_const", const="d", help="data watches")
    kind.add_argument("-a", dest="kind", action="store_const", const="a", help="all (default)")
    p.add_argument(
        "-l",
        dest="local",
        action="store_true",
        help="accepted for zkCli compatibility; the watches are removed on the server too",
    )

    # --------------------------------------------------- subtree transfer
    p = command(
        "dump",
        "write a subtree (data, ACLs; ephemeral nodes left out) as JSON",
    )
    p.add_argument("path", type=_node_path)
    p.add_argument("file", nargs="?", default="-", help="output file (default: standard output)")
    p.add_argument(
        "--ephemeral", action="store_true", help="also dump ephemeral nodes (marked as such)"
    )
    p.add_argument("--no-acl", action="store_true", help="leave the ACLs out")

    p = command("load", "create a subtree from a dump file")
    p.add_argument("path", type=_node_path, help="where to load it (need not be the dumped path)")
    p.add_argument("file", nargs="?", default="-", help="the dump file (default: standard input)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="also replace the data and ACL of existing nodes",
    )
    p.add_argument(
        "--ephemeral",
        action="store_true",
        help="create the file's ephemeral nodes as ephemeral nodes of this session "
        "(default: skip them)",
    )
    p.add_argument("--no-acl", action="store_true", help="ignore the file's ACLs")

    # ------------------------------------------------------------- quotas
    p = command("listquota", "print a node's quota and its usage")
    p.add_argument("path", type=_node_path)

    p = command("setquota", "set a quota on a node (the server warns or refuses when exceeded)")
    p.add_argument("path", type=_node_path)
    for flag, what in _QUOTA_FLAGS:
        p.add_argument(flag, dest=f"quota_{flag[1]}", type=_quota_int, metavar="VAL", help=what)

    p = command("delquota", "delete a node's quota (all of it, or the limits named)")
    p.add_argument("path", type=_node_path)
    for flag, what in _QUOTA_FLAGS:
        p.add_argument(flag, dest=f"quota_{flag[1]}", action="store_true", help=what)

    # ----------------------------------------------------------- ensemble
    p = command("config", "print the ensemble's configuration")
    p.add_argument("-c", dest="client_only", action="store_true", help="only the client addresses")
    p.add_argument("-s", "--stat", action="store_true", help="also print the Stat")
    _watch_flag(p, "configuration")

    p = command("reconfig", "change the ensemble's membership (needs reconfigEnabled)")
    p.add_argument("-s", "--stat", action="store_true", help="also print the Stat")
    p.add_argument(
        "-v",
        dest="from_config",
        type=lambda t: int(t, 16),
        default=-1,
        metavar="VERSION",
        help="only if the configuration has this version (hex, as 'config' shows it)",
    )
    p.add_argument("-file", dest="config_file", metavar="PATH", help="the new membership file")
    p.add_argument("-members", metavar="SERVERS", help="the new membership, comma-separated")
    p.add_argument("-add", metavar="SERVERS", help="servers joining, comma-separated")
    p.add_argument("-remove", metavar="IDS", help="server ids leaving, comma-separated")

    p = command("status", "ask each server of the connect string a four-letter word")
    p.add_argument(
        "word",
        nargs="?",
        default="srvr",
        choices=_STATUS_WORDS,
        help="the command (default: srvr; the server must allow it: 4lw.commands.whitelist)",
    )

    p = command("version", "print this program's version")
    if shell:
        command("connect", "connect to other hosts (or reconnect)").add_argument(
            "hosts", nargs="?", help="a connect string (default: the current one)"
        )
        command("close", "close the session (until 'connect')")
        command("help", "list the commands").add_argument("name", nargs="?")
        command("quit", "leave the shell", aliases=["exit"])
    else:
        command("shell", "run commands interactively (or from standard input), one session")
    return parser


# ============================================================== preparation
def _read_input(file: str) -> bytes:
    try:
        if file == "-":
            return sys.stdin.buffer.read()
        with open(file, "rb") as f:
            return f.read()
    except OSError as exc:
        raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None


def _connection(args: argparse.Namespace) -> _Connection:
    """The connection options (checked: bad ones are usage errors)."""
    hosts: str = args.hosts or os.environ.get(HOSTS_ENV, "").strip() or DEFAULT_HOSTS
    try:
        parse_connect_string(hosts)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    auth: list[tuple[str, str]] = []
    for item in [*args.auth, *getattr(args, "auth_late", [])]:
        scheme, sep, credential = item.partition(":")
        if not scheme or not sep:
            raise _UsageError(
                f"--auth takes SCHEME:CREDENTIAL, e.g. digest:user:password: {item!r}"
            )
        auth.append((scheme, credential))
    ssl_context: ssl.SSLContext | None = None
    if args.tls_ca is not None:
        try:
            ssl_context = ssl.create_default_context(cafile=args.tls_ca)
        except (OSError, ssl.SSLError) as exc:
            raise _UsageError(
                f"--tls-ca: cannot load {args.tls_ca}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
    return _Connection(
        hosts=hosts,
        timeout=args.timeout,
        auth=tuple(auth),
        ssl_context=ssl_context,
        max_frame_size=args.max_frame_size,
    )


def _create_mode(args: argparse.Namespace) -> tuple[CreateMode, int | None]:
    """The mode and TTL of ``create``, from zkCli's flags or ``--mode``."""
    ttl = args.ttl if args.ttl is not None else args.ttl_long
    if args.ttl is not None and args.ttl_long is not None:
        raise _UsageError("give -t or --ttl, not both")
    flags = args.sequential or args.ephemeral or args.container
    if args.mode is not None:
        if flags:
            raise _UsageError("give --mode or the -s/-e/-c flags, not both")
        mode = _MODES[args.mode]
    elif args.container:
        if args.sequential or args.ephemeral or ttl is not None:
            raise _UsageError("-c (container) cannot be combined with -s, -e or -t")
        mode = CreateMode.CONTAINER
    elif ttl is not None and args.mode is None:
        if args.ephemeral:
            raise _UsageError("-t (TTL) cannot be combined with -e")
        mode = (
            CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL
            if args.sequential
            else CreateMode.PERSISTENT_WITH_TTL
        )
    elif args.ephemeral:
        mode = CreateMode.EPHEMERAL_SEQUENTIAL if args.sequential else CreateMode.EPHEMERAL
    else:
        mode = CreateMode.PERSISTENT_SEQUENTIAL if args.sequential else CreateMode.PERSISTENT
    if mode.is_ttl and ttl is None:
        raise _UsageError(f"--mode {args.mode} needs --ttl MS")
    if not mode.is_ttl and ttl is not None:
        raise _UsageError("--ttl needs --mode ttl or ttl-sequential")
    if ttl is not None and ttl > MAX_TTL_MS:
        raise _UsageError(f"--ttl may be at most {MAX_TTL_MS} ms")
    return mode, ttl


@attrs.define
class _Prepared:
    """What :func:`_prepare_command` worked out from a command's arguments.

    Attributes:
        payload: ``set``/``create``: the data (from the argument or --file).
        create_mode: ``create``: the mode its flags give.
        create_ttl: ``create``: the TTL in ms (TTL modes), else None.
        acl_entries: ``create``/``setAcl``/``acl set``: the parsed ACL (None:
            the client's default).
        dump: ``load``: the parsed dump file.
        limits: ``setquota``: the quota values given.
        members: ``reconfig``: the new membership (-members, or read from -file).
    """

    payload: bytes = b""
    create_mode: CreateMode = CreateMode.PERSISTENT
    create_ttl: int | None = None
    acl_entries: list[ACL] | None = None
    dump: list[DumpNode] = attrs.Factory(list)
    limits: dict[str, int] = attrs.Factory(dict)
    members: str | None = None


def _prepare_command(args: argparse.Namespace) -> _Prepared:
    """Check what argparse could not, and read input files (before connecting)."""
    prepared = _Prepared()
    command = args.command
    if command in ("set", "create"):
        if args.data is not None and args.file is not None:
            raise _UsageError("give the data or --file, not both")
        if command == "set" and args.data is None and args.file is None:
            raise _UsageError("set needs the data (or --file)")
        prepared.payload = (
            _read_input(args.file)
            if args.file is not None
            else (args.data or "").encode("utf-8", errors="surrogateescape")
        )
    if command == "create":
        prepared.create_mode, prepared.create_ttl = _create_mode(args)
        try:
            validate_path(args.path, sequential=prepared.create_mode.is_sequential)
        except ValueError as exc:
            raise _UsageError(f"argument path: {exc}") from None
        entries: list[ACL] = []
        if args.acl:
            entries += [_parse_acl_entry(e) for e in args.acl]
        if args.acl_list:
            entries += _parse_acl_list(args.acl_list)
        prepared.acl_entries = entries or None
    if command == "acl" and args.acl_command == "set":
        prepared.acl_entries = [_parse_acl_entry(e) for e in args.entries]
    if command == "setAcl":
        prepared.acl_entries = _parse_acl_list(args.acl)
    if command == "load":
        try:
            prepared.dump = parse_dump(_read_input(args.file))
        except DumpError as exc:
            raise CommandError(f"invalid dump file {args.file}: {exc}") from None
    if command == "setquota":
        limits = {key: getattr(args, f"quota_{flag}") for flag, key in _QUOTA_KEYS.items()}
        if all(value is None for value in limits.values()):
            raise _UsageError("setquota needs one of -n, -b, -N, -B")
        prepared.limits = {k: v for k, v in limits.items() if v is not None}
    if command == "reconfig":
        given = [args.config_file, args.members, args.add, args.remove]
        if not any(given):
            raise _UsageError("reconfig needs -file, -members, -add or -remove")
        if (args.config_file or args.members) and (args.add or args.remove):
            raise _UsageError("-file/-members replace the membership: not with -add/-remove")
        prepared.members = args.members
        if args.config_file is not None:
            text = _read_input(args.config_file).decode("utf-8", errors="replace")
            prepared.members = ",".join(
                line.strip() for line in text.splitlines() if line.strip().startswith("server.")
            )
            if not prepared.members:
                raise CommandError(f"{args.config_file}: no server.N=... lines")
    if command == "addauth" and args.scheme == "digest" and ":" not in args.credential:
        raise _UsageError("addauth digest takes USER:PASSWORD")
    return prepared


# ================================================================ session
@contextmanager
def _logging(verbose: int) -> Iterator[None]:
    """-v: the client's INFO messages on stderr; -vv: DEBUG; else none (errors say why).

    The logger's settings are restored afterwards (``main`` may run in a
    process that has its own logging).
    """
    logger = logging.getLogger("trio_zookeeper")
    saved = (logger.propagate, logger.level)
    if verbose:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    else:
        # The one-line error says why a connection failed; without a handler
        # Python would also print the client's warnings.
        handler = logging.NullHandler()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = saved[0], saved[1]


@asynccontextmanager
async def _connect(conn: _Connection) -> AsyncIterator[ZooKeeper]:
    """Open a session: one round of the hosts, bounded by the timeout."""
    connecting = trio.CancelScope(deadline=trio.current_time() + conn.timeout)
    with connecting:
        async with open_zookeeper(
            conn.hosts,
            session_timeout=conn.timeout,
            auth=conn.auth,
            ssl_context=conn.ssl_context,
            max_frame_size=conn.max_frame_size,
            connect_rounds=1,
        ) as zk:
            connecting.deadline = math.inf
            yield zk
    if connecting.cancelled_caught:
        raise CommandError(f"could not connect to {conn.hosts} within {conn.timeout:g}s")


@attrs.define
class _Context:
    """What a command runs with: the session, the output, and (in the shell) a nursery."""

    zk: ZooKeeper | None
    out: _Output
    conn: _Connection
    # The shell's nursery for watches whose events print later; None for a
    # one-shot command, which waits for its watch itself.
    background: trio.Nursery | None = None
    # What the arguments gave beyond argparse (read files, parsed ACLs...).
    prepared: _Prepared = attrs.Factory(_Prepared)

    @property
    def client(self) -> ZooKeeper:
        if self.zk is None:
            raise CommandError("not connected (use 'connect')")
        return self.zk


def _event_text(event: WatchedEvent) -> str:
    return f"WATCHER: {event.event_type.name} {event.path or ''}".rstrip()


def _print_event(out: _Output, event: WatchedEvent) -> None:
    if out.json:
        out.json_value(
            {
                "watch": {
                    "type": event.event_type.name,
                    "path": event.path,
                    "state": event.keeper_state.name,
                }
            },
            compact=True,
        )
    else:
        out.line(_event_text(event))


async def _follow_watch(ctx: _Context, events: trio.abc.ReceiveChannel[WatchedEvent]) -> None:
    """Print the node event of a one-shot watch: now (one-shot command) or later (shell)."""

    async def wait() -> None:
        async with events:
            async for event in events:
                if event.event_type is not EventType.NONE:
                    _print_event(ctx.out, event)
                    return

    if ctx.background is not None:
        ctx.background.start_soon(wait)
    else:
        await wait()


# =============================================================== commands
def _warn_unreadable(out: _Output) -> Callable[[str, ZooKeeperError], None]:
    def warn(path: str, exc: ZooKeeperError) -> None:
        reason = _error_message(exc) or str(exc)
        reason = reason.split(":")[0] if isinstance(exc, ServerError) else reason
        out.warning(f"cannot read {path} ({reason}): it and its subtree are left out")

    return warn


async def _cmd_ls(ctx: _Context, args: argparse.Namespace) -> int:
    zk, out = ctx.client, ctx.out
    if not args.recursive:
        if args.watch:
            (names, stat), events = await zk.with_watcher().get_children2(args.path)
        else:
            names, stat = await zk.get_children2(args.path)
        names = sorted(names)
        if out.json:
            if args.stat:
                out.json_value({"path": args.path, "children": names, "stat": _stat_dict(stat)})
            else:
                out.json_value(names)
        else:
            for name in names:
                out.line(name)
            if args.stat:
                for line in _stat_lines(stat):
                    out.line(line)
        if args.watch:
            await _follow_watch(ctx, events)
        return EXIT_OK
    if args.watch:
        raise _UsageError("ls: -w cannot be combined with -R (use addWatch for a subtree)")
    listing = _JsonList(out) if out.json else None
    count = 0
    async with walk_tree(zk, args.path, on_error=_warn_unreadable(out)) as nodes:
        async for node in nodes:
            if node.depth == 0:
                continue
            count += 1
            if listing is not None:
                listing.add(node.path)
            else:
                out.line(node.path)
            out.progress(f"ls -R {args.path}: {count} nodes")
    if listing is not None:
        listing.close()
    out.clear_progress()
    return EXIT_PARTIAL if out.warnings else EXIT_OK


async def _cmd_get(ctx: _Context, args: argparse.Namespace) -> int:
    zk, out = ctx.client, ctx.out
    if args.watch:
        (data, stat), events = await zk.with_watcher().get_data(args.path)
    else:
        data, stat = await zk.get_data(args.path)
    _show_data(out, args, data, stat)
    if args.watch:
        await _follow_watch(ctx, events)
    return EXIT_OK


def _show_data(out: _Output, args: argparse.Namespace, data: bytes, stat: Stat) -> None:
    if args.output == "-":
        out.raw(data)
        return
    if args.output is not None:
        try:
            with open(args.output, "wb") as f:
                f.write(data)
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        if out.json:
            written: dict[str, object] = {
                "path": args.path,
                "file": args.output,
                "length": len(data),
            }
            if args.stat:
                written["stat"] = _stat_dict(stat)
            out.json_value(written)
        elif args.stat:
            for line in _stat_lines(stat):
                out.line(line)
        return
    if out.json:
        value: dict[str, object] = {"path": args.path, "data": encode_data(data)}
        if args.stat:
            value["stat"] = _stat_dict(stat)
        out.json_value(value)
        return
    shown = encode_data(data)
    if isinstance(shown, str):
        out.line(shown)
    else:
        out.note(f"(binary data, {len(data)} bytes, shown in base64; -o FILE writes the bytes)")
        out.line(shown["base64"])
    if args.stat:
        for line in _stat_lines(stat):
            out.line(line)


async def _cmd_set(ctx: _Context, args: argparse.Namespace) -> int:
    stat = await ctx.client.set_data(args.path, ctx.prepared.payload, args.version)
    _show_stat_result(ctx.out, args, stat)
    return EXIT_OK


def _show_stat_result(out: _Output, args: argparse.Namespace, stat: Stat) -> None:
    """After a write: the Stat with -s; in JSON always."""
    if out.json:
        out.json_value({"path": args.path, "stat": _stat_dict(stat)})
    elif args.stat:
        for line in _stat_lines(stat):
            out.line(line)


async def _cmd_create(ctx: _Context, args: argparse.Namespace) -> int:
    kwargs: dict[str, Any] = {}
    if ctx.prepared.acl_entries is not None:
        kwargs["acl"] = ctx.prepared.acl_entries
    created = await ctx.client.create(
        args.path,
        ctx.prepared.payload,
        mode=ctx.prepared.create_mode,
        ttl=ctx.prepared.create_ttl,
        makepath=args.makepath,
        **kwargs,
    )
    if ctx.out.json:
        ctx.out.json_value({"path": created})
    else:
        ctx.out.line(created)
    return EXIT_OK


async def _cmd_delete(ctx: _Context, args: argparse.Namespace) -> int:
    if args.recursive:
        if args.version != -1:
            raise _UsageError("delete: -v cannot be combined with -r")
        args.batch = 1000
        return await _cmd_deleteall(ctx, args)
    await ctx.client.delete(args.path, args.version)
    if ctx.out.json:
        ctx.out.json_value({"deleted": args.path})
    return EXIT_OK


async def _cmd_deleteall(ctx: _Context, args: argparse.Namespace) -> int:
    zk, out = ctx.client, ctx.out
    if args.path == "/":
        raise CommandError("refusing to delete everything under /")
    if await zk.exists(args.path) is None:
        raise NoNodeError(path=args.path)

    def progress(count: int) -> None:
        out.progress(f"deleteall {args.path}: {count} nodes deleted")

    count = await delete_subtree(zk, args.path, batch=args.batch, on_deleted=progress)
    with suppress(NoNodeError):
        await zk.delete(args.path)
        count += 1
    out.clear_progress()
    if out.json:
        out.json_value({"deleted": args.path, "nodes": count})
    return EXIT_OK


async def _cmd_stat(ctx: _Context, args: argparse.Namespace) -> int:
    zk, out = ctx.client, ctx.out
    if args.watch:
        stat, events = await zk.with_watcher().exists(args.path)
    else:
        stat = await zk.exists(args.path)
    if stat is None:
        if args.watch:
            out.note(f"{args.path} does not exist; watching for its creation")
            await _follow_watch(ctx, events)
        raise NoNodeError(path=args.path)
    if out.json:
        out.json_value(_stat_dict(stat))
    else:
        for line in _stat_lines(stat):
            out.line(line)
    if args.watch:
        await _follow_watch(ctx, events)
    return EXIT_OK


async def _cmd_get_all_children_number(ctx: _Context, args: argparse.Namespace) -> int:
    number = await ctx.client.get_all_children_number(args.path)
    if ctx.out.json:
        ctx.out.json_value({"path": args.path, "number": number})
    else:
        ctx.out.line(str(number))
    return EXIT_OK


async def _cmd_get_ephemerals(ctx: _Context, args: argparse.Namespace) -> int:
    paths = sorted(await ctx.client.get_ephemerals(args.path))
    if ctx.out.json:
        ctx.out.json_value(paths)
    else:
        for path in paths:
            ctx.out.line(path)
    return EXIT_OK


async def _cmd_sync(ctx: _Context, args: argparse.Namespace) -> int:
    await ctx.client.sync(args.path)
    if ctx.out.json:
        ctx.out.json_value({"synced": args.path})
    return EXIT_OK


async def _cmd_whoami(ctx: _Context, args: argparse.Namespace) -> int:
    identities = await ctx.client.who_am_i()
    if ctx.out.json:
        ctx.out.json_value([{"scheme": i.auth_scheme, "user": i.user} for i in identities])
    else:
        for identity in identities:
            ctx.out.line(f"{identity.auth_scheme}: {identity.user}")
    return EXIT_OK


async def _cmd_addauth(ctx: _Context, args: argparse.Namespace) -> int:
    await ctx.client.add_auth(args.scheme, args.credential)
    if ctx.out.json:
        ctx.out.json_value({"scheme": args.scheme})
    return EXIT_OK


async def _cmd_watch(ctx: _Context, args: argparse.Namespace) -> int:
    mode = AddWatchMode.PERSISTENT_RECURSIVE if args.recursive else AddWatchMode.PERSISTENT
    return await _persistent_watch(ctx, args.path, mode, args.count, prefix="")


async def _cmd_add_watch(ctx: _Context, args: argparse.Namespace) -> int:
    mode = (
        AddWatchMode.PERSISTENT if args.mode == "persistent" else AddWatchMode.PERSISTENT_RECURSIVE
    )
    if ctx.background is not None:
        ready = trio.Event()

        async def in_background() -> None:
            with suppress(CommandError, ZooKeeperError, trio.ClosedResourceError):
                await _persistent_watch(
                    ctx, args.path, mode, args.count, prefix="WATCHER: ", ready=ready
                )

        ctx.background.start_soon(in_background)
        await ready.wait()
        return EXIT_OK
    return await _persistent_watch(ctx, args.path, mode, args.count, prefix="")


async def _persistent_watch(
    ctx: _Context,
    path: str,
    mode: AddWatchMode,
    count: int | None,
    *,
    prefix: str,
    ready: trio.Event | None = None,
) -> int:
    out = ctx.out
    received = 0
    async with ctx.client.add_watch(path, mode) as events:
        how = " and its subtree" if mode is AddWatchMode.PERSISTENT_RECURSIVE else ""
        if ready is not None:
            ready.set()
            out.note(f"watching {path}{how}: events print as they come")
        else:
            until = f"for {count} event(s)" if count else "until interrupted (Ctrl-C)"
            out.note(f"watching {path}{how} {until}")
        while count is None or received < count:
            try:
                event = await events.receive()
            except trio.EndOfChannel:
                if ready is not None:
                    return EXIT_OK  # removed with removewatches
                raise CommandError("the watch ended: the session was closed or expired") from None
            if event.event_type is EventType.NONE:
                out.note(f"session: {event.keeper_state.name}")
                continue
            if event.event_type is EventType.PERSISTENT_WATCH_REMOVED:
                return EXIT_OK
            received += 1
            if out.json:
                out.json_value(
                    {
                        "type": event.event_type.name,
                        "path": event.path,
                        "state": event.keeper_state.name,
                        "zxid": event.zxid,
                    },
                    compact=True,
                )
            else:
                out.line(f"{prefix}{event.event_type.name} {event.path}")
    return EXIT_OK


async def _cmd_removewatches(ctx: _Context, args: argparse.Namespace) -> int:
    kind = {"c": WatcherType.CHILDREN, "d": WatcherType.DATA}.get(args.kind, WatcherType.ANY)
    await ctx.client.remove_watches(args.path, kind)
    if ctx.out.json:
        ctx.out.json_value({"path": args.path, "removed": kind.name})
    return EXIT_OK


async def _cmd_tree(ctx: _Context, args: argparse.Namespace) -> int:
    out = ctx.out
    # `open_ends[d]`: whether the node at depth d on the current branch was
    # its parent's last child (so its column is blank below it).
    open_ends: list[bool] = []
    json_depth = -1
    count = 0
    async with walk_tree(ctx.client, args.path, on_error=_warn_unreadable(out)) as nodes:
        async for node in nodes:
            count += 1
            out.progress(f"tree {args.path}: {count} nodes")
            if out.json:
                # A nested document, written as the nodes come (no recursion).
                closing = "]}" * (json_depth - node.depth + 1) if json_depth >= 0 else ""
                separator = "," if json_depth >= node.depth else ""
                name = args.path if node.depth == 0 else node.path.rsplit("/", 1)[1]
                head = json.dumps({"name": name, "path": node.path})[:-1]
                sys.stdout.write(f'{closing}{separator}{head}, "children": [')
                json_depth = node.depth
                continue
            if node.depth == 0:
                out.line(args.path)
                continue
            del open_ends[node.depth - 1 :]
            prefix = "".join("    " if last else "│   " for last in open_ends)
            name = node.path.rsplit("/", 1)[1]
            out.line(f"{prefix}{'└── ' if node.last else '├── '}{name}")
            open_ends.append(node.last)
    if out.json:
        sys.stdout.write("]}" * (json_depth + 1) + "\n")
        sys.stdout.flush()
    out.clear_progress()
    return EXIT_PARTIAL if out.warnings else EXIT_OK


def _open_for_writing(file: str) -> IO[str]:
    try:
        return open(file, "w", encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {file}: {exc.strerror or exc}") from None


async def _cmd_dump(ctx: _Context, args: argparse.Namespace) -> int:
    zk, out = ctx.client, ctx.out
    skipped = 0
    masked: list[str] = []
    stream: IO[str] = sys.stdout if args.file == "-" else _open_for_writing(args.file)
    try:
        writer: DumpWriter | None = None
        # /zookeeper is the server's own subtree: it cannot be loaded back.
        skip = ["/zookeeper"] if args.path == "/" else []
        async with walk_tree(
            zk,
            args.path,
            data=True,
            acl=not args.no_acl,
            skip=skip,
            on_error=_warn_unreadable(out),
        ) as nodes:
            async for node in nodes:
                assert node.data is not None
                mode = None
                if node.stat.ephemeral_owner:
                    if not args.ephemeral:
                        if node.depth == 0:
                            raise CommandError(
                                f"{args.path} is an ephemeral node: there is nothing to dump "
                                "(--ephemeral dumps it)"
                            )
                        skipped += 1
                        continue
                    mode = "ephemeral"
                if node.acl is not None and any(
                    a.id.scheme == "digest" and a.id.id.endswith(":x") for a in node.acl
                ):
                    masked.append(node.path)
                if writer is None:
                    writer = DumpWriter(stream, args.path)
                writer.add(node.path, node.data, node.acl, mode=mode)
                out.progress(f"dump {args.path}: {writer.count} nodes")
        assert writer is not None
        writer.close()
    finally:
        if stream is not sys.stdout:
            stream.close()
    out.clear_progress()
    if skipped:
        out.note(
            f"note: {skipped} ephemeral node(s) left out (they belong to their sessions; "
            "--ephemeral keeps them)"
        )
    for path in masked[:10]:
        out.warning(
            f"the ACL of {path} was read without ADMIN permission: its digest hashes are "
            "masked ('x'); load would not restore them (dump with credentials that may)"
        )
    if args.file != "-":
        if out.json:
            out.json_value({"path": args.path, "file": args.file, "nodes": writer.count})
        else:
            out.line(f"wrote {writer.count} node(s) under {args.path} to {args.file}")
    return EXIT_PARTIAL if out.warnings else EXIT_OK


async def _cmd_load(ctx: _Context, args: argparse.Namespace) -> int:
    zk, out = ctx.client, ctx.out
    dump = ctx.prepared.dump
    report: dict[str, list[str]] = {
        "created": [],
        "updated": [],
        "unchanged": [],
        "kept": [],
        "skipped": [],
    }
    root = args.path
    failed: set[str] = set()  # relative paths not created: their subtrees are skipped
    limiter = trio.CapacityLimiter(64)
    done = 0

    def target(node: DumpNode) -> str:
        return root if not node.path else join_path(root, node.path)

    async def compare(path: str, node: DumpNode, acl: tuple[ACL, ...] | None) -> str:
        """An existing node: unchanged, kept, or (with --overwrite) updated."""
        current, _ = await zk.get_data(path)
        current_acl = None if acl is None else (await zk.get_acl(path))[0]
        same_acl = acl is None or list(current_acl or ()) == list(acl)
        if current == node.data and same_acl:
            return "unchanged"
        if not args.overwrite:
            return "kept"
        if current != node.data:
            await zk.set_data(path, node.data)
        if not same_acl and acl is not None:
            await zk.set_acl(path, acl)
        return "updated"

    async def load_one(node: DumpNode) -> None:
        nonlocal done
        path = target(node)
        acl = None if args.no_acl else node.acl
        async with limiter:
            try:
                try:
                    await zk.create(
                        path,
                        node.data,
                        acl=acl or OPEN_ACL_UNSAFE,
                        mode=DUMP_MODES[node.mode],
                        ttl=node.ttl,
                        makepath=not node.path,
                    )
                    report["created"].append(path)
                except NodeExistsError:
                    report[await compare(path, node, acl)].append(path)
            except (NoAuthError, InvalidACLError, UnimplementedError) as exc:
                failed.add(node.path)
                out.warning(f"cannot load {path}: {_error_message(exc)}; its subtree is skipped")
        done += 1
        out.progress(f"load {root}: {done}/{len(dump)} nodes")

    # Skipped: ephemeral nodes (unless --ephemeral), and everything below them.
    ephemeral_skipped = 0
    wanted: list[DumpNode] = []
    for node in dump:
        parent = node.path.rpartition("/")[0] if node.path else None
        if parent is not None and parent in failed:
            failed.add(node.path)
            report["skipped"].append(target(node))
        elif node.mode == "ephemeral" and not args.ephemeral:
            failed.add(node.path)
            ephemeral_skipped += 1
            report["skipped"].append(target(node))
        else:
            wanted.append(node)

    async def one_by_one(nodes: list[DumpNode]) -> None:
        """Each node on its own (a level at a time, the nodes of a level at once)."""
        by_depth: dict[int, list[DumpNode]] = {}
        for node in nodes:
            by_depth.setdefault(node.depth, []).append(node)
        for depth in sorted(by_depth):
            async with trio.open_nursery() as nursery:
                for node in by_depth[depth]:
                    parent = node.path.rpartition("/")[0] if node.path else None
                    if parent is not None and parent in failed:
                        failed.add(node.path)
                        report["skipped"].append(target(node))
                        continue
                    nursery.start_soon(load_one, node)

    async def in_transactions(nodes: list[DumpNode]) -> None:
        """New nodes in transactions (parents first: any depth in few round trips).

        A transaction that fails (a node exists, an ACL forbids, ...) is
        redone one node at a time.
        """
        nonlocal done
        start = 0
        while start < len(nodes):
            end, size = start, 0
            while end < len(nodes) and end - start < _LOAD_BATCH and size < _LOAD_BATCH_BYTES:
                size += len(target(nodes[end])) + len(nodes[end].data) + 64
                end += 1
            chunk = nodes[start:end]
            start = end
            transaction = zk.multi()
            for node in chunk:
                acl = None if args.no_acl else node.acl
                transaction.create(
                    target(node),
                    node.data,
                    acl=acl or OPEN_ACL_UNSAFE,
                    mode=DUMP_MODES[node.mode],
                    ttl=node.ttl,
                )
            try:
                await transaction.run()
            except ServerError as exc:
                if isinstance(exc, ConnectionLossError):
                    raise  # the outcome is unknown: do not guess
                await one_by_one(chunk)
                continue
            report["created"] += [target(node) for node in chunk]
            done += len(chunk)
            out.progress(f"load {root}: {done}/{len(dump)} nodes")

    if wanted and not wanted[0].path:
        await one_by_one(wanted[:1])  # the root (and its missing parents)
        wanted = wanted[1:]
    if root not in report["created"]:
        await one_by_one(wanted)  # loading over an existing tree: compare each node
    else:
        await in_transactions(wanted)
    out.clear_progress()
    if out.json:
        out.json_value(report)
    else:
        summary = ", ".join(f"{len(paths)} {what}" for what, paths in report.items())
        out.line(f"loaded {root}: {summary}")
        if report["kept"]:
            out.note(
                f"{len(report['kept'])} existing node(s) with different data or ACL were left "
                "as they are; use --overwrite to replace them"
            )
    if ephemeral_skipped:
        out.note(
            f"note: {ephemeral_skipped} ephemeral node(s) skipped (--ephemeral creates them "
            "as this session's ephemeral nodes)"
        )
    return EXIT_PARTIAL if out.warnings else EXIT_OK


async def _cmd_get_acl(ctx: _Context, args: argparse.Namespace) -> int:
    acl, stat = await ctx.client.get_acl(args.path)
    out = ctx.out
    if out.json:
        value: dict[str, object] = {
            "path": args.path,
            "acl": _acl_json(acl),
            "aversion": stat.aversion,
        }
        if getattr(args, "stat", False):
            value["stat"] = _stat_dict(stat)
        out.json_value(value)
    else:
        for entry in acl:
            out.line(acl_text(entry))
        if getattr(args, "stat", False):
            for line in _stat_lines(stat):
                out.line(line)
    return EXIT_OK


async def _cmd_set_acl(ctx: _Context, args: argparse.Namespace) -> int:
    zk, out = ctx.client, ctx.out
    acl = ctx.prepared.acl_entries or []
    recursive = getattr(args, "recursive", False)
    if not recursive:
        stat = await zk.set_acl(args.path, acl, args.version)
        if out.json:
            value: dict[str, object] = {"path": args.path, "aversion": stat.aversion}
            if getattr(args, "stat", False):
                value["stat"] = _stat_dict(stat)
            out.json_value(value)
        elif getattr(args, "stat", False):
            for line in _stat_lines(stat):
                out.line(line)
        return EXIT_OK
    # -R: the root first (with the version check), then the rest, many at once.
    await zk.set_acl(args.path, acl, args.version)
    count = 1
    limiter = trio.CapacityLimiter(64)

    async def set_one(path: str) -> None:
        nonlocal count
        async with limiter:
            try:
                await zk.set_acl(path, acl)
            except NoNodeError:
                return
            except NoAuthError:
                out.warning(f"cannot set the ACL of {path}: not authorized")
                return
        count += 1
        out.progress(f"setAcl -R {args.path}: {count} nodes")

    async with (
        trio.open_nursery() as nursery,
        walk_tree(zk, args.path, on_error=_warn_unreadable(out)) as nodes,
    ):
        async for node in nodes:
            if node.depth:
                nursery.start_soon(set_one, node.path)
    out.clear_progress()
    if out.json:
        out.json_value({"path": args.path, "nodes": count})
    return EXIT_PARTIAL if out.warnings else EXIT_OK


def _cmd_acl_digest(args: argparse.Namespace, out: _Output) -> int:
    user, sep, password = args.credential.partition(":")
    if not sep or not user:
        raise _UsageError("acl digest takes USER:PASSWORD")
    ident = make_digest_acl_credential(user, password)
    if out.json:
        out.json_value({"scheme": "digest", "id": ident})
    else:
        out.line(ident)
    return EXIT_OK


def _cmd_version(out: _Output) -> int:
    if out.json:
        out.json_value({"version": __version__})
    else:
        out.line(f"{PROG} {__version__}")
    return EXIT_OK


# ----------------------------------------------------------------- quotas
def _parse_stats_track(text: str) -> dict[str, int]:
    """ZooKeeper's ``StatsTrack`` text: ``count=1,bytes=2=;countHardLimit=3``."""
    values: dict[str, int] = {}
    for pair in re.split(r"[,;]+", text.strip()):
        key, sep, value = pair.partition("=")
        if sep:
            value = value.rstrip("=")
            with suppress(ValueError):
                values[key] = int(value) if value else -1
    return values


def _format_stats_track(values: dict[str, int]) -> str:
    text = f"count={values.get('count', -1)},bytes={values.get('bytes', -1)}"
    extra = sorted(k for k in values if k not in ("count", "bytes"))
    if extra:
        text += "=" + "".join(f";{k}={values[k]}" for k in extra)
    return text


def _quota_path(path: str) -> str:
    return _QUOTA_ROOT + ("" if path == "/" else path)


async def _cmd_listquota(ctx: _Context, args: argparse.Namespace) -> int:
    zk, out = ctx.client, ctx.out
    base = _quota_path(args.path)
    try:
        limits, _ = await zk.get_data(f"{base}/{_QUOTA_LIMITS}")
    except NoNodeError:
        raise CommandError(f"no quota on {args.path}") from None
    try:
        stats, _ = await zk.get_data(f"{base}/{_QUOTA_STATS}")
    except NoNodeError:
        stats = b""
    quota = _parse_stats_track(limits.decode("utf-8", errors="replace"))
    usage = _parse_stats_track(stats.decode("utf-8", errors="replace"))
    if out.json:
        out.json_value({"path": args.path, "quota": quota, "usage": usage})
    else:
        out.line(f"quota for {args.path}: {_format_stats_track(quota)}")
        out.line(f"usage for {args.path}: {_format_stats_track(usage)}")
    return EXIT_OK


async def _cmd_setquota(ctx: _Context, args: argparse.Namespace) -> int:
    zk = ctx.client
    if await zk.exists(args.path) is None:
        raise NoNodeError(path=args.path)
    base = _quota_path(args.path)
    # Quotas may not nest: no quota above or below this node.
    ancestor = args.path
    while ancestor not in ("/", ""):
        ancestor = ancestor.rsplit("/", 1)[0] or "/"
        if ancestor != "/" and await zk.exists(f"{_quota_path(ancestor)}/{_QUOTA_LIMITS}"):
            raise CommandError(f"{args.path} has a parent {ancestor} which has a quota")
    if await zk.exists(base) is not None:
        async with walk_tree(zk, base) as nodes:
            async for node in nodes:
                if node.depth and node.path.endswith("/" + _QUOTA_LIMITS):
                    owner = node.path[len(_QUOTA_ROOT) : -len(_QUOTA_LIMITS) - 1]
                    if owner != args.path:
                        raise CommandError(f"{args.path} has a child {owner} which has a quota")
    await zk.ensure_path(base)
    limits_path = f"{base}/{_QUOTA_LIMITS}"
    try:
        current, _ = await zk.get_data(limits_path)
        values = _parse_stats_track(current.decode("utf-8", errors="replace"))
        values.update(ctx.prepared.limits)
        await zk.set_data(limits_path, _format_stats_track(values).encode())
    except NoNodeError:
        values = {"count": -1, "bytes": -1, **ctx.prepared.limits}
        await zk.create(limits_path, _format_stats_track(values).encode())
        with suppress(NodeExistsError):
            await zk.create(f"{base}/{_QUOTA_STATS}", b"count=0,bytes=0")
    if ctx.out.json:
        ctx.out.json_value({"path": args.path, "quota": values})
    return EXIT_OK


async def _cmd_delquota(ctx: _Context, args: argparse.Namespace) -> int:
    zk = ctx.client
    base = _quota_path(args.path)
    limits_path = f"{base}/{_QUOTA_LIMITS}"
    chosen = [key for flag, key in _QUOTA_KEYS.items() if getattr(args, f"quota_{flag}")]
    try:
        current, _ = await zk.get_data(limits_path)
    except NoNodeError:
        raise CommandError(f"no quota on {args.path}") from None
    if chosen:
        values = _parse_stats_track(current.decode("utf-8", errors="replace"))
        for key in chosen:
            values[key] = -1
        await zk.set_data(limits_path, _format_stats_track(values).encode())
    else:
        for name in (_QUOTA_LIMITS, _QUOTA_STATS):
            with suppress(NoNodeError):
                await zk.delete(f"{base}/{name}")
        # Remove the quota nodes left empty, up to /zookeeper/quota.
        node = base
        while node != _QUOTA_ROOT:
            try:
                await zk.delete(node)
            except (NotEmptyError, NoNodeError):
                break
            node = node.rsplit("/", 1)[0]
    if ctx.out.json:
        ctx.out.json_value({"path": args.path, "removed": chosen or "all"})
    return EXIT_OK


# --------------------------------------------------------------- ensemble
def _client_config(text: str) -> str:
    """ZkCli's ``config -c``: the version and the client addresses."""
    version = ""
    addresses = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "version":
            version = value
        elif key.startswith("server.") and ";" in value:
            address = value.rsplit(";", 1)[1]
            if address.startswith("0.0.0.0:"):
                address = "localhost:" + address.split(":", 1)[1]
            addresses.append(address)
    return f"{version} {','.join(addresses)}".strip()


async def _cmd_config(ctx: _Context, args: argparse.Namespace) -> int:
    zk, out = ctx.client, ctx.out
    if args.watch:
        (data, stat), events = await zk.with_watcher().get_data("/zookeeper/config")
    else:
        data, stat = await zk.get_config()
    text = data.decode("utf-8", errors="replace")
    shown = _client_config(text) if args.client_only else text.rstrip("\n")
    if out.json:
        value: dict[str, object] = {"config": shown}
        if args.stat:
            value["stat"] = _stat_dict(stat)
        out.json_value(value)
    else:
        if shown:
            out.line(shown)
        if args.stat:
            for line in _stat_lines(stat):
                out.line(line)
    if args.watch:
        await _follow_watch(ctx, events)
    return EXIT_OK


async def _cmd_reconfig(ctx: _Context, args: argparse.Namespace) -> int:
    data, stat = await ctx.client.reconfig(
        joining=args.add,
        leaving=args.remove,
        new_members=ctx.prepared.members,
        from_config=args.from_config,
    )
    text = data.decode("utf-8", errors="replace").rstrip("\n")
    if ctx.out.json:
        value: dict[str, object] = {"config": text}
        if args.stat:
            value["stat"] = _stat_dict(stat)
        ctx.out.json_value(value)
    else:
        ctx.out.line(text)
        if args.stat:
            for line in _stat_lines(stat):
                ctx.out.line(line)
    return EXIT_OK


# ============================================================ status (4lw)
def _status_value(text: str) -> int | float | str:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    return text


def _parse_status(word: str, answer: str) -> dict[str, int | float | str] | None:
    if word not in ("srvr", "mntr"):
        return None
    values: dict[str, int | float | str] = {}
    separator = "\t" if word == "mntr" else ": "
    for line in answer.splitlines():
        key, sep, value = line.partition(separator)
        if sep:
            values[key.strip()] = _status_value(value.strip())
    return values


async def _status(args: argparse.Namespace, conn: _Connection, out: _Output) -> int:
    connect = parse_connect_string(conn.hosts)
    word: str = args.word
    results: list[tuple[str, str | None, str | None]] = [("", None, None)] * len(connect.hosts)

    async def ask(index: int, host: HostPort) -> None:
        name = str(host)
        try:
            with trio.fail_after(conn.timeout):
                answer = await four_letter_word(host, word, ssl_context=conn.ssl_context)
        except trio.TooSlowError:
            results[index] = (name, None, f"no answer within {conn.timeout:g}s")
            return
        except (OSError, trio.BrokenResourceError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            results[index] = (name, None, f"cannot ask {word}: {reason}")
            return
        if _NOT_WHITELISTED.search(answer):
            results[index] = (
                name,
                None,
                f"{word} is not whitelisted on this server "
                "(add it to 4lw.commands.whitelist in zoo.cfg)",
            )
            return
        results[index] = (name, answer, None)

    async with trio.open_nursery() as nursery:
        for index, host in enumerate(connect.hosts):
            nursery.start_soon(ask, index, host)

    failed = False
    report: list[dict[str, object]] = []
    for name, answer, error in results:
        if error is not None:
            failed = True
            out.note(f"error: {name}: {error}")
            report.append({"host": name, "command": word, "error": error})
            continue
        assert answer is not None
        values = _parse_status(word, answer)
        if out.json:
            entry: dict[str, object] = {"host": name, "command": word}
            if values is None:
                entry["text"] = answer
            else:
                entry["values"] = values
            report.append(entry)
        else:
            out.line(name)
            for line in answer.rstrip("\n").splitlines():
                out.line(f"  {line}")
    if out.json:
        out.json_value(report)
    return EXIT_ERROR if failed else EXIT_OK


# ================================================================== driver
_Command = Callable[[_Context, argparse.Namespace], Awaitable[int]]

_COMMANDS: dict[str, _Command] = {
    "ls": _cmd_ls,
    "get": _cmd_get,
    "set": _cmd_set,
    "create": _cmd_create,
    "delete": _cmd_delete,
    "deleteall": _cmd_deleteall,
    "rmr": _cmd_deleteall,
    "stat": _cmd_stat,
    "getAllChildrenNumber": _cmd_get_all_children_number,
    "getEphemerals": _cmd_get_ephemerals,
    "sync": _cmd_sync,
    "whoami": _cmd_whoami,
    "addauth": _cmd_addauth,
    "watch": _cmd_watch,
    "addWatch": _cmd_add_watch,
    "removewatches": _cmd_removewatches,
    "tree": _cmd_tree,
    "dump": _cmd_dump,
    "load": _cmd_load,
    "getAcl": _cmd_get_acl,
    "setAcl": _cmd_set_acl,
    "acl get": _cmd_get_acl,
    "acl set": _cmd_set_acl,
    "listquota": _cmd_listquota,
    "setquota": _cmd_setquota,
    "delquota": _cmd_delquota,
    "config": _cmd_config,
    "reconfig": _cmd_reconfig,
}


def _command_name(args: argparse.Namespace) -> str:
    return str(args.command if args.command != "acl" else f"acl {args.acl_command}")


def _local_command(args: argparse.Namespace, out: _Output) -> int | None:
    """Run a command that needs no session; None if the command needs one."""
    if args.command == "version":
        return _cmd_version(out)
    if args.command == "acl" and args.acl_command == "digest":
        return _cmd_acl_digest(args, out)
    return None


async def _run_one_shot(
    args: argparse.Namespace, prepared: _Prepared, conn: _Connection, out: _Output
) -> int:
    """Connect, run the command, close; SIGINT/SIGTERM stop it cleanly.

    The first signal cancels only the command's body, inside the session's
    ``async with`` block, so that the session still closes normally (watches
    removed, ephemeral nodes gone at once); before that, or on a second
    signal, everything is cancelled. Either way the exit status says
    "interrupted" (130), or 0 for the commands that watch until Ctrl-C.
    """
    interrupted = False
    body = trio.CancelScope()
    in_body = False
    result = EXIT_OK
    watching = args.command in _WATCHING
    signals_wanted = threading.current_thread() is threading.main_thread()

    async def run() -> int:
        nonlocal in_body
        if args.command == "status":
            return await _status(args, conn, out)
        command = _COMMANDS[_command_name(args)]
        async with _connect(conn) as zk:
            with body:
                in_body = True
                return await command(_Context(zk, out, conn, prepared=prepared), args)
            in_body = False
        return EXIT_OK

    async with trio.open_nursery() as nursery:
        if signals_wanted:

            async def stop_on_signal(
                task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
            ) -> None:
                nonlocal interrupted
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    task_status.started()
                    async for _ in signals:
                        interrupted = True
                        if in_body and not body.cancel_called:
                            body.cancel()
                        else:
                            nursery.cancel_scope.cancel()

            await nursery.start(stop_on_signal)
        try:
            result = await run()
        except BaseException:
            if not interrupted:
                raise
        finally:
            nursery.cancel_scope.cancel()
    if interrupted:
        out.clear_progress()
        return EXIT_OK if watching else EXIT_INTERRUPTED
    return result


def _report(exc: BaseException, out: _Output | None, as_json: bool) -> int | None:
    """Report an expected error and return the exit status; None for a bug."""
    leaves = [e for e in _leaves(exc) if not isinstance(e, trio.Cancelled)]
    if len(leaves) != 1:
        return None
    leaf = leaves[0]
    if isinstance(leaf, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(leaf, BrokenPipeError):
        # The reader went away (`... | head`): stop quietly, as Unix tools do,
        # and keep the interpreter from complaining when it flushes stdout.
        with suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    if isinstance(leaf, _UsageError):
        message: str | None = str(leaf)
        code = EXIT_USAGE
    else:
        message = _error_message(leaf)
        code = leaf.exit_code if isinstance(leaf, CommandError) else EXIT_ERROR
    if message is None:
        return None
    message = " ".join(message.split())
    if out is not None:
        out.clear_progress()
    if as_json:
        print(json.dumps(_error_object(leaf, message)), file=sys.stdout, flush=True)
    else:
        print(f"error: {message}", file=sys.stderr, flush=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: The arguments (without the program name); ``sys.argv[1:]`` if None.

    Returns:
        The exit status: 0 on success, 1 on an error (reported on stderr as one
        ``error: ...`` line, or with ``--json`` as one JSON object on stdout),
        2 on a usage error, 3 when a recursive command could read only part of
        the tree, 130 when interrupted.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in arguments
    parser = _build_parser()
    out: _Output | None = None
    try:
        try:
            args = parser.parse_args(arguments)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        out = _Output(as_json=args.json)
        local = _local_command(args, out)
        if local is not None:
            return local
        conn = _connection(args)
        with _logging(args.verbose + getattr(args, "verbose_late", 0)):
            if args.command == "shell":
                from ._cli_shell import run_shell

                return run_shell(conn, out)
            prepared = _prepare_command(args)
            return trio.run(_run_one_shot, args, prepared, conn, out)
    except BaseException as exc:
        code = _report(exc, out, as_json)
        if code is None:
            raise  # a bug: keep the traceback
        return code
