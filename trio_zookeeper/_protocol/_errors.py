"""The exception tree: one class per ZooKeeper error code.

``ErrorCode`` mirrors ``KeeperException.Code``. Each server error code maps to
exactly one subclass of :class:`ServerError` through the explicit ``_BY_CODE``
table; a code this client does not know becomes a plain :class:`ServerError`
that carries the number, never a lookup failure.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import ClassVar

__all__ = [
    "APIError",
    "AuthFailedError",
    "BadArgumentsError",
    "BadVersionError",
    "ConnectionLossError",
    "DataInconsistencyError",
    "EphemeralOnLocalSessionError",
    "ErrorCode",
    "FrameTooLargeError",
    "InvalidACLError",
    "InvalidCallbackError",
    "LocalProtocolError",
    "MarshallingError",
    "NewConfigNoQuorumError",
    "NoAuthError",
    "NoChildrenForEphemeralsError",
    "NoNodeError",
    "NoWatcherError",
    "NodeExistsError",
    "NotEmptyError",
    "NotReadOnlyError",
    "OperationTimeoutError",
    "ProtocolError",
    "QuotaExceededError",
    "ReconfigDisabledError",
    "ReconfigInProgressError",
    "RemoteProtocolError",
    "RequestTimeoutError",
    "RolledBackError",
    "RuntimeInconsistencyError",
    "ServerError",
    "SessionClosedRequireSaslAuthError",
    "SessionExpiredError",
    "SessionMovedError",
    "SystemZooKeeperError",
    "ThrottledOpError",
    "UnimplementedError",
    "UnknownSessionError",
    "ZooKeeperError",
    "ZooKeeperInternalError",
    "error_for_code",
    "exception_class_for_code",
]


class ErrorCode(enum.IntEnum):
    """Error codes of the protocol (``KeeperException.Code``). There is no -126."""

    OK = 0
    SYSTEM_ERROR = -1
    RUNTIME_INCONSISTENCY = -2
    DATA_INCONSISTENCY = -3
    CONNECTION_LOSS = -4
    MARSHALLING_ERROR = -5
    UNIMPLEMENTED = -6
    OPERATION_TIMEOUT = -7
    BAD_ARGUMENTS = -8
    UNKNOWN_SESSION = -12
    NEW_CONFIG_NO_QUORUM = -13
    RECONFIG_IN_PROGRESS = -14
    API_ERROR = -100
    NO_NODE = -101
    NO_AUTH = -102
    BAD_VERSION = -103
    NO_CHILDREN_FOR_EPHEMERALS = -108
    NODE_EXISTS = -110
    NOT_EMPTY = -111
    SESSION_EXPIRED = -112
    INVALID_CALLBACK = -113
    INVALID_ACL = -114
    AUTH_FAILED = -115
    SESSION_MOVED = -118
    NOT_READ_ONLY = -119
    EPHEMERAL_ON_LOCAL_SESSION = -120
    NO_WATCHER = -121
    REQUEST_TIMEOUT = -122
    RECONFIG_DISABLED = -123
    SESSION_CLOSED_REQUIRE_SASL_AUTH = -124
    QUOTA_EXCEEDED = -125
    THROTTLED_OP = -127


class ZooKeeperError(Exception):
    """Base class of every error raised by trio_zookeeper."""


class ZooKeeperInternalError(ZooKeeperError):
    """A bug in trio_zookeeper: an invariant did not hold. Please report it."""


class ProtocolError(ZooKeeperError):
    """Bytes or a request that break the ZooKeeper protocol.

    Not raised directly: see :class:`LocalProtocolError` (we were asked to send
    something the protocol cannot carry) and :class:`RemoteProtocolError` (the
    server's bytes are broken or hostile).
    """


class LocalProtocolError(ProtocolError):
    """This side was asked to do something the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that break the protocol.

    The connection that carried them cannot be trusted any more; the client
    drops it and reconnects.
    """


class FrameTooLargeError(RemoteProtocolError):
    """The peer announced a frame longer than the frame limit (``max_frame_size``).

    Not necessarily hostile: a legitimate reply (``getChildren`` of a node
    with very many children, say) can outgrow the limit. The frame is refused
    before it is buffered, so the connection must still be dropped.

    Attributes:
        size: The announced frame length in bytes (after the length prefix).
        limit: The frame limit in force.
        xid: The frame's xid when it had arrived with the length (so the
            request it answers is known), else None.
    """

    def __init__(self, size: int, limit: int, xid: int | None) -> None:
        super().__init__(f"a frame of {size} bytes exceeds the frame limit of {limit} bytes")
        self.size = size
        self.limit = limit
        self.xid = xid


class ServerError(ZooKeeperError):
    """An error identified by a ZooKeeper error code.

    Each known code has its own subclass (``NoNodeError`` for -101, ...). A code
    this client does not know is raised as a plain ``ServerError`` whose
    :attr:`code` is the number.

    Attributes:
        code: The error code (an :class:`ErrorCode` member when known).
        path: The path of the operation that failed, when there was one.
        results: For a failed ``multi``: the outcome of every operation, in
            order (a result record, or the exception of that operation).
    """

    default_code: ClassVar[ErrorCode] = ErrorCode.SYSTEM_ERROR
    default_message: ClassVar[str] = "ZooKeeper error"

    code: int
    path: str | None
    results: Sequence[object] | None

    def __init__(
        self,
        message: str | None = None,
        *,
        code: int | None = None,
        path: str | None = None,
        results: Sequence[object] | None = None,
    ) -> None:
        self.code = self.default_code if code is None else code
        self.path = path
        self.results = results
        if message is None:
            message = self.default_message
            if type(self) is ServerError:
                message = f"ZooKeeper error code {self.code}"
            if path is not None:
                message = f"{message}: {path}"
        super().__init__(message)


# Each class is written out (not generated in a loop) so that it is greppable,
# documented and visible to type checkers.
class SystemZooKeeperError(ServerError):
    """The server reported a system error (SYSTEMERROR, -1)."""

    default_code = ErrorCode.SYSTEM_ERROR
    default_message = "System error"


class RolledBackError(ServerError):
    """Inside a failed multi: this operation was valid but rolled back (code 0)."""

    default_code = ErrorCode.OK
    default_message = "Rolled back: another operation of the transaction failed"


class RuntimeInconsistencyError(ServerError):
    """A runtime inconsistency (RUNTIMEINCONSISTENCY, -2).

    Inside a failed multi it marks the operations after the failing one.
    """

    default_code = ErrorCode.RUNTIME_INCONSISTENCY
    default_message = "Runtime inconsistency (not attempted: an earlier operation failed)"


class DataInconsistencyError(ServerError):
    """The server found its data inconsistent (DATAINCONSISTENCY, -3)."""

    default_code = ErrorCode.DATA_INCONSISTENCY
    default_message = "Data inconsistency"


class ConnectionLossError(ServerError):
    """The connection was lost before the reply arrived (CONNECTIONLOSS, -4).

    The outcome of the request is unknown: a write may or may not have been
    applied. ``__cause__`` holds the underlying transport error when there is one.
    """

    default_code = ErrorCode.CONNECTION_LOSS
    default_message = "Connection lost; the outcome of the request is unknown"


class MarshallingError(ServerError):
    """The server could not decode a request (MARSHALLINGERROR, -5)."""

    default_code = ErrorCode.MARSHALLING_ERROR
    default_message = "Marshalling error"


class UnimplementedError(ServerError):
    """The server does not implement this operation or mode (UNIMPLEMENTED, -6).

    TTL nodes raise it when the server lacks ``zookeeper.extendedTypesEnabled``.
    """

    default_code = ErrorCode.UNIMPLEMENTED
    default_message = "Operation not implemented by the server"


class OperationTimeoutError(ServerError):
    """The server timed out an operation (OPERATIONTIMEOUT, -7)."""

    default_code = ErrorCode.OPERATION_TIMEOUT
    default_message = "Operation timed out"


class BadArgumentsError(ServerError):
    """The server rejected the arguments (BADARGUMENTS, -8)."""

    default_code = ErrorCode.BAD_ARGUMENTS
    default_message = "Bad arguments"


class UnknownSessionError(ServerError):
    """The session is not known to the server (UNKNOWNSESSION, -12)."""

    default_code = ErrorCode.UNKNOWN_SESSION
    default_message = "Unknown session"


class NewConfigNoQuorumError(ServerError):
    """A reconfiguration found no quorum in the new config (NEWCONFIGNOQUORUM, -13)."""

    default_code = ErrorCode.NEW_CONFIG_NO_QUORUM
    default_message = "No quorum of the new configuration is connected"


class ReconfigInProgressError(ServerError):
    """Another reconfiguration is in progress (RECONFIGINPROGRESS, -14)."""

    default_code = ErrorCode.RECONFIG_IN_PROGRESS
    default_message = "A reconfiguration is in progress"


class APIError(ServerError):
    """A generic API error (APIERROR, -100)."""

    default_code = ErrorCode.API_ERROR
    default_message = "API error"


class NoNodeError(ServerError):
    """The node does not exist (NONODE, -101)."""

    default_code = ErrorCode.NO_NODE
    default_message = "No node"


class NoAuthError(ServerError):
    """Not authorized by the node's ACL (NOAUTH, -102).

    ``digest`` credentials are never rejected when added; wrong ones show up
    here, when they fail to match an ACL.
    """

    default_code = ErrorCode.NO_AUTH
    default_message = "Not authorized"


class BadVersionError(ServerError):
    """The expected version does not match the node's (BADVERSION, -103)."""

    default_code = ErrorCode.BAD_VERSION
    default_message = "Bad version"


