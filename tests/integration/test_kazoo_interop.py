"""Interoperability with kazoo on the same server and chroot.

kazoo is threaded: its calls run through ``trio.to_thread.run_sync`` and its
watch callbacks, which fire in kazoo's own thread, are handed to trio through
a thread-safe queue that is read with a deadline.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError as KazooNoAuthError
from kazoo.protocol.states import EventType as KazooEventType
from kazoo.security import make_digest_acl as kazoo_digest_acl

from trio_zookeeper import (
    CREATOR_ALL_ACL,
    AddWatchMode,
    CreateMode,
    EventType,
    KeeperState,
    NoAuthError,
    Perm,
    WatchedEvent,
    ZooKeeper,
    make_digest_acl,
)

from ._util import ThreadEvents
from .conftest import Connect

pytestmark = pytest.mark.server


async def _k(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking kazoo call in a worker thread."""
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def _ev(event_type: EventType, path: str) -> WatchedEvent:
    return WatchedEvent(event_type, KeeperState.SYNC_CONNECTED, path)


async def test_data_written_by_one_is_read_by_the_other(zk: ZooKeeper, kazoo: KazooClient) -> None:
    blob = bytes(range(256)) * 64
    with trio.fail_after(20):
        assert await _k(kazoo.create, "/from-kazoo", b"k1") == "/from-kazoo"
        data, stat = await zk.get_data("/from-kazoo")
        assert data == b"k1"
        await zk.set_data("/from-kazoo", blob)
        kdata, kstat = await _k(kazoo.get, "/from-kazoo")
        assert kdata == blob
        assert kstat.version == 1
        assert kstat.czxid == stat.czxid

        _, created = await zk.create2("/from-trio", b"t1")
        kdata, kstat = await _k(kazoo.get, "/from-trio")
        assert kdata == b"t1"
        assert (kstat.czxid, kstat.mzxid, kstat.version) == (
            created.czxid,
            created.mzxid,
            created.version,
        )
        await _k(kazoo.set, "/from-trio", b"t2", version=0)
        data, stat = await zk.get_data("/from-trio")
        assert (data, stat.version) == (b"t2", 1)
        await _k(kazoo.delete, "/from-trio")
        assert await zk.exists("/from-trio") is None
        # Empty data both ways.
        await _k(kazoo.create, "/empty")
        assert (await zk.get_data("/empty"))[0] == b""


async def test_children_created_by_one_are_listed_by_the_other(
    zk: ZooKeeper, kazoo: KazooClient
) -> None:
    with trio.fail_after(20):
        await zk.create("/parent")
        await zk.create("/parent/t-", mode=CreateMode.PERSISTENT_SEQUENTIAL)
        await _k(kazoo.create, "/parent/k-", b"", sequence=True)
        await _k(kazoo.create, "/parent/k-eph", b"", ephemeral=True)
        await zk.create("/parent/t-eph", mode=CreateMode.EPHEMERAL)
        expected = ["k-0000000001", "k-eph", "t-0000000000", "t-eph"]
        assert sorted(await zk.get_children("/parent")) == expected
        assert sorted(await _k(kazoo.get_children, "/parent")) == expected
        children, stat = await zk.get_children2("/parent")
        kchildren, kstat = await _k(kazoo.get_children, "/parent", include_data=True)
        assert sorted(children) == sorted(kchildren)
        assert (stat.cversion, stat.num_children, stat.pzxid) == (
            kstat.cversion,
            kstat.numChildren,
            kstat.pzxid,
        )
        # Each sees which ephemerals are whose.
        assert await zk.get_ephemerals("/parent") == ["/parent/t-eph"]
        kstat_eph = await _k(kazoo.exists, "/parent/k-eph")
        assert kstat_eph.ephemeralOwner == kazoo.client_id[0] != zk.session_id
        # Transactions of one are seen by the other.
        ktx = kazoo.transaction()
        ktx.create("/parent/ktx", b"k")
        ktx.set_data("/parent", b"by kazoo")
        created_path, set_stat = await _k(ktx.commit)
        assert created_path == "/parent/ktx"
        assert set_stat.version == 1
        await zk.multi().create("/parent/ttx", b"t").delete("/parent/ktx").run()
        assert sorted(await _k(kazoo.get_children, "/parent")) == sorted([*expected, "ttx"])
        assert (await zk.get_data("/parent"))[0] == b"by kazoo"


