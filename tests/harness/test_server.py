"""Tests of ZooKeeperServer, the TLS/SASL/auth options and the pytest plugin, on real JVMs.

Data survival is checked with a tiny blocking jute client written here (RawZK),
independent of the library's own protocol code, so the harness can be trusted
before the client exists.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import pytest
import trio

from trio_zookeeper.testing import (
    ExternalServerError,
    ExternalZooKeeperServer,
    ZooKeeperNotFoundError,
    ZooKeeperServer,
    ZooKeeperStartError,
    _server,
    afour_letter_word,
    find_zookeeper,
    four_letter_word,
    generate_digest,
    parse_srvr,
)
from trio_zookeeper.testing.pytest_plugin import requires_zookeeper

pytestmark = requires_zookeeper

DEADLINE = 10.0

# --- a minimal blocking jute client --------------------------------------------------

OP_CREATE, OP_DELETE, OP_GET_DATA, OP_EXISTS = 1, 2, 4, 3
OP_CREATE_CONTAINER, OP_CREATE_TTL, OP_SASL, OP_AUTH, OP_CLOSE = 19, 21, 102, 100, -11
ERR_NO_NODE, ERR_NO_AUTH, ERR_AUTH_FAILED = -101, -102, -115
PERMS_ALL = 31


def _int(value: int) -> bytes:
    return struct.pack(">i", value)


def _buffer(data: bytes | None) -> bytes:
    return _int(-1) if data is None else _int(len(data)) + data


def _string(text: str) -> bytes:
    return _buffer(text.encode())


def _acl(scheme: str = "world", ident: str = "anyone", perms: int = PERMS_ALL) -> bytes:
    return _int(1) + _int(perms) + _string(scheme) + _string(ident)


class ZooKeeperReplyError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"ZooKeeper error {code}")
        self.code = code


class RawZK:
    """Just enough of the ZooKeeper protocol to open a session, write and read nodes."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        session_timeout_ms: int = 4000,
        wrap: Callable[[socket.socket], socket.socket] | None = None,
    ) -> None:
        sock = socket.create_connection((host, port), timeout=DEADLINE)
        self.sock = wrap(sock) if wrap is not None else sock
        self.xid = 0
        connect = struct.pack(">iqiq", 0, 0, session_timeout_ms, 0) + _buffer(bytes(16)) + b"\0"
        self._send(connect)
        reply = self._receive()
        _, self.negotiated_timeout, self.session_id = struct.unpack(">iiq", reply[:16])
        assert self.session_id != 0, "the server refused the session"

    def _send(self, payload: bytes) -> None:
        self.sock.sendall(_int(len(payload)) + payload)

    def _exactly(self, size: int) -> bytes:
        buf = b""
        while len(buf) < size:
            chunk = self.sock.recv(size - len(buf))
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        return buf

    def _receive(self) -> bytes:
        (length,) = struct.unpack(">i", self._exactly(4))
        return self._exactly(length)

    def call(self, opcode: int, body: bytes, *, xid: int | None = None) -> tuple[int, bytes]:
        """Send one request; return (zxid, reply body); raise ZooKeeperReplyError on err != 0."""
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send(struct.pack(">ii", xid, opcode) + body)
        while True:
            reply = self._receive()
            reply_xid, zxid, err = struct.unpack(">iqi", reply[:16])
            if reply_xid == -1:  # a watch notification
                continue
            assert reply_xid == xid, (reply_xid, xid)
            if err:
                raise ZooKeeperReplyError(err)
            return zxid, reply[16:]

    def create(self, path: str, data: bytes, *, acl: bytes | None = None, flags: int = 0) -> int:
        body = _string(path) + _buffer(data) + (acl or _acl()) + _int(flags)
        return self.call(OP_CREATE, body)[0]

    def create_container(self, path: str) -> None:
        self.call(OP_CREATE_CONTAINER, _string(path) + _buffer(b"") + _acl() + _int(4))

    def create_ttl(self, path: str, ttl_ms: int) -> None:
        body = _string(path) + _buffer(b"") + _acl() + _int(5) + struct.pack(">q", ttl_ms)
        self.call(OP_CREATE_TTL, body)

    def delete(self, path: str) -> None:
        self.call(OP_DELETE, _string(path) + _int(-1))

    def get_data(self, path: str) -> bytes:
        body = self.call(OP_GET_DATA, _string(path) + b"\0")[1]
        (length,) = struct.unpack(">i", body[:4])
        return body[4 : 4 + length]

    def exists(self, path: str) -> bool:
        try:
            self.call(OP_EXISTS, _string(path) + b"\0")
        except ZooKeeperReplyError as exc:
            if exc.code == ERR_NO_NODE:
                return False
            raise
        return True

    def add_auth(self, scheme: str, auth: bytes) -> None:
        self.call(OP_AUTH, _int(0) + _string(scheme) + _buffer(auth), xid=-4)

    def sasl(self, token: bytes) -> bytes:
        body = self.call(OP_SASL, _buffer(token))[1]
        (length,) = struct.unpack(">i", body[:4])
        return body[4 : 4 + max(length, 0)]

    def close(self) -> None:
        try:
            self.call(OP_CLOSE, b"")
        finally:
            self.sock.close()


