"""From parsed arguments to a running command.

:func:`_prepare_command` checks what argparse could not and reads input files
before connecting, into a typed :class:`_Prepared` record; then the session
is opened (``_connect``) and a command runs with a :class:`_Context` (the
client, the output, the prepared arguments). Following watches lives here too.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import ssl
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import attrs
import trio

from ._cli_common import (
    _MODES,
    _QUOTA_KEYS,
    DEFAULT_HOSTS,
    HOSTS_ENV,
    CommandError,
    _Connection,
    _UsageError,
)
from ._cli_dump import (
    DumpError,
    DumpNode,
    parse_dump,
)
from ._cli_output import (
    _LogHandler,
    _Output,
    _parse_acl_entry,
    _parse_acl_list,
)
from ._client import MAX_TTL_MS, ZooKeeper, open_zookeeper
from ._hosts import parse_connect_string
from ._protocol import (
    ACL,
    CreateMode,
    EventType,
    WatchedEvent,
    validate_path,
)
from ._protocol._sasl import SaslMechanism


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
    return _Connection(
        hosts=hosts,
        timeout=args.timeout,
        auth=tuple(auth),
        ssl_context=_ssl_context(args),
        max_frame_size=args.max_frame_size,
        sasl=_kerberos(args),
    )


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """``--tls-ca`` (and a client certificate from ``--tls-cert``/``--tls-key``)."""
    if args.tls_ca is None:
        if args.tls_cert is not None or args.tls_key is not None:
            raise _UsageError("--tls-cert and --tls-key need --tls-ca (TLS)")
        return None
    try:
        context = ssl.create_default_context(cafile=args.tls_ca)
    except (OSError, ssl.SSLError) as exc:
        raise _UsageError(
            f"--tls-ca: cannot load {args.tls_ca}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    if args.tls_cert is None:
        if args.tls_key is not None:
            raise _UsageError("--tls-key needs --tls-cert")
        return context
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        files = args.tls_cert if args.tls_key is None else f"{args.tls_cert} and {args.tls_key}"
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise _UsageError(
            f"--tls-cert: cannot load the certificate from {files}: {reason}"
        ) from None
    return context


def _kerberos(args: argparse.Namespace) -> SaslMechanism | None:
    """``--kerberos`` and its options, as a SaslGSSAPI (None when not asked for)."""
    if not (args.kerberos or args.keytab or args.principal or args.server_principal):
        return None
    if args.keytab is not None and not os.path.isfile(args.keytab):
        raise _UsageError(f"--keytab: no such file: {args.keytab}")
    try:
        from ._kerberos import SaslGSSAPI

        return SaslGSSAPI(
            keytab=args.keytab,
            principal=args.principal,
            server_principal=args.server_principal,
        )
    except ImportError as exc:
        raise _UsageError(f"--kerberos: {exc}") from None
    except ValueError as exc:
        raise _UsageError(f"--kerberos: {exc}") from None


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
def _logging(verbose: int, out: _Output) -> Iterator[None]:
    """-v: the client's INFO messages on stderr; -vv: DEBUG; else none (errors say why).

    The messages go through ``out``'s writer, in order with the output.

    The logger's settings are restored afterwards (``main`` may run in a
    process that has its own logging).
    """
    logger = logging.getLogger("trio_zookeeper")
    saved = (logger.propagate, logger.level)
    if verbose:
        handler: logging.Handler = _LogHandler(out.writer)
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
            sasl=conn.sasl,
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
    # Whether watch events print when they come (the shell's ``printwatches``;
    # read when an event arrives, so switching it applies to watches set before).
    show_watches: Callable[[], bool] = lambda: True

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
                    if ctx.show_watches():
                        _print_event(ctx.out, event)
                    return

    if ctx.background is not None:
        ctx.background.start_soon(wait)
    else:
        await wait()
