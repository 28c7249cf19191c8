"""The numbered examples run as a user runs them (slow: `make test-all`)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["03_potential_from_xtb_md.py", "04_active_learning.py"])
def test_example_runs(name, tmp_path):
    run = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "bonds changed 0" in run.stdout
