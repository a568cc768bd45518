"""The run-time contract: a plugin that raises during a run is named (exit 1), NumPy's
floating-point warnings never reach the terminal, a NaN metric is a warning, and plotting
draws whatever a run directory may hold."""

import functools
import os
import types
import warnings

import numpy as np
import pytest

from conftest import SCENARIOS, assert_one_line_error, gamesim_cli, tree
from gamesim import engine, plotting, plugins, recorder, results, scenario, sweep
from gamesim.errors import PluginRunError
from gamesim.runs import Run

# grad counts its calls from the run's start (the set-up checks call it once before): calls
# 1 to 20 are the steps of iterations 0 to 19, the 21st is iteration 20's
FAILING_DISTANCE = """
import numpy as np
import gamesim

CALLS = [0]


class Foo:
    "Squared L2 distance whose gradient divides by zero at iteration 20."

    name = "foo"

    def value(self, p, q):
        return float(np.sum((p - q) ** 2))

    def grad(self, p, q):
        CALLS[0] += 1
        if CALLS[0] == 21:
            return 1 / 0
        return 2.0 * (q - p)


@gamesim.hookimpl
def gamesim_register_distances(register):
    register(Foo)


@gamesim.hookimpl
def gamesim_run_start():
    CALLS[0] = 0
"""

DIRECT = """
name = "failing"
iterations = 40
record_every = 5
[grid]
lower = -4.0
upper = 4.0
points = 64
[target]
kind = "normal"
[generator]
kind = "density"
init = { kind = "normal", mean = 1.0 }
[game]
mode = "direct"
distance = { kind = "foo" }
[metrics]
distances = ["js"]
"""


def expected(origin):
    return (f"distance 'foo' (plugin '{origin}'): grad(p, q) raised ZeroDivisionError: "
            f"division by zero at iteration 20")


@pytest.mark.slow
def test_cli_names_the_failing_plugin_method_and_iteration_and_leaves_nothing(tmp_path):
    (tmp_path / "zerodiv.py").write_text(FAILING_DISTANCE)
    (tmp_path / "s.toml").write_text(DIRECT)
    proc = gamesim_cli(["run", "s.toml", "-p", "zerodiv", "--no-plots"], cwd=tmp_path,
                       env={"PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"})
    assert_one_line_error(proc, 1)
    assert proc.stderr.strip() == f"gamesim: error: {expected('zerodiv')}"
    assert tree(tmp_path) == ["s.toml", "zerodiv.py"]


def test_python_api_raises_the_same_error(plugin_module, write_scenario):
    name, _ = plugin_module(FAILING_DISTANCE)
    sc = scenario.load(write_scenario(DIRECT))
    with pytest.raises(PluginRunError) as caught:
        engine.run(sc, observers=plugins.observers())
    assert str(caught.value) == expected(name)
    assert caught.value.exit_status == 1
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_a_sweep_point_records_the_error_in_its_row(plugin_module, write_scenario, tmp_path):
    name, _ = plugin_module(FAILING_DISTANCE)
    out = tmp_path / "point"
    job = sweep.Job.of(str(write_scenario(DIRECT)), plugins=(name,))
    row = job.row([], functools.partial(results.reserve, str(out)))
    assert (row["status"], row["error"]) == ("error", expected(name))
    assert "traceback" not in row
    assert not out.exists()


ADVERSARIAL = os.path.join(SCENARIOS, "dirac-gan-simultaneous.toml")

