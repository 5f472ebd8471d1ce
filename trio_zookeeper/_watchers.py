"""Watch registry and the per-watcher receive channels.

The server keeps at most one watch per (session, path, kind); the client may
have many local watchers behind it. This module maps server-side watches to
local :class:`WatchEvents` channels and fans each notification out, following
ZooKeeper's rules (``ZKWatchManager.materialize``):

=======================  ==============================================
event                    one-shot watchers fired
=======================  ==============================================
NODE_CREATED             data and exists watchers of the path
NODE_DATA_CHANGED        data and exists watchers of the path
NODE_DELETED             data, exists and child watchers of the path
NODE_CHILDREN_CHANGED    child watchers of the path
=======================  ==============================================

plus every persistent watcher of the path, and every persistent-recursive
watcher of the path or an ancestor (except for NODE_CHILDREN_CHANGED, which a
recursive watch never delivers).

**Back-pressure.** The reader task must never wait for a watcher, or one slow
consumer would stall every reply and ping and lose the session. Each channel
therefore has a bounded buffer; when it is full the channel is *closed with an
error*: the consumer drains what was buffered and then gets
:class:`WatchOverflowError`. Nothing is dropped silently.
"""

from __future__ import annotations

import enum
import operator
from collections import deque
from collections.abc import Iterable, Iterator, Sequence

import trio

from ._protocol import EventType, KeeperState, WatchedEvent, ZooKeeperError

__all__ = [
    "WatchEvents",
    "WatchKind",
    "WatchOverflowError",
    "WatchRegistry",
]


class WatchOverflowError(ZooKeeperError):
    """A watcher's buffer filled up because its consumer was too slow.

    The events that fit were delivered; later ones were not, so the consumer
    must re-read the state it watches.
    """


class WatchKind(enum.Enum):
    """The kinds of server-side watch."""

    DATA = "data"
    EXIST = "exist"
    CHILD = "child"
    PERSISTENT = "persistent"
    PERSISTENT_RECURSIVE = "persistent_recursive"


#: ``WatchEvents._flags``: a one-shot watcher (ends after its node event);
#: session events are delivered to it; no more events will be pushed (ended);
#: closed by the consumer. The next three bits are the kind of the one
#: registration (0: none, or several), the bits above count the events
#: delivered: a one-shot watcher's flags stay below 256 (a cached int, no
#: object of its own) until its second event.
_ONE_SHOT, _SESSION_EVENTS, _ENDED, _CLOSED = 1, 2, 4, 8
_KIND_SHIFT = 4
_KIND_MASK = 7 << _KIND_SHIFT
_DELIVERED_SHIFT = 7
_DELIVERED_ONE = 1 << _DELIVERED_SHIFT


