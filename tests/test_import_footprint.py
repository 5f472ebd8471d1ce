"""``import trio_zookeeper`` loads what a plain client needs and nothing more.

Kerberos (``SaslGSSAPI``) and the server side of the protocol (used by the
test fakes) are imported on first use; the names still resolve. Checked in a
fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import trio_zookeeper

LAZY_MODULES = ("trio_zookeeper._kerberos", "trio_zookeeper._protocol._server", "secrets")


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_plain_import_leaves_the_rarely_used_modules_unloaded() -> None:
    loaded = _modules_after("import trio_zookeeper")
    assert "trio_zookeeper._client" in loaded
    for module in LAZY_MODULES:
        assert module not in loaded, module


def test_lazy_names_resolve_on_first_use() -> None:
    loaded = _modules_after(
        "from trio_zookeeper import SaslGSSAPI\n"
        "from trio_zookeeper._protocol import ServerProtocol, ClientRequest\n"
        "assert SaslGSSAPI.__module__ == 'trio_zookeeper._kerberos'\n"
        "assert ServerProtocol.__module__ == 'trio_zookeeper._protocol._server'\n"
    )
    assert {"trio_zookeeper._kerberos", "trio_zookeeper._protocol._server"} <= loaded
    assert "SaslGSSAPI" in dir(trio_zookeeper)
    assert trio_zookeeper.SaslGSSAPI.__name__ == "SaslGSSAPI"


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        getattr(trio_zookeeper, "NoSuchName")  # noqa: B009
