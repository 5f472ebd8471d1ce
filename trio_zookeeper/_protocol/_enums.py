"""The integer enumerations of the ZooKeeper protocol.

Every value here is a wire value, taken from the Java sources
(``ZooDefs.OpCode``, ``CreateMode``, ``ZooDefs.Perms``, ``Watcher.Event``,
``Watcher.WatcherType``, ``AddWatchMode``).
"""

from __future__ import annotations

import enum

__all__ = [
    "AddWatchMode",
    "CreateMode",
    "EventType",
    "KeeperState",
    "OpCode",
    "Perm",
    "WatcherType",
    "op_name",
]


class OpCode(enum.IntEnum):
    """Request types (``ZooDefs.OpCode``). There is no opcode 10, nor 23-99."""

    NOTIFICATION = 0
    CREATE = 1
    DELETE = 2
    EXISTS = 3
    GET_DATA = 4
    SET_DATA = 5
    GET_ACL = 6
    SET_ACL = 7
    GET_CHILDREN = 8
    SYNC = 9
    PING = 11
    GET_CHILDREN2 = 12
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    RECONFIG = 16
    CHECK_WATCHES = 17
    REMOVE_WATCHES = 18
    CREATE_CONTAINER = 19
    DELETE_CONTAINER = 20
    CREATE_TTL = 21
    MULTI_READ = 22
    AUTH = 100
    SET_WATCHES = 101
    SASL = 102
    GET_EPHEMERALS = 103
    GET_ALL_CHILDREN_NUMBER = 104
    SET_WATCHES2 = 105
    ADD_WATCH = 106
    WHO_AM_I = 107
    CREATE_SESSION = -10
    CLOSE_SESSION = -11
    ERROR = -1


def op_name(op: int) -> str:
    """An opcode as tracers and reprs name it: ``"get_data"``, ``"create2"``, or the number."""
    try:
        return OpCode(op).name.lower()
    except ValueError:
        return str(op)


class CreateMode(enum.IntEnum):
    """How a node is created (``CreateMode.java``); the value is the wire flag."""

    PERSISTENT = 0
    EPHEMERAL = 1
    PERSISTENT_SEQUENTIAL = 2
    EPHEMERAL_SEQUENTIAL = 3
    CONTAINER = 4
    PERSISTENT_WITH_TTL = 5
    PERSISTENT_SEQUENTIAL_WITH_TTL = 6

    @property
    def is_ephemeral(self) -> bool:
        """True for the modes whose node dies with the session."""
        return self in (CreateMode.EPHEMERAL, CreateMode.EPHEMERAL_SEQUENTIAL)

    @property
    def is_sequential(self) -> bool:
        """True for the modes that append a 10-digit sequence number to the name."""
        return self in (
            CreateMode.PERSISTENT_SEQUENTIAL,
            CreateMode.EPHEMERAL_SEQUENTIAL,
            CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL,
        )

    @property
    def is_ttl(self) -> bool:
        """True for the two time-to-live modes (they need ``ttl=``)."""
        return self in (CreateMode.PERSISTENT_WITH_TTL, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL)

    @property
    def is_container(self) -> bool:
        """True for CONTAINER, a node the server deletes once its last child goes."""
        return self is CreateMode.CONTAINER


class Perm(enum.IntFlag):
    """ACL permission bits (``ZooDefs.Perms``)."""

    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


class EventType(enum.IntEnum):
    """The type of a watch event (``Watcher.Event.EventType``).

    ``NONE`` marks an event about the session rather than a node.
    """

    NONE = -1
    NODE_CREATED = 1
    NODE_DELETED = 2
    NODE_DATA_CHANGED = 3
    NODE_CHILDREN_CHANGED = 4
    DATA_WATCH_REMOVED = 5
    CHILD_WATCH_REMOVED = 6
    PERSISTENT_WATCH_REMOVED = 7


class KeeperState(enum.IntEnum):
    """The state of a session (``Watcher.Event.KeeperState``).

    The client reports SYNC_CONNECTED, DISCONNECTED (suspended: the session may
    still be alive), CONNECTED_READ_ONLY, EXPIRED, AUTH_FAILED and CLOSED.
    """

    UNKNOWN = -1
    DISCONNECTED = 0
    NO_SYNC_CONNECTED = 1
    SYNC_CONNECTED = 3
    AUTH_FAILED = 4
    CONNECTED_READ_ONLY = 5
    SASL_AUTHENTICATED = 6
    EXPIRED = -112
    CLOSED = 7


class WatcherType(enum.IntEnum):
    """Kinds of watch for checkWatches / removeWatches (``Watcher.WatcherType``)."""

    CHILDREN = 1
    DATA = 2
    ANY = 3
    PERSISTENT = 4
    PERSISTENT_RECURSIVE = 5


class AddWatchMode(enum.IntEnum):
    """Modes of a persistent watch added with addWatch (``AddWatchMode.java``).

    A PERSISTENT_RECURSIVE watch never delivers NODE_CHILDREN_CHANGED.
    """

    PERSISTENT = 0
    PERSISTENT_RECURSIVE = 1
