"""Group membership: :class:`Party` and :class:`ShallowParty`.

Node layout (kazoo compatible): a :class:`Party` directory holds one
ephemeral ``<uuid4 hex>__party__`` node per member with the identifier as
data; a :class:`ShallowParty` puts the identifier in the name,
``<uuid4 hex>-<identifier>``, so listing members is one call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

import trio

from .. import ACL, CreateMode, NoNodeError, ZooKeeper
from ._common import (
    check_acl,
    check_path,
    guaranteed_delete,
    join_path,
    new_guid,
    protected_create,
    retry,
)

__all__ = ["Party", "ShallowParty"]


class _BaseParty:
    def __init__(
        self, zk: ZooKeeper, path: str, identifier: str = "", *, acl: Sequence[ACL] | None = None
    ) -> None:
        self.acl = check_acl(acl)
        self._zk = zk
        self.path = check_path(path)
        self.identifier = str(identifier)
        self._guid = new_guid()
        self.node = join_path(self.path, self._node_name())
        self._session_id = 0

    def _node_name(self) -> str:
        raise NotImplementedError

    def _is_member(self, name: str) -> bool:
        raise NotImplementedError

    async def _identifiers(self, children: list[str]) -> list[str]:
        raise NotImplementedError

    @property
    def participating(self) -> bool:
        """True while our member node exists on the current session (as far as we know)."""
        return self._session_id != 0 and self._session_id == self._zk.session_id

    async def join(self) -> None:
        """Join the party (idempotent; re-joins after a session expiry)."""
        if self.participating:
            await trio.lowlevel.checkpoint()
            return
        _, stat = await protected_create(
            self._zk,
            self.path,
            self._node_name(),
            self.identifier.encode("utf-8"),
            CreateMode.EPHEMERAL,
            acl=self.acl,
            persistent_parent=True,  # kazoo's Party relies on its directory
        )
        self._session_id = stat.ephemeral_owner

    async def leave(self) -> None:
        """Leave the party (guaranteed delete of our node)."""
        session_id, self._session_id = self._session_id, 0
        if session_id:
            await guaranteed_delete(self._zk, self.node, session_id)

    async def _children(self) -> list[str]:
        try:
            children = await retry(self._zk, self._zk.get_children, self.path)
        except NoNodeError:
            return []
        return sorted(c for c in children if self._is_member(c))

    async def members(self) -> list[str]:
        """The identifiers of the members (ordered by node name).

        Returns:
            The identifiers.
        """
        return await self._identifiers(await self._children())

    async def count(self) -> int:
        """How many members there are.

        Returns:
            The number of member nodes.
        """
        return len(await self._children())

    @asynccontextmanager
    async def watch(self) -> AsyncIterator[AsyncIterator[list[str]]]:
        """Follow the membership: the current members, then the members after each change.

        Changes are coalesced (you get the latest list, not every step).

        Yields:
            An async iterator of identifier lists.
        """
        async with self._zk.watch_children(self.path) as follower:
            yield _Members(self, follower)

    async def __aenter__(self) -> Self:
        await self.join()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.leave()


class _Members:
    """The iterator of :meth:`_BaseParty.watch` (a class, not an async generator)."""

    def __init__(self, party: _BaseParty, follower: AsyncIterator[list[str] | None]) -> None:
        self._party = party
        self._follower = follower

    def __aiter__(self) -> _Members:
        return self

    async def __anext__(self) -> list[str]:
        children = await anext(self._follower)
        names = sorted(c for c in children or () if self._party._is_member(c))
        return await self._party._identifiers(names)


class Party(_BaseParty):
    """Group membership: who is in the party, with an identifier each.

    ``async with party:`` is a member for the block (``join``/``leave`` also
    exist). Compatible with kazoo's ``Party`` on the same path.

    Example::

        async with Party(zk, "/party/workers", identifier="worker-1") as party:
            print(await party.members())   # ["worker-1", "worker-2"]

    Args:
        zk: The client.
        path: The party directory (a container).
        identifier: Our member data.
        acl: The ACL of the nodes it creates; None for the client's default.
    """

    _SUFFIX = "__party__"

    def _node_name(self) -> str:
        return self._guid + self._SUFFIX

    def _is_member(self, name: str) -> bool:
        return self._SUFFIX in name

    async def _identifiers(self, children: list[str]) -> list[str]:
        out = []
        for child in children:
            try:
                data, _ = await retry(self._zk, self._zk.get_data, join_path(self.path, child))
            except NoNodeError:
                continue
            out.append(data.decode("utf-8", "replace"))
        return out


class ShallowParty(_BaseParty):
    """Like :class:`Party`, with the identifier in the node name (one call to list).

    The identifier must be a valid node name (no ``/``). Compatible with
    kazoo's ``ShallowParty``.

    Example::

        async with ShallowParty(zk, "/party/web", identifier="10.0.0.7") as party:
            print(await party.members())

    Args:
        zk: The client.
        path: The party directory (a container).
        identifier: Our identifier.
        acl: The ACL of the nodes it creates; None for the client's default.
    """

    def __init__(
        self, zk: ZooKeeper, path: str, identifier: str = "", *, acl: Sequence[ACL] | None = None
    ) -> None:
        if "/" in str(identifier):
            raise ValueError("a ShallowParty identifier may not contain '/'")
        super().__init__(zk, path, identifier, acl=acl)

    def _node_name(self) -> str:
        return f"{self._guid}-{self.identifier}"

    def _is_member(self, name: str) -> bool:
        return "-" in name

    async def _identifiers(self, children: list[str]) -> list[str]:
        await trio.lowlevel.checkpoint()
        return [child.split("-", 1)[1] for child in children]
