"""ACL constants and helpers, computed as ZooKeeper computes them."""

from __future__ import annotations

import base64
import hashlib

from ._protocol import ACL, Id, Perm

__all__ = [
    "ANYONE_ID_UNSAFE",
    "AUTH_IDS",
    "CREATOR_ALL_ACL",
    "OPEN_ACL_UNSAFE",
    "READ_ACL_UNSAFE",
    "make_acl",
    "make_digest_acl",
    "make_digest_acl_credential",
]

#: The identity ``world:anyone``, which stands for everybody.
ANYONE_ID_UNSAFE = Id(scheme="world", id="anyone")
#: The identity ``auth:``, which stands for whoever is authenticated on the creating session.
AUTH_IDS = Id(scheme="auth", id="")
#: Everybody may do everything (ZooDefs.Ids.OPEN_ACL_UNSAFE).
OPEN_ACL_UNSAFE: tuple[ACL, ...] = (ACL(perms=Perm.ALL, id=ANYONE_ID_UNSAFE),)
#: The creator's authenticated identities may do everything (CREATOR_ALL_ACL).
CREATOR_ALL_ACL: tuple[ACL, ...] = (ACL(perms=Perm.ALL, id=AUTH_IDS),)
#: Everybody may read (READ_ACL_UNSAFE).
READ_ACL_UNSAFE: tuple[ACL, ...] = (ACL(perms=Perm.READ, id=ANYONE_ID_UNSAFE),)


def make_acl(scheme: str, credential: str, perms: Perm | int = Perm.ALL) -> ACL:
    """An ACL entry granting ``perms`` to ``scheme:credential``.

    Args:
        scheme: The scheme (``world``, ``auth``, ``digest``, ``ip``, ``sasl``, ...).
        credential: The id within the scheme.
        perms: Permission bits.

    Returns:
        The ACL entry.
    """
    return ACL(perms=int(perms), id=Id(scheme=scheme, id=credential))


def make_digest_acl_credential(username: str, password: str) -> str:
    """The digest id ZooKeeper stores for ``username:password``.

    It is ``username:base64(sha1(b"username:password"))``, what the server's
    ``DigestAuthenticationProvider.generateDigest`` computes.

    Args:
        username: The user name (may not contain ``:``).
        password: The plain-text password.

    Returns:
        The credential to put in a ``digest`` ACL.
    """
    if ":" in username:
        raise ValueError(f"a digest user name may not contain ':': {username!r}")
    raw = f"{username}:{password}".encode()
    digest = base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii")
    return f"{username}:{digest}"


def make_digest_acl(username: str, password: str, perms: Perm | int = Perm.ALL) -> ACL:
    """A ``digest`` ACL entry for a user and password.

    The session must then authenticate with
    ``await zk.add_auth("digest", f"{username}:{password}")``.
    """
    return make_acl("digest", make_digest_acl_credential(username, password), perms)
