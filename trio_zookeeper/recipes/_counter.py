"""A shared counter: :class:`Counter`.

Node layout (kazoo compatible): one node whose data is ``repr(value)`` in
ASCII (``b"42"``, ``b"2.5"``); empty data means the default value.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import (
    ACL,
    BadVersionError,
    ConnectionLossError,
    NoNodeError,
    SessionExpiredError,
    ZooKeeper,
)
from ._common import check_acl, check_path, ensure_node, retry

__all__ = ["Counter"]


class Counter:
    """A shared int or float counter, changed by compare-and-set on the node version.

    Compatible with kazoo's ``Counter`` on the same path (both directions).

    Example::

        counter = Counter(zk, "/counters/jobs")         # int, default 0
        await counter.add(5)                           # -> 5
        await counter.subtract(2)                      # -> 3
        await counter.get()                            # -> 3
        ratio = Counter(zk, "/counters/ratio", default=0.5)
        await ratio.add(0.25)                          # -> 0.75

    Args:
        zk: The client.
        path: The counter node (created on first use).
        default: The value of a new counter; its type (int or float) is the
            counter's type.
        acl: The ACL of the nodes it creates; None for the client's default.

    Attributes:
        pre_value: The value before the last change made through this object.
        post_value: The value after it.
    """

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        default: float = 0,
        *,
        acl: Sequence[ACL] | None = None,
    ) -> None:
        self.acl = check_acl(acl)
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise TypeError("default must be an int or a float")
        self._zk = zk
        self.path = check_path(path)
        self.default = default
        self._type: type[int | float] = type(default)
        self.pre_value: int | float | None = None
        self.post_value: int | float | None = None
        # What our last change wrote and the version it made, when it met
        # no concurrent change: the next one writes against it directly.
        self._known: tuple[bytes, int] | None = None

    def _decode(self, data: bytes) -> int | float:
        if not data:
            return self.default
        return self._type(data.decode("ascii"))

    def _encode(self, value: float) -> bytes:
        return repr(value).encode("ascii")

    async def _read(self) -> tuple[bytes, int]:
        zk = self._zk
        while True:
            try:
                data, stat = await retry(zk, zk.get_data, self.path)
            except NoNodeError:
                await ensure_node(zk, self.path, self.acl)
                continue
            return data, stat.version

    async def get(self) -> int | float:
        """The current value.

        Returns:
            The value (the default for a new counter).
        """
        data, _ = await self._read()
        return self._decode(data)

    async def add(self, delta: float) -> int | float:
        """Add ``delta`` atomically (retrying on concurrent changes).

        When this object's last change met no concurrent one, the next
        starts by writing against the version that change left, with no
        read first (one round trip when nobody else writes; a stale version
        just fails and the node is read again).

        Args:
            delta: An int, or for a float counter an int or float.

        Returns:
            The new value.

        Raises:
            TypeError: ``delta`` does not fit the counter's type.
            ConnectionLossError: The connection dropped during the write and
                other writes followed, so whether ours was applied is unknown.
        """
        if isinstance(delta, bool) or not isinstance(delta, (int, float)):
            raise TypeError("delta must be a number")
        if self._type is int and not isinstance(delta, int):
            raise TypeError("an int counter takes int deltas")
        zk = self._zk
        contended = False
        while True:
            known, self._known = self._known, None
            raw, version = known if known is not None else await self._read()
            pre = self._decode(raw)
            post = pre + delta
            data = self._encode(post)
            try:
                stat = await zk.set_data(self.path, data, version=version)
            except (BadVersionError, NoNodeError):
                contended = True
                continue
            except (ConnectionLossError, SessionExpiredError) as exc:
                await zk.wait_connected()
                now, now_version = await self._read()
                if now_version == version:
                    continue  # not applied
                if now_version != version + 1 or now != data:
                    raise ConnectionLossError(
                        f"counter {self.path}: the connection dropped during the update and "
                        "the counter changed since; whether our update was applied is unknown"
                    ) from exc
                contended = True
            else:
                if not contended:
                    self._known = (data, stat.version)
            self.pre_value, self.post_value = pre, post
            return post

    async def subtract(self, delta: float) -> int | float:
        """Subtract ``delta`` atomically; see :meth:`add`.

        Returns:
            The new value.
        """
        return await self.add(-delta)
