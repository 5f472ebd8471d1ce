"""ACLs and authentication against the real server."""

from __future__ import annotations

import pytest
import trio

from trio_zookeeper import (
    ACL,
    ANYONE_ID_UNSAFE,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    BadVersionError,
    ClientInfo,
    Id,
    NoAuthError,
    Perm,
    ZooKeeper,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
    open_zookeeper,
)
from trio_zookeeper.testing import generate_digest, open_fault_proxy

from ._util import reconnected
from .conftest import Connect, Server

pytestmark = pytest.mark.server


def test_digest_credential_matches_the_servers() -> None:
    assert make_digest_acl_credential("alice", "s3cret") == generate_digest("alice", "s3cret")


async def test_creator_acl_becomes_the_sessions_digest_identity(
    zk: ZooKeeper, connect: Connect
) -> None:
    with trio.fail_after(10):
        await zk.add_auth("digest", "alice:s3cret")
        await zk.add_auth("digest", b"bob:pw")  # bytes credentials work too
        await zk.create("/mine", b"private", acl=CREATOR_ALL_ACL)
        acl, stat = await zk.get_acl("/mine")
        assert sorted(acl, key=lambda a: a.id.id) == [
            make_digest_acl("alice", "s3cret"),
            make_digest_acl("bob", "pw"),
        ]
        assert stat.aversion == 0
        assert (await zk.get_data("/mine"))[0] == b"private"
        async with connect() as stranger:
            with pytest.raises(NoAuthError):
                await stranger.get_data("/mine")
            with pytest.raises(NoAuthError):
                await stranger.get_acl("/mine")
        async with connect(auth=[("digest", "bob:pw")]) as bob:
            assert (await bob.get_data("/mine"))[0] == b"private"
            await bob.set_data("/mine", b"bob was here")
        assert (await zk.get_data("/mine"))[0] == b"bob was here"
        await zk.delete("/mine")


