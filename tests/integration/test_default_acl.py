"""``open_zookeeper(default_acl=...)``: the ACL of every node the client creates.

Each test checks the ACL the server stored, and what a second client with
another identity may do, so a default that was silently not applied fails.
"""

from __future__ import annotations

import contextlib

import pytest
import trio

from trio_zookeeper import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    CreateMode,
    NoAuthError,
    NoNodeError,
    Perm,
    ZooKeeper,
    make_acl,
    make_digest_acl,
)
from trio_zookeeper.recipes import Lock

from .conftest import Connect

pytestmark = pytest.mark.server

ALICE = ("digest", "alice:s3cret")
ALICE_ALL = (make_digest_acl("alice", "s3cret"),)
#: alice may do everything, everybody else may only read.
ALICE_ALL_WORLD_READ = (*ALICE_ALL, make_acl("world", "anyone", Perm.READ))


async def _clean(zk: ZooKeeper, *paths: str) -> None:
    """Delete what the test made (the plugin's clean-up has no rights on it)."""
    for path in paths:
        # Recipe directories are containers: the server may remove them meanwhile.
        with contextlib.suppress(NoNodeError):
            await zk.delete(path, recursive=True)


async def _acl(zk: ZooKeeper, path: str) -> list[ACL]:
    acl, _ = await zk.get_acl(path)
    return acl


async def test_create_makepath_and_ensure_path_use_the_default(connect: Connect) -> None:
    with trio.fail_after(15):
        async with connect(auth=[ALICE], default_acl=ALICE_ALL_WORLD_READ) as alice:
            assert alice.acl_for("/anything") == ALICE_ALL_WORLD_READ
            await alice.create("/a/b/c", b"x", makepath=True)
            await alice.ensure_path("/d/e")
            await alice.create("/own", acl=OPEN_ACL_UNSAFE)  # an explicit acl= wins
            for path in ("/a", "/a/b", "/a/b/c", "/d", "/d/e"):
                assert await _acl(alice, path) == list(ALICE_ALL_WORLD_READ), path
            assert await _acl(alice, "/own") == list(OPEN_ACL_UNSAFE)
            async with connect() as stranger:
                assert (await stranger.get_data("/a/b/c"))[0] == b"x"
                with pytest.raises(NoAuthError):
                    await stranger.set_data("/a/b/c", b"y")
                with pytest.raises(NoAuthError):
                    await stranger.create("/d/e/f")
                await stranger.set_data("/own", b"anyone may")
            await _clean(alice, "/a", "/d", "/own")


async def test_transactions_use_the_default(connect: Connect) -> None:
    with trio.fail_after(15):
        async with connect(auth=[ALICE], default_acl=CREATOR_ALL_ACL) as alice:
            await alice.multi().create("/t1", b"1").create("/t2", b"2").run()
            for path in ("/t1", "/t2"):
                assert await _acl(alice, path) == list(ALICE_ALL)
            async with connect() as stranger:
                with pytest.raises(NoAuthError):
                    await stranger.get_data("/t1")
            await _clean(alice, "/t1", "/t2")


async def test_a_provider_chooses_per_path(connect: Connect) -> None:
    seen: list[str] = []

    def provider(path: str) -> tuple[ACL, ...]:
        seen.append(path)
        return READ_ACL_UNSAFE + ALICE_ALL if path.startswith("/public") else ALICE_ALL

    with trio.fail_after(15):
        async with connect(auth=[ALICE], default_acl=provider) as alice:
            await alice.create("/public/x", makepath=True)
            await alice.create("/secret/y", makepath=True)
            assert await _acl(alice, "/public") == list(READ_ACL_UNSAFE + ALICE_ALL)
            assert await _acl(alice, "/public/x") == list(READ_ACL_UNSAFE + ALICE_ALL)
            assert await _acl(alice, "/secret") == list(ALICE_ALL)
            assert await _acl(alice, "/secret/y") == list(ALICE_ALL)
            # The provider sees chroot-relative paths, parents included.
            assert {"/public", "/public/x", "/secret", "/secret/y"} <= set(seen)
            async with connect() as stranger:
                await stranger.get_data("/public/x")
                with pytest.raises(NoAuthError):
                    await stranger.get_data("/secret/y")
            await _clean(alice, "/public", "/secret")


async def test_recipes_use_the_default(connect: Connect) -> None:
    with trio.fail_after(20):
        async with connect(auth=[ALICE], default_acl=ALICE_ALL_WORLD_READ) as alice:
            async with Lock(alice, "/locks/one", identifier="alice"):
                (node,) = await alice.get_children("/locks/one")
                for path in ("/locks", "/locks/one", f"/locks/one/{node}"):
                    assert await _acl(alice, path) == list(ALICE_ALL_WORLD_READ), path
                async with connect() as stranger:
                    with pytest.raises(NoAuthError):
                        await stranger.create("/locks/one/intruder", mode=CreateMode.EPHEMERAL)
            await _clean(alice, "/locks")


async def test_invalid_defaults_are_refused_up_front(connect: Connect) -> None:
    with trio.fail_after(15):
        with pytest.raises(ValueError, match="acl may not be empty"):
            async with connect(default_acl=()):
                pass
        with pytest.raises(TypeError, match="acl entries must be ACL records"):
            async with connect(default_acl=["world:anyone:cdrwa"]):
                pass
        async with connect(default_acl=lambda path: []) as zk:
            with pytest.raises(ValueError, match="invalid ACL for /x"):
                await zk.create("/x")
