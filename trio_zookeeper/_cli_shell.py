"""The command line's interactive shell: ``trio-zookeeper shell``.

One session serves every command, so ``addauth`` applies to the commands
after it and ephemeral nodes live until the shell exits (or ``close``).
On a terminal it has line editing, history (``~/.trio_zookeeper_history``,
or ``$TRIO_ZOOKEEPER_HISTORY``) and tab completion of commands and of paths
read from the server, through the standard library's :mod:`readline`; Ctrl-C
cancels the running command (or the line being typed), Ctrl-D leaves. As in
zkCli, commands are numbered: ``history`` and ``redo N`` use the numbers, and
``printwatches on|off`` says whether watch events print. When
standard input is not a terminal it runs the lines it is given, in order,
printing their results, and exits with 0 if every command succeeded, else
with the first failing command's status.

Design: trio runs in a second thread and owns the session; the main thread
reads lines (so readline and Ctrl-C work as in any terminal program), hands
each command to the trio thread and waits for it. A Ctrl-C while waiting
cancels the command's cancel scope in the trio thread, and the shell goes on.
All output (the commands', and the shell's own) goes through one writer
(:class:`~trio_zookeeper._cli_output._Output`'s thread), shared by every
command; before each prompt or line the main thread waits until it is
written, so a reader that pauses holds the input, never the trio thread
(the session's pings go on).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import suppress

import attrs
import trio

from . import _cli as cli
from ._cli_commands import _status
from ._cli_common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, _Connection, _UsageError
from ._cli_context import _connect, _Context, _prepare_command, _Prepared
from ._cli_output import _isatty, _Output
from ._cli_parser import _build_parser
from ._client import ZooKeeper
from ._hosts import parse_connect_string
from ._protocol._errors import ZooKeeperError

__all__ = ["run_shell"]

HISTORY_ENV = "TRIO_ZOOKEEPER_HISTORY"
_HISTORY_LENGTH = 1000
_COMPLETION_TIMEOUT = 2.0  # seconds a path completion may wait for the server
_SHELL_ONLY = ("connect", "close", "help", "quit", "exit")
#: The commands run in the input thread, on the shell's own state.
_IN_SHELL = ("history", "redo", "printwatches")


@attrs.define
class _Session:
    zk: ZooKeeper
    background: trio.Nursery
    closing: trio.Event
    closed: trio.Event


class _Shell:
    """The shell's state, shared by the input thread and the trio thread."""

    def __init__(self, conn: _Connection, out: _Output) -> None:
        self.conn = conn
        self.json = out.json
        # The shell's own output (history, help, errors of its lines); each
        # command's _Output shares its writer, so everything stays in order.
        self.out = out
        self.parser = _build_parser(shell=True)
        self.interactive = _isatty(sys.stdin)
        self.session: _Session | None = None
        self.token: trio.lowlevel.TrioToken | None = None
        self.nursery: trio.Nursery | None = None
        self.stop = threading.Event()
        self.started = threading.Event()
        self.startup_error: BaseException | None = None
        self.count = 0
        # Command number -> its line, for ``history`` and ``redo`` (the last
        # _HISTORY_LENGTH kept, as readline keeps for the terminal's own).
        self.history: dict[int, str] = {}
        self.print_watches = True
        self.status = EXIT_OK
        self.current: trio.CancelScope | None = None

    # ------------------------------------------------------- trio thread
    async def trio_main(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                self.token = trio.lowlevel.current_trio_token()
                try:
                    await self.open_session(self.conn)
                except BaseException as exc:
                    self.startup_error = exc
                    nursery.cancel_scope.cancel()
                    return
                finally:
                    self.started.set()
                await trio.to_thread.run_sync(self.stop.wait, abandon_on_cancel=True)
                await self.close_session()
                nursery.cancel_scope.cancel()
        finally:
            self.started.set()

    async def open_session(self, conn: _Connection) -> None:
        assert self.nursery is not None

        async def serve(task_status: trio.TaskStatus[_Session]) -> None:
            closed = trio.Event()
            try:
                async with _connect(conn) as zk, trio.open_nursery() as background:
                    session = _Session(zk, background, trio.Event(), closed)
                    task_status.started(session)
                    await session.closing.wait()
                    background.cancel_scope.cancel()
            finally:
                closed.set()

        self.session = await self.nursery.start(serve)
        self.conn = conn

    async def close_session(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.closing.set()
            await session.closed.wait()

    async def execute(self, args: argparse.Namespace, prepared: _Prepared, out: _Output) -> int:
        """Run one command in the trio thread (cancellable through ``self.current``)."""
        name = cli._command_name(args)
        with trio.CancelScope() as scope:
            self.current = scope
            if name == "connect":
                conn = attrs.evolve(self.conn, hosts=args.hosts) if args.hosts else self.conn
                if args.hosts:
                    try:
                        parse_connect_string(args.hosts)
                    except ValueError as exc:
                        raise _UsageError(str(exc)) from None
                await self.close_session()
                await self.open_session(conn)
                return EXIT_OK
            if name == "close":
                await self.close_session()
                return EXIT_OK
            if name == "status":
                return await _status(args, self.conn, out)
            session = self.session
            ctx = _Context(
                None if session is None else session.zk,
                out,
                self.conn,
                None if session is None else session.background,
                prepared,
                show_watches=lambda: self.print_watches,
            )
            return await cli._COMMANDS[name](ctx, args)
        out.clear_progress()
        out.note("(cancelled)")
        return EXIT_INTERRUPTED

    def submit(
        self, args: argparse.Namespace, prepared: _Prepared, out: _Output
    ) -> concurrent.futures.Future[int]:
        future: concurrent.futures.Future[int] = concurrent.futures.Future()

        async def runner() -> None:
            try:
                result = await self.execute(args, prepared, out)
            except BaseException as exc:
                future.set_exception(exc)
                if not isinstance(exc, Exception | trio.Cancelled | KeyboardInterrupt):
                    raise
            else:
                future.set_result(result)
            finally:
                self.current = None

        def start() -> None:
            assert self.nursery is not None
            self.nursery.start_soon(runner)

        trio.from_thread.run_sync(start, trio_token=self.token)
        return future

    # ------------------------------------------------------ input thread
    def prompt(self) -> str:
        state = "CONNECTED" if self.session is not None else "CLOSED"
        return f"[zk: {self.conn.hosts}({state}) {self.count}] "

    def run_line(self, line: str) -> None:
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            self.fail(EXIT_USAGE, f"cannot split the line: {exc}")
            return
        if not words:
            return
        # Numbered as zkCli numbers them: the number the prompt showed.
        self.history[self.count] = line.strip()
        self.history.pop(self.count - _HISTORY_LENGTH, None)
        self.count += 1
        self.run_words(words)

    def run_words(self, words: list[str]) -> None:
        as_json = self.json
        while words and words[0] == "--json":  # also accepted before the command
            as_json = True
            words = words[1:]
        if not words:
            return
        if words[0] in ("quit", "exit"):
            raise EOFError
        if words[0] == "help" or words[0] == "?":
            self.help(words[1:])
            return
        if words[0] not in self.command_names():
            self.fail(EXIT_USAGE, f"unknown command {words[0]!r} (type 'help')")
            return
        try:
            args = self._parse(words)
        except SystemExit:  # a command's --help
            return
        except BaseException as exc:
            code = cli._report(exc, self.out, as_json or "--json" in words)
            self.record(EXIT_USAGE if code is None else code)
            return
        if args.command in _IN_SHELL:
            self.shell_command(args)
            return
        out = _Output(as_json=as_json or getattr(args, "json", False), writer=self.out.writer)
        try:
            local = cli._local_command(args, out)
            if local is not None:
                self.record(local)
                return
            prepared = _prepare_command(args) if args.command not in _SHELL_ONLY else _Prepared()
            future = self.submit(args, prepared, out)
            self.record(self.wait(future))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and not self.interactive:
                raise
            code = cli._report(exc, out, out.json)
            if code is None:
                raise
            self.record(code)

    def shell_command(self, args: argparse.Namespace) -> None:
        """``history``, ``redo`` and ``printwatches``: the shell's own state, as zkCli's."""
        if args.command == "history":
            for number in range(max(0, self.count - 11), self.count):
                if number in self.history:
                    self.out.line(f"{number} - {self.history[number]}")
        elif args.command == "printwatches":
            if args.state is None:
                self.out.line(f"printwatches is {'on' if self.print_watches else 'off'}")
            else:
                self.print_watches = args.state == "on"
        else:  # redo: the command takes the redo's place in the history
            this = self.count - 1
            line = self.history.get(args.number) if args.number != this else None
            if line is None:
                self.fail(EXIT_USAGE, f"redo: no command number {args.number} in the history")
                return
            words = shlex.split(line, comments=True)
            if words[0] == "redo":  # only a failed redo stays in the history
                self.fail(EXIT_USAGE, f"redo: command {args.number} is itself a redo")
                return
            self.history[this] = line
            self.run_words(words)

    def wait(self, future: concurrent.futures.Future[int]) -> int:
        """The command's result; Ctrl-C cancels the command (not the shell)."""
        while True:
            try:
                return future.result()
            except KeyboardInterrupt:
                if not self.interactive:
                    self.cancel_current()
                    with suppress(BaseException):
                        future.result(timeout=5)
                    raise
                self.cancel_current()

    def cancel_current(self) -> None:
        def cancel() -> None:
            if self.current is not None:
                self.current.cancel()

        with suppress(trio.RunFinishedError):
            trio.from_thread.run_sync(cancel, trio_token=self.token)

    def record(self, code: int) -> None:
        if code != EXIT_OK and self.status == EXIT_OK:
            self.status = code

    def fail(self, code: int, message: str) -> None:
        self.out.note(f"error: {message}")
        self.record(code)

    def _parse(self, words: list[str]) -> argparse.Namespace:
        """Parse a command line; what argparse prints (``--help``) goes to the output."""
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                return self.parser.parse_args(words)
        finally:
            self.out.write(printed.getvalue())

    def help(self, words: list[str]) -> None:
        if words:
            with suppress(SystemExit, _UsageError):
                self._parse([words[0], "--help"])
            return
        actions = [a for a in self.parser._actions if isinstance(a, argparse._SubParsersAction)]
        for action in actions:
            for choice in action._choices_actions:
                self.out.line(f"  {choice.dest:<22} {choice.help}")
        self.out.line("Run 'help COMMAND' or 'COMMAND --help' for a command's options.")

    def flush(self) -> None:
        """Wait until the output so far is written (before the next prompt or line).

        Ctrl-C stops the wait (at a terminal; else it ends the shell).
        """
        try:
            self.out.flush()
        except KeyboardInterrupt:
            if not self.interactive:
                raise
            self.record(EXIT_INTERRUPTED)

    # --------------------------------------------------------- completion
    def command_names(self) -> list[str]:
        names: list[str] = []
        for action in self.parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                names += list(action.choices)
        return sorted(set(names))

    def complete_path(self, text: str) -> list[str]:
        session = self.session
        if session is None or not text.startswith("/"):
            return []
        parent, _, prefix = text.rpartition("/")
        parent = parent or "/"

        async def children() -> list[str]:
            with trio.move_on_after(_COMPLETION_TIMEOUT):
                with suppress(ZooKeeperError):
                    return sorted(await session.zk.get_children(parent))
            return []

        try:
            names = trio.from_thread.run(children, trio_token=self.token)
        except (trio.RunFinishedError, trio.Cancelled):
            return []
        base = "" if parent == "/" else parent
        return [f"{base}/{name}" for name in names if name.startswith(prefix)]

    def completer(self) -> Callable[[str, int], str | None]:
        import readline

        matches: list[str] = []

        def complete(text: str, state: int) -> str | None:
            nonlocal matches
            if state == 0:
                before = readline.get_line_buffer()[: readline.get_begidx()]
                if not before.strip():
                    matches = [n + " " for n in self.command_names() if n.startswith(text)]
                else:
                    matches = self.complete_path(text)
            return matches[state] if state < len(matches) else None

        return complete

    # --------------------------------------------------------------- loop
    def setup_readline(self) -> Callable[[], None]:
        try:
            import readline
        except ImportError:  # pragma: no cover - readline is part of CPython on Unix
            return lambda: None
        history = os.environ.get(HISTORY_ENV) or os.path.expanduser("~/.trio_zookeeper_history")
        with suppress(OSError):
            readline.read_history_file(history)
        readline.set_history_length(_HISTORY_LENGTH)
        readline.set_completer_delims(" \t\n")
        readline.set_completer(self.completer())
        readline.parse_and_bind("tab: complete")

        def save() -> None:
            with suppress(OSError):
                readline.write_history_file(history)

        return save

    def loop(self) -> None:
        save = self.setup_readline() if self.interactive else (lambda: None)
        try:
            while True:
                self.flush()
                if self.interactive:
                    try:
                        line = input(self.prompt())
                    except KeyboardInterrupt:
                        self.out.line("^C")
                        continue
                else:
                    line = sys.stdin.readline()
                    if not line:
                        raise EOFError
                self.run_line(line)
        except EOFError:
            if self.interactive:
                self.out.line()
        finally:
            save()


def run_shell(conn: _Connection, out: _Output) -> int:
    """Run the shell until end of input (or ``quit``); returns the exit status."""
    shell = _Shell(conn, out)
    thread_error: list[BaseException] = []

    def trio_thread() -> None:
        # Ctrl-C must reach the main thread (and wake it in readline or in a
        # wait), never this one or the worker threads it starts.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            trio.run(shell.trio_main)
        except BaseException as exc:  # reported by the main thread
            thread_error.append(exc)
            shell.started.set()

    thread = threading.Thread(target=trio_thread, name="trio-zookeeper-shell", daemon=True)
    thread.start()
    interrupted = False
    try:
        shell.started.wait()
        if shell.startup_error is not None:
            raise shell.startup_error
        if thread_error:
            raise thread_error[0]
        shell.loop()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        shell.stop.set()
        thread.join(timeout=10)
    if interrupted:
        return EXIT_INTERRUPTED
    # At a terminal, failed commands were seen; leaving is a success.
    return EXIT_OK if shell.interactive else shell.status
