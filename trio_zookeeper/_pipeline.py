"""Pipelines: requests sent now, their replies taken later, within an ``async with`` block.

This module owns :class:`Pipeline` (made by :meth:`ZooKeeper.pipeline
<trio_zookeeper.ZooKeeper.pipeline>`) and :class:`Pending` (one request's
reply to come). A pipeline's methods are synchronous: each builds its request
as the client's method of the same name does, hands it to the session
(:meth:`Session.start <trio_zookeeper._session.Session.start>`), which writes
it at once or queues it in order, and returns a :class:`Pending`. No task is
started per request: a caller that needs two replies in one round trip pays
for two requests, not for a nursery.

What a reply becomes is shared with the client's methods (the ``*_result``
functions and the request builders of ``_client``): a pipelined ``get_data``
returns exactly what ``zk.get_data`` returns. Loaded on first use, like the
tree walks.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

import trio

from ._calls import DONE, Call
from ._client import _READS, acl_result, stat_result
from ._protocol import (
    ACL,
    CreateMode,
    GetACLRequest,
    NoNodeError,
    OpCode,
    Stat,
    SyncRequest,
    op_name,
)

if TYPE_CHECKING:
    from ._client import ZooKeeper

__all__ = ["Pending", "Pipeline"]

T = TypeVar("T")

_CREATES = frozenset((OpCode.CREATE, OpCode.CREATE2, OpCode.CREATE_CONTAINER, OpCode.CREATE_TTL))
_NEW, _OPEN, _ENDED = range(3)
_COMPACT_MIN = 256  # pendings tracked before the taken ones are dropped
_UNSET: Any = object()


@final
class Pending(Generic[T]):
    """The reply to one pipelined request, to be taken later.

    ``await pending`` waits for the reply and returns what the client's
    method of the same name returns, or raises its error. A pending may be
    awaited again (it returns or raises the same) and read without waiting
    with :meth:`result` once :attr:`done`. A cancelled ``await`` only stops
    waiting: the request goes on, and its reply can be awaited again.
    Awaiting a reply that has already come takes it at once: a cancellation
    point, without the scheduler pass of a full checkpoint (replies mostly
    come together, and a caller taking them one by one should not pay a pass
    for each). Made by the methods of :class:`Pipeline`.
    """

    __slots__ = ("_abandoned", "_call", "_convert", "_error", "_pipeline", "_taken", "_value")

    def __init__(self, pipeline: Pipeline, call: Call, convert: Callable[[Any], Any]) -> None:
        self._pipeline = pipeline
        self._call = call
        self._convert = convert
        self._value: Any = _UNSET
        self._error: BaseException | None = None
        self._taken = False
        self._abandoned = False

    def __repr__(self) -> str:
        state = "abandoned" if self._abandoned else "done" if self.done else "waiting"
        return f"<Pending {op_name(self._call.op)} {self._call.path!r} {state}>"

    @property
    def done(self) -> bool:
        """True once the outcome is known (the reply came, or the request failed)."""
        return self._call.state == DONE and not self._abandoned

    def result(self) -> T:
        """The result, without waiting.

        Returns:
            What the client's method of the same name returns.

        Raises:
            ServerError: The request's error (a subclass, e.g. NoNodeError).
            ConnectionLossError: The connection died after the request was
                written: its outcome is unknown.
            SessionExpiredError: The session expired before the reply.
            RuntimeError: No reply yet (see :attr:`done`), or the request was
                abandoned because the pipeline's block raised.
        """
        if self._abandoned:
            raise RuntimeError(
                "this pipelined request was abandoned: its pipeline's block raised "
                "before its reply was taken"
            )
        if self._call.state != DONE:
            raise RuntimeError("no reply yet: await the pending reply, or check .done first")
        self._taken = True
        if self._value is _UNSET and self._error is None:
            self._settle()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    def __await__(self) -> Generator[Any, None, T]:
        return self._wait().__await__()

    async def _wait(self) -> T:
        if self._call.state != DONE and not self._abandoned:
            await self._call.parked_keeping()
        else:
            # Here already (or abandoned): taken at once, with no scheduler
            # pass; still a cancellation point.
            await trio.lowlevel.checkpoint_if_cancelled()
        return self.result()

    def _settle(self) -> None:
        """Turn the call's outcome into the result or the error, once."""
        call, zk = self._call, self._pipeline._zk
        try:
            self._value = self._convert(call.outcome())
        except NoNodeError as exc:
            path = call.path or "/"
            if call.op == OpCode.EXISTS:
                self._value = None
                return
            if call.op in _CREATES:
                self._error = zk._parent_missing_error(path)
            elif path == "/" and zk._chroot:
                self._error = zk._chroot_missing_error(path)
            else:
                self._error = exc
        except Exception as exc:
            self._error = exc
        if self._error is not None:
            zk._session.errors[type(self._error).__name__] += 1

    def _abandon(self, cause: BaseException) -> None:
        """Give up on the reply (the block raised); wake a task still waiting for it."""
        call = self._call
        if call.state == DONE:
            return
        self._abandoned = True
        call.abandon(cause)
        task, call.task = call.task, None
        if task is not None:
            trio.lowlevel.reschedule(task)