# each built-in subclassed with one method raising on its first call of the run: iteration 0
KINDS = {
    "objective": ("gamesim_plugins.objectives", "Minimax", "generator_grad", "p_d, p_g, u",
                  "game.objective"),
    "discriminator": ("gamesim_plugins.discriminators", "Logistic", "vjp", "psi, g_u",
                      "discriminator.kind"),
    "generator": ("gamesim_plugins.transforms", "Point", "forward", "theta", "generator.kind"),
    "optimizer": ("gamesim_plugins.optimizers", "SGD", "step", "theta, grad, state",
                  "generator.optimizer.kind"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_of_plugin_failing_is_named(kind, plugin_module):
    module, base, method, args, key = KINDS[kind]
    name, _ = plugin_module(f"""
        from {module} import {base}

        ARMED = [False]


        class Failing({base}):
            name = "failing_{kind}"

            def {method}(self, {args}):
                if ARMED[0]:
                    raise ValueError("broken\\n  on purpose")
                return super().{method}({args})


        @gamesim.hookimpl
        def gamesim_register_{kind}s(register):
            register(Failing)


        @gamesim.hookimpl
        def gamesim_run_start():
            ARMED[0] = True  # not during the set-up checks
        """)
    sc = scenario.load(ADVERSARIAL, ["iterations=5", f"{key}=failing_{kind}"])
    with pytest.raises(PluginRunError) as caught:
        engine.run(sc, observers=plugins.observers())
    assert str(caught.value) == (f"{kind} 'failing_{kind}' (plugin '{name}'): {method}({args}) "
                                 f"raised ValueError: broken on purpose at iteration 0")


def test_a_sampled_run_names_the_failing_plugin(plugin_module):
    name, _ = plugin_module("""
        from gamesim_plugins.kernel_distances import MMD

        CALLS = [0]


        class Failing(MMD):
            name = "failing_mmd"

            def sample_value_grad(self, x, y, unbiased=True):
                CALLS[0] += 1
                if CALLS[0] > 3:
                    raise FloatingPointError("underflow")
                return super().sample_value_grad(x, y, unbiased)


        @gamesim.hookimpl
        def gamesim_register_distances(register):
            register(Failing)


        @gamesim.hookimpl
        def gamesim_run_start():
            CALLS[0] = 0
        """)
    # calls: iteration 0's recorded batch_value and step, iteration 1's step, iteration 2's
    sc = scenario.load(os.path.join(SCENARIOS, "gmmn-sampled.toml"),
                       ["iterations=10", "record_every=5", "output.snapshots=2",
                        "game.distance.kind=failing_mmd"])
    with pytest.raises(PluginRunError) as caught:
        engine.run(sc, observers=plugins.observers())
    assert str(caught.value) == (f"distance 'failing_mmd' (plugin '{name}'): "
                                 f"sample_value_grad(x, y, unbiased) raised FloatingPointError: "
                                 f"underflow at iteration 2")


def test_an_observer_failing_during_the_run_exits_1(plugin_module, write_scenario, run_cli,
                                                    tmp_path):
    name, _ = plugin_module("""
        @gamesim.hookimpl
        def gamesim_record(state):
            if state.iteration == 10:
                raise KeyError("peak")
        """)
    result = run_cli("run", write_scenario(DIRECT.replace("foo", "js")), "--out",
                     tmp_path / "run", "--quiet", "--no-plots")
    assert result.status == 1
    assert result.err == (f"gamesim: error: plugin '{name}': gamesim_record failed: "
                          f"KeyError: 'peak' at iteration 10\n")
    assert not (tmp_path / "run").exists()


def test_gamesim_own_errors_are_not_blamed_on_a_plugin(write_scenario, monkeypatch):
    sc = scenario.load(write_scenario(DIRECT.replace("foo", "js")))

    def broken(*args):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(recorder.Recorder, "snapshot", lambda self, state: broken())
    with pytest.raises(RuntimeError, match="engine bug"):
        engine.run(sc, observers=plugins.observers())


WGAN_NO_CLIP = """
name = "wgan-no-clip"
iterations = 60
record_every = 5
[grid]
lower = -6.0
upper = 6.0
points = 96
[target]
kind = "normal"
mean = 2.0
std = 0.5
[generator]
kind = "location_scale"
optimizer = { kind = "sgd", lr = 0.5 }
[discriminator]
kind = "mlp"
hidden = 8
optimizer = { kind = "sgd", lr = 1e3 }
[game]
objective = "wasserstein"
[metrics]
distances = ["w1", "js", "kl", "tv"]
[output]
snapshots = 3
"""

SHORT = ["iterations=60", "record_every=5", "output.snapshots=3"]
EXTREMES = [
    ("dirac-gan-simultaneous.toml", ["discriminator.optimizer.lr=1e308"], "diverged"),
    ("dirac-gan-simultaneous.toml", ["discriminator.optimizer.lr=1e30",
                                     "generator.optimizer.lr=1e30"], None),
    ("dirac-gan-r1.toml", ["discriminator.optimizer.lr=1e3"], None),
    ("linear-discriminator.toml", ["discriminator.optimizer.lr=1e308"], "diverged"),
    ("quadratic-discriminator.toml", ["generator.optimizer.lr=1e3"], "diverged"),
    ("ideal-oracle.toml", ["generator.optimizer.lr=1e308"], "diverged"),
    ("ideal-oracle-nonsaturating.toml", ["generator.optimizer.lr=1e308"], None),
    ("ideal-direct-mmd.toml", ["generator.optimizer.lr=1e308"], "diverged"),
    ("disjoint-supports.toml", [], None),
    ("disjoint-supports.toml", ["game.distance.kind=kl", "generator.optimizer.kind=sgd",
                                "generator.optimizer.lr=1e308"], None),
    ("wgan-gp.toml", ["generator.optimizer.lr=1e30"], "diverged"),
    ("gan-sampled.toml", ["discriminator.optimizer.lr=1e308"], "diverged"),
    ("gmmn-sampled.toml", ["generator.optimizer.lr=1e308"], "diverged"),
    (None, [], None),  # the Wasserstein critic without clipping or penalty, at lr 1e3
]


@pytest.mark.parametrize("path, overrides, status", EXTREMES)
def test_extreme_settings_run_and_plot_without_runtime_warnings(path, overrides, status,
                                                                write_scenario, tmp_path):
    path = os.path.join(SCENARIOS, path) if path else write_scenario(WGAN_NO_CLIP)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        sc = scenario.load(path, [*SHORT, *overrides])
        run = Run.simulate(sc)
        kinds = [k for k in plotting.KINDS if k != "animation"]
        plotting.save_plots(run, kinds, tmp_path)
    if status is not None:
        assert run.status == status


NAN_METRIC = """
CALLS = [0]


class Nanny:
    "A metric that turns NaN at its third recorded row."

    name = "nanny"

    def value(self, p, q):
        CALLS[0] += 1
        return float("nan") if CALLS[0] >= 3 else 0.5

    def grad(self, p, q):
        return np.zeros_like(q)


@gamesim.hookimpl
def gamesim_register_distances(register):
    register(Nanny)


@gamesim.hookimpl
def gamesim_run_start():
    CALLS[0] = 0
"""


def test_a_nan_metric_is_named_once_with_its_first_iteration(plugin_module, run_scenario):
    plugin_module(NAN_METRIC)
    run = run_scenario(DIRECT.replace('"foo"', '"js"').replace('["js"]', '["js", "nanny"]'))
    assert run.summary["status"] == "completed"
    assert np.isnan(run.metrics["nanny"][2:]).all()
    nan_warnings = [w for w in run.summary["warnings"] if "NaN" in w]
    assert nan_warnings == ["metric 'nanny' was NaN, first at iteration 10"]


def fake_run(columns, snapshots, summary):
    return types.SimpleNamespace(path="/nowhere/fake", columns=columns, snapshots=snapshots,
                                 summary=summary, scenario={})


N = 16
X = np.linspace(-1.0, 1.0, N)
P = np.full(N, 1.0 / N)


def snapshots(count, **extra):
    return {"x": X, "p_data": P, "iterations": np.arange(count, dtype=np.int64),
            "p_gen": np.tile(P, (count, 1)), "d": np.full((count, N), 0.5), **extra}


def columns(values, rows):
    names = ("iteration", "value", "js", "d_max_dev", "g.p0", "d.p0", "grad_norm.g")
    return {name: np.arange(rows, dtype=float) if name == "iteration" else
            np.full(rows, values) for name in names}


PHASE = {"phase_theta": np.full((3, 3), 1e300), "phase_psi": np.zeros((3, 3)),
         "phase_grad_theta": np.full((3, 3), np.inf), "phase_grad_psi": np.ones((3, 3))}


@pytest.mark.parametrize("rows, value, count", [
    (0, 0.0, 0),             # no rows, no snapshots
    (1, 1.0, 1),             # a single row and snapshot
    (5, np.nan, 2),          # every metric NaN
    (5, np.inf, 2),          # every metric infinite
    (5, -1e308, 3),          # numbers Matplotlib cannot place ticks for
])
def test_plotting_draws_damaged_runs(rows, value, count, tmp_path):
    run = fake_run(columns(value, rows),
                   snapshots(count, z=np.linspace(0.01, 0.99, 5),
                             transform=np.full((count, 5), value), **PHASE),
                   {"status": "completed", "equilibrium": "not a number"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        paths = plotting.save_plots(run, list(plotting.KINDS), tmp_path)
        plotting.figure_compare([run, run], "value").savefig(tmp_path / "compare.png")
        sweep_rows = [{"status": "completed", "lr": lr, "seed": s, "js": value}
                      for lr in (0.1, 1.0) for s in (0, 1)]
        plotting.figure_sweep(sweep_rows, ["lr", "seed"], "js", "x").savefig(tmp_path / "s.png")
        plotting.figure_sweep(sweep_rows[:2], ["lr"], "js", "x").savefig(tmp_path / "l.png")
    assert all(os.path.getsize(p) > 0 for p in paths)
    assert plotting.save_plots(run, [], tmp_path / "none") == []
