"""The example third-party package in docs/example-plugin installs into a fresh virtual
environment beside gamesim, registers through the ``gamesim`` entry-point group, is listed by
``gamesim plugins`` with its origin, and a scenario using it runs. GAMESIM_LOAD_PLUGINS and
GAMESIM_TRACE_PLUGINS are checked against the same installed entry point."""

import os
import subprocess
import types

import pytest

from conftest import REPO, check_plugin_listing, parse_plugin_listing, read_run, venv_with

# processes, virtual environments or a browser: left out by -m 'not slow'
pytestmark = pytest.mark.slow

EXAMPLE = os.path.join(REPO, "docs", "example-plugin")
SCENARIO = os.path.join("scenarios", "triangle-bhattacharyya.toml")


@pytest.fixture(scope="module")
def example(installed, tmp_path_factory):
    """A fresh venv layered on ``installed`` (gamesim, non-editable) and the test environment's
    packages, with the example package pip-installed into it from a copy of its folder."""
    root = tmp_path_factory.mktemp("example")
    with open(os.path.join(installed.purelib, "outer-environment.pth")) as f:
        outer = f.read().split()
    _, python, purelib = venv_with(root, EXAMPLE, [installed.purelib, *outer])
    source = root / "source"
    return types.SimpleNamespace(root=root, source=source, python=str(python), purelib=purelib)


def gamesim(example, *args, env=None):
    """``python -m gamesim ARGS`` in the example's venv, from the example's folder; GAMESIM_*
    variables of the calling environment are dropped."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GAMESIM_")}
    return subprocess.run([example.python, "-m", "gamesim", *map(os.fspath, args)],
                          cwd=example.source, env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=300)


def test_example_is_listed_with_its_origin_and_its_scenario_runs(example):
    where = subprocess.run([example.python, "-c", "import gamesim, gamesim_example; "
                            "print(gamesim.__file__); print(gamesim_example.__file__)"],
                           cwd=example.root, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    gamesim_file, example_file = where.stdout.split()
    assert not gamesim_file.startswith(REPO) and example_file.startswith(example.purelib)

    listed = gamesim(example, "plugins")
    assert listed.returncode == 0, listed.stderr
    listing = check_plugin_listing(listed.stdout)  # the built-ins are all still there
    entries = [line.strip() for line in listed.stdout.splitlines()
               if line.startswith("  ") and not line.startswith("   ")]  # plugins, not params
    assert any(line.startswith("bhattacharyya  [gamesim-example]") for line in entries)
    assert any(line.startswith("triangle  [gamesim-example]") for line in entries)
    assert [p.split()[0] for p in listing["targets"]["triangle"]] == ["mode", "half_width"]
    assert "broken" not in listed.stdout

    out = example.root / "run"
    result = gamesim(example, "run", SCENARIO, "--out", out, "--no-plots", "--quiet")
    assert result.returncode == 0, result.stderr
    run = read_run(out)
    assert run.summary["status"] == "completed"
    assert run.header[:4] == ["iteration", "value", "bhattacharyya", "tv"]
    assert run.header[-1] == "entropy_g"  # the example's gamesim_record observer
    assert run.metrics["value"][-1] < 1e-3 * run.metrics["value"][0]
    assert (out / "entropy.txt").read_text().startswith("data entropy ")  # its gamesim_run_end


def test_example_package_tests_pass_in_its_venv(example):
    result = subprocess.run([example.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests"], cwd=example.source, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


@pytest.mark.parametrize("value, loaded", [("", False), ("gamesim-example", True),
                                           ("Gamesim_Example, other", True),
                                           ("other-dist", False)])
def test_gamesim_load_plugins_selects_distributions(example, value, loaded):
    listed = gamesim(example, "plugins", env={"GAMESIM_LOAD_PLUGINS": value})
    assert listed.returncode == 0, listed.stderr
    listing = parse_plugin_listing(listed.stdout)
    assert ("bhattacharyya" in listing["distances"]) is loaded
    assert "normal" in listing["targets"]  # built-ins always load
    if not loaded:
        result = gamesim(example, "validate", SCENARIO, env={"GAMESIM_LOAD_PLUGINS": value})
        assert result.returncode == 2
        assert "target.kind: unknown target 'triangle'" in result.stderr


def test_gamesim_trace_plugins_prints_each_load_and_hook_call(example):
    quiet = gamesim(example, "plugins")
    assert "gamesim: " not in quiet.stderr
    traced = gamesim(example, "plugins", env={"GAMESIM_TRACE_PLUGINS": "1"})
    assert traced.returncode == 0, traced.stderr
    lines = traced.stderr.splitlines()
    assert "gamesim: loading entry point example = gamesim_example from gamesim-example" in lines
    assert "gamesim: gamesim_register_distances(register) from gamesim-example" in lines
    assert "gamesim:   registered distance 'bhattacharyya'" in lines
    assert "gamesim: gamesim_register_targets(register) from gamesim (gamesim_plugins.targets)" \
        in lines
    assert traced.stdout == quiet.stdout  # tracing goes to stderr only
    skipped = gamesim(example, "plugins", env={"GAMESIM_TRACE_PLUGINS": "1",
                                               "GAMESIM_LOAD_PLUGINS": ""})
    assert any(line.startswith("gamesim: skipping entry point example") for line in
               skipped.stderr.splitlines())
