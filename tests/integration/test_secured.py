"""Secured ensembles against real parts: a real MIT KDC and one Kerberized, TLS server.

One module-scoped KDC (``KerberosRealm``) and one module-scoped ZooKeeper JVM
serve every test here. The server runs SASL GSSAPI (Kerberos) on its plain
port, TLS with required client certificates (the X509 provider: the
certificate subject is the session's identity) on its secure port, and
``enforce.auth.enabled`` with the schemes ``sasl`` and ``x509``: a session
with neither is refused.

Tests that need the Kerberos packages or the ``gssapi`` module fail with a
message naming what to install (scripts/bootstrap.sh installs both).
"""

from __future__ import annotations

import json
import pathlib
import ssl
import threading
from collections.abc import Iterator

import pytest
import trio

from trio_zookeeper import (
    AuthFailedError,
    KeeperState,
    NoAuthError,
    Perm,
    SaslDigestMD5,
    SaslExchange,
    SaslGSSAPI,
    SaslMechanism,
    SessionClosedRequireSaslAuthError,
    make_acl,
    open_zookeeper,
)
from trio_zookeeper.testing import (
    ClientCertificate,
    KerberosRealm,
    ZooKeeperEnsemble,
    ZooKeeperServer,
    make_client_certificate,
    make_tls_material,
    open_fault_proxy,
)

pytestmark = [pytest.mark.server, pytest.mark.timeout(180)]

BOUND = 30.0  # seconds: bound on one connection attempt under a loaded machine


def _require_gssapi() -> None:
    try:
        import gssapi  # noqa: F401
    except ImportError:
        pytest.fail(
            "the gssapi module is missing: pip install 'trio-zookeeper[kerberos]' "
            "(needs libkrb5-dev), or run scripts/bootstrap.sh"
        )


@pytest.fixture(scope="module")
def realm() -> Iterator[KerberosRealm]:
    _require_gssapi()
    kdc = KerberosRealm()
    try:
        kdc.start()
        with kdc.activate():
            yield kdc
    finally:
        kdc.close()


@pytest.fixture(scope="module")
def server(realm: KerberosRealm) -> Iterator[ZooKeeperServer]:
    zk_server = ZooKeeperServer(
        kerberos=realm.server_login("zookeeper/localhost"),
        tls=True,
        tls_client_auth=True,
        enforce_auth_schemes=["sasl", "x509"],
    )
    try:
        zk_server.start(90)
        yield zk_server
    finally:
        zk_server.close()


@pytest.fixture(scope="module")
def alice(realm: KerberosRealm) -> tuple[str, pathlib.Path]:
    principal = realm.add_principal("alice")
    return principal, realm.keytab(principal)


@pytest.fixture(scope="module")
def bob(realm: KerberosRealm) -> tuple[str, pathlib.Path]:
    principal = realm.add_principal("bob")
    return principal, realm.keytab(principal)


def _tls_context(server: ZooKeeperServer, cert: ClientCertificate | None) -> ssl.SSLContext:
    assert server.tls_ca_file is not None
    context = ssl.create_default_context(cafile=server.tls_ca_file)
    if cert is not None:
        context.load_cert_chain(cert.cert_file, cert.key_file)
    return context


async def _certificates(server: ZooKeeperServer, *names: str) -> list[ClientCertificate]:
    material = server.tls_material
    assert material is not None
    return [
        await trio.to_thread.run_sync(make_client_certificate, material, name) for name in names
    ]


async def _refusal(server: ZooKeeperServer, mechanism: SaslMechanism) -> str:
    """Connect with ``mechanism``; it must fail at once: return the one-line reason."""
    with trio.fail_after(BOUND), pytest.raises(AuthFailedError) as info:
        async with open_zookeeper(server.connect_string, sasl=mechanism):
            pass  # pragma: no cover - must not connect
    message = str(info.value)
    assert "\n" not in message
    return message


def _ids(infos: object) -> set[tuple[str, str]]:
    return {(info.auth_scheme, info.user) for info in infos}  # type: ignore[attr-defined]


