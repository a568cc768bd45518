"""Third-party plugins named with -p or a scenario's `plugins` list register through the same
hooks as the built-ins; a duplicate name is a broken plugin naming both, and an error for a
scenario that uses it. (Fresh processes: the plugin manager is process-wide.)"""

import json
import textwrap

import pytest

from conftest import check_plugin_listing, parse_plugin_listing, run_subprocess

EXTRA = '''
import numpy as np
import gamesim
from gamesim.grid import ContinuousTarget


class Triangle(ContinuousTarget):
    """Symmetric triangular distribution on [centre - half, centre + half]."""

    name = "triangle"
    centre: float = gamesim.param(0.0, help="mode")
    half: float = gamesim.param(1.0, gt=0, help="half width")

    def cdf(self, x):
        z = np.clip((np.asarray(x, float) - self.centre) / self.half, -1.0, 1.0)
        return np.where(z < 0, 0.5 * (1 + z) ** 2, 1 - 0.5 * (1 - z) ** 2)

    def sf(self, x):
        return 1.0 - self.cdf(x)


@gamesim.hookimpl
def gamesim_register_targets(register):
    register(Triangle)
'''

DUPLICATE = '''
import numpy as np
import gamesim


class Normal:
    """Another normal."""
    name = "normal"

    def masses(self, grid):
        return np.full(grid.points, 1.0 / grid.points), 0.0


@gamesim.hookimpl
def gamesim_register_targets(register):
    register(Normal)
'''

SCENARIO = """
iterations = 10
{plugins}
[grid]
lower = -2.0
upper = 2.0
points = 40
[target]
kind = "triangle"
half = 1.5
[generator]
kind = "density"
"""


@pytest.mark.slow
def test_extra_plugin_module_is_listed_and_usable(tmp_path):
    (tmp_path / "gs_extra_plugin.py").write_text(EXTRA)
    env = {"PYTHONPATH": str(tmp_path)}
    listed = run_subprocess(["plugins", "-p", "gs_extra_plugin"], cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    listing = check_plugin_listing(listed.stdout)  # the built-ins are all still there
    entry = listing["targets"]["triangle"]
    assert [line.split()[0] for line in entry] == ["centre", "half"]
    assert "gs_extra_plugin" in next(line for line in listed.stdout.splitlines()
                                     if line.strip().startswith("triangle"))
    for plugins_line, args in (("", ["-p", "gs_extra_plugin"]),
                               ('plugins = ["gs_extra_plugin"]', [])):
        path = tmp_path / f"s{len(args)}.toml"
        path.write_text(SCENARIO.format(plugins=plugins_line))
        out = tmp_path / f"run{len(args)}"
        result = run_subprocess(["run", path, "--out", out, "--no-plots", "--quiet", *args],
                                cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert json.loads((out / "summary.json").read_text())["status"] == "completed"
    # without the module the kind is unknown
    result = run_subprocess(["validate", tmp_path / "s2.toml"], cwd=tmp_path, env=env)
    assert result.returncode == 2 and "target.kind" in result.stderr
    assert "'triangle'" in result.stderr


@pytest.mark.slow
def test_duplicate_name_is_broken_and_an_error_where_used(tmp_path):
    (tmp_path / "gs_dup_plugin.py").write_text(DUPLICATE)
    listed = run_subprocess(["plugins", "-p", "gs_dup_plugin"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    broken = parse_plugin_listing(listed.stdout)[
        "broken plugins (not loaded; scenarios that do not use them still run)"]
    assert "gs_dup_plugin:" in broken
    line = next(line for line in listed.stdout.splitlines() if "registered twice" in line)
    assert ("target 'normal' is registered twice: by plugin 'gamesim (gamesim_plugins.targets)'"
            " and by plugin 'gs_dup_plugin'") in line and "GAMESIM_LOAD_PLUGINS" in line
    assert "normal" not in parse_plugin_listing(listed.stdout)["targets"]
    for kind in ("uniform", "normal"):
        (tmp_path / f"{kind}.toml").write_text(
            SCENARIO.format(plugins="").replace('"triangle"', f'"{kind}"').replace("half = 1.5",
                                                                                ""))
    fine = run_subprocess(["validate", "uniform.toml", "-p", "gs_dup_plugin"], cwd=tmp_path)
    assert fine.returncode == 0, fine.stderr
    result = run_subprocess(["validate", "normal.toml", "-p", "gs_dup_plugin"], cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "target.kind: target 'normal' is registered twice" in result.stderr


def test_listing_parser_reads_the_real_layout():
    """The helper the listing checks rely on, on a fixed sample."""
    sample = textwrap.dedent("""\
        targets:
          normal  [gamesim (x)]  Normal.
              mean (a number; default 0.0): mean
              std (a number > 0; default 1.0): sd
          uniform  [gamesim (x)]  Uniform.
        regularizers:
        """)
    assert parse_plugin_listing(sample) == {
        "targets": {"normal": ["mean (a number; default 0.0): mean",
                               "std (a number > 0; default 1.0): sd"], "uniform": []},
        "regularizers": {}}
