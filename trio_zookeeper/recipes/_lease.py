"""A time-limited, non-blocking lease: :class:`Lease`.

Node layout (kazoo ``NonBlockingLease`` compatible): under the lease node, a
lock (kazoo ``Lock`` nodes) serialises the contenders, and the
``lease_holder`` child holds JSON ``{"version": 1, "holder": identifier,
"end": "YYYY-MM-DDTHH:MM:SS"}`` (UTC).
"""

from __future__ import annotations

import datetime
import json
import socket
from collections.abc import Callable, Sequence
from typing import ClassVar

from .. import ACL, ConnectionLossError, NoNodeError, SessionExpiredError, ZooKeeper, ZooKeeperError
from ._common import Layout, check_acl, check_path, ensure_node, join_path, retry
from ._lock import _Contender

__all__ = ["Lease"]

_FORMAT = "%Y-%m-%dT%H:%M:%S"
_VERSION = 1


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class _LeaseLock(_Contender):
    _NAMES: ClassVar[dict[Layout, tuple[str, frozenset[str]]]] = {
        Layout.KAZOO: ("__lock__", frozenset({"__lock__"})),
        Layout.CURATOR: ("lock-", frozenset({"lock-"})),
    }


class Lease:
    """An exclusive lease for a duration, obtained without waiting for it.

    :meth:`obtain` returns at once whether we hold the lease (it only waits
    for the short lock that serialises contenders). The holder renews it by
    obtaining it again with the same identifier. It relies on the clients'
    clocks being roughly in sync (UTC), as kazoo's ``NonBlockingLease``.

    Example::

        lease = Lease(zk, "/leases/hourly-cleanup", datetime.timedelta(minutes=70),
                      identifier="cleanup on host-a")
        if await lease.obtain():
            await cleanup()

    Args:
        zk: The client.
        path: The lease node.
        duration: How long the lease is reserved (timedelta or seconds).
        identifier: Our identity; reuse it to renew (default: host name).
        utcnow: The clock, returning a naive UTC datetime (a test seam).
        acl: The ACL of the nodes it creates; None for the client's default.

    Attributes:
        obtained: The result of the last :meth:`obtain`.
    """

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        duration: datetime.timedelta | float,
        identifier: str | None = None,
        *,
        utcnow: Callable[[], datetime.datetime] = _utcnow,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        self.acl = check_acl(acl)
        if not isinstance(duration, datetime.timedelta):
            duration = datetime.timedelta(seconds=duration)
        self._zk = zk
        self.path = check_path(path)
        self.duration = duration
        self.identifier = identifier or socket.gethostname()
        self._utcnow = utcnow
        self.obtained = False

    def __bool__(self) -> bool:
        return self.obtained

    async def obtain(self) -> bool:
        """Try to obtain (or renew) the lease.

        Returns:
            True if we hold the lease until ``now + duration``.
        """
        zk = self._zk
        self.obtained = False
        await ensure_node(zk, self.path, self.acl)
        holder = join_path(self.path, "lease_holder")
        lock = _LeaseLock(zk, self.path, self.identifier, acl=self.acl)
        await lock._acquire()
        try:
            now = self._utcnow()
            try:
                raw, stat = await retry(zk, zk.get_data, holder)
            except NoNodeError:
                raw, version = None, -1
            else:
                version = stat.version
            if raw is not None:
                try:
                    current = json.loads(raw.decode("utf-8"))
                    if current["version"] != _VERSION:
                        return False  # a newer format: leave it to newer clients
                    end = datetime.datetime.strptime(current["end"], _FORMAT)
                    if current["holder"] != self.identifier and now < end:
                        return False
                except (ValueError, KeyError, TypeError):
                    pass  # unreadable: take it over
            data = json.dumps(
                {
                    "version": _VERSION,
                    "holder": self.identifier,
                    "end": (now + self.duration).strftime(_FORMAT),
                }
            ).encode("utf-8")
            tx = zk.multi()
            if raw is not None:
                tx.delete(holder, version)
            tx.create(holder, data, acl=self.acl)
            try:
                await tx.run()
            except (ConnectionLossError, SessionExpiredError):
                await zk.wait_connected()
                try:
                    now_data, _ = await retry(zk, zk.get_data, holder)
                except NoNodeError:
                    return False
                self.obtained = now_data == data
                return self.obtained
            except ZooKeeperError:
                return False
            self.obtained = True
            return True
        finally:
            await lock._release()
