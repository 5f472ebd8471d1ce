"""The explicit table: opcode -> (request record, response record).

Replies carry only ``(xid, zxid, err)``, never the opcode, so the client
decodes each reply with the response type of the request at the head of its
pending queue; this table is where that type comes from.
"""

from __future__ import annotations

from ._enums import OpCode
from ._multi import MultiRequest, MultiResponse
from ._records import (
    AddWatchRequest,
    AuthPacket,
    CheckVersionRequest,
    CheckWatchesRequest,
    ConnectRequest,
    Create2Response,
    CreateRequest,
    CreateResponse,
    CreateTTLRequest,
    DeleteRequest,
    Empty,
    ErrorResponse,
    ExistsRequest,
    ExistsResponse,
    GetACLRequest,
    GetACLResponse,
    GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse,
    GetChildren2Request,
    GetChildren2Response,
    GetChildrenRequest,
    GetChildrenResponse,
    GetDataRequest,
    GetDataResponse,
    GetEphemeralsRequest,
    GetEphemeralsResponse,
    GetSASLRequest,
    ReconfigRequest,
    RemoveWatchesRequest,
    SetACLRequest,
    SetACLResponse,
    SetDataRequest,
    SetDataResponse,
    SetSASLResponse,
    SetWatches,
    SetWatches2,
    SyncRequest,
    SyncResponse,
    WhoAmIResponse,
)

__all__ = ["OPS", "WRITE_OPS"]

#: opcode -> (request record, response record or None when the reply has no body)
OPS: dict[int, tuple[type, type | None]] = {
    OpCode.CREATE: (CreateRequest, CreateResponse),
    OpCode.DELETE: (DeleteRequest, None),
    OpCode.EXISTS: (ExistsRequest, ExistsResponse),
    OpCode.GET_DATA: (GetDataRequest, GetDataResponse),
    OpCode.SET_DATA: (SetDataRequest, SetDataResponse),
    OpCode.GET_ACL: (GetACLRequest, GetACLResponse),
    OpCode.SET_ACL: (SetACLRequest, SetACLResponse),
    OpCode.GET_CHILDREN: (GetChildrenRequest, GetChildrenResponse),
    OpCode.SYNC: (SyncRequest, SyncResponse),
    OpCode.PING: (Empty, None),
    OpCode.GET_CHILDREN2: (GetChildren2Request, GetChildren2Response),
    OpCode.CHECK: (CheckVersionRequest, None),
    OpCode.MULTI: (MultiRequest, MultiResponse),
    OpCode.CREATE2: (CreateRequest, Create2Response),
    OpCode.RECONFIG: (ReconfigRequest, GetDataResponse),
    OpCode.CHECK_WATCHES: (CheckWatchesRequest, None),
    OpCode.REMOVE_WATCHES: (RemoveWatchesRequest, None),
    OpCode.CREATE_CONTAINER: (CreateRequest, Create2Response),
    OpCode.CREATE_TTL: (CreateTTLRequest, Create2Response),
    OpCode.MULTI_READ: (MultiRequest, MultiResponse),
    OpCode.AUTH: (AuthPacket, None),
    OpCode.SET_WATCHES: (SetWatches, None),
    OpCode.SASL: (GetSASLRequest, SetSASLResponse),
    OpCode.GET_EPHEMERALS: (GetEphemeralsRequest, GetEphemeralsResponse),
    OpCode.GET_ALL_CHILDREN_NUMBER: (GetAllChildrenNumberRequest, GetAllChildrenNumberResponse),
    OpCode.SET_WATCHES2: (SetWatches2, None),
    # The server answers addWatch with an ErrorResponse(0) body.
    OpCode.ADD_WATCH: (AddWatchRequest, ErrorResponse),
    OpCode.WHO_AM_I: (Empty, WhoAmIResponse),
    OpCode.CLOSE_SESSION: (Empty, None),
    OpCode.CREATE_SESSION: (ConnectRequest, None),
}

#: Operations that change the tree (refused by a read-only server).
WRITE_OPS: frozenset[int] = frozenset(
    {
        OpCode.CREATE,
        OpCode.CREATE2,
        OpCode.CREATE_CONTAINER,
        OpCode.CREATE_TTL,
        OpCode.DELETE,
        OpCode.SET_DATA,
        OpCode.SET_ACL,
        OpCode.MULTI,
        OpCode.RECONFIG,
    }
)
