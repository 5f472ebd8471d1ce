"""The ``trio-zookeeper`` command line (also ``python -m trio_zookeeper``).

Everyday work against any ZooKeeper ensemble::

    trio-zookeeper -H 127.0.0.1:2181 ls -R /app
    trio-zookeeper create -p /app/config/db 'host=db1'
    trio-zookeeper get /app/config/db
    trio-zookeeper watch -r /app            # until Ctrl-C
    trio-zookeeper dump /app > app.json && trio-zookeeper load /app-copy app.json
    trio-zookeeper acl set /app digest:admin:<hash>:cdrwa world:anyone:r
    trio-zookeeper status mntr

The connect string comes from ``--hosts``/``-H``, else ``$ZOOKEEPER_HOSTS``,
else ``127.0.0.1:2181``. Output is meant for people unless ``--json`` is
given. Exit status: 0 on success, 1 on an error (printed as one line,
``error: ...``, on stderr), 2 on a usage error, 130 when interrupted (except
``watch``, for which Ctrl-C is the normal way to stop, so it exits 0).

The connection and output options (``-H``, ``--auth``, ``--timeout``,
``--tls-ca``, ``--json``) go before or after the command. ``--timeout`` is
the session timeout and also bounds connecting.

Node data is shown as UTF-8 text when it decodes; otherwise it is shown in
base64 (in JSON, and in dump files, as ``{"base64": "..."}``). A dump holds
data and children only: no ACLs, no ephemeral nodes, no ``/zookeeper``.
``load`` creates what is missing (parents too) and leaves existing nodes'
data alone unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import json
import math
import os
import re
import signal
import ssl
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import attrs
import trio

from ._acl import make_digest_acl_credential
from ._client import MAX_TTL_MS, ZooKeeper, open_zookeeper
from ._hosts import HostPort, parse_connect_string
from ._protocol import ACL, AddWatchMode, CreateMode, EventType, Id, Stat, validate_path
from ._protocol._errors import (
    BadVersionError,
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
from ._version import __version__

__all__ = ["CommandError", "main"]

PROG = "trio-zookeeper"
HOSTS_ENV = "ZOOKEEPER_HOSTS"
DEFAULT_HOSTS = "127.0.0.1:2181"
DEFAULT_TIMEOUT = 10.0
DUMP_FORMAT = "trio-zookeeper-dump"
DUMP_VERSION = 1

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
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

# zkCli's letters, in zkCli's order.
_PERM_LETTERS: tuple[tuple[str, int], ...] = (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16))

_STATUS_WORDS = ("srvr", "mntr", "ruok", "stat", "conf", "envi", "cons", "isro", "wchs")
_NOT_WHITELISTED = re.compile(r"\bis not executed because it is not in the whitelist\b")
_MAX_STATUS_ANSWER = 16 * 1024 * 1024

_ZXID_FIELDS = frozenset({"czxid", "mzxid", "pzxid"})
_TIME_FIELDS = frozenset({"ctime", "mtime"})


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
    """A bad argument found after parsing: one ``error: ...`` line, exit status 2."""


@attrs.frozen
class _Connection:
    hosts: str
    timeout: float
    auth: tuple[tuple[str, str], ...]
    ssl_context: ssl.SSLContext | None


# ================================================================== output
class _Output:
    """Where results go: stdout for results, stderr for notes."""

    def __init__(self, *, as_json: bool) -> None:
        self.json = as_json

    def line(self, text: str = "") -> None:
        print(text, file=sys.stdout, flush=True)

    def json_value(self, value: object, *, compact: bool = False) -> None:
        text = json.dumps(value, separators=(",", ":")) if compact else json.dumps(value, indent=2)
        print(text, file=sys.stdout, flush=True)

    def note(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def raw(self, data: bytes) -> None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def _encode_data(data: bytes) -> str | dict[str, str]:
    """Data as JSON: text when it is UTF-8, else ``{"base64": ...}``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def _decode_data(value: object, where: str) -> bytes:
    """The inverse of :func:`_encode_data` (``null`` is empty data)."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"} and isinstance(value["base64"], str):
        try:
            return base64.b64decode(value["base64"], validate=True)
        except binascii.Error as exc:
            raise CommandError(f"invalid dump file: bad base64 data at {where}: {exc}") from None
    raise CommandError(
        f'invalid dump file: data at {where} must be a string, {{"base64": ...}} or null'
    )


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


def _perms_text(perms: int) -> str:
    return "".join(letter for letter, bit in _PERM_LETTERS if perms & bit)


def _acl_text(acl: ACL) -> str:
    return f"{acl.id.scheme}:{acl.id.id}:{_perms_text(acl.perms)}"


def _parse_acl_entry(text: str) -> ACL:
    """``scheme:id:perms`` (the id may itself contain ``:``) to an ACL entry."""
    scheme, sep, rest = text.partition(":")
    ident, sep2, letters = rest.rpartition(":")
    if not scheme or not sep or not sep2:
        raise _UsageError(
            f"invalid ACL entry {text!r}: expected SCHEME:ID:PERMS, e.g. world:anyone:cdrwa"
        )
    perms = 0
    bits = dict(_PERM_LETTERS)
    for letter in letters:
        if letter not in bits:
            raise _UsageError(
                f"invalid ACL entry {text!r}: unknown permission {letter!r} "
                "(use the letters c, d, r, w, a)"
            )
        perms |= bits[letter]
    if not perms:
        raise _UsageError(f"invalid ACL entry {text!r}: no permissions (use letters of cdrwa)")
    return ACL(perms=perms, id=Id(scheme=scheme, id=ident))


def _error_message(exc: BaseException) -> str | None:
    """The one-line message for an expected error, or None for a bug."""
    if isinstance(exc, CommandError):
        return str(exc)
    if isinstance(exc, ServerError):
        path = exc.path
        labels: tuple[tuple[type[ServerError], str], ...] = (
            (NoNodeError, "no node"),
            (NodeExistsError, "node exists"),
            (NotEmptyError, "node has children (use delete -r)"),
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
        "--json",
        action="store_true",
        help="print machine-readable JSON instead of text",
        **default(False),
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


def _build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _add_connection_options(common, top=False)

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A command-line ZooKeeper client (trio_zookeeper).",
        epilog="Run '%(prog)s COMMAND --help' for a command's options.",
    )
    _add_connection_options(parser, top=True)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str,
        help_text: str,
        parent: argparse._SubParsersAction[argparse.ArgumentParser] = commands,
    ) -> argparse.ArgumentParser:
        return parent.add_parser(name, parents=[common], help=help_text, description=help_text)

    p = command("ls", "list the children of a node")
    p.add_argument("path", type=_node_path, nargs="?", default="/", help="the node (default: /)")
    p.add_argument(
        "-R", "--recursive", action="store_true", help="list every descendant, as full paths"
    )

    p = command("get", "print a node's data")
    p.add_argument("path", type=_node_path)
    p.add_argument("-s", "--stat", action="store_true", help="also print the node's Stat")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write the raw data to FILE ('-': standard output)"
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

    p = command("create", "create a node")
    p.add_argument("path", help="the node; with a sequential mode it may end with '/'")
    _data_options(p, required=False)
    p.add_argument(
        "-m",
        "--mode",
        choices=list(_MODES),
        default="persistent",
        metavar="MODE",
        help=f"one of {', '.join(_MODES)} (default: persistent; an ephemeral node ends "
        "with this command's session)",
    )
    p.add_argument(
        "--ttl", type=_positive_int, metavar="MS", help="time to live in ms (ttl modes only)"
    )
    p.add_argument(
        "-p", "--makepath", action="store_true", help="create missing parents (persistent)"
    )
    p.add_argument(
        "--acl",
        action="append",
        metavar="SCHEME:ID:PERMS",
        help="an ACL entry (repeatable; default: world:anyone:cdrwa)",
    )

    p = command("delete", "delete a node")
    p.add_argument("path", type=_node_path)
    p.add_argument("-r", "--recursive", action="store_true", help="delete its descendants first")
    p.add_argument(
        "-v",
        "--version",
        type=_version_int,
        default=-1,
        help="only if the node has this data version (default: any)",
    )

    p = command("stat", "print a node's Stat")
    p.add_argument("path", type=_node_path)

    p = command("watch", "print changes to a node (or subtree) until interrupted")
    p.add_argument("path", type=_node_path)
    p.add_argument(
        "-r", "--recursive", action="store_true", help="watch the whole subtree (recursive watch)"
    )
    p.add_argument(
        "-n", "--count", type=_positive_int, metavar="N", help="stop after N node events"
    )

    p = command("tree", "draw a subtree")
    p.add_argument("path", type=_node_path, nargs="?", default="/", help="the root (default: /)")

    p = command(
        "dump",
        "write a subtree (data and children, ephemeral nodes left out) as JSON",
    )
    p.add_argument("path", type=_node_path)
    p.add_argument("file", nargs="?", default="-", help="output file (default: standard output)")

    p = command("load", "create a subtree from a dump file")
    p.add_argument("path", type=_node_path, help="where to load it (need not be the dumped path)")
    p.add_argument("file", nargs="?", default="-", help="the dump file (default: standard input)")
    p.add_argument(
        "--overwrite", action="store_true", help="also replace the data of existing nodes"
    )

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

    p = command("status", "ask each server of the connect string a four-letter word")
    p.add_argument(
        "word",
        nargs="?",
        default="srvr",
        choices=_STATUS_WORDS,
        help="the command (default: srvr; mntr and most others must be whitelisted "
        "with 4lw.commands.whitelist)",
    )
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


def _prepare(args: argparse.Namespace) -> _Connection:
    """Check what argparse could not, and read input files (before connecting)."""
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

    command = args.command
    if command in ("set", "create"):
        if args.data is not None and args.file is not None:
            raise _UsageError("give the data or --file, not both")
        if command == "set" and args.data is None and args.file is None:
            raise _UsageError("set needs the data (or --file)")
        args.payload = (
            _read_input(args.file)
            if args.file is not None
            else (args.data or "").encode("utf-8", errors="surrogateescape")
        )
    if command == "create":
        mode = _MODES[args.mode]
        try:
            validate_path(args.path, sequential=mode.is_sequential)
        except ValueError as exc:
            raise _UsageError(f"argument path: {exc}") from None
        if mode.is_ttl and args.ttl is None:
            raise _UsageError(f"--mode {args.mode} needs --ttl MS")
        if not mode.is_ttl and args.ttl is not None:
            raise _UsageError("--ttl needs --mode ttl or ttl-sequential")
        if args.ttl is not None and args.ttl > MAX_TTL_MS:
            raise _UsageError(f"--ttl may be at most {MAX_TTL_MS} ms")
        args.acl_entries = [_parse_acl_entry(e) for e in args.acl] if args.acl else None
    if command == "acl" and args.acl_command == "set":
        args.acl_entries = [_parse_acl_entry(e) for e in args.entries]
    if command == "load":
        args.dump = _parse_dump(_read_input(args.file), args.file)
    return _Connection(hosts=hosts, timeout=args.timeout, auth=tuple(auth), ssl_context=ssl_context)


# ================================================================ session
@asynccontextmanager
async def _connect(conn: _Connection) -> AsyncIterator[ZooKeeper]:
    """Open a session, bounding only the connecting by the timeout."""
    connecting = trio.CancelScope(deadline=trio.current_time() + conn.timeout)
    with connecting:
        async with open_zookeeper(
            conn.hosts,
            session_timeout=conn.timeout,
            auth=conn.auth,
            ssl_context=conn.ssl_context,
        ) as zk:
            connecting.deadline = math.inf
            yield zk
    if connecting.cancelled_caught:
        raise CommandError(f"could not connect to {conn.hosts} within {conn.timeout:g}s")


# =============================================================== commands
async def _children(zk: ZooKeeper, path: str) -> list[str] | None:
    """The sorted children, or None if the node vanished meanwhile."""
    try:
        return sorted(await zk.get_children(path))
    except NoNodeError:
        return None


def _join(parent: str, name: str) -> str:
    return f"{'' if parent == '/' else parent}/{name}"


async def _cmd_ls(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    names = sorted(await zk.get_children(args.path))
    if not args.recursive:
        items = names
    else:
        items = []

        async def walk(parent: str, children: list[str]) -> None:
            for name in children:
                child = _join(parent, name)
                items.append(child)
                grandchildren = await _children(zk, child)
                if grandchildren:
                    await walk(child, grandchildren)

        await walk(args.path, names)
    if out.json:
        out.json_value(items)
    else:
        for item in items:
            out.line(item)
    return EXIT_OK


async def _cmd_get(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    data, stat = await zk.get_data(args.path)
    if args.output == "-":
        out.raw(data)
        return EXIT_OK
    if args.output is not None:
        try:
            await trio.Path(args.output).write_bytes(data)
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
        return EXIT_OK
    if out.json:
        value: dict[str, object] = {"path": args.path, "data": _encode_data(data)}
        if args.stat:
            value["stat"] = _stat_dict(stat)
        out.json_value(value)
        return EXIT_OK
    shown = _encode_data(data)
    if isinstance(shown, str):
        out.line(shown)
    else:
        out.note(f"(binary data, {len(data)} bytes, shown in base64; -o FILE writes the bytes)")
        out.line(shown["base64"])
    if args.stat:
        for line in _stat_lines(stat):
            out.line(line)
    return EXIT_OK


async def _cmd_set(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    stat = await zk.set_data(args.path, args.payload, args.version)
    if out.json:
        out.json_value({"path": args.path, "stat": _stat_dict(stat)})
    return EXIT_OK


async def _cmd_create(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    kwargs: dict[str, Any] = {}
    if args.acl_entries is not None:
        kwargs["acl"] = args.acl_entries
    created = await zk.create(
        args.path,
        args.payload,
        mode=_MODES[args.mode],
        ttl=args.ttl,
        makepath=args.makepath,
        **kwargs,
    )
    if out.json:
        out.json_value({"path": created})
    else:
        out.line(created)
    return EXIT_OK


async def _cmd_delete(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    if args.path == "/" and args.recursive:
        raise CommandError("refusing to delete everything under /")
    await zk.delete(args.path, args.version, recursive=args.recursive)
    if out.json:
        out.json_value({"deleted": args.path})
    return EXIT_OK


async def _cmd_stat(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    stat = await zk.exists(args.path)
    if stat is None:
        raise NoNodeError(path=args.path)
    if out.json:
        out.json_value(_stat_dict(stat))
    else:
        for line in _stat_lines(stat):
            out.line(line)
    return EXIT_OK


async def _cmd_watch(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    mode = AddWatchMode.PERSISTENT_RECURSIVE if args.recursive else AddWatchMode.PERSISTENT
    received = 0
    async with zk.add_watch(args.path, mode) as events:
        how = " and its subtree" if args.recursive else ""
        until = f"for {args.count} event(s)" if args.count else "until interrupted (Ctrl-C)"
        out.note(f"watching {args.path}{how} {until}")
        while args.count is None or received < args.count:
            try:
                event = await events.receive()
            except trio.EndOfChannel:
                raise CommandError("the watch ended: the session was closed or expired") from None
            if event.event_type is EventType.NONE:
                out.note(f"session: {event.keeper_state.name}")
                continue
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
                out.line(f"{event.event_type.name} {event.path}")
    return EXIT_OK


async def _tree(zk: ZooKeeper, path: str, name: str) -> dict[str, Any]:
    children = await _children(zk, path) or []
    return {
        "name": name,
        "path": path,
        "children": [await _tree(zk, _join(path, child), child) for child in children],
    }


def _draw(node: dict[str, Any], prefix: str, lines: list[str]) -> None:
    children: list[dict[str, Any]] = node["children"]
    for index, child in enumerate(children):
        last = index == len(children) - 1
        lines.append(f"{prefix}{'└── ' if last else '├── '}{child['name']}")
        _draw(child, prefix + ("    " if last else "│   "), lines)


async def _cmd_tree(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    if await zk.exists(args.path) is None:
        raise NoNodeError(path=args.path)
    tree = await _tree(zk, args.path, args.path)
    if out.json:
        out.json_value(tree)
        return EXIT_OK
    lines = [args.path]
    _draw(tree, "", lines)
    for line in lines:
        out.line(line)
    return EXIT_OK


async def _dump_node(zk: ZooKeeper, path: str, counter: list[int]) -> dict[str, Any] | None:
    """A node and its persistent descendants; None if it vanished or is ephemeral."""
    try:
        data, stat = await zk.get_data(path)
    except NoNodeError:
        return None
    if stat.ephemeral_owner:
        return None
    counter[0] += 1
    children: dict[str, Any] = {}
    for name in await _children(zk, path) or []:
        child = _join(path, name)
        if child == "/zookeeper":
            continue  # the server's own subtree cannot be loaded back
        node = await _dump_node(zk, child, counter)
        if node is not None:
            children[name] = node
    return {"data": _encode_data(data), "children": children}


async def _cmd_dump(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    counter = [0]
    root = await _dump_node(zk, args.path, counter)
    if root is None:
        stat = await zk.exists(args.path)
        if stat is None:
            raise NoNodeError(path=args.path)
        raise CommandError(f"{args.path} is an ephemeral node: there is nothing to dump")
    document = {"format": DUMP_FORMAT, "version": DUMP_VERSION, "path": args.path, "root": root}
    text = json.dumps(document, indent=2) + "\n"
    if args.file == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return EXIT_OK
    try:
        await trio.Path(args.file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {args.file}: {exc.strerror or exc}") from None
    if out.json:
        out.json_value({"path": args.path, "file": args.file, "nodes": counter[0]})
    else:
        out.line(f"wrote {counter[0]} node(s) under {args.path} to {args.file}")
    return EXIT_OK


@attrs.frozen
class _DumpNode:
    data: bytes
    children: tuple[tuple[str, _DumpNode], ...]


def _parse_dump(raw: bytes, source: str) -> _DumpNode:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(f"invalid dump file {source}: not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != DUMP_FORMAT:
        raise CommandError(f"invalid dump file {source}: not a {PROG} dump")
    if document.get("version") != DUMP_VERSION:
        raise CommandError(
            f"invalid dump file {source}: version {document.get('version')!r} "
            f"(this {PROG} reads version {DUMP_VERSION})"
        )

    def node(value: object, where: str) -> _DumpNode:
        if not isinstance(value, dict):
            raise CommandError(f"invalid dump file: the node at {where} must be an object")
        children = value.get("children", {})
        if not isinstance(children, dict):
            raise CommandError(f"invalid dump file: children at {where} must be an object")
        parsed = []
        for name, child in children.items():
            try:
                validate_path("/" + name)
            except ValueError:
                raise CommandError(
                    f"invalid dump file: bad child name {name!r} at {where}"
                ) from None
            if "/" in name:
                raise CommandError(f"invalid dump file: bad child name {name!r} at {where}")
            parsed.append((name, node(child, _join(where, name))))
        return _DumpNode(_decode_data(value.get("data"), where), tuple(parsed))

    return node(document.get("root"), "/")


async def _cmd_load(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    report: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "kept": []}

    async def load(path: str, node: _DumpNode, *, top: bool) -> None:
        try:
            await zk.create(path, node.data, makepath=top)
            report["created"].append(path)
        except NodeExistsError:
            current, _ = await zk.get_data(path)
            if current == node.data:
                report["unchanged"].append(path)
            elif args.overwrite:
                await zk.set_data(path, node.data)
                report["updated"].append(path)
            else:
                report["kept"].append(path)
        for name, child in node.children:
            await load(_join(path, name), child, top=False)

    await load(args.path, args.dump, top=True)
    if out.json:
        out.json_value(report)
    else:
        summary = ", ".join(f"{len(paths)} {what}" for what, paths in report.items())
        out.line(f"loaded {args.path}: {summary}")
        if report["kept"]:
            out.note(
                f"{len(report['kept'])} existing node(s) with different data were left as they "
                "are; use --overwrite to replace their data"
            )
    return EXIT_OK


async def _cmd_acl_get(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    acl, stat = await zk.get_acl(args.path)
    if out.json:
        out.json_value(
            {
                "path": args.path,
                "acl": [
                    {"scheme": a.id.scheme, "id": a.id.id, "perms": _perms_text(a.perms)}
                    for a in acl
                ],
                "aversion": stat.aversion,
            }
        )
    else:
        for entry in acl:
            out.line(_acl_text(entry))
    return EXIT_OK


async def _cmd_acl_set(zk: ZooKeeper, args: argparse.Namespace, out: _Output) -> int:
    stat = await zk.set_acl(args.path, args.acl_entries, args.version)
    if out.json:
        out.json_value({"path": args.path, "aversion": stat.aversion})
    return EXIT_OK


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


# ============================================================ status (4lw)
async def _four_letter_word(host: HostPort, word: str, ssl_context: ssl.SSLContext | None) -> str:
    """Send a four-letter word and read the answer to EOF (the caller bounds the time)."""
    stream: trio.abc.Stream = await trio.open_tcp_stream(host.host, host.port)
    if ssl_context is not None:
        tls = trio.SSLStream(stream, ssl_context, server_hostname=host.host)
        try:
            await tls.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tls)
            raise
        stream = tls
    chunks: list[bytes] = []
    size = 0
    async with stream:
        await stream.send_all(word.encode("ascii"))
        if isinstance(stream, trio.SocketStream):
            await stream.send_eof()
        while chunk := await stream.receive_some(65536):
            chunks.append(bytes(chunk))
            size += len(chunk)
            if size > _MAX_STATUS_ANSWER:
                raise OSError(f"answer larger than {_MAX_STATUS_ANSWER} bytes")
    return b"".join(chunks).decode("utf-8", errors="replace")


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
                answer = await _four_letter_word(host, word, conn.ssl_context)
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
_Command = Callable[[ZooKeeper, argparse.Namespace, _Output], Awaitable[int]]

_COMMANDS: dict[str, _Command] = {
    "ls": _cmd_ls,
    "get": _cmd_get,
    "set": _cmd_set,
    "create": _cmd_create,
    "delete": _cmd_delete,
    "stat": _cmd_stat,
    "watch": _cmd_watch,
    "tree": _cmd_tree,
    "dump": _cmd_dump,
    "load": _cmd_load,
    "acl get": _cmd_acl_get,
    "acl set": _cmd_acl_set,
}


class _Interruption:
    """Where a SIGINT/SIGTERM stops a command cleanly.

    Once connected, the first signal cancels only the command's body, inside
    the session's ``async with`` block, so that the session still closes
    normally (the watch is removed, closeSession is answered). Before that,
    or on a second signal, everything is cancelled.
    """

    def __init__(self) -> None:
        self.body = trio.CancelScope()
        self.in_body = False


async def _run_command(
    args: argparse.Namespace,
    conn: _Connection,
    out: _Output,
    interruption: _Interruption | None = None,
) -> int:
    if args.command == "status":
        return await _status(args, conn, out)
    name = args.command if args.command != "acl" else f"acl {args.acl_command}"
    command = _COMMANDS[name]
    async with _connect(conn) as zk:
        if interruption is None:
            return await command(zk, args, out)
        with interruption.body:
            interruption.in_body = True
            return await command(zk, args, out)
        interruption.in_body = False
    return EXIT_OK  # interrupted: a normal way to stop


async def _run_interruptible(args: argparse.Namespace, conn: _Connection, out: _Output) -> int:
    """Run a command that SIGINT/SIGTERM stop cleanly (exit 0): ``watch``."""
    result = EXIT_OK
    interruption = _Interruption()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for _ in signals:
                    if interruption.in_body and not interruption.body.cancel_called:
                        interruption.body.cancel()
                    else:
                        nursery.cancel_scope.cancel()

            nursery.start_soon(stop_on_signal)
            try:
                result = await _run_command(args, conn, out, interruption)
            finally:
                nursery.cancel_scope.cancel()
    return result


def _error(text: str) -> None:
    print(f"error: {' '.join(text.split())}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: The arguments (without the program name); ``sys.argv[1:]`` if None.

    Returns:
        The exit status: 0 on success, 1 on an error (reported on stderr as one
        ``error: ...`` line), 2 on a usage error, 130 when interrupted.
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = _Output(as_json=args.json)
    watching = args.command == "watch"
    try:
        conn = _prepare(args)
        if args.command == "acl" and args.acl_command == "digest":
            return _cmd_acl_digest(args, out)
        if watching and threading.current_thread() is threading.main_thread():
            return trio.run(_run_interruptible, args, conn, out)
        return trio.run(_run_command, args, conn, out)
    except BaseException as exc:
        code = _exit_status(exc, watching=watching)
        if code is None:
            raise  # a bug: keep the traceback
        return code


def _exit_status(exc: BaseException, *, watching: bool) -> int | None:
    """Report an expected error and return the exit status; None for a bug."""
    leaves = [e for e in _leaves(exc) if not isinstance(e, trio.Cancelled)]
    if len(leaves) != 1:
        return None
    leaf = leaves[0]
    if isinstance(leaf, KeyboardInterrupt):
        return EXIT_OK if watching else EXIT_INTERRUPTED
    if isinstance(leaf, BrokenPipeError):
        # The reader went away (`... | head`): stop quietly, as Unix tools do,
        # and keep the interpreter from complaining when it flushes stdout.
        with suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    if isinstance(leaf, _UsageError):
        _error(str(leaf))
        return EXIT_USAGE
    message = _error_message(leaf)
    if message is None:
        return None
    _error(message)
    return leaf.exit_code if isinstance(leaf, CommandError) else EXIT_ERROR
