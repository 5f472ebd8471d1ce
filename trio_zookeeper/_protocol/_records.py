"""The records of ``zookeeper.jute`` that a client sends or receives.

Each class mirrors the jute class of the same name (the docstring names it);
field order is wire order; attribute names are the jute names in snake_case
(``ephemeralOwner`` -> ``ephemeral_owner``). Vectors are tuples, so every
record is immutable and hashable.

The records built for every request and reply of the common reads and
writes (``Stat``, ``GetDataRequest``/``Response``, ``ExistsRequest``/``Response``,
``SetDataRequest``/``Response``, ``WatcherEvent``) are :class:`TupleRecord`
classes, built in one call; the others are frozen attrs classes. Both are
keyword-only, immutable, compare equal only to the same class, and work with
``attrs.evolve``/``asdict``.

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
@attrs.frozen(kw_only=True)
class ConnectRequest:
    """The first frame a client sends, with no request header (jute ``ConnectRequest``)."""

    protocol_version: Int = 0
    last_zxid_seen: Long = 0
    time_out: Int
    session_id: Long = 0
    passwd: OptBuffer = b"\x00" * 16
    read_only: Bool = False


@compile_record
@attrs.frozen(kw_only=True)
class ConnectResponse:
    """The server's answer to a ConnectRequest (jute ``ConnectResponse``).

    ``time_out <= 0`` means the session has expired. Very old servers omit the
    final ``read_only`` byte; the decoder then reports ``False``.
    """

    protocol_version: Int
    time_out: Int
    session_id: Long
    passwd: OptBuffer
    read_only: Bool = False


@compile_record
@attrs.frozen(kw_only=True)
class ConnectResponseCore:
    """A ConnectResponse without its optional trailing readOnly byte.

    Decoded first, so that a server that omits the byte (very old ones do) is
    accepted; the protocol then reads the byte if it is there.
    """

    protocol_version: Int
    time_out: Int
    session_id: Long
    passwd: OptBuffer


@compile_record
@attrs.frozen(kw_only=True)
class RequestHeader:
    """Precedes every request but the first (jute ``RequestHeader``)."""

    xid: Int
    type: Int


@compile_record
@attrs.frozen(kw_only=True)
class ReplyHeader:
    """Precedes every reply but the connect response (jute ``ReplyHeader``)."""

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
@attrs.frozen(kw_only=True)
class MultiHeader:
    """Precedes each operation and result of a multi (jute ``MultiHeader``)."""

    type: Int
    done: Bool
    err: Int


@compile_record
@attrs.frozen(kw_only=True)
class AuthPacket:
    """Credentials for a scheme, sent with xid -4 (jute ``AuthPacket``)."""

    type: Int = 0
    scheme: UString
    auth: OptBuffer


# ------------------------------------------------------------------- create
@compile_record
@attrs.frozen(kw_only=True)
class CreateRequest:
    """create / create2 / createContainer (jute ``CreateRequest``)."""

    path: UString
    data: OptBuffer
    acl: OptACLs
    flags: Int


@compile_record
@attrs.frozen(kw_only=True)
class CreateTTLRequest:
    """createTTL (jute ``CreateTTLRequest``); ``ttl`` in milliseconds."""

    path: UString
    data: OptBuffer
    acl: OptACLs
    flags: Int
    ttl: Long


@compile_record
@attrs.frozen(kw_only=True)
class CreateResponse:
    """The created path, with the sequence suffix if any (jute ``CreateResponse``)."""

    path: UString


@compile_record
@attrs.frozen(kw_only=True)
class Create2Response:
    """The created path and its Stat (jute ``Create2Response``)."""

    path: UString
    stat: Annotated[Stat, Stat]


# ---------------------------------------------------------- simple requests
@compile_record
@attrs.frozen(kw_only=True)
class DeleteRequest:
    """delete (jute ``DeleteRequest``); version -1 matches any version."""

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
@attrs.frozen(kw_only=True)
class GetACLRequest:
    """getACL (jute ``GetACLRequest``)."""

    path: UString


@compile_record
@attrs.frozen(kw_only=True)
class GetACLResponse:
    """getACL (jute ``GetACLResponse``)."""

    acl: OptACLs
    stat: Annotated[Stat, Stat]


@compile_record
@attrs.frozen(kw_only=True)
class SetACLRequest:
    """setACL (jute ``SetACLRequest``)."""

    path: UString
    acl: OptACLs
    version: Int


@compile_record
@attrs.frozen(kw_only=True)
class SetACLResponse:
    """setACL (jute ``SetACLResponse``)."""

    stat: Annotated[Stat, Stat]


@compile_record
@attrs.frozen(kw_only=True)
class GetChildrenRequest:
    """getChildren (jute ``GetChildrenRequest``)."""

    path: UString
    watch: Bool


@compile_record
@attrs.frozen(kw_only=True)
class GetChildrenResponse:
    """getChildren (jute ``GetChildrenResponse``)."""

    children: Annotated[tuple[str, ...] | None, Vector(USTRING, nullable=True)]


@compile_record
@attrs.frozen(kw_only=True)
class GetChildren2Request:
    """getChildren2 (jute ``GetChildren2Request``)."""

    path: UString
    watch: Bool


@compile_record
@attrs.frozen(kw_only=True)
class GetChildren2Response:
    """getChildren2 (jute ``GetChildren2Response``)."""

    children: Annotated[tuple[str, ...] | None, Vector(USTRING, nullable=True)]
    stat: Annotated[Stat, Stat]


@compile_record
@attrs.frozen(kw_only=True)
class SyncRequest:
    """sync (jute ``SyncRequest``)."""

    path: UString


@compile_record
@attrs.frozen(kw_only=True)
class SyncResponse:
    """sync (jute ``SyncResponse``)."""

    path: UString


@compile_record
@attrs.frozen(kw_only=True)
class CheckVersionRequest:
    """check, inside a multi only (jute ``CheckVersionRequest``)."""

    path: UString
    version: Int


@compile_record
@attrs.frozen(kw_only=True)
class ReconfigRequest:
    """reconfig (jute ``ReconfigRequest``); the reply is a GetDataResponse of the config."""

    joining_servers: OptUString
    leaving_servers: OptUString
    new_members: OptUString
    cur_config_id: Long


@compile_record
@attrs.frozen(kw_only=True)
class CheckWatchesRequest:
    """checkWatches (jute ``CheckWatchesRequest``); ``type`` is a WatcherType."""

    path: UString
    type: Int


@compile_record
@attrs.frozen(kw_only=True)
class RemoveWatchesRequest:
    """removeWatches (jute ``RemoveWatchesRequest``); ``type`` is a WatcherType."""

    path: UString
    type: Int


@compile_record
@attrs.frozen(kw_only=True)
class AddWatchRequest:
    """addWatch (jute ``AddWatchRequest``); ``mode`` is an AddWatchMode."""

    path: UString
    mode: Int


@compile_record
@attrs.frozen(kw_only=True)
class ErrorResponse:
    """An error code as a record (jute ``ErrorResponse``): multi errors, addWatch's reply."""

    err: Int


