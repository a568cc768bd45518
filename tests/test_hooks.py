"""One test per hook of gamesim/hookspecs.py: a plugin module implementing it is loaded in this
process for the test only, and what the hook contributes is checked (tests/test_plugins_meta.py
keeps one test per hook)."""

import json
import os

import numpy as np
import pytest

from gamesim import plugins, testing





def registered(plugin_module, kind, source):
    """Load ``source`` and return (name of the module, the one plugin it registered of kind)."""
    before = set(plugins.registry().names(kind))
    name, _ = plugin_module(source)
    reg = plugins.registry()
    new = set(reg.names(kind)) - before
    assert len(new) == 1, new
    plugin = new.pop()
    assert reg.origins[kind][plugin] == name
    assert not [b for b in plugins.broken() if b[0] == name]
    return name, plugin


def test_gamesim_register_targets(plugin_module):
    _, name = registered(plugin_module, "target", """
        from gamesim.grid import ContinuousTarget

        class Exponential(ContinuousTarget):
            name = "hook_exponential"
            rate: float = gamesim.param(1.0, gt=0, help="rate")

            def cdf(self, x):
                return -np.expm1(-self.rate * np.maximum(np.asarray(x, float), 0.0))

            def sf(self, x):
                return np.exp(-self.rate * np.maximum(np.asarray(x, float), 0.0))

        @gamesim.hookimpl
        def gamesim_register_targets(register):
            register(Exponential)
        """)
    target = testing.make("target", {"kind": name, "rate": 2.0})
    testing.check_target(target)
    p, outside = target.masses(testing.GRID)
    assert outside == pytest.approx(np.exp(-8.0))
    assert p[:32].sum() == 0.0


def test_gamesim_register_generators(plugin_module):
    _, name = registered(plugin_module, "generator", """
        class Tilted:
            '''p proportional to exp(theta x): one parameter.'''
            name = "hook_tilted"
            start: float = gamesim.param(0.0, help="initial theta")
            default_optimizer = {"kind": "sgd", "lr": 1.0}

            def setup(self, grid):
                self.x = np.asarray(grid.x)

            def init_params(self, rng):
                return np.array([self.start])

            def forward(self, theta):
                z = theta[0] * self.x
                p = np.exp(z - z.max())
                return p / p.sum(), 0.0

            def vjp(self, theta, g_p):
                p = self.forward(theta)[0]
                return np.array([self.x @ (p * (g_p - p @ g_p))])

        @gamesim.hookimpl
        def gamesim_register_generators(register):
            register(Tilted)
        """)
    testing.check_generator(testing.make("generator", {"kind": name, "start": 0.3}))


def test_gamesim_register_discriminators(plugin_module):
    _, name = registered(plugin_module, "discriminator", """
        class Affine:
            name = "hook_affine"

            def setup(self, grid):
                self.x = np.asarray(grid.x)

            def init_params(self, rng):
                return np.zeros(2)

            def forward(self, psi):
                return psi[0] + psi[1] * self.x

            def vjp(self, psi, g_u):
                return np.array([g_u.sum(), g_u @ self.x])

            def dudx(self, psi):
                return np.full(self.x.size, psi[1])

            def dudx_vjp(self, psi, g):
                return np.array([0.0, g.sum()])

        @gamesim.hookimpl
        def gamesim_register_discriminators(register):
            register(Affine)
        """)
    testing.check_discriminator(testing.make("discriminator", {"kind": name}))


def test_gamesim_register_objectives(plugin_module):
    _, name = registered(plugin_module, "objective", """
        from gamesim_plugins.objectives import LeastSquares

        class Scaled(LeastSquares):
            '''least_squares with D's value doubled.'''
            name = "hook_scaled_least_squares"
            equilibrium = -0.5

            def value(self, p_d, p_g, u):
                return 2.0 * super().value(p_d, p_g, u)

            def discriminator_grad(self, p_d, p_g, u):
                return 2.0 * super().discriminator_grad(p_d, p_g, u)

            def oracle_value(self, p_d, p_g):  # the closed form doubles with the value
                return 2.0 * super().oracle_value(p_d, p_g)

        @gamesim.hookimpl
        def gamesim_register_objectives(register):
            register(Scaled)
        """)
    testing.check_objective(testing.make("objective", {"kind": name}))


def test_gamesim_register_distances(plugin_module):
    _, name = registered(plugin_module, "distance", """
        class L1:
            name = "hook_l1"

            def value(self, p, q):
                return float(np.abs(p - q).sum())

            def grad(self, p, q):
                return np.sign(q - p)

        @gamesim.hookimpl
        def gamesim_register_distances(register):
            register(L1)
        """)
    testing.check_distance(testing.make("distance", {"kind": name}))