def digest_md5_login(zk: RawZK, user: str, password: str) -> None:
    """Client side of SASL DIGEST-MD5 (RFC 2831) as ZooKeeper's Java client runs it."""
    challenge = zk.sasl(b"").decode()
    fields = dict(re.findall(r'(\w[\w-]*)="?([^",]*)"?', challenge))
    realm, nonce = fields["realm"], fields["nonce"]
    cnonce, nc, qop, uri = secrets.token_hex(16), "00000001", "auth", "zookeeper/zk-sasl-md5"

    def hex_md5(data: bytes) -> str:
        return hashlib.md5(data).hexdigest()

    a1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).digest() + f":{nonce}:{cnonce}".encode()

    def response_value(a2: str) -> str:
        return hex_md5(f"{hex_md5(a1)}:{nonce}:{nc}:{cnonce}:{qop}:{hex_md5(a2.encode())}".encode())

    answer = (
        f'charset=utf-8,username="{user}",realm="{realm}",nonce="{nonce}",nc={nc},'
        f'cnonce="{cnonce}",digest-uri="{uri}",maxbuf=65536,'
        f"response={response_value('AUTHENTICATE:' + uri)},qop={qop}"
    )
    final = zk.sasl(answer.encode()).decode()
    assert final == f"rspauth={response_value(':' + uri)}", final