async def test_keytab_login_sasl_acl_admits_the_principal_and_refuses_another(
    server: ZooKeeperServer,
    realm: KerberosRealm,
    alice: tuple[str, pathlib.Path],
    bob: tuple[str, pathlib.Path],
) -> None:
    principal, keytab = alice
    acl = [make_acl("sasl", principal, Perm.ALL)]
    with trio.fail_after(BOUND):
        # 127.0.0.1 is canonicalised (reverse DNS) to localhost: the service
        # principal is zookeeper/localhost, as the Java client would ask for.
        mechanism = SaslGSSAPI(principal=principal, keytab=keytab)
        async with open_zookeeper(server.connect_string, sasl=mechanism) as zk:
            assert ("sasl", principal) in _ids(await zk.who_am_i())
            await zk.create("/krb-alice", b"secret", acl=acl)
            assert (await zk.get_data("/krb-alice"))[0] == b"secret"
            assert (await zk.get_acl("/krb-alice"))[0] == acl
        bob_mechanism = SaslGSSAPI(principal=bob[0], keytab=bob[1], hostname="localhost")
        async with open_zookeeper(server.connect_string, sasl=bob_mechanism) as other:
            assert ("sasl", bob[0]) in _ids(await other.who_am_i())
            with pytest.raises(NoAuthError):
                await other.get_data("/krb-alice")
            with pytest.raises(NoAuthError):
                await other.set_data("/krb-alice", b"stolen")


async def test_default_acl_with_sasl_ids_covers_made_parents(
    server: ZooKeeperServer, alice: tuple[str, pathlib.Path], bob: tuple[str, pathlib.Path]
) -> None:
    only_alice = [make_acl("sasl", alice[0], Perm.ALL)]
    alice_login = SaslGSSAPI(principal=alice[0], keytab=alice[1])
    bob_login = SaslGSSAPI(principal=bob[0], keytab=bob[1])
    with trio.fail_after(BOUND):
        async with open_zookeeper(
            server.connect_string, sasl=alice_login, default_acl=only_alice
        ) as zk:
            await zk.create("/dacl/a/b", b"x", makepath=True)
            for path in ("/dacl", "/dacl/a", "/dacl/a/b"):
                assert (await zk.get_acl(path))[0] == only_alice
        async with open_zookeeper(server.connect_string, sasl=bob_login) as other:
            with pytest.raises(NoAuthError):
                await other.create("/dacl/intruder")
            with pytest.raises(NoAuthError):
                await other.get_data("/dacl/a/b")


async def test_credential_cache_login(
    server: ZooKeeperServer, realm: KerberosRealm, bob: tuple[str, pathlib.Path]
) -> None:
    ccache = await trio.to_thread.run_sync(realm.kinit, bob[0])
    mechanism = SaslGSSAPI(ccache=ccache, hostname="localhost")
    with trio.fail_after(BOUND):
        async with open_zookeeper(server.connect_string, sasl=mechanism) as zk:
            assert ("sasl", bob[0]) in _ids(await zk.who_am_i())


class RecordingExchange:
    """Delegates to a real exchange, recording the thread of every call."""

    def __init__(self, inner: SaslExchange, threads: list[threading.Thread]) -> None:
        self.inner = inner
        self.blocking = inner.blocking
        self.threads = threads

    def initial_token(self) -> bytes:
        self.threads.append(threading.current_thread())
        return self.inner.initial_token()

    def respond(self, challenge: bytes) -> bytes | None:
        self.threads.append(threading.current_thread())
        return self.inner.respond(challenge)


class CountingMechanism:
    """A SaslMechanism of our own: counts exchanges (one per connection), records threads."""

    def __init__(self, inner: SaslGSSAPI) -> None:
        self.inner = inner
        self.exchanges = 0
        self.threads: list[threading.Thread] = []

    @property
    def mechanism(self) -> str:
        return self.inner.mechanism

    def exchange(self, server_host: str) -> SaslExchange:
        self.exchanges += 1
        return RecordingExchange(self.inner.exchange(server_host), self.threads)


async def test_every_new_connection_authenticates_again(
    server: ZooKeeperServer, alice: tuple[str, pathlib.Path]
) -> None:
    principal, keytab = alice
    counting = CountingMechanism(SaslGSSAPI(principal=principal, keytab=keytab))
    acl = [make_acl("sasl", principal, Perm.ALL)]
    with trio.fail_after(BOUND * 2):
        async with (
            open_fault_proxy(server.host, server.port) as proxy,
            open_zookeeper(proxy.address, sasl=counting, session_timeout=20) as zk,
        ):
            await zk.create("/krb-reconnect", b"v1", acl=acl)
            assert counting.exchanges == 1
            await proxy.reset()
            await proxy.wait_for_connections(2, total=True)
            # Readable again only if the new connection is authenticated as alice.
            assert (await zk.get_data("/krb-reconnect"))[0] == b"v1"
            assert counting.exchanges == 2
            assert zk.statistics().connections == 2
            assert ("sasl", principal) in _ids(await zk.who_am_i())
    # GSSAPI blocks (keytab, KDC): every call ran in a worker thread, not the loop's.
    assert len(counting.threads) >= 4
    assert threading.current_thread() not in counting.threads


