"""Curator's shared counter: :class:`SharedCount`.

Node layout (Apache Curator 5's ``SharedCount``): one persistent node whose
data is the value as a 4-byte big-endian signed int (41 is ``00 00 00 29``);
conditional sets compare the node's ``Stat.version``. Missing parents are
created as containers.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from .. import (
    ACL,
    BadVersionError,
    ConnectionLossError,
    CreateMode,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
    Stat,
    ZooKeeper,
)
from ._common import check_acl, check_path, ensure_parents, no_auth, retry

__all__ = ["SharedCount"]

_INT = struct.Struct(">i")


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {value!r}")
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"{what} must fit in a signed 32-bit int, not {value}")
    return value


def _decode(path: str, data: bytes) -> int:
    if len(data) != 4:
        raise ValueError(f"shared count {path} holds {len(data)} bytes, not a 4-byte int")
    value: int = _INT.unpack(data)[0]
    return value


class SharedCount:
    """A shared 32-bit integer (Curator ``SharedCount`` compatible, both directions).

    The node is created with ``seed`` on first use if it does not exist.
    :meth:`set` writes unconditionally, :meth:`try_set` only if the node still
    has the version you read (compare-and-set), and :meth:`changes` follows
    the value.

    Example::

        count = SharedCount(zk, "/counts/workers", seed=0)
        value, version = await count.get_versioned()
        if not await count.try_set(value + 1, version):
            ...  # somebody changed it first: read again
        async with count.changes() as values:
            async for value, version in values:
                ...

    Args:
        zk: The client.
        path: The count node.
        seed: The value of a new count.
        acl: The ACL of the node (and missing parents); None for the
            client's default.

    Raises:
        TypeError: ``seed`` is not an int.
        ValueError: ``seed`` does not fit in 32 bits.
    """

    def __init__(
        self, zk: ZooKeeper, path: str, seed: int = 0, *, acl: Sequence[ACL] | None = None
    ) -> None:
        self._zk = zk
        self.path = check_path(path)
        self.seed = _check_int(seed, "seed")
        self.acl = check_acl(acl)

    async def _ensure(self) -> None:
        zk = self._zk
        while True:
            try:
                await zk.create(
                    self.path, _INT.pack(self.seed), mode=CreateMode.PERSISTENT, acl=self.acl
                )
                return
            except NodeExistsError:
                return
            except NoNodeError:
                await ensure_parents(zk, self.path, self.acl)
            except (ConnectionLossError, SessionExpiredError):
                await zk.wait_connected()

    async def get_versioned(self) -> tuple[int, int]:
        """The value and the node's version (for :meth:`try_set`).

        Returns:
            ``(value, version)``.

        Raises:
            ValueError: The node does not hold a 4-byte value.
            NoAuthError: The node's ACL does not let this session read it.
        """
        zk = self._zk
        while True:
            try:
                data, stat = await retry(zk, zk.get_data, self.path)
            except NoNodeError:
                await self._ensure()
                continue
            except NoAuthError as exc:
                raise no_auth(self.path, "shared count", self.acl, exc) from None
            return _decode(self.path, data), stat.version

    async def get(self) -> int:
        """The current value.

        Returns:
            The value (the seed for a new count).
        """
        value, _ = await self.get_versioned()
        return value

    async def set(self, value: int) -> None:
        """Set the value unconditionally.

        Args:
            value: A signed 32-bit int.
        """
        data = _INT.pack(_check_int(value, "value"))
        zk = self._zk
        while True:
            try:
                await retry(zk, zk.set_data, self.path, data)
                return
            except NoNodeError:
                await self._ensure()
            except NoAuthError as exc:
                raise no_auth(self.path, "shared count", self.acl, exc) from None

    async def try_set(self, value: int, expected_version: int) -> bool:
        """Set the value only if the node still has ``expected_version``.

        Args:
            value: A signed 32-bit int.
            expected_version: The version from :meth:`get_versioned` (or
                :meth:`changes`).

        Returns:
            True if set; False if the count changed since that version.

        Raises:
            ConnectionLossError: The connection dropped during the write and
                the node changed since, so whether ours was applied is unknown.
        """
        data = _INT.pack(_check_int(value, "value"))
        expected_version = _check_int(expected_version, "expected_version")
        zk = self._zk
        try:
            await zk.set_data(self.path, data, version=expected_version)
        except (BadVersionError, NoNodeError):
            return False
        except NoAuthError as exc:
            raise no_auth(self.path, "shared count", self.acl, exc) from None
        except (ConnectionLossError, SessionExpiredError) as exc:
            await zk.wait_connected()
            try:
                now, stat = await retry(zk, zk.get_data, self.path)
            except NoNodeError:
                return False
            if stat.version == expected_version:
                return False  # not applied
            if stat.version == expected_version + 1 and now == data:
                return True
            raise ConnectionLossError(
                f"shared count {self.path}: the connection dropped during try_set and the "
                "count changed since; whether our value was written is unknown"
            ) from exc
        return True

    @asynccontextmanager
    async def changes(self) -> AsyncIterator[AsyncIterator[tuple[int, int]]]:
        """Follow the count: ``(value, version)`` now, then after each change.

        Changes made while a value is being re-read are coalesced (you get the
        latest value).

        Yields:
            An async iterator of ``(value, version)``.
        """
        await self._ensure()
        async with self._zk.watch_data(self.path) as follower:
            yield _Values(self.path, follower)


class _Values:
    def __init__(
        self,
        path: str,
        follower: AsyncIterator[tuple[bytes, Stat] | None],
    ) -> None:
        self._path = path
        self._follower = follower

    def __aiter__(self) -> _Values:
        return self

    async def __anext__(self) -> tuple[int, int]:
        while True:
            item = await anext(self._follower)
            if item is None:
                continue  # deleted: wait until it is created again
            data, stat = item
            return _decode(self._path, data), stat.version
