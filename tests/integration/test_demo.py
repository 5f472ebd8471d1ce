"""The project's demo (docs/examples/demo.py) as a test against the real server."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

DEMO = pathlib.Path(__file__).parents[2] / "docs" / "examples" / "demo.py"


async def test_demo_runs_against_the_real_server(
    zk_connect_string: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("tzk_demo", DEMO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    await module.main(zk_connect_string)
    out = capsys.readouterr().out
    assert "deleting /example failed, as it must: it is not empty" in out
    assert "the global watch saw: NODE_CREATED /example" in out
