"""The client's side of the server's watches, in one place: :class:`ServerWatches`.

:mod:`._watchers` keeps the local record (which watcher wants which events
of which path) and delivers events; the session re-sets every watch after a
reconnect. This module owns everything else about the watches the server
holds for the session:

* registering a one-shot watch when its read's reply arrives (the
  registrars), and deciding whether a read must ask the server for a watch
  at all (a persistent watch of the path may already deliver its events:
  ``WatchRegistry.covered``);
* adding a persistent or persistent-recursive watch and releasing it;
* removing and checking watches (``remove_watches`` / ``check_watches``),
  and releasing the server's watch once no local watcher needs it;
* ZooKeeper before 3.9 keeping one watch mode per path and session
  (ZOOKEEPER-4466): a persistent watch can then only be removed with type ANY,
  which removes the path's one-shot watches too, and a recursive watch takes
  the path's child-watch slot without ever firing it; the one-shot watches
  still wanted are set again (SetWatches at the zxid each was set at), and a
  watch that cannot be is ended with an event saying so;
* what the client learned about the server on the way
  (:attr:`ServerWatches.persistent_by_type_unsupported`).

It reaches the session only through :class:`WatchSession` (its watch
registry, newest zxid, state, default watcher and close timeout) and sends
requests through the client's call function.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol

import trio

from ._protocol import (
    AddWatchMode,
    AddWatchRequest,
    CheckWatchesRequest,
    ConnectionLossError,
    ErrorCode,
    EventType,
    KeeperState,
    MarshallingError,
    NoWatcherError,
    OpCode,
    RemoveWatchesRequest,
    SetWatches,
    UnimplementedError,
    WatchedEvent,
    WatcherType,
    ZooKeeperError,
)
from ._watchers import WatchEvents, WatchKind, WatchRegistry

__all__ = ["Registrar", "ServerWatches", "WatchSession"]

_ONE_SHOT = (WatchKind.DATA, WatchKind.EXIST, WatchKind.CHILD)
_PERSISTENT_KIND = {
    WatcherType.PERSISTENT: WatchKind.PERSISTENT,
    WatcherType.PERSISTENT_RECURSIVE: WatchKind.PERSISTENT_RECURSIVE,
}

_DATA_GROUP = ((WatchKind.DATA, WatchKind.EXIST), EventType.DATA_WATCH_REMOVED)
_CHILD_GROUP = ((WatchKind.CHILD,), EventType.CHILD_WATCH_REMOVED)
#: What ``remove_watches`` ends, per watcher type: groups of watch kinds, each
#: with the event its watchers get (a watcher is told once per group).
_REMOVED: dict[WatcherType, tuple[tuple[tuple[WatchKind, ...], EventType], ...]] = {
    WatcherType.DATA: (_DATA_GROUP,),
    WatcherType.CHILDREN: (_CHILD_GROUP,),
    WatcherType.PERSISTENT: (((WatchKind.PERSISTENT,), EventType.PERSISTENT_WATCH_REMOVED),),
    WatcherType.PERSISTENT_RECURSIVE: (
        ((WatchKind.PERSISTENT_RECURSIVE,), EventType.PERSISTENT_WATCH_REMOVED),
    ),
    WatcherType.ANY: (
        _DATA_GROUP,
        _CHILD_GROUP,
        (
            (WatchKind.PERSISTENT, WatchKind.PERSISTENT_RECURSIVE),
            EventType.PERSISTENT_WATCH_REMOVED,
        ),
    ),
}

#: ``call(op, request, path, on_reply=None)``: send a request on the session
#: (the client's, which maps a missing chroot to a clear error).
Call = Callable[..., Awaitable[Any]]


class Registrar:
    """The reply hook of one watching read, and its place in the in-flight count.

    ``__call__`` runs in the reader task as the reply is dispatched and
    registers the watch if the read set one; :meth:`settle` runs when the
    caller is done with the request, whatever happened (never written,
    connection lost, cancelled). Whichever comes first takes the read off the
    count. One small object per read, no closure and no key tuple: thousands
    may be on the wire.
    """

    # ``_counts`` is the in-flight count of the read's server slot (data or
    # child watches, by path), None once settled; an exists read is kind
    # EXIST (a data watch if the node exists, else an exists watch).
    __slots__ = ("_counts", "_kind", "_path", "_session", "_watcher")

    def __init__(
        self,
        counts: dict[str, int],
        session: WatchSession,
        kind: WatchKind,
        path: str,
        watcher: WatchEvents,
    ) -> None:
        self._session = session
        self._kind = kind
        self._path = path
        self._watcher = watcher
        self._counts: dict[str, int] | None = counts
        counts[path] = counts.get(path, 0) + 1

    def __call__(self, err: int) -> None:
        self.settle()
        session = self._session
        kind = self._kind
        if err == 0:
            if kind is WatchKind.EXIST:
                kind = WatchKind.DATA
            session.registry.add(kind, self._path, self._watcher, session.last_zxid)
        elif err == ErrorCode.NO_NODE and kind is WatchKind.EXIST:
            # An exists watch on a present node is a data watch; on an absent
            # one, an exists watch (Java's ExistsWatchRegistration).
            session.registry.add(WatchKind.EXIST, self._path, self._watcher, session.last_zxid)

    def settle(self) -> None:
        """Take this read off the in-flight count (once)."""
        counts = self._counts
        if counts is None:
            return
        self._counts = None
        path = self._path
        left = counts[path] - 1
        if left:
            counts[path] = left
        else:
            del counts[path]


class WatchSession(Protocol):
    """What the watch plumbing reads of the session (all of it, explicitly)."""

    @property
    def registry(self) -> WatchRegistry:
        """The local record of watches, which the session re-sets on reconnect."""
        ...

    @property
    def last_zxid(self) -> int:
        """The newest zxid seen: a watch registered now was set at it."""
        ...

    @property
    def state(self) -> KeeperState:
        """The session state."""
        ...

    @property
    def default_watcher(self) -> WatchEvents:
        """The channel of ``zk.watch()`` watches, which outlives them."""
        ...

    @property
    def close_timeout(self) -> float:
        """The bound on shielded clean-up requests."""
        ...


class ServerWatches:
    """The server-side watches of one client (see the module docstring).

    Args:
        session: The session (through :class:`WatchSession`).
        call: The client's request function.
        server_path: Maps a client path to the server's (adds the chroot).
    """

    def __init__(self, session: WatchSession, call: Call, server_path: Callable[[str], str]):
        self._session = session
        self._call = call
        self._server_path = server_path
        #: The server cannot parse the watcher types PERSISTENT and
        #: PERSISTENT_RECURSIVE in removeWatches/checkWatches (before 3.9:
        #: it keeps one watch mode per path and session). Learned once.
        self.persistent_by_type_unsupported = False
        #: Watching reads sent and not yet answered, per path: of the data
        #: slot (data and exists watches) and of the child slot.
        self._in_flight_data: dict[str, int] = {}
        self._in_flight_child: dict[str, int] = {}

    @property
    def _registry(self) -> WatchRegistry:
        return self._session.registry

    # ------------------------------------------------------- one-shot watches
    def wants_server_watch(self, kind: WatchKind, path: str, watcher: WatchEvents | None) -> bool:
        """Whether a read must ask the server for a watch (see ``WatchRegistry.covered``)."""
        return watcher is not None and not self._registry.covered(kind, path)

    def registrar(self, kind: WatchKind, path: str, watcher: WatchEvents) -> Registrar:
        """The reply hook of a watching read: registers the watch if the read succeeded.

        Until the read is answered (or known never to be), the path counts as
        having a watch on its way, so that closing another watcher of the
        same path meanwhile does not remove the server watch this read is
        setting (the server applies the removal after the read).
        """
        return Registrar(self._in_flight_of(kind), self._session, kind, path, watcher)

    def exists_registrar(self, path: str, watcher: WatchEvents) -> Registrar:
        """The reply hook of a watching exists (see :meth:`registrar`)."""
        return Registrar(self._in_flight_data, self._session, WatchKind.EXIST, path, watcher)

    def _in_flight_of(self, kind: WatchKind) -> dict[str, int]:
        """The in-flight counts of the server slot a one-shot ``kind`` uses."""
        return self._in_flight_child if kind is WatchKind.CHILD else self._in_flight_data

    def _wanted(self, kind: WatchKind, path: str) -> bool:
        """Whether a local watcher, or a watching read on its way, needs this server slot."""
        registry = self._registry
        if self._in_flight_of(kind).get(path):
            return True
        if kind is WatchKind.CHILD:
            return registry.has(WatchKind.CHILD, path)
        return registry.has(WatchKind.DATA, path) or registry.has(WatchKind.EXIST, path)

    async def close_one_shot(self, watcher: WatchEvents) -> None:
        """Close a one-shot watcher and release the server's watches no one else needs."""
        registrations = watcher._reg_list()
        watcher.close()
        for kind, path in registrations:
            if kind is WatchKind.CHILD and not self._wanted(kind, path):
                await self.release(path, WatcherType.CHILDREN)
            elif kind in (WatchKind.DATA, WatchKind.EXIST) and not self._wanted(kind, path):
                await self.release(path, WatcherType.DATA)

    # ----------------------------------------------------- persistent watches
    @asynccontextmanager
    async def persistent(
        self, path: str, mode: AddWatchMode, max_buffer: int
    ) -> AsyncIterator[WatchEvents]:
        """``ZooKeeper.add_watch``: a persistent (recursive) watch for the block."""
        kind = (
            WatchKind.PERSISTENT
            if mode is AddWatchMode.PERSISTENT
            else WatchKind.PERSISTENT_RECURSIVE
        )
        wtype = (
            WatcherType.PERSISTENT
            if kind is WatchKind.PERSISTENT
            else WatcherType.PERSISTENT_RECURSIVE
        )
        request = AddWatchRequest(path=self._server_path(path), mode=mode)
        registry = self._registry
        other = (
            WatchKind.PERSISTENT_RECURSIVE if kind is WatchKind.PERSISTENT else WatchKind.PERSISTENT
        )
        if registry.has(other, path) and await self._one_mode_per_path(path):
            raise UnimplementedError(
                f"this ZooKeeper server (before 3.9) keeps one watch mode per path and "
                f"session: a {mode.name} watch on {path} would disable the "
                f"{other.name} watch this client already has there; use one of "
                "them (a recursive watch plus get_children watches), or a second client",
                path=path,
            )
        watcher = WatchEvents(max_buffer=max_buffer)
        # Registered before the request goes out: a one-shot watch set on the
        # path from now on must not ask the server for a watch of its own,
        # which would take the server's slot from this one (see covered()).
        registry.add(kind, path, watcher, self._session.last_zxid)
        try:
            await self._call(OpCode.ADD_WATCH, request, path)
        except BaseException:
            watcher.close()
            if not registry.has(kind, path):
                # The request may still have been applied (cancelled after it
                # went out); leave nothing behind, re-arm the others.
                await self.release(path, wtype)
            raise
        try:
            if kind is WatchKind.PERSISTENT_RECURSIVE:
                # The recursive watch took the path's child-watch slot on a
                # server before 3.9, where it never fires: set the one-shot
                # child watches again (at the zxid they were set at).
                await self._rearm(path, (WatchKind.CHILD,))
            yield watcher
        finally:
            watcher.close()
            if not registry.has(kind, path):
                await self.release(path, wtype)

    async def _one_mode_per_path(self, path: str) -> bool:
        """Whether the server keeps one watch mode per path and session (before 3.9).

        Such a server cannot even parse the watcher types PERSISTENT and
        PERSISTENT_RECURSIVE (MarshallingError); 3.9 can (ZOOKEEPER-4466).
        """
        if not self.persistent_by_type_unsupported:
            request = CheckWatchesRequest(path=self._server_path(path), type=WatcherType.PERSISTENT)
            try:
                await self._call(OpCode.CHECK_WATCHES, request, path)
            except MarshallingError:
                self.persistent_by_type_unsupported = True
            except NoWatcherError:
                pass
        return self.persistent_by_type_unsupported

    async def _rearm(self, path: str, kinds: tuple[WatchKind, ...]) -> None:
        """Set this client's one-shot watches of ``kinds`` on ``path`` again on the server.

        Each goes out as SetWatches at the zxid it was first set at, so the
        server fires at once if the node changed since. Kinds a persistent
        watch of the path delivers need no watch of their own. Bounded and
        shielded like closing; a connection lost meanwhile re-sets every
        watch on reconnect anyway.
        """
        registry = self._registry
        with trio.move_on_after(self._session.close_timeout, shield=True):
            for kind in kinds:
                if not registry.has(kind, path) or registry.covered(kind, path):
                    continue
                paths = {kind: (self._server_path(path),)}
                request = SetWatches(
                    relative_zxid=registry.zxid(kind, path),
                    data_watches=paths.get(WatchKind.DATA, ()),
                    exist_watches=paths.get(WatchKind.EXIST, ()),
                    child_watches=paths.get(WatchKind.CHILD, ()),
                )
                try:
                    await self._call(OpCode.SET_WATCHES, request, path)
                except (ConnectionLossError, trio.ClosedResourceError):
                    return  # a reconnect sets every watch again; a close ends them
                except ZooKeeperError:
                    # It cannot be set again: its watchers must not wait forever.
                    removed = (
                        EventType.CHILD_WATCH_REMOVED
                        if kind is WatchKind.CHILD
                        else EventType.DATA_WATCH_REMOVED
                    )
                    registry.end_watches(
                        (kind,),
                        path,
                        WatchedEvent(removed, self._session.state, path),
                        keep_open=self._session.default_watcher,
                    )

    async def _remove_on_server(self, path: str, wtype: WatcherType) -> None:
        request = RemoveWatchesRequest(path=self._server_path(path), type=wtype)
        await self._call(OpCode.REMOVE_WATCHES, request, path)

    async def release(self, path: str, wtype: WatcherType) -> None:
        """Drop the server's watch of ``wtype`` on ``path``, which no local watcher needs.

        The other watches of this client on the path stay armed: on a server
        before 3.9 a persistent watch can only be removed with every other
        watch of the path (type ANY), so the one-shot watches still wanted
        there are set again (:meth:`_rearm`).
        """
        session = self._session
        if session.state not in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY):
            return  # re-registration simply will not include it
        registry = self._registry
        with (
            trio.move_on_after(session.close_timeout, shield=True),
            suppress(ZooKeeperError, trio.ClosedResourceError),
        ):
            if wtype in (WatcherType.DATA, WatcherType.CHILDREN):
                kind = WatchKind.DATA if wtype is WatcherType.DATA else WatchKind.CHILD
                if not registry.covered(kind, path):
                    # A covered one-shot watch has no server-side watch of
                    # its own: removing "it" would cut the persistent one.
                    await self._remove_on_server(path, wtype)
                return
            if not self.persistent_by_type_unsupported:
                try:
                    await self._remove_on_server(path, wtype)
                except MarshallingError:
                    # ZooKeeper before 3.9 cannot remove a persistent watch
                    # by its type (WatcherType 4/5 fail to unmarshal).
                    self.persistent_by_type_unsupported = True
                else:
                    await self._rearm(path, _ONE_SHOT)
                    return
            if any(registry.has(k, path) for k in WatchKind):
                with suppress(NoWatcherError):
                    await self._remove_on_server(path, WatcherType.ANY)
                await self._rearm(path, _ONE_SHOT)
            else:
                await self._remove_on_server(path, WatcherType.ANY)

    # ------------------------------------------------------ remove and check
    async def remove(self, path: str, wt: WatcherType, *, local: bool = False) -> None:
        """``ZooKeeper.remove_watches`` (its docstring says what it promises)."""
        self._server_path(path)  # validate before anything is removed
        if not local:
            await self._remove(path, wt)
            return
        registry = self._registry
        if not any(registry.has(k, path) for kinds, _ in _REMOVED[wt] for k in kinds):
            raise NoWatcherError(path=path)
        if self._session.state in (KeeperState.SYNC_CONNECTED, KeeperState.CONNECTED_READ_ONLY):
            try:
                await self._remove(path, wt)
                return
            except ZooKeeperError:
                # As Java's ``local``: whatever the server answered (the
                # connection lost meanwhile, no such watch there), this
                # client's own watchers of the kind go.
                pass
        # Not asked (or no use): the next connection's re-registration leaves
        # them out, so the server forgets them at the latest then.
        self._end_watchers(path, wt)

    def _end_watchers(self, path: str, wt: WatcherType) -> None:
        """Unregister this client's watchers of ``wt`` on ``path`` and tell them."""
        for kinds, event_type in _REMOVED[wt]:
            event = WatchedEvent(event_type, self._session.state, path)
            self._registry.end_watches(kinds, path, event, keep_open=self._session.default_watcher)

    async def _remove(self, path: str, wt: WatcherType) -> None:
        registry = self._registry
        if wt in _PERSISTENT_KIND:
            kind = _PERSISTENT_KIND[wt]
            if not self.persistent_by_type_unsupported:
                try:
                    await self._remove_on_server(path, wt)
                except MarshallingError:
                    self.persistent_by_type_unsupported = True
                else:
                    self._end_watchers(path, wt)
                    await self._rearm(path, _ONE_SHOT)
                    return
            if not registry.has(kind, path):
                raise NoWatcherError(path=path)
            self._end_watchers(path, wt)
            await self.release(path, wt)
            return
        if wt is WatcherType.ANY:
            await self._remove_on_server(path, wt)
            self._end_watchers(path, wt)
            return
        [(kinds, _)] = _REMOVED[wt]
        persistent = registry.has(WatchKind.PERSISTENT, path) or registry.has(
            WatchKind.PERSISTENT_RECURSIVE, path
        )
        if persistent and not any(registry.has(k, path) for k in kinds):
            # The server would remove (a slot of) the persistent watch instead.
            raise NoWatcherError(path=path)
        if not registry.covered(kinds[0], path):
            # (A covered one-shot watch has no server-side watch of its own:
            # the persistent watch holds the path's slot and stays.)
            await self._remove_on_server(path, wt)
        self._end_watchers(path, wt)

    async def check(self, path: str, wt: WatcherType) -> bool:
        """``ZooKeeper.check_watches`` (its docstring says what it promises)."""
        request = CheckWatchesRequest(path=self._server_path(path), type=wt)
        try:
            await self._call(OpCode.CHECK_WATCHES, request, path)
        except NoWatcherError:
            return False
        except MarshallingError:
            if wt not in _PERSISTENT_KIND:
                raise
            self.persistent_by_type_unsupported = True
            return self._registry.has(_PERSISTENT_KIND[wt], path) and await self.check(
                path, WatcherType.ANY
            )
        return True
