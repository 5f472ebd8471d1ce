"""Connect over TLS (ZooKeeper's secure client port).

Run it with ``ZOOKEEPER_HOSTS=host:securePort ZOOKEEPER_CA_FILE=ca.pem
python docs/examples/tls.py``; without ``ZOOKEEPER_HOSTS`` it starts a
throwaway TLS-enabled ZooKeeper with a throwaway CA.
"""

from __future__ import annotations

import os
import ssl

import trio

from trio_zookeeper import open_zookeeper


def client_context(ca_file: str, cert_file: str | None = None) -> ssl.SSLContext:
    """A TLS context that trusts ``ca_file`` (and presents a client certificate if given)."""
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file is not None:
        context.load_cert_chain(cert_file)  # for servers that require client certificates
    return context


async def main(hosts: str, ca_file: str) -> None:
    """Connect over TLS and write a node.

    The host names in ``hosts`` are checked against the server certificate,
    as Python's :mod:`ssl` does: connect by a name (or IP address) the
    certificate lists.
    """
    async with open_zookeeper(hosts, ssl_context=client_context(ca_file)) as zk:
        await zk.create("/over-tls", b"encrypted on the wire")
        data, _ = await zk.get_data("/over-tls")
        print(f"  read back over TLS: {data!r}")
        await zk.delete("/over-tls")


def run() -> None:
    """Use $ZOOKEEPER_HOSTS and $ZOOKEEPER_CA_FILE, or a throwaway TLS server."""
    hosts = os.environ.get("ZOOKEEPER_HOSTS")
    if hosts:
        trio.run(main, hosts, os.environ["ZOOKEEPER_CA_FILE"])
        return
    from trio_zookeeper.testing import ZooKeeperServer

    with ZooKeeperServer(tls=True) as server:
        assert server.secure_connect_string is not None
        assert server.tls_ca_file is not None
        trio.run(main, server.secure_connect_string, server.tls_ca_file)


if __name__ == "__main__":
    run()
