"""Observing a client: the tracer hooks and the per-request record they see.

This module owns the public observation API: :class:`Tracer` (the hooks a
user overrides) and :class:`RequestTrace` (one request as a tracer sees it),
and :class:`TracedCall`, the call of a traced client, whose trace ends where
its outcome becomes known.
The session calls the hooks (``open_zookeeper(..., tracer=...)``); a client
without a tracer pays one ``is not None`` test per request and nothing else.
A hook that raises is logged and otherwise ignored: observing must not break
the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs
import trio

from ._calls import DONE, Call
from ._hostprovider import HostListUpdate

__all__ = ["RequestTrace", "TracedCall", "Tracer"]

log = logging.getLogger("trio_zookeeper.trace")


@attrs.define(eq=False)
class RequestTrace:
    """One request, as a :class:`Tracer` sees it.

    Times are ``trio.current_time()`` values (seconds on trio's clock, the
    same clock as timeouts); use :attr:`duration` for latencies.

    Attributes:
        op: The operation, named as ZooKeeper's OpCode in lower case:
            ``"get_data"``, ``"create2"``, ``"set_data"``, ``"multi"``,
            ``"auth"``, ...
        path: The path the request names (as the caller gave it, without the
            chroot), or None (``multi``, ``sync`` on none, auth, ...).
        started: When the request was made.
        ended: When its outcome was known (None while it runs).
        error: The exception it ended with (None on success). A
            ``trio.Cancelled`` means the caller gave up; a
            ``ConnectionLossError`` that the outcome is unknown.
        context: Free for the tracer: e.g. the span opened in
            :meth:`Tracer.request_started`, to end in
            :meth:`Tracer.request_ended`.
    """

    op: str
    path: str | None
    started: float
    ended: float | None = None
    error: BaseException | None = None
    context: object = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to outcome (None while running)."""
        return None if self.ended is None else self.ended - self.started

    @property
    def outcome(self) -> str:
        """``"ok"``, or the class name of the error (``"NoNodeError"``, ``"Cancelled"``)."""
        return "ok" if self.error is None else type(self.error).__name__


class Tracer:
    """Hooks called by the client for each request and connection event.

    Subclass it and override the methods you need (each does nothing by
    default), then pass an instance as ``open_zookeeper(..., tracer=...)``.
    Hooks run synchronously in the client's tasks: keep them quick and never
    block (record a metric, end a span, append to a list). An exception from
    a hook is logged (logger ``trio_zookeeper.trace``) and ignored.

    Servers are named ``"host:port"``.
    """

    def request_started(self, request: RequestTrace) -> None:
        """A request was made (before it is written)."""

    def request_ended(self, request: RequestTrace) -> None:
        """A request's outcome is known: ``request.ended``/``error`` are set."""

    def connecting(self, server: str) -> None:
        """An attempt to connect to ``server`` starts."""

    def connect_failed(self, server: str, cause: str) -> None:
        """The attempt to connect to ``server`` failed; ``cause`` says why in words."""

    def connected(self, server: str, session_id: int, read_only: bool) -> None:
        """A connection to ``server`` serves the session ``session_id``."""

    def connection_lost(self, server: str, cause: str) -> None:
        """The connection to ``server`` died; the client reconnects."""

    def session_expired(self, session_id: int, reason: str) -> None:
        """The session ``session_id`` expired (said by a server, or suspected)."""

    def hosts_changed(self, update: HostListUpdate) -> None:
        """The host list changed (``update_hosts``, ``track_ensemble``)."""


def call_hook(hook: object, *args: object) -> None:
    """Call a tracer hook; log and swallow what it raises."""
    try:
        hook(*args)  # type: ignore[operator]
    except Exception:
        log.exception("tracer hook %s raised; ignored", getattr(hook, "__qualname__", hook))


class TracedCall(Call):
    """A traced client's call: its trace starts when it is made and ends with its outcome.

    The outcome is known in :meth:`finish` (in the task that read the reply,
    or that saw the connection die), or in :meth:`abandon` with a cause: the
    exception of a wait that raised (a cancelled caller's ``trio.Cancelled``),
    or of a pipeline's block that raised. A cancellation's own abandon (no
    cause) leaves the trace to the caller, who knows the exception. The trace
    ends once, whichever comes first.
    """

    __slots__ = ("trace", "tracer")

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        op: int,
        request: object,
        path: str | None = None,
        on_reply: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(op, request, path, on_reply)
        self.tracer = tracer
        self.trace = RequestTrace(name, path, trio.current_time())
        call_hook(tracer.request_started, self.trace)

    def _end(self, error: BaseException | None) -> None:
        trace = self.trace
        if trace.ended is None:
            trace.error = error
            trace.ended = trio.current_time()
            call_hook(self.tracer.request_ended, trace)

    def finish(self, result: object | None, error: BaseException | None) -> None:
        if self.state != DONE:
            self._end(error)
        super().finish(result, error)

    def abandon(self, cause: BaseException | None = None) -> None:
        if cause is not None:
            self._end(cause)
        super().abandon(cause)
