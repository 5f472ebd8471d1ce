"""Every error the real server can produce through the API, and local input validation."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import trio
import trio.testing

from trio_zookeeper import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    AuthFailedError,
    BadArgumentsError,
    BadVersionError,
    ConnectionLossError,
    CreateMode,
    ErrorCode,
    EventType,
    InvalidACLError,
    KeeperState,
    LocalProtocolError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    NoWatcherError,
    ReconfigDisabledError,
    RemoteProtocolError,
    RolledBackError,
    ServerError,
    SessionExpiredError,
    UnimplementedError,
    WatcherType,
    ZooKeeper,
    ZooKeeperError,
    make_acl,
    make_digest_acl,
    open_zookeeper,
)
from trio_zookeeper.testing import ZooKeeperServer, expire_session, open_fault_proxy
from trio_zookeeper.testing.pytest_plugin import require_zookeeper

from ._util import RecordingFactory
from .conftest import Connect, Server

pytestmark = pytest.mark.server

OP_CREATE = 1  # ZooDefs.OpCode.create, for FaultProxy.drop_next_reply


@pytest.fixture(scope="module")
def plain_server() -> Iterator[ZooKeeperServer]:
    """A dedicated server WITHOUT extended types (so no TTL nodes)."""
    require_zookeeper(local=True)
    with ZooKeeperServer(tick_time=500, extended_types=False) as server:
        yield server


def _check(error: ServerError, code: ErrorCode, path: str | None) -> None:
    assert isinstance(error, ZooKeeperError)
    assert error.code == code
    assert error.path == path
    if path is not None:
        assert path in str(error)


# ---------------------------------------------------------------- node errors
async def test_no_node_error_from_every_operation_on_a_missing_node(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        calls: list[Callable[[], Any]] = [
            lambda: zk.get_data("/missing"),
            lambda: zk.set_data("/missing", b"x"),
            lambda: zk.delete("/missing"),
            lambda: zk.get_children("/missing"),
            lambda: zk.get_children2("/missing"),
            lambda: zk.get_acl("/missing"),
            lambda: zk.set_acl("/missing", OPEN_ACL_UNSAFE),
            lambda: zk.get_all_children_number("/missing"),
            lambda: zk.watch().get_data("/missing"),
            lambda: zk.with_watcher().get_children("/missing"),
        ]
        for call in calls:
            with pytest.raises(NoNodeError) as info:
                await call()
            _check(info.value, ErrorCode.NO_NODE, "/missing")
        # create: the parent is missing; the error names the node asked for.
        with pytest.raises(NoNodeError) as info:
            await zk.create("/missing/child")
        _check(info.value, ErrorCode.NO_NODE, "/missing/child")


async def test_node_exists_error(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/dup", b"first")
        for mode in (CreateMode.PERSISTENT, CreateMode.EPHEMERAL, CreateMode.CONTAINER):
            with pytest.raises(NodeExistsError) as info:
                await zk.create("/dup", b"second", mode=mode)
            _check(info.value, ErrorCode.NODE_EXISTS, "/dup")
        with pytest.raises(NodeExistsError):
            await zk.create2("/dup", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=10_000)
        with pytest.raises(NodeExistsError):
            await zk.create("/dup", makepath=True)
        assert (await zk.get_data("/dup"))[0] == b"first"


async def test_not_empty_error(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.ensure_path("/full/child")
        with pytest.raises(NotEmptyError) as info:
            await zk.delete("/full")
        _check(info.value, ErrorCode.NOT_EMPTY, "/full")
        assert await zk.get_children("/full") == ["child"]


async def test_bad_version_error(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/v")
        for call in (
            lambda: zk.set_data("/v", b"x", version=3),
            lambda: zk.delete("/v", version=1),
            lambda: zk.set_acl("/v", OPEN_ACL_UNSAFE, version=2),
        ):
            with pytest.raises(BadVersionError) as info:
                await call()
            _check(info.value, ErrorCode.BAD_VERSION, "/v")
        stat = await zk.exists("/v")
        assert stat is not None
        assert (stat.version, stat.aversion) == (0, 0)


async def test_no_children_for_ephemerals_error(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/eph", mode=CreateMode.EPHEMERAL)
        for mode in (CreateMode.PERSISTENT, CreateMode.EPHEMERAL, CreateMode.EPHEMERAL_SEQUENTIAL):
            with pytest.raises(NoChildrenForEphemeralsError) as info:
                await zk.create("/eph/child", mode=mode)
            _check(info.value, ErrorCode.NO_CHILDREN_FOR_EPHEMERALS, "/eph/child")


async def test_no_auth_error(zk: ZooKeeper, connect: Connect) -> None:
    with trio.fail_after(10):
        await zk.create("/ro", b"r", acl=READ_ACL_UNSAFE)
        with pytest.raises(NoAuthError) as info:
            await zk.set_data("/ro", b"w")
        _check(info.value, ErrorCode.NO_AUTH, "/ro")
        for call in (
            lambda: zk.create("/ro/child"),
            lambda: zk.set_acl("/ro", OPEN_ACL_UNSAFE),
        ):
            with pytest.raises(NoAuthError):
                await call()
        assert (await zk.get_data("/ro"))[0] == b"r"
        secret = make_digest_acl("alice", "s3cret")
        await zk.create("/secret", b"hidden", acl=[secret])
        async with connect() as stranger:
            with pytest.raises(NoAuthError):
                await stranger.get_data("/secret")
            await stranger.add_auth("digest", "alice:wrong")  # accepted, but matches nothing
            with pytest.raises(NoAuthError):
                await stranger.get_data("/secret")
            await stranger.add_auth("digest", "alice:s3cret")
            assert (await stranger.get_data("/secret"))[0] == b"hidden"
        # The fixture's recursive delete could not list the protected node.
        await zk.delete("/secret")


async def test_invalid_acl_error(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        invalid: dict[str, Sequence[ACL]] = {
            "auth scheme, not authenticated": CREATOR_ALL_ACL,
            "digest without a colon": (make_acl("digest", "no-colon-here"),),
            "ip that is not an address": (make_acl("ip", "not.an.ip.address"),),
            "unknown scheme": (make_acl("nosuchscheme", "x"),),
        }
        await zk.create("/target")
        for name, acl in invalid.items():
            with pytest.raises(InvalidACLError) as info:
                await zk.create("/bad", acl=acl)
            _check(info.value, ErrorCode.INVALID_ACL, "/bad")
            with pytest.raises(InvalidACLError):
                await zk.set_acl("/target", acl)
            assert await zk.exists("/bad") is None, name
        acl, _ = await zk.get_acl("/target")
        assert tuple(acl) == OPEN_ACL_UNSAFE


async def test_no_watcher_error(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/w")
        for wtype in (WatcherType.ANY, WatcherType.DATA, WatcherType.CHILDREN):
            with pytest.raises(NoWatcherError) as info:
                await zk.remove_watches("/w", wtype)
            _check(info.value, ErrorCode.NO_WATCHER, "/w")
            assert await zk.check_watches("/w", wtype) is False
        # A data watch is not a child watch.
        await zk.watch().get_data("/w")
        with pytest.raises(NoWatcherError):
            await zk.remove_watches("/w", WatcherType.CHILDREN)
        await zk.remove_watches("/w", WatcherType.DATA)


async def test_bad_arguments_error_for_the_reserved_nodes(root_zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        for path in ("/zookeeper", "/zookeeper/config", "/zookeeper/quota", "/"):
            with pytest.raises(BadArgumentsError) as info:
                await root_zk.delete(path)
            _check(info.value, ErrorCode.BAD_ARGUMENTS, path)
        assert await root_zk.exists("/zookeeper/config") is not None


async def test_reconfig_disabled_error_on_a_standalone_server(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        with pytest.raises(ReconfigDisabledError):
            await zk.reconfig(joining="server.9=127.0.0.1:2888:3888;2181")
        assert zk.connected


async def test_unimplemented_error_for_ttl_without_extended_types(
    plain_server: ZooKeeperServer,
) -> None:
    with trio.fail_after(15):
        async with open_zookeeper(plain_server.connect_string) as zk:
            for mode in (CreateMode.PERSISTENT_WITH_TTL, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL):
                with pytest.raises(UnimplementedError) as info:
                    await zk.create("/ttl", mode=mode, ttl=1000)
                _check(info.value, ErrorCode.UNIMPLEMENTED, "/ttl")
                with pytest.raises(UnimplementedError):
                    await zk.create2("/ttl", mode=mode, ttl=1000)
            with pytest.raises(UnimplementedError) as info:
                await (
                    zk.multi()
                    .create("/plain")
                    .create("/ttl", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=1000)
                    .run()
                )
            results = info.value.results
            assert results is not None
            assert [type(r) for r in results] == [RolledBackError, UnimplementedError]
            assert await zk.exists("/plain") is None
            assert await zk.exists("/ttl") is None
            # Containers are not an extended type: they work there.
            assert await zk.create("/c", mode=CreateMode.CONTAINER) == "/c"
            await zk.delete("/c")
            assert zk.connected


# ------------------------------------------------------------- session errors
async def test_auth_failed_error_is_final(connect: Connect) -> None:
    close_timeout = 60.0  # far beyond the bound below: waiting for it is caught
    with trio.fail_after(10):
        async with connect(close_timeout=close_timeout) as zk, zk.session_states() as states:
            await zk.create("/before")
            with pytest.raises(AuthFailedError) as info:
                await zk.add_auth("nosuchscheme", "whatever")
            assert info.value.code == ErrorCode.AUTH_FAILED
            assert zk.state is KeeperState.AUTH_FAILED
            assert await states.receive() is KeeperState.AUTH_FAILED
            assert not zk.connected
            for call in (
                lambda: zk.exists("/before"),
                lambda: zk.create("/after"),
                lambda: zk.add_auth("digest", "a:b"),
                lambda: zk.multi().create("/after").run(),
                zk.wait_connected,
            ):
                with pytest.raises(AuthFailedError):
                    await call()
            started = time.monotonic()
        # Closing does not wait (close_timeout) for a server that will not answer.
        assert time.monotonic() - started < close_timeout / 2


async def test_open_with_rejected_credentials_raises_auth_failed(connect: Connect) -> None:
    with trio.fail_after(10), pytest.raises(AuthFailedError):
        async with connect(auth=[("nosuchscheme", "x")]) as zk:
            assert zk.state is not KeeperState.SYNC_CONNECTED


async def test_session_expired_error_when_expiry_is_final(connect: Connect, zk: ZooKeeper) -> None:
    close_timeout = 60.0  # far beyond the bound below: waiting for it is caught
    with trio.fail_after(15):
        async with connect(reconnect_after_expiry=False, close_timeout=close_timeout) as doomed:
            await doomed.create("/eph", mode=CreateMode.EPHEMERAL)
            await doomed.create("/node")
            _, events = await doomed.with_watcher().get_data("/node")
            async with doomed.session_states() as states:
                await expire_session(doomed)
                seen = [await states.receive()]
                while seen[-1] is not KeeperState.EXPIRED:
                    seen.append(await states.receive())
            assert zk.state is KeeperState.SYNC_CONNECTED
            assert doomed.state is KeeperState.EXPIRED
            for call in (
                lambda: doomed.exists("/node"),
                lambda: doomed.create("/more"),
                lambda: doomed.get_children("/"),
                doomed.wait_connected,
            ):
                with pytest.raises(SessionExpiredError) as info:
                    await call()
                assert info.value.code == ErrorCode.SESSION_EXPIRED
            # The one-shot watch of the dead session is told about the lost
            # connection, then ends with an EXPIRED event.
            session_events = [await events.receive()]
            while session_events[-1].keeper_state is not KeeperState.EXPIRED:
                session_events.append(await events.receive())
            assert {e.event_type for e in session_events} == {EventType.NONE}
            assert [e.keeper_state for e in session_events] in (
                [KeeperState.EXPIRED],
                [KeeperState.DISCONNECTED, KeeperState.EXPIRED],
            )
            with pytest.raises(trio.EndOfChannel):
                await events.receive()
            # The server deleted the session's ephemerals.
            assert await zk.exists("/eph") is None
            assert await zk.exists("/node") is not None
            started = time.monotonic()
        # Closing an expired session does not wait (close_timeout) for an answer.
        assert time.monotonic() - started < close_timeout / 2


async def test_session_expired_error_names_the_session(connect: Connect) -> None:
    with trio.fail_after(15):
        async with connect(reconnect_after_expiry=False) as doomed:
            session_id = doomed.session_id
            await expire_session(doomed)
            with pytest.raises(SessionExpiredError) as info:
                await doomed.exists("/")
            assert f"0x{session_id:x}" in str(info.value)


async def test_connection_loss_error_for_a_request_in_flight(
    zookeeper_server: Server, chroot: str, zk: ZooKeeper
) -> None:
    with trio.fail_after(20):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as client,
        ):
            session_id = client.session_id
            proxy.pause_upstream()  # the request is written but held in the proxy
            async with trio.open_nursery() as nursery:

                async def doomed_create() -> None:
                    with pytest.raises(ConnectionLossError) as info:
                        await client.create("/held")
                    assert info.value.code == ErrorCode.CONNECTION_LOSS

                nursery.start_soon(doomed_create)
                await trio.testing.wait_all_tasks_blocked()
                assert client.statistics().pending_requests == 1
                await proxy.reset()
            proxy.pause_upstream(False)
            await client.wait_connected()
            # The session survived the lost connection, on a new one.
            assert client.session_id == session_id
            assert client.statistics().connections == 2
            # The held request never reached the server; nothing is resent.
            assert await client.exists("/held") is None
            assert await zk.exists("/held") is None


async def test_connection_loss_after_the_server_applied_the_write(
    zookeeper_server: Server, chroot: str, zk: ZooKeeper
) -> None:
    with trio.fail_after(20):
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot) as client,
        ):
            proxy.drop_next_reply(OP_CREATE)
            with pytest.raises(ConnectionLossError):
                await client.create("/applied", b"yes")
            assert proxy.dropped_replies == 1
            await client.wait_connected()
            # The outcome was unknown to the client: here it was applied.
            assert (await client.get_data("/applied"))[0] == b"yes"
            assert await zk.exists("/applied") is not None


# ------------------------------------------------- local validation, unsent
Call = Callable[[], Any]
Case = tuple[str, Call, type[Exception], str]


def _path_calls(zk: ZooKeeper, p: Any) -> dict[str, Call]:
    return {
        "create": lambda: zk.create(p),
        "create2": lambda: zk.create2(p),
        "create ttl": lambda: zk.create(p, mode=CreateMode.PERSISTENT_WITH_TTL, ttl=1000),
        "get_data": lambda: zk.get_data(p),
        "set_data": lambda: zk.set_data(p, b""),
        "delete": lambda: zk.delete(p),
        "delete recursive": lambda: zk.delete(p, recursive=True),
        "exists": lambda: zk.exists(p),
        "get_children": lambda: zk.get_children(p),
        "get_children2": lambda: zk.get_children2(p),
        "get_acl": lambda: zk.get_acl(p),
        "set_acl": lambda: zk.set_acl(p, OPEN_ACL_UNSAFE),
        "ensure_path": lambda: zk.ensure_path(p),
        "get_all_children_number": lambda: zk.get_all_children_number(p),
        "get_ephemerals": lambda: zk.get_ephemerals(p),
        "sync": lambda: zk.sync(p),
        "check_watches": lambda: zk.check_watches(p),
        "remove_watches": lambda: zk.remove_watches(p),
        "watch().exists": lambda: zk.watch().exists(p),
        "with_watcher().get_data": lambda: zk.with_watcher().get_data(p),
        "multi().create": lambda: zk.multi().create(p),
        "multi().delete": lambda: zk.multi().delete(p),
        "multi().set_data": lambda: zk.multi().set_data(p, b""),
        "multi().check": lambda: zk.multi().check(p, 0),
        "multi_read().get_data": lambda: zk.multi_read().get_data(p),
        "multi_read().get_children": lambda: zk.multi_read().get_children(p),
        "add_watch": lambda: _enter(zk.add_watch(p)),
        "watch_data": lambda: _enter(zk.watch_data(p)),
        "watch_children": lambda: _enter(zk.watch_children(p)),
    }


def _data_calls(zk: ZooKeeper, d: Any) -> dict[str, Call]:
    return {
        "create": lambda: zk.create("/d", d),
        "create2": lambda: zk.create2("/d", d),
        "set_data": lambda: zk.set_data("/d", d),
        "multi().create": lambda: zk.multi().create("/d", d),
        "multi().set_data": lambda: zk.multi().set_data("/d", d),
    }


def _version_calls(zk: ZooKeeper, v: Any) -> dict[str, Call]:
    return {
        "set_data": lambda: zk.set_data("/v", b"", v),
        "delete": lambda: zk.delete("/v", v),
        "set_acl": lambda: zk.set_acl("/v", OPEN_ACL_UNSAFE, v),
        "multi().check": lambda: zk.multi().check("/v", v),
        "multi().delete": lambda: zk.multi().delete("/v", v),
        "multi().set_data": lambda: zk.multi().set_data("/v", b"", v),
    }


def _acl_calls(zk: ZooKeeper, a: Any) -> dict[str, Call]:
    return {
        "create": lambda: zk.create("/a", acl=a),
        "create2": lambda: zk.create2("/a", acl=a),
        "set_acl": lambda: zk.set_acl("/a", a),
        "multi().create": lambda: zk.multi().create("/a", acl=a),
        "create makepath": lambda: zk.create("/a/b", acl=a, makepath=True),
    }


def _create_calls(zk: ZooKeeper, **options: Any) -> dict[str, Call]:
    return {
        "create": lambda: zk.create("/t", **options),
        "create2": lambda: zk.create2("/t", **options),
        "multi().create": lambda: zk.multi().create("/t", **options),
    }


def _invalid_calls(zk: ZooKeeper) -> Iterator[Case]:
    """(description, call, exception, text the message must contain)."""
    bad_paths = [
        "",
        "relative",
        "/trailing/",
        "/double//slash",
        "/dot/./x",
        "/dotdot/../x",
        "/nul\x00",
        "/ctrl\x1f",
        "/del\x7f",
        "/surrogate\ud800",
        "/special\ufff5",
        "/astral\U0001f600",
    ]
    for bad in bad_paths:
        for name, call in _path_calls(zk, bad).items():
            yield f"{name}({bad!r})", call, ValueError, repr(bad)
    # "/a/" is valid only for sequential creates; non-str paths are TypeErrors.
    yield "trailing slash, not sequential", lambda: zk.create("/a/"), ValueError, "'/a/'"
    for not_str in (None, b"/bytes", 1):
        for name, call in _path_calls(zk, not_str).items():
            yield f"{name}({not_str!r})", call, TypeError, "must be a str"
    # Data must be bytes.
    for data, text in (("text", "not str"), (5, "not int"), (None, "not NoneType")):
        for name, call in _data_calls(zk, data).items():
            yield f"{name} with data {data!r}", call, TypeError, text
    # Versions are 32-bit ints.
    for big in (2**31, -(2**31) - 1, 2**63):
        for name, call in _version_calls(zk, big).items():
            text = f"version {big} is out of the 32-bit range"
            yield f"{name} version={big}", call, ValueError, text
    for not_int in (True, 1.0, "1", None):
        for name, call in _version_calls(zk, not_int).items():
            yield f"{name} version={not_int!r}", call, TypeError, "version must be an int"
    # ACLs: never empty, only ACL records.
    for acl, error, text in (
        ([], ValueError, "acl may not be empty"),
        ((), ValueError, "acl may not be empty"),
        ("world", TypeError, "not str"),
        ([("world", "anyone")], TypeError, "acl entries must be ACL records"),
    ):
        for name, call in _acl_calls(zk, acl).items():
            yield f"{name} acl={acl!r}", call, error, text
    # TTL: only with the TTL modes, always with them, in range.
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ttl": 1000}, "ttl= is only valid with a TTL mode, not PERSISTENT"),
        ({"ttl": 1000, "mode": CreateMode.EPHEMERAL}, "not EPHEMERAL"),
        ({"ttl": 1000, "mode": CreateMode.CONTAINER}, "not CONTAINER"),
        ({"mode": 99}, "99"),
    ]
    for mode in (CreateMode.PERSISTENT_WITH_TTL, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL):
        cases.append(({"mode": mode}, f"mode {mode.name} needs ttl="))
        for ttl in (0, -1, 2**40, True, 1.5):
            cases.append(({"mode": mode, "ttl": ttl}, f"not {ttl!r}"))
    for options, text in cases:
        for name, call in _create_calls(zk, **options).items():
            yield f"{name}({options})", call, ValueError, text
    watch_mode: Any = 7
    yield "add_watch mode=7", lambda: _enter(zk.add_watch("/w", watch_mode)), ValueError, "7"
    watcher_type: Any = 9
    yield "check_watches type=9", lambda: zk.check_watches("/w", watcher_type), ValueError, "9"
    yield "remove_watches type=9", lambda: zk.remove_watches("/w", watcher_type), ValueError, "9"


async def _enter(cm: Any) -> None:
    async with cm:
        raise AssertionError("entered a block that should have refused its arguments")


async def test_invalid_input_is_refused_before_anything_is_sent(zk_connect_string: str) -> None:
    recorder = RecordingFactory()
    failures: list[str] = []
    count = 0
    with trio.fail_after(20):
        async with open_zookeeper(zk_connect_string, stream_factory=recorder) as zk:
            await zk.create("/v")
            sent = list(recorder.requests)
            assert len(sent) == 1  # the create: the recorder sees requests
            for name, call, exc_type, text in _invalid_calls(zk):
                count += 1
                try:
                    result = call()
                    if inspect.isawaitable(result):
                        await result
                except exc_type as exc:
                    if text not in str(exc):
                        failures.append(f"{name}: message {str(exc)!r} lacks {text!r}")
                except Exception as exc:
                    failures.append(f"{name}: {type(exc).__name__}({exc}), not {exc_type}")
                else:
                    failures.append(f"{name}: accepted")
            assert recorder.requests == sent, "an invalid call sent something"
            assert zk.statistics().queued_requests == 0
            assert zk.connected
            # The client is still fine.
            assert await zk.exists("/v") is not None
            assert len(recorder.requests) == len(sent) + 1
    print(f"{count} invalid calls checked")
    assert count > 400
    assert not failures, "\n".join(failures)


async def test_ensure_path_refuses_an_invalid_acl_before_sending(zk_connect_string: str) -> None:
    recorder = RecordingFactory()
    with trio.fail_after(10):
        async with open_zookeeper(zk_connect_string, stream_factory=recorder) as zk:
            await zk.create("/exists")
            sent = list(recorder.requests)
            for path in ("/exists", "/missing/child"):
                with pytest.raises(ValueError, match="acl may not be empty"):
                    await zk.ensure_path(path, acl=[])
            assert recorder.requests == sent


async def test_a_request_over_the_frame_limit_is_refused_locally(
    zk_connect_string: str,
) -> None:
    recorder = RecordingFactory()
    with trio.fail_after(10):
        async with open_zookeeper(zk_connect_string, stream_factory=recorder) as zk:
            sent = list(recorder.requests)
            with pytest.raises(LocalProtocolError, match="exceeds the frame limit of 1048575"):
                await zk.create("/huge", b"x" * 0x100000)
            with pytest.raises(LocalProtocolError):
                await zk.multi().create("/a").create("/huge", b"x" * 0x100000).run()
            assert recorder.requests == sent
            assert await zk.exists("/huge") is None
            assert zk.statistics().connections == 1


async def test_a_reply_over_the_clients_frame_limit_is_a_connection_loss(
    zk_connect_string: str, chroot: str
) -> None:
    # A create request carries 47 bytes besides the data and the server-side
    # path, a getData reply 88: pick a size whose request fits the 0xfffff
    # frame limit (the server's jute.maxbuffer too) but whose reply does not.
    server_path = f"{chroot}/large"
    assert len(server_path) < 38
    size = 0xFFFFF - 50 - len(server_path)
    with trio.fail_after(15):
        async with open_zookeeper(zk_connect_string) as zk:
            await zk.create("/large", b"L" * size)
            with pytest.raises(ConnectionLossError) as info:
                await zk.get_data("/large")
            assert isinstance(info.value.__cause__, RemoteProtocolError)
            assert "frame limit of 1048575 bytes" in str(info.value.__cause__)
            assert "raise open_zookeeper(max_frame_size=...)" in str(info.value)
            await zk.wait_connected()
            stat = await zk.exists("/large")
            assert stat is not None
            assert stat.data_length == size
        async with open_zookeeper(zk_connect_string, max_frame_size=2 * 0xFFFFF) as big:
            data, _ = await big.get_data("/large")
            assert len(data) == size