class WatchEvents(trio.abc.ReceiveChannel[WatchedEvent]):
    """A receive channel of watch events for one watcher.

    Iterate it with ``async for event in events`` or call :meth:`receive`.
    A one-shot watcher's channel ends (``trio.EndOfChannel``) after its event;
    a persistent one runs until its ``async with`` block exits.

    Session events (``event_type == EventType.NONE``) tell the consumer about
    the connection: DISCONNECTED (events may be late), SYNC_CONNECTED after a
    reconnect (for persistent watchers: events may have been missed, re-read),
    EXPIRED or CLOSED (the watch is gone; the channel then ends).
    """

    # Four slots (64 bytes, the next size class down from five), nothing
    # made until needed: a client may hold tens of thousands of watchers,
    # most of which never buffer an event or see a waiting consumer (an
    # empty deque alone is ~600 bytes).
    #
    # ``_queue`` is the buffer (a deque), or the consumers waiting (a
    # list), or while there is neither the buffer's bound (an int), or None
    # once no event can come (closed, or ended with its waiters woken). A
    # consumer waits only
    # while the buffer is empty, and an event pushed then is handed to it
    # directly (see :meth:`receive`), so at any moment one of the two is
    # empty and one slot holds whichever is not, and the bound with it (the
    # deque's ``maxlen``, one more than the bound to leave room for the
    # error; the list's ``max_buffer``). An overflow error goes at the
    # buffer's tail, behind the events that fit, and stays there (every later
    # receive raises it).
    #
    # ``_flags`` holds the four booleans, the kind of the one registration
    # and the count of events delivered (``delivered``); it stays a small
    # cached int for a one-shot watcher.
    #
    # Where the watcher is registered is kept without an object per
    # registration: the registry, and in ``_reg`` the path while it is the
    # only registration (nearly always; its kind in ``_flags``), else how
    # many there are. A watcher behind many watches (the default watcher)
    # keeps the count only; its registrations are looked up in the registry
    # on the rare occasions they are needed (it is closed).
    __slots__ = ("_flags", "_queue", "_reg", "_registry")

    def __init__(
        self, *, max_buffer: int = 1024, one_shot: bool = False, session_events: bool = True
    ) -> None:
        # An int exactly (the reader task makes the buffer with it as the
        # deque's maxlen, where a float would fail): a TypeError here, now.
        max_buffer = operator.index(max_buffer)
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        self._queue: deque[WatchedEvent | BaseException] | _Waiters | int | None = max_buffer
        self._flags = (_ONE_SHOT if one_shot else 0) | (_SESSION_EVENTS if session_events else 0)
        self._registry: WatchRegistry | None = None
        self._reg: str | int | None = None

    @property
    def delivered(self) -> int:
        """How many events were delivered to this channel (buffered or handed over)."""
        return self._flags >> _DELIVERED_SHIFT

    def _max_buffer(self) -> int:
        """The bound of the buffer (0 once the channel has ended with nothing buffered)."""
        queue = self._queue
        if isinstance(queue, deque):
            return (queue.maxlen or 1) - 1
        if isinstance(queue, _Waiters):
            return queue.max_buffer
        return queue or 0

    # ------------------------------------------------------------ producer
    def _push(self, event: WatchedEvent, *, final: bool = False) -> None:
        """Deliver an event without blocking (called from the reader task)."""
        flags = self._flags
        if flags & (_ENDED | _CLOSED):
            return
        queue = self._queue
        # ``type(...) is`` rather than isinstance: one watch event each, and
        # exactly these classes are ever stored.
        if type(queue) is deque:
            if len(queue) + 1 >= queue.maxlen:  # type: ignore[operator]
                queue.append(
                    WatchOverflowError(
                        f"watch channel overflowed its buffer of {len(queue)} events; "
                        "later events were not delivered: re-read the watched state"
                    )
                )
                self._end()
                return
            queue.append(event)
        elif type(queue) is _Waiters and queue:
            # A consumer waits, so the buffer is empty: the event is its
            # receive's result, with no second scheduling round to fetch it.
            waiter = queue.pop(0)
            waiter.event = event
            trio.lowlevel.reschedule(waiter.task)
        else:
            # The first event buffered (the slot held the bound, or the
            # waiters that have all left): a buffer of at least one event.
            bound = queue if type(queue) is int else self._max_buffer()
            self._queue = deque((event,), bound + 1)
        self._flags = flags = flags + _DELIVERED_ONE
        if final or (flags & _ONE_SHOT and event.event_type is not EventType.NONE):
            self._end()

    def _end(self) -> None:
        self._flags |= _ENDED
        self._detach()
        self._wake_all()

    def _wake_all(self) -> None:
        """Wake every waiting consumer to see the channel's end (no event handed)."""
        queue = self._queue
        if type(queue) is _Waiters:
            for waiter in queue:
                trio.lowlevel.reschedule(waiter.task)
            self._queue = None

    def _reg_add(self, registry: WatchRegistry, kind: WatchKind, path: str) -> None:
        """Count a new registration (the registry never adds one twice)."""
        reg = self._reg
        if reg is None:
            self._registry = registry
            self._reg = path
            # (An unregistered watcher has no kind bits.)
            self._flags |= (_KINDS.index(kind) + 1) << _KIND_SHIFT
        else:
            # Several: counted only.
            self._reg = 2 if isinstance(reg, str) else reg + 1
            self._flags &= ~_KIND_MASK

    def _reg_remove(self) -> None:
        """Count a registration gone (the registry removed it)."""
        reg = self._reg
        if type(reg) is int and reg > 1:
            self._reg = reg - 1
        else:
            self._forget()

    @property
    def _registered(self) -> bool:
        """True while the watcher stands behind some watch."""
        return self._reg is not None

    def _reg_list(self) -> list[tuple[WatchKind, str]]:
        """The (kind, path) of each watch this watcher stands behind."""
        reg = self._reg
        registry = self._registry
        if reg is None or registry is None:
            return []
        if isinstance(reg, str):
            return [(_KINDS[((self._flags & _KIND_MASK) >> _KIND_SHIFT) - 1], reg)]
        return registry._registrations_of(self)

    def _detach(self) -> None:
        """Remove every registration of this watcher from its registry."""
        registry = self._registry
        if registry is None:
            return
        regs = self._reg_list()
        self._forget()
        for kind, path in regs:
            registry._discard(kind, path, self)

    def _forget(self) -> None:
        """Drop the record of the registrations (their registry forgot them)."""
        self._registry = self._reg = None
        self._flags &= ~_KIND_MASK

    # ------------------------------------------------------------ consumer
    def receive_nowait(self) -> WatchedEvent:
        """Take the next event if one is buffered.

        Raises:
            trio.WouldBlock: no event is buffered.
            trio.EndOfChannel: the watch has ended and every event was taken.
            WatchOverflowError: the buffer overflowed (after the buffered events).
            trio.ClosedResourceError: this channel was closed.
        """
        flags = self._flags
        if flags & _CLOSED:
            raise trio.ClosedResourceError("this watch channel was closed")
        queue = self._queue
        if type(queue) is deque and queue:
            item = queue.popleft()
            if type(item) is WatchOverflowError:
                queue.appendleft(item)
                raise item  # the overflow, after every event that fitted
            return item  # type: ignore[return-value]  # (a WatchedEvent)
        if flags & _ENDED:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> WatchedEvent:
        """Wait for the next event.

        Raises:
            trio.EndOfChannel: the watch has ended and every event was taken.
            WatchOverflowError: the consumer was too slow and events were lost.
            trio.ClosedResourceError: this channel was closed.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            try:
                event = self.receive_nowait()
            except trio.WouldBlock:
                pass
            else:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return event
            # Wait with the buffer empty (an empty deque gives its slot to
            # the waiters). The producer hands the next event to this waiter
            # and reschedules it, or wakes it with none when the channel
            # ends; a waiter cancelled first has left the list, so that event
            # is buffered for the next receive instead.
            waiter = _Waiter(self, trio.lowlevel.current_task())
            queue = self._queue
            if not isinstance(queue, _Waiters):
                queue = self._queue = _Waiters(self._max_buffer())
            queue.append(waiter)
            await trio.lowlevel.wait_task_rescheduled(waiter.abort)
            handed = waiter.event
            if handed is not None:
                return handed

    def close(self) -> None:
        """Stop watching: unregister, and drop what is buffered (idempotent)."""
        self._flags |= _CLOSED | _ENDED
        self._detach()
        self._wake_all()
        self._queue = None

    async def aclose(self) -> None:
        """Like :meth:`close`, as an async resource."""
        self.close()
        await trio.lowlevel.checkpoint()

    def clone(self) -> WatchEvents:
        """Not supported: a watch channel has a single consumer."""
        raise NotImplementedError("watch channels cannot be cloned")

    @property
    def active(self) -> bool:
        """True while events may still arrive."""
        return not self._flags & (_ENDED | _CLOSED)

    @property
    def buffered(self) -> int:
        """How many events wait to be received."""
        queue = self._queue
        if not isinstance(queue, deque) or not queue:
            return 0
        return len(queue) - isinstance(queue[-1], BaseException)


#: ``WatchEvents._flags``: the kind of a watcher's one registration is
#: ``(_KINDS.index(kind) + 1) << _KIND_SHIFT`` (by identity, in C: an enum
#: member's hash is a Python call).
_KINDS = tuple(WatchKind)


class _Waiters(list["_Waiter"]):
    """The consumers waiting in :meth:`WatchEvents.receive`, and the channel's buffer bound."""

    __slots__ = ("max_buffer",)

    def __init__(self, max_buffer: int) -> None:
        super().__init__()
        self.max_buffer = max_buffer


