"""The command line's commands: one ``_cmd_*`` coroutine per command.

The everyday ones (``ls``, ``get``, ``create``...), the recursive ones
(``ls -R``, ``tree``, ``dump``, ``load``, ``deleteall``, ``setAcl -R``, which
walk with :mod:`trio_zookeeper._tree`), quotas, the ensemble's configuration,
and ``status`` (four-letter words, through :mod:`trio_zookeeper._net`).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
from collections.abc import Callable
from contextlib import suppress
from typing import IO, TYPE_CHECKING, Any

import trio

from ._acl import OPEN_ACL_UNSAFE, make_digest_acl_credential
from ._cli_common import (
    _LOAD_BATCH,
    _LOAD_BATCH_BYTES,
    _NOT_WHITELISTED,
    _QUOTA_KEYS,
    _QUOTA_LIMITS,
    _QUOTA_ROOT,
    _QUOTA_STATS,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    PROG,
    CommandError,
    _Connection,
    _UsageError,
)
from ._cli_context import (
    _Context,
    _follow_watch,
)
from ._cli_dump import (
    MODES as DUMP_MODES,
)
from ._cli_dump import (
    DumpNode,
    DumpWriter,
    acl_text,
    encode_data,
)
from ._cli_output import (
    _acl_json,
    _error_message,
    _JsonList,
    _Output,
    _stat_dict,
    _stat_lines,
)
from ._hosts import HostPort, parse_connect_string
from ._net import four_letter_word
from ._protocol import (
    ACL,
    AddWatchMode,
    EventType,
    Stat,
    WatcherType,
)
from ._protocol._errors import (
    ConnectionLossError,
    InvalidACLError,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    ServerError,
    UnimplementedError,
    ZooKeeperError,
)
from ._tree import delete_subtree, join_path, walk_tree
from ._version import __version__

if TYPE_CHECKING:
    from ._pipeline import Pending, Pipeline

#: ``setAcl -R``: the ACL writes in flight at once.
_SET_ACL_WINDOW = 128
#: ``load`` node by node (over an existing tree): the nodes in flight at once.
_LOAD_WINDOW = 64


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
            await out.drained()
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
            with suppress(CommandError, ZooKeeperError, trio.ClosedResourceError, OSError):
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
            if ready is not None and not ctx.show_watches():
                continue  # the shell's printwatches is off
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
            await out.drained()
    return EXIT_OK


async def _cmd_removewatches(ctx: _Context, args: argparse.Namespace) -> int:
    kind = {"c": WatcherType.CHILDREN, "d": WatcherType.DATA}.get(args.kind, WatcherType.ANY)
    await ctx.client.remove_watches(args.path, kind, local=args.local)
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
            await out.drained()
            if out.json:
                # A nested document, written as the nodes come (no recursion).
                closing = "]}" * (json_depth - node.depth + 1) if json_depth >= 0 else ""
                separator = "," if json_depth >= node.depth else ""
                name = args.path if node.depth == 0 else node.path.rsplit("/", 1)[1]
                head = json.dumps({"name": name, "path": node.path})[:-1]
                out.write(f'{closing}{separator}{head}, "children": [')
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
        out.write("]}" * (json_depth + 1) + "\n")
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
    stream = None if args.file == "-" else _open_for_writing(args.file)
    write = out.write if stream is None else stream.write
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
                    writer = DumpWriter(write, args.path)
                writer.add(node.path, node.data, node.acl, mode=mode)
                out.progress(f"dump {args.path}: {writer.count} nodes")
                await out.drained()
        assert writer is not None
        writer.close()
    finally:
        if stream is not None:
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
    done = 0

    def target(node: DumpNode) -> str:
        return root if not node.path else join_path(root, node.path)

    def node_acl(node: DumpNode) -> tuple[ACL, ...] | None:
        """The ACL the node is loaded with (None: the dump has none, or --no-acl)."""
        return None if args.no_acl else node.acl

    def create_options(node: DumpNode) -> dict[str, Any]:
        """The node's create options, in a pipeline or a transaction alike."""
        return {
            "acl": node_acl(node) or OPEN_ACL_UNSAFE,
            "mode": DUMP_MODES[node.mode],
            "ttl": node.ttl,
        }

    # Loading node by node, through one pipeline: each window entry is a node
    # and the requests of its current step, taken oldest first. A create
    # that finds the node there is followed by a compare (its data, and its
    # ACL if the dump has one) and, with --overwrite, an update.
    window: collections.deque[tuple[DumpNode, str, tuple[Pending[Any], ...]]]
    window = collections.deque()

    async def settle(pipe: Pipeline) -> None:
        """Take the oldest entry's replies; queue its next step, or record its outcome."""
        nonlocal done
        node, step, pendings = window.popleft()
        path = target(node)
        acl = node_acl(node)
        results: list[Any] = []
        error: ZooKeeperError | None = None
        for pending in pendings:  # every reply taken, the first error kept
            try:
                results.append(await pending)
            except ZooKeeperError as exc:
                error = error or exc
        if isinstance(error, NodeExistsError):
            compare: list[Pending[Any]] = [pipe.get_data(path)]
            if acl is not None:
                compare.append(pipe.get_acl(path))
            window.append((node, "compare", tuple(compare)))
            return
        if isinstance(error, (NoAuthError, InvalidACLError, UnimplementedError)):
            failed.add(node.path)
            out.warning(f"cannot load {path}: {_error_message(error)}; its subtree is skipped")
        elif error is not None:
            raise error
        elif step == "compare":
            (current, _), *rest = results
            same_data = current == node.data
            same_acl = acl is None or list(rest[0][0]) == list(acl)
            if same_data and same_acl:
                report["unchanged"].append(path)
            elif not args.overwrite:
                report["kept"].append(path)
            else:
                update: list[Pending[Any]] = []
                if not same_data:
                    update.append(pipe.set_data(path, node.data))
                if not same_acl and acl is not None:
                    update.append(pipe.set_acl(path, acl))
                window.append((node, "update", tuple(update)))
                return
        else:
            report["created" if step == "create" else "updated"].append(path)
        done += 1
        out.progress(f"load {root}: {done}/{len(dump)} nodes")
        await out.drained()

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
        """Each node on its own, a level at a time (its parents exist), many at once.

        Up to ``_LOAD_WINDOW`` nodes are in flight in one pipeline, with no
        task per node however wide a level is. A node whose parent was not
        loaded is skipped, with its subtree.
        """
        by_depth: dict[int, list[DumpNode]] = {}
        for node in nodes:
            by_depth.setdefault(node.depth, []).append(node)
        async with zk.pipeline() as pipe:
            for depth in sorted(by_depth):
                for node in by_depth[depth]:
                    parent = node.path.rpartition("/")[0] if node.path else None
                    if parent is not None and parent in failed:
                        failed.add(node.path)
                        report["skipped"].append(target(node))
                        continue
                    created = pipe.create(target(node), node.data, **create_options(node))
                    window.append((node, "create", (created,)))
                    while len(window) >= _LOAD_WINDOW:
                        await settle(pipe)
                while window:  # the level is done before its children go out
                    await settle(pipe)

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
                transaction.create(target(node), node.data, **create_options(node))
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
        # The root's missing parents (with the root's ACL, as create's
        # makepath), then the root itself, created or compared as any node.
        parent_acl = node_acl(wanted[0]) or OPEN_ACL_UNSAFE
        await zk.ensure_path(root.rsplit("/", 1)[0] or "/", acl=parent_acl)
        await one_by_one(wanted[:1])
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
    # -R: the root first (with the version check), then the rest, many at
    # once: up to _SET_ACL_WINDOW in flight in one pipeline, taken oldest
    # first (no task per node, however large the tree).
    await zk.set_acl(args.path, acl, args.version)
    count = 1
    window: collections.deque[tuple[str, Pending[Stat]]] = collections.deque()

    async def settle_oldest() -> None:
        nonlocal count
        path, pending = window.popleft()
        try:
            await pending
        except NoNodeError:
            return
        except NoAuthError:
            out.warning(f"cannot set the ACL of {path}: not authorized")
            await out.drained()
            return
        count += 1
        out.progress(f"setAcl -R {args.path}: {count} nodes")

    async with (
        walk_tree(zk, args.path, on_error=_warn_unreadable(out)) as nodes,
        zk.pipeline() as pipe,
    ):
        async for node in nodes:
            if node.depth:
                window.append((node.path, pipe.set_acl(node.path, acl)))
                if len(window) >= _SET_ACL_WINDOW:
                    await settle_oldest()
        while window:
            await settle_oldest()
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
