"""Start and control a real ZooKeeper server (one JVM) on loopback, for tests.

The server runs ``org.apache.zookeeper.server.quorum.QuorumPeerMain`` with a
generated ``zoo.cfg`` in a private temporary directory, on free loopback ports,
with a small heap and fast-start JVM flags (docs/reliability.rst, "The test
harness"). Every wait is bounded and every JVM we start is killed when its
owner is closed, garbage collected, or when the interpreter exits.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Self

import attrs
import trio

from .._acl import make_digest_acl_credential
from ._fourlw import afour_letter_word, four_letter_word
from ._tls import TLSMaterial, make_tls_material

if TYPE_CHECKING:
    from ._kerberos import KerberosLogin

__all__ = [
    "ExternalServerError",
    "ExternalZooKeeperServer",
    "ZooKeeperHarnessError",
    "ZooKeeperInstallation",
    "ZooKeeperNotFoundError",
    "ZooKeeperServer",
    "ZooKeeperStartError",
    "find_zookeeper",
    "free_ports",
    "generate_digest",
    "parse_srvr",
]

LOOPBACK = "127.0.0.1"
_MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
_DEBIAN_JAVA_DIR = pathlib.Path("/usr/share/java")
# Debian's zookeeper.jar names its dependencies in its manifest, except an slf4j
# binding (no logs without it) and the Netty codec/resolver jars that the Netty
# connection factory needs for TLS (measured: NoClassDefFoundError
# io/netty/handler/codec/ByteToMessageDecoder without them).
_DEBIAN_EXTRA_JARS = ("slf4j-simple.jar", "netty-codec.jar", "netty-resolver.jar")
_INSTALL_HINT = (
    "Install ZooKeeper and Java (Debian/Ubuntu: `apt-get install zookeeper "
    "openjdk-17-jre-headless libslf4j-java`), or set ZOOKEEPER_CLASSPATH to a full "
    "Java classpath containing the ZooKeeper server jars, or ZOOKEEPER_HOME to an "
    "unpacked ZooKeeper release (jars under it or under its lib/), or set "
    "ZOOKEEPER_HOSTS=host:port to use an already running server."
)
_STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL (B2 teardown)
_REAP_TIMEOUT = 10.0  # bound on waiting for a SIGKILLed process to be reaped
_POLL_INTERVAL = 0.05  # readiness polling period; a poll, never a synchronisation
_PROBE_TIMEOUT = 1.0  # bound on one `srvr` probe while waiting
_BIND_FAILURE = re.compile(r"BindException|Address already in use")
_MODE = re.compile(r"^Mode: *(\S+)", re.MULTILINE)
_SASL_NAME = re.compile(r"^[A-Za-z0-9_$-]+$")
_SUPER_DIGEST = re.compile(r"^[^:\s]+:[A-Za-z0-9+/]+=*$")
_SERVING_MEMBER_MODES = frozenset({"leader", "follower", "observer", "standalone"})


class ZooKeeperHarnessError(RuntimeError):
    """Base class of the errors raised by the test harness."""


class ZooKeeperNotFoundError(ZooKeeperHarnessError):
    """No Java runtime or no ZooKeeper jars were found; the message says what to install."""


class ZooKeeperStartError(ZooKeeperHarnessError):
    """A server did not become ready in time, or exited while starting.

    Attributes:
        log_tail: The last lines of the server log(s), also included in the message.
    """

    def __init__(self, message: str, log_tail: str = "") -> None:
        full = f"{message}\n--- server log tail ---\n{log_tail}" if log_tail else message
        super().__init__(full)
        self.log_tail = log_tail


class ExternalServerError(ZooKeeperHarnessError):
    """A process-level operation was asked of a server the harness did not start."""


@attrs.frozen(kw_only=True)
class ZooKeeperInstallation:
    """Where the harness found Java and the ZooKeeper server classes.

    Attributes:
        java: Path of the ``java`` executable.
        classpath: The Java classpath used to run the server.
        source: Human-readable origin (which environment variable or directory).
    """

    java: str
    classpath: str
    source: str


def _find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = pathlib.Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise ZooKeeperNotFoundError(
            f"no `java` executable (JAVA_HOME/bin or PATH). {_INSTALL_HINT}"
        )
    return found


def find_zookeeper() -> ZooKeeperInstallation:
    """Locate Java and the ZooKeeper server jars.

    The classpath comes from, in order: ``ZOOKEEPER_CLASSPATH`` (used as is),
    ``ZOOKEEPER_HOME`` (every ``*.jar`` directly under it or under its ``lib/``,
    plus its ``conf/`` for the logging configuration), or Debian's
    ``/usr/share/java/zookeeper.jar`` (plus ``slf4j-simple.jar`` for logs and
    Netty's codec jars for TLS). Java is ``$JAVA_HOME/bin/java`` or ``java`` on
    ``PATH``.

    Returns:
        The Java executable and classpath.

    Raises:
        ZooKeeperNotFoundError: Nothing usable was found; the message names the
            packages to install and the environment variables to set.
    """
    explicit = os.environ.get("ZOOKEEPER_CLASSPATH")
    if explicit:
        return ZooKeeperInstallation(
            java=_find_java(), classpath=explicit, source="ZOOKEEPER_CLASSPATH"
        )
    home = os.environ.get("ZOOKEEPER_HOME")
    if home:
        root = pathlib.Path(home)
        jars = sorted(root.glob("*.jar")) + sorted((root / "lib").glob("*.jar"))
        if not any(jar.name.startswith("zookeeper") for jar in jars):
            raise ZooKeeperNotFoundError(
                f"ZOOKEEPER_HOME={home} holds no zookeeper*.jar (looked in it and in lib/). "
                f"{_INSTALL_HINT}"
            )
        entries = [str(jar) for jar in jars]
        if (root / "conf").is_dir():
            entries.append(str(root / "conf"))
        return ZooKeeperInstallation(
            java=_find_java(), classpath=os.pathsep.join(entries), source=f"ZOOKEEPER_HOME={home}"
        )
    main_jar = _DEBIAN_JAVA_DIR / "zookeeper.jar"
    if main_jar.is_file():
        entries = [str(main_jar)]
        entries += [
            str(_DEBIAN_JAVA_DIR / name)
            for name in _DEBIAN_EXTRA_JARS
            if (_DEBIAN_JAVA_DIR / name).is_file()
        ]
        return ZooKeeperInstallation(
            java=_find_java(), classpath=os.pathsep.join(entries), source=str(main_jar)
        )
    raise ZooKeeperNotFoundError(f"no ZooKeeper server jars found. {_INSTALL_HINT}")


def parse_srvr(answer: str) -> dict[str, str]:
    """Parse the answer of the ``srvr`` four letter word into a dict.

    Args:
        answer: The text returned by ``srvr``.

    Returns:
        ``{"Zxid": "0x100000002", "Mode": "leader", "Node count": "5", ...}``;
        empty when the server is not serving ("This ZooKeeper instance is not
        currently serving requests").
    """
    result: dict[str, str] = {}
    for line in answer.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and not key.startswith(" "):
            result[key.strip()] = value.strip()
    if "Mode" not in result:
        return {}
    return result


def parse_wchc(answer: str) -> dict[int, set[str]]:
    """Parse the answer of the ``wchc`` four letter word: the watches of each session.

    Args:
        answer: The text returned by ``wchc`` (a session id line, then one
            tab-indented line per watched path, as the server sees it:
            chroot included).

    Returns:
        ``{session_id: {path, ...}}``; sessions without watches are absent.
    """
    result: dict[int, set[str]] = {}
    paths: set[str] | None = None
    for line in answer.splitlines():
        if line.startswith("0x"):
            paths = result.setdefault(int(line.strip(), 16), set())
        elif line.startswith("\t") and paths is not None:
            paths.add(line.strip())
    return result


def _parse_mode(answer: str) -> str:
    match = _MODE.search(answer)
    return match.group(1) if match else ""


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct TCP ports that were free a moment ago.

    The sockets are bound together, then released, so the ports are distinct.
    Another process may still take one before it is used; the callers retry
    their whole start once on a bind failure.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# --- keeping JVMs from outliving the test run -------------------------------------

_live_processes: dict[int, subprocess.Popen[bytes]] = {}
_live_lock = threading.Lock()


def _hard_kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGCONT + SIGKILL and reap; safe to call on an already reaped process."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(_REAP_TIMEOUT)
    with _live_lock:
        _live_processes.pop(proc.pid, None)


def _kill_all_live() -> None:
    with _live_lock:
        procs = list(_live_processes.values())
    for proc in procs:
        _hard_kill(proc)


atexit.register(_kill_all_live)


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL the JVM when its parent thread dies.

    This covers a test runner killed with SIGKILL, where neither atexit nor
    finalizers run. The death signal follows the *thread* that forked, so it is
    used only when forking from the main thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - not glibc/musl
        return None
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    pr_set_pdeathsig = 1
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)

    return preexec


def _read_tail(path: pathlib.Path, lines: int, start: int = 0) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            begin = max(start, size - 512 * 1024)
            f.seek(begin)
            data = f.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) if lines > 0 else ""


@attrs.define(kw_only=True)
class _QuorumSpec:
    """Set by ZooKeeperEnsemble on its members: identity and the server.N lines."""

    myid: int
    server_lines: dict[str, str]


class ZooKeeperServer:
    """One real ZooKeeper server process on loopback, for tests.

    The server listens on ``127.0.0.1`` on free ports chosen when the object is
    made (and chosen again, once, if the first start hits a bind failure).
    ``restart`` keeps ports and data. Nothing is started until :meth:`start`
    (or ``with``/``async with``, which start and close).

    Used standalone it runs in standalone mode; :class:`ZooKeeperEnsemble`
    configures its members as quorum peers.

    Args:
        tick_time: ``tickTime`` in ms. Sessions are clamped to
            [2, 20] * tick_time unless overridden below.
        min_session_timeout: ``minSessionTimeout`` in ms (default 2 * tick_time).
        max_session_timeout: ``maxSessionTimeout`` in ms (default 20 * tick_time).
        extended_types: Enable TTL nodes (``-Dzookeeper.extendedTypesEnabled=true``).
        read_only_mode: Enable read-only mode (``-Dreadonlymode.enabled=true``,
            plus ``localSessionsEnabled`` and ``localSessionsUpgradingEnabled``
            so a read-only server can hand out sessions).
        four_letter_words: ``4lw.commands.whitelist``; ``srvr`` is always added
            because the harness needs it.
        super_digest: ``"super:<base64 sha1>"`` for
            ``-Dzookeeper.DigestAuthenticationProvider.superDigest``.
        tls: Also open a secure client port (Netty, PKCS#12 stores from a
            throwaway CA, client certificates not required).
        sasl_users: DIGEST-MD5 users (name → password) for SASL auth, through a
            JAAS ``Server`` section and ``SASLAuthenticationProvider``.
        kerberos: Run Kerberized: SASL GSSAPI with this service principal and
            keytab (from :meth:`KerberosRealm.server_login`), through a JAAS
            ``Server`` section with ``Krb5LoginModule`` and
            ``-Djava.security.krb5.conf``. The server then names a client by
            its full principal (``sasl:alice@REALM``). Exclusive with
            ``sasl_users`` (a ZooKeeper server offers one SASL mechanism).
        tls_client_auth: With ``tls``: require client certificates
            (``ssl.clientAuth=need``) and register the X509 authentication
            provider, so a TLS session's identity is its certificate subject
            (``x509:<subject>``). Make certificates with
            :func:`make_client_certificate` from ``tls_material``.
        enforce_auth_schemes: Turn on ``enforce.auth.enabled`` with these
            ``enforce.auth.schemes`` (e.g. ``["sasl"]``): the server closes
            the session of a client that sends a request unauthenticated.
        container_check_interval_ms: ``-Dznode.container.checkIntervalMs``, how
            often empty container and expired TTL nodes are removed.
        extra_config: More ``zoo.cfg`` lines; they override generated ones.
        heap_mb: The JVM's ``-Xmx`` in MiB.

    Raises:
        ValueError: An argument is out of range or malformed.

    Attributes:
        host: Always ``"127.0.0.1"``.
        port: The plain client port.
        secure_port: The TLS client port, ``None`` without ``tls``.
        data_dir: The server's ``dataDir`` (kept across stop/kill/restart).
        directory: The private temporary directory (config, log, data, TLS files).
        log_path: The server log (stdout and stderr of every launch, appended).
        returncode: Exit status of the last JVM that ended (negative: killed by
            that signal; 143 is the JVM's answer to SIGTERM), ``None`` before.
    """

    host: str = LOOPBACK
    external: bool = False

    def __init__(
        self,
        *,
        tick_time: int = 500,
        min_session_timeout: int | None = None,
        max_session_timeout: int | None = None,
        extended_types: bool = True,
        read_only_mode: bool = False,
        four_letter_words: str = "*",
        super_digest: str | None = None,
        tls: bool = False,
        sasl_users: Mapping[str, str] | None = None,
        kerberos: KerberosLogin | None = None,
        tls_client_auth: bool = False,
        enforce_auth_schemes: Sequence[str] | None = None,
        container_check_interval_ms: int | None = None,
        extra_config: Mapping[str, str] | None = None,
        heap_mb: int = 160,
    ) -> None:
        if tick_time <= 0:
            raise ValueError("tick_time must be positive")
        if heap_mb < 32:
            raise ValueError("heap_mb below 32 MiB cannot run ZooKeeper")
        if super_digest is not None and not _SUPER_DIGEST.match(super_digest):
            raise ValueError("super_digest must look like 'super:<base64 sha1 digest>'")
        for name in sasl_users or {}:
            if not _SASL_NAME.match(name):
                raise ValueError(f"SASL user name {name!r} must match {_SASL_NAME.pattern}")
        if kerberos is not None and sasl_users:
            raise ValueError("kerberos and sasl_users exclude each other (one SASL mechanism)")
        if tls_client_auth and not tls:
            raise ValueError("tls_client_auth needs tls=True")
        if enforce_auth_schemes is not None and (
            not enforce_auth_schemes
            or not all(_SASL_NAME.match(scheme) for scheme in enforce_auth_schemes)
        ):
            raise ValueError(
                f"enforce_auth_schemes must name schemes, not {enforce_auth_schemes!r}"
            )
        for key, value in (extra_config or {}).items():
            if any(c in f"{key}{value}" for c in "\r\n") or "=" in key:
                raise ValueError(f"extra_config entry {key!r} is not a single zoo.cfg line")
        words = [w.strip() for w in four_letter_words.split(",") if w.strip()]
        if "*" not in words and "srvr" not in words:
            words.append("srvr")
        self._tick_time = tick_time
        self._min_session_timeout = min_session_timeout
        self._max_session_timeout = max_session_timeout
        self._extended_types = extended_types
        self._read_only_mode = read_only_mode
        self._four_letter_words = ",".join(words)
        self._super_digest = super_digest
        self._tls_enabled = tls
        self._sasl_users = dict(sasl_users or {})
        self._kerberos = kerberos
        self._tls_client_auth = tls_client_auth
        self._enforce_auth_schemes = list(enforce_auth_schemes or [])
        self._container_check_interval_ms = container_check_interval_ms
        self._extra_config = dict(extra_config or {})
        self._heap_mb = heap_mb

        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="tzk-server-"))
        self._dir_finalizer = weakref.finalize(
            self, shutil.rmtree, str(self.directory), ignore_errors=True
        )
        self.data_dir = self.directory / "data"
        self.data_dir.mkdir()
        self.log_path = self.directory / "zookeeper.log"
        self._config_path = self.directory / "zoo.cfg"
        self._jaas_path = self.directory / "jaas.conf"

        self.tls_material: TLSMaterial | None = None
        self._quorum: _QuorumSpec | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._proc_finalizer: weakref.finalize[..., ZooKeeperServer] | None = None
        self._launch_log_offset = 0
        self._launches = 0
        self._paused = False
        self._closed = False
        self._ports_fixed = False
        self.returncode: int | None = None
        self.port = 0
        self.secure_port: int | None = None
        self._assign_ports(*free_ports(2 if tls else 1))

    # --- identity ---------------------------------------------------------------

    def _assign_ports(self, port: int, secure_port: int | None = None) -> None:
        self.port = port
        self.secure_port = secure_port if self._tls_enabled else None

    @property
    def connect_string(self) -> str:
        """``"127.0.0.1:PORT"`` for the plain client port."""
        return f"{self.host}:{self.port}"

    @property
    def secure_connect_string(self) -> str | None:
        """``"127.0.0.1:SECURE_PORT"``, or ``None`` without ``tls``."""
        return None if self.secure_port is None else f"{self.host}:{self.secure_port}"

    @property
    def tls_ca_file(self) -> str | None:
        """The CA (PEM) verifying the secure port; ``None`` before start or without TLS."""
        return None if self.tls_material is None else str(self.tls_material.ca_file)

    @property
    def pid(self) -> int | None:
        """The JVM's process id while it runs (also while paused), else ``None``."""
        return self._proc.pid if self.is_running and self._proc is not None else None

    @property
    def is_running(self) -> bool:
        """Whether the JVM we started is alive (a paused JVM is alive)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def is_paused(self) -> bool:
        """Whether the JVM is stopped by :meth:`pause` (SIGSTOP)."""
        return self._paused and self.is_running

    def __repr__(self) -> str:
        state = "paused" if self.is_paused else "running" if self.is_running else "stopped"
        return f"<ZooKeeperServer {self.connect_string} {state}>"

    # --- configuration ------------------------------------------------------------

    def _config_lines(self) -> dict[str, str]:
        cfg: dict[str, str] = {
            "tickTime": str(self._tick_time),
            "initLimit": "10",
            "syncLimit": "4",
            "dataDir": str(self.data_dir),
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "maxClientCnxns": "0",
            "admin.enableServer": "false",
            "4lw.commands.whitelist": self._four_letter_words,
            "autopurge.purgeInterval": "0",
        }
        if self._min_session_timeout is not None:
            cfg["minSessionTimeout"] = str(self._min_session_timeout)
        if self._max_session_timeout is not None:
            cfg["maxSessionTimeout"] = str(self._max_session_timeout)
        if self._read_only_mode:
            cfg["localSessionsEnabled"] = "true"
            cfg["localSessionsUpgradingEnabled"] = "true"
        if self._tls_enabled:
            material = self.tls_material
            assert material is not None
            assert self.secure_port is not None
            cfg.update(
                {
                    "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
                    "secureClientPort": str(self.secure_port),
                    "secureClientPortAddress": self.host,
                    "ssl.keyStore.location": str(material.keystore_file),
                    "ssl.keyStore.password": material.keystore_password,
                    "ssl.keyStore.type": material.store_type,
                    "ssl.trustStore.location": str(material.truststore_file),
                    "ssl.trustStore.password": material.truststore_password,
                    "ssl.trustStore.type": material.store_type,
                    "ssl.clientAuth": "need" if self._tls_client_auth else "none",
                }
            )
            if self._tls_client_auth:
                cfg["authProvider.x509"] = (
                    "org.apache.zookeeper.server.auth.X509AuthenticationProvider"
                )
        if self._sasl_users or self._kerberos is not None:
            cfg["authProvider.1"] = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
        if self._enforce_auth_schemes:
            cfg["enforce.auth.enabled"] = "true"
            cfg["enforce.auth.schemes"] = ",".join(self._enforce_auth_schemes)
        if self._quorum is not None:
            cfg.update(self._quorum.server_lines)
        cfg.update(self._extra_config)
        return cfg

    def _jvm_command(self, installation: ZooKeeperInstallation) -> list[str]:
        cmd = [
            installation.java,
            f"-Xmx{self._heap_mb}m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData",
            "-Djava.net.preferIPv4Stack=true",
            "-Dzookeeper.forceSync=no",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
        ]
        if self._read_only_mode:
            cmd.append("-Dreadonlymode.enabled=true")
        if self._extended_types:
            cmd.append("-Dzookeeper.extendedTypesEnabled=true")
        if self._container_check_interval_ms is not None:
            cmd.append(f"-Dznode.container.checkIntervalMs={self._container_check_interval_ms}")
        if self._super_digest is not None:
            cmd.append(f"-Dzookeeper.DigestAuthenticationProvider.superDigest={self._super_digest}")
        if self._sasl_users or self._kerberos is not None:
            cmd.append(f"-Djava.security.auth.login.config={self._jaas_path}")
        if self._kerberos is not None:
            cmd.append(f"-Djava.security.krb5.conf={self._kerberos.krb5_conf}")
        cmd += ["-cp", installation.classpath, _MAIN_CLASS, str(self._config_path)]
        return cmd

    def _write_jaas(self) -> None:
        def quote(value: str) -> str:
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

        if self._kerberos is not None:
            login = (
                "com.sun.security.auth.module.Krb5LoginModule required"
                f"\n    useKeyTab=true keyTab={quote(str(self._kerberos.keytab))}"
                "\n    storeKey=true useTicketCache=false isInitiator=false"
                f"\n    principal={quote(self._kerberos.principal)}"
            )
        else:
            users = "".join(
                f"\n    user_{name}={quote(password)}"
                for name, password in self._sasl_users.items()
            )
            login = f"org.apache.zookeeper.server.auth.DigestLoginModule required{users}"
        self._jaas_path.write_text(f"Server {{\n    {login};\n}};\n")
        self._jaas_path.chmod(0o600)

    def _prepare_tls(self) -> None:
        """Make the TLS material if needed (slow: runs openssl and keytool)."""
        if self._tls_enabled and self.tls_material is None:
            self.tls_material = make_tls_material(
                self.directory / "tls", java=find_zookeeper().java
            )

    # --- process control ------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise ZooKeeperHarnessError(f"{self!r} is closed")

    def _launch(self) -> None:
        """Write the configuration and start the JVM, without waiting."""
        self._check_usable()
        if self.is_running:
            raise ZooKeeperHarnessError(f"{self!r} is already running")
        self._forget_process()  # a JVM that exited on its own
        installation = find_zookeeper()
        self._prepare_tls()
        self.data_dir.mkdir(exist_ok=True)
        if self._quorum is not None:
            (self.data_dir / "myid").write_text(f"{self._quorum.myid}\n")
        if self._sasl_users or self._kerberos is not None:
            self._write_jaas()
        self._config_path.write_text(
            "".join(f"{key}={value}\n" for key, value in self._config_lines().items())
        )
        self._config_path.chmod(0o600)
        cmd = self._jvm_command(installation)
        self._launches += 1
        with self.log_path.open("ab") as log:
            self._launch_log_offset = log.tell()
            log.write(f"=== trio_zookeeper.testing: launch #{self._launches}: {cmd}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                preexec_fn=_pdeathsig_preexec(),  # only calls prctl, resolved beforehand
            )
        with _live_lock:
            _live_processes[proc.pid] = proc
        self._proc = proc
        self._paused = False
        self._proc_finalizer = weakref.finalize(self, _hard_kill, proc)

    def _forget_process(self) -> None:
        if self._proc_finalizer is not None:
            self._proc_finalizer.detach()
            self._proc_finalizer = None
        if self._proc is not None:
            self.returncode = self._proc.returncode
            with _live_lock:
                _live_processes.pop(self._proc.pid, None)
        self._proc = None
        self._paused = False

    def _launch_log(self, lines: int = 100) -> str:
        return _read_tail(self.log_path, lines, start=self._launch_log_offset)

    def _exited_unexpectedly(self) -> bool:
        return self._proc is not None and self._proc.poll() is not None

    def _bind_failed(self) -> bool:
        return bool(_BIND_FAILURE.search(self._launch_log(400)))

    def _ready(self, answer: str) -> bool:
        mode = _parse_mode(answer)
        serving = mode == "standalone" if self._quorum is None else mode in _SERVING_MEMBER_MODES
        # The plain port can answer before the secure (Netty) port listens.
        return serving and self._secure_port_listening()

    def _secure_port_listening(self) -> bool:
        if self.secure_port is None:
            return True
        try:
            with socket.create_connection((self.host, self.secure_port), timeout=_PROBE_TIMEOUT):
                return True
        except OSError:
            return False

    def _start_failure(self, why: str) -> ZooKeeperStartError:
        tail = self._launch_log()
        return ZooKeeperStartError(f"ZooKeeper server {self.connect_string} {why}", tail)

    def _check_alive_while_starting(self) -> None:
        proc = self._proc
        if proc is None:
            raise self._start_failure("was stopped while starting")
        code = proc.poll()
        if code is not None:
            why = f"exited with status {code} while starting"
            if self._bind_failed():
                why += " (a port was already in use: BindException in the log)"
            error = self._start_failure(why)
            self._forget_process()
            raise error

    def _wait_ready(self, deadline: float) -> None:
        while True:
            self._check_alive_while_starting()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                error = self._start_failure("did not become ready in time")
                self.kill()
                raise error
            try:
                answer = four_letter_word(
                    self.host, self.port, "srvr", timeout=min(_PROBE_TIMEOUT, remaining)
                )
            except OSError:
                answer = ""
            if self._ready(answer):
                return
            time.sleep(min(_POLL_INTERVAL, max(0.0, deadline - time.monotonic())))

    async def _await_ready(self, deadline: float) -> None:
        while True:
            self._check_alive_while_starting()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                error = self._start_failure("did not become ready in time")
                self.kill()  # SIGKILL and reap: quick, and must happen even if cancelled
                raise error
            try:
                answer = await afour_letter_word(
                    self.host, self.port, "srvr", timeout=min(_PROBE_TIMEOUT, remaining)
                )
            except OSError:
                answer = ""
            if self._ready(answer):
                return
            await trio.sleep(min(_POLL_INTERVAL, max(0.0, deadline - time.monotonic())))

    def _may_retry_bind(self, attempt: int) -> bool:
        return (
            attempt == 0 and not self._ports_fixed and self._quorum is None and self._bind_failed()
        )

    def start(self, timeout: float = 30.0, *, wait: bool = True) -> None:
        """Start the JVM and wait until the server serves (blocking).

        Ready means ``srvr`` answers with ``Mode: standalone`` (a standalone
        server) or with a leader/follower/observer mode (an ensemble member,
        which therefore needs a quorum to be ready). On a bind failure during
        the very first start the ports are chosen again and the start is
        retried once; later starts keep their ports.

        Args:
            timeout: Bound on the whole start, in seconds.
            wait: If false, return right after launching the JVM (useful for
                an ensemble member that cannot serve until others are up).

        Raises:
            ZooKeeperStartError: The server exited or did not become ready in
                time; the JVM is killed and the message has the log tail.
            ZooKeeperNotFoundError: Java or ZooKeeper is not installed.
            ZooKeeperHarnessError: Already running, or closed.
        """
        deadline = time.monotonic() + timeout
        for attempt in range(2):
            self._launch()
            if not wait:
                return
            try:
                self._wait_ready(deadline)
            except ZooKeeperStartError:
                if self._may_retry_bind(attempt):
                    self.kill()
                    self._assign_ports(*free_ports(2))
                    continue
                raise
            self._ports_fixed = True
            return

    async def astart(
        self,
        timeout: float = 30.0,  # noqa: ASYNC109 - same bound as start(); fail_after works too
        *,
        wait: bool = True,
    ) -> None:
        """Async :meth:`start`: the readiness wait is a cancellable trio loop.

        Cancelling it kills the JVM being started. Certificate generation (TLS)
        runs in a worker thread.

        Args:
            timeout: Bound on the whole start, in seconds.
            wait: If false, return right after launching the JVM.

        Raises:
            ZooKeeperStartError: As for :meth:`start`.
            ZooKeeperNotFoundError: Java or ZooKeeper is not installed.
            ZooKeeperHarnessError: Already running, or closed.
        """
        deadline = time.monotonic() + timeout
        await trio.to_thread.run_sync(self._prepare_tls)
        for attempt in range(2):
            self._launch()
            if not wait:
                return
            try:
                await self._await_ready(deadline)
            except ZooKeeperStartError:
                if self._may_retry_bind(attempt):
                    self.kill()
                    self._assign_ports(*free_ports(2))
                    continue
                raise
            except BaseException:
                self.kill()  # cancelled: don't leave it half started (SIGKILL + reap is quick)
                raise
            self._ports_fixed = True
            return

    def stop(self) -> None:
        """Stop the JVM: SIGCONT, SIGTERM, up to 5 s grace, then SIGKILL. Keeps the data.

        A no-op when not running.
        """
        self._begin_stop()
        self._finish_stop(time.monotonic() + _STOP_GRACE)

    def _begin_stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # a stopped JVM ignores SIGTERM until continued
                proc.send_signal(signal.SIGTERM)

    def _finish_stop(self, deadline: float) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _hard_kill(proc)
        self._forget_process()

    def kill(self) -> None:
        """SIGKILL the JVM (a crash) and reap it. Keeps the data. A no-op when not running."""
        proc = self._proc
        if proc is None:
            return
        _hard_kill(proc)
        self._forget_process()

    def pause(self) -> None:
        """SIGSTOP the JVM: it keeps its sockets (connects still complete) but answers nothing.

        Raises:
            ZooKeeperHarnessError: Not running.
        """
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise ZooKeeperHarnessError(f"{self!r} is not running")
        proc.send_signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT a paused JVM. A no-op when not running."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
        self._paused = False

    def restart(self, timeout: float = 30.0) -> None:
        """:meth:`stop`, then :meth:`start` on the same ports and the same data.

        Args:
            timeout: Bound on the start, in seconds.

        Raises:
            ZooKeeperStartError: As for :meth:`start`.
        """
        self.stop()
        self.start(timeout)

    async def astop(self) -> None:
        """Async :meth:`stop`, in a worker thread (bounded by the 5 s grace + reaping)."""
        await trio.to_thread.run_sync(self.stop)

    async def arestart(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - as restart()
        """Async :meth:`restart`.

        Args:
            timeout: Bound on the start, in seconds.

        Raises:
            ZooKeeperStartError: As for :meth:`start`.
        """
        await self.astop()
        await self.astart(timeout)

    def wipe(self) -> None:
        """Delete every snapshot and transaction log, so the next start has an empty database.

        For "server behind the client" tests: a client whose last zxid is
        ahead of the restarted server's must not attach to it.

        Raises:
            ZooKeeperHarnessError: The server is running, or closed.
        """
        self._check_usable()
        if self.is_running:
            raise ZooKeeperHarnessError(f"stop {self!r} before wiping its data")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir()
        if self._quorum is not None:
            (self.data_dir / "myid").write_text(f"{self._quorum.myid}\n")

    def close(self) -> None:
        """Stop the server and delete its temporary directory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        self._dir_finalizer()

    async def aclose(self) -> None:
        """Async :meth:`close`, in a worker thread. Idempotent."""
        await trio.to_thread.run_sync(self.close)

    def __enter__(self) -> Self:
        if not self.is_running:
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
        if not self.is_running:
            await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- observation ----------------------------------------------------------------

    def log_tail(self, lines: int = 100) -> str:
        """Return the last ``lines`` lines of the server log (all launches).

        Args:
            lines: How many lines.

        Returns:
            The lines joined with newlines; empty if nothing was logged.
        """
        return _read_tail(self.log_path, lines)

    def four_letter_word(self, cmd: str, *, timeout: float = 5.0) -> str:
        """Send a four letter word to this server's plain client port.

        Args:
            cmd: The command, e.g. ``"mntr"``.
            timeout: Bound on the exchange, in seconds.

        Returns:
            The answer text.

        Raises:
            TimeoutError: No complete answer in time (e.g. paused).
            OSError: Not reachable.
        """
        return four_letter_word(self.host, self.port, cmd, timeout=timeout)

    def srvr(self, *, timeout: float = 2.0) -> dict[str, str]:
        """The ``srvr`` answer parsed with :func:`parse_srvr`; empty when unreachable.

        Args:
            timeout: Bound on the exchange, in seconds.

        Returns:
            Keys such as ``"Mode"``, ``"Zxid"``, ``"Node count"``.
        """
        try:
            return parse_srvr(self.four_letter_word("srvr", timeout=timeout))
        except OSError:
            return {}

    def mode(self, *, timeout: float = 2.0) -> str:
        """The ``Mode:`` from ``srvr``.

        Args:
            timeout: Bound on the exchange, in seconds.

        Returns:
            ``"standalone"``, ``"leader"``, ``"follower"``, ``"observer"`` or
            ``"read-only"``; ``""`` when unreachable or not serving.
        """
        try:
            return _parse_mode(self.four_letter_word("srvr", timeout=timeout))
        except OSError:
            return ""

    async def amode(self, *, timeout: float = 2.0) -> str:  # noqa: ASYNC109 - as mode()
        """Async :meth:`mode`.

        Args:
            timeout: Bound on the exchange, in seconds.

        Returns:
            As for :meth:`mode`.
        """
        try:
            return _parse_mode(
                await afour_letter_word(self.host, self.port, "srvr", timeout=timeout)
            )
        except OSError:
            return ""


def generate_digest(user: str, password: str) -> str:
    """Compute ``"user:<base64 sha1(user:password)>"``, as ZooKeeper's ``generateDigest``.

    Use it for ``ZooKeeperServer(super_digest=generate_digest("super", pw))`` and
    for ``digest`` ACL ids. It is
    :func:`trio_zookeeper.make_digest_acl_credential` under the name the
    harness has always used.

    Args:
        user: The user name, e.g. ``"super"`` (it may not contain ``:``).
        password: The clear-text password.

    Returns:
        The digest string ZooKeeper's DigestAuthenticationProvider expects.

    Raises:
        ValueError: ``user`` contains ``:``.
    """
    return make_digest_acl_credential(user, password)


class ExternalZooKeeperServer:
    """A ZooKeeper server the harness did not start (``ZOOKEEPER_HOSTS``).

    It offers the read-only parts of :class:`ZooKeeperServer` (addresses,
    four letter words, :meth:`mode`). Process operations (stop, kill, pause,
    resume, restart, wipe) are unavailable and raise
    :class:`ExternalServerError`; tests that need them must use their own
    :class:`ZooKeeperServer`.

    Args:
        connect_string: ``"host:port[,host:port...]"``; the first entry gives
            :attr:`host` and :attr:`port`.

    Raises:
        ValueError: Malformed connect string (a chroot is not allowed here).

    Attributes:
        host: The first server's host.
        port: The first server's client port.
        connect_string: The connect string as given (stripped).
    """

    external: bool = True
    secure_port: int | None = None
    secure_connect_string: str | None = None
    tls_ca_file: str | None = None
    pid: int | None = None
    is_running: bool = True
    is_paused: bool = False

    def __init__(self, connect_string: str) -> None:
        text = connect_string.strip()
        if not text or "/" in text:
            raise ValueError(f"expected host:port[,host:port...] without a chroot, got {text!r}")
        first = text.split(",")[0].strip()
        host, sep, port = first.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"expected host:port, got {first!r}")
        self.host = host.strip("[]")
        self.port = int(port)
        self.connect_string = text

    def __repr__(self) -> str:
        return f"<ExternalZooKeeperServer {self.connect_string}>"

    def _unavailable(self, what: str) -> ExternalServerError:
        return ExternalServerError(
            f"{what}() is unavailable: {self.connect_string} is an external server "
            "(ZOOKEEPER_HOSTS); use a ZooKeeperServer of your own for destructive tests"
        )

    def start(self, timeout: float = 30.0) -> None:
        """Do nothing: the external server is assumed to be running.

        Args:
            timeout: Ignored.
        """

    def stop(self) -> None:
        """Unavailable.

        Raises:
            ExternalServerError: Always.
        """
        raise self._unavailable("stop")

    def kill(self) -> None:
        """Unavailable.

        Raises:
            ExternalServerError: Always.
        """
        raise self._unavailable("kill")

    def pause(self) -> None:
        """Unavailable.

        Raises:
            ExternalServerError: Always.
        """
        raise self._unavailable("pause")

    def resume(self) -> None:
        """Unavailable.

        Raises:
            ExternalServerError: Always.
        """
        raise self._unavailable("resume")

    def restart(self, timeout: float = 30.0) -> None:
        """Unavailable.

        Args:
            timeout: Ignored.

        Raises:
            ExternalServerError: Always.
        """
        raise self._unavailable("restart")

    def wipe(self) -> None:
        """Unavailable.

        Raises:
            ExternalServerError: Always.
        """
        raise self._unavailable("wipe")

    def close(self) -> None:
        """Do nothing: the harness does not own the server."""

    def log_tail(self, lines: int = 100) -> str:
        """Return ``""``: the harness has no access to an external server's log.

        Args:
            lines: Ignored.
        """
        return ""

    def four_letter_word(self, cmd: str, *, timeout: float = 5.0) -> str:
        """Send a four letter word to the first server.

        Args:
            cmd: The command.
            timeout: Bound on the exchange, in seconds.

        Returns:
            The answer text.

        Raises:
            TimeoutError: No complete answer in time.
            OSError: Not reachable.
        """
        return four_letter_word(self.host, self.port, cmd, timeout=timeout)

    def srvr(self, *, timeout: float = 2.0) -> dict[str, str]:
        """As :meth:`ZooKeeperServer.srvr`.

        Args:
            timeout: Bound on the exchange, in seconds.

        Returns:
            The parsed ``srvr`` answer; empty when unreachable.
        """
        try:
            return parse_srvr(self.four_letter_word("srvr", timeout=timeout))
        except OSError:
            return {}

    def mode(self, *, timeout: float = 2.0) -> str:
        """As :meth:`ZooKeeperServer.mode`.

        Args:
            timeout: Bound on the exchange, in seconds.

        Returns:
            The mode, or ``""`` when unreachable.
        """
        return self.srvr(timeout=timeout).get("Mode", "")