async def test_session_without_a_required_scheme_fails_clearly(server: ZooKeeperServer) -> None:
    with trio.fail_after(BOUND):
        async with open_zookeeper(server.connect_string) as zk:
            with pytest.raises(SessionClosedRequireSaslAuthError, match=r"enforce\.auth"):
                await zk.exists("/")
            # Final: no reconnect loop meeting the same refusal.
            with pytest.raises(SessionClosedRequireSaslAuthError):
                await zk.exists("/")


async def test_digest_md5_against_a_kerberos_server_fails_at_once(
    server: ZooKeeperServer,
) -> None:
    message = await _refusal(server, SaslDigestMD5("alice", "pw"))
    assert "DIGEST-MD5 as 'alice'" in message


async def test_expired_ticket_fails_at_once(
    server: ZooKeeperServer, realm: KerberosRealm, bob: tuple[str, pathlib.Path]
) -> None:
    ccache = await trio.to_thread.run_sync(lambda: realm.kinit(bob[0], lifetime="1s"))
    with trio.fail_after(BOUND):
        # The KDC's clock decides: wait until klist itself says it expired.
        while await trio.to_thread.run_sync(realm.ccache_valid, ccache):  # noqa: ASYNC110
            await trio.sleep(0.2)
    message = await _refusal(server, SaslGSSAPI(ccache=ccache, hostname="localhost"))
    assert "expired" in message
    assert ccache in message


async def test_unknown_principal_fails_at_once(
    server: ZooKeeperServer, realm: KerberosRealm
) -> None:
    carol = realm.add_principal("carol")
    keytab = realm.keytab(carol)
    realm.delete_principal(carol)  # the keytab outlives its principal
    mechanism = SaslGSSAPI(principal=carol, keytab=keytab, hostname="localhost")
    message = await _refusal(server, mechanism)
    assert carol in message
    assert "not found in Kerberos database" in message


