"""Sampled training's estimators against the exact grid quantities they estimate.

Data points are cell centres drawn with probability p_d, so data expectations are the grid's
sums exactly; generated points y = G(z) are continuous, and an expectation over them differs
from the sum over the generator's deposited cell masses by O(h^2) (the midpoint rule within
each cell). Each check allows 3 standard errors of the mean over many batches plus that
O(h^2) term, bounded here by ALLOW_H2 * h^2 (times the size of the quantity).
"""

import math

import numpy as np
import pytest

from gamesim import engine, sampled, scenario
from gamesim.exact import Exact

ALLOW_H2 = 2.0  # the O(h^2) allowance, in units of h^2 (times the quantity's scale)
REPS = 2000
BATCH = 32  # data and noise batch of the distance checks
SEED = 1  # the batches of repetition r come from the engine's streams of iteration r

BASE = """
seed = 0
iterations = 0
[grid]
lower = -6.0
upper = 6.0
points = {points}
[target]
kind = "mixture"
components = [
  {{ kind = "normal", mean = -1.5, std = 0.5, weight = 0.4 }},
  {{ kind = "normal", mean = 1.0, std = 0.8, weight = 0.6 }},
]
[generator]
kind = "location_scale"
mu = 0.4
sigma = 1.3
"""

DIRECT = BASE + """
[game]
mode = "direct"
distance = {{ kind = "mmd", kernel = "gaussian", bandwidth = [0.5, 1.0, 2.0] }}
estimator = "sampled"
batch = {batch}
statistic = "{statistic}"
"""

ADVERSARIAL = BASE + """
[discriminator]
kind = "{disc}"
{disc_keys}
[game]
objective = "{objective}"
estimator = "sampled"
batch = {batch}
"""


def load(write_scenario, template, **fields):
    return scenario.load(write_scenario(template.format(**fields)))


def initial_theta(sc):
    return np.ascontiguousarray(sc.generator.init_params(np.random.default_rng(0)), np.float64)


def mean_and_error(samples):
    samples = np.asarray(samples)
    return samples.mean(0), samples.std(0, ddof=1) / math.sqrt(len(samples))


@pytest.mark.parametrize("kernel", ["gaussian", "energy"])
def test_u_statistic_mmd_is_unbiased_for_the_grid_mmd(write_scenario, kernel):
    sc = load(write_scenario, DIRECT, points=512, batch=BATCH, statistic="unbiased")
    sc.distance.kernel = kernel
    sc.distance.setup(sc.grid)
    batches, theta = sampled.Batches(sc, Exact(sc)), initial_theta(sc)
    q, _ = sc.generator.forward(theta)
    exact = sc.distance.value(sc.p_data, q)
    u_stats, v_minus_u = [], []
    for rep in range(REPS):
        rng = sampled.streams(SEED, rep)[1]
        x, y = batches.data(rng), sc.generator.sample(theta, batches.noise(rng))
        u = sc.distance.sample_value_grad(x, y, True)[0]
        u_stats.append(u)
        v_minus_u.append(sc.distance.sample_value_grad(x, y, False)[0] - u)
    mean, se = mean_and_error(u_stats)
    h2 = ALLOW_H2 * sc.grid.h ** 2 * abs(exact)
    assert abs(mean - exact) < 3 * se + h2, (mean, exact, se)
    assert 3 * se < 0.1 * exact  # the check has teeth: the error bar is 10% of the value
    # The V-statistic's bias: (k(0) - E k(X, X')) / m + (k(0) - E k(Y, Y')) / n > 0, with the
    # expectations over independent pairs (grid sums: p^T K p and, within O(h^2), q^T K q).
    k0 = sc.distance.c[0]
    bias = (k0 - sc.p_data @ sc.distance.apply_kernel(sc.p_data)) / BATCH + \
        (k0 - q @ sc.distance.apply_kernel(q)) / BATCH
    mean_bias, se_bias = mean_and_error(v_minus_u)
    assert bias > 0 and mean_bias > 0
    assert abs(mean_bias - bias) < 3 * se_bias + ALLOW_H2 * sc.grid.h ** 2 * bias, \
        (mean_bias, bias, se_bias)


def test_sample_energy_distance_is_unbiased_for_the_grid_energy(write_scenario):
    sc = load(write_scenario, DIRECT, points=512, batch=16, statistic="unbiased")
    from gamesim_plugins.cdf_distances import Energy
    energy = Energy()
    energy.setup(sc.grid)
    batches, theta = sampled.Batches(sc, Exact(sc)), initial_theta(sc)
    q, _ = sc.generator.forward(theta)
    exact = energy.value(sc.p_data, q)
    values = []
    for rep in range(REPS):
        rng = sampled.streams(SEED, rep)[1]
        x, y = batches.data(rng), sc.generator.sample(theta, batches.noise(rng))
        values.append(energy.sample_value_grad(x, y, True)[0])
    mean, se = mean_and_error(values)
    assert abs(mean - exact) < 3 * se + ALLOW_H2 * sc.grid.h ** 2 * exact, (mean, exact, se)


OBJECTIVES = ["minimax", "nonsaturating", "least_squares", "hinge", "wasserstein"]
DISCRIMINATORS = {"logistic": "degree = 2\ninit = [0.8, -1.5, 0.3]", "mlp": "hidden = 8"}


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("disc", ["logistic", "mlp"])
def test_mean_sampled_gradients_equal_the_exact_ones(write_scenario, objective, disc):
    """For fixed players, the mean batch gradient of each player is the exact one."""
    sc = load(write_scenario, ADVERSARIAL, points=2048, batch=64, disc=disc,
              disc_keys=DISCRIMINATORS[disc], objective=objective)
    players = Exact(sc)
    batches = sampled.Batches(sc, players)
    theta, psi, _ = engine.iteration(sc).initial()
    point = players.point(theta, psi)
    exact_g, exact_d = point.g_grad(), point.d_grad()
    g_samples, d_samples = [], []
    for rep in range(REPS // 2):
        rng = sampled.streams(SEED, rep)[1]
        x, z = batches.data(rng), batches.noise(rng)
        d_samples.append(batches.discriminator(theta, psi, x, z)[1])
        g_samples.append(batches.generator(theta, psi, batches.noise(rng))[1])
    for name, samples, exact in (("G", g_samples, exact_g), ("D", d_samples, exact_d)):
        mean, se = mean_and_error(samples)
        scale = np.abs(exact).max()
        # hinge's D terms jump where u = +-1: the grid sum moves by O(h) there, not O(h^2)
        slack = sc.grid.h * scale if objective == "hinge" and name == "D" else \
            ALLOW_H2 * sc.grid.h ** 2 * scale
        assert np.all(np.abs(mean - exact) <= 3 * se + slack), (name, mean, exact, se)
        assert np.all(3 * se < 0.25 * scale + 1e-12)  # the comparison is not vacuous
