"""``import trio_zookeeper`` loads what a plain client needs and nothing more.

SASL and Kerberos, the tracer, the tree walk, ``Retry`` and the server side
of the protocol (used by the test fakes) are imported on first use, and each
record's jute codec (and attrs description) is generated on its first use;
the names still resolve.
Checked in a fresh interpreter, since this test process has imported
everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

import trio_zookeeper

LAZY_MODULES = (
    "trio_zookeeper._kerberos",
    "trio_zookeeper._protocol._sasl",
    "trio_zookeeper._protocol._server",
    "trio_zookeeper._retry",
    "trio_zookeeper._trace",
    "trio_zookeeper._tree",
    "secrets",
)


def _probe(code: str) -> Any:
    """Run ``code`` in a fresh interpreter; what its last line printed, as JSON."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout.splitlines()[-1])


def _modules_after(code: str) -> set[str]:
    return set(_probe(f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"))


def test_plain_import_leaves_the_rarely_used_modules_unloaded() -> None:
    loaded = _modules_after("import trio_zookeeper")
    assert "trio_zookeeper._client" in loaded
    for module in LAZY_MODULES:
        assert module not in loaded, module


def test_codecs_are_generated_on_first_use_not_at_import() -> None:
    probe = (
        "import json\n"
        "import trio_zookeeper\n"
        "from trio_zookeeper._protocol import _jute, GetDataRequest\n"
        "def names(classes): return sorted(c.__name__ for c in classes)\n"
        "at_import = [names(_jute._CODECS), names(_jute._PENDING)]\n"
        "_jute.encode_record(GetDataRequest(path='/a', watch=False), bytearray())\n"
        "print(json.dumps([*at_import, names(_jute._CODECS)]))"
    )
    generated, pending, after_use = map(set, _probe(probe))
    # The records a plain import defines wait for their first use...
    assert {"GetDataRequest", "ReconfigRequest", "SetWatches", "Stat"} <= pending
    assert not {"GetDataRequest", "ReconfigRequest", "SetWatches", "Stat"} & generated
    # ...which generates that record's codec, and no other record's.
    assert after_use - generated == {"GetDataRequest"}


def test_lazy_names_resolve_on_first_use() -> None:
    loaded = _modules_after(
        "from trio_zookeeper import SaslGSSAPI, Retry, RetryFailedError\n"
        "assert Retry.__module__ == RetryFailedError.__module__ == 'trio_zookeeper._retry'\n"
        "from trio_zookeeper._protocol import ServerProtocol, ClientRequest\n"
        "assert SaslGSSAPI.__module__ == 'trio_zookeeper._kerberos'\n"
        "assert ServerProtocol.__module__ == 'trio_zookeeper._protocol._server'\n"
    )
    assert {
        "trio_zookeeper._kerberos",
        "trio_zookeeper._protocol._server",
        "trio_zookeeper._retry",
    } <= loaded
    assert "SaslGSSAPI" in dir(trio_zookeeper)
    assert trio_zookeeper.SaslGSSAPI.__name__ == "SaslGSSAPI"


def test_sasl_tracer_and_tree_walk_load_on_first_use() -> None:
    # The names resolve from the package; the modules load when a client
    # needs them: SASL credentials, a tracer, a walk or a recursive delete.
    loaded = _modules_after(
        "import trio_zookeeper as t\n"
        "names = ['SaslDigestMD5', 'SaslExchange', 'SaslMechanism', 'Tracer',\n"
        "         'RequestTrace', 'TreeNode']\n"
        "assert [getattr(t, n).__name__ for n in names] == names\n"
    )
    assert {
        "trio_zookeeper._protocol._sasl",
        "trio_zookeeper._trace",
        "trio_zookeeper._tree",
    } <= loaded
    for name in ("SaslDigestMD5", "Tracer", "TreeNode"):
        assert name in dir(trio_zookeeper)
    loaded = _modules_after(
        "import trio, trio_zookeeper as t\n"
        "async def main():\n"
        "    try:\n"
        "        async with t.open_zookeeper('127.0.0.1:1', connect_rounds=1,\n"
        "                sasl=('user', 'secret'), tracer=t.Tracer()):\n"
        "            pass\n"
        "    except t.ConnectFailedError:\n"  # nothing listens on port 1
        "        pass\n"
        "trio.run(main)\n"
    )
    assert {"trio_zookeeper._protocol._sasl", "trio_zookeeper._trace"} <= loaded


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        getattr(trio_zookeeper, "NoSuchName")  # noqa: B009


def test_no_record_builds_its_attrs_description_at_import() -> None:
    # Each TupleRecord's __attrs_attrs__ costs an attrs class (~5 KB): built
    # when something introspects the record (attrs.fields/evolve/asdict), not
    # by the import or by the codec, which reads the record's field names.
    probe = (
        "import json\n"
        "import trio_zookeeper\n"
        "from trio_zookeeper._protocol import _jute, GetDataRequest, GetDataResponse\n"
        "from trio_zookeeper._protocol._tuplerecord import TupleRecord\n"
        "_jute.encode_record(GetDataRequest(path='/a', watch=False), bytearray())\n"
        "_jute.decoder_of(GetDataResponse)\n"
        "def subclasses(cls):\n"
        "    for sub in cls.__subclasses__():\n"
        "        yield sub\n"
        "        yield from subclasses(sub)\n"
        "records = list(subclasses(TupleRecord))\n"
        "built = [c.__name__ for c in records if '__attrs_attrs__' in c.__dict__]\n"
        "print(json.dumps([len(records), built]))"
    )
    count, built = _probe(probe)
    assert count >= 50  # the protocol's records, events and the client's output records
    assert built == []
