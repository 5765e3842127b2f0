"""notebooks/quickstart.ipynb runs from top to bottom on real cells (executed with nbmake, as a user would)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_quickstart_notebook_executes(tmp_path, data_dir):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "MPLBACKEND": "Agg",
           "HICDIFF_DATA": str(data_dir)}
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", "--nbmake-timeout=600", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(REPO / "notebooks" / "quickstart.ipynb")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert res.returncode == 0, (res.stdout + res.stderr)[-8000:]
