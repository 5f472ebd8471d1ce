"""A real ZooKeeper ensemble (several JVMs, one quorum) on loopback, for tests.

With ``dynamic=True`` the ensemble runs with dynamic reconfiguration
(``reconfigEnabled``) and its membership can change while it runs:
:meth:`ZooKeeperEnsemble.add_member`, :meth:`~ZooKeeperEnsemble.remove_member`
and :meth:`~ZooKeeperEnsemble.replace_member` start or stop JVMs and issue
the ``reconfig`` through a superuser client of this library.
"""

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
    generate_digest,
)
from ._tls import TLSMaterial, make_tls_material

__all__ = ["ZooKeeperEnsemble"]

_STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL, as ZooKeeperServer.stop
_POLL_INTERVAL = 0.05  # quorum polling period; a poll, never a synchronisation
_PROBE_TIMEOUT = 1.0  # bound on one `srvr` probe
_FOLLOWER_MODES = frozenset({"follower", "observer"})
#: The superuser password of a dynamic ensemble (reconfig needs super rights).
_RECONFIG_PASSWORD = "tzk-reconfig"
_RECONFIG_RETRY = 0.2  # pause between reconfig attempts that lost their connection


def _has_quorum(size: int, modes: Sequence[str], *, standalone: bool = True) -> bool:
    """Exactly one leader, every other probed member a follower, and a majority probed."""
    if size == 1 and standalone:
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

    With ``dynamic=True`` the members run with dynamic reconfiguration
    (``reconfigEnabled=true``, ``standaloneEnabled=false``, so even one
    member is a quorum of one; ``server.N`` lines carry each member's client
    address, which is what ``get_config`` reports), a superuser digest is set
    (:attr:`reconfig_auth` is the client credential), and the membership can
    be changed with :meth:`add_member`, :meth:`remove_member` and
    :meth:`replace_member`. A dynamic member's restart starts from the
    membership it was launched with, so restart members only before changing
    the membership.

    Args:
        size: Number of members (3 is the usual; 1 gives a standalone server,
            or with ``dynamic`` a quorum of one).
        dynamic: Enable dynamic reconfiguration (ZooKeeper 3.5+).
        **server_kwargs: Passed to every :class:`ZooKeeperServer`
            (``tick_time``, ``read_only_mode``, ``tls``, ``heap_mb``, ...).

    Raises:
        ValueError: ``size`` < 1 or a bad server argument.

    Attributes:
        members: The current members, in ``myid`` order (at first member
            ``i`` has myid ``i + 1``; see :meth:`myid`).
        reconfig_auth: With ``dynamic``, the ``(scheme, credential)`` of the
            superuser that may reconfigure (pass it in ``auth=``); else None.
    """

    def __init__(self, size: int = 3, *, dynamic: bool = False, **server_kwargs: Any) -> None:
        if size < 1:
            raise ValueError("an ensemble needs at least one member")
        self._size = size
        self._tls = bool(server_kwargs.get("tls", False))
        self._dynamic = dynamic
        self.reconfig_auth: tuple[str, str] | None = None
        if dynamic:
            if self._tls:
                raise ValueError("dynamic=True is not supported together with tls=True")
            if server_kwargs.get("super_digest") is None:
                server_kwargs["super_digest"] = generate_digest("super", _RECONFIG_PASSWORD)
                self.reconfig_auth = ("digest", f"super:{_RECONFIG_PASSWORD}")
        self._server_kwargs = dict(server_kwargs)
        self._myids: dict[int, int] = {}  # id(member) -> myid
        self._member_lines: dict[int, str] = {}  # myid -> the server.N value
        self._next_myid = size + 1
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
            server_lines[f"server.{index + 1}"] = self._server_line(peer, election, client)
            self._myids[id(member)] = index + 1
            self._member_lines[index + 1] = server_lines[f"server.{index + 1}"]
        for index, member in enumerate(self.members):
            member._quorum = _QuorumSpec(myid=index + 1, server_lines=self._config(server_lines))

    def _server_line(self, peer: int, election: int, client: int) -> str:
        if self._dynamic:
            return f"{LOOPBACK}:{peer}:{election}:participant;{LOOPBACK}:{client}"
        return f"{LOOPBACK}:{peer}:{election}"

    def _config(self, server_lines: dict[str, str]) -> dict[str, str]:
        """The quorum part of a member's zoo.cfg: server lines, and the reconfig switches."""
        lines = dict(server_lines)
        if self._dynamic:
            lines["reconfigEnabled"] = "true"
            lines["standaloneEnabled"] = "false"
        return lines

    # --- identity -------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of members."""
        return self._size

    @property
    def dynamic(self) -> bool:
        """Whether the membership can change (``dynamic=True``)."""
        return self._dynamic

    def myid(self, member: ZooKeeperServer) -> int:
        """The ``myid`` of a current member.

        Args:
            member: One of :attr:`members`.

        Returns:
            Its server id.

        Raises:
            ValueError: ``member`` is not a current member.
        """
        if member not in self.members:
            raise ValueError(f"{member!r} is not a member of {self!r}")
        return self._myids[id(member)]

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
            if _has_quorum(self._size, modes, standalone=not self._dynamic):
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
            if _has_quorum(self._size, modes, standalone=not self._dynamic):
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
                if mode == "leader" or (
                    self._size == 1 and not self._dynamic and mode == "standalone"
                ):
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

    # --- membership changes (dynamic=True) ------------------------------------------

    def _check_dynamic(self) -> None:
        if not self._dynamic:
            raise ZooKeeperHarnessError(
                f"{self!r} was not made with dynamic=True: its membership cannot change"
            )
        if self._closed:
            raise ZooKeeperHarnessError(f"{self!r} is closed")

    async def _reconfig(self, timeout: float, **change: str) -> None:  # noqa: ASYNC109
        """Run one reconfig as the superuser, retrying after a lost connection.

        A reconfig that removes the leader may lose its connection although it
        was applied; the configuration is then read back instead of issuing
        the change twice.
        """
        from .. import ConnectionLossError, open_zookeeper  # the client under test

        assert self.reconfig_auth is not None, "a dynamic ensemble made with its own super_digest"
        joining, leaving = change.get("joining"), change.get("leaving")
        with trio.fail_after(timeout):
            while True:
                async with open_zookeeper(
                    self.connect_string, auth=[self.reconfig_auth], session_timeout=10
                ) as admin:
                    try:
                        await admin.reconfig(joining=joining, leaving=leaving)
                        return
                    except ConnectionLossError:
                        pass
                    with contextlib.suppress(ConnectionLossError):
                        await admin.wait_connected()
                        config = (await admin.get_config())[0].decode()
                        if joining is not None and joining in config:
                            return
                        if leaving is not None and f"server.{leaving}=" not in config:
                            return
                await trio.sleep(_RECONFIG_RETRY)

    async def add_member(self, timeout: float = 90.0) -> ZooKeeperServer:  # noqa: ASYNC109
        """Start a new member and add it to the ensemble with ``reconfig -add``.

        The new JVM is started with the current membership plus itself, waits
        until it follows the leader, and is then made a voting participant.

        Args:
            timeout: Bound on the whole operation, in seconds.

        Returns:
            The new member (also appended to :attr:`members`).

        Raises:
            ZooKeeperHarnessError: The ensemble is not dynamic, or closed.
            ZooKeeperStartError: The new member did not start.
        """
        self._check_dynamic()
        deadline = time.monotonic() + timeout
        member = ZooKeeperServer(**self._server_kwargs)
        myid = self._next_myid
        self._next_myid += 1
        peer, election = free_ports(2)
        line = self._server_line(peer, election, member.port)
        lines = {f"server.{sid}": value for sid, value in self._member_lines.items()}
        lines[f"server.{myid}"] = line
        member._quorum = _QuorumSpec(myid=myid, server_lines=self._config(lines))
        try:
            await member.astart(max(1.0, deadline - time.monotonic()))
            await self._reconfig(
                max(1.0, deadline - time.monotonic()), joining=f"server.{myid}={line}"
            )
        except BaseException:
            await member.aclose()
            raise
        member._ports_fixed = True
        self._myids[id(member)] = myid
        self._member_lines[myid] = line
        self.members.append(member)
        self._size += 1
        await self.await_quorum(max(1.0, deadline - time.monotonic()))
        return member

    async def remove_member(
        self,
        member: ZooKeeperServer,
        timeout: float = 90.0,  # noqa: ASYNC109
    ) -> None:
        """Remove a member with ``reconfig -remove``, then stop its JVM and delete its files.

        Args:
            member: One of :attr:`members` (the leader too: the others elect a
                new one).
            timeout: Bound on the whole operation, in seconds.

        Raises:
            ZooKeeperHarnessError: The ensemble is not dynamic, or closed.
            ValueError: ``member`` is not a current member, or the last one.
        """
        self._check_dynamic()
        myid = self.myid(member)
        if self._size == 1:
            raise ValueError("cannot remove the last member of an ensemble")
        deadline = time.monotonic() + timeout
        await self._reconfig(timeout, leaving=str(myid))
        self.members.remove(member)
        del self._myids[id(member)]
        del self._member_lines[myid]
        self._size -= 1
        await member.aclose()
        await self.await_quorum(max(1.0, deadline - time.monotonic()))

    async def replace_member(
        self,
        member: ZooKeeperServer,
        timeout: float = 180.0,  # noqa: ASYNC109
    ) -> ZooKeeperServer:
        """Replace a member by a new one: add the new member, then remove the old one.

        Args:
            member: One of :attr:`members`.
            timeout: Bound on the whole operation, in seconds.

        Returns:
            The new member.

        Raises:
            ZooKeeperHarnessError: The ensemble is not dynamic, or closed.
            ValueError: ``member`` is not a current member.
        """
        self.myid(member)  # fail early
        deadline = time.monotonic() + timeout
        new = await self.add_member(max(1.0, deadline - time.monotonic()))
        await self.remove_member(member, max(1.0, deadline - time.monotonic()))
        return new

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
