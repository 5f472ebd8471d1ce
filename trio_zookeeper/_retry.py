"""Retrying idempotent work on connection loss, explicitly.

The client never resends a request by itself: after a
:class:`ConnectionLossError` the outcome of a write is unknown, and only the
caller knows whether doing it again is safe. :class:`Retry` is the documented
way to say "this is safe to repeat": it re-runs a coroutine function with
exponential back-off and jitter, waiting for the session to reconnect between
attempts.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import attrs
import trio

from ._protocol import ConnectionLossError, OperationTimeoutError, SessionExpiredError

__all__ = ["Retry", "RetryFailedError"]

P = ParamSpec("P")
T = TypeVar("T")


class RetryFailedError(Exception):
    """Every attempt failed; ``__cause__`` is the last attempt's error."""


@attrs.frozen(kw_only=True)
class Retry:
    """A retry policy for idempotent operations.

    Example::

        retry = Retry(max_tries=5)
        data, stat = await retry(zk.get_data, "/config")

    Bound the total time with a cancel scope (``with trio.fail_after(30):``);
    there is deliberately no ``deadline`` parameter.

    Attributes:
        max_tries: Attempts in all (None: until cancelled).
        delay: The pause after the first failure, in seconds.
        backoff: The factor applied to the pause after each failure.
        max_delay: The longest pause.
        jitter: Up to this fraction of each pause is added at random.
        retry_on_expiry: Also retry after SessionExpiredError (only for work
            that does not depend on the old session's ephemerals or watches).
        wait_connected: An optional ``async () -> None`` awaited before each
            new attempt, typically ``zk.wait_connected``.
        rng: The random source for jitter (seed it for reproducible tests).
    """

    max_tries: int | None = 5
    delay: float = 0.1
    backoff: float = 2.0
    max_delay: float = 10.0
    jitter: float = 0.2
    retry_on_expiry: bool = False
    wait_connected: Callable[[], Awaitable[None]] | None = None
    rng: random.Random = attrs.field(factory=random.Random)

    def _retryable(self) -> tuple[type[BaseException], ...]:
        errors: tuple[type[BaseException], ...] = (ConnectionLossError, OperationTimeoutError)
        if self.retry_on_expiry:
            errors += (SessionExpiredError,)
        return errors

    async def __call__(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)``, retrying on connection loss.

        Returns:
            What ``fn`` returned on its first successful attempt.

        Raises:
            RetryFailedError: ``max_tries`` attempts all failed.
            Exception: any error that is not retryable, unchanged.
        """
        retryable = self._retryable()
        delay = self.delay
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn(*args, **kwargs)
            except retryable as exc:
                if self.max_tries is not None and attempt >= self.max_tries:
                    raise RetryFailedError(f"gave up after {attempt} attempts: {exc!r}") from exc
            pause = min(delay, self.max_delay)
            pause += pause * self.jitter * self.rng.random()
            await trio.sleep(pause)
            delay *= self.backoff
            if self.wait_connected is not None:
                await self.wait_connected()
