"""Transactions (multi) and multi_read against the real server."""

from __future__ import annotations

import pytest
import trio

from trio_zookeeper import (
    READ_ACL_UNSAFE,
    BadVersionError,
    CreateMode,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistencyError,
    ServerError,
    Stat,
    ZooKeeper,
    make_digest_acl,
)

from .conftest import Connect

pytestmark = pytest.mark.server


def _path_and_stat(result: object) -> tuple[str, Stat]:
    assert isinstance(result, tuple)
    path, stat = result
    assert isinstance(path, str)
    assert isinstance(stat, Stat)
    return path, stat


async def test_a_transaction_with_every_operation_is_applied_atomically(
    zk: ZooKeeper, connect: Connect
) -> None:
    with trio.fail_after(10):
        await zk.create("/existing", b"old")
        await zk.create("/doomed")
        await zk.create("/seq")
        results = await (
            zk.multi()
            .create("/plain", b"p")
            .create("/eph", b"e", mode=CreateMode.EPHEMERAL)
            .create("/seq/n-", mode=CreateMode.PERSISTENT_SEQUENTIAL)
            .create("/seq/e-", mode=CreateMode.EPHEMERAL_SEQUENTIAL)
            .create("/container", mode=CreateMode.CONTAINER)
            .create("/container/child")
            .create("/ttl", b"t", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=60_000)
            .create("/seq/t-", mode=CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=60_000)
            .check("/existing", 0)
            .set_data("/existing", b"new", version=0)
            .check("/existing", 1)
            .delete("/doomed", version=0)
            .run()
        )
        assert len(results) == 12
        assert results[0] == "/plain"
        assert results[1] == "/eph"
        assert results[2] == "/seq/n-0000000000"
        assert results[3] == "/seq/e-0000000001"
        # Container and TTL creates answer with the new node's Stat too.
        container_path, container_stat = _path_and_stat(results[4])
        assert container_path == "/container"
        assert results[5] == "/container/child"
        ttl_path, ttl_stat = _path_and_stat(results[6])
        assert ttl_path == "/ttl"
        seq_ttl_path, _ = _path_and_stat(results[7])
        assert seq_ttl_path == "/seq/t-0000000002"
        assert results[8] is None
        set_stat = results[9]
        assert isinstance(set_stat, Stat)
        assert set_stat.version == 1
        assert results[10] is None
        assert results[11] is None
        # One transaction, one zxid.
        assert container_stat.czxid == ttl_stat.czxid == set_stat.mzxid
        async with connect() as other:
            assert (await other.get_data("/plain"))[0] == b"p"
            eph = await other.exists("/eph")
            assert eph is not None
            assert eph.ephemeral_owner == zk.session_id
            assert sorted(await other.get_children("/seq")) == [
                "e-0000000001",
                "n-0000000000",
                "t-0000000002",
            ]
            assert await other.get_children("/container") == ["child"]
            assert (await other.get_data("/ttl"))[0] == b"t"
            assert (await other.get_data("/existing"))[0] == b"new"
            assert await other.exists("/doomed") is None


async def test_empty_transactions(zk: ZooKeeper) -> None:
    with trio.fail_after(5):
        assert await zk.multi().run() == []
        assert await zk.multi_read().run() == []


def _assert_results(error: ServerError, failing: int, total: int) -> None:
    results = error.results
    assert results is not None
    assert len(results) == total
    for index, result in enumerate(results):
        if index < failing:
            assert type(result) is RolledBackError, (index, result)
        elif index == failing:
            assert type(result) is type(error), (index, result)
        else:
            assert type(result) is RuntimeInconsistencyError, (index, result)


async def _snapshot(zk: ZooKeeper) -> dict[str, tuple[bytes, Stat]]:
    out: dict[str, tuple[bytes, Stat]] = {}
    for child in await zk.get_children("/"):
        out[child] = await zk.get_data(f"/{child}")
    return out


