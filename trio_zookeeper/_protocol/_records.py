"""The records of ``zookeeper.jute`` that a client sends or receives.

Each class mirrors the jute class of the same name (the docstring names it);
field order is wire order; attribute names are the jute names in snake_case
(``ephemeralOwner`` -> ``ephemeral_owner``). Vectors are tuples, so every
record is immutable and hashable.

The records are :class:`TupleRecord` classes: built in one call (the common
replies are decoded from the very tuple ``struct`` returns), and about a
quarter of the memory of an attrs class to define, which ``import`` pays for
every record here. ``ACL`` and ``Id`` stay frozen attrs classes: a user builds
them and passes them in, and as tuples they would pass for the sequences
beside them (a single ``ACL`` where a sequence of ACL entries is expected,
an ``Id`` where ``sasl=`` takes a ``(username, password)`` tuple) instead of
being refused. Both kinds are keyword-only, immutable, compare equal only to
the same class, and work with ``attrs.evolve``/``asdict``.

``None`` and empty are different on the wire (length -1 versus 0) and stay
different here: only fields Java allows to be null are typed ``... | None``.
"""

from __future__ import annotations

from typing import Annotated

import attrs

from ._jute import (
    BOOL,
    BUFFER,
    INT,
    LONG,
    OPT_BUFFER,
    OPT_USTRING,
    USTRING,
    Vector,
    compile_record,
)
from ._tuplerecord import TupleRecord

Int = Annotated[int, INT]
Long = Annotated[int, LONG]
Bool = Annotated[bool, BOOL]
Buffer = Annotated[bytes, BUFFER]
OptBuffer = Annotated[bytes | None, OPT_BUFFER]
UString = Annotated[str, USTRING]
OptUString = Annotated[str | None, OPT_USTRING]
Strings = Annotated[tuple[str, ...], Vector(USTRING)]


# --------------------------------------------------------------- data records
@compile_record
@attrs.frozen(kw_only=True)
class Id:
    """An identity in a scheme, e.g. ``Id(scheme="world", id="anyone")`` (jute ``data.Id``).

    Attributes:
        scheme: The authentication scheme (``world``, ``auth``, ``digest``,
            ``ip``, ``sasl``, ...).
        id: The identity within the scheme (for ``digest``,
            ``user:base64(sha1(user:password))``).
    """

    scheme: UString
    id: UString


@compile_record
@attrs.frozen(kw_only=True)
class ACL:
    """An access-control entry: permission bits for an identity (jute ``data.ACL``).

    Attributes:
        perms: A combination of :class:`Perm` bits.
        id: Who the permissions are granted to.
    """

    perms: Int
    id: Annotated[Id, Id]


ACLs = Annotated[tuple[ACL, ...], Vector(ACL)]
OptACLs = Annotated[tuple[ACL, ...] | None, Vector(ACL, nullable=True)]


@compile_record
class Stat(TupleRecord):
    """The metadata of a node (jute ``data.Stat``, 68 bytes on the wire).

    Attributes:
        czxid: The zxid of the change that created the node.
        mzxid: The zxid of the change that last modified the node's data.
        ctime: Creation time, milliseconds since the epoch.
        mtime: Last modification time, milliseconds since the epoch.
        version: The number of changes to the data.
        cversion: The number of changes to the children.
        aversion: The number of changes to the ACL.
        ephemeral_owner: The owning session id for an ephemeral node, else 0.
        data_length: The length of the data.
        num_children: The number of children.
        pzxid: The zxid of the last change to the children.
    """

    __slots__ = ()

    czxid: Long
    mzxid: Long
    ctime: Long
    mtime: Long
    version: Int
    cversion: Int
    aversion: Int
    ephemeral_owner: Long
    data_length: Int
    num_children: Int
    pzxid: Long