async def test_acls_set_by_one_are_honoured_and_read_by_the_other(
    zk: ZooKeeper, kazoo: KazooClient, zk_connect_string: str
) -> None:
    with trio.fail_after(20):
        # Ours, read and honoured by kazoo.
        acl = [make_digest_acl("ana", "pw", Perm.READ | Perm.WRITE | Perm.ADMIN)]
        await zk.create("/ours", b"ours", acl=acl)
        kazoo_made = kazoo_digest_acl("ana", "pw", read=True, write=True, admin=True)
        assert (kazoo_made.perms, kazoo_made.id.scheme, kazoo_made.id.id) == (
            acl[0].perms,
            acl[0].id.scheme,
            acl[0].id.id,
        )
        with pytest.raises(KazooNoAuthError):
            await _k(kazoo.get, "/ours")
        authed = KazooClient(hosts=zk_connect_string, auth_data=[("digest", "ana:pw")], timeout=10)
        await _k(authed.start, 15)
        try:
            kacl, kstat = await _k(authed.get_acls, "/ours")
            assert [(a.perms, a.id.scheme, a.id.id) for a in kacl] == [
                (a.perms, a.id.scheme, a.id.id) for a in acl
            ]
            assert kstat.aversion == 0
            assert (await _k(authed.get, "/ours"))[0] == b"ours"
            await _k(authed.set, "/ours", b"set by kazoo")
            # Theirs (by kazoo's digest helper), read and honoured by us.
            theirs = kazoo_digest_acl("ben", "pw", all=True)
            await _k(authed.create, "/theirs", b"theirs", acl=[theirs])
        finally:
            await _k(authed.stop)
            await _k(authed.close)
        with pytest.raises(NoAuthError):
            await zk.get_data("/theirs")
        await zk.add_auth("digest", "ben:pw")
        acl_read, stat = await zk.get_acl("/theirs")
        assert acl_read == [make_digest_acl("ben", "pw", Perm.ALL)]
        assert stat.aversion == 0
        assert (await zk.get_data("/theirs"))[0] == b"theirs"
        await zk.add_auth("digest", "ana:pw")
        assert (await zk.get_data("/ours"))[0] == b"set by kazoo"
        # CREATOR_ALL_ACL made by us, as kazoo sees it.
        await zk.create("/creator", acl=CREATOR_ALL_ACL)
        await _k(kazoo.add_auth, "digest", "ana:pw")
        kacl, _ = await _k(kazoo.get_acls, "/creator")
        assert sorted(a.id.id.split(":")[0] for a in kacl) == ["ana", "ben"]
        for path in ("/ours", "/theirs", "/creator"):
            await zk.delete(path)


async def test_our_ephemerals_disappear_for_kazoo_when_our_session_closes(
    connect: Connect, kazoo: KazooClient
) -> None:
    events = ThreadEvents()
    with trio.fail_after(20):
        async with connect() as ours:
            await ours.create("/eph", b"e", mode=CreateMode.EPHEMERAL)
            stat = await _k(kazoo.exists, "/eph", watch=events.put)
            assert stat.ephemeralOwner == ours.session_id
            children = await _k(kazoo.get_children, "/", watch=events.put)
            assert "eph" in children
        # Closing our session deleted the node at once, well within the
        # session timeout: kazoo's watches say so.
        got = {(await events.get(timeout=5)).type, (await events.get(timeout=5)).type}
        assert got == {KazooEventType.DELETED, KazooEventType.CHILD}
        assert await _k(kazoo.exists, "/eph") is None


async def test_kazoo_watches_fire_on_our_writes(zk: ZooKeeper, kazoo: KazooClient) -> None:
    events = ThreadEvents()
    with trio.fail_after(20):
        assert await _k(kazoo.exists, "/w", watch=events.put) is None
        await zk.create("/w", b"0")
        event = await events.get()
        assert (event.type, event.path) == (KazooEventType.CREATED, "/w")
        await _k(kazoo.get, "/w", watch=events.put)
        await _k(kazoo.get_children, "/w", watch=events.put)
        await zk.set_data("/w", b"1")
        event = await events.get()
        assert (event.type, event.path) == (KazooEventType.CHANGED, "/w")
        await zk.create("/w/kid")
        event = await events.get()
        assert (event.type, event.path) == (KazooEventType.CHILD, "/w")
        await _k(kazoo.exists, "/w/kid", watch=events.put)
        await zk.delete("/w/kid")
        event = await events.get()
        assert (event.type, event.path) == (KazooEventType.DELETED, "/w/kid")
        assert events.empty()


async def test_our_watches_fire_on_kazoos_writes(zk: ZooKeeper, kazoo: KazooClient) -> None:
    with trio.fail_after(20):
        _, on_create = await zk.with_watcher().exists("/k")
        await _k(kazoo.create, "/k", b"0")
        assert await on_create.receive() == _ev(EventType.NODE_CREATED, "/k")
        _, on_data = await zk.with_watcher().get_data("/k")
        _, on_children = await zk.with_watcher().get_children("/k")
        await _k(kazoo.set, "/k", b"1")
        assert await on_data.receive() == _ev(EventType.NODE_DATA_CHANGED, "/k")
        await _k(kazoo.create, "/k/kid", b"")
        assert await on_children.receive() == _ev(EventType.NODE_CHILDREN_CHANGED, "/k")
        async with zk.add_watch("/k", mode=AddWatchMode.PERSISTENT_RECURSIVE) as recursive:
            await _k(kazoo.set, "/k/kid", b"x")
            await _k(kazoo.delete, "/k", recursive=True)
            seen = [await recursive.receive() for _ in range(3)]
            assert seen == [
                _ev(EventType.NODE_DATA_CHANGED, "/k/kid"),
                _ev(EventType.NODE_DELETED, "/k/kid"),
                _ev(EventType.NODE_DELETED, "/k"),
            ]
        async with zk.watch_data("/k") as values:
            assert await anext(values) is None
            await _k(kazoo.create, "/k", b"again")
            value = await anext(values)
            assert value is not None
            assert value[0] == b"again"
