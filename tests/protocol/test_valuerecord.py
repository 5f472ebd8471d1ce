"""The value records behave as the frozen attrs classes they replaced.

``HostPort``, ``ConnectString``, ``Backoff`` and ``SessionStatistics`` are
:class:`ValueRecord` classes: plain objects whose constructor is generated
from shared code, defined for a fraction of a frozen attrs class's import
memory. These tests pin down what the attrs classes did: construction by
position or keyword (keyword only where it was), defaults and per-instance
factory defaults, validation after construction, equality only within the
class, hashing (dict fields left out), no ordering, immutability, repr,
``attrs.fields``/``has``/``evolve``/``asdict``, copy, pickle and
``__replace__``, and that a subclass keeps the fields and may override
methods.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import random

import attrs
import pytest

from trio_zookeeper import Backoff, ConnectString, HostPort, KeeperState, SessionStatistics
from trio_zookeeper._protocol._valuerecord import ValueRecord, value_field

VALUE_RECORDS = (HostPort, ConnectString, Backoff, SessionStatistics)


def _stats(**changes: object) -> SessionStatistics:
    values: dict[str, object] = {
        "state": KeeperState.SYNC_CONNECTED,
        "session_id": 7,
        "negotiated_timeout": 10.0,
        "last_zxid": 42,
        "server": "127.0.0.1:2181",
        "queued_requests": 0,
        "pending_requests": 1,
        "watches": 2,
        "connections": 1,
    }
    values.update(changes)
    return SessionStatistics(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", VALUE_RECORDS)
def test_value_records_are_value_records_described_as_attrs_classes(cls: type) -> None:
    assert issubclass(cls, ValueRecord)
    assert attrs.has(cls)
    assert [f.name for f in attrs.fields(cls)] == list(inspect.signature(cls).parameters)
    assert attrs.has(ValueRecord) is False


def test_construction_by_position_and_keyword_with_defaults() -> None:
    assert HostPort("a", 1) == HostPort(host="a", port=1) == HostPort("a", port=1)
    assert Backoff() == Backoff(initial=1.0, factor=2.0, maximum=16.0, jitter=0.5)
    with pytest.raises(TypeError, match="positional"):
        Backoff(1.0)  # type: ignore[call-arg]  # keyword only, as it was
    with pytest.raises(TypeError, match="port"):
        HostPort("a")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        HostPort("a", 1, colour="red")  # type: ignore[call-arg]
    assert str(inspect.signature(Backoff)) == (
        "(*, initial=1.0, factor=2.0, maximum=16.0, jitter=0.5, attempt_jitter=1.0)"
    )


def test_factory_defaults_are_new_for_each_instance() -> None:
    first, second = _stats(), _stats()
    assert first.errors == {}
    assert first.connect_errors == {}
    assert first.errors is not second.errors
    assert first.connect_errors is not second.connect_errors
    assert "errors=dict()" in str(inspect.signature(SessionStatistics))
    described = attrs.fields(SessionStatistics).errors
    assert isinstance(described.default, attrs.Factory)  # type: ignore[arg-type]
    assert described.default.factory is dict
    assert described.hash is False


def test_validation_runs_after_the_fields_are_set() -> None:
    with pytest.raises(ValueError, match=r"Backoff\.factor must be a finite number >= 1"):
        Backoff(factor=0.5)
    with pytest.raises(ValueError, match="must not be below"):
        # Type checkers know these as dataclass-like, not attrs, classes.
        attrs.evolve(Backoff(), maximum=0.5)  # type: ignore[misc]


def test_equality_is_field_by_field_within_the_class_only() -> None:
    assert HostPort("a", 1) != HostPort("a", 2)
    assert HostPort("a", 1) != ("a", 1)
    assert HostPort("a", 1) != ConnectString(hosts=(HostPort("a", 1),), chroot=None)

    class Other(ValueRecord):
        host: str
        port: int

    assert HostPort("a", 1) != Other("a", 1)
    with pytest.raises(TypeError):
        _ = HostPort("a", 1) < HostPort("b", 1)  # type: ignore[operator]


def test_hash_follows_equality_and_leaves_out_dict_fields() -> None:
    assert hash(HostPort("a", 1)) == hash(HostPort("a", 1))
    assert len({HostPort("a", 1), HostPort("a", 1), HostPort("a", 2)}) == 2
    # The dict fields are compared but not hashed, as attrs' hash=False did.
    with_errors = _stats(errors={"NoNodeError": 1})
    assert hash(with_errors) == hash(_stats())
    assert with_errors != _stats()


def test_frozen_repr_and_attribute_access() -> None:
    host = HostPort("::1", 2181)
    assert repr(host) == "HostPort(host='::1', port=2181)"
    assert str(host) == "[::1]:2181"
    assert host.host == "::1"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        host.port = 1  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del host.port
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        host.colour = "red"
    assert not hasattr(HostPort, "host")  # no class-level default shadows a field
    assert HostPort.__match_args__ == ("host", "port")
    assert Backoff.__match_args__ == ()


@pytest.mark.parametrize(
    "value",
    [
        HostPort("a", 1),
        ConnectString(hosts=(HostPort("a", 1), HostPort("b", 2)), chroot="/app"),
        Backoff(initial=0.5),
        _stats(errors={"NoNodeError": 3}),
    ],
    ids=lambda v: type(v).__name__,
)
def test_copy_pickle_evolve_asdict_and_replace(value: ValueRecord) -> None:
    assert copy.copy(value) == value
    assert copy.deepcopy(value) == value
    assert pickle.loads(pickle.dumps(value)) == value
    assert attrs.evolve(value) == value  # type: ignore[misc]
    assert value.__replace__() == value
    as_dict = attrs.asdict(value, recurse=False)
    assert list(as_dict) == list(type(value).__record_fields__)
    assert type(value)(**as_dict) == value
    first = next(iter(as_dict))
    with pytest.raises(TypeError, match="nonsense"):
        value.__replace__(nonsense=1)
    assert first in repr(value)


def test_a_subclass_keeps_the_fields_and_may_override_methods() -> None:
    class NoPause(Backoff):
        def round_pause(self, failed_rounds: int, rng: random.Random, limit: float = 9.0) -> float:
            return 0.0

    policy = NoPause(initial=2.0, maximum=4.0)
    assert policy.round_pause(3, random.Random(1)) == 0.0
    assert policy.initial == 2.0
    assert repr(policy).endswith(  # attrs writes the qualified name too
        ".<locals>.NoPause(initial=2.0, factor=2.0, maximum=4.0, jitter=0.5, attempt_jitter=1.0)"
    )
    assert policy != Backoff(initial=2.0, maximum=4.0)  # another class
    with pytest.raises(ValueError, match="jitter"):
        NoPause(jitter=2.0)  # the base's validation still runs

    class Extended(ValueRecord):
        name: str
        tags: list[str] = value_field(factory=list)

    class More(Extended):
        weight: int = 0

    assert [f.name for f in attrs.fields(More)] == ["name", "tags", "weight"]
    assert More("x").tags == []
    assert More("x").tags is not More("x").tags
    assert More("x", ["a"], 3) == More(name="x", tags=["a"], weight=3)


def test_a_required_field_after_a_default_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Broken\.late: no default"):

        class Broken(ValueRecord):
            early: int = 0
            late: int  # type: ignore[misc]
