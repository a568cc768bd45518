"""least_squares, hinge and wasserstein (and the original two) against their documented forms
(docs/design.md, "Model"; plugins/objectives.py):
gradients against central finite differences, oracles, their values and the equilibria;
the regularizers' penalties and the optimizers' steps."""

import math

import numpy as np
import pytest

from gamesim import Grid
from gamesim import testing
from gamesim.fastmath import filled

from gamesim_plugins.regularizers import _interpolates

GRID = Grid(-4.0, 4.0, 64)
OBJECTIVES = ["minimax", "nonsaturating", "least_squares", "hinge", "wasserstein"]
# G's loss, as a function of (p_g, u), for each objective
GENERATOR_LOSS = {
    "minimax": lambda p_g, u: -p_g @ np.logaddexp(0, u),
    "nonsaturating": lambda p_g, u: p_g @ np.logaddexp(0, -u),
    "least_squares": lambda p_g, u: 0.5 * p_g @ (u - 1) ** 2,
    "hinge": lambda p_g, u: -p_g @ u,
    "wasserstein": lambda p_g, u: -p_g @ u,
}


def make(kind, spec, grid=GRID):
    return testing.make(kind, spec, grid)


def normal(mean, std, grid=GRID):
    return make("target", {"kind": "normal", "mean": mean, "std": std}, grid).masses(grid)[0]


