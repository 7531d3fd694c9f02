"""The scripts in examples/ run as documented."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, capsys):
    namespace = runpy.run_path(str(path), run_name="example")
    result = namespace["main"]()
    out = capsys.readouterr().out
    assert "example F1" in out
    assert 0.2 < result <= 1.0
