"""Contained plugin failures. An installed entry point that fails to import, or registers
something that is not a valid plugin, is listed by ``gamesim plugins`` with its origin and the
error, and scenarios that do not use it still run (real entry points: distributions made of a
dist-info folder on PYTHONPATH, found by importlib.metadata in a fresh process). A plugin
returning the wrong shape is named when the scenario is loaded; one returning NaN is named by
the diverged status."""

import json
import os
import textwrap

import pytest

from conftest import SCENARIOS, parse_plugin_listing, run_subprocess

IDEAL = os.path.join(SCENARIOS, "ideal-oracle.toml")


def fake_distribution(folder, dist, module, source):
    """An installed distribution ``dist`` whose ``gamesim`` entry point is ``module``."""
    info = folder / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[gamesim]\n{module} = {module}\n")
    (folder / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def broken_site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    fake_distribution(site, "gamesim-crash", "gs_crash", """
        import gamesim
        raise RuntimeError("this plugin is broken on purpose")
        """)
    fake_distribution(site, "gamesim-invalid", "gs_invalid", """
        import numpy as np
        import gamesim

        class NoGrad:
            name = "no_grad"
            def value(self, p, q):
                return 0.0

        class Fine:
            '''Mean absolute difference of masses.'''
            name = "fine"
            def value(self, p, q):
                return float(np.abs(p - q).mean())
            def grad(self, p, q):
                return np.sign(q - p) / p.size

        @gamesim.hookimpl
        def gamesim_register_distances(register):
            register(NoGrad)
            register(Fine())      # an instance, not a class
            register(Fine)

        @gamesim.hookimpl
        def gamesim_register_optimizers(register):
            raise KeyError("oops")
        """)
    return site


@pytest.mark.slow
def test_broken_entry_points_are_listed_with_origin_and_error(broken_site, tmp_path):
    env = {"PYTHONPATH": str(broken_site)}
    listed = run_subprocess(["plugins"], cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    listing = parse_plugin_listing(listed.stdout)
    assert "fine" in listing["distances"] and "no_grad" not in listing["distances"]
    assert "normal" in listing["targets"]
    broken = listing["broken plugins (not loaded; scenarios that do not use them still run)"]

    assert "gamesim-crash:" in broken
    lines = [line.strip() for line in listed.stdout.splitlines()]
    assert ("gamesim-crash: cannot load entry point gs_crash = gs_crash: RuntimeError: this "
            "plugin is broken on purpose") in lines
    assert "gamesim-invalid: distance 'no_grad': lacks grad: a distance defines value, grad" \
        in lines
    assert any(line.startswith("gamesim-invalid: distance 'fine': registered <gs_invalid.Fine "
                               "object") for line in lines)
    assert ("gamesim-invalid: gamesim_register_optimizers failed: KeyError: 'oops'") in lines
    assert any(line.startswith("fine  [gamesim-invalid]") for line in lines)


@pytest.mark.slow
def test_scenarios_run_beside_broken_plugins(broken_site, tmp_path):
    env = {"PYTHONPATH": str(broken_site)}
    out = tmp_path / "run"
    result = run_subprocess(["run", IDEAL, "--out", out, "--no-plots", "--quiet", "--set",
                             "iterations=10", "--set", 'metrics.distances=["js", "fine"]'],
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"
    assert "fine" in (out / "metrics.csv").read_text().splitlines()[0].split(",")
    # a scenario asking for what a broken plugin failed to register gets an error naming it
    used = run_subprocess(["validate", IDEAL, "--set", 'metrics.distances=["no_grad"]'],
                          cwd=tmp_path, env=env)
    assert used.returncode == 2 and "Traceback" not in used.stderr
    assert "metrics.distances[0]: unknown distance 'no_grad'" in used.stderr
    assert "note: plugin 'gamesim-invalid' is broken: distance 'no_grad': lacks grad" \
        in used.stderr


@pytest.mark.slow
def test_broken_entry_point_skipped_by_gamesim_load_plugins(broken_site, tmp_path):
    listed = run_subprocess(["plugins"], cwd=tmp_path, env={
        "PYTHONPATH": str(broken_site), "GAMESIM_LOAD_PLUGINS": "gamesim-invalid"})
    assert listed.returncode == 0, listed.stderr
    assert "gamesim-crash" not in listed.stdout and "gamesim-invalid" in listed.stdout


@pytest.mark.slow
def test_named_module_that_fails_to_import_is_an_error(tmp_path):
    (tmp_path / "gs_raises.py").write_text("raise ValueError('bad module')\n")
    result = run_subprocess(["validate", IDEAL, "-p", "gs_raises"], cwd=tmp_path,
                            env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "-p: cannot import plugin module 'gs_raises': ValueError: bad module" in result.stderr


SHAPES = """
import numpy as np
import gamesim
from gamesim_plugins.generators import Density
from gamesim_plugins.discriminators import Logistic
from gamesim_plugins.distances import TV


class Shifty(Density):
    name = "shifty"

    def forward(self, theta):
        p, outside = super().forward(theta)
        return p[1:] / p[1:].sum(), outside


class Pair(Density):
    name = "pair"

    def forward(self, theta):
        return super().forward(theta)[0]  # the masses alone, not (masses, mass_outside)


class Short(Logistic):
    name = "short"

    def forward(self, psi):
        return super().forward(psi)[:-1]


class Wide(TV):
    name = "wide"

    def grad(self, p, q):
        return np.concatenate([super().grad(p, q), [0.0]])


class Explodes(TV):
    name = "explodes"

    def grad(self, p, q):
        return np.full(q.size, np.nan)


@gamesim.hookimpl
def gamesim_register_generators(register):
    register(Shifty)
    register(Pair)


@gamesim.hookimpl
def gamesim_register_discriminators(register):
    register(Short)


@gamesim.hookimpl
def gamesim_register_distances(register):
    register(Wide)
    register(Explodes)
"""


SMALL = """
        iterations = 5
        [grid]
        points = 64
        [target]
        kind = "normal"
        [generator]
        kind = "density"
        optimizer = { kind = "sgd", lr = 0.1 }
"""


@pytest.mark.parametrize("override, message", [
    ("generator.kind=shifty", "generator 'shifty' (plugin '{m}'): forward(theta) masses returned "
                              "an array of shape (63,) and dtype float64, expected a float64 "
                              "array of shape (64,)"),
    ("generator.kind=pair", "generator 'pair' (plugin '{m}'): forward(theta) returned ndarray, "
                            "expected a pair (masses, mass_outside)"),
    ("discriminator.kind=short", "discriminator 'short' (plugin '{m}'): forward(psi) returned "
                                 "an array of shape (63,)"),
    ('metrics.distances=["wide"]', "distance 'wide' (plugin '{m}'): grad(p, q) returned an "
                                   "array of shape (65,)"),
])
def test_wrong_shapes_are_named_when_the_scenario_loads(plugin_module, write_scenario,
                                                        run_cli, override, message):
    module, _ = plugin_module(SHAPES)
    path = write_scenario(SMALL)
    result = run_cli("validate", path, "--set", override)
    assert result.status == 2, result.out
    assert message.format(m=module) in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_nan_from_a_plugin_is_named_by_the_diverged_status(plugin_module,
                                                           run_scenario):
    plugin_module(SHAPES)
    run = run_scenario(SMALL + """
        [game]
        mode = "direct"
        distance = { kind = "explodes" }
        """)
    failure = run.summary["failure"]
    assert run.summary["status"] == "diverged"
    assert failure["iteration"] == 1 and failure["quantity"] == "generator gradient"
    assert failure["plugin"] == "generator 'density' (distance 'explodes')"
    assert any("distance 'explodes'" in w for w in run.summary["warnings"])