class _Waiter:
    """A consumer waiting in :meth:`WatchEvents.receive`, and the event handed to it."""

    __slots__ = ("channel", "event", "task")

    def __init__(self, channel: WatchEvents, task: trio.lowlevel.Task) -> None:
        self.channel = channel
        self.task = task
        self.event: WatchedEvent | None = None

    def abort(self, raise_cancel: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        # Called only while still waiting, so nothing was handed to it yet
        # and it is still in the list of waiters.
        queue = self.channel._queue
        if isinstance(queue, _Waiters):
            queue.remove(self)
        return trio.lowlevel.Abort.SUCCEEDED


class WatchRegistry:
    """Which local watchers stand behind each server-side watch.

    All methods are synchronous and are called from the reader task (or from
    the caller while no checkpoint intervenes), so no locking is needed.
    """

    def __init__(self) -> None:
        # Per kind, path -> the watchers behind the server's watch: the
        # watcher itself when it is the only one (nearly always), else a
        # list. No list and no key tuple per watch: a client may hold
        # hundreds of thousands.
        # (Over the tuple _KINDS: iterating the enum class costs a Python
        # call per member, on every client made.)
        self._by_kind: dict[WatchKind, dict[str, WatchEvents | list[WatchEvents]]] = {
            kind: {} for kind in _KINDS
        }
        # Per kind, the zxid each watch was set at (the newest zxid seen when
        # its reply arrived): re-set with SetWatches at that zxid, the server
        # fires at once for a change the watch would have seen meanwhile.
        self._zxids: dict[WatchKind, dict[str, int]] = {kind: {} for kind in _KINDS}

    def add(self, kind: WatchKind, path: str, watcher: WatchEvents, zxid: int = 0) -> None:
        """Register ``watcher`` for the server-side watch (kind, path), set at ``zxid``."""
        if not watcher.active:
            return
        if watcher._registry not in (None, self):
            raise RuntimeError("a watch channel stands behind the watches of one client only")
        table = self._by_kind[kind]
        behind = table.get(path)
        if behind is None:
            table[path] = watcher
            self._zxids[kind][path] = zxid
        elif behind is watcher:
            return
        elif isinstance(behind, list):
            if watcher in behind:
                return
            behind.append(watcher)
        else:
            table[path] = [behind, watcher]
        watcher._reg_add(self, kind, path)

    def _discard(self, kind: WatchKind, path: str, watcher: WatchEvents) -> None:
        table = self._by_kind[kind]
        behind = table.get(path)
        if behind is None:
            return
        if isinstance(behind, list):
            try:
                behind.remove(watcher)
            except ValueError:
                return
            if len(behind) > 1:
                return
            table[path] = behind[0]
            return
        if behind is not watcher:
            return
        del table[path]
        del self._zxids[kind][path]

    def _pop(self, kind: WatchKind, path: str) -> Sequence[WatchEvents]:
        """Forget the watch (kind, path); its watchers (each told it is gone)."""
        behind = self._by_kind[kind].pop(path, None)
        if behind is None:
            return ()
        del self._zxids[kind][path]
        watchers = behind if isinstance(behind, list) else (behind,)
        for w in watchers:
            w._reg_remove()
        return watchers

    def _registrations_of(self, watcher: WatchEvents) -> list[tuple[WatchKind, str]]:
        """The watches ``watcher`` stands behind, by a walk of every table (rarely needed)."""
        found: list[tuple[WatchKind, str]] = []
        for kind, table in self._by_kind.items():
            for path, behind in table.items():
                if behind is watcher or (isinstance(behind, list) and watcher in behind):
                    found.append((kind, path))
        return found

    def has(self, kind: WatchKind, path: str) -> bool:
        """True if some local watcher stands behind (kind, path)."""
        return path in self._by_kind[kind]

    def zxid(self, kind: WatchKind, path: str) -> int:
        """The zxid the watch (kind, path) was set at (0 if there is none)."""
        return self._zxids[kind].get(path, 0)

    def covered(self, kind: WatchKind, path: str) -> bool:
        """True if a persistent watch on ``path`` delivers what a one-shot ``kind`` waits for.

        Such a one-shot watch is set without a server-side watch of its own:
        before ZooKeeper 3.9 the server keeps one watch mode per path and
        session, and a one-shot watch would turn the persistent one into a
        one-shot. A recursive watch delivers the path's data events but never
        NODE_CHILDREN_CHANGED, so it covers data and exists watches only.
        """
        tables = self._by_kind
        if kind in (WatchKind.DATA, WatchKind.EXIST):
            return (
                path in tables[WatchKind.PERSISTENT]
                or path in tables[WatchKind.PERSISTENT_RECURSIVE]
            )
        if kind is WatchKind.CHILD:
            return path in tables[WatchKind.PERSISTENT]
        return False

    def shadowed_child_paths(self) -> list[str]:
        """Paths with a one-shot child watch and a recursive (but no persistent) watch.

        Re-adding the recursive watch replaces the child watch on a server
        before 3.9, so the child watch must be set again after it.
        """
        tables = self._by_kind
        recursive = tables[WatchKind.PERSISTENT_RECURSIVE]
        persistent = tables[WatchKind.PERSISTENT]
        return [p for p in tables[WatchKind.CHILD] if p in recursive and p not in persistent]

    def end_watches(
        self,
        kinds: tuple[WatchKind, ...],
        path: str,
        event: WatchedEvent,
        *,
        keep_open: WatchEvents | None = None,
    ) -> int:
        """Unregister the watchers of ``kinds`` on ``path`` and tell them with ``event``.

        A watcher left with no registration ends after the event (the watch
        can no longer fire), except ``keep_open`` (the default watcher).

        Returns:
            How many watchers were told.
        """
        told: list[WatchEvents] = []
        for kind in kinds:
            for w in self._pop(kind, path):
                if w not in told:
                    told.append(w)
        for w in told:
            w._push(event, final=w is not keep_open and not w._registered)
        return len(told)

    def paths(self, kind: WatchKind) -> list[str]:
        """The paths with a server-side watch of ``kind``."""
        return list(self._by_kind[kind])

    def count(self) -> int:
        """The number of (kind, path) server-side watches."""
        return sum(len(t) for t in self._by_kind.values())

    def watchers(self) -> Iterator[WatchEvents]:
        """Every registered watcher, once each."""
        seen: set[int] = set()
        for table in self._by_kind.values():
            for behind in table.values():
                for w in behind if isinstance(behind, list) else (behind,):
                    if id(w) not in seen:
                        seen.add(id(w))
                        yield w

    def dispatch(self, event: WatchedEvent) -> int:
        """Deliver a node event to every watcher it fires; returns how many."""
        path = event.path
        if path is None:
            return 0
        t = event.event_type
        tables = self._by_kind
        fired: list[WatchEvents] = []
        for kind in _FIRES.get(t, ()):
            # These watches are spent: forget exactly these registrations
            # (a watcher's other kinds of watch on the path stay armed).
            fired += self._pop(kind, path)
        if t in _REMOVALS:
            # A removal concerns the removed watches only, not persistent or
            # recursive watchers that merely cover the path.
            for w in fired:
                w._push(event)
            return len(fired)
        persistent = _watchers_of(tables[WatchKind.PERSISTENT].get(path))
        recursive: list[WatchEvents] = []
        if t is not EventType.NODE_CHILDREN_CHANGED and tables[WatchKind.PERSISTENT_RECURSIVE]:
            recursive = _covering(tables[WatchKind.PERSISTENT_RECURSIVE], path)
        seen: set[int] = set()
        n = 0
        for w in (*fired, *persistent, *recursive):
            if id(w) in seen:
                continue  # one watcher set through exists and get_data fires once
            seen.add(id(w))
            w._push(event)
            n += 1
        return n

    def session_event(self, state: KeeperState, *, persistent_only: bool = False) -> None:
        """Tell watchers about a session change without ending them."""
        event = WatchedEvent(EventType.NONE, state, None)
        if persistent_only:
            tables = self._by_kind
            watchers: Iterable[WatchEvents] = dict.fromkeys(
                w
                for kind in (WatchKind.PERSISTENT, WatchKind.PERSISTENT_RECURSIVE)
                for behind in tables[kind].values()
                for w in _watchers_of(behind)
            )
        else:
            watchers = self.watchers()
        for w in list(watchers):
            if w._flags & _SESSION_EVENTS:
                w._push(event)

    def end_all(self, state: KeeperState, *, keep_open: WatchEvents | None = None) -> None:
        """The session is gone: wake every watcher with ``state`` and end it.

        ``keep_open`` (the client's default watcher) is told once, but stays
        open for the watches of later sessions.
        """
        event = WatchedEvent(EventType.NONE, state, None)
        watchers = list(self.watchers())
        for table in self._by_kind.values():
            table.clear()
        for zxids in self._zxids.values():
            zxids.clear()
        for w in watchers:
            w._forget()
            if w is keep_open:
                w._push(event)
            else:
                w._push(event, final=True)
                w._end()


#: The server-side watches (of a path) that an event fires and thereby ends.
_REMOVALS = frozenset(
    {
        EventType.DATA_WATCH_REMOVED,
        EventType.CHILD_WATCH_REMOVED,
        EventType.PERSISTENT_WATCH_REMOVED,
    }
)
_FIRES: dict[EventType, tuple[WatchKind, ...]] = {
    EventType.NODE_CREATED: (WatchKind.DATA, WatchKind.EXIST),
    EventType.NODE_DATA_CHANGED: (WatchKind.DATA, WatchKind.EXIST),
    EventType.NODE_DELETED: (WatchKind.DATA, WatchKind.EXIST, WatchKind.CHILD),
    EventType.NODE_CHILDREN_CHANGED: (WatchKind.CHILD,),
    EventType.DATA_WATCH_REMOVED: (WatchKind.DATA, WatchKind.EXIST),
    EventType.CHILD_WATCH_REMOVED: (WatchKind.CHILD,),
    EventType.PERSISTENT_WATCH_REMOVED: (WatchKind.PERSISTENT, WatchKind.PERSISTENT_RECURSIVE),
}


#: Up to this many recursive watch roots, events are matched by prefix;
#: beyond, by looking up each ancestor of the event's path.
_PREFIX_MATCH_LIMIT = 32


def _watchers_of(behind: WatchEvents | list[WatchEvents] | None) -> Sequence[WatchEvents]:
    if behind is None:
        return ()
    return behind if isinstance(behind, list) else (behind,)


def _covering(table: dict[str, WatchEvents | list[WatchEvents]], path: str) -> list[WatchEvents]:
    """The watchers of ``table`` (recursive watches by root) whose root is ``path`` or above it.

    With few roots (the usual case) each is compared as a prefix, so that an
    event deep in a tree costs its path's length, not the sum of its
    ancestors' lengths (a chain 5,000 deep would make that 25 MB per event).
    """
    found: list[WatchEvents] = []
    if len(table) <= _PREFIX_MATCH_LIMIT:
        for root, watchers in table.items():
            if root == path or root == "/" or path.startswith(root + "/"):
                found += _watchers_of(watchers)
        return found
    for ancestor in _self_and_ancestors(path):
        found += _watchers_of(table.get(ancestor))
    return found


def _self_and_ancestors(path: str) -> Iterator[str]:
    yield path
    while path != "/":
        cut = path.rfind("/")
        path = path[:cut] or "/"
        yield path
