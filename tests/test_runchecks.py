"""A run's checks of itself (gamesim/runchecks.py; docs/design.md, "Numerics"): each
objective's oracle_value against independent references, the value identity at every recorded
row of the shipped oracle scenarios and its failure on a deliberately wrong value, d_mean_dev
against NumPy, and the cycle warning."""

import glob
import math
import os
import re

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import wasserstein_distance

import gamesim
from gamesim import testing
from gamesim.api import source_of
from gamesim.columns import metric_columns
from gamesim.protocols import capability
from gamesim.runchecks import find_cycle

from conftest import LOG4, SCENARIOS

GRID = testing.Grid(-4.0, 4.0, 64)


def normal(mean, std):
    return testing.make("target", {"kind": "normal", "mean": mean, "std": std},
                        GRID).masses(GRID)[0]


# oracle_value's closed forms, each computed another way than plugins/objectives.py does
def js_reference(p, q):
    if math.isclose(p.sum(), 1, abs_tol=1e-12) and math.isclose(q.sum(), 1, abs_tol=1e-12):
        return -LOG4 + 2 * jensenshannon(p, q) ** 2  # scipy: sqrt(JS), natural log
    m = (p + q) / 2
    return -(p.sum() + q.sum()) * math.log(2) + rel_entr(p, m).sum() + rel_entr(q, m).sum()


def least_squares_reference(p, q):
    """-1/2 sum pq / (p + q) = (triangular discrimination - S_p - S_q) / 8."""
    both = p + q > 0
    triangular = np.sum((p[both] - q[both]) ** 2 / (p[both] + q[both]))
    return (triangular - p.sum() - q.sum()) / 8


def wasserstein_reference(p, q):
    """scipy's W1 for masses of equal totals; else (p - q) @ u of the centred potential built
    here from its definition, increments h sign(F_q - F_p) between cell centres."""
    if math.isclose(p.sum(), q.sum(), rel_tol=0, abs_tol=1e-14):
        return wasserstein_distance(GRID.x, GRID.x, p, q)
    u = [0.0]
    for i in range(p.size - 1):
        u.append(u[-1] + GRID.h * np.sign(q[:i + 1].sum() - p[:i + 1].sum()))
    u = np.array(u)
    return (p - q) @ (u - u.mean())


