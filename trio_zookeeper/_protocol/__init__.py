"""The sans-IO ZooKeeper protocol: records, codec, framing and the client state machine.

This package never imports trio, sockets or anything that does I/O (a test
checks it in a fresh interpreter). The trio client, the fake server used in
tests and the benchmarks all drive it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._connection import (
    AUTH_XID,
    DEFAULT_MAX_FRAME_SIZE,
    NOTIFICATION_XID,
    PING_XID,
    SET_WATCHES_XID,
    ClientProtocol,
    ProtocolState,
)
from ._enums import (
    AddWatchMode,
    CreateMode,
    EventType,
    KeeperState,
    OpCode,
    Perm,
    WatcherType,
    op_name,
)
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
from ._jute import decode_record, encode_record, slot_builder
from ._multi import (
    MULTI_READ_OPS,
    MULTI_WRITE_OPS,
    MultiOp,
    MultiRequest,
    MultiResponse,
    MultiResult,
)
from ._ops import OPS, WRITE_OPS
from ._paths import CONFIG_NODE, Chroot, validate_path
from ._records import *  # noqa: F403 - every jute record
from ._records import __all__ as _records_all
from ._state import TRANSITIONS, InvalidTransition, SessionEvent, transition

__all__ = [
    "AUTH_XID",
    "CONFIG_NODE",
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
    "op_name",
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
    "slot_builder",
    "transition",
    "validate_path",
    *_errors_all,
    *_records_all,
]

if TYPE_CHECKING:
    from ._server import ClientRequest, ServerProtocol

#: Names loaded on first use: the server side serves only the test fakes.
_LAZY = {"ClientRequest": "._server", "ServerProtocol": "._server"}


def lazy_exports(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], object]:
    """A module ``__getattr__`` importing ``names`` (name -> relative module) on first use.

    The value is then stored in ``namespace`` (the package's globals), so the
    hook runs once per name; any other name raises AttributeError as usual.
    """

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    return __getattr__


__getattr__ = lazy_exports(__name__, _LAZY, globals())
