"""The approximate game: where parametrized players end (docs/design.md, "Model" and "One iteration")."""

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from gamesim import engine, scenario

SCENARIOS = pathlib.Path(__file__).resolve().parent.parent / "scenarios"


def final(result, column):
    return result.rows[-1][result.columns.index(column)]


def fit_logistic(disc, objective, p_d, p_g):
    """D's optimum by Newton's method (D's loss is convex in psi for a linear-in-features D)."""
    size = disc.init_params(np.random.default_rng(0)).size
    jac = np.column_stack([disc.forward(e) for e in np.eye(size)])  # u = jac @ psi
    psi = np.zeros(size)
    for _ in range(50):
        u = disc.forward(psi)
        grad = disc.vjp(psi, objective.discriminator_grad(p_d, p_g, u))
        d = 1 / (1 + np.exp(-u))
        hessian = jac.T @ (((p_d + p_g) * d * (1 - d))[:, None] * jac)
        step = np.linalg.solve(hessian, grad)
        psi -= step
        if np.max(np.abs(step)) < 1e-13:
            break
    return psi


@pytest.mark.parametrize("degree, matches", [(2, True), (1, False)])
def test_quadratic_discriminator_represents_d_star(degree, matches):
    sc = scenario.load(SCENARIOS / "quadratic-discriminator.toml",
                       [f"discriminator.degree={degree}", "game.objective=minimax"])
    p_d = sc.p_data
    p_g, _ = sc.generator.forward(np.array([0.0, math.log(1.5)]))  # right mean, wrong spread
    psi = fit_logistic(sc.discriminator, sc.objective, p_d, p_g)
    d = 1 / (1 + np.exp(-sc.discriminator.forward(psi)))
    d_star = p_d / (p_d + p_g)
    gap = float((p_d + p_g) @ np.abs(d - d_star))
    if matches:
        assert gap < 1e-4
    else:
        assert gap > 0.05
        assert np.max(np.abs(d - 0.5)) < 1e-6  # the best linear D is flat: it sees nothing


def test_linear_discriminator_leaves_the_variance_wrong_and_quadratic_fixes_it():
    linear = engine.run(scenario.load(SCENARIOS / "linear-discriminator.toml"))
    quadratic = engine.run(scenario.load(SCENARIOS / "quadratic-discriminator.toml"))
    assert final(linear, "g.sigma") == pytest.approx(2.0, abs=1e-6)
    assert final(quadratic, "g.sigma") == pytest.approx(1.0, abs=1e-3)
    assert final(quadratic, "js") < 1e-8 < final(linear, "js")


def moments(p, x):
    mean = p @ x
    return mean, math.sqrt(p @ (x - mean) ** 2)


def test_forward_kl_is_the_moment_matching_gaussian():
    sc = scenario.load(SCENARIOS / "gaussian-vs-bimodal-forward-kl.toml")
    result = engine.run(sc)
    mean, std = moments(sc.p_data, sc.grid.x)
    assert final(result, "g.mu") == pytest.approx(mean, abs=1e-2)
    assert final(result, "g.sigma") == pytest.approx(std, abs=1e-2)


def test_reverse_kl_seeks_one_mode():
    sc = scenario.load(SCENARIOS / "gaussian-vs-bimodal-reverse-kl.toml")
    result = engine.run(sc)
    modes = [c.mean for c in sc.target.components]
    assert min(abs(final(result, "g.mu") - m) for m in modes) < 0.2
    assert final(result, "g.sigma") < 0.6  # one mode's width (0.5), not both modes'


def test_quantile_generator_gets_closer_with_more_knots(tmp_path):
    path = tmp_path / "quantile.toml"
    path.write_text("""
iterations = 3000
record_every = 3000
[grid]
lower = -8.0
upper = 8.0
points = 1024
[target]
kind = "mixture"
components = [{ kind = "normal", mean = -2.0, std = 0.5, weight = 0.3 },
              { kind = "normal", mean = 1.5, std = 1.0, weight = 0.7 }]
[generator]
kind = "quantile"
init_lower = -4.0
init_upper = 4.0
optimizer = { kind = "adam", lr = 0.02 }
[game]
mode = "direct"
distance = { kind = "cramer" }
[metrics]
distances = ["w1"]
""")
    w1 = [final(engine.run(scenario.load(path, [f"generator.knots={k}"])), "w1")
          for k in (8, 16, 32, 64)]
    assert all(a > b for a, b in zip(w1, w1[1:]))
    assert w1[-1] < 1e-2


@pytest.mark.slow
def test_a_diverging_run_is_a_result(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "gamesim", "run",
                           str(SCENARIOS / "gaussian-vs-bimodal-forward-kl.toml"), "--out", str(out),
                           "--set", 'generator.optimizer={kind="sgd",lr=5.0}', "--set",
                           "record_every=1", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert summary["failure"]["plugin"].startswith("generator 'location_scale'")
    rows = (out / "metrics.csv").read_text().splitlines()[1:]
    assert len(rows) == summary["failure"]["iteration"] >= 5  # every finite state kept
    assert (out / "plots" / "convergence.png").stat().st_size > 0