REFERENCES = {
    "minimax": js_reference, "nonsaturating": js_reference,
    "least_squares": least_squares_reference,
    "hinge": lambda p, q: -2 * np.minimum(p, q).sum(),
    "wasserstein": wasserstein_reference,
}
P_D, P_G = normal(-0.5, 1.0), normal(1.0, 0.6)
LEFT, RIGHT = testing.disjoint_masses(GRID.points)
CASES = {
    "overlapping": (P_D, P_G),
    "with-zeros": (np.where(GRID.x < 1.5, P_D, 0), np.where(GRID.x > -1.0, P_G, 0)),
    "subnormalized": (0.9 * P_D, 0.7 * P_G),  # mass lost beyond the grid
    "disjoint": (LEFT, RIGHT),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", REFERENCES)
def test_oracle_value_against_an_independent_reference(name, case):
    obj = testing.make("objective", name, GRID)
    p_d, p_g = CASES[case]
    expected = REFERENCES[name](p_d, p_g)
    got = obj.oracle_value(p_d, p_g)
    assert not math.isnan(got)
    assert got == pytest.approx(expected, rel=0, abs=1e-13)
    # and it is the value the oracle gets, as every run checks
    assert obj.value(p_d, p_g, obj.oracle(p_d, p_g)) == pytest.approx(got, rel=0, abs=1e-13)


def test_oracle_values_on_disjoint_supports_are_the_objectives_maxima():
    values = {name: testing.make("objective", name, GRID).oracle_value(LEFT, RIGHT)
              for name in REFERENCES}
    # JS = log 2, TV = 1, no overlap: -log 4 + 2 log 2 = 0, 2 - 2 = 0, -1/2 sum 0 = 0
    assert values["minimax"] == pytest.approx(0.0, abs=1e-14)
    assert values["hinge"] == 0.0 and values["least_squares"] == 0.0
    # uniform on the first and on the last 16 of 64 cells of width 1/8: moved by 48 cells
    assert values["wasserstein"] == pytest.approx(48 * GRID.h, rel=1e-14)


def test_check_objective_checks_oracle_value():
    good = testing.make("objective", "hinge")
    testing.check_objective(good)
    cls = type(good)
    good.__class__ = type("OffHinge", (cls,), {
        "oracle_value": lambda self, p_d, p_g: cls.oracle_value(self, p_d, p_g) + 1e-6})
    with pytest.raises(AssertionError, match=r"'hinge': oracle_value \S+ vs value at the "
                                             r"oracle \S+ \(random masses") as info:
        testing.check_objective(good)
    closed, at_oracle = (float(w) for w in re.findall(r"-?\d\.\d+(?:e-?\d+)?", str(info.value))[:2])
    assert closed - at_oracle == pytest.approx(1e-6, rel=1e-6)


def test_d_mean_dev_is_a_column_beside_d_max_dev_where_d_is_a_probability():
    names = {name: metric_columns(testing.make("objective", name), ["js"])
             for name in REFERENCES}
    for name in ("minimax", "nonsaturating", "least_squares"):
        assert names[name] == ["value", "js", "mass_outside", "d_max_dev", "d_mean_dev"]
    for name in ("hinge", "wasserstein"):
        assert names[name] == ["value", "js", "mass_outside"]


# runs

def oracle_scenarios():
    found = []
    for path in sorted(glob.glob(os.path.join(SCENARIOS, "*.toml"))):
        sc = source_of(path).load({}, [])
        if sc.discriminator is not None and capability(sc.discriminator, "oracle"):
            found.append(os.path.basename(path))
    return found


def test_the_shipped_oracle_scenarios_are_found():
    assert {"ideal-oracle.toml", "gaussian-vs-bimodal-w1.toml",
            "old-faithful-oracle.toml"} <= set(oracle_scenarios())


@pytest.mark.parametrize("name", oracle_scenarios())
def test_the_value_identity_holds_at_every_row_of_each_shipped_oracle_scenario(name):
    run = gamesim.run(os.path.join(SCENARIOS, name), plots=False)
    checks = run.summary["checks"]
    identity = checks["value_identity"]
    rows = run.metrics["iteration"]
    assert identity["passed"] is True and identity["rows"] == rows.size > 1
    assert identity["objective"] == run.scenario["game"]["objective"]
    # measured: at most 4.5e-15, against a tolerance of 1e-9 (1 + |oracle_value|)
    assert identity["largest_deviation"] < 1e-13
    assert identity["iteration"] in rows
    assert 1e-9 <= identity["tolerance"] <= 1e-9 * (1 + 20)
    assert checks["cycle"] is None
    assert not [w for w in run.warnings if w.startswith(("check failed", "cycle"))]
    if "d_max_dev" in run.metrics:
        assert checks["d_mean_dev"] == {"iteration": int(rows[-1]),
                                        "d_mean_dev": run.metrics["d_mean_dev"][-1],
                                        "d_max_dev": run.metrics["d_max_dev"][-1]}


SMALL_ORACLE = """
    iterations = {iterations}
    record_every = 1
    [grid]
    points = 128
    [target]
    kind = "mixture"
    components = [{{ kind = "normal", mean = -2.0, std = 0.5, weight = 0.3 }},
                  {{ kind = "normal", mean = 1.5, std = 1.0, weight = 0.7 }}]
    [generator]
    kind = "density"
    init = {{ kind = "normal", mean = 0.0, std = 3.0 }}
    optimizer = {{ kind = "mirror", lr = 1.0 }}
    [game]
    objective = "{objective}"
    [metrics]
    distances = ["js", "tv"]
    [output]
    snapshots = {snapshots}
"""

OFF_BY_A_MICRO = """
from gamesim_plugins.objectives import Minimax

class OffMinimax(Minimax):
    '''minimax with a value off by 1e-6 sum |p_d - p_g|: largest where p_g is furthest.'''
    name = "off_minimax"

    def value(self, p_d, p_g, u):
        return super().value(p_d, p_g, u) + 1e-6 * np.abs(p_d - p_g).sum()

@gamesim.hookimpl
def gamesim_register_objectives(register):
    register(OffMinimax)
"""


def test_a_wrong_value_fails_the_check_with_a_warning_and_exit_status_0(
        plugin_module, write_scenario, run_cli, tmp_path):
    module, _ = plugin_module(OFF_BY_A_MICRO)
    path = write_scenario(SMALL_ORACLE.format(iterations=8, objective="off_minimax",
                                              snapshots=4))
    result = run_cli("run", path, "--out", tmp_path / "run", "--no-plots", "-p", module)
    assert result.status == 0, result.err
    run = gamesim.load_run(tmp_path / "run")
    assert run.status == "completed"
    identity = run.summary["checks"]["value_identity"]
    # the value is off by 2e-6 TV, largest at iteration 0 (mirror lr 1 halves TV every step)
    off = 2e-6 * run.metrics["tv"][0]
    assert identity["passed"] is False and identity["iteration"] == 0
    assert identity["largest_deviation"] == pytest.approx(off, rel=1e-9)
    tolerance = 1e-9 * (1 + abs(run.metrics["value"][0] - off))
    assert identity["tolerance"] == pytest.approx(tolerance, rel=1e-12)
    line = (f"check failed: value identity of objective 'off_minimax': |value - oracle_value| "
            f"= {off:.3g} at iteration 0, above the tolerance {tolerance:.3g} (|value - "
            f"oracle_value| <= 1e-09 + 1e-09 |oracle_value|; largest of 9 recorded rows)")
    assert run.warnings == [line]
    assert f"warning: {line}\n" in result.out


def test_d_mean_dev_against_numpy_and_the_oracles_tv_over_2(run_scenario):
    run = run_scenario(SMALL_ORACLE.format(iterations=6, objective="minimax",
                                           snapshots=list(range(7))))
    p_d, d, p_g = run.snapshots["p_data"], run.snapshots["d"], run.snapshots["p_gen"]
    direct = 0.5 * np.sum((p_d + p_g) * np.abs(d - 0.5), axis=1)
    np.testing.assert_allclose(run.metrics["d_mean_dev"], direct, rtol=1e-13, atol=0)
    # D* = p_d / (p_d + p_g): (p_d + p_g) |D* - 1/2| = |p_d - p_g| / 2, so d_mean_dev = TV / 2
    np.testing.assert_allclose(run.metrics["d_mean_dev"], run.metrics["tv"] / 2, rtol=1e-13)
    assert run.metrics["d_mean_dev"][0] > 0.1  # away from the fixed point


def test_d_mean_dev_of_a_parametrized_discriminator_against_numpy(run_scenario):
    with open(os.path.join(SCENARIOS, "dirac-gan-alternating.toml")) as f:
        text = f.read()
    run = run_scenario(text, "--set", "iterations=40", "--set", "record_every=10",
                       "--set", "output.snapshots=[0, 10, 20, 30, 40]")
    p_d, d, p_g = run.snapshots["p_data"], run.snapshots["d"], run.snapshots["p_gen"]
    support = (p_d + p_g) > 0
    np.testing.assert_allclose(run.metrics["d_mean_dev"],
                               0.5 * np.sum((p_d + p_g) * np.abs(d - 0.5), axis=1), rtol=1e-13)
    # the recorder's sigma(u) (libm's exp, on the support) and the snapshot's (NumPy's) may
    # differ in the last bit
    np.testing.assert_allclose(run.metrics["d_max_dev"],
                               [np.abs(di[s] - 0.5).max() for di, s in zip(d, support)],
                               rtol=1e-14)
    assert "value_identity" not in run.summary["checks"]  # no oracle, no identity


UNIFORM = """
    iterations = 300
    record_every = 50
    [grid]
    lower = -8.0
    upper = 8.0
    points = 512
    [target]
    kind = "uniform"
    lower = -2.0
    upper = 2.0
    [generator]
    kind = "density"
    init = { kind = "normal", mean = 0.0, std = 3.0 }
    optimizer = { kind = "mirror", lr = 1.0 }
    [metrics]
    distances = ["js", "tv"]
    [output]
    snapshots = [0, 300]
"""


def test_uniform_target_d_mean_dev_sees_convergence_that_d_max_dev_misses(run_scenario):
    run = run_scenario(UNIFORM)
    p_d, p_g, d = run.snapshots["p_data"], run.snapshots["p_gen"][-1], run.snapshots["d"][-1]
    # converged: generated mass beyond the target's support halves every step (2^-300 of it)
    assert run.last("js") < 1e-90 and p_g[p_d == 0].max() < 1e-92
    # yet D = 0 in those cells, so max |D - 1/2| is 1/2 for a cell of mass 1e-93
    assert run.last("d_max_dev") == 0.5 and np.all(run.metrics["d_max_dev"] == 0.5)
    assert run.last("d_mean_dev") < 1e-90
    assert run.last("d_mean_dev") == pytest.approx(run.last("tv") / 2, rel=1e-12)
    assert run.last("d_mean_dev") == pytest.approx(
        0.5 * np.sum((p_d + p_g) * np.abs(d - 0.5)), rel=1e-12)
    assert run.summary["checks"]["d_mean_dev"]["d_mean_dev"] == run.last("d_mean_dev")


HINGE_MIRROR = ["--set", 'game.objective="hinge"', "--set", "generator.optimizer.lr=1",
                "--set", "stop=false", "--set", "iterations=60"]


@pytest.mark.parametrize("objective, record_every, cycle", [
    ("hinge", 1, {"period_rows": 2, "period_iterations": 2, "from_iteration": 24, "rows": 37}),
    ("hinge", 3, {"period_rows": 2, "period_iterations": 6, "from_iteration": 24, "rows": 13}),
    ("wasserstein", 1,
     {"period_rows": 2, "period_iterations": 2, "from_iteration": 10, "rows": 51}),
])
def test_the_mirror_lr1_critic_oracles_cycle_with_period_2(run_scenario, objective,
                                                           record_every, cycle):
    with open(os.path.join(SCENARIOS, "ideal-oracle.toml")) as f:
        text = f.read()
    run = run_scenario(text, *HINGE_MIRROR, "--set", f'game.objective="{objective}"',
                       "--set", f"record_every={record_every}")
    assert run.summary["checks"]["cycle"] == cycle
    line, = [w for w in run.summary["warnings"] if w.startswith("cycle")]
    assert line.startswith(f"cycle: the recorded rows repeat with period "
                           f"{cycle['period_iterations']} iterations (2 rows) from iteration "
                           f"{cycle['from_iteration']} on ({cycle['rows']} rows")
    # independently: from there on each row equals the one two before and not its neighbour
    values = np.array([run.metrics[c] for c in run.header if c != "iteration"]).T
    start = list(run.metrics["iteration"]).index(cycle["from_iteration"])
    scale = np.abs(values).max(axis=0)
    assert np.all(np.abs(values[start + 2:] - values[start:-2]) <= 1e-12 * scale)
    assert np.all(np.abs(values[start + 1:, 0] - values[start:-1, 0]) > 1e-3)
    assert np.any(np.abs(values[start + 1] - values[start - 1]) > 1e-12 * scale)


def test_alternating_dirac_gan_play_is_quasi_periodic_not_a_cycle():
    run = gamesim.run(os.path.join(SCENARIOS, "dirac-gan-alternating.toml"), plots=False)
    theta = run.metrics["g.theta"]
    # it keeps circling (no convergence, no escape) ...
    late = theta[theta.size // 2:]
    assert late.min() < -0.5 and late.max() > 0.5 and np.abs(theta).max() < 3
    # ... without ever repeating a recorded row
    assert run.summary["checks"]["cycle"] is None
    assert not [w for w in run.warnings if w.startswith("cycle")]


def rows_of(values, every=1):
    return [[i * every, *np.atleast_1d(v)] for i, v in enumerate(values)]


def test_find_cycle_on_constructed_rows():
    cycle = [5.0] * 4 + ([0.3, -1.0, 2.5] * 5)[:13]
    assert find_cycle(rows_of(cycle), 1) == {
        "period_rows": 3, "period_iterations": 3, "from_iteration": 4, "rows": 13}
    # ten rows repeating the row a period before are needed: 3 + 9 are not enough
    assert find_cycle(rows_of(cycle[:-1]), 1) is None
    # a fixed point is not a cycle, nor is a rotation by an irrational angle
    assert find_cycle(rows_of([1.0] * 30), 1) is None
    angle = 2 * math.pi * (math.sqrt(5) - 1) / 2
    assert find_cycle(rows_of([[math.cos(angle * k), math.sin(angle * k)]
                               for k in range(200)]), 1) is None
    # a period longer than 8 rows is not looked for
    nine = list(np.arange(9.0))
    assert find_cycle(rows_of(nine * 4), 1) is None
    # round-off around a fixed point, far below the column's scale, is the fixed point
    assert find_cycle(rows_of([0.1] + [1e-17, 2e-17] * 10), 1) is None
    # a last row off the record_every spacing is left out; iterations count the period
    rows = rows_of([1.0, 2.0] * 8, every=5) + [[77, 3.0]]
    assert find_cycle(rows, 5) == {"period_rows": 2, "period_iterations": 10,
                                   "from_iteration": 0, "rows": 16}