@final
class Pipeline:
    """Requests sent at once, in order, whose replies are taken later: ``zk.pipeline()``.

    Each method sends its request right away (or queues it, in order, while
    the client reconnects) and returns a :class:`Pending` without waiting.
    The server answers one session's requests in order, so a read made after
    a write in the same pipeline sees that write, and a batch of requests
    costs one round trip, with no task started per request::

        async with zk.pipeline() as pipe:
            deleted = pipe.delete("/queue/item-0000000001")
            ahead = pipe.get_data("/queue/item-0000000002")
            await deleted            # raises NoNodeError if another consumer won
            data, stat = await ahead

    Leaving the block normally waits for every reply still outstanding. A
    request whose outcome nobody took (neither awaited nor read with
    :meth:`Pending.result`) and which failed is not lost: the block then
    raises an :class:`ExceptionGroup` of those errors (catch them with
    ``except*``). Results stay readable after the block.

    When the block raises (or is cancelled), the replies not yet come are
    abandoned, exactly as a cancelled call's: a request still queued is never
    sent; one already written keeps its place, may have been applied, and its
    reply is read and dropped.

    Methods take the same arguments as the client's methods of the same name
    and check them at once (``TypeError``/``ValueError``); they also raise at
    once what a call would when nothing can be sent any more
    (``trio.ClosedResourceError`` for a closed client,
    :class:`SessionExpiredError` for a session over). Creates are single
    requests: there is no ``makepath``; a missing parent is a
    :class:`NoNodeError` naming it. Watches are not set from a pipeline.
    Like separate calls, a request that was written when the connection died
    fails with :class:`ConnectionLossError`, and the ones still queued go out,
    in order, on the next connection.
    """

    __slots__ = ("_compact_at", "_pending", "_state", "_zk")

    def __init__(self, zk: ZooKeeper) -> None:
        self._zk = zk
        # The pendings whose outcome was not taken yet (and, until the list
        # is next compacted, some whose outcome was): a long-lived pipeline
        # (a tree walk's) keeps no reply that was taken.
        self._pending: list[Pending[Any]] = []
        self._compact_at = _COMPACT_MIN
        self._state = _NEW

    async def __aenter__(self) -> Pipeline:
        if self._state != _NEW:
            raise RuntimeError("a pipeline's block can be entered once; make a new one")
        await trio.lowlevel.checkpoint_if_cancelled()
        self._state = _OPEN
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = _ENDED
        pending = self._pending
        if exc is not None:
            for one in pending:
                one._abandon(exc)
            return
        try:
            for one in pending:
                if one._call.state != DONE and not one._abandoned:
                    await one._call.parked_keeping()
        except BaseException as error:
            for one in pending:
                one._abandon(error)
            raise
        errors: list[Exception] = []
        for one in pending:
            if not one._taken and not one._abandoned:
                one._settle()
                one._taken = True
                if isinstance(one._error, Exception):
                    errors.append(one._error)
        if errors:
            raise ExceptionGroup(
                f"{len(errors)} pipelined request(s) failed and their outcome was not taken",
                errors,
            )

    def _start(
        self, op: int, request: object, path: str, convert: Callable[[Any], Any]
    ) -> Pending[Any]:
        if self._state != _OPEN:
            raise RuntimeError(
                "use a pipeline inside its block: `async with zk.pipeline() as pipe:`"
                if self._state == _NEW
                else "this pipeline's block has ended; make a new one"
            )
        pending: Pending[Any] = Pending(self, self._zk._session.start(op, request, path), convert)
        if len(self._pending) >= self._compact_at:
            self._pending = [one for one in self._pending if not one._taken]
            self._compact_at = max(_COMPACT_MIN, 2 * len(self._pending))
        self._pending.append(pending)
        return pending

    def _path_of(self, response: Any) -> str:
        """The path a create or sync reply names, outside the chroot."""
        return self._zk._strip(response.path)

    def _path_and_stat(self, response: Any) -> tuple[str, Stat]:
        return (self._zk._strip(response.path), response.stat)

    # ------------------------------------------------------------ writing
    def create(
        self,
        path: str,
        data: bytes = b"",
        *,
        acl: Sequence[ACL] | None = None,
        mode: CreateMode = CreateMode.PERSISTENT,
        ttl: int | None = None,
    ) -> Pending[str]:
        """Send a create (:meth:`ZooKeeper.create`, without ``makepath``).

        Returns:
            The created node's path, to come.
        """
        op, request = self._zk._create_request(path, data, acl, mode, ttl, with_stat=False)
        return self._start(op, request, path, self._path_of)

    def create2(
        self,
        path: str,
        data: bytes = b"",
        *,
        acl: Sequence[ACL] | None = None,
        mode: CreateMode = CreateMode.PERSISTENT,
        ttl: int | None = None,
    ) -> Pending[tuple[str, Stat]]:
        """Send a create that also returns the node's Stat (:meth:`ZooKeeper.create2`).

        Returns:
            The created node's path and Stat, to come.
        """
        op, request = self._zk._create_request(path, data, acl, mode, ttl, with_stat=True)
        return self._start(op, request, path, self._path_and_stat)

    def delete(self, path: str, version: int = -1) -> Pending[None]:
        """Send a delete (:meth:`ZooKeeper.delete`, not recursive).

        Returns:
            None, to come.
        """
        return self._start(OpCode.DELETE, self._zk._delete_request(path, version), path, _none)

    def set_data(self, path: str, data: bytes, version: int = -1) -> Pending[Stat]:
        """Send a set_data (:meth:`ZooKeeper.set_data`).

        Returns:
            The node's new Stat, to come.
        """
        request = self._zk._set_data_request(path, data, version)
        return self._start(OpCode.SET_DATA, request, path, stat_result)

    def set_acl(self, path: str, acl: Sequence[ACL], version: int = -1) -> Pending[Stat]:
        """Send a set_acl (:meth:`ZooKeeper.set_acl`).

        Returns:
            The node's new Stat, to come.
        """
        request = self._zk._set_acl_request(path, acl, version)
        return self._start(OpCode.SET_ACL, request, path, stat_result)

    def sync(self, path: str = "/") -> Pending[str]:
        """Send a sync (:meth:`ZooKeeper.sync`): later reads in the pipeline see the leader's state.

        Returns:
            The path, as the server echoes it, to come.
        """
        request = SyncRequest(path=self._zk._path(path))
        return self._start(OpCode.SYNC, request, path, self._path_of)

    # ------------------------------------------------------------ reading
    def _read(self, op: int, path: str) -> Pending[Any]:
        make, _, convert = _READS[op]
        return self._start(op, make(self._zk._path(path), False), path, convert)

    def exists(self, path: str) -> Pending[Stat | None]:
        """Send an exists (:meth:`ZooKeeper.exists`).

        Returns:
            The node's Stat, or None if it does not exist, to come.
        """
        return self._read(OpCode.EXISTS, path)

    def get_data(self, path: str) -> Pending[tuple[bytes, Stat]]:
        """Send a get_data (:meth:`ZooKeeper.get_data`).

        Returns:
            The node's data and Stat, to come.
        """
        return self._read(OpCode.GET_DATA, path)

    def get_children(self, path: str) -> Pending[list[str]]:
        """Send a get_children (:meth:`ZooKeeper.get_children`).

        Returns:
            The children's names, to come.
        """
        return self._read(OpCode.GET_CHILDREN, path)

    def get_children2(self, path: str) -> Pending[tuple[list[str], Stat]]:
        """Send a get_children2 (:meth:`ZooKeeper.get_children2`).

        Returns:
            The children's names and the node's Stat, to come.
        """
        return self._read(OpCode.GET_CHILDREN2, path)

    def get_acl(self, path: str) -> Pending[tuple[list[ACL], Stat]]:
        """Send a get_acl (:meth:`ZooKeeper.get_acl`).

        Returns:
            The node's ACL and Stat, to come.
        """
        request = GetACLRequest(path=self._zk._path(path))
        return self._start(OpCode.GET_ACL, request, path, acl_result)


def _none(response: object) -> None:
    return None
