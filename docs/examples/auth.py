"""Digest authentication and ACLs.

A ``digest`` credential is never rejected when it is presented: ZooKeeper
accepts any ``user:password`` and only checks it against the ACL of each node
the session touches. Wrong credentials therefore show up as
:class:`~trio_zookeeper.NoAuthError`, on access.

Run it with ``ZOOKEEPER_HOSTS=host:port python docs/examples/auth.py``.
"""

from __future__ import annotations

import os

import trio

from trio_zookeeper import (
    CREATOR_ALL_ACL,
    READ_ACL_UNSAFE,
    NoAuthError,
    Perm,
    make_digest_acl,
    open_zookeeper,
)


async def main(hosts: str) -> None:
    """Protect nodes with digest ACLs, then read them with and without credentials."""
    # Credentials given to open_zookeeper are sent on every connection, first.
    async with open_zookeeper(hosts, auth=[("digest", "alice:s3cret")]) as alice:
        # Only alice (and whoever has her password) may read or change it.
        await alice.create("/secret", b"alice's", acl=[make_digest_acl("alice", "s3cret")])
        # CREATOR_ALL_ACL: all rights to the identities the creator is
        # authenticated with (here digest alice), everybody else none.
        await alice.create("/mine", b"", acl=CREATOR_ALL_ACL)
        # Everybody may read, alice may also write.
        await alice.create(
            "/notice",
            b"hello",
            acl=[*READ_ACL_UNSAFE, make_digest_acl("alice", "s3cret", Perm.ALL)],
        )
        print("  alice is", [(i.auth_scheme, i.user) for i in await alice.who_am_i()])

    async with open_zookeeper(hosts) as anonymous:
        print("  anyone reads /notice:", (await anonymous.get_data("/notice"))[0])
        try:
            await anonymous.get_data("/secret")
        except NoAuthError:
            print("  anonymous may not read /secret")

        await anonymous.add_auth("digest", "alice:wrong")  # accepted!
        try:
            await anonymous.get_data("/secret")
        except NoAuthError:
            print("  a wrong password shows up only now, as NoAuthError")

        # Adding the right credential to the same session: it is re-sent on
        # every reconnect, like the ones given to open_zookeeper.
        await anonymous.add_auth("digest", "alice:s3cret")
        print("  with alice's password:", (await anonymous.get_data("/secret"))[0])

        for path in ("/secret", "/mine", "/notice"):
            await anonymous.delete(path)  # needs DELETE on the parent, not the node


if __name__ == "__main__":
    trio.run(main, os.environ.get("ZOOKEEPER_HOSTS", "127.0.0.1:2181"))
