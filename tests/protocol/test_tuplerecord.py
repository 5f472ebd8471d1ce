"""The tuple-stored records behave as the frozen attrs records they replaced.

Every jute record but ``ACL`` and ``Id``, the protocol's events (``Reply``,
``Notification``, ``WatchedEvent``, ``Connected``, ...) and the multi records
are :class:`TupleRecord` classes (one ``tuple.__new__`` to build, a fraction
of an attrs class's memory to define); these tests pin down every behaviour
the attrs classes had: construction (by keyword where it was), equality only
within the class, hashing, no ordering, immutability, repr, truth,
``attrs.fields``/``evolve``/``asdict``, copy and pickle.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import attrs
import pytest

from trio_zookeeper import ACL, EventType, Id, KeeperState, Stat, WatchedEvent
from trio_zookeeper._protocol import (
    AuthReply,
    Connected,
    ConnectionClosed,
    ConnectResponse,
    Empty,
    ExistsResponse,
    GetDataRequest,
    GetDataResponse,
    MultiOp,
    MultiRequest,
    MultiResponse,
    MultiResult,
    Notification,
    PingReply,
    Reply,
    SetDataResponse,
)
from trio_zookeeper._protocol._sasl import sasl_mechanism
from trio_zookeeper._protocol._tuplerecord import TupleRecord

from .strategies import RECORD_CLASSES, sample_record

#: The records a user builds and passes in stay attrs classes (see _records).
ATTRS_RECORDS = (ACL, Id)
TUPLE_RECORDS = tuple(cls for cls in RECORD_CLASSES if cls not in ATTRS_RECORDS)


def _stat(**changes: int) -> Stat:
    values = {
        "czxid": 1,
        "mzxid": 2,
        "ctime": 3,
        "mtime": 4,
        "version": 5,
        "cversion": 6,
        "aversion": 7,
        "ephemeral_owner": 8,
        "data_length": 9,
        "num_children": 10,
        "pzxid": 11,
    }
    values.update(changes)
    return Stat(**values)


@pytest.mark.parametrize("cls", TUPLE_RECORDS, ids=lambda c: c.__name__)
def test_the_records_are_tuple_records_with_their_attrs_fields(cls: type) -> None:
    assert issubclass(cls, TupleRecord)
    assert attrs.has(cls)
    names = [f.name for f in attrs.fields(cls)]
    assert names == list(cls.__record_fields__)  # type: ignore[attr-defined]
    assert all(f.kw_only for f in attrs.fields(cls))
    rec = sample_record(cls)
    assert not hasattr(rec, "__dict__")
    assert [getattr(rec, n) for n in names] == list(rec)


def test_construction_is_keyword_only_and_complete() -> None:
    stat = _stat()
    assert (stat.czxid, stat.version, stat.pzxid) == (1, 5, 11)
    with pytest.raises(TypeError):
        Stat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="pzxid"):
        Stat(czxid=1, mzxid=2, ctime=3, mtime=4, version=5, cversion=6, aversion=7,
             ephemeral_owner=8, data_length=9, num_children=10)  # type: ignore[call-arg]  # fmt: skip
    with pytest.raises(TypeError, match="bogus"):
        GetDataRequest(path="/a", watch=False, bogus=1)  # type: ignore[call-arg]


def test_reply_takes_positional_arguments_and_its_default() -> None:
    reply = Reply(7, 0x500, 4, 0, None)
    assert reply.context is None
    assert reply == Reply(xid=7, zxid=0x500, op=4, err=0, response=None, context=None)
    assert Reply.__match_args__ == ("xid", "zxid", "op", "err", "response", "context")
    match reply:
        case Reply(xid, _, op):
            assert (xid, op) == (7, 4)


def test_watched_event_takes_positional_arguments_and_its_default() -> None:
    event = WatchedEvent(EventType.NODE_CREATED, KeeperState.SYNC_CONNECTED, "/a")
    assert event.zxid == -1
    assert event == WatchedEvent(
        event_type=EventType.NODE_CREATED, keeper_state=KeeperState.SYNC_CONNECTED, path="/a"
    )
    assert repr(event) == (
        "WatchedEvent(event_type=<EventType.NODE_CREATED: 1>, "
        "keeper_state=<KeeperState.SYNC_CONNECTED: 3>, path='/a', zxid=-1)"
    )
    assert Notification(5, event).event is event


def test_equality_and_hash_only_within_the_class() -> None:
    stat = _stat()
    assert stat == _stat()
    assert hash(stat) == hash(_stat())
    assert stat != _stat(version=6)
    assert not stat != _stat()  # noqa: SIM202 - __ne__ itself is under test
    # Never equal to a plain tuple of the same values, nor to another record type.
    assert stat != tuple(stat)
    assert tuple(stat) != stat
    assert not stat == tuple(stat)  # noqa: SIM201
    assert ExistsResponse(stat=stat) != SetDataResponse(stat=stat)
    assert stat != object()
    assert {stat: 1}[_stat()] == 1


def test_no_ordering() -> None:
    with pytest.raises(TypeError):
        _ = _stat() < _stat()
    with pytest.raises(TypeError):
        _ = _stat() >= _stat()


def test_immutable() -> None:
    stat = _stat()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stat.version = 6  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del stat.version
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stat.other = 1


def test_repr_is_the_attrs_repr() -> None:
    assert repr(GetDataResponse(data=b"x", stat=_stat())) == (
        "GetDataResponse(data=b'x', stat=Stat(czxid=1, mzxid=2, ctime=3, mtime=4, version=5, "
        "cversion=6, aversion=7, ephemeral_owner=8, data_length=9, num_children=10, pzxid=11))"
    )


def test_attrs_evolve_asdict_and_replace() -> None:
    stat = _stat()
    evolved: Any = attrs.evolve(stat, version=9)  # type: ignore[misc]
    assert type(evolved) is Stat
    assert evolved == _stat(version=9)
    assert stat.__replace__(version=9, pzxid=0) == _stat(version=9, pzxid=0)
    with pytest.raises(TypeError, match="nope"):
        stat.__replace__(nope=1)
    response = GetDataResponse(data=b"x", stat=stat)
    assert attrs.asdict(response)["stat"]["num_children"] == 10


@pytest.mark.parametrize("cls", TUPLE_RECORDS, ids=lambda c: c.__name__)
def test_copy_and_pickle(cls: type) -> None:
    rec = sample_record(cls)
    for other in (copy.copy(rec), copy.deepcopy(rec), pickle.loads(pickle.dumps(rec))):
        assert type(other) is cls
        assert other == rec


def test_a_subclass_must_declare_empty_slots() -> None:
    with pytest.raises(TypeError, match="__slots__"):

        class Loose(TupleRecord):
            n: int


def test_the_attrs_description_is_built_on_first_use_and_kept() -> None:
    class Fresh(TupleRecord):
        __slots__ = ()
        path: str
        flags: int = 3

    # Nothing built at class creation (it costs an attrs class per record)...
    assert "__attrs_attrs__" not in Fresh.__dict__
    assert attrs.has(Fresh)
    fields = attrs.fields(Fresh)
    # ...then kept on the class: every later lookup finds the same description.
    assert Fresh.__dict__["__attrs_attrs__"] is fields
    assert attrs.fields(Fresh) is fields
    assert [(f.name, f.default, f.kw_only) for f in fields] == [
        ("path", attrs.NOTHING, True),
        ("flags", 3, True),
    ]
    assert attrs.evolve(Fresh(path="/a"), flags=4) == Fresh(path="/a", flags=4)  # type: ignore[misc]
    assert attrs.fields(Fresh(path="/a")) is fields
    # The base class is no attrs class.
    assert not attrs.has(TupleRecord)


def test_records_of_the_same_shape_keep_their_own_defaults_and_names() -> None:
    class One(TupleRecord):
        __slots__ = ()
        path: str
        flags: int = 1

    class Two(TupleRecord):
        __slots__ = ()
        path: str
        flags: int = 2

    class Three(TupleRecord, kw_only=False):
        __slots__ = ()
        path: str
        flags: int = 3

    assert One(path="/").flags == 1
    assert Two(path="/").flags == 2
    assert Three("/").flags == 3
    assert type(One(path="/")) is One
    assert type(Two(path="/")) is Two
    with pytest.raises(TypeError, match=r"Two\.__new__\(\) missing"):
        Two()  # type: ignore[call-arg]
    assert [f.default for f in attrs.fields(Two)] == [attrs.NOTHING, 2]


def test_a_record_is_always_true_even_with_no_fields() -> None:
    class Nothing(TupleRecord):
        __slots__ = ()

    assert Nothing() == Nothing()
    assert len(Nothing()) == 0
    assert bool(Nothing()) is True  # as an attrs instance; an empty tuple is false
    assert bool(_stat()) is True


def test_the_events_and_multi_records_are_tuple_records_as_constructed_before() -> None:
    response = ConnectResponse(protocol_version=0, time_out=4000, session_id=7, passwd=b"p" * 16)
    # The events took their fields by position (plain ``attrs.frozen``)...
    assert Connected(response) == Connected(response=response, read_only_flag=True)
    assert Connected(response, False).read_only_flag is False
    assert Connected.__match_args__ == ("response", "read_only_flag")
    assert PingReply(5).zxid == 5
    assert AuthReply(-115).err == -115
    assert ConnectionClosed() == ConnectionClosed()
    assert repr(ConnectionClosed()) == "ConnectionClosed()"
    assert ConnectionClosed() != Empty()
    # ...the multi records by keyword only.
    op = MultiOp(op=4, request=GetDataRequest(path="/a", watch=False))
    with pytest.raises(TypeError):
        MultiOp(4, op.request)  # type: ignore[call-arg]
    assert MultiRequest(ops=(op,)).ops == (op,)
    result = MultiResult(op=-1, err=-101, response=None)
    assert MultiResponse(results=(result,)) == MultiResponse(results=(result,))
    for cls in (Connected, PingReply, AuthReply, ConnectionClosed, *MULTI_RECORDS):
        assert issubclass(cls, TupleRecord), cls
        assert attrs.has(cls)
    # As for the attrs classes: nested records become dicts, tuples stay tuples.
    assert attrs.asdict(MultiRequest(ops=(op,))) == {
        "ops": ({"op": 4, "request": {"path": "/a", "watch": False}},)
    }


MULTI_RECORDS = (MultiOp, MultiRequest, MultiResult, MultiResponse)


def test_records_with_no_fields_are_true() -> None:
    # The session keeps one ``Empty()`` body and the connection checks events
    # by type; an empty tuple would be false where an attrs instance was true.
    assert Empty()
    assert ConnectionClosed()
    assert (Empty() or None) is not None


def test_acl_and_id_stay_attrs_classes_not_tuples() -> None:
    acl = ACL(perms=31, id=Id(scheme="world", id="anyone"))
    for rec in (acl, acl.id):
        assert not isinstance(rec, tuple)
        assert attrs.has(type(rec))
    # A tuple would pass for the (username, password) form of sasl=.
    with pytest.raises(TypeError, match="sasl="):
        sasl_mechanism(acl.id)


def test_the_clients_output_records_are_tuple_records_as_constructed_before() -> None:
    from trio_zookeeper import DynamicConfig, HostListUpdate, HostPort, TreeNode

    node = TreeNode("/a", 1, ("b",), _stat())
    assert (node.data, node.acl, node.last) == (None, None, True)
    assert node.__replace__(last=False) == TreeNode("/a", 1, ("b",), _stat(), None, None, False)
    assert attrs.evolve(node, depth=2).depth == 2  # type: ignore[misc]
    update = HostListUpdate(("a:1",), ("b:2",), None, True, "moved")
    assert update == HostListUpdate(
        previous=("a:1",), hosts=("b:2",), server=None, move=True, reason="moved"
    )
    assert repr(update) == (
        "HostListUpdate(previous=('a:1',), hosts=('b:2',), server=None, move=True, reason='moved')"
    )
    config = DynamicConfig({2: HostPort("b", 2), 1: HostPort("a", 1)}, "100000000")
    assert config.hosts == [HostPort("a", 1), HostPort("b", 2)]
    assert config.connect_string() == "a:1,b:2"
    for cls in (TreeNode, HostListUpdate, DynamicConfig):
        assert issubclass(cls, TupleRecord)
        assert attrs.has(cls)


def test_the_constructor_is_generated_on_first_use() -> None:
    class Lazy(TupleRecord, kw_only=False):
        __slots__ = ()
        path: str
        flags: int = 5

    first = Lazy.__dict__["__new__"]
    assert Lazy("/a") == Lazy(path="/a", flags=5)
    generated = Lazy.__dict__["__new__"]
    assert generated is not first  # its own, in place of the shared first-use one
    assert generated.__qualname__.endswith("Lazy.__new__")
    assert Lazy("/b", 6).flags == 6
    assert Lazy.__dict__["__new__"] is generated
    with pytest.raises(TypeError, match=r"Lazy\.__new__\(\) missing 1 required positional"):
        Lazy()  # type: ignore[call-arg]


def test_a_wrong_first_call_is_refused_as_any_other() -> None:
    class Fresh(TupleRecord):
        __slots__ = ()
        path: str

    with pytest.raises(TypeError, match=r"Fresh\.__new__\(\) takes 1 positional argument"):
        Fresh("/a")  # type: ignore[call-arg]
    assert Fresh(path="/a").path == "/a"


def test_a_positional_field_without_default_after_one_with_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match=r"Bad\.depth: no default"):

        class Bad(TupleRecord, kw_only=False):
            __slots__ = ()
            path: str = "/"
            depth: int  # type: ignore[misc]
