"""The session state machine: every transition in one table.

The trio session layer moves between these states only through
:func:`transition`; the documentation's state diagram is generated from
:data:`TRANSITIONS`, so the two cannot drift apart.

States are :class:`KeeperState` members as the user sees them. ``CONNECTING``
is represented by DISCONNECTED before the first connection (the client is
not yet connected, and nothing is suspended yet).
"""

from __future__ import annotations

import enum

from ._enums import KeeperState

__all__ = ["TRANSITIONS", "InvalidTransition", "SessionEvent", "transition"]


class SessionEvent(enum.Enum):
    """What happened to the session, as the session layer sees it."""

    CONNECTED_RW = "connected to a read-write server"
    CONNECTED_RO = "connected to a read-only server"
    CONNECTION_LOST = "connection lost"
    EXPIRED = "server said expired / suspected expired"
    NEW_SESSION = "started a new session after expiry"
    AUTH_FAILED = "authentication failed"
    CLOSE = "closed by the application"


S = KeeperState
E = SessionEvent

#: (state, event) -> new state. A pair absent from the table is a bug.
TRANSITIONS: dict[tuple[KeeperState, SessionEvent], KeeperState] = {
    (S.DISCONNECTED, E.CONNECTED_RW): S.SYNC_CONNECTED,
    (S.DISCONNECTED, E.CONNECTED_RO): S.CONNECTED_READ_ONLY,
    (S.DISCONNECTED, E.CONNECTION_LOST): S.DISCONNECTED,
    (S.DISCONNECTED, E.EXPIRED): S.EXPIRED,
    (S.DISCONNECTED, E.AUTH_FAILED): S.AUTH_FAILED,
    (S.DISCONNECTED, E.CLOSE): S.CLOSED,
    (S.SYNC_CONNECTED, E.CONNECTION_LOST): S.DISCONNECTED,
    (S.SYNC_CONNECTED, E.AUTH_FAILED): S.AUTH_FAILED,
    (S.SYNC_CONNECTED, E.CLOSE): S.CLOSED,
    (S.SYNC_CONNECTED, E.EXPIRED): S.EXPIRED,
    (S.CONNECTED_READ_ONLY, E.CONNECTION_LOST): S.DISCONNECTED,
    (S.CONNECTED_READ_ONLY, E.AUTH_FAILED): S.AUTH_FAILED,
    (S.CONNECTED_READ_ONLY, E.CLOSE): S.CLOSED,
    (S.CONNECTED_READ_ONLY, E.EXPIRED): S.EXPIRED,
    (S.EXPIRED, E.NEW_SESSION): S.DISCONNECTED,
    (S.EXPIRED, E.CLOSE): S.CLOSED,
    (S.AUTH_FAILED, E.CLOSE): S.CLOSED,
    (S.CLOSED, E.CLOSE): S.CLOSED,
}


class InvalidTransition(RuntimeError):
    """A transition that the table does not allow (a bug in the session layer)."""


def transition(state: KeeperState, event: SessionEvent) -> KeeperState:
    """The state after ``event`` happens in ``state``.

    Raises:
        InvalidTransition: the table has no such transition.
    """
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"no transition from {state.name} on {event.name}") from None