async def test_set_acl_checks_the_acl_version(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        _, created = await zk.create2("/node")
        read_only = [ACL(perms=Perm.READ | Perm.ADMIN, id=ANYONE_ID_UNSAFE)]
        stat = await zk.set_acl("/node", read_only, version=0)
        assert stat.aversion == 1
        assert stat.version == created.version  # the data version is not touched
        assert stat.mzxid == created.mzxid
        acl, stat2 = await zk.get_acl("/node")
        assert acl == read_only
        assert stat2 == stat
        with pytest.raises(BadVersionError):
            await zk.set_acl("/node", OPEN_ACL_UNSAFE, version=0)
        with pytest.raises(NoAuthError):
            await zk.set_data("/node", b"x")
        stat3 = await zk.set_acl("/node", OPEN_ACL_UNSAFE, version=1)
        assert stat3.aversion == 2
        await zk.set_data("/node", b"x")
        stat4 = await zk.set_acl("/node", OPEN_ACL_UNSAFE)  # -1: any version
        assert stat4.aversion == 3


async def test_each_permission_bit(zk: ZooKeeper) -> None:
    with trio.fail_after(10):

        def only(perms: Perm) -> list[ACL]:
            return [ACL(perms=perms, id=ANYONE_ID_UNSAFE)]

        await zk.create("/r", b"r", acl=only(Perm.READ))
        assert (await zk.get_data("/r"))[0] == b"r"
        assert await zk.get_children("/r") == []
        for write in (
            lambda: zk.set_data("/r", b"x"),
            lambda: zk.create("/r/c"),
            lambda: zk.set_acl("/r", OPEN_ACL_UNSAFE),
        ):
            with pytest.raises(NoAuthError):
                await write()

        await zk.create("/w", b"w", acl=only(Perm.WRITE | Perm.ADMIN))
        await zk.set_data("/w", b"written")
        with pytest.raises(NoAuthError):
            await zk.get_data("/w")
        # exists needs no permission.
        stat = await zk.exists("/w")
        assert stat is not None
        assert stat.version == 1

        await zk.create("/c", acl=only(Perm.CREATE | Perm.READ | Perm.ADMIN))
        await zk.create("/c/child")
        with pytest.raises(NoAuthError):
            await zk.delete("/c/child")  # DELETE is a permission of the parent

        await zk.create("/d", acl=only(Perm.DELETE | Perm.READ))
        with pytest.raises(NoAuthError):
            await zk.create("/d/child")

        await zk.create("/a", acl=only(Perm.ADMIN))
        with pytest.raises(NoAuthError):
            await zk.get_data("/a")
        await zk.set_acl("/a", OPEN_ACL_UNSAFE)
        assert await zk.get_data("/a") is not None

        # Clean up what the fixture's recursive delete could not.
        await zk.set_acl("/c", OPEN_ACL_UNSAFE)
        await zk.set_acl("/w", OPEN_ACL_UNSAFE)


async def test_ip_acl(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        await zk.create("/here", b"ok", acl=[make_acl("ip", "127.0.0.1")])
        await zk.create("/net", b"ok", acl=[make_acl("ip", "127.0.0.0/8")])
        await zk.create("/there", b"no", acl=[make_acl("ip", "10.1.2.3", Perm.ALL)])
        assert (await zk.get_data("/here"))[0] == b"ok"
        assert (await zk.get_data("/net"))[0] == b"ok"
        with pytest.raises(NoAuthError):
            await zk.get_data("/there")
        await zk.delete("/there")


async def test_who_am_i_lists_every_identity(zk: ZooKeeper, connect: Connect) -> None:
    with trio.fail_after(10):
        ip = ClientInfo(auth_scheme="ip", user="127.0.0.1")
        assert await zk.who_am_i() == [ip]
        await zk.add_auth("digest", "carol:pw")
        infos = await zk.who_am_i()
        assert ip in infos
        assert ClientInfo(auth_scheme="digest", user="carol") in infos
        async with connect(auth=[("digest", "dave:pw"), ("digest", "erin:pw")]) as other:
            users = {(i.auth_scheme, i.user) for i in await other.who_am_i()}
            assert users == {("ip", "127.0.0.1"), ("digest", "dave"), ("digest", "erin")}


async def test_credentials_are_sent_again_after_a_reconnect(
    zookeeper_server: Server, chroot: str, zk: ZooKeeper
) -> None:
    with trio.fail_after(20):
        await zk.add_auth("digest", "frank:pw")
        await zk.create("/franks", b"f", acl=CREATOR_ALL_ACL)
        async with (
            open_fault_proxy(zookeeper_server.host, zookeeper_server.port) as proxy,
            open_zookeeper(proxy.address + chroot, auth=[("digest", "frank:pw")]) as opened,
            open_zookeeper(proxy.address + chroot) as added,
            opened.session_states() as opened_states,
            added.session_states() as added_states,
        ):
            await added.add_auth("digest", "frank:pw")
            for client in (opened, added):
                assert (await client.get_data("/franks"))[0] == b"f"
            await proxy.reset()
            await reconnected(opened_states)
            await reconnected(added_states)
            for client in (opened, added):
                assert client.statistics().connections == 2
                assert (await client.get_data("/franks"))[0] == b"f"
                who = await client.who_am_i()
                assert [i for i in who if i.auth_scheme == "digest"] == [
                    ClientInfo(auth_scheme="digest", user="frank")
                ]
        await zk.delete("/franks")


async def test_acl_records_round_trip(zk: ZooKeeper) -> None:
    with trio.fail_after(10):
        acl = [
            ACL(perms=Perm.READ, id=Id(scheme="world", id="anyone")),
            make_acl("ip", "127.0.0.1", Perm.ALL),
            make_digest_acl("gina", "pw", Perm.READ | Perm.WRITE),
        ]
        await zk.create("/acl", acl=acl)
        assert (await zk.get_acl("/acl"))[0] == acl
