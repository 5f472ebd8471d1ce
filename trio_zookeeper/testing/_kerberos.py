"""A throwaway MIT Kerberos realm (a real ``krb5kdc``) on loopback, for tests.

:class:`KerberosRealm` creates a KDC database in a private temporary
directory with its own ``krb5.conf`` and ``kdc.conf``, starts ``krb5kdc`` on a
free loopback port, and makes principals, keytabs and credential caches on
demand. Everything is removed on :meth:`KerberosRealm.close`; the KDC process
is ended by its pid. The tools come from Debian's ``krb5-kdc``,
``krb5-admin-server`` and ``krb5-user`` packages.

A :class:`KerberosLogin` (from :meth:`KerberosRealm.server_login`) is what
:class:`~trio_zookeeper.testing.ZooKeeperServer` takes as ``kerberos=`` to
run a Kerberized server.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator
from typing import Self

import attrs
import trio

from ._server import (
    LOOPBACK,
    ZooKeeperHarnessError,
    _hard_kill,
    _live_lock,
    _live_processes,
    _pdeathsig_preexec,
    _read_tail,
    free_ports,
)

__all__ = ["KerberosLogin", "KerberosRealm", "KerberosToolMissingError"]

_SBIN = (pathlib.Path("/usr/sbin"), pathlib.Path("/usr/local/sbin"))
_TOOLS = {
    "krb5kdc": "krb5-kdc",
    "kdb5_util": "krb5-kdc",
    "kadmin.local": "krb5-admin-server",
    "kinit": "krb5-user",
    "klist": "krb5-user",
}
# Both MIT and Java 17 speak these; the RFC 8009 (sha2) types are left out for
# older Java runtimes.
_ENCTYPES = "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96"
_TOOL_TIMEOUT = 30.0
_START_TIMEOUT = 20.0
_STOP_GRACE = 5.0


class KerberosToolMissingError(ZooKeeperHarnessError):
    """An MIT Kerberos tool is not installed; the message names the Debian package."""


@attrs.frozen(kw_only=True)
class KerberosLogin:
    """A principal with its keytab, and the realm's ``krb5.conf``: what a Java service logs in with.

    Attributes:
        principal: The full principal, e.g. ``"zookeeper/localhost@TZK.TEST"``.
        keytab: Its keytab file.
        krb5_conf: The realm's ``krb5.conf`` (``-Djava.security.krb5.conf``).
    """

    principal: str
    keytab: pathlib.Path
    krb5_conf: pathlib.Path


def _find_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        for directory in _SBIN:
            candidate = directory / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        raise KerberosToolMissingError(
            f"the MIT Kerberos tool {name} is needed for Kerberos tests: apt-get install "
            "krb5-kdc krb5-admin-server krb5-user (or run scripts/bootstrap.sh as root)"
        )
    return found


class KerberosRealm:
    """A real MIT KDC for one realm on a free loopback port, for tests.

    Nothing runs until :meth:`start` (or ``with``/``async with``). Principals
    are made with :meth:`add_principal`; :meth:`keytab`, :meth:`kinit` and
    :meth:`server_login` give what clients and servers log in with. The
    client library of this process finds the realm through ``KRB5_CONFIG``:
    use :meth:`activate` around client code (it sets and restores the
    variable).

    Args:
        realm: The realm name (upper case by convention).
        max_life: The KDC's maximum ticket life, in ``kadmin`` duration syntax.

    Attributes:
        realm: The realm name.
        directory: The private temporary directory (configuration, database,
            keytabs, credential caches, ``kdc.log``).
        port: The KDC's port (TCP and UDP) on 127.0.0.1.
        krb5_conf: The client ``krb5.conf`` for this realm.
        kdc_conf: The KDC's ``kdc.conf``.
    """

    def __init__(self, realm: str = "TZK.TEST", *, max_life: str = "1h") -> None:
        if not realm or not all(c.isalnum() or c in ".-_" for c in realm):
            raise ValueError(f"realm {realm!r} must be letters, digits, '.', '-' or '_'")
        self.realm = realm
        self._max_life = max_life
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="tzk-kdc-"))
        self._dir_finalizer = weakref.finalize(
            self, shutil.rmtree, str(self.directory), ignore_errors=True
        )
        self.port = free_ports(1)[0]
        self.krb5_conf = self.directory / "krb5.conf"
        self.kdc_conf = self.directory / "kdc.conf"
        self._log = self.directory / "kdc.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._proc_finalizer: weakref.finalize[..., KerberosRealm] | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<KerberosRealm {self.realm} {LOOPBACK}:{self.port} {state}>"

    # --- configuration --------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment variables that point MIT tools and libraries at this realm."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf)}

    @property
    def is_running(self) -> bool:
        """Whether the KDC process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The KDC's process id while it runs."""
        return self._proc.pid if self.is_running and self._proc is not None else None

    def _write_config(self) -> None:
        kdc = f"{LOOPBACK}:{self.port}"
        self.krb5_conf.write_text(
            "[libdefaults]\n"
            f"    default_realm = {self.realm}\n"
            "    dns_lookup_kdc = false\n"
            "    dns_lookup_realm = false\n"
            "    dns_canonicalize_hostname = false\n"
            "    rdns = false\n"
            "    udp_preference_limit = 1\n"
            "    forwardable = false\n"
            f"    default_tkt_enctypes = {_ENCTYPES}\n"
            f"    default_tgs_enctypes = {_ENCTYPES}\n"
            f"    permitted_enctypes = {_ENCTYPES}\n"
            "    kdc_timeout = 3000\n"
            "    max_retries = 1\n"
            "[realms]\n"
            f"    {self.realm} = {{\n"
            f"        kdc = {kdc}\n"
            f"        admin_server = {kdc}\n"
            "    }\n"
            "[domain_realm]\n"
            f"    localhost = {self.realm}\n"
            f"    .localhost = {self.realm}\n"
        )
        supported = " ".join(f"{e}:normal" for e in _ENCTYPES.split())
        self.kdc_conf.write_text(
            "[kdcdefaults]\n"
            f"    kdc_listen = {kdc}\n"
            f"    kdc_tcp_listen = {kdc}\n"
            "[realms]\n"
            f"    {self.realm} = {{\n"
            f"        database_name = {self.directory / 'principal'}\n"
            f"        key_stash_file = {self.directory / 'stash'}\n"
            f"        acl_file = {self.directory / 'kadm5.acl'}\n"
            f"        kdc_listen = {kdc}\n"
            f"        kdc_tcp_listen = {kdc}\n"
            f"        max_life = {self._max_life}\n"
            "        max_renewable_life = 0\n"
            f"        supported_enctypes = {supported}\n"
            "    }\n"
            "[logging]\n"
            f"    kdc = FILE:{self._log}\n"
            f"    admin_server = FILE:{self._log}\n"
            f"    default = FILE:{self._log}\n"
        )
        (self.directory / "kadm5.acl").write_text("")

    def _run(self, tool: str, *args: str) -> str:
        try:
            done = subprocess.run(
                [_find_tool(tool), *args],
                env={**os.environ, **self.env},
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=_TOOL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ZooKeeperHarnessError(f"{tool} {' '.join(args)} timed out") from exc
        output = done.stdout.decode(errors="replace")
        if done.returncode != 0:
            raise ZooKeeperHarnessError(
                f"{tool} {' '.join(args)} failed (exit {done.returncode}):\n{output}"
            )
        return output

    def _kadmin(self, query: str) -> str:
        output = self._run("kadmin.local", "-r", self.realm, "-q", query)
        # kadmin.local reports many errors on stdout with exit status 0.
        for line in output.splitlines():
            if ": " in line and any(
                word in line for word in ("while ", "failed", "not found", "No such")
            ):
                raise ZooKeeperHarnessError(f"kadmin.local -q {query!r}: {line.strip()}")
        return output

    # --- lifecycle --------------------------------------------------------------------

    def start(self, timeout: float = _START_TIMEOUT) -> None:
        """Create the realm's database and start the KDC (blocking, bounded).

        Args:
            timeout: Bound on the start, in seconds.

        Raises:
            KerberosToolMissingError: A Kerberos tool is missing (message names the package).
            ZooKeeperHarnessError: A tool failed, the KDC exited or did not listen in time,
                or the realm is closed or already running.
        """
        if self._closed:
            raise ZooKeeperHarnessError(f"{self!r} is closed")
        if self.is_running:
            raise ZooKeeperHarnessError(f"{self!r} is already running")
        for tool in _TOOLS:
            _find_tool(tool)
        if not (self.directory / "principal").exists():
            self._write_config()
            self._run("kdb5_util", "create", "-s", "-r", self.realm, "-P", secrets.token_hex(16))
        with self._log.open("ab") as log:
            proc = subprocess.Popen(
                [_find_tool("krb5kdc"), "-n", "-r", self.realm],
                env={**os.environ, **self.env},
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_pdeathsig_preexec(),
            )
        with _live_lock:
            _live_processes[proc.pid] = proc
        self._proc = proc
        self._proc_finalizer = weakref.finalize(self, _hard_kill, proc)
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                self.stop()
                raise ZooKeeperHarnessError(
                    f"krb5kdc exited with status {proc.returncode} while starting:\n"
                    + _read_tail(self._log, 30)
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((LOOPBACK, self.port), timeout=1.0),
            ):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ZooKeeperHarnessError(
                    f"krb5kdc did not listen on {LOOPBACK}:{self.port} within {timeout} s:\n"
                    + _read_tail(self._log, 30)
                )
            time.sleep(0.05)  # a poll of the port, bounded by the deadline

    def stop(self) -> None:
        """End the KDC by its pid (SIGTERM, then SIGKILL after a grace). Keeps the database."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(_STOP_GRACE)
        _hard_kill(proc)
        if self._proc_finalizer is not None:
            self._proc_finalizer.detach()
            self._proc_finalizer = None
        self._proc = None

    def close(self) -> None:
        """Stop the KDC and delete the directory (database, keytabs, caches). Idempotent."""
        self.stop()
        self._closed = True
        self._dir_finalizer()  # a weakref.finalize runs once

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        await trio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await trio.to_thread.run_sync(self.close)

    # --- principals and credentials ---------------------------------------------------

    def principal(self, name: str) -> str:
        """The full principal name: ``name`` with ``@REALM`` appended unless present.

        Args:
            name: ``"alice"`` or ``"zookeeper/localhost"`` (or already with a realm).

        Returns:
            E.g. ``"alice@TZK.TEST"``.
        """
        return name if "@" in name else f"{name}@{self.realm}"

    def add_principal(
        self, name: str, *, password: str | None = None, max_life: str | None = None
    ) -> str:
        """Create a principal (random key unless ``password``).

        Args:
            name: The principal, with or without ``@REALM``.
            password: Its password; by default a random key (use :meth:`keytab`).
            max_life: Its maximum ticket life (``kadmin`` syntax, e.g. ``"10 seconds"``).

        Returns:
            The full principal name.

        Raises:
            ValueError: The name or password contains quotes or whitespace.
            ZooKeeperHarnessError: kadmin failed (e.g. the principal exists).
        """
        full = self.principal(name)
        for value in (full, password or "", max_life or ""):
            if '"' in value or "\n" in value:
                raise ValueError(f"{value!r} may not contain quotes or newlines")
        if any(c.isspace() for c in full):
            raise ValueError(f"principal {full!r} may not contain whitespace")
        options = "-randkey" if password is None else f'-pw "{password}"'
        if max_life is not None:
            options += f' -maxlife "{max_life}"'
        self._kadmin(f"addprinc {options} {full}")
        return full

    def delete_principal(self, name: str) -> None:
        """Delete a principal (its keytabs stop working at the next login).

        Args:
            name: The principal, with or without ``@REALM``.
        """
        self._kadmin(f"delprinc -force {self.principal(name)}")

    def keytab(self, name: str) -> pathlib.Path:
        """Export a principal's current keys to a keytab file (without changing them).

        Args:
            name: The principal, with or without ``@REALM``.

        Returns:
            The keytab path, inside :attr:`directory`.
        """
        full = self.principal(name)
        path = self.directory / ("keytab-" + full.replace("/", "_").replace("@", "_"))
        path.unlink(missing_ok=True)
        self._kadmin(f"ktadd -norandkey -k {path} {full}")
        path.chmod(0o600)
        return path

    def kinit(self, name: str, *, lifetime: str | None = None) -> str:
        """Log a principal in from its keytab into a new file credential cache.

        Args:
            name: The principal, with or without ``@REALM``.
            lifetime: The requested ticket lifetime (``kinit -l`` syntax, e.g. ``"2s"``).

        Returns:
            The credential cache name, ``"FILE:/..."``.
        """
        full = self.principal(name)
        ccache = f"FILE:{self.directory / ('ccache-' + secrets.token_hex(6))}"
        args = ["-k", "-t", str(self.keytab(full)), "-c", ccache]
        if lifetime is not None:
            args += ["-l", lifetime]
        self._run("kinit", *args, full)
        return ccache

    def ccache_valid(self, ccache: str) -> bool:
        """Whether the credential cache holds an unexpired ticket (``klist -s``).

        Args:
            ccache: The credential cache name.

        Returns:
            True while its tickets are valid.
        """
        done = subprocess.run(
            [_find_tool("klist"), "-s", "-c", ccache],
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_TOOL_TIMEOUT,
            check=False,
        )
        return done.returncode == 0

    def server_login(self, name: str = "zookeeper/localhost") -> KerberosLogin:
        """Create a service principal and its keytab, for ``ZooKeeperServer(kerberos=...)``.

        Args:
            name: The service principal, ``"zookeeper/localhost"`` by default
                (what a client connecting to 127.0.0.1 or localhost asks for).

        Returns:
            The principal, keytab and ``krb5.conf``.
        """
        full = self.add_principal(name)
        return KerberosLogin(principal=full, keytab=self.keytab(full), krb5_conf=self.krb5_conf)

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Point this process's Kerberos library at the realm (``KRB5_CONFIG``), then restore.

        Yields:
            Nothing; the variable is restored on exit.
        """
        old = os.environ.get("KRB5_CONFIG")
        os.environ["KRB5_CONFIG"] = str(self.krb5_conf)
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("KRB5_CONFIG", None)
            else:
                os.environ["KRB5_CONFIG"] = old