async def test_a_failed_transaction_raises_the_failing_operations_error(zk: ZooKeeper) -> None:
    with trio.fail_after(15):
        await zk.create("/a", b"a")
        await zk.ensure_path("/full/child")
        before = await _snapshot(zk)
        cases: list[tuple[type[ServerError], int, str, list[str]]] = [
            # (error, index of the failing op, its path, the ops)
            (NodeExistsError, 2, "/a", ["create /new1", "set /a", "create /a", "create /new2"]),
            (NoNodeError, 0, "/nope", ["set /nope", "create /new1", "delete /a"]),
            (BadVersionError, 3, "/a", ["create /new1", "set /a", "create /new2", "check /a 0"]),
            (NotEmptyError, 1, "/full", ["create /new1", "delete /full"]),
            (NoNodeError, 2, "/missing/x", ["create /new1", "create /new2", "create /missing/x"]),
        ]
        for error_type, failing, path, ops in cases:
            txn = zk.multi()
            for op in ops:
                verb, target, *extra = op.split()
                if verb == "create":
                    txn.create(target, b"c")
                elif verb == "set":
                    txn.set_data(target, b"changed")
                elif verb == "delete":
                    txn.delete(target)
                else:
                    txn.check(target, int(extra[0]))
            with pytest.raises(error_type) as info:
                await txn.run()
            assert type(info.value) is error_type
            assert info.value.path == path
            _assert_results(info.value, failing, len(ops))
            # Nothing was applied.
            assert await _snapshot(zk) == before, ops
        # With several failing operations, the first one decides.
        with pytest.raises(BadVersionError) as bad:
            await zk.multi().check("/a", 7).delete("/nope").run()
        _assert_results(bad.value, 0, 2)


async def test_a_failed_transaction_with_ttl_and_container_creates_applies_nothing(
    zk: ZooKeeper,
) -> None:
    with trio.fail_after(10):
        await zk.create("/taken")
        with pytest.raises(NodeExistsError) as info:
            await (
                zk.multi()
                .create("/c", mode=CreateMode.CONTAINER)
                .create("/c/x")
                .create("/t", mode=CreateMode.PERSISTENT_WITH_TTL, ttl=60_000)
                .create("/s-", mode=CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=60_000)
                .create("/e", mode=CreateMode.EPHEMERAL)
                .create("/taken")
                .run()
            )
        _assert_results(info.value, 5, 6)
        assert await zk.get_children("/") == ["taken"]
        # The sequence counter of the parent did not move either.
        assert await zk.create("/s-", mode=CreateMode.PERSISTENT_SEQUENTIAL) == "/s-0000000001"


async def test_multi_read_returns_values_and_errors_per_read(
    zk: ZooKeeper, connect: Connect
) -> None:
    with trio.fail_after(10):
        await zk.create("/r", b"data")
        await zk.create("/r/c1")
        await zk.create("/r/c2")
        await zk.create("/locked", b"x", acl=[make_digest_acl("bob", "pw")])
        await zk.create("/readonly", b"ro", acl=READ_ACL_UNSAFE)
        results = await (
            zk.multi_read()
            .get_data("/r")
            .get_children("/r")
            .get_data("/missing")
            .get_children("/missing")
            .get_data("/locked")
            .get_data("/readonly")
            .get_children("/r/c1")
            .run()
        )
        assert len(results) == 7
        assert isinstance(results[0], tuple)
        data, stat = results[0]
        assert data == b"data"
        assert stat == await zk.exists("/r")
        assert sorted(results[1]) == ["c1", "c2"]  # type: ignore[call-overload]
        assert type(results[2]) is NoNodeError
        assert type(results[3]) is NoNodeError
        assert type(results[4]) is NoAuthError
        assert results[5][0] == b"ro"  # type: ignore[index]
        assert results[6] == []
        # The same through another client with bob's credentials.
        async with connect(auth=[("digest", "bob:pw")]) as bob:
            (value,) = await bob.multi_read().get_data("/locked").run()
            assert value[0] == b"x"  # type: ignore[index]
        await zk.delete("/locked")  # the fixture cannot list it
