"""Test helpers for code that uses ZooKeeper, shipped like :mod:`trio.testing`.

* :class:`ZooKeeperServer` and :class:`ZooKeeperEnsemble` run real ZooKeeper
  JVMs on loopback (Debian's ``zookeeper`` package, ``ZOOKEEPER_HOME`` or
  ``ZOOKEEPER_CLASSPATH``), with kill/pause/restart/wipe controls.
* :func:`open_fault_proxy` puts a fault-injecting TCP proxy between a client
  and a server.
* :func:`four_letter_word` / :func:`afour_letter_word` send admin commands.
* :func:`expire_session` expires a client's session on the server, for real.
* :class:`FakeZooKeeper` (:func:`open_fake_zookeeper`) is an in-memory server
  for exact timing, cancellation and hostile-bytes tests.
* :func:`make_tls_material` makes a throwaway CA and server certificate;
  :func:`make_client_certificate` makes client certificates (x509 identities).
* :class:`KerberosRealm` runs a real MIT KDC (Debian's ``krb5-kdc``) with
  principals, keytabs and credential caches made for the test; pass
  :meth:`KerberosRealm.server_login` to ``ZooKeeperServer(kerberos=...)``.

The pytest fixtures live in the opt-in plugin
``trio_zookeeper.testing.pytest_plugin``; importing this package does not
import pytest.
"""

from __future__ import annotations

from ._ensemble import ZooKeeperEnsemble as ZooKeeperEnsemble
from ._expire import expire_session as expire_session
from ._fake import FakeConnection as FakeConnection
from ._fake import FakeZooKeeper as FakeZooKeeper
from ._fake import open_fake_zookeeper as open_fake_zookeeper
from ._fourlw import afour_letter_word as afour_letter_word
from ._fourlw import four_letter_word as four_letter_word
from ._kerberos import KerberosLogin as KerberosLogin
from ._kerberos import KerberosRealm as KerberosRealm
from ._kerberos import KerberosToolMissingError as KerberosToolMissingError
from ._proxy import FaultProxy as FaultProxy
from ._proxy import open_fault_proxy as open_fault_proxy
from ._server import ExternalServerError as ExternalServerError
from ._server import ExternalZooKeeperServer as ExternalZooKeeperServer
from ._server import ZooKeeperHarnessError as ZooKeeperHarnessError
from ._server import ZooKeeperInstallation as ZooKeeperInstallation
from ._server import ZooKeeperNotFoundError as ZooKeeperNotFoundError
from ._server import ZooKeeperServer as ZooKeeperServer
from ._server import ZooKeeperStartError as ZooKeeperStartError
from ._server import find_zookeeper as find_zookeeper
from ._server import generate_digest as generate_digest
from ._server import parse_srvr as parse_srvr
from ._server import parse_wchc as parse_wchc
from ._tls import ClientCertificate as ClientCertificate
from ._tls import TLSMaterial as TLSMaterial
from ._tls import TLSToolMissingError as TLSToolMissingError
from ._tls import make_client_certificate as make_client_certificate
from ._tls import make_tls_material as make_tls_material

__all__ = [
    "ClientCertificate",
    "ExternalServerError",
    "ExternalZooKeeperServer",
    "FakeConnection",
    "FakeZooKeeper",
    "FaultProxy",
    "KerberosLogin",
    "KerberosRealm",
    "KerberosToolMissingError",
    "TLSMaterial",
    "TLSToolMissingError",
    "ZooKeeperEnsemble",
    "ZooKeeperHarnessError",
    "ZooKeeperInstallation",
    "ZooKeeperNotFoundError",
    "ZooKeeperServer",
    "ZooKeeperStartError",
    "afour_letter_word",
    "expire_session",
    "find_zookeeper",
    "four_letter_word",
    "generate_digest",
    "make_client_certificate",
    "make_tls_material",
    "open_fake_zookeeper",
    "open_fault_proxy",
    "parse_srvr",
    "parse_wchc",
]

# Present the public names as trio_zookeeper.testing.X (as trio does for its API).
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("trio_zookeeper.testing."):
        _obj.__module__ = __name__
del _name, _obj