class NoChildrenForEphemeralsError(ServerError):
    """Ephemeral nodes cannot have children (NOCHILDRENFOREPHEMERALS, -108)."""

    default_code = ErrorCode.NO_CHILDREN_FOR_EPHEMERALS
    default_message = "Ephemeral nodes may not have children"


class NodeExistsError(ServerError):
    """The node already exists (NODEEXISTS, -110)."""

    default_code = ErrorCode.NODE_EXISTS
    default_message = "Node exists"


class NotEmptyError(ServerError):
    """The node has children (NOTEMPTY, -111)."""

    default_code = ErrorCode.NOT_EMPTY
    default_message = "Node has children"


class SessionExpiredError(ServerError):
    """The session has expired (SESSIONEXPIRED, -112).

    Its ephemeral nodes are gone and its watches will not fire.
    """

    default_code = ErrorCode.SESSION_EXPIRED
    default_message = "Session expired"


class InvalidCallbackError(ServerError):
    """Invalid callback (INVALIDCALLBACK, -113)."""

    default_code = ErrorCode.INVALID_CALLBACK
    default_message = "Invalid callback"


class InvalidACLError(ServerError):
    """The ACL is invalid (INVALIDACL, -114)."""

    default_code = ErrorCode.INVALID_ACL
    default_message = "Invalid ACL"


