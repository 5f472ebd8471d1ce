"""The exception tree (one class per error code) and the session state table."""

from __future__ import annotations

import collections

import pytest

from trio_zookeeper._protocol import (
    TRANSITIONS,
    ConnectionLossError,
    ErrorCode,
    InvalidTransition,
    KeeperState,
    LocalProtocolError,
    NoNodeError,
    ProtocolError,
    RemoteProtocolError,
    RolledBackError,
    RuntimeInconsistencyError,
    ServerError,
    SessionEvent,
    ZooKeeperError,
    _errors,
    error_for_code,
    exception_class_for_code,
    transition,
)

# ZooKeeper's KeeperException.Code (there is no -126).
JAVA_CODES = {
    0, -1, -2, -3, -4, -5, -6, -7, -8, -12, -13, -14, -100, -101, -102, -103, -108, -110,
    -111, -112, -113, -114, -115, -118, -119, -120, -121, -122, -123, -124, -125, -127,
}  # fmt: skip


def test_error_codes_match_the_java_list() -> None:
    assert {int(c) for c in ErrorCode} == JAVA_CODES
    assert len(ErrorCode) == len(JAVA_CODES)


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.name)
def test_every_code_has_its_own_class(code: ErrorCode) -> None:
    exc = error_for_code(code, path="/some/node")
    cls = type(exc)
    assert cls is exception_class_for_code(code)
    assert cls is not ServerError
    assert issubclass(cls, ServerError)
    assert issubclass(cls, ZooKeeperError)
    assert cls.default_code == code
    assert exc.code == code
    assert exc.path == "/some/node"
    assert "/some/node" in str(exc)
    assert cls.__doc__
    # A plain int finds the same class as the enum member.
    assert type(error_for_code(int(code))) is cls
    # The class is exported under its own name.
    assert getattr(_errors, cls.__name__) is cls
    assert cls.__name__ in _errors.__all__


def test_classes_are_distinct() -> None:
    classes = [exception_class_for_code(c) for c in ErrorCode]
    duplicates = [c for c, n in collections.Counter(classes).items() if n > 1]
    assert duplicates == []
    # And every ServerError subclass in the module is reachable from a code.
    subclasses = {
        obj
        for obj in vars(_errors).values()
        if isinstance(obj, type) and issubclass(obj, ServerError) and obj is not ServerError
    }
    assert subclasses == set(classes)


@pytest.mark.parametrize("code", [-126, -9, 1, 42, -(2**31), 2**31 - 1])
def test_unknown_code_is_a_plain_server_error_carrying_it(code: int) -> None:
    exc = error_for_code(code, path="/p")
    assert type(exc) is ServerError
    assert exception_class_for_code(code) is ServerError
    assert exc.code == code
    assert str(exc) == f"ZooKeeper error code {code}: /p"
    assert str(error_for_code(code)) == f"ZooKeeper error code {code}"


def test_messages_and_results() -> None:
    exc = error_for_code(-101, path="/a/b")
    assert isinstance(exc, NoNodeError)
    assert str(exc) == "No node: /a/b"
    assert str(error_for_code(-101)) == "No node"
    assert str(NoNodeError("custom", path="/x")) == "custom"
    results = (object(), NoNodeError(path="/b"))
    multi = error_for_code(-101, path="/b", results=results)
    assert multi.results is results
    # Inside a failed multi: 0 is "rolled back", -2 "not attempted".
    assert type(error_for_code(0)) is RolledBackError
    assert type(error_for_code(-2)) is RuntimeInconsistencyError
    assert ConnectionLossError().code == ErrorCode.CONNECTION_LOSS


def test_protocol_errors_are_not_server_errors() -> None:
    for cls in (LocalProtocolError, RemoteProtocolError):
        assert issubclass(cls, ProtocolError)
        assert issubclass(cls, ZooKeeperError)
        assert not issubclass(cls, ServerError)


# --------------------------------------------------------------- state table
STATES: set[KeeperState] = {s for (src, _), dst in TRANSITIONS.items() for s in (src, dst)}
INITIAL = KeeperState.DISCONNECTED  # CONNECTING is DISCONNECTED before the first connection


def reachable_from(start: KeeperState) -> set[KeeperState]:
    seen = {start}
    todo = [start]
    while todo:
        state = todo.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is state and dst not in seen:
                seen.add(dst)
                todo.append(dst)
    return seen


def test_the_states_are_the_user_visible_ones() -> None:
    assert {
        KeeperState.DISCONNECTED,
        KeeperState.SYNC_CONNECTED,
        KeeperState.CONNECTED_READ_ONLY,
        KeeperState.EXPIRED,
        KeeperState.AUTH_FAILED,
        KeeperState.CLOSED,
    } == STATES


def test_every_state_is_reachable() -> None:
    assert reachable_from(INITIAL) == STATES


SORTED_STATES = sorted(STATES, key=lambda s: s.value)


@pytest.mark.parametrize("state", SORTED_STATES, ids=lambda s: s.name)
def test_closed_is_reachable_from_every_state(state: KeeperState) -> None:
    assert KeeperState.CLOSED in reachable_from(state)
    assert transition(state, SessionEvent.CLOSE) is KeeperState.CLOSED


def test_closed_and_auth_failed_are_terminal() -> None:
    assert reachable_from(KeeperState.CLOSED) == {KeeperState.CLOSED}
    assert reachable_from(KeeperState.AUTH_FAILED) == {KeeperState.AUTH_FAILED, KeeperState.CLOSED}


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [(s, e, d) for (s, e), d in TRANSITIONS.items()],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_valid_transitions(state: KeeperState, event: SessionEvent, expected: KeeperState) -> None:
    assert transition(state, event) is expected


INVALID = [
    (s, e)
    for s in sorted(KeeperState, key=lambda k: k.value)
    for e in SessionEvent
    if (s, e) not in TRANSITIONS
]


def test_there_are_invalid_transitions() -> None:
    assert (KeeperState.CLOSED, SessionEvent.CONNECTED_RW) in INVALID
    assert (KeeperState.EXPIRED, SessionEvent.CONNECTED_RW) in INVALID
    assert (KeeperState.AUTH_FAILED, SessionEvent.CONNECTION_LOST) in INVALID
    assert (KeeperState.SYNC_CONNECTED, SessionEvent.CONNECTED_RW) in INVALID


@pytest.mark.parametrize(("state", "event"), INVALID, ids=lambda v: v.name)
def test_invalid_transitions_raise(state: KeeperState, event: SessionEvent) -> None:
    with pytest.raises(InvalidTransition, match=rf"from {state.name} on {event.name}"):
        transition(state, event)
