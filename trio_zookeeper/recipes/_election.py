"""Leader election: :class:`Election`.

Node layout with ``Layout.KAZOO``: the same as kazoo's ``Election`` (which
is a kazoo ``Lock``): one ephemeral sequential
``<uuid4 hex>__lock__<sequence>`` node per contender, with the identifier as
data; the lowest sequence is the leader. With ``Layout.CURATOR``: Curator's
``LeaderSelector`` (an ``InterProcessMutex``): ``_c_<uuid>-lock-<sequence>``
nodes whose data is the participant id. The directory is a container.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

from .. import ACL, Transaction, ZooKeeper, ZooKeeperError
from ._common import Layout, LeadershipLostError, LossPolicy
from ._lock import _Contender

__all__ = ["Election"]

T = TypeVar("T")


class _ElectionNode(_Contender):
    _NAMES: ClassVar[dict[Layout, tuple[str, frozenset[str]]]] = {
        Layout.KAZOO: ("__lock__", frozenset({"__lock__"})),
        Layout.CURATOR: ("lock-", frozenset({"lock-"})),
    }
    _WHAT = "leadership"

    def _lost_error(self, reason: str) -> ZooKeeperError:
        return LeadershipLostError(reason)


class Election:
    """Leader election: run code only while leader.

    ``async with election:`` waits until we lead (cancellably, leaving no
    contender node behind), then runs the block as leader. The block is
    cancelled when leadership may have been lost: when the connection is
    suspended (default) or, with ``cancel_on=LossPolicy.LOST``, only when the
    session is lost or our node deleted; the block then raises
    :class:`LeadershipLostError`. Leaving the block gives leadership up.
    Compatible with kazoo's ``Election`` on the same path, in both
    directions, including :meth:`contenders`; with
    ``layout=Layout.CURATOR``, with Curator's ``LeaderSelector`` instead
    (one leader at a time across Java and Python, the same participant
    order on both sides).

    Example::

        election = Election(zk, "/election/scheduler", identifier="host-a")
        print(await election.contenders())  # ["host-b", "host-a"]
        async with election:
            await run_scheduler()  # cancelled if leadership is lost

    Args:
        zk: The client.
        path: The election directory.
        identifier: Who we are, visible to every contender.
        cancel_on: When the leader's block is cancelled (:class:`LossPolicy`).
        layout: :attr:`Layout.KAZOO` or :attr:`Layout.CURATOR`.
        acl: The ACL of the nodes it creates; None for the client's default.
    """

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        identifier: str = "",
        *,
        cancel_on: LossPolicy = LossPolicy.SUSPENDED,
        layout: Layout = Layout.KAZOO,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        self._node = _ElectionNode(
            zk, path, identifier, cancel_on=cancel_on, layout=layout, acl=acl
        )
        self.layout = self._node.layout
        self.path = self._node.path
        self.identifier = self._node.identifier

    @property
    def is_leader(self) -> bool:
        """True while we lead (inside the block)."""
        return self._node.is_acquired

    @property
    def fencing_token(self) -> int:
        """The czxid of our contender node; it grows with each new leader.

        Raises:
            RuntimeError: We are not the leader.
        """
        return self._node.fencing_token

    def fenced(self) -> Transaction:
        """A transaction that applies only while our leadership node exists.

        Returns:
            A :class:`~trio_zookeeper.Transaction` starting with a check.

        Raises:
            RuntimeError: We are not the leader.
        """
        return self._node.fenced()

    async def contenders(self) -> list[str]:
        """The identifiers of every contender, the leader first.

        Returns:
            The identifiers, in election order.
        """
        return await self._node.contenders()

    async def leader(self) -> str | None:
        """The identifier of the current leader, or None if nobody contends.

        Returns:
            The leader's identifier.
        """
        contenders = await self.contenders()
        return contenders[0] if contenders else None

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Wait for leadership, run ``await fn(*args)`` as leader, then step down.

        Args:
            fn: The leader's work.
            *args: Its arguments.

        Returns:
            What ``fn`` returned.

        Raises:
            LeadershipLostError: Leadership was lost while ``fn`` ran (it was
                cancelled).
        """
        async with self:
            return await fn(*args)

    async def __aenter__(self) -> Self:
        await self._node.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._node.__aexit__(exc_type, exc, tb)
