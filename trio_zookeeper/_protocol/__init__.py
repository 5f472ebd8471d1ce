"""The sans-IO ZooKeeper protocol: records, codec, framing and the client state machine.

This package never imports trio, sockets or anything that does I/O (a test
checks it in a fresh interpreter). The trio client, the fake server used in
tests and the benchmarks all drive it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._connection import (
    AUTH_XID,
    DEFAULT_MAX_FRAME_SIZE,
    NOTIFICATION_XID,
    PING_XID,
    SET_WATCHES_XID,
    ClientProtocol,
    ProtocolState,
)
from ._enums import AddWatchMode, CreateMode, EventType, KeeperState, OpCode, Perm, WatcherType
from ._errors import *  # noqa: F403 - the whole exception tree
from ._errors import __all__ as _errors_all
from ._events import (
    AuthReply,
    Connected,
    ConnectionClosed,
    Event,
    Notification,
    PingReply,
    Reply,
    WatchedEvent,
)
from ._jute import decode_record, encode_record
from ._multi import (
    MULTI_READ_OPS,
    MULTI_WRITE_OPS,
    MultiOp,
    MultiRequest,
    MultiResponse,
    MultiResult,
)
from ._ops import OPS, WRITE_OPS
from ._paths import Chroot, validate_path
from ._records import *  # noqa: F403 - every jute record
from ._records import __all__ as _records_all
from ._state import TRANSITIONS, InvalidTransition, SessionEvent, transition

__all__ = [
    "AUTH_XID",
    "DEFAULT_MAX_FRAME_SIZE",
    "MULTI_READ_OPS",
    "MULTI_WRITE_OPS",
    "NOTIFICATION_XID",
    "OPS",
    "PING_XID",
    "SET_WATCHES_XID",
    "TRANSITIONS",
    "WRITE_OPS",
    "AddWatchMode",
    "AuthReply",
    "Chroot",
    "ClientProtocol",
    "ClientRequest",
    "Connected",
    "ConnectionClosed",
    "CreateMode",
    "Event",
    "EventType",
    "InvalidTransition",
    "KeeperState",
    "MultiOp",
    "MultiRequest",
    "MultiResponse",
    "MultiResult",
    "Notification",
    "OpCode",
    "Perm",
    "PingReply",
    "ProtocolState",
    "Reply",
    "ServerProtocol",
    "SessionEvent",
    "WatchedEvent",
    "WatcherType",
    "decode_record",
    "encode_record",
    "transition",
    "validate_path",
    *_errors_all,
    *_records_all,
]

if TYPE_CHECKING:
    from ._server import ClientRequest, ServerProtocol

#: Names loaded on first use: the server side serves only the test fakes.
_LAZY = {"ClientRequest": "._server", "ServerProtocol": "._server"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