def test_gamesim_register_optimizers(plugin_module):
    _, name = registered(plugin_module, "optimizer", """
        class SignSGD:
            name = "hook_sign_sgd"
            lr: float = gamesim.param(0.01, gt=0, help="step")

            def init_state(self, theta):
                return None

            def step(self, theta, grad, state):
                theta -= self.lr * np.sign(grad)
                return theta

        @gamesim.hookimpl
        def gamesim_register_optimizers(register):
            register(SignSGD)
        """)
    testing.check_optimizer(testing.make("optimizer", {"kind": name}))


def test_gamesim_register_regularizers(plugin_module):
    _, name = registered(plugin_module, "regularizer", """
        class WeightDecay:
            name = "hook_weight_decay"
            gamma: float = gamesim.param(0.1, ge=0, help="weight")

            def penalty(self, disc, psi, p_d, p_g):
                return 0.5 * self.gamma * float(psi @ psi), self.gamma * psi

        @gamesim.hookimpl
        def gamesim_register_regularizers(register):
            register(WeightDecay)
        """)
    testing.check_regularizer(testing.make("regularizer", {"kind": name}))


SCENARIO = """
name = "observed"
iterations = 20
record_every = 5
{plugins}
[grid]
lower = -4.0
upper = 4.0
points = 64
[target]
kind = "normal"
[generator]
kind = "density"
init = {{ kind = "normal", mean = 1.0 }}
[metrics]
distances = ["js"]
"""


def test_gamesim_run_start(plugin_module, run_scenario):
    name, module = plugin_module("""
        CALLS = []

        @gamesim.hookimpl
        def gamesim_run_start(scenario):
            CALLS.append((scenario.name, scenario.iterations, scenario.grid.points))
        """)
    run_scenario(SCENARIO.format(plugins=""))
    assert module.CALLS == [("observed", 20, 64)]


def test_gamesim_record(plugin_module, run_scenario):
    plugin_module("""
        @gamesim.hookimpl
        def gamesim_record(scenario, state):
            assert state.psi is None and state.u.shape == state.p_gen.shape
            return {"peak": float(state.p_gen.max()), "seen": float(state.iteration)}
        """)
    run = run_scenario(SCENARIO.format(plugins=""))
    assert run.header[-2:] == ["peak", "seen"]
    assert list(run.metrics["seen"]) == list(run.metrics["iteration"]) == [0, 5, 10, 15, 20]
    iterations = list(run.metrics["iteration"])
    checked = 0
    for k, it in enumerate(run.snapshots["iterations"]):
        if it not in iterations:
            continue
        checked += 1
        assert run.metrics["peak"][iterations.index(it)] == run.snapshots["p_gen"][k].max()
    assert checked == 2  # iterations 0 and 20


def test_gamesim_record_returning_a_non_dict_names_the_plugin(plugin_module, write_scenario,
                                                              run_cli, tmp_path):
    name, _ = plugin_module("""
        @gamesim.hookimpl
        def gamesim_record(state):
            return [1.0]
        """)
    result = run_cli("run", write_scenario(SCENARIO.format(plugins="")), "--out",
                     tmp_path / "run", "--quiet")
    assert result.status == 1  # a plugin failing during a run
    assert f"plugin '{name}': gamesim_record returned [1.0]" in result.err
    assert not (tmp_path / "run").exists()


def test_gamesim_run_end(plugin_module, run_scenario, tmp_path):
    _, module = plugin_module("""
        import os
        SEEN = []

        @gamesim.hookimpl
        def gamesim_run_end(scenario, result, directory):
            SEEN.append((directory, sorted(os.listdir(directory)), result.status))
            with open(os.path.join(directory, "extra.json"), "w") as f:
                f.write('{"rows": %d}' % len(result.rows))
        """)
    run = run_scenario(SCENARIO.format(plugins=""), out=tmp_path / "final")
    [(directory, files, status)] = module.SEEN
    assert status == "completed"
    assert os.path.basename(directory).startswith(".final~")  # the hidden staging folder
    assert {"metrics.csv", "scenario.toml", "snapshots.npz", "summary.json"} <= set(files)
    assert json.loads((tmp_path / "final" / "extra.json").read_text()) == {"rows": 5}
    assert not os.path.exists(directory)  # renamed into place with the run
    assert run.summary["status"] == "completed"


def test_gamesim_run_end_failure_names_the_plugin_and_leaves_nothing(plugin_module,
                                                                      write_scenario, run_cli,
                                                                      tmp_path):
    name, _ = plugin_module("""
        @gamesim.hookimpl
        def gamesim_run_end(directory):
            open(directory + "/partial.txt", "w").close()
            raise RuntimeError("disk full")
        """)
    path = write_scenario(SCENARIO.format(plugins=""))
    result = run_cli("run", path, "--out", tmp_path / "runs" / "x", "--quiet")
    assert result.status == 1  # a plugin failing during a run
    assert f"plugin '{name}': gamesim_run_end failed: RuntimeError: disk full" in result.err
    assert not (tmp_path / "runs").exists()  # no half-written run, no empty parent left