async def test_missing_keytab_fails_at_once(
    server: ZooKeeperServer, alice: tuple[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    missing = tmp_path / "no-such.keytab"
    message = await _refusal(server, SaslGSSAPI(principal=alice[0], keytab=missing))
    assert f"the keytab {missing} does not exist" in message


async def test_unknown_service_principal_fails_at_once(
    server: ZooKeeperServer, alice: tuple[str, pathlib.Path]
) -> None:
    # Without canonicalisation the service principal is zookeeper/127.0.0.1,
    # which the KDC does not know.
    mechanism = SaslGSSAPI(principal=alice[0], keytab=alice[1], canonicalize_hostname=False)
    message = await _refusal(server, mechanism)
    assert "zookeeper/127.0.0.1" in message
    assert "not found in Kerberos database" in message


async def test_client_certificate_is_the_identity_and_x509_acls_hold(
    server: ZooKeeperServer,
) -> None:
    assert server.secure_connect_string is not None
    cert_a, cert_b = await _certificates(server, "app-a", "app-b")
    acl = [make_acl("x509", cert_a.subject, Perm.ALL)]
    with trio.fail_after(BOUND):
        context_a = _tls_context(server, cert_a)
        async with open_zookeeper(server.secure_connect_string, ssl_context=context_a) as zk:
            assert ("x509", cert_a.subject) in _ids(await zk.who_am_i())
            await zk.create("/x509-a", b"mine", acl=acl)
            assert (await zk.get_data("/x509-a"))[0] == b"mine"
        context_b = _tls_context(server, cert_b)
        async with open_zookeeper(server.secure_connect_string, ssl_context=context_b) as other:
            assert ("x509", cert_b.subject) in _ids(await other.who_am_i())
            with pytest.raises(NoAuthError):
                await other.get_data("/x509-a")


async def test_a_refused_client_certificate_fails_the_open_at_once(
    server: ZooKeeperServer, tmp_path: pathlib.Path
) -> None:
    """No certificate, or one from a CA the server does not trust: one clear, final error."""
    assert server.secure_connect_string is not None
    stranger_ca = await trio.to_thread.run_sync(make_tls_material, tmp_path / "other-ca")
    untrusted = await trio.to_thread.run_sync(make_client_certificate, stranger_ca, "stranger")
    for cert in (None, untrusted):
        context = _tls_context(server, cert)
        # No connect_rounds: the rejection itself ends the open, well inside
        # one round of hosts, instead of retrying until the caller gives up.
        with trio.fail_after(BOUND), pytest.raises(AuthFailedError) as info:
            async with open_zookeeper(server.secure_connect_string, ssl_context=context):
                pass  # pragma: no cover - must not connect
        message = str(info.value)
        assert "refused this client's TLS certificate" in message, message
        assert "ALERT" in message, message


async def test_sasl_over_tls(server: ZooKeeperServer, alice: tuple[str, pathlib.Path]) -> None:
    assert server.secure_connect_string is not None
    (cert,) = await _certificates(server, "both")
    mechanism = SaslGSSAPI(principal=alice[0], keytab=alice[1], hostname="localhost")
    with trio.fail_after(BOUND):
        async with open_zookeeper(
            server.secure_connect_string, ssl_context=_tls_context(server, cert), sasl=mechanism
        ) as zk:
            ids = _ids(await zk.who_am_i())
            assert ("sasl", alice[0]) in ids
            assert ("x509", cert.subject) in ids
            await zk.create("/sasl-over-tls", acl=[make_acl("sasl", alice[0], Perm.ALL)])
            assert (await zk.exists("/sasl-over-tls")) is not None


def test_target_principal_options() -> None:
    _require_gssapi()
    assert SaslGSSAPI().target_principal("ZK1.Example.com", resolve=False) == (
        "zookeeper/zk1.example.com"
    )
    assert SaslGSSAPI(service="zk", hostname="h").target_principal("x") == "zk/h"
    explicit = SaslGSSAPI(server_principal="zookeeper/zk@OTHER.REALM")
    assert explicit.target_principal("x") == "zookeeper/zk@OTHER.REALM"
    with pytest.raises(ValueError, match="service"):
        SaslGSSAPI(service="a/b")
    with pytest.raises(ValueError, match="principal"):
        SaslGSSAPI(principal="")


def test_gssapi_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "gssapi", None)
    with pytest.raises(ImportError, match=r"trio-zookeeper\[kerberos\]"):
        SaslGSSAPI()


def test_sasl_argument_is_checked() -> None:
    from trio_zookeeper._protocol._sasl import sasl_mechanism

    assert sasl_mechanism(("u", "p")) == SaslDigestMD5("u", "p")
    assert "pw" not in repr(SaslDigestMD5("u", "pw"))
    with pytest.raises(TypeError, match="SaslGSSAPI"):
        sasl_mechanism("user:password")


async def test_reloaded_certificate_is_presented_on_the_next_connection(
    server: ZooKeeperServer,
) -> None:
    """Rotating a client certificate: load the new one into the same context."""
    assert server.secure_port is not None
    old, new = await _certificates(server, "rot-old", "rot-new")
    context = _tls_context(server, old)
    with trio.fail_after(BOUND * 2):
        async with (
            open_fault_proxy(server.host, server.secure_port) as proxy,
            open_zookeeper(proxy.address, ssl_context=context, session_timeout=20) as zk,
        ):
            assert ("x509", old.subject) in _ids(await zk.who_am_i())
            context.load_cert_chain(new.cert_file, new.key_file)
            await proxy.reset()
            await proxy.wait_for_connections(2, total=True)
            ids = _ids(await zk.who_am_i())
            assert ("x509", new.subject) in ids
            assert ("x509", old.subject) not in ids


@pytest.mark.ensemble
async def test_kerberized_ensemble(realm: KerberosRealm, alice: tuple[str, pathlib.Path]) -> None:
    """ZooKeeperEnsemble passes kerberos= to every member: a Kerberized quorum."""
    ensemble = ZooKeeperEnsemble(3, kerberos=realm.server_login("zookeeper/127.0.0.1"))
    try:
        await trio.to_thread.run_sync(ensemble.start, 120)
        # The service principal names the address: no canonicalisation.
        login = SaslGSSAPI(principal=alice[0], keytab=alice[1], canonicalize_hostname=False)
        with trio.fail_after(BOUND):
            async with open_zookeeper(ensemble.connect_string, sasl=login) as zk:
                assert ("sasl", alice[0]) in _ids(await zk.who_am_i())
                await zk.create("/krb-quorum", acl=[make_acl("sasl", alice[0], Perm.ALL)])
                assert await zk.exists("/krb-quorum") is not None
    finally:
        await trio.to_thread.run_sync(ensemble.close)


async def test_failed_reauthentication_ends_the_session_clearly(
    server: ZooKeeperServer, realm: KerberosRealm, tmp_path: pathlib.Path
) -> None:
    """The keytab disappears while connected: the next connection fails, final and clear."""
    dave = realm.add_principal("dave")
    keytab = tmp_path / "dave.keytab"
    keytab.write_bytes(realm.keytab(dave).read_bytes())
    login = SaslGSSAPI(principal=dave, keytab=keytab, hostname="localhost")
    with trio.fail_after(BOUND * 2):
        async with (
            open_fault_proxy(server.host, server.port) as proxy,
            open_zookeeper(proxy.address, sasl=login, session_timeout=20) as zk,
        ):
            async with zk.session_states() as states:
                assert ("sasl", dave) in _ids(await zk.who_am_i())
                keytab.unlink()
                await proxy.reset()
                seen = []
                async for state in states:
                    seen.append(state)
                    if state is KeeperState.AUTH_FAILED:
                        break
            assert seen == [KeeperState.DISCONNECTED, KeeperState.AUTH_FAILED]
            for _ in range(2):  # final: no reconnecting behind the error
                with pytest.raises(AuthFailedError, match=f"the keytab {keytab} does not exist"):
                    await zk.exists("/")


# ------------------------------------------------------------ the command line
def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line in-process (it bounds itself by its --timeout)."""
    from trio_zookeeper._cli import main

    code = main(["--timeout", str(BOUND), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_kerberos_keytab_login(
    server: ZooKeeperServer,
    alice: tuple[str, pathlib.Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    principal, keytab = alice
    argv = ["-H", server.connect_string, "--keytab", str(keytab), "--principal", principal]
    code, out, err = _cli(capsys, *argv, "whoami")
    assert (code, err) == (0, ""), err
    assert f"sasl: {principal}" in out.splitlines()
    # Without credentials the enforcing server refuses the session, and the
    # command says so in one line instead of hanging.
    code, out, err = _cli(capsys, "-H", server.connect_string, "whoami")
    assert code == 1
    assert out == ""
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert "requires authentication" in err, err


def test_cli_kerberos_credential_cache_login(
    server: ZooKeeperServer,
    realm: KerberosRealm,
    bob: tuple[str, pathlib.Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KRB5CCNAME", realm.kinit(bob[0]))
    code, out, err = _cli(capsys, "-H", server.connect_string, "--kerberos", "whoami", "--json")
    assert (code, err) == (0, ""), err
    assert {"scheme": "sasl", "user": bob[0]} in json.loads(out)


def test_cli_client_certificate(
    server: ZooKeeperServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert server.secure_connect_string is not None
    assert server.tls_ca_file is not None
    material = server.tls_material
    assert material is not None
    cert = make_client_certificate(material, "cli-user")
    tls = ["--tls-ca", str(server.tls_ca_file), "--tls-cert", str(cert.cert_file)]
    tls += ["--tls-key", str(cert.key_file)]
    code, out, err = _cli(capsys, "-H", server.secure_connect_string, *tls, "whoami")
    assert (code, err) == (0, ""), err
    assert f"x509: {cert.subject}" in out.splitlines()


def test_cli_security_options_are_checked(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wrong security options are usage errors naming the option, before connecting."""
    missing = tmp_path / "missing.keytab"
    cases = [
        (["--keytab", str(missing)], f"--keytab: no such file: {missing}"),
        (["--tls-cert", str(missing)], "--tls-cert and --tls-key need --tls-ca"),
        (["--tls-ca", str(missing)], f"--tls-ca: cannot load {missing}"),
    ]
    for options, expected in cases:
        code, out, err = _cli(capsys, "-H", "127.0.0.1:1", *options, "whoami")
        assert code == 2, (options, err)
        assert out == "", (options, err)
        assert expected in err, (options, err)
