"""What the sans-IO client protocol reports: one frozen record per event.

:class:`TupleRecord` classes, built in one call (and cheaper to define than
attrs classes); each takes its fields by position too, as before.
"""

from __future__ import annotations

from ._enums import EventType, KeeperState
from ._records import ConnectResponse
from ._tuplerecord import TupleRecord

__all__ = [
    "AuthReply",
    "Connected",
    "ConnectionClosed",
    "Event",
    "Notification",
    "PingReply",
    "Reply",
    "WatchedEvent",
]


class WatchedEvent(TupleRecord, kw_only=False):
    """A watch notification, or a session event on a watcher's channel.

    Attributes:
        event_type: What happened to the node (``EventType.NONE`` for an event
            about the session).
        keeper_state: The session's state when the event was generated.
        path: The node's path, relative to the chroot (None for session events).
        zxid: The zxid of the change that fired the watch, when the server
            sends it (ZooKeeper 3.9+); -1 otherwise.
    """

    __slots__ = ()

    event_type: EventType
    keeper_state: KeeperState
    path: str | None
    zxid: int = -1


class Connected(TupleRecord, kw_only=False):
    """The handshake completed: the server's ConnectResponse.

    ``response.time_out <= 0`` means the session expired; ``read_only_flag``
    says whether the server sent the trailing readOnly byte at all.
    """

    __slots__ = ()

    response: ConnectResponse
    read_only_flag: bool = True


class Reply(TupleRecord, kw_only=False):
    """The reply to the request with this xid.

    Attributes:
        xid: The request's xid (-8 for SetWatches).
        zxid: The zxid in the reply header.
        op: The request's opcode.
        err: 0, or the server's error code (the body is then absent).
        response: The decoded response record (None when err != 0 or the
            operation's reply has no body).
        context: What the caller passed to ``ClientProtocol.send_request``
            with the request (None for SetWatches, or when none was given).
    """

    __slots__ = ()

    xid: int
    zxid: int
    op: int
    err: int
    response: object | None
    context: object | None = None


class Notification(TupleRecord, kw_only=False):
    """A watch event pushed by the server (xid -1)."""

    __slots__ = ()

    zxid: int
    event: WatchedEvent


class PingReply(TupleRecord, kw_only=False):
    """The answer to a ping (xid -2). Unsolicited ones are tolerated."""

    __slots__ = ()

    zxid: int


class AuthReply(TupleRecord, kw_only=False):
    """The answer to an auth packet (xid -4); err -115 is AUTHFAILED."""

    __slots__ = ()

    err: int


class ConnectionClosed(TupleRecord, kw_only=False):
    """The peer closed the connection cleanly between frames."""

    __slots__ = ()


Event = Connected | Reply | Notification | PingReply | AuthReply | ConnectionClosed
