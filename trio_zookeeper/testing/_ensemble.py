"""A real ZooKeeper ensemble (several JVMs, one quorum) on loopback, for tests."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import tempfile
import time
import weakref
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import trio

from ._server import (
    LOOPBACK,
    ZooKeeperHarnessError,
    ZooKeeperServer,
    ZooKeeperStartError,
    _QuorumSpec,
    find_zookeeper,
    free_ports,
)
from ._tls import TLSMaterial, make_tls_material

__all__ = ["ZooKeeperEnsemble"]

_STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL, as ZooKeeperServer.stop
_POLL_INTERVAL = 0.05  # quorum polling period; a poll, never a synchronisation
_PROBE_TIMEOUT = 1.0  # bound on one `srvr` probe
_FOLLOWER_MODES = frozenset({"follower", "observer"})


def _has_quorum(size: int, modes: Sequence[str]) -> bool:
    """Exactly one leader, every other probed member a follower, and a majority probed."""
    if size == 1:
        return list(modes) == ["standalone"]
    leaders = sum(1 for mode in modes if mode == "leader")
    followers = sum(1 for mode in modes if mode in _FOLLOWER_MODES)
    return leaders == 1 and leaders + followers == len(modes) and len(modes) > size // 2


class ZooKeeperEnsemble:
    """Several :class:`ZooKeeperServer` members forming one ZooKeeper quorum on loopback.

    Each member has its own client, peer and election ports
    (``server.N=127.0.0.1:peer:elect``) and ``myid``. Members are ordinary
    :class:`ZooKeeperServer` objects: stop, kill, pause, resume, restart and
    wipe them one by one; a member's :meth:`~ZooKeeperServer.start` waits until
    it serves as leader or follower, so it needs a quorum (pass ``wait=False``
    and then call :meth:`wait_quorum` when it cannot have one alone).

    With ``tls=True`` all members share one throwaway CA (:attr:`tls_ca_file`).

    Args:
        size: Number of members (3 is the usual; 1 gives a standalone server).
        **server_kwargs: Passed to every :class:`ZooKeeperServer`
            (``tick_time``, ``read_only_mode``, ``tls``, ``heap_mb``, ...).

    Raises:
        ValueError: ``size`` < 1 or a bad server argument.

    Attributes:
        members: The members, in ``myid`` order (member ``i`` has myid ``i + 1``).
    """

    def __init__(self, size: int = 3, **server_kwargs: Any) -> None:
        if size < 1:
            raise ValueError("an ensemble needs at least one member")
        self._size = size
        self._tls = bool(server_kwargs.get("tls", False))
        self.members: list[ZooKeeperServer] = []
        self._closed = False
        try:
            for _ in range(size):
                self.members.append(ZooKeeperServer(**server_kwargs))
        except BaseException:
            for member in self.members:
                member.close()
            raise
        self._directory = pathlib.Path(tempfile.mkdtemp(prefix="tzk-ensemble-"))
        self._dir_finalizer = weakref.finalize(
            self, shutil.rmtree, str(self._directory), ignore_errors=True
        )
        self.tls_material: TLSMaterial | None = None
        self._assign_ports()

    def _assign_ports(self) -> None:
        per_member = 4 if self._tls else 3
        ports = free_ports(per_member * self._size)
        server_lines: dict[str, str] = {}
        for index, member in enumerate(self.members):
            client, peer, election, *secure = ports[per_member * index : per_member * (index + 1)]
            member._assign_ports(client, secure[0] if secure else None)
            server_lines[f"server.{index + 1}"] = f"{LOOPBACK}:{peer}:{election}"
        for index, member in enumerate(self.members):
            member._quorum = _QuorumSpec(myid=index + 1, server_lines=dict(server_lines))

    # --- identity -------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of members."""
        return self._size

    @property
    def connect_string(self) -> str:
        """Every member's plain client port, as in ``"127.0.0.1:p1,127.0.0.1:p2,..."``."""
        return ",".join(member.connect_string for member in self.members)

    @property
    def secure_connect_string(self) -> str | None:
        """Every member's TLS client port, or ``None`` without ``tls``."""
        if not self._tls:
            return None
        return ",".join(f"{m.host}:{m.secure_port}" for m in self.members)

    @property
    def tls_ca_file(self) -> str | None:
        """The shared CA (PEM) verifying every secure port; ``None`` before start or without TLS."""
        return None if self.tls_material is None else str(self.tls_material.ca_file)

    def __repr__(self) -> str:
        return f"<ZooKeeperEnsemble {self.connect_string}>"

    # --- lifecycle ----------------------------------------------------------------

    def _prepare_tls(self) -> None:
        if self._tls and self.tls_material is None:
            java = None
            with contextlib.suppress(ZooKeeperHarnessError):  # reported by the launch itself
                java = find_zookeeper().java
            self.tls_material = make_tls_material(self._directory / "tls", java=java)
            for member in self.members:
                member.tls_material = self.tls_material

    def _launch_all(self) -> None:
        if self._closed:
            raise ZooKeeperHarnessError(f"{self!r} is closed")
        # Reverse order, as kazoo's harness does: the highest myid is then up
        # first and the election settles quickly.
        for member in reversed(self.members):
            if not member.is_running:
                member.start(wait=False)

    def _may_retry(self, attempt: int) -> bool:
        if attempt > 0 or any(m._ports_fixed for m in self.members):
            return False
        return any(m._bind_failed() for m in self.members)

    def _after_failed_start(self, attempt: int) -> bool:
        retry = self._may_retry(attempt)
        for member in self.members:
            member.kill()
        if retry:
            self._assign_ports()
        return retry

    def start(self, timeout: float = 60.0) -> None:
        """Start every member (in reverse order) and wait for a quorum (blocking).

        On a bind failure during the first start all ports are chosen again and
        the start is retried once.

        Args:
            timeout: Bound on the whole start, in seconds.

        Raises:
            ZooKeeperStartError: No quorum in time, or a member exited; every
                member is killed and the message has the log tails.
            ZooKeeperNotFoundError: Java or ZooKeeper is not installed.
        """
        deadline = time.monotonic() + timeout
        self._prepare_tls()
        for attempt in range(2):
            try:
                self._launch_all()
                self.wait_quorum(max(0.0, deadline - time.monotonic()))
            except ZooKeeperStartError:
                if self._after_failed_start(attempt):
                    continue
                raise
            except BaseException:
                for member in self.members:
                    member.kill()
                raise
            for member in self.members:
                member._ports_fixed = True
            return

    async def astart(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109 - as start()
        """Async :meth:`start`; cancelling it kills the members.

        Args:
            timeout: Bound on the whole start, in seconds.

        Raises:
            ZooKeeperStartError: As for :meth:`start`.
            ZooKeeperNotFoundError: Java or ZooKeeper is not installed.
        """
        deadline = time.monotonic() + timeout
        await trio.to_thread.run_sync(self._prepare_tls)
        for attempt in range(2):
            try:
                self._launch_all()
                await self.await_quorum(max(0.0, deadline - time.monotonic()))
            except ZooKeeperStartError:
                if self._after_failed_start(attempt):
                    continue
                raise
            except BaseException:
                for member in self.members:
                    member.kill()
                raise
            for member in self.members:
                member._ports_fixed = True
            return

    def _probed(self) -> list[ZooKeeperServer]:
        """Members to ask: running and not paused. A member that died on its own is an error."""
        for member in self.members:
            if member._exited_unexpectedly():
                tail = member._launch_log()
                code = member._proc.returncode if member._proc is not None else None
                member._forget_process()
                raise ZooKeeperStartError(
                    f"ensemble member {member.connect_string} exited with status {code}", tail
                )
        return [m for m in self.members if m.is_running and not m.is_paused]

    def _no_quorum(self, timeout: float, modes: Sequence[str]) -> ZooKeeperStartError:
        tails = "\n".join(
            f"--- member {i + 1} ({m.connect_string}) ---\n{m.log_tail(30)}"
            for i, m in enumerate(self.members)
        )
        return ZooKeeperStartError(
            f"no quorum within {timeout}s; last modes of running members: {list(modes)}", tails
        )

    def wait_quorum(self, timeout: float = 30.0) -> None:
        """Wait until the running, unpaused members show one leader and only followers.

        They must also be a majority of the ensemble. Members that were stopped,
        killed or paused on purpose are left out.

        Args:
            timeout: Bound on the wait, in seconds.

        Raises:
            ZooKeeperStartError: No quorum in time, or a member exited on its own.
        """
        deadline = time.monotonic() + timeout
        modes: list[str] = []
        while True:
            probed = self._probed()
            modes = []
            for member in probed:
                remaining = deadline - time.monotonic()
                modes.append(member.mode(timeout=max(0.01, min(_PROBE_TIMEOUT, remaining))))
            if _has_quorum(self._size, modes):
                return
            if time.monotonic() >= deadline:
                raise self._no_quorum(timeout, modes)
            time.sleep(min(_POLL_INTERVAL, max(0.0, deadline - time.monotonic())))

    async def await_quorum(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - as wait_quorum()
        """Async :meth:`wait_quorum` (a cancellable trio loop).

        Args:
            timeout: Bound on the wait, in seconds.

        Raises:
            ZooKeeperStartError: No quorum in time, or a member exited on its own.
        """
        deadline = time.monotonic() + timeout
        modes: list[str] = []
        while True:
            probed = self._probed()
            modes = []
            for member in probed:
                remaining = deadline - time.monotonic()
                modes.append(await member.amode(timeout=max(0.01, min(_PROBE_TIMEOUT, remaining))))
            if _has_quorum(self._size, modes):
                return
            if time.monotonic() >= deadline:
                raise self._no_quorum(timeout, modes)
            await trio.sleep(min(_POLL_INTERVAL, max(0.0, deadline - time.monotonic())))

    def leader(self) -> int:
        """Return the index in :attr:`members` of the current leader, asked with ``srvr``.

        Returns:
            The index (myid - 1).

        Raises:
            ZooKeeperHarnessError: No running member says it is the leader
                (for instance during an election).
        """
        modes = []
        for index, member in enumerate(self.members):
            if member.is_running and not member.is_paused:
                mode = member.mode(timeout=_PROBE_TIMEOUT)
                if mode == "leader" or (self._size == 1 and mode == "standalone"):
                    return index
                modes.append(mode)
        raise ZooKeeperHarnessError(f"no leader right now; modes of running members: {modes}")

    def modes(self) -> list[str]:
        """Every member's ``srvr`` mode (``""`` for stopped, paused or unreachable members).

        Returns:
            One mode per member, in :attr:`members` order.
        """
        return [
            m.mode(timeout=_PROBE_TIMEOUT) if m.is_running and not m.is_paused else ""
            for m in self.members
        ]

    def log_tails(self, lines: int = 100) -> dict[int, str]:
        """Every member's log tail.

        Args:
            lines: Lines per member.

        Returns:
            Member index → its last ``lines`` log lines.
        """
        return {index: member.log_tail(lines) for index, member in enumerate(self.members)}

    def restore(self, timeout: float = 60.0) -> None:
        """Undo member faults: resume paused members, start stopped ones, wait for a full quorum.

        Use it after a test that killed or paused members of a shared ensemble.

        Args:
            timeout: Bound on the whole operation, in seconds.

        Raises:
            ZooKeeperStartError: No quorum of all members in time.
        """
        deadline = time.monotonic() + timeout
        for member in self.members:
            if member.is_paused:
                member.resume()
        self._launch_all()
        self.wait_quorum(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Stop every member (keeping data), all at once: SIGTERM, 5 s grace, SIGKILL."""
        for member in self.members:
            member._begin_stop()
        deadline = time.monotonic() + _STOP_GRACE
        for member in self.members:
            member._finish_stop(deadline)

    def close(self) -> None:
        """Stop every member and delete every temporary directory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        for member in self.members:
            member.close()
        self._dir_finalizer()

    async def aclose(self) -> None:
        """Async :meth:`close`, in a worker thread. Idempotent."""
        await trio.to_thread.run_sync(self.close)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