# -------------------------------------------------------- session & headers
@compile_record
class ConnectRequest(TupleRecord):
    """The first frame a client sends, with no request header (jute ``ConnectRequest``)."""

    __slots__ = ()

    protocol_version: Int = 0
    last_zxid_seen: Long = 0
    time_out: Int
    session_id: Long = 0
    passwd: OptBuffer = b"\x00" * 16
    read_only: Bool = False


@compile_record
class ConnectResponse(TupleRecord):
    """The server's answer to a ConnectRequest (jute ``ConnectResponse``).

    ``time_out <= 0`` means the session has expired. Very old servers omit the
    final ``read_only`` byte; the decoder then reports ``False``.
    """

    __slots__ = ()

    protocol_version: Int
    time_out: Int
    session_id: Long
    passwd: OptBuffer
    read_only: Bool = False


@compile_record
class ConnectResponseCore(TupleRecord):
    """A ConnectResponse without its optional trailing readOnly byte.

    Decoded first, so that a server that omits the byte (very old ones do) is
    accepted; the protocol then reads the byte if it is there.
    """

    __slots__ = ()

    protocol_version: Int
    time_out: Int
    session_id: Long
    passwd: OptBuffer


@compile_record
class RequestHeader(TupleRecord):
    """Precedes every request but the first (jute ``RequestHeader``)."""

    __slots__ = ()

    xid: Int
    type: Int


@compile_record
class ReplyHeader(TupleRecord):
    """Precedes every reply but the connect response (jute ``ReplyHeader``)."""

    __slots__ = ()

    xid: Int
    zxid: Long
    err: Int


@compile_record
class WatcherEvent(TupleRecord):
    """A watch notification as it is on the wire (jute ``WatcherEvent``)."""

    __slots__ = ()

    type: Int
    state: Int
    path: OptUString


@compile_record
class MultiHeader(TupleRecord):
    """Precedes each operation and result of a multi (jute ``MultiHeader``)."""

    __slots__ = ()

    type: Int
    done: Bool
    err: Int


@compile_record
class AuthPacket(TupleRecord):
    """Credentials for a scheme, sent with xid -4 (jute ``AuthPacket``)."""

    __slots__ = ()

    type: Int = 0
    scheme: UString
    auth: OptBuffer


# ------------------------------------------------------------------- create
@compile_record
class CreateRequest(TupleRecord):
    """create / create2 / createContainer (jute ``CreateRequest``)."""

    __slots__ = ()

    path: UString
    data: OptBuffer
    acl: OptACLs
    flags: Int


@compile_record
class CreateTTLRequest(TupleRecord):
    """createTTL (jute ``CreateTTLRequest``); ``ttl`` in milliseconds."""

    __slots__ = ()

    path: UString
    data: OptBuffer
    acl: OptACLs
    flags: Int
    ttl: Long


@compile_record
class CreateResponse(TupleRecord):
    """The created path, with the sequence suffix if any (jute ``CreateResponse``)."""

    __slots__ = ()

    path: UString


@compile_record
class Create2Response(TupleRecord):
    """The created path and its Stat (jute ``Create2Response``)."""

    __slots__ = ()

    path: UString
    stat: Annotated[Stat, Stat]


# ---------------------------------------------------------- simple requests
@compile_record
class DeleteRequest(TupleRecord):
    """delete (jute ``DeleteRequest``); version -1 matches any version."""

    __slots__ = ()

    path: UString
    version: Int


@compile_record
class ExistsRequest(TupleRecord):
    """exists (jute ``ExistsRequest``)."""

    __slots__ = ()

    path: UString
    watch: Bool


@compile_record
class ExistsResponse(TupleRecord):
    """exists (jute ``ExistsResponse``)."""

    __slots__ = ()

    stat: Annotated[Stat, Stat]


@compile_record
class GetDataRequest(TupleRecord):
    """getData (jute ``GetDataRequest``)."""

    __slots__ = ()

    path: UString
    watch: Bool


@compile_record
class GetDataResponse(TupleRecord):
    """getData (jute ``GetDataResponse``); ``data`` is None for a node created with null data."""

    __slots__ = ()

    data: OptBuffer
    stat: Annotated[Stat, Stat]


