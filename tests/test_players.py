"""Parametrized players: transform generators and discriminators, their VJPs against central
finite differences (at point masses and at the grid's edges too) and their masses."""

import math

import numpy as np
import pytest

from gamesim import Grid, scenario
from gamesim import testing

from gamesim_plugins.transforms import deposit

COARSE = Grid(-4.0, 4.0, 64)  # h = 0.125: segments span a few cells, edges are near


def make(kind, spec, grid=COARSE):
    return testing.make(kind, spec, grid)


def check_generator_vjp(gen, theta, seed=0):
    g = np.random.default_rng(seed).normal(size=COARSE.points)
    numeric = testing.gradient_fd(lambda t: g @ gen.forward(t)[0], theta)
    np.testing.assert_allclose(gen.vjp(theta, g), numeric, rtol=1e-5, atol=1e-7)


GENERATORS = [
    ({"kind": "location_scale"}, [0.3, math.log(0.8)]),
    ({"kind": "location_scale"}, [3.7, math.log(0.5)]),  # a tail beyond the upper edge
    ({"kind": "location_scale"}, [0.01, math.log(0.05)]),  # narrower than a cell
    ({"kind": "quantile", "knots": 6}, [-1.3, 0.1, -0.7, 0.4, -2.5, 0.2]),
    ({"kind": "quantile", "knots": 5}, [-4.6, 0.3, 0.9, 1.2, 1.1]),  # crosses both edges
    ({"kind": "point"}, [0.437]),
    ({"kind": "point"}, [-3.97]),  # in the edge cell's outer half: the edge takes it all
    ({"kind": "point"}, [-3.91]),  # between the first two cell centres
    ({"kind": "point"}, [5.3]),  # beyond the grid
]


@pytest.mark.parametrize("spec, theta", GENERATORS, ids=lambda v: str(v)[:40])
def test_generator_vjp(spec, theta):
    gen = make("generator", spec)
    check_generator_vjp(gen, np.array(theta, float))


@pytest.mark.parametrize("activation", ["tanh", "relu", "leaky_relu", "softplus"])
def test_mlp_generator_vjp(activation):
    gen = make("generator", {"kind": "mlp", "hidden": 5, "activation": activation, "nodes": 33,
                             "init_scale": 3.0})
    theta = gen.init_params(np.random.default_rng(1))
    check_generator_vjp(gen, theta, seed=2)


@pytest.mark.parametrize("spec, theta", GENERATORS[:5], ids=lambda v: str(v)[:40])
def test_generated_masses_are_a_distribution(spec, theta):
    p, outside = make("generator", spec).forward(np.array(theta, float))
    assert p.min() >= 0 and p.sum() == pytest.approx(1, abs=1e-14)
    assert 0 <= outside <= 1


def test_mass_beyond_the_grid_is_reported_and_kept_in_the_edge_cells():
    p, outside = deposit([3.0, 5.0], COARSE)  # half the segment lies beyond upper = 4
    assert outside == pytest.approx(0.5, abs=1e-15)
    assert p[-1] == pytest.approx(0.5 + 0.125 / 2, abs=1e-14) and p.sum() == pytest.approx(1)
    p, outside = make("generator", {"kind": "location_scale"}).forward(np.array([4.0, 0.0]))
    assert outside == pytest.approx(0.5, abs=1e-12) and p[-1] > 0.5


def test_point_mass_is_cloud_in_cell():
    x = COARSE.x
    p, outside = deposit([x[10] + 0.25 * COARSE.h] * 2, COARSE)
    assert p[10] == pytest.approx(0.75) and p[11] == pytest.approx(0.25) and outside == 0
    p, _ = deposit([x[10]] * 2, COARSE)
    assert p[10] == pytest.approx(1.0)