P_D, P_G = normal(-0.5, 1.0), normal(1.0, 0.6)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_gradients(name):
    obj = make("objective", name)
    u = np.random.default_rng(0).normal(scale=2.0, size=GRID.points)
    u[np.abs(np.abs(u) - 1) < 1e-3] += 0.01  # keep away from the hinge's kinks
    np.testing.assert_allclose(obj.discriminator_grad(P_D, P_G, u),
                               testing.gradient_fd(lambda v: -obj.value(P_D, P_G, v), u),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(obj.generator_grad(P_D, P_G, u),
                               testing.gradient_fd(lambda q: GENERATOR_LOSS[name](q, u), P_G),
                               rtol=1e-6, atol=1e-9)


def js(p, q):
    m = 0.5 * (p + q)
    kl = lambda a: np.sum(a[a > 0] * np.log(a[a > 0] / m[a > 0]))
    return 0.5 * (kl(p) + kl(q))


ORACLE_VALUE = {
    "minimax": lambda p, q: -math.log(4) + 2 * js(p, q),
    "least_squares": lambda p, q: -0.5 * np.sum(p * q / np.where(p + q > 0, p + q, 1)),
    "hinge": lambda p, q: np.abs(p - q).sum() - 2,
    "wasserstein": lambda p, q: GRID.h * np.abs(np.cumsum(p - q)).sum(),
}


@pytest.mark.parametrize("name", list(ORACLE_VALUE))
@pytest.mark.parametrize("disjoint", [False, True])
def test_oracle_value_and_equilibrium(name, disjoint):
    obj = make("objective", name)
    p_d, p_g = (P_D, P_G)
    if disjoint:
        p_d, p_g = np.where(GRID.x < 0, P_D, 0), np.where(GRID.x >= 0, P_G, 0)
        p_d, p_g = p_d / p_d.sum(), p_g / p_g.sum()
    u = obj.oracle(p_d, p_g)
    value = obj.value(p_d, p_g, u)
    assert not math.isnan(value)
    assert value == pytest.approx(ORACLE_VALUE[name](p_d, p_g), abs=1e-12)
    assert obj.value(p_d, p_d, obj.oracle(p_d, p_d)) == pytest.approx(obj.equilibrium, abs=1e-12)
    # a best response: no small change of u raises the value (for the critic, among
    # 1-Lipschitz functions only: test_kantorovich_potential_is_1_lipschitz_and_attains_w1)
    rng = np.random.default_rng(1)
    for _ in range(5 if name != "wasserstein" else 0):
        assert obj.value(p_d, p_g, u + 1e-3 * rng.normal(size=u.size)) <= value + 1e-12


def test_kantorovich_potential_is_1_lipschitz_and_attains_w1():
    obj = make("objective", "wasserstein")
    u = obj.oracle(P_D, P_G)
    assert np.max(np.abs(np.diff(u))) <= GRID.h * (1 + 1e-12)
    assert abs(u.mean()) < 1e-12


def test_least_squares_oracle_is_stationary():
    obj = make("objective", "least_squares")
    u = obj.oracle(P_D, P_G)
    assert np.max(np.abs(obj.discriminator_grad(P_D, P_G, u))) < 1e-15
    assert np.all(obj.oracle(P_D, P_D)[P_D > 0] == 0.5)


# regularizers

def disc(spec):
    d = make("discriminator", spec)
    psi = d.init_params(np.random.default_rng(2))
    return d, psi + 0.3 * np.random.default_rng(3).normal(size=psi.size)


@pytest.mark.parametrize("reg_kind", ["r1", "r2", "gradient_penalty"])
@pytest.mark.parametrize("spec", [{"kind": "logistic", "degree": 3},
                                  {"kind": "mlp", "hidden": 3, "activation": "tanh"}],
                         ids=["logistic", "mlp"])
def test_penalty_gradients(reg_kind, spec):
    reg = make("regularizer", {"kind": reg_kind, "gamma": 2.0})
    d, psi = disc(spec)
    value, grad = reg.penalty(d, psi, P_D, P_G)
    assert value > 0
    np.testing.assert_allclose(grad, testing.gradient_fd(
        lambda q: reg.penalty(d, q, P_D, P_G)[0], psi), rtol=1e-5, atol=1e-8)


def test_gradient_penalty_follows_a_change_of_p_d_alone():
    # with instance noise D sees K p_d, which changes with an annealed sigma while p_g may
    # stay the same: the interpolates depend on both
    reg = make("regularizer", {"kind": "gradient_penalty", "gamma": 2.0})
    d, psi = disc({"kind": "logistic", "degree": 3})
    other_p_d = np.roll(P_D, 7)
    reg.penalty(d, psi, P_D, P_G)
    value, grad = reg.penalty(d, psi, other_p_d, P_G)
    fresh = make("regularizer", {"kind": "gradient_penalty", "gamma": 2.0})
    expected_value, expected_grad = fresh.penalty(d, psi, other_p_d, P_G)
    assert value == expected_value and np.array_equal(grad, expected_grad)
    assert value != reg.penalty(d, psi, P_D, P_G)[0]


def test_r1_is_half_gamma_psi_squared_for_the_dirac_discriminator():
    d = make("discriminator", {"kind": "logistic", "degree": 1, "bias": False,
                               "standardize": False})
    reg = make("regularizer", {"kind": "r1", "gamma": 3.0})
    value, grad = reg.penalty(d, np.array([0.4]), P_D, P_G)
    assert value == pytest.approx(1.5 * 0.16) and grad == pytest.approx([1.2])


def test_interpolates_of_two_points_are_uniform_between_them():
    p_d, p_g = np.zeros(GRID.points), np.zeros(GRID.points)
    p_d[10], p_g[14] = 1.0, 1.0
    q = filled(_interpolates, p_d, p_g)
    np.testing.assert_allclose(q[10:15], [0.125, 0.25, 0.25, 0.25, 0.125])
    assert q.sum() == pytest.approx(1)
    q = filled(_interpolates, P_D, P_G)
    assert q.min() >= 0 and q.sum() == pytest.approx(1, abs=1e-12)
    # the interpolates' mean is the mean of the two means
    assert q @ GRID.x == pytest.approx(0.5 * (P_D @ GRID.x + P_G @ GRID.x), abs=1e-12)


def test_clip_projects():
    reg = make("regularizer", {"kind": "clip", "c": 0.05})
    np.testing.assert_array_equal(reg.project(np.array([-1.0, 0.01, 0.2])), [-0.05, 0.01, 0.05])


# optimizers

def test_adam_first_step_moves_each_coordinate_by_lr():
    opt = make("optimizer", {"kind": "adam", "lr": 0.1})
    theta = np.array([1.0, 2.0])
    state = opt.init_state(theta)
    opt.step(theta, np.array([3.0, -1e-3]), state)
    np.testing.assert_allclose(theta, [0.9, 2.1], rtol=1e-6)


def test_momentum_accumulates():
    opt = make("optimizer", {"kind": "momentum", "lr": 0.1, "beta": 0.5})
    theta = np.zeros(1)
    state = opt.init_state(theta)
    for _ in range(2):
        opt.step(theta, np.ones(1), state)
    assert theta[0] == pytest.approx(-0.1 - 0.15)


def test_optimistic_uses_the_previous_gradient():
    opt = make("optimizer", {"kind": "optimistic", "lr": 0.1})
    theta = np.zeros(1)
    state = opt.init_state(theta)
    opt.step(theta, np.array([1.0]), state)  # first step: plain
    opt.step(theta, np.array([3.0]), state)  # 2 * 3 - 1
    assert theta[0] == pytest.approx(-0.1 - 0.5)
