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

This module is the driver: :func:`main`, the table of commands, a one-shot
run (connect, run, close; SIGINT/SIGTERM) and error reporting. The rest is
split by what it holds: ``_cli_common`` (constants, errors, connection
options), ``_cli_output`` (text, JSON, progress, and the writer thread
all output goes through), ``_cli_parser`` (the
argument parser), ``_cli_context`` (prepared arguments, the session, the
command context), ``_cli_commands`` (the commands), ``_cli_dump`` (the dump
format) and ``_cli_shell`` (the interactive shell).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress

import trio

from ._cli_commands import (
    _cmd_acl_digest,
    _cmd_add_watch,
    _cmd_addauth,
    _cmd_config,
    _cmd_create,
    _cmd_delete,
    _cmd_deleteall,
    _cmd_delquota,
    _cmd_dump,
    _cmd_get,
    _cmd_get_acl,
    _cmd_get_all_children_number,
    _cmd_get_ephemerals,
    _cmd_listquota,
    _cmd_load,
    _cmd_ls,
    _cmd_reconfig,
    _cmd_removewatches,
    _cmd_set,
    _cmd_set_acl,
    _cmd_setquota,
    _cmd_stat,
    _cmd_sync,
    _cmd_tree,
    _cmd_version,
    _cmd_watch,
    _cmd_whoami,
    _status,
)
from ._cli_common import (
    _WATCHING,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    _Connection,
    _UsageError,
)
from ._cli_context import (
    _connect,
    _connection,
    _Context,
    _logging,
    _prepare_command,
    _Prepared,
)
from ._cli_output import (
    _error_message,
    _error_object,
    _leaves,
    _Output,
    _WriteError,
)
from ._cli_parser import (
    _build_parser,
)

__all__ = ["CommandError", "main"]

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
        out.interrupted = True
        out.clear_progress()
        return EXIT_OK if watching else EXIT_INTERRUPTED
    return result


def _report(exc: BaseException, out: _Output | None, as_json: bool) -> int | None:
    """Report an expected error and return the exit status; None for a bug.

    The report is queued on ``out`` after the command's output, unless the
    output failed (then it goes straight to stderr).
    """
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
    if out is None or out.writer.failed or out.writer.closed:
        # Nothing is queued (or nothing more can be): straight to the stream.
        if as_json and not isinstance(leaf, _WriteError):
            print(json.dumps(_error_object(leaf, message)), file=sys.stdout, flush=True)
        else:
            with suppress(OSError):
                print(f"error: {message}", file=sys.stderr, flush=True)
        return code
    out.clear_progress()
    if as_json:
        out.line(json.dumps(_error_object(leaf, message)))
    else:
        out.note(f"error: {message}")
    return code


def _finish(out: _Output, code: int | None, error: BaseException | None) -> int:
    """Write out what is queued, then return the exit status.

    ``code`` is the status so far, None when ``error`` is a bug (re-raised
    once the output is written). A failure of the last writes (the reader
    went away, Ctrl-C while waiting for a reader) is reported as any error.
    """
    if code == EXIT_INTERRUPTED:
        out.interrupted = True
    try:
        out.close()
    except BaseException as exc:
        late = _report(exc, out, out.json)
        if late is None:
            raise
        if code == EXIT_OK or isinstance(exc, KeyboardInterrupt):
            code = late
    if code is None:
        assert error is not None
        raise error
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
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except BaseException as exc:  # a usage error
        reported = _report(exc, None, as_json)
        if reported is None:
            raise  # a bug: keep the traceback
        return reported
    out = _Output(as_json=args.json)
    error: BaseException | None = None
    code: int | None
    try:
        code = _run(args, out)
    except BaseException as exc:
        error = exc
        code = _report(exc, out, as_json)
    # The session is closed: now everything queued is written.
    return _finish(out, code, error)


def _run(args: argparse.Namespace, out: _Output) -> int:
    local = _local_command(args, out)
    if local is not None:
        return local
    conn = _connection(args)
    with _logging(args.verbose + getattr(args, "verbose_late", 0), out):
        if args.command == "shell":
            from ._cli_shell import run_shell

            return run_shell(conn, out)
        prepared = _prepare_command(args)
        return trio.run(_run_one_shot, args, prepared, conn, out)
