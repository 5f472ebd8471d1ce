"""One request's record: what is sent, what state it is in, and the slot its reply goes into.

A :class:`Call` is made by the session for each request, waits in the
session's outbox until a connection writes it (:meth:`Connection.submit
<trio_zookeeper._io_connection.Connection.submit>` or the connection's writer),
then in that connection's protocol's pending FIFO (as the context of its
entry) until its reply comes or the connection dies. Its ``state`` says which of those it is in
(:data:`QUEUED`, :data:`WRITTEN`, :data:`DONE`, :data:`ABANDONED`); the
transition to written happens in exactly one place
(``Connection._encode``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

__all__ = ["ABANDONED", "DONE", "QUEUED", "WRITTEN", "Call"]

QUEUED, WRITTEN, DONE, ABANDONED = range(4)


class Call:
    """One request and the slot its reply goes into.

    A reply is a single value handed from the reader to one waiting caller, so
    the slot is two attributes and the parked task itself
    (``wait_task_rescheduled`` / ``reschedule``, the primitive trio's channels
    are built on): no channel or Event object per request, which matters for
    the per-call CPU budget. Watch events, which are streams, do go through
    receive channels.

    The abort hook is what makes "cancelled before it is written means never
    sent" exact: trio calls it synchronously when the cancellation is
    delivered, so the writer, whenever it runs next, sees the call abandoned.
    """

    __slots__ = (
        "error",
        "on_reply",
        "op",
        "path",
        "request",
        "result",
        "state",
        "task",
        "written",
    )

    def __init__(
        self,
        op: int,
        request: object,
        path: str | None = None,
        on_reply: Callable[[int], None] | None = None,
    ) -> None:
        self.op = op
        self.request = request
        self.path = path
        self.on_reply = on_reply
        self.state = QUEUED
        self.result: object | None = None
        self.error: BaseException | None = None
        self.task: trio.lowlevel.Task | None = None
        self.written = False

    def finish(self, result: object | None, error: BaseException | None) -> None:
        if self.state == DONE:
            return
        self.state = DONE
        self.result = result
        self.error = error
        task = self.task
        if task is not None:
            self.task = None
            trio.lowlevel.reschedule(task)

    def abandon(self, cause: BaseException | None = None) -> None:
        """Give up on the reply: never sent if still queued, dropped when it comes if written.

        ``cause`` is why (for a traced call's record).
        """
        if self.state in (QUEUED, WRITTEN):
            # Queued: the writer will skip it (never sent). Written: its reply
            # is read and dropped when it comes.
            self.state = ABANDONED

    def _abort(self, raise_cancel: object) -> trio.lowlevel.Abort:
        self.task = None
        self.abandon()
        return trio.lowlevel.Abort.SUCCEEDED

    def _detach(self, raise_cancel: object) -> trio.lowlevel.Abort:
        self.task = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def wait(self) -> object:
        """Wait for the reply (a checkpoint); return the result or raise the error."""
        await self.parked()
        return self.outcome()

    def parked(self) -> Awaitable[object]:
        """The checkpoint that waits for the reply; then :meth:`outcome`.

        The caller must await it at once. Awaited by the caller itself, it is
        one coroutine frame less than :meth:`wait` for each request in flight
        (thousands may be).
        """
        # The trio awaitables are returned to be awaited by the caller.
        if self.state == DONE:
            return trio.lowlevel.cancel_shielded_checkpoint()  # noqa: ASYNC105
        self.task = trio.lowlevel.current_task()
        return trio.lowlevel.wait_task_rescheduled(self._abort)  # noqa: ASYNC105

    def parked_keeping(self) -> Awaitable[object]:
        """Like :meth:`parked`, but a cancelled wait leaves the request going.

        For requests whose reply another wait (or a later one) may still
        take: a pipeline's pending replies, abandoned only by the pipeline.
        Only while the reply has not come (the caller checks ``state``).

        Raises:
            RuntimeError: Another task is already waiting for this reply.
        """
        if self.task is not None:
            raise RuntimeError("another task is already waiting for this reply")
        self.task = trio.lowlevel.current_task()
        return trio.lowlevel.wait_task_rescheduled(self._detach)  # noqa: ASYNC105

    def outcome(self) -> object:
        """The result of the reply, or raise its error (once it came)."""
        error = self.error
        if error is not None:
            # Raised with no reference cycle (call -> error -> traceback ->
            # this frame -> call): a failed request, such as the NoNode of a
            # watching exists, is freed at once, not by the cycle collector.
            self.error = None
            try:
                raise error
            finally:
                del error
        return self.result
