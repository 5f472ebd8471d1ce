"""A secured ensemble: Kerberos (SASL GSSAPI) and TLS client certificates, with ACLs.

Run it with ``ZOOKEEPER_HOSTS=host:port ZOOKEEPER_PRINCIPAL=app@REALM
ZOOKEEPER_KEYTAB=/etc/app.keytab python docs/examples/secured.py`` against a
Kerberized ensemble; without ``ZOOKEEPER_HOSTS`` it starts a throwaway KDC
(Debian's ``krb5-kdc``) and a Kerberized ZooKeeper with a client-certificate
TLS port, and runs both halves against them. Needs
``pip install 'trio-zookeeper[kerberos]'``.
"""

from __future__ import annotations

import os
import ssl

import trio

from trio_zookeeper import NoAuthError, Perm, SaslGSSAPI, make_acl, open_zookeeper


async def kerberos_main(hosts: str, principal: str, keytab: str) -> None:
    """Log in from a keytab; every node we create is ours alone (a ``sasl:`` default ACL)."""
    # Credentials are acquired again on every connection: from a keytab,
    # expired tickets are replaced without anybody running kinit.
    login = SaslGSSAPI(principal=principal, keytab=keytab)
    only_me = [make_acl("sasl", principal, Perm.ALL)]
    async with open_zookeeper(hosts, sasl=login, default_acl=only_me) as zk:
        print("  logged in as", [(i.auth_scheme, i.user) for i in await zk.who_am_i()])
        # No acl= anywhere: the default ACL covers /app and /app/secrets too.
        await zk.create("/app/secrets/db", b"s3cret", makepath=True)
        data, _ = await zk.get_data("/app/secrets/db")
        acl, _ = await zk.get_acl("/app")
        print(f"  read back: {data!r}; ACL of /app: {[(a.id.scheme, a.id.id) for a in acl]}")
        for path in ("/app/secrets/db", "/app/secrets", "/app"):
            await zk.delete(path)


def tls_context(ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    """Trust only our CA (pinning it), check host names, present our certificate."""
    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(cert_file, key_file)
    return context


async def x509_main(
    hosts: str, owner: ssl.SSLContext, owner_subject: str, other: ssl.SSLContext
) -> None:
    """The certificate subject is the identity: an ``x509:`` ACL admits only its owner."""
    async with open_zookeeper(hosts, ssl_context=owner) as zk:
        await zk.create("/by-certificate", b"mine", acl=[make_acl("x509", owner_subject, Perm.ALL)])
    async with open_zookeeper(hosts, ssl_context=other) as stranger:
        try:
            await stranger.get_data("/by-certificate")
        except NoAuthError:
            print("  another certificate may not read it")
    async with open_zookeeper(hosts, ssl_context=owner) as zk:
        await zk.delete("/by-certificate")


def run() -> None:
    """Use $ZOOKEEPER_HOSTS, $ZOOKEEPER_PRINCIPAL and $ZOOKEEPER_KEYTAB, or throwaway parts."""
    hosts = os.environ.get("ZOOKEEPER_HOSTS")
    if hosts:
        trio.run(
            kerberos_main, hosts, os.environ["ZOOKEEPER_PRINCIPAL"], os.environ["ZOOKEEPER_KEYTAB"]
        )
        return
    from trio_zookeeper.testing import KerberosRealm, ZooKeeperServer, make_client_certificate

    # The KDC's krb5.conf is made for this run: activate() points the Kerberos
    # library at it (KRB5_CONFIG). A real deployment uses /etc/krb5.conf.
    with KerberosRealm() as realm, realm.activate():
        principal = realm.add_principal("app")
        keytab = str(realm.keytab(principal))
        server = ZooKeeperServer(
            kerberos=realm.server_login("zookeeper/localhost"), tls=True, tls_client_auth=True
        )
        try:
            server.start(timeout=90)
            assert server.tls_material is not None
            assert server.secure_connect_string
            trio.run(kerberos_main, server.connect_string, principal, keytab)
            mine = make_client_certificate(server.tls_material, "app")
            theirs = make_client_certificate(server.tls_material, "other")
            ca = str(server.tls_material.ca_file)
            trio.run(
                x509_main,
                server.secure_connect_string,
                tls_context(ca, str(mine.cert_file), str(mine.key_file)),
                mine.subject,
                tls_context(ca, str(theirs.cert_file), str(theirs.key_file)),
            )
        finally:
            server.close()


if __name__ == "__main__":
    run()
