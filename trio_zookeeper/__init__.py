"""trio_zookeeper: a structured-concurrency ZooKeeper client for trio.

Use it as::

    async with trio_zookeeper.open_zookeeper("127.0.0.1:2181") as zk:
        await zk.create("/example", b"Hello world")

Everything public is re-exported here; the modules behind it are private.
What a plain client does not need is imported on first use (SASL and the
Kerberos bindings, ``Retry``, the tracer, the tree walk), so
``import trio_zookeeper`` stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._acl import (
    ANYONE_ID_UNSAFE,
    AUTH_IDS,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
)
from ._client import (
    MAX_TTL_MS,
    ACLProvider,
    MultiRead,
    Transaction,
    WatchingClient,
    WithWatcherClient,
    ZooKeeper,
    open_zookeeper,
)
from ._hostprovider import Backoff, DynamicConfig, HostListUpdate, parse_dynamic_config
from ._hosts import ConnectString, HostPort, parse_connect_string
from ._protocol import (
    ACL,
    AddWatchMode,
    ClientInfo,
    CreateMode,
    EventType,
    Id,
    KeeperState,
    Perm,
    Stat,
    WatchedEvent,
    WatcherType,
    lazy_exports,
    validate_path,
)
from ._protocol._errors import (
    APIError,
    AuthFailedError,
    BadArgumentsError,
    BadVersionError,
    ConnectionLossError,
    DataInconsistencyError,
    EphemeralOnLocalSessionError,
    ErrorCode,
    InvalidACLError,
    InvalidCallbackError,
    LocalProtocolError,
    MarshallingError,
    NewConfigNoQuorumError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    NotReadOnlyError,
    NoWatcherError,
    OperationTimeoutError,
    ProtocolError,
    QuotaExceededError,
    ReconfigDisabledError,
    ReconfigInProgressError,
    RemoteProtocolError,
    RequestTimeoutError,
    RolledBackError,
    RuntimeInconsistencyError,
    ServerError,
    SessionClosedRequireSaslAuthError,
    SessionExpiredError,
    SessionMovedError,
    SystemZooKeeperError,
    ThrottledOpError,
    UnimplementedError,
    UnknownSessionError,
    ZooKeeperError,
    ZooKeeperInternalError,
)
from ._session import ConnectFailedError, SessionStatistics
from ._version import __version__
from ._watchers import WatchEvents, WatchOverflowError

__all__ = [
    "ACL",
    "ANYONE_ID_UNSAFE",
    "AUTH_IDS",
    "CREATOR_ALL_ACL",
    "MAX_TTL_MS",
    "OPEN_ACL_UNSAFE",
    "READ_ACL_UNSAFE",
    "ACLProvider",
    "APIError",
    "AddWatchMode",
    "AuthFailedError",
    "Backoff",
    "BadArgumentsError",
    "BadVersionError",
    "ClientInfo",
    "ConnectFailedError",
    "ConnectString",
    "ConnectionLossError",
    "CreateMode",
    "DataInconsistencyError",
    "DynamicConfig",
    "EphemeralOnLocalSessionError",
    "ErrorCode",
    "EventType",
    "HostListUpdate",
    "HostPort",
    "Id",
    "InvalidACLError",
    "InvalidCallbackError",
    "KeeperState",
    "LocalProtocolError",
    "MarshallingError",
    "MultiRead",
    "NewConfigNoQuorumError",
    "NoAuthError",
    "NoChildrenForEphemeralsError",
    "NoNodeError",
    "NoWatcherError",
    "NodeExistsError",
    "NotEmptyError",
    "NotReadOnlyError",
    "OperationTimeoutError",
    "Pending",
    "Perm",
    "Pipeline",
    "ProtocolError",
    "QuotaExceededError",
    "ReconfigDisabledError",
    "ReconfigInProgressError",
    "RemoteProtocolError",
    "RequestTimeoutError",
    "RequestTrace",
    "Retry",
    "RetryFailedError",
    "RolledBackError",
    "RuntimeInconsistencyError",
    "SaslDigestMD5",
    "SaslExchange",
    "SaslGSSAPI",
    "SaslMechanism",
    "ServerError",
    "SessionClosedRequireSaslAuthError",
    "SessionExpiredError",
    "SessionMovedError",
    "SessionStatistics",
    "Stat",
    "SystemZooKeeperError",
    "ThrottledOpError",
    "Tracer",
    "Transaction",
    "TreeNode",
    "UnimplementedError",
    "UnknownSessionError",
    "WatchEvents",
    "WatchOverflowError",
    "WatchedEvent",
    "WatcherType",
    "WatchingClient",
    "WithWatcherClient",
    "ZooKeeper",
    "ZooKeeperError",
    "ZooKeeperInternalError",
    "__version__",
    "make_acl",
    "make_digest_acl",
    "make_digest_acl_credential",
    "open_zookeeper",
    "parse_connect_string",
    "parse_dynamic_config",
    "validate_path",
]

if TYPE_CHECKING:
    from ._kerberos import SaslGSSAPI
    from ._pipeline import Pending, Pipeline
    from ._protocol._sasl import SaslDigestMD5, SaslExchange, SaslMechanism
    from ._retry import Retry, RetryFailedError
    from ._trace import RequestTrace, Tracer
    from ._tree import TreeNode

#: Public names whose module is imported on first use: name -> module.
_LAZY = {
    "SaslGSSAPI": "._kerberos",
    "Pending": "._pipeline",
    "Pipeline": "._pipeline",
    "SaslDigestMD5": "._protocol._sasl",
    "SaslExchange": "._protocol._sasl",
    "SaslMechanism": "._protocol._sasl",
    "Retry": "._retry",
    "RetryFailedError": "._retry",
    "RequestTrace": "._trace",
    "Tracer": "._trace",
    "TreeNode": "._tree",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
