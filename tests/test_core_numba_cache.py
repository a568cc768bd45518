"""An unwritable Numba cache location does not crash a run. Numba falls back from an
unwritable NUMBA_CACHE_DIR to the sources' __pycache__ and then the user's cache folder, and
raises ('no locator available') when none can be written."""

import json
import os
import shutil

import pytest

from conftest import SCENARIOS, run_subprocess

# processes, virtual environments or a browser: left out by -m 'not slow'
pytestmark = pytest.mark.slow

SCENARIO = os.path.join(SCENARIOS, "ideal-oracle.toml")


def run_blocked(tmp_path, env, executable=None):
    out = tmp_path / "run"
    result = run_subprocess(["run", SCENARIO, "--out", out, "--no-plots", "--set",
                             "iterations=30"], cwd=tmp_path, env=env, executable=executable)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["iterations"] == 30
    return result


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_run_succeeds_with_an_unwritable_numba_cache_dir(tmp_path, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = str(blocker / "cache") if where == "under-a-file" else "/proc/gamesim-numba-cache"
    run_blocked(tmp_path, {"NUMBA_CACHE_DIR": cache})
    assert sorted(os.listdir(tmp_path)) == ["a-file", "run"]
    assert blocker.read_text() == "not a directory"


def test_run_succeeds_when_no_numba_cache_location_is_writable(installed, tmp_path):
    """The installed copy's __pycache__ folders are files, the user's cache and NUMBA_CACHE_DIR
    lie under a file: without gamesim's fallback, Numba raises at the first cached kernel.
    (Blocked by files rather than permissions, so it holds when the tests run as root.)"""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    blocked = []
    for package in ("gamesim", "gamesim_plugins"):
        pycache = os.path.join(installed.purelib, package, "__pycache__")
        shutil.rmtree(pycache, ignore_errors=True)
        with open(pycache, "w") as f:
            f.write("not a folder")
        blocked.append(pycache)
    try:
        temp = tmp_path / "tmp"
        temp.mkdir()
        result = run_blocked(tmp_path, {
            "NUMBA_CACHE_DIR": str(blocker / "numba"), "HOME": str(blocker / "home"),
            "XDG_CACHE_HOME": str(blocker / "cache"), "MPLCONFIGDIR": str(tmp_path / "mpl"),
            "TMPDIR": str(temp)}, executable=installed.gamesim)
        assert "cache" in result.stderr  # a warning says where kernels are cached instead
        assert os.listdir(temp)  # the fallback: a private folder under the temporary directory
    finally:
        for pycache in blocked:
            os.remove(pycache)