def gone(pid: int) -> bool:
    """True when the process has exited (a zombie counts as exited)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)  # a bounded poll of external state, not a synchronisation


# --- installation discovery (no JVM) ---------------------------------------------------


def test_zookeeper_classpath_is_used_verbatim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOKEEPER_CLASSPATH", "/opt/a.jar:/opt/b.jar")
    monkeypatch.setenv("ZOOKEEPER_HOME", "/nonexistent")
    found = find_zookeeper()
    assert found.classpath == "/opt/a.jar:/opt/b.jar"
    assert found.source == "ZOOKEEPER_CLASSPATH"


def test_zookeeper_home_collects_jars(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "conf").mkdir()
    (tmp_path / "lib" / "zookeeper-3.9.2.jar").touch()
    (tmp_path / "lib" / "netty-handler.jar").touch()
    monkeypatch.delenv("ZOOKEEPER_CLASSPATH", raising=False)
    monkeypatch.setenv("ZOOKEEPER_HOME", str(tmp_path))
    entries = find_zookeeper().classpath.split(":")
    assert str(tmp_path / "lib" / "zookeeper-3.9.2.jar") in entries
    assert str(tmp_path / "lib" / "netty-handler.jar") in entries
    assert str(tmp_path / "conf") in entries


def test_missing_zookeeper_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.delenv("ZOOKEEPER_CLASSPATH", raising=False)
    monkeypatch.setenv("ZOOKEEPER_HOME", str(tmp_path))
    with pytest.raises(ZooKeeperNotFoundError) as info:
        find_zookeeper()
    message = str(info.value)
    for hint in ("apt-get install zookeeper", "ZOOKEEPER_HOME", "ZOOKEEPER_CLASSPATH"):
        assert hint in message
    server = ZooKeeperServer()
    try:
        with pytest.raises(ZooKeeperNotFoundError):
            server.start()
        assert server.pid is None
    finally:
        server.close()


def test_missing_java_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("ZOOKEEPER_CLASSPATH", "/opt/zookeeper.jar")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ZooKeeperNotFoundError, match="java"):
        find_zookeeper()


def test_debian_classpath_adds_logging_and_netty_codec(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    for name in ("zookeeper.jar", "slf4j-simple.jar", "netty-codec.jar"):
        (tmp_path / name).touch()
    monkeypatch.setattr(_server, "_DEBIAN_JAVA_DIR", tmp_path)
    monkeypatch.delenv("ZOOKEEPER_CLASSPATH", raising=False)
    monkeypatch.delenv("ZOOKEEPER_HOME", raising=False)
    entries = find_zookeeper().classpath.split(":")
    assert entries == [
        str(tmp_path / n) for n in ("zookeeper.jar", "slf4j-simple.jar", "netty-codec.jar")
    ]


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="super_digest"):
        ZooKeeperServer(super_digest="no-colon")
    with pytest.raises(ValueError, match="SASL user"):
        ZooKeeperServer(sasl_users={'bad"name': "x"})
    with pytest.raises(ValueError, match=r"single zoo\.cfg line"):
        ZooKeeperServer(extra_config={"a": "b\nc=d"})


def test_parse_srvr() -> None:
    answer = "Zookeeper version: 3.8.0\nZxid: 0x10\nMode: follower\nNode count: 7\n"
    assert parse_srvr(answer) == {
        "Zookeeper version": "3.8.0",
        "Zxid": "0x10",
        "Mode": "follower",
        "Node count": "7",
    }
    assert parse_srvr("This ZooKeeper instance is not currently serving requests\n") == {}


def test_four_letter_word_rejects_bad_commands() -> None:
    with pytest.raises(ValueError, match="four ASCII letters"):
        four_letter_word("127.0.0.1", 1, "stat\n")


def test_external_server_refuses_process_operations() -> None:
    external = ExternalZooKeeperServer("127.0.0.1:2181,127.0.0.1:2182")
    assert (external.host, external.port) == ("127.0.0.1", 2181)
    assert external.connect_string == "127.0.0.1:2181,127.0.0.1:2182"
    assert external.external
    external.start()  # a no-op
    for operation in (
        external.stop,
        external.kill,
        external.pause,
        external.resume,
        external.restart,
        external.wipe,
    ):
        with pytest.raises(ExternalServerError, match="ZOOKEEPER_HOSTS"):
            operation()
    with pytest.raises(ValueError, match="chroot"):
        ExternalZooKeeperServer("127.0.0.1:2181/app")


# --- process lifecycle -------------------------------------------------------------------


def test_lifecycle_keeps_data_across_kill_stop_and_restart() -> None:
    with ZooKeeperServer() as server:
        assert server.mode() == "standalone"
        assert server.connect_string == f"127.0.0.1:{server.port}"
        port, pid = server.port, server.pid
        assert pid is not None
        assert server.is_running

        zk = RawZK(server.host, server.port)
        assert 1000 <= zk.negotiated_timeout <= 10000  # tickTime 500: clamped to [2, 20] ticks
        created = zk.create("/survivor", b"v1")
        zk.close()
        before = server.srvr()
        assert int(before["Zxid"], 16) >= created

        server.kill()  # a crash
        assert (server.is_running, server.pid) == (False, None)
        assert server.returncode == -signal.SIGKILL
        assert gone(pid)
        assert server.mode() == ""
        server.start()
        assert server.port == port
        zk = RawZK(server.host, server.port)
        assert zk.get_data("/survivor") == b"v1"
        zk.close()
        after = server.srvr()
        assert after["Node count"] == before["Node count"]
        assert int(after["Zxid"], 16) > int(before["Zxid"], 16)  # + the session create/close

        server.restart()  # SIGTERM and start again
        assert server.returncode == 143  # the JVM's exit status after SIGTERM
        zk = RawZK(server.host, server.port)
        assert zk.get_data("/survivor") == b"v1"
        zk.close()

        with pytest.raises(RuntimeError, match="stop"):
            server.wipe()
        server.stop()
        server.wipe()
        server.start()
        assert server.srvr()["Zxid"] == "0x0"
        zk = RawZK(server.host, server.port)
        assert not zk.exists("/survivor")
        zk.close()
        assert server.log_path.read_text().count("trio_zookeeper.testing: launch #") == 4
        assert "launch #4" in server.log_tail(1000)
    assert not server.directory.exists()
    server.close()  # idempotent


def test_pause_silences_and_stop_continues_a_paused_jvm() -> None:
    with ZooKeeperServer() as server:
        server.pause()
        assert (server.is_paused, server.is_running) == (True, True)
        # The kernel still completes the TCP handshake, but nothing answers.
        with pytest.raises(TimeoutError):
            four_letter_word(server.host, server.port, "srvr", timeout=0.5)
        assert server.mode(timeout=0.5) == ""
        server.resume()
        assert not server.is_paused
        assert server.mode() == "standalone"

        server.pause()
        server.stop()  # SIGCONT first, else SIGTERM would wait for the 5 s SIGKILL fallback
        # 143: the JVM ended on the SIGTERM; without the SIGCONT it would have
        # stayed stopped until the SIGKILL fallback (-9).
        assert server.returncode == 143


async def test_async_start_restart_stop() -> None:
    with trio.fail_after(60):
        async with ZooKeeperServer() as server:
            assert await server.amode() == "standalone"
            assert await afour_letter_word(server.host, server.port, "ruok") == "imok"
            await server.arestart()
            assert await server.amode() == "standalone"
            await server.astop()
            assert not server.is_running
            with pytest.raises(TimeoutError):
                await afour_letter_word("127.0.0.1", server.port, "ruok", timeout=0.0)
            with pytest.raises(OSError):  # noqa: PT011 - refused: the port is closed
                await afour_letter_word("127.0.0.1", server.port, "ruok")
            await server.astart()
            assert server.pid is not None
        assert not server.is_running


async def test_cancelled_astart_leaves_no_jvm() -> None:
    server = ZooKeeperServer()
    try:
        with trio.move_on_after(0.2) as scope:
            await server.astart()
        assert scope.cancelled_caught
        assert not server.is_running
        assert server.returncode is not None
    finally:
        await server.aclose()


def test_start_failure_raises_with_log_tail() -> None:
    server = ZooKeeperServer(extra_config={"tickTime": "not-a-number"})
    try:
        with pytest.raises(ZooKeeperStartError, match="exited with status") as info:
            server.start(timeout=DEADLINE)
        assert "NumberFormatException" in info.value.log_tail
        assert "NumberFormatException" in str(info.value)
        assert not server.is_running
    finally:
        server.close()


def listening_blocker(port: int) -> socket.socket:
    """A socket listening on ``127.0.0.1:port``, so that nothing else can bind it.

    ``SO_REUSEADDR`` lets it bind a port whose earlier connections are still
    in TIME_WAIT (the server's own, after it stopped), which a plain bind
    refuses for a minute. On Linux it still cannot share the port with another
    listener, and another socket (the JVM sets ``SO_REUSEADDR`` too) cannot
    bind a port this one listens on.
    """
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
    except BaseException:
        blocker.close()
        raise
    return blocker


def test_bind_failure_on_first_start_picks_new_ports() -> None:
    server = ZooKeeperServer()
    try:
        with listening_blocker(server.port):
            taken = server.port
            server.start(timeout=DEADLINE * 2)
            assert server.port != taken
            assert server.mode() == "standalone"
            server.stop()  # its ports may now hold connections in TIME_WAIT
        with (  # after a successful start, ports are kept
            listening_blocker(server.port),
            pytest.raises(ZooKeeperStartError, match="already in use"),
        ):
            server.start(timeout=DEADLINE)
    finally:
        server.close()


def test_garbage_collected_server_kills_its_jvm() -> None:
    server = ZooKeeperServer()
    server.start()
    pid, directory = server.pid, server.directory
    assert pid is not None
    del server
    gc.collect()
    wait_until(lambda: gone(pid))
    assert not directory.exists()


CHILD_SCRIPT = """
import os, signal, sys
from trio_zookeeper.testing import ZooKeeperServer
server = ZooKeeperServer()
server.start()
print(server.pid, server.directory, flush=True)
if sys.argv[1] == "sigkill":
    os.kill(os.getpid(), signal.SIGKILL)
# "exit": leave without closing; the atexit hook must kill the JVM
"""


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_jvm_does_not_outlive_its_python_process(how: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, how],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    words = child.stdout.split()
    assert len(words) == 2, child.stderr
    pid, directory = int(words[0]), pathlib.Path(words[1])
    try:
        wait_until(lambda: gone(pid))
        if how == "exit":
            assert not directory.exists()  # finalizers ran at exit
    finally:
        shutil.rmtree(directory, ignore_errors=True)  # SIGKILL leaves it behind


# --- configured server: TLS, SASL, super digest, session bounds, 4lw whitelist, TTL -------------

SASL_USER, SASL_PASSWORD = "alice", "alice-secret"
SUPER_PASSWORD = "super-secret"


@pytest.fixture(scope="module")
def configured() -> Iterator[ZooKeeperServer]:
    server = ZooKeeperServer(
        tls=True,
        sasl_users={SASL_USER: SASL_PASSWORD, "bob": 'quote"and\\backslash'},
        super_digest=generate_digest("super", SUPER_PASSWORD),
        min_session_timeout=2000,
        max_session_timeout=3000,
        four_letter_words="ruok, conf",
        container_check_interval_ms=200,
    )
    with server:
        yield server


def test_tls_port_verifies_against_the_test_ca(configured: ZooKeeperServer) -> None:
    assert configured.secure_port is not None
    assert configured.tls_ca_file is not None
    assert configured.secure_connect_string == f"127.0.0.1:{configured.secure_port}"
    context = ssl.create_default_context(cafile=configured.tls_ca_file)
    for name in ("127.0.0.1", "localhost"):
        with (
            socket.create_connection(("127.0.0.1", configured.secure_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            certificate = tls.getpeercert()
            assert certificate is not None
            san = certificate["subjectAltName"]
            assert ("IP Address", "127.0.0.1") in san
            assert ("DNS", "localhost") in san

    def wrap(sock: socket.socket) -> socket.socket:
        return context.wrap_socket(sock, server_hostname="127.0.0.1")

    zk = RawZK("127.0.0.1", configured.secure_port, wrap=wrap)  # a session over TLS
    zk.create("/over-tls", b"secure")
    zk.close()
    plain = RawZK(configured.host, configured.port)  # and the plain port still serves
    assert plain.get_data("/over-tls") == b"secure"
    plain.close()


def test_untrusted_ca_is_rejected(configured: ZooKeeperServer) -> None:
    assert configured.secure_port is not None
    context = ssl.create_default_context()  # system CAs only
    with (
        socket.create_connection(("127.0.0.1", configured.secure_port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_session_timeout_bounds(configured: ZooKeeperServer) -> None:
    for requested, expected in ((100, 2000), (2500, 2500), (600_000, 3000)):
        zk = RawZK(configured.host, configured.port, session_timeout_ms=requested)
        assert zk.negotiated_timeout == expected
        zk.close()


def test_four_letter_word_whitelist(configured: ZooKeeperServer) -> None:
    assert configured.four_letter_word("ruok") == "imok"
    assert "clientPort" in configured.four_letter_word("conf")
    assert configured.mode() == "standalone"  # srvr is always added
    assert "not in the whitelist" in configured.four_letter_word("mntr")


def test_super_digest_reads_through_acls(configured: ZooKeeperServer) -> None:
    owner = generate_digest("owner", "owner-secret")
    zk = RawZK(configured.host, configured.port)
    zk.create("/private", b"secret", acl=_acl("digest", owner))
    with pytest.raises(ZooKeeperReplyError) as info:
        zk.get_data("/private")
    assert info.value.code == ERR_NO_AUTH
    zk.add_auth("digest", f"super:{SUPER_PASSWORD}".encode())
    assert zk.get_data("/private") == b"secret"
    zk.close()


@pytest.mark.parametrize(
    ("user", "password"), [(SASL_USER, SASL_PASSWORD), ("bob", 'quote"and\\backslash')]
)
def test_sasl_digest_md5_login(configured: ZooKeeperServer, user: str, password: str) -> None:
    path = f"/sasl-{user}"
    zk = RawZK(configured.host, configured.port)
    digest_md5_login(zk, user, password)
    zk.create(path, b"mine", acl=_acl("sasl", user))
    assert zk.get_data(path) == b"mine"
    zk.close()
    stranger = RawZK(configured.host, configured.port)
    with pytest.raises(ZooKeeperReplyError) as info:
        stranger.get_data(path)
    assert info.value.code == ERR_NO_AUTH
    stranger.close()


def test_sasl_wrong_password_fails(configured: ZooKeeperServer) -> None:
    zk = RawZK(configured.host, configured.port)
    try:
        with pytest.raises(ZooKeeperReplyError) as info:
            digest_md5_login(zk, SASL_USER, "wrong")
        assert info.value.code == ERR_AUTH_FAILED
        with pytest.raises(ConnectionError):  # and the server closes the connection
            zk.exists("/")
    finally:
        zk.sock.close()


def test_extended_types_and_container_checks(configured: ZooKeeperServer) -> None:
    zk = RawZK(configured.host, configured.port)
    zk.create_ttl("/ttl-node", ttl_ms=100)  # rejected unless extended types are on
    zk.create_container("/container")
    zk.create("/container/child", b"")
    zk.delete("/container/child")
    # With checkIntervalMs=200 the emptied container and the expired TTL node go quickly.
    wait_until(lambda: not zk.exists("/container") and not zk.exists("/ttl-node"), timeout=5)
    zk.close()


def test_external_server_reads_a_running_server(configured: ZooKeeperServer) -> None:
    external = ExternalZooKeeperServer(configured.connect_string)
    assert external.mode() == "standalone"
    assert external.srvr()["Mode"] == "standalone"
    assert external.log_tail() == ""


# --- the pytest plugin, run in a child pytest ------------------------------------------------

PLUGIN_TESTS = """
import pytest
from trio_zookeeper.testing import ExternalServerError
from trio_zookeeper.testing.pytest_plugin import requires_zookeeper

def test_uses_fixture(zookeeper_server):
    assert zookeeper_server.connect_string == "{expected}" or "{expected}" == "local"
    if zookeeper_server.external:
        with pytest.raises(ExternalServerError):
            zookeeper_server.stop()
    else:
        assert zookeeper_server.mode() == "standalone"
        if not {fail}:
            # The log's newest line, whatever the JVM logged at start-up
            # (appended: the JVM's output is opened in append mode too).
            with zookeeper_server.log_path.open("a") as log:
                log.write("the newest line of the server log\\n")
        assert {fail}, "deliberate failure"

@requires_zookeeper
def test_marked():
    pass

def test_plain():
    pass
"""


def run_child_pytest(
    tmp_path: pathlib.Path, env: dict[str, str], *, expected: str, fail: bool = False
) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_child.py"
    test_file.write_text(
        textwrap.dedent(PLUGIN_TESTS).format(expected=expected, fail="False" if fail else "True")
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "trio_zookeeper.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-rA",
            "--rootdir",
            str(tmp_path),
            str(test_file),
        ],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_plugin_fails_not_skips_without_zookeeper(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOOKEEPER_HOSTS", raising=False)
    monkeypatch.delenv("ZOOKEEPER_CLASSPATH", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_child_pytest(tmp_path, {"ZOOKEEPER_HOME": str(empty)}, expected="local")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "apt-get install zookeeper" in output
    assert "skipped" not in output
    assert re.search(r"1 passed, 2 errors", output), output


def test_plugin_uses_zookeeper_hosts_without_a_jvm(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, configured: ZooKeeperServer
) -> None:
    monkeypatch.delenv("ZOOKEEPER_CLASSPATH", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"ZOOKEEPER_HOME": str(empty), "ZOOKEEPER_HOSTS": configured.connect_string}
    result = run_child_pytest(tmp_path, env, expected=configured.connect_string)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "3 passed" in output


def test_plugin_refuses_the_former_variable_name(tmp_path: pathlib.Path) -> None:
    """TZK_SERVERS was renamed ZOOKEEPER_HOSTS: setting it stops the run, it is not ignored."""
    result = run_child_pytest(tmp_path, {"TZK_SERVERS": "127.0.0.1:2181"}, expected="local")
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "rename it to ZOOKEEPER_HOSTS" in output
    assert "passed" not in output


def test_plugin_rejects_a_chroot_in_zookeeper_hosts(
    tmp_path: pathlib.Path, configured: ZooKeeperServer
) -> None:
    env = {"ZOOKEEPER_HOSTS": configured.connect_string + "/app"}
    result = run_child_pytest(tmp_path, env, expected="local")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "ZOOKEEPER_HOSTS=" in output
    assert "without a chroot" in output
    assert "2 passed, 1 error" in output, output


def test_bootstrap_refuses_the_former_variable_name() -> None:
    script = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "bootstrap.sh"
    result = subprocess.run(
        ["bash", str(script)],
        env={**os.environ, "TZK_SERVERS": "127.0.0.1:2181"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "ZOOKEEPER_HOSTS=127.0.0.1:2181" in result.stderr


def test_plugin_attaches_server_log_on_failure(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOOKEEPER_HOSTS", raising=False)
    result = run_child_pytest(tmp_path, {}, expected="local", fail=True)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "deliberate failure" in output
    assert "zookeeper_server log 127.0.0.1:" in output
    # Its tail (the launch line may already be more than 100 lines back).
    assert "the newest line of the server log" in output
