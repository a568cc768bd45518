"""The Dirac-GAN (Mescheder, Geiger, Nowozin 2018) on a grid with h < 0.01.

Data a point mass at 0, generator a point mass at theta, discriminator logit u = psi x, sgd
with eta = 0.1 for both players. Near (0, 0) with f(t) = -log(1 + e^-t), f'(0) = 1/2, the
simultaneous step is a rotation scaled by sqrt(1 + eta^2 f'(0)^2); the alternating one has
determinant 1 and cycles; R1 makes simultaneous play converge.
"""

import math
import pathlib

import numpy as np
import pytest

from gamesim import engine, phase, scenario

SCENARIOS = pathlib.Path(__file__).resolve().parent.parent / "scenarios"
ETA = 0.1


def play(name, start, iterations, record_every=1, extra=()):
    theta0, psi0 = start
    sc = scenario.load(SCENARIOS / f"dirac-gan-{name}.toml",
                       [f"generator.at={theta0}", f"discriminator.init=[{psi0}]",
                        f"iterations={iterations}", f"record_every={record_every}", *extra])
    result = engine.run(sc)
    cols = {c: np.array([r[i] for r in result.rows]) for i, c in enumerate(result.columns)}
    return result, cols["g.theta"], cols["d.w1"]


def test_grid_is_fine_and_centred():
    sc = scenario.load(SCENARIOS / "dirac-gan-simultaneous.toml")
    assert sc.grid.h <= 0.01
    assert sc.p_data.max() == 1.0 and sc.grid.x[np.argmax(sc.p_data)] == pytest.approx(0, abs=1e-12)


def test_simultaneous_spirals_out_at_the_predicted_rate():
    _, theta, psi = play("simultaneous", (0.1, 0.1), 20)
    radius = np.hypot(theta, psi)
    factor = radius[1:] / radius[:-1]
    expected = math.sqrt(1 + ETA ** 2 * 0.5 ** 2)
    assert np.max(np.abs(factor - expected)) < 1e-3
    assert radius[-1] > radius[0]


def test_alternating_cycles_without_converging():
    result, theta, psi = play("alternating", (1.0, 1.0), 20000, record_every=10)
    assert result.status == "completed" and len(theta) == 2001
    radius = np.hypot(theta, psi)
    assert np.max(np.abs(radius / radius[0] - 1)) < 0.05
    assert radius.min() > 0.9 * radius[0]  # far from the equilibrium all along
    # it keeps turning: theta changes sign again and again
    assert np.count_nonzero(np.diff(np.sign(theta))) > 10


def test_r1_converges():
    result, theta, psi = play("r1", (1.0, 1.0), 500)
    radius = np.hypot(theta, psi)
    first = int(np.argmax(radius < 1e-3))
    assert radius[first] < 1e-3 and first <= 500
    assert radius[-1] < 1e-3
    assert result.rows[-1][result.columns.index("d_max_dev")] < 1e-3


def test_phase_field_points_along_the_dynamics():
    result, theta, psi = play("simultaneous", (1.0, 1.0), 10)
    s = result.extra_snapshots
    assert s["phase_theta"].shape == (phase.POINTS, phase.POINTS)
    # the generator's descent direction -dL/dtheta = psi f'(-psi theta) has the sign of psi
    moves = -s["phase_grad_theta"]
    away = np.abs(s["phase_psi"]) > 0.1
    assert np.all(np.sign(moves[away]) == np.sign(s["phase_psi"][away]))


@pytest.mark.parametrize("kind", ["extragradient", "optimistic"])
def test_extrapolation_converges_without_a_penalty(kind):
    opt = f'{{kind="{kind}",lr={ETA}}}'
    _, theta, psi = play("simultaneous", (1.0, 1.0), 3000, record_every=100,
                         extra=(f"generator.optimizer={opt}", f"discriminator.optimizer={opt}"))
    radius = np.hypot(theta, psi)
    assert radius[-1] < 0.5 * radius[0]
    assert np.all(np.diff(radius) < 0)


def test_extragradient_evaluates_both_gradients_at_the_extrapolated_point():
    opt = f'{{kind="extragradient",lr={ETA}}}'
    _, theta, psi = play("simultaneous", (0.1, 0.1), 1,
                         extra=(f"generator.optimizer={opt}", f"discriminator.optimizer={opt}"))
    # linearized at (0, 0): z <- z - eta A (z - eta A z) with A = [[0, -1/2], [1/2, 0]] acting
    # on (theta, psi); the small nonlinearity of f' at psi theta = 0.01 stays below 1e-4
    a = np.array([[0.0, -0.5], [0.5, 0.0]])
    z = np.array([0.1, 0.1])
    expected = z - ETA * a @ (z - ETA * a @ z)
    np.testing.assert_allclose([theta[1], psi[1]], expected, atol=1e-4)