@pytest.mark.parametrize("points", [256, 512])
def test_location_scale_is_the_discretized_normal_within_h_squared(points):
    grid = Grid(-8.0, 8.0, points)
    gen = make("generator", {"kind": "location_scale"}, grid)
    mu, sigma = 0.4, 0.7
    p, _ = gen.forward(np.array([mu, math.log(sigma)]))
    target = make("target", {"kind": "normal", "mean": mu, "std": sigma}, grid)
    np.testing.assert_allclose(p, target.masses(grid)[0], atol=1e-15)
    density = np.exp(-0.5 * ((grid.x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    error = np.max(np.abs(p / grid.h - density))
    # the midpoint rule's error: h^2 / 24 max |density''| = h^2 / (24 sigma^3 sqrt(2 pi))
    assert error <= grid.h ** 2 / (24 * sigma ** 3 * math.sqrt(2 * math.pi)) * 1.01
    assert error >= 0.5 * grid.h ** 2 / (24 * sigma ** 3 * math.sqrt(2 * math.pi))


DISCRIMINATORS = [
    {"kind": "logistic", "features": "polynomial", "degree": 3},
    {"kind": "logistic", "features": "polynomial", "degree": 1, "bias": False,
     "standardize": False},
    {"kind": "logistic", "features": "rbf", "centres": 6},
    {"kind": "logistic", "features": "fourier", "frequencies": 3, "bias": False},
    {"kind": "mlp", "hidden": 4, "activation": "tanh"},
    {"kind": "mlp", "hidden": 4, "activation": "softplus", "standardize": False},
    {"kind": "mlp", "hidden": 4, "activation": "relu"},
    {"kind": "mlp", "hidden": 4, "activation": "leaky_relu"},
]


def disc_params(disc, seed):
    psi = disc.init_params(np.random.default_rng(seed))
    return psi + 0.5 * np.random.default_rng(seed + 1).normal(size=psi.size)


@pytest.mark.parametrize("spec", DISCRIMINATORS, ids=lambda s: "-".join(map(str, s.values())))
def test_discriminator_vjps(spec):
    disc = make("discriminator", spec)
    psi = disc_params(disc, 3)
    g = np.random.default_rng(4).normal(size=COARSE.points)
    np.testing.assert_allclose(disc.vjp(psi, g), testing.gradient_fd(lambda q: g @ disc.forward(q), psi),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(disc.dudx_vjp(psi, g),
                               testing.gradient_fd(lambda q: g @ disc.dudx(q), psi),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("spec", DISCRIMINATORS, ids=lambda s: "-".join(map(str, s.values())))
def test_discriminator_slope(spec):
    fine = Grid(-4.0, 4.0, 4000)
    disc = make("discriminator", spec, fine)
    psi = disc_params(disc, 5)
    u, slope = disc.forward(psi), disc.dudx(psi)
    numeric = (u[2:] - u[:-2]) / (2 * fine.h)
    scale = np.max(np.abs(slope)) + 1
    kinks = np.zeros(fine.points - 2, bool)
    if spec.get("activation") in ("relu", "leaky_relu"):  # skip the cells around a kink
        w, b = psi[:4], psi[4:8]
        s = disc.s[1:-1]
        for j in range(4):
            kinks |= np.abs(w[j] * s + b[j]) < 4 * abs(w[j]) * fine.h / disc.scale
    np.testing.assert_allclose(slope[1:-1][~kinks], numeric[~kinks], atol=1e-4 * scale)


def test_dirac_discriminator_is_psi_x():
    disc = make("discriminator", DISCRIMINATORS[1])
    np.testing.assert_allclose(disc.forward(np.array([0.7])), 0.7 * COARSE.x)
    np.testing.assert_allclose(disc.dudx(np.array([0.7])), 0.7)


def test_logistic_init_length_is_checked(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[target]\nkind = "normal"\n[generator]\nkind = "location_scale"\n'
                    '[discriminator]\nkind = "logistic"\ndegree = 2\ninit = [1.0]\n')
    with pytest.raises(Exception, match=r"discriminator\.init: got 1 numbers, expected 3"):
        scenario.load(path)
