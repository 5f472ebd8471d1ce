"""The command line's argument parser: global options, zkCli's commands and flags, ours."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

from ._cli_common import (
    _MODES,
    _QUOTA_FLAGS,
    _STATUS_WORDS,
    DEFAULT_HOSTS,
    DEFAULT_TIMEOUT,
    HOSTS_ENV,
    PROG,
    _Parser,
)
from ._protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    validate_path,
)
from ._version import __version__


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
        "--tls-cert",
        metavar="FILE",
        help="present this client certificate (PEM) to TLS servers that ask for one "
        "(ZooKeeper's x509 auth); needs --tls-ca",
        **default(None),
    )
    group.add_argument(
        "--tls-key",
        metavar="FILE",
        help="the private key of --tls-cert (PEM), when it is not in that file",
        **default(None),
    )
    group.add_argument(
        "--kerberos",
        action="store_true",
        help="authenticate with Kerberos (SASL GSSAPI), with the tickets of the "
        "default credential cache ($KRB5CCNAME, kinit) unless --keytab is given",
        **default(False),
    )
    group.add_argument(
        "--keytab",
        metavar="FILE",
        help="Kerberos: log in from this keytab (implies --kerberos)",
        **default(None),
    )
    group.add_argument(
        "--principal",
        metavar="NAME",
        help="Kerberos: the client principal, e.g. app@EXAMPLE.COM (implies --kerberos; "
        "default: the credential cache's or the keytab's)",
        **default(None),
    )
    group.add_argument(
        "--server-principal",
        metavar="NAME",
        help="Kerberos: the server's whole principal (implies --kerberos; "
        "default: zookeeper/<host> in the default realm)",
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
        help="remove this client's watches even if the server cannot be reached",
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
        command("history", "list the last 11 commands with their numbers")
        command("redo", "run command number N again (see 'history')").add_argument(
            "number", type=int, metavar="N"
        )
        command(
            "printwatches", "whether watch events print as they come (on by default)"
        ).add_argument("state", nargs="?", choices=["on", "off"])
        command("quit", "leave the shell", aliases=["exit"])
    else:
        command("shell", "run commands interactively (or from standard input), one session")
    return parser