@compile_record
class SetDataRequest(TupleRecord):
    """setData (jute ``SetDataRequest``)."""

    __slots__ = ()

    path: UString
    data: OptBuffer
    version: Int


@compile_record
class SetDataResponse(TupleRecord):
    """setData (jute ``SetDataResponse``)."""

    __slots__ = ()

    stat: Annotated[Stat, Stat]


@compile_record
class GetACLRequest(TupleRecord):
    """getACL (jute ``GetACLRequest``)."""

    __slots__ = ()

    path: UString


@compile_record
class GetACLResponse(TupleRecord):
    """getACL (jute ``GetACLResponse``)."""

    __slots__ = ()

    acl: OptACLs
    stat: Annotated[Stat, Stat]


@compile_record
class SetACLRequest(TupleRecord):
    """setACL (jute ``SetACLRequest``)."""

    __slots__ = ()

    path: UString
    acl: OptACLs
    version: Int


@compile_record
class SetACLResponse(TupleRecord):
    """setACL (jute ``SetACLResponse``)."""

    __slots__ = ()

    stat: Annotated[Stat, Stat]


@compile_record
class GetChildrenRequest(TupleRecord):
    """getChildren (jute ``GetChildrenRequest``)."""

    __slots__ = ()

    path: UString
    watch: Bool


@compile_record
class GetChildrenResponse(TupleRecord):
    """getChildren (jute ``GetChildrenResponse``)."""

    __slots__ = ()

    children: Annotated[tuple[str, ...] | None, Vector(USTRING, nullable=True)]


@compile_record
class GetChildren2Request(TupleRecord):
    """getChildren2 (jute ``GetChildren2Request``)."""

    __slots__ = ()

    path: UString
    watch: Bool


@compile_record
class GetChildren2Response(TupleRecord):
    """getChildren2 (jute ``GetChildren2Response``)."""

    __slots__ = ()

    children: Annotated[tuple[str, ...] | None, Vector(USTRING, nullable=True)]
    stat: Annotated[Stat, Stat]


@compile_record
class SyncRequest(TupleRecord):
    """sync (jute ``SyncRequest``)."""

    __slots__ = ()

    path: UString


@compile_record
class SyncResponse(TupleRecord):
    """sync (jute ``SyncResponse``)."""

    __slots__ = ()

    path: UString


@compile_record
class CheckVersionRequest(TupleRecord):
    """check, inside a multi only (jute ``CheckVersionRequest``)."""

    __slots__ = ()

    path: UString
    version: Int


@compile_record
class ReconfigRequest(TupleRecord):
    """reconfig (jute ``ReconfigRequest``); the reply is a GetDataResponse of the config."""

    __slots__ = ()

    joining_servers: OptUString
    leaving_servers: OptUString
    new_members: OptUString
    cur_config_id: Long


@compile_record
class CheckWatchesRequest(TupleRecord):
    """checkWatches (jute ``CheckWatchesRequest``); ``type`` is a WatcherType."""

    __slots__ = ()

    path: UString
    type: Int


@compile_record
class RemoveWatchesRequest(TupleRecord):
    """removeWatches (jute ``RemoveWatchesRequest``); ``type`` is a WatcherType."""

    __slots__ = ()

    path: UString
    type: Int


@compile_record
class AddWatchRequest(TupleRecord):
    """addWatch (jute ``AddWatchRequest``); ``mode`` is an AddWatchMode."""

    __slots__ = ()

    path: UString
    mode: Int


@compile_record
class ErrorResponse(TupleRecord):
    """An error code as a record (jute ``ErrorResponse``): multi errors, addWatch's reply."""

    __slots__ = ()

    err: Int


@compile_record
class SetWatches(TupleRecord):
    """Re-register one-shot watches after a reconnect (jute ``SetWatches``, xid -8)."""

    __slots__ = ()

    relative_zxid: Long
    data_watches: Strings
    exist_watches: Strings
    child_watches: Strings


