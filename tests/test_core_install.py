"""A plain (non-editable) install works from any directory: `gamesim plugins` then lists
every built-in with its parameters, imported from the installed copy."""

import os
import subprocess

import pytest

from conftest import check_plugin_listing, run_subprocess

# processes, virtual environments or a browser: left out by -m 'not slow'
pytestmark = pytest.mark.slow


def test_non_editable_install_lists_every_builtin(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [installed.python, "-c",
         "import gamesim, gamesim_plugins, gamesim_plugins.targets as t; "
         "print(gamesim.__file__); print(gamesim_plugins.__file__); print(t.__file__)"],
        cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    files = where.stdout.split()
    assert len(files) == 3
    for path in files:  # the installed copy, neither the working tree nor the source copy
        assert path.startswith(installed.purelib), where.stdout
    assert files[1] == os.path.join(installed.purelib, "gamesim_plugins", "__init__.py")
    assert not os.path.exists(os.path.join(installed.purelib, "plugins"))  # no top-level name
    result = run_subprocess(["plugins"], cwd=elsewhere, executable=installed.gamesim)
    assert result.returncode == 0, result.stderr
    check_plugin_listing(result.stdout)