@compile_record
@attrs.frozen(kw_only=True)
class SetWatches:
    """Re-register one-shot watches after a reconnect (jute ``SetWatches``, xid -8)."""

    relative_zxid: Long
    data_watches: Strings
    exist_watches: Strings
    child_watches: Strings


@compile_record
@attrs.frozen(kw_only=True)
class SetWatches2:
    """Re-register all watches incl. persistent ones (jute ``SetWatches2``, xid -8)."""

    relative_zxid: Long
    data_watches: Strings
    exist_watches: Strings
    child_watches: Strings
    persistent_watches: Strings
    persistent_recursive_watches: Strings


@compile_record
@attrs.frozen(kw_only=True)
class GetEphemeralsRequest:
    """getEphemerals (jute ``GetEphemeralsRequest``)."""

    prefix_path: UString


@compile_record
@attrs.frozen(kw_only=True)
class GetEphemeralsResponse:
    """getEphemerals (jute ``GetEphemeralsResponse``)."""

    ephemerals: Annotated[tuple[str, ...] | None, Vector(USTRING, nullable=True)]


@compile_record
@attrs.frozen(kw_only=True)
class GetAllChildrenNumberRequest:
    """getAllChildrenNumber (jute ``GetAllChildrenNumberRequest``)."""

    path: UString


@compile_record
@attrs.frozen(kw_only=True)
class GetAllChildrenNumberResponse:
    """getAllChildrenNumber (jute ``GetAllChildrenNumberResponse``)."""

    total_number: Int


@compile_record
@attrs.frozen(kw_only=True)
class ClientInfo:
    """One authenticated identity of the session (jute ``ClientInfo``).

    Attributes:
        auth_scheme: The scheme the identity was authenticated with.
        user: The identity (e.g. the digest user name, or the client's IP
            address for the ``ip`` scheme).
    """

    auth_scheme: OptUString
    user: OptUString


@compile_record
@attrs.frozen(kw_only=True)
class WhoAmIResponse:
    """whoAmI (jute ``WhoAmIResponse``)."""

    client_info: Annotated[tuple[ClientInfo, ...] | None, Vector(ClientInfo, nullable=True)]


@compile_record
@attrs.frozen(kw_only=True)
class GetSASLRequest:
    """A SASL token from the client (jute ``GetSASLRequest``)."""

    token: OptBuffer


@compile_record
@attrs.frozen(kw_only=True)
class SetSASLResponse:
    """A SASL token from the server (jute ``SetSASLResponse``)."""

    token: OptBuffer


@compile_record
@attrs.frozen(kw_only=True)
class Empty:
    """The empty body of ping, closeSession and whoAmI requests."""


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
