"""The command line's output.

Text for people or JSON (``--json``), progress on stderr when it is a
terminal, and how errors are described.

All of the command line's output goes through :class:`_Output`: results to
stdout (lines, JSON values, the streamed JSON of ``ls -R``/``tree``, a dump
written to ``-``, the raw bytes of ``get -o -``), notes, warnings and progress
to stderr. ``_Output`` owns a :class:`_Writer`, which hands everything, in
the order it was written (stdout and stderr in one queue, so a terminal that
shows both sees them as before), to a writer thread: a write never blocks
the trio loop, so a reader that stops reading (a paused pager) cannot stall
the session's pings. The queue is bounded by a high-water mark
(:data:`_HIGH_WATER`): the commands whose output has no bound (the
recursive walks, the streams of watch events) ``await out.drained()`` per
node or event, which waits, asynchronously, while more than that is queued.
An error of the writer (``BrokenPipeError`` when the reader went away, any
other as :class:`_WriteError` naming the stream) is raised by the next
write or wait of the command. At the end, :meth:`_Output.close` waits until
everything is written (after the session is closed) and ends the thread.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from typing import TextIO

import trio

from ._cli_common import (
    _PROGRESS_INTERVAL,
    _TIME_FIELDS,
    _ZXID_FIELDS,
    CommandError,
    _UsageError,
)
from ._cli_dump import (
    AclError,
    parse_acl_entry,
    perms_text,
)
from ._protocol import (
    ACL,
    Stat,
)
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
from ._session import ConnectFailedError

#: Output queued and not yet written (characters of text, bytes of raw data,
#: stdout and stderr together) above which :meth:`_Output.drained` waits.
_HIGH_WATER = 1024 * 1024
#: The most the writer thread takes from the queue for one write.
_CHUNK = 64 * 1024
#: After Ctrl-C, how long what is still queued may take to be written before
#: it is dropped (a reader that is not reading must not hold the exit).
_INTERRUPT_GRACE = 1.0

_STDOUT = 0
_STDERR = 1


class _WriteError(CommandError):
    """Output could not be written (reported on stderr, never on stdout)."""


# ================================================================== writer
class _Stream:
    """One of the process's streams, as the writer thread writes to it.

    A stream with a file descriptor (the real stdout and stderr) is written
    with :func:`os.write`, encoded as the Python stream would encode, so
    that no lock of the Python stream is held by the thread while it waits
    for a reader; any other (a test's capture, a StringIO) through its own
    ``write``.
    """

    def __init__(self, stream: TextIO, name: str) -> None:
        self.name = name
        self._stream = stream
        self._fd: int | None
        try:
            self._fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None
        else:
            stream.flush()  # what was printed before goes first
        self._encoding = getattr(stream, "encoding", None) or "utf-8"
        self._errors = getattr(stream, "errors", None) or "strict"

    def write(self, items: list[str | bytes]) -> None:
        """Write ``items`` in order (in the writer thread; may block)."""
        if self._fd is not None:
            data = b"".join(
                item if isinstance(item, bytes) else item.encode(self._encoding, self._errors)
                for item in items
            )
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            return
        for item in items:
            if isinstance(item, bytes):
                self._stream.flush()
                self._stream.buffer.write(item)
                self._stream.buffer.flush()
            else:
                self._stream.write(item)
        self._stream.flush()


class _Writer:
    """An ordered, bounded queue of output, written by a thread of its own.

    :meth:`write` never blocks (it may be called from any thread);
    :meth:`drained` waits asynchronously, in trio, while more than
    ``high_water`` is queued; :meth:`flush` and :meth:`close` wait
    synchronously (outside trio) until everything is written. The thread
    starts with the first write and ends with :meth:`close`; it is a daemon
    thread only so that a write stuck on a reader that never reads cannot
    keep the process alive after an interrupted :meth:`close`.

    Args:
        stdout: Where results go.
        stderr: Where notes, warnings and progress go.
        high_water: Queued characters or bytes above which :meth:`drained` waits.
    """

    def __init__(self, stdout: TextIO, stderr: TextIO, *, high_water: int = _HIGH_WATER) -> None:
        self.high_water = high_water
        self._streams = (_Stream(stdout, "stdout"), _Stream(stderr, "stderr"))
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[tuple[int, str | bytes]] = deque()
        self._pending = 0  # queued, or taken by the thread and not yet written
        self._error: tuple[str, BaseException] | None = None
        self._closed = False
        self._waiters: list[tuple[trio.lowlevel.TrioToken, trio.Event]] = []
        self._thread: threading.Thread | None = None

    @property
    def failed(self) -> bool:
        """Whether a write failed (what was queued after it is dropped)."""
        return self._error is not None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (nothing more may be written)."""
        return self._closed

    @property
    def pending(self) -> int:
        """Characters or bytes queued and not yet written."""
        return self._pending

    def write(self, stream: int, data: str | bytes) -> None:
        """Queue ``data`` for ``stream`` (``_STDOUT`` or ``_STDERR``).

        Raises:
            BrokenPipeError: An earlier write found the reader gone.
            _WriteError: An earlier write failed otherwise.
        """
        if not data:
            return
        with self._lock:
            self._raise_error()
            if self._closed:
                raise RuntimeError("the output is closed")
            self._queue.append((stream, data))
            self._pending += len(data)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="trio-zookeeper-output", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    async def drained(self) -> None:
        """Wait (in trio) until at most ``high_water`` is queued.

        Raises:
            BrokenPipeError: The reader of a stream went away.
            _WriteError: A write failed otherwise.
        """
        token = trio.lowlevel.current_trio_token()
        while True:
            with self._lock:
                self._raise_error()
                if self._pending <= self.high_water:
                    return
                waiter = (token, trio.Event())
                self._waiters.append(waiter)
            try:
                await waiter[1].wait()
            finally:
                with self._lock, suppress(ValueError):
                    self._waiters.remove(waiter)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait (outside trio) until everything queued is written.

        Args:
            timeout: The most to wait, in seconds; None for no limit.

        Returns:
            Whether everything was written (False: the time ran out).

        Raises:
            BrokenPipeError: The reader of a stream went away.
            _WriteError: A write failed otherwise.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                self._raise_error()
                if not self._pending:
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                # Bounded waits: a signal (Ctrl-C) is handled between them.
                self._changed.wait(0.1 if left is None else min(left, 0.1))

    def close(self, timeout: float | None = None) -> None:
        """Write everything queued (waiting at most ``timeout``), then end the thread.

        What could not be written in time, or when the wait is interrupted
        (Ctrl-C), is dropped, and the thread is left to end on its own once
        its write returns. Closing twice is harmless.

        Raises:
            BrokenPipeError: The reader of a stream went away.
            _WriteError: A write failed otherwise.
        """
        written = False
        try:
            written = self.flush(timeout)
        finally:
            with self._lock:
                self._closed = True
                if not written:
                    self._queue.clear()  # dropped: the thread ends after its write
                self._changed.notify_all()
            if written and self._thread is not None:
                self._thread.join()

    def _raise_error(self) -> None:
        if self._error is None:
            return
        name, exc = self._error
        if isinstance(exc, BrokenPipeError):
            raise BrokenPipeError(*exc.args)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _WriteError(f"cannot write to {name}: {reason or type(exc).__name__}")

    def _wake_waiters(self) -> None:
        for token, event in self._waiters:
            with suppress(trio.RunFinishedError):
                token.run_sync_soon(event.set)
        self._waiters.clear()

    def _run(self) -> None:
        """The thread: write what is queued, in order, until closed."""
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if not self._queue:  # closed, and all written (or dropped)
                    return
                stream, first = self._queue.popleft()
                items, size = [first], len(first)
                while self._queue and self._queue[0][0] == stream and size < _CHUNK:
                    item = self._queue.popleft()[1]
                    items.append(item)
                    size += len(item)
            try:
                self._streams[stream].write(items)
            except BaseException as exc:
                with self._lock:
                    self._error = (self._streams[stream].name, exc)
                    self._queue.clear()
                    self._pending = 0
                    self._wake_waiters()
                    self._changed.notify_all()
                return
            with self._lock:
                self._pending -= size
                if self._pending <= self.high_water:
                    self._wake_waiters()
                self._changed.notify_all()


# ================================================================== output
class _Output:
    """Where results go: stdout for results, stderr for notes, warnings and progress.

    Everything is queued on a :class:`_Writer` (its own, or one shared by
    the shell's commands) and written by its thread.
    """

    def __init__(self, *, as_json: bool, writer: _Writer | None = None) -> None:
        self.json = as_json
        self.warnings = 0
        #: Set when Ctrl-C ended the command: :meth:`close` then waits only briefly.
        self.interrupted = False
        self.writer = writer if writer is not None else _Writer(sys.stdout, sys.stderr)
        self._progress_shown = False
        self._progress_at = -math.inf
        self._stderr_tty = _isatty(sys.stderr)

    def line(self, text: str = "") -> None:
        """One line on stdout."""
        self.clear_progress()
        self.writer.write(_STDOUT, text + "\n")

    def write(self, text: str) -> None:
        """Text on stdout, as it is (the streamed JSON documents)."""
        self.clear_progress()
        self.writer.write(_STDOUT, text)

    def json_value(self, value: object, *, compact: bool = False) -> None:
        """A JSON document on stdout (indented unless ``compact``)."""
        text = json.dumps(value, separators=(",", ":")) if compact else json.dumps(value, indent=2)
        self.line(text)

    def note(self, text: str) -> None:
        """One line on stderr."""
        self.clear_progress()
        self.writer.write(_STDERR, text + "\n")

    def warning(self, text: str) -> None:
        """A ``warning: ...`` line on stderr (counted: the exit status says so)."""
        self.warnings += 1
        self.note(f"warning: {text}")

    def raw(self, data: bytes) -> None:
        """Bytes on stdout, as they are."""
        self.clear_progress()
        self.writer.write(_STDOUT, data)

    async def drained(self) -> None:
        """Wait while more than the high-water mark is queued (per node or event).

        Raises:
            BrokenPipeError: The reader went away (``... | head``).
            _WriteError: Output could not be written otherwise.
        """
        await self.writer.drained()

    def flush(self) -> None:
        """Wait (outside trio) until everything is written."""
        self.writer.flush()

    def close(self) -> None:
        """Write everything (briefly, after Ctrl-C) and end the writer thread."""
        self.writer.close(_INTERRUPT_GRACE if self.interrupted else None)

    def progress(self, text: str, *, force: bool = False) -> None:
        """Show ``text`` as progress on stderr, if it is a terminal (throttled)."""
        if not self._stderr_tty:
            return
        now = trio.current_time()
        if not force and now - self._progress_at < _PROGRESS_INTERVAL:
            return
        self._progress_at = now
        self.writer.write(_STDERR, f"\r\x1b[K{text}")
        self._progress_shown = True

    def clear_progress(self) -> None:
        """Clear the progress line, if one is shown."""
        if self._progress_shown:
            self._progress_shown = False
            self.writer.write(_STDERR, "\r\x1b[K")


class _LogHandler(logging.Handler):
    """``-v``: the client's log records on stderr, through the output's writer.

    Queued with the rest of the output (in order with it, and never blocking
    the trio loop on a stderr nobody reads, as with ``2>&1 | less``). A record
    that cannot be queued (the output failed or is closed) is dropped: the
    command's own next write reports the failure.
    """

    def __init__(self, writer: _Writer) -> None:
        super().__init__()
        self._writer = writer
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with suppress(Exception):
            self._writer.write(_STDERR, text + "\n")


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
        self._out.write(("[\n  " if self._first else ",\n  ") + json.dumps(value))
        self._first = False

    def close(self) -> None:
        self._out.write("[]\n" if self._first else "\n]\n")


def _stat_dict(stat: Stat) -> dict[str, int]:
    return {name: int(value) for name, value in zip(Stat.__record_fields__, stat, strict=True)}


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