class AuthFailedError(ServerError):
    """Authentication failed (AUTHFAILED, -115). Final for the session."""

    default_code = ErrorCode.AUTH_FAILED
    default_message = "Authentication failed"


class SessionMovedError(ServerError):
    """The session moved to another server (SESSIONMOVED, -118)."""

    default_code = ErrorCode.SESSION_MOVED
    default_message = "Session moved to another server"


class NotReadOnlyError(ServerError):
    """A write was sent to a read-only server (NOTREADONLY, -119)."""

    default_code = ErrorCode.NOT_READ_ONLY
    default_message = "Not allowed: the server is read-only"


class EphemeralOnLocalSessionError(ServerError):
    """Ephemerals need a global session (EPHEMERALONLOCALSESSION, -120)."""

    default_code = ErrorCode.EPHEMERAL_ON_LOCAL_SESSION
    default_message = "Ephemeral node on a local session"


class NoWatcherError(ServerError):
    """There is no such watch to remove or check (NOWATCHER, -121)."""

    default_code = ErrorCode.NO_WATCHER
    default_message = "No such watcher"


class RequestTimeoutError(ServerError):
    """The request timed out (REQUESTTIMEOUT, -122)."""

    default_code = ErrorCode.REQUEST_TIMEOUT
    default_message = "Request timed out"


class ReconfigDisabledError(ServerError):
    """Dynamic reconfiguration is disabled (RECONFIGDISABLED, -123)."""

    default_code = ErrorCode.RECONFIG_DISABLED
    default_message = "Reconfiguration is disabled"


