"""A watch channel's consumer side: events handed to a waiting receiver, its end, cancellation."""

from __future__ import annotations

import sys

import pytest
import trio
import trio.testing

from trio_zookeeper import EventType, KeeperState, WatchedEvent, WatchEvents, WatchOverflowError
from trio_zookeeper._watchers import WatchKind, WatchRegistry


def _ev(path: str, event_type: EventType = EventType.NODE_DATA_CHANGED) -> WatchedEvent:
    return WatchedEvent(event_type, KeeperState.SYNC_CONNECTED, path)


async def _receive_into(events: WatchEvents, got: list[WatchedEvent], count: int) -> None:
    for _ in range(count):
        got.append(await events.receive())


async def test_a_waiting_receiver_gets_the_events_in_order() -> None:
    events = WatchEvents()
    got: list[WatchedEvent] = []

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_receive_into, events, got, 3)
            await trio.testing.wait_all_tasks_blocked()
            # The first is handed to the waiting receiver, the others buffered.
            events._push(_ev("/a"))
            events._push(_ev("/b"))
            assert events.buffered == 1
            await trio.testing.wait_all_tasks_blocked()
            events._push(_ev("/c"))
    assert [e.path for e in got] == ["/a", "/b", "/c"]
    assert events.delivered == 3
    assert events.buffered == 0


async def test_an_event_is_not_lost_when_its_receiver_is_cancelled_first() -> None:
    events = WatchEvents()
    cancelled = False

    async def consume(scope: trio.CancelScope) -> None:
        nonlocal cancelled
        with scope:
            await events.receive()
        cancelled = scope.cancelled_caught

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()
            nursery.start_soon(consume, scope)
            await trio.testing.wait_all_tasks_blocked()
            # Cancelled, then the event comes, with no checkpoint in between.
            scope.cancel()
            events._push(_ev("/a"))
    assert cancelled
    assert events.buffered == 1
    assert events.receive_nowait() == _ev("/a")


async def test_an_event_handed_to_a_receiver_is_returned_even_if_it_is_then_cancelled() -> None:
    events = WatchEvents()
    got: list[WatchedEvent] = []

    async def consume(scope: trio.CancelScope) -> None:
        with scope:
            got.append(await events.receive())

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()
            nursery.start_soon(consume, scope)
            await trio.testing.wait_all_tasks_blocked()
            # The event is handed over, then the cancellation comes at once.
            events._push(_ev("/a"))
            scope.cancel()
    assert got == [_ev("/a")]
    assert events.buffered == 0


@pytest.mark.parametrize("ending", ["one_shot", "overflow", "close", "end_all"])
async def test_waiting_receivers_see_the_channel_end(ending: str) -> None:
    events = WatchEvents(max_buffer=1, one_shot=ending == "one_shot")
    outcomes: list[object] = []

    async def consume() -> None:
        while True:
            try:
                outcomes.append(await events.receive())
            except (trio.EndOfChannel, WatchOverflowError, trio.ClosedResourceError) as exc:
                outcomes.append(type(exc))
                return

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            # Two receivers at once: the first waiting gets the event.
            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            if ending == "one_shot":
                events._push(_ev("/a"))
                expected: list[object] = [_ev("/a"), trio.EndOfChannel, trio.EndOfChannel]
            elif ending == "overflow":
                # Handed to the two receivers (taken: not in the buffer), then
                # one buffered, then the buffer of one overflows.
                for path in ("/a", "/b", "/c", "/d"):
                    events._push(_ev(path))
                assert events.buffered == 1
                expected = [_ev("/a"), _ev("/b"), _ev("/c")]
                expected += [WatchOverflowError, WatchOverflowError]
            elif ending == "close":
                events.close()
                expected = [trio.ClosedResourceError, trio.ClosedResourceError]
            else:
                events._push(_ev("/a"), final=True)
                expected = [_ev("/a"), trio.EndOfChannel, trio.EndOfChannel]
    assert sorted(outcomes, key=repr) == sorted(expected, key=repr)
    assert not events.active


class _FourSlots:
    __slots__ = ("a", "b", "c", "d")


def test_a_watch_channel_is_four_slots_and_holds_nothing_until_its_first_event() -> None:
    # Issue 17: a client may keep tens of thousands of one-shot channels;
    # each keeps only its own four slots until an event or a receiver comes.
    registry = WatchRegistry()
    events = WatchEvents(one_shot=True)
    registry.add(WatchKind.EXIST, "/a", events)
    assert not hasattr(events, "__dict__")
    assert sys.getsizeof(events) <= sys.getsizeof(_FourSlots())
    assert events._queue == 1024  # the buffer's bound, until there is a buffer
    assert events._reg == "/a"  # the registration is its path, no object of its own
    assert events._reg_list() == [(WatchKind.EXIST, "/a")]
    assert events.delivered == 0
    assert events.buffered == 0


def test_an_overflow_comes_after_the_events_that_fitted_and_stays() -> None:
    events = WatchEvents(max_buffer=2)
    for path in ("/a", "/b", "/c", "/d"):
        events._push(_ev(path))
    assert not events.active
    assert events.buffered == 2  # the error waiting behind them is not an event
    assert events.delivered == 2
    assert events.receive_nowait() == _ev("/a")
    assert events.receive_nowait() == _ev("/b")
    for _ in range(2):
        with pytest.raises(WatchOverflowError):
            events.receive_nowait()
    assert events.buffered == 0
    events.close()
    with pytest.raises(trio.ClosedResourceError):
        events.receive_nowait()


async def test_a_receiver_waits_again_after_its_buffer_was_emptied() -> None:
    # The buffer and the waiting receivers take turns in one slot, and the
    # buffer's bound goes with whichever holds it.
    events = WatchEvents(max_buffer=2)
    events._push(_ev("/a"))
    got: list[WatchedEvent] = []

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_receive_into, events, got, 3)
            await trio.testing.wait_all_tasks_blocked()
            assert got == [_ev("/a")]
            events._push(_ev("/b"))  # handed over
            await trio.testing.wait_all_tasks_blocked()
            events._push(_ev("/c"))
    assert [e.path for e in got] == ["/a", "/b", "/c"]
    assert events.delivered == 3
    for path in ("/d", "/e", "/f"):
        events._push(_ev(path))
    assert events.buffered == 2
    assert [events.receive_nowait().path for _ in range(2)] == ["/d", "/e"]
    with pytest.raises(WatchOverflowError, match="buffer of 2 events"):
        events.receive_nowait()


def test_a_watch_channel_bound_is_an_int() -> None:
    # The bound becomes the buffer's deque maxlen in the reader task: a
    # bound that is not an integer fails here, in the caller, not there.
    with pytest.raises(TypeError):
        WatchEvents(max_buffer=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        WatchEvents(max_buffer=0)
