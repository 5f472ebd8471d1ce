"""The command line's output.

Text for people or JSON (``--json``), progress on stderr when it is a
terminal, and how errors are described.
"""

from __future__ import annotations

import datetime
import json
import math
import sys
from collections.abc import Sequence

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
