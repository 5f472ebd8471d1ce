"""Throwaway TLS material for tests: a private CA, a server and client certificates.

Everything is made at test time with the ``openssl`` command line tool (and
``keytool`` for the Java truststore), so no key material is ever committed.
The keys are ECDSA P-256: generation is instant and both Java 17 and Python's
:mod:`ssl` support them.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import subprocess

import attrs

__all__ = [
    "ClientCertificate",
    "TLSMaterial",
    "TLSToolMissingError",
    "make_client_certificate",
    "make_tls_material",
]

_SERVER_EXTENSIONS = (
    "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth\n"
)
_CLIENT_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=clientAuth\n"
)
_TOOL_TIMEOUT = 60.0  # seconds; keytool starts a JVM, openssl is instant


class TLSToolMissingError(RuntimeError):
    """``openssl`` or ``keytool`` is not installed, so no test certificates can be made."""


@attrs.frozen(kw_only=True)
class TLSMaterial:
    """Paths and passwords of one throwaway CA and its server certificate.

    Attributes:
        directory: Where every file below lives.
        ca_file: The CA certificate (PEM). Pass it to
            ``ssl.create_default_context(cafile=...)`` to verify the server.
        ca_key_file: The CA private key (PEM, unencrypted).
        server_cert_file: The server certificate (PEM), SAN ``IP:127.0.0.1``
            and ``DNS:localhost``.
        server_key_file: The server private key (PEM, unencrypted).
        keystore_file: PKCS#12 keystore with the server key, certificate and CA
            (ZooKeeper's ``ssl.keyStore.location``).
        keystore_password: Password of ``keystore_file``.
        truststore_file: PKCS#12 truststore holding the CA as a trusted entry
            (ZooKeeper's ``ssl.trustStore.location``).
        truststore_password: Password of ``truststore_file``.
        store_type: The type of both stores, ``"PKCS12"``.
    """

    directory: pathlib.Path
    ca_file: pathlib.Path
    ca_key_file: pathlib.Path
    server_cert_file: pathlib.Path
    server_key_file: pathlib.Path
    keystore_file: pathlib.Path
    keystore_password: str
    truststore_file: pathlib.Path
    truststore_password: str
    store_type: str = "PKCS12"


def _find_keytool(java: str | None) -> str | None:
    if java is not None:
        candidate = pathlib.Path(java).resolve().parent / "keytool"
        if candidate.is_file():
            return str(candidate)
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = pathlib.Path(java_home) / "bin" / "keytool"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("keytool")


def _run(args: list[str], *, cwd: pathlib.Path, env: dict[str, str] | None = None) -> None:
    try:
        subprocess.run(
            args,
            cwd=cwd,
            env=env,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=_TOOL_TIMEOUT,
        )
    except subprocess.CalledProcessError as exc:
        output = exc.stdout.decode(errors="replace") if exc.stdout else ""
        raise RuntimeError(f"{args[0]} failed (exit {exc.returncode}):\n{output}") from exc


def make_tls_material(directory: os.PathLike[str] | str, *, java: str | None = None) -> TLSMaterial:
    """Create a throwaway CA and a server certificate for 127.0.0.1/localhost.

    The certificates are valid for two days. The directory is created if
    needed; existing files with the same names are overwritten.

    Args:
        directory: Where to write the files.
        java: Path of the ``java`` executable whose sibling ``keytool`` should be
            used; by default ``$JAVA_HOME/bin/keytool`` or ``keytool`` on PATH.

    Returns:
        The paths and passwords, see :class:`TLSMaterial`.

    Raises:
        TLSToolMissingError: ``openssl`` or ``keytool`` cannot be found.
        RuntimeError: One of the tools failed; the message has its output.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TLSToolMissingError(
            "the openssl command is needed for TLS tests: apt-get install openssl"
        )
    keytool = _find_keytool(java)
    if keytool is None:
        raise TLSToolMissingError(
            "keytool (part of the Java runtime) is needed for TLS tests: "
            "apt-get install openjdk-17-jre-headless, or set JAVA_HOME"
        )
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    ca_file, ca_key = out / "ca.pem", out / "ca.key"
    cert_file, key_file, csr_file = out / "server.pem", out / "server.key", out / "server.csr"
    ext_file = out / "server.ext"
    keystore, truststore = out / "keystore.p12", out / "truststore.p12"
    keystore_password = secrets.token_hex(12)
    truststore_password = secrets.token_hex(12)
    ext_file.write_text(_SERVER_EXTENSIONS)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(
        [openssl, "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca_file),
         "-days", "2", "-subj", "/CN=trio_zookeeper test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        cwd=out,
    )  # fmt: skip
    _run(
        [openssl, "req", "-new", *ec, "-keyout", str(key_file), "-out", str(csr_file),
         "-subj", "/CN=localhost"],
        cwd=out,
    )  # fmt: skip
    _run(
        [openssl, "x509", "-req", "-in", str(csr_file), "-CA", str(ca_file),
         "-CAkey", str(ca_key), "-set_serial", str(secrets.randbits(63) | 1),
         "-days", "2", "-out", str(cert_file), "-extfile", str(ext_file)],
        cwd=out,
    )  # fmt: skip
    env = {
        **os.environ,
        "TZK_KEYSTORE_PASSWORD": keystore_password,
        "TZK_TRUSTSTORE_PASSWORD": truststore_password,
    }
    _run(
        [openssl, "pkcs12", "-export", "-in", str(cert_file), "-inkey", str(key_file),
         "-certfile", str(ca_file), "-name", "server", "-out", str(keystore),
         "-passout", "env:TZK_KEYSTORE_PASSWORD"],
        cwd=out,
        env=env,
    )  # fmt: skip
    truststore.unlink(missing_ok=True)  # keytool would add to an existing store
    _run(
        [keytool, "-importcert", "-noprompt", "-alias", "tzk-test-ca", "-file", str(ca_file),
         "-keystore", str(truststore), "-storetype", "PKCS12",
         "-storepass:env", "TZK_TRUSTSTORE_PASSWORD"],
        cwd=out,
        env=env,
    )  # fmt: skip
    for private in (ca_key, key_file, keystore, truststore):
        private.chmod(0o600)
    return TLSMaterial(
        directory=out,
        ca_file=ca_file,
        ca_key_file=ca_key,
        server_cert_file=cert_file,
        server_key_file=key_file,
        keystore_file=keystore,
        keystore_password=keystore_password,
        truststore_file=truststore,
        truststore_password=truststore_password,
    )


@attrs.frozen(kw_only=True)
class ClientCertificate:
    """A client certificate signed by a :class:`TLSMaterial`'s CA.

    Attributes:
        cert_file: The certificate (PEM).
        key_file: Its private key (PEM, unencrypted).
        subject: The subject as ZooKeeper's X509AuthenticationProvider names it
            (RFC 2253, e.g. ``"CN=alice,O=trio_zookeeper tests"``): the
            session's ``x509`` identity, and the id of an ``x509:`` ACL.
    """

    cert_file: pathlib.Path
    key_file: pathlib.Path
    subject: str


def make_client_certificate(
    material: TLSMaterial, common_name: str, *, organization: str = "trio_zookeeper tests"
) -> ClientCertificate:
    """Create a client certificate (``extendedKeyUsage=clientAuth``) signed by the material's CA.

    Load it with ``context.load_cert_chain(cert.cert_file, cert.key_file)``.

    Args:
        material: The CA to sign with (e.g. ``ZooKeeperServer.tls_material``).
        common_name: The subject's CN; letters, digits, ``-``, ``_`` and ``.``.
        organization: The subject's O.

    Returns:
        The files and the subject.

    Raises:
        ValueError: A name has characters that would need escaping.
        TLSToolMissingError: ``openssl`` cannot be found.
        RuntimeError: openssl failed.
    """
    for value in (common_name, organization):
        if not value or not all(c.isalnum() or c in "-_. " for c in value):
            raise ValueError(f"certificate name {value!r}: letters, digits, '-_. ' only")
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TLSToolMissingError(
            "the openssl command is needed for TLS tests: apt-get install openssl"
        )
    out = material.directory
    stem = "client-" + common_name.replace(" ", "_")
    cert_file, key_file = out / f"{stem}.pem", out / f"{stem}.key"
    csr_file, ext_file = out / f"{stem}.csr", out / "client.ext"
    ext_file.write_text(_CLIENT_EXTENSIONS)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(
        [openssl, "req", "-new", *ec, "-keyout", str(key_file), "-out", str(csr_file),
         "-subj", f"/O={organization}/CN={common_name}"],
        cwd=out,
    )  # fmt: skip
    _run(
        [openssl, "x509", "-req", "-in", str(csr_file), "-CA", str(material.ca_file),
         "-CAkey", str(material.ca_key_file), "-set_serial", str(secrets.randbits(63) | 1),
         "-days", "2", "-out", str(cert_file), "-extfile", str(ext_file)],
        cwd=out,
    )  # fmt: skip
    key_file.chmod(0o600)
    return ClientCertificate(
        cert_file=cert_file, key_file=key_file, subject=f"CN={common_name},O={organization}"
    )
