"""Which server to try next: the host list, its rebalancing on change, and the backoff.

This module owns the client's choice of servers, without any I/O (no trio):

* :class:`HostProvider` follows the Java client's ``StaticHostProvider``: the
  host list is shuffled once per client; connection attempts go round it
  starting after the server last connected to; and
  :meth:`HostProvider.update` replaces the list with Java's probabilistic
  rebalancing (``updateServerList``, ZOOKEEPER-1355). When the list grows, a
  client whose server stays moves to one of the *new* servers with
  probability ``1 - old_size / new_size``, which leaves every server with the
  same expected number of clients; a client whose server left moves at once,
  to a new server with probability ``p_new`` and to a remaining old one
  otherwise, chosen so that the load again comes out even.
* :class:`Backoff` is the replaceable pause policy: a random pause before each
  reconnect (Java: 0-1 s) and, after a full round of hosts without a session,
  a pause that grows exponentially with jitter up to a cap.
* :data:`SHARED_RNG` and :data:`SHARED_NO_SHUFFLE` are the random sources of
  every client (one per process, reseeded in a forked child).
* :func:`parse_dynamic_config` reads the ensemble's dynamic configuration
  (``/zookeeper/config``) into the client addresses of its members, for
  ``track_ensemble``.

Name resolution happens in the session, at every attempt (every address
behind a name is a candidate, in shuffled order); here hosts are names.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence
from typing import Any

from ._hosts import HostPort
from ._protocol._tuplerecord import TupleRecord
from ._protocol._valuerecord import ValueRecord

__all__ = [
    "DEFAULT_BACKOFF",
    "SHARED_NO_SHUFFLE",
    "SHARED_RNG",
    "Backoff",
    "DynamicConfig",
    "HostListUpdate",
    "HostProvider",
    "parse_dynamic_config",
]


class Backoff(ValueRecord, kw_only=True):
    """How long the client pauses between connection attempts.

    Two pauses, as in the Java client, but the second one grows:

    * before each reconnect attempt (not the very first connect), a random
      pause in ``[0, attempt_jitter]`` seconds, so that many clients that lost
      the same server do not reconnect in step (Java: 0-1 s);
    * after a full round of hosts without a session, ``initial`` seconds,
      multiplied by ``factor`` after every further failed round, never more
      than ``maximum``; the last ``jitter`` fraction of each pause is random
      (``jitter=0.5``: uniform between half the pause and the whole pause).
      Java pauses a fixed 1 s here.

    The session caps both pauses further: the pause before an attempt is at
    most a sixth of the session timeout, a pause after a round at most a
    third of it while the client still holds a session, and no pause ever
    runs past the moment expiry is suspected (4/3 of the timeout without any
    server). After the session is gone the rounds back off up to ``maximum``.

    Replace the policy by passing another instance to
    ``open_zookeeper(reconnect_backoff=...)``, or a subclass overriding
    :meth:`attempt_pause` and :meth:`round_pause`.

    Attributes:
        initial: The pause after the first failed round, in seconds.
        factor: The growth factor per further failed round (1: constant).
        maximum: The longest pause after a round, in seconds.
        jitter: The random fraction of each round pause, in [0, 1].
        attempt_jitter: The longest random pause before each reconnect attempt.

    Raises:
        ValueError: A value is negative, ``factor`` is below 1, ``maximum`` is
            below ``initial`` or ``jitter`` is outside [0, 1].
    """

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 16.0
    jitter: float = 0.5
    attempt_jitter: float = 1.0

    def __attrs_post_init__(self) -> None:
        for name in ("initial", "maximum", "attempt_jitter"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < math.inf):
                raise ValueError(f"Backoff.{name} must be a finite number >= 0, not {value!r}")
        if not (isinstance(self.factor, (int, float)) and 1 <= self.factor < math.inf):
            raise ValueError(f"Backoff.factor must be a finite number >= 1, not {self.factor!r}")
        if self.maximum < self.initial:
            raise ValueError(
                f"Backoff.maximum ({self.maximum}) must not be below Backoff.initial"
                f" ({self.initial})"
            )
        if not (isinstance(self.jitter, (int, float)) and 0 <= self.jitter <= 1):
            raise ValueError(f"Backoff.jitter must be in [0, 1], not {self.jitter!r}")

    def attempt_pause(self, rng: random.Random, limit: float = math.inf) -> float:
        """The pause before one reconnect attempt.

        Args:
            rng: The client's random source.
            limit: The session's cap (a sixth of the session timeout).

        Returns:
            Seconds, uniform in ``[0, min(attempt_jitter, limit)]``.
        """
        return rng.uniform(0.0, min(self.attempt_jitter, limit))

    def round_pause(self, failed_rounds: int, rng: random.Random, limit: float = math.inf) -> float:
        """The pause after ``failed_rounds`` consecutive rounds of hosts without a session.

        Args:
            failed_rounds: 1 after the first failed round, 2 after the next...
            rng: The client's random source.
            limit: The session's cap (a third of the timeout while a session is held).

        Returns:
            Seconds: ``min(initial * factor ** (failed_rounds - 1), maximum, limit)``,
            of which the last ``jitter`` fraction is random.
        """
        exponent = max(0, failed_rounds - 1)
        # factor ** exponent overflows long before it matters: stop at maximum.
        base = self.initial
        for _ in range(exponent):
            base *= self.factor
            if base >= self.maximum:
                break
        pause = min(base, self.maximum, limit)
        return pause - pause * self.jitter * rng.random()


#: The policy of a client given no ``reconnect_backoff`` (frozen: one is enough).
DEFAULT_BACKOFF = Backoff()


class _NoShuffle(random.Random):
    """A Random whose shuffle keeps the order (``randomize_hosts=False``)."""

    def shuffle(self, x: Any) -> None:
        return None


#: The random source of every client: host order, address order, pauses and
#: rebalancing. One per process rather than one per client: seeding a
#: ``random.Random()`` reads 2.5 KB of ``os.urandom``, about 12 µs of each
#: connect. Clients draw from it one after the other, so their host orders
#: still differ; trio runs in several threads share it safely (each draw is
#: one call into C under the GIL, and none needs to be reproducible).
SHARED_RNG = random.Random()
#: The same for ``randomize_hosts=False``: the host order is kept, the pauses
#: are still random.
SHARED_NO_SHUFFLE = _NoShuffle()


def _reseed_after_fork() -> None:
    # A forked child must not replay its parent's draws: pre-forked workers
    # would all pick the same first server, which randomize_hosts is there
    # to prevent (the random module reseeds its own instance the same way).
    SHARED_RNG.seed()
    SHARED_NO_SHUFFLE.seed()


if hasattr(os, "register_at_fork"):  # pragma: no branch - absent on Windows only
    os.register_at_fork(after_in_child=_reseed_after_fork)


class HostListUpdate(TupleRecord, kw_only=False):
    """What :meth:`ZooKeeper.update_hosts` decided.

    Attributes:
        previous: The host list before, as ``host:port`` strings (in the
            client's shuffled order).
        hosts: The host list after.
        server: The server the client was connected to (None if it was not).
        move: Whether the client leaves its server (or, when not connected,
            tries the rebalancing choice first).
        reason: Why, in words (for logs and reports).
    """

    __slots__ = ()

    previous: tuple[str, ...]
    hosts: tuple[str, ...]
    server: str | None
    move: bool
    reason: str


class _Reconfig:
    """Java's reconfigMode: the old and new servers and the chance of a new one.

    A plain slotted class: an attrs class costs ~15 KiB at import.
    """

    __slots__ = ("index_new", "index_old", "new", "old", "p_new")

    def __init__(self, old: list[HostPort], new: list[HostPort], p_new: float) -> None:
        self.old = old
        self.new = new
        self.p_new = p_new
        self.index_old = -1
        self.index_new = -1

    def draw(self, rng: random.Random) -> HostPort | None:
        """Java's nextHostInReconfigMode: the next candidate, or None when all were tried."""
        take_new = rng.random() < self.p_new
        if self.index_new + 1 < len(self.new) and (take_new or self.index_old + 1 >= len(self.old)):
            self.index_new += 1
            return self.new[self.index_new]
        if self.index_old + 1 < len(self.old):
            self.index_old += 1
            return self.old[self.index_old]
        return None


class HostProvider:
    """The host list of one client and the order in which to try it.

    Args:
        hosts: The servers of the connect string.
        rng: The client's random source (it shuffles the list and decides
            rebalancing moves; seed it for reproducible tests).

    Raises:
        ValueError: ``hosts`` is empty.
    """

    def __init__(self, hosts: Sequence[HostPort], rng: random.Random) -> None:
        self._rng = rng
        self.hosts: tuple[HostPort, ...] = self._shuffled(hosts)
        self._last: HostPort | None = None
        self._reconfig: _Reconfig | None = None
        #: Incremented by every :meth:`update`: a round in progress starts over.
        self.generation = 0

    def _shuffled(self, hosts: Sequence[HostPort]) -> tuple[HostPort, ...]:
        unique = list(dict.fromkeys(hosts))
        if not unique:
            raise ValueError("no ZooKeeper hosts given")
        self._rng.shuffle(unique)
        return tuple(unique)

    def next_round(self, first: HostPort | None = None) -> list[HostPort]:
        """The servers to try, in order, for one round of connection attempts.

        After an update that asks for a move, the round is Java's reconfig
        order (new or old servers by the rebalancing probabilities); otherwise
        the list starting after the server last connected to, so that server
        comes last.

        Args:
            first: A server to try before the others (a read-write server
                found while on a read-only one).

        Returns:
            Every listed server once.
        """
        order: list[HostPort] = []
        if self._reconfig is not None:
            reconfig, self._reconfig = self._reconfig, None
            while (host := reconfig.draw(self._rng)) is not None:
                order.append(host)
            order += [h for h in self.hosts if h not in order]
        else:
            start = self.hosts.index(self._last) + 1 if self._last in self.hosts else 0
            order = list(self.hosts[start:] + self.hosts[:start])
        if first is not None and first in order:
            order.remove(first)
            order.insert(0, first)
        return order

    def connected(self, host: HostPort) -> None:
        """A session connection was made to ``host`` (Java's onConnected)."""
        self._last = host
        self._reconfig = None

    def update(self, hosts: Sequence[HostPort], current: HostPort | None) -> HostListUpdate:
        """Replace the host list (Java's ``updateServerList``).

        Args:
            hosts: The new servers.
            current: The server connected now, or None.

        Returns:
            The decision: whether to leave the current server, and why.

        Raises:
            ValueError: ``hosts`` is empty.
        """
        new_list = self._shuffled(hosts)
        previous = self.hosts
        my_server = current
        if self._reconfig is not None:
            # A move decided earlier and not yet made: where it would go.
            my_server = self._reconfig.draw(self._rng)
        if my_server is None:
            my_server = self._last if self._last in previous else previous[0]
        in_new = my_server in new_list
        old = [h for h in new_list if h in previous]
        new = [h for h in new_list if h not in previous]
        size, new_size = len(previous), len(new_list)
        move = True
        p_new = 1.0
        if new_size > size:
            if in_new:
                p_move = 1 - size / new_size
                if self._rng.random() < p_move:
                    reason = (
                        f"rebalancing: the list grew from {size} to {new_size} servers;"
                        f" moving to a new server (probability {p_move:.3f})"
                    )
                else:
                    move = False
                    reason = (
                        f"rebalancing: the list grew from {size} to {new_size} servers;"
                        f" staying on {my_server} (probability {1 - p_move:.3f})"
                    )
            else:
                reason = f"{my_server} is no longer listed; moving to a new server"
        elif in_new:
            move = False
            reason = f"{my_server} is still listed and the list did not grow; staying"
        else:
            denominator = new_size * (size - len(old))
            p_old = len(old) * (size - new_size) / denominator if denominator else 1.0
            p_new = 1 - p_old
            reason = (
                f"{my_server} is no longer listed; moving (to a new server with"
                f" probability {p_new:.3f}, else to a remaining one)"
            )
        self._reconfig = _Reconfig(old, new, p_new) if move else None
        self.hosts = new_list
        if self._last not in new_list:
            self._last = None
        self.generation += 1
        return HostListUpdate(
            previous=tuple(str(h) for h in previous),
            hosts=tuple(str(h) for h in new_list),
            server=None if current is None else str(current),
            move=move,
            reason=reason,
        )


class DynamicConfig(TupleRecord, kw_only=False):
    """The ensemble's dynamic configuration, as ``get_config`` returns it.

    Attributes:
        servers: ``server id → client address`` of every member (participants
            and observers) that has a client address.
        version: The configuration version (hex, as written), or None.
    """

    __slots__ = ()

    servers: dict[int, HostPort]
    version: str | None

    @property
    def hosts(self) -> list[HostPort]:
        """The client addresses, in server id order."""
        return [self.servers[key] for key in sorted(self.servers)]

    def connect_string(self) -> str:
        """The client addresses as a connect string (no chroot)."""
        return ",".join(str(h) for h in self.hosts)


_WILDCARDS = frozenset({"0.0.0.0", "::", "0:0:0:0:0:0:0:0"})


def _split_host(text: str, line: str) -> tuple[str, str]:
    """``host:rest`` or ``[v6]:rest`` → (host, rest)."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ValueError(f"bad server address in dynamic config line {line!r}")
        return text[1:close], text[close + 2 :]
    host, _, rest = text.partition(":")
    return host, rest


def parse_dynamic_config(data: bytes | str) -> DynamicConfig:
    """Parse ``/zookeeper/config``: ``server.N=host:quorum:election[:role];client`` lines.

    The client part is ``host:port`` or just ``port``; a wildcard or missing
    client host means "the server's own host" (as Curator's EnsembleTracker
    reads it). Members without a client part are left out: a client cannot
    reach them.

    Args:
        data: The configuration text.

    Returns:
        The members' client addresses and the version.

    Raises:
        ValueError: A ``server.N`` line is malformed; the message quotes it.
    """
    text = data.decode() if isinstance(data, bytes) else data
    servers: dict[int, HostPort] = {}
    version: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq:
            raise ValueError(f"bad dynamic config line {line!r}: no '='")
        if key == "version":
            version = value.strip()
            continue
        if not key.startswith("server."):
            continue
        try:
            sid = int(key[len("server.") :])
        except ValueError:
            raise ValueError(f"bad server id in dynamic config line {line!r}") from None
        quorum, semi, client = value.strip().partition(";")
        if not semi or not client.strip():
            continue
        server_host, _ = _split_host(quorum.strip(), line)
        client = client.strip()
        if client.isdigit():
            client_host, port_text = "", client
        else:
            client_host, port_text = _split_host(client, line)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad client port in dynamic config line {line!r}")
        if not client_host or client_host in _WILDCARDS:
            client_host = server_host
        if not client_host:
            raise ValueError(f"no host in dynamic config line {line!r}")
        servers[sid] = HostPort(client_host, int(port_text))
    return DynamicConfig(servers, version)
