"""The loop and the schedule: engine.iteration is the loop's own step, a recorded row reuses
the step's gradients, gamesim's modules import without a cycle, the phase field is produced."""

import ast
import os

import numpy as np
import pytest

from conftest import SCENARIOS
from gamesim import engine, phase, recorder, scenario

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gamesim")

GAMES = {
    "dirac-gan-simultaneous": ("dirac-gan-simultaneous.toml", []),
    "dirac-gan-r1": ("dirac-gan-r1.toml", []),
    "alternating-k2-extragradient": ("dirac-gan-alternating.toml", [
        "discriminator.steps=2", "discriminator.optimizer={kind='extragradient', lr=0.1}",
        "generator.optimizer={kind='extragradient', lr=0.1}"]),
    "sampled": ("gan-sampled.toml", ["output.snapshots=2"]),
}


def recorded_parameters(result, prefix):
    cols = [i for i, c in enumerate(result.columns) if c.startswith(prefix)]
    return np.array([[row[i] for i in cols] for row in result.rows])


@pytest.mark.parametrize("game", sorted(GAMES))
def test_iteration_called_n_times_is_the_loop_bit_for_bit(game):
    path, extra = GAMES[game]
    n = 30
    sc = scenario.load(os.path.join(SCENARIOS, path), [f"iterations={n}", "record_every=1",
                                                       *extra])
    result = engine.run(sc)
    assert result.status == "completed" and len(result.rows) == n + 1
    step = engine.iteration(sc)
    theta, psi, states = step.initial()
    thetas, psis = [theta.copy()], [psi.copy()]
    for it in range(n):
        theta, psi, states = step(theta, psi, states, it)
        thetas.append(theta.copy())
        psis.append(psi.copy())
    # the parameter columns are the plugins' param_values (or the norm of a large vector)
    g_cols = [recorder.parameter_reader(sc.generator)(t) for t in thetas]
    d_cols = [recorder.parameter_reader(sc.discriminator)(s) for s in psis]
    assert np.array_equal(recorded_parameters(result, "g."),
                          np.array([list(v.values()) for v in g_cols]))
    assert np.array_equal(recorded_parameters(result, "d."),
                          np.array([list(v.values()) for v in d_cols]))
    if "transform" in result.extra_snapshots:  # a large model's columns are only its norm
        assert np.array_equal(result.extra_snapshots["transform"][-1],
                              sc.generator.transform(theta)[1])


def test_iteration_is_the_loop_on_the_full_parameter_vectors():
    """A model too large for one column per parameter: compare the final vectors themselves."""
    sc = scenario.load(os.path.join(SCENARIOS, "mlp-gan.toml"),
                       ["iterations=20", "output.snapshots=[20]", "output.plots=['transform']"])
    result = engine.run(sc)
    step = engine.iteration(sc)
    theta, psi, states = step.initial()
    for it in range(20):
        theta, psi, states = step(theta, psi, states, it)
    assert np.array_equal(result.extra_snapshots["transform"][-1], sc.generator.transform(theta)[1])


def counted(monkeypatch, plugin, method):
    calls = []
    original = getattr(plugin, method)

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(plugin, method, counting)
    return calls


@pytest.mark.parametrize("record_every", [1, 1000])
def test_a_recorded_row_reuses_the_steps_gradients(monkeypatch, record_every):
    """Simultaneous play: one gradient of each player per iteration, however often rows are
    recorded (the last row, with no step after it, computes its own; then the phase field)."""
    n = 40
    sc = scenario.load(os.path.join(SCENARIOS, "dirac-gan-simultaneous.toml"),
                       [f"iterations={n}", f"record_every={record_every}",
                        "analysis={}"])
    g_calls = counted(monkeypatch, sc.objective, "generator_grad")
    d_calls = counted(monkeypatch, sc.objective, "discriminator_grad")
    result = engine.run(sc)
    assert "grad_norm.g" in result.columns and "grad_norm.d" in result.columns
    expected = n + 1 + phase.POINTS ** 2
    assert len(g_calls) == expected and len(d_calls) == expected


def test_the_phase_arrays_are_produced():
    sc = scenario.load(os.path.join(SCENARIOS, "dirac-gan-r1.toml"), ["iterations=20"])
    extra = engine.run(sc).extra_snapshots
    for key in ("phase_theta", "phase_psi", "phase_grad_theta", "phase_grad_psi"):
        assert extra[key].shape == (phase.POINTS, phase.POINTS)
    assert np.any(extra["phase_grad_theta"] != 0) and np.any(extra["phase_grad_psi"] != 0)


def imports_of(path, module):
    """The gamesim modules ``module`` (dotted) imports, wherever its import statements stand."""
    package = module.rsplit(".", 1)[0] if not path.endswith("__init__.py") else module
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("gamesim.") or name == "gamesim"}


def test_gamesim_modules_import_without_a_cycle():
    modules = {f"gamesim.{f[:-3]}" if f != "__init__.py" else "gamesim":
               os.path.join(PACKAGE, f) for f in os.listdir(PACKAGE) if f.endswith(".py")}
    graph = {m: {n for n in imports_of(path, m) if n in modules and n != m}
             for m, path in modules.items()}
    # the package's __init__ runs before any submodule: an edge to it closes no cycle of
    # submodules importing each other
    graph = {m: deps - {"gamesim"} for m, deps in graph.items()}
    assert graph["gamesim.engine"] >= {"gamesim.sampled", "gamesim.loop"}
    state = {}

    def visit(m, path):
        state[m] = "open"
        for n in sorted(graph[m]):
            assert state.get(n) != "open", f"import cycle: {' -> '.join(path + [n])}"
            if n not in state:
                visit(n, path + [n])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_an_oracle_game_does_not_depend_on_how_often_rows_are_recorded():
    """A recorded row and the step after it share one gradient, so recording every row or
    almost none gives the same trajectory, bit for bit (an oracle against a parametrized
    generator, where the objective hands its oracle pass's gradient over once)."""
    path = os.path.join(SCENARIOS, "gaussian-vs-bimodal-js.toml")
    every = engine.run(scenario.load(path, ["iterations=1000", "record_every=1"]))
    rarely = engine.run(scenario.load(path, ["iterations=1000", "record_every=5000"]))
    assert np.array_equal(every.snapshot_p_gen[-1], rarely.snapshot_p_gen[-1])
    assert every.rows[-1][1] == rarely.rows[-1][1]  # the value at the last row
