"""The fast record constructor of the codec: the same objects as the attrs ``__init__``.

Decoders build records by filling their slots (``_jute.slot_builder``), not
through the keyword-only ``__init__`` of the frozen attrs classes. These tests
pin down that the result is indistinguishable: same type, equal, same hash,
still frozen; and that a class whose ``__init__`` does more than set slots is
built by calling it.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from trio_zookeeper._protocol import Notification, Reply, WatchedEvent
from trio_zookeeper._protocol._enums import EventType, KeeperState
from trio_zookeeper._protocol._jute import slot_builder

from .strategies import RECORD_CLASSES, sample_record

EVENT_SAMPLES = (
    Reply(7, 0x500, 4, 0, None),
    WatchedEvent(EventType.NODE_DATA_CHANGED, KeeperState.SYNC_CONNECTED, "/a", 9),
    Notification(9, WatchedEvent(EventType.NODE_CREATED, KeeperState.SYNC_CONNECTED, "/b")),
)


@pytest.mark.parametrize(
    "original",
    [sample_record(cls) for cls in RECORD_CLASSES] + list(EVENT_SAMPLES),
    ids=lambda r: type(r).__name__,
)
def test_built_record_is_the_same_object_as_constructed(original: Any) -> None:
    cls = type(original)
    values = [getattr(original, f.name) for f in attrs.fields(cls)]
    built = slot_builder(cls)(*values)
    assert type(built) is cls
    assert built == original
    assert hash(built) == hash(original)
    assert repr(built) == repr(original)
    for f in attrs.fields(cls):
        assert getattr(built, f.name) is getattr(original, f.name)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(built, f.name, None)


def test_a_class_with_a_validator_is_built_through_its_init() -> None:
    @attrs.frozen
    class Checked:
        n: int = attrs.field(validator=attrs.validators.ge(0))

    build = slot_builder(Checked)
    assert build(3) == Checked(3)
    with pytest.raises(ValueError, match="n"):
        build(-1)


def test_a_class_with_a_post_init_is_built_through_its_init() -> None:
    seen: list[int] = []

    @attrs.frozen
    class Hooked:
        n: int

        def __attrs_post_init__(self) -> None:
            seen.append(self.n)

    assert slot_builder(Hooked)(5) == Hooked(5)
    assert seen == [5, 5]


def test_a_dict_class_is_built_through_its_init() -> None:
    @attrs.frozen(slots=False)
    class Plain:
        n: int

    built = slot_builder(Plain)(1)
    assert built == Plain(1)
    assert type(built) is Plain