@compile_record
class SetWatches2(TupleRecord):
    """Re-register all watches incl. persistent ones (jute ``SetWatches2``, xid -8)."""

    __slots__ = ()

    relative_zxid: Long
    data_watches: Strings
    exist_watches: Strings
    child_watches: Strings
    persistent_watches: Strings
    persistent_recursive_watches: Strings


@compile_record
class GetEphemeralsRequest(TupleRecord):
    """getEphemerals (jute ``GetEphemeralsRequest``)."""

    __slots__ = ()

    prefix_path: UString


@compile_record
class GetEphemeralsResponse(TupleRecord):
    """getEphemerals (jute ``GetEphemeralsResponse``)."""

    __slots__ = ()

    ephemerals: Annotated[tuple[str, ...] | None, Vector(USTRING, nullable=True)]


@compile_record
class GetAllChildrenNumberRequest(TupleRecord):
    """getAllChildrenNumber (jute ``GetAllChildrenNumberRequest``)."""

    __slots__ = ()

    path: UString


@compile_record
class GetAllChildrenNumberResponse(TupleRecord):
    """getAllChildrenNumber (jute ``GetAllChildrenNumberResponse``)."""

    __slots__ = ()

    total_number: Int


@compile_record
class ClientInfo(TupleRecord):
    """One authenticated identity of the session (jute ``ClientInfo``).

    Attributes:
        auth_scheme: The scheme the identity was authenticated with.
        user: The identity (e.g. the digest user name, or the client's IP
            address for the ``ip`` scheme).
    """

    __slots__ = ()

    auth_scheme: OptUString
    user: OptUString


@compile_record
class WhoAmIResponse(TupleRecord):
    """whoAmI (jute ``WhoAmIResponse``)."""

    __slots__ = ()

    client_info: Annotated[tuple[ClientInfo, ...] | None, Vector(ClientInfo, nullable=True)]


@compile_record
class GetSASLRequest(TupleRecord):
    """A SASL token from the client (jute ``GetSASLRequest``)."""

    __slots__ = ()

    token: OptBuffer


@compile_record
class SetSASLResponse(TupleRecord):
    """A SASL token from the server (jute ``SetSASLResponse``)."""

    __slots__ = ()

    token: OptBuffer


@compile_record
class Empty(TupleRecord):
    """The empty body of ping, closeSession and whoAmI requests."""

    __slots__ = ()


__all__ = [
    "ACL",
    "AddWatchRequest",
    "AuthPacket",
    "CheckVersionRequest",
    "CheckWatchesRequest",
    "ClientInfo",
    "ConnectRequest",
    "ConnectResponse",
    "ConnectResponseCore",
    "Create2Response",
    "CreateRequest",
    "CreateResponse",
    "CreateTTLRequest",
    "DeleteRequest",
    "Empty",
    "ErrorResponse",
    "ExistsRequest",
    "ExistsResponse",
    "GetACLRequest",
    "GetACLResponse",
    "GetAllChildrenNumberRequest",
    "GetAllChildrenNumberResponse",
    "GetChildren2Request",
    "GetChildren2Response",
    "GetChildrenRequest",
    "GetChildrenResponse",
    "GetDataRequest",
    "GetDataResponse",
    "GetEphemeralsRequest",
    "GetEphemeralsResponse",
    "GetSASLRequest",
    "Id",
    "MultiHeader",
    "ReconfigRequest",
    "RemoveWatchesRequest",
    "ReplyHeader",
    "RequestHeader",
    "SetACLRequest",
    "SetACLResponse",
    "SetDataRequest",
    "SetDataResponse",
    "SetSASLResponse",
    "SetWatches",
    "SetWatches2",
    "Stat",
    "SyncRequest",
    "SyncResponse",
    "WatcherEvent",
    "WhoAmIResponse",
]