class SessionClosedRequireSaslAuthError(ServerError):
    """The server requires authentication (SESSIONCLOSEDREQUIRESASLAUTH, -124).

    A server with ``enforce.auth.enabled`` answers the first request of a
    session that has none of its ``enforce.auth.schemes`` with this error and
    closes the connection. The client treats it as final (as an
    authentication failure): every later call raises it too.
    """

    default_code = ErrorCode.SESSION_CLOSED_REQUIRE_SASL_AUTH
    default_message = (
        "Session closed: the server requires authentication (enforce.auth.enabled) with a "
        "scheme this session lacks; pass sasl=, auth= or a TLS client certificate"
    )


class QuotaExceededError(ServerError):
    """A quota was exceeded (QUOTAEXCEEDED, -125)."""

    default_code = ErrorCode.QUOTA_EXCEEDED
    default_message = "Quota exceeded"


class ThrottledOpError(ServerError):
    """The server throttled the operation (THROTTLEDOP, -127)."""

    default_code = ErrorCode.THROTTLED_OP
    default_message = "Operation throttled by the server"


_BY_CODE: dict[int, type[ServerError]] = {
    ErrorCode.OK: RolledBackError,
    ErrorCode.SYSTEM_ERROR: SystemZooKeeperError,
    ErrorCode.RUNTIME_INCONSISTENCY: RuntimeInconsistencyError,
    ErrorCode.DATA_INCONSISTENCY: DataInconsistencyError,
    ErrorCode.CONNECTION_LOSS: ConnectionLossError,
    ErrorCode.MARSHALLING_ERROR: MarshallingError,
    ErrorCode.UNIMPLEMENTED: UnimplementedError,
    ErrorCode.OPERATION_TIMEOUT: OperationTimeoutError,
    ErrorCode.BAD_ARGUMENTS: BadArgumentsError,
    ErrorCode.UNKNOWN_SESSION: UnknownSessionError,
    ErrorCode.NEW_CONFIG_NO_QUORUM: NewConfigNoQuorumError,
    ErrorCode.RECONFIG_IN_PROGRESS: ReconfigInProgressError,
    ErrorCode.API_ERROR: APIError,
    ErrorCode.NO_NODE: NoNodeError,
    ErrorCode.NO_AUTH: NoAuthError,
    ErrorCode.BAD_VERSION: BadVersionError,
    ErrorCode.NO_CHILDREN_FOR_EPHEMERALS: NoChildrenForEphemeralsError,
    ErrorCode.NODE_EXISTS: NodeExistsError,
    ErrorCode.NOT_EMPTY: NotEmptyError,
    ErrorCode.SESSION_EXPIRED: SessionExpiredError,
    ErrorCode.INVALID_CALLBACK: InvalidCallbackError,
    ErrorCode.INVALID_ACL: InvalidACLError,
    ErrorCode.AUTH_FAILED: AuthFailedError,
    ErrorCode.SESSION_MOVED: SessionMovedError,
    ErrorCode.NOT_READ_ONLY: NotReadOnlyError,
    ErrorCode.EPHEMERAL_ON_LOCAL_SESSION: EphemeralOnLocalSessionError,
    ErrorCode.NO_WATCHER: NoWatcherError,
    ErrorCode.REQUEST_TIMEOUT: RequestTimeoutError,
    ErrorCode.RECONFIG_DISABLED: ReconfigDisabledError,
    ErrorCode.SESSION_CLOSED_REQUIRE_SASL_AUTH: SessionClosedRequireSaslAuthError,
    ErrorCode.QUOTA_EXCEEDED: QuotaExceededError,
    ErrorCode.THROTTLED_OP: ThrottledOpError,
}


_KNOWN_CODES = frozenset(int(c) for c in ErrorCode)


def exception_class_for_code(code: int) -> type[ServerError]:
    """The exception class for an error code (``ServerError`` when unknown)."""
    return _BY_CODE.get(code, ServerError)


def error_for_code(
    code: int, *, path: str | None = None, results: Sequence[object] | None = None
) -> ServerError:
    """Build the exception for a server error code.

    Args:
        code: The error code from a reply header or a multi sub-result.
        path: The path of the failed operation, for the message.
        results: For a failed multi, every operation's outcome.

    Returns:
        An instance of the code's class, or a plain :class:`ServerError`
        carrying the code when this client does not know it.
    """
    cls = _BY_CODE.get(code)
    if cls is None:
        if code in _KNOWN_CODES:
            code = ErrorCode(code)
        return ServerError(code=code, path=path, results=results)
    return cls(path=path, results=results)
