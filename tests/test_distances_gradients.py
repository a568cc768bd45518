"""Distance gradients: central finite differences along mass-preserving directions (sum v = 0)
at random interior distributions; at zero cells and kinks, the documented conventions."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gamesim.grid import Grid
from test_distances import ALL, make

# Piecewise-linear (or sqrt of piecewise-linear) in q: a step may cross a kink.
KINKED = ("tv", "w1", "ks", "w2")
EPS = 1e-6

masses = arrays(np.float64, 24, elements=st.floats(0.05, 1.0))
direction = arrays(np.float64, 24, elements=st.floats(-1.0, 1.0))


def directional(d, p, q, v, eps=EPS):
    """Central, forward and backward differences of q -> D(p, q) along v."""
    up, mid, down = d.value(p, q + eps * v), d.value(p, q), d.value(p, q - eps * v)
    return (up - down) / (2 * eps), (up - mid) / eps, (mid - down) / eps


@pytest.mark.parametrize("name, params", [(n, {}) for n in ALL] + [
    ("mmd", {"kernel": "laplacian", "bandwidth": [0.2, 1.0], "method": "fft"}),
    ("mmd", {"kernel": "energy", "method": "direct"}),
    ("mmd", {"bandwidth": [0.1, 0.5, 2.0], "method": "fft"})])
@settings(max_examples=40, deadline=None, derandomize=True)
@given(p=masses, q=masses, v=direction)
def test_gradient_matches_finite_differences(name, params, p, q, v):
    p, q = p / p.sum(), q / q.sum()
    v = (v - v.mean()) * q.min()           # keeps the total mass and q +- eps v > 0
    assume(np.abs(v).max() > 1e-3 * q.min())
    d = make(name, Grid(-1.5, 2.5, p.size), **params)
    central, forward, backward = directional(d, p, q, v)
    scale = max(abs(forward), abs(backward), abs(d.value(p, q)), 1e-3)
    if name in KINKED:
        # a kink within the step: the one-sided slopes differ; the subgradient convention is
        # checked separately
        assume(abs(forward - backward) < 1e-5 * scale)
    assert d.grad(p, q) @ v == pytest.approx(central, rel=1e-5, abs=1e-6 * scale)


def one_sided(d, p, q, v, eps=1e-9):
    return (d.value(p, q + eps * v) - d.value(p, q)) / eps


@pytest.mark.parametrize("name", ["js", "kl", "hellinger", "chi2"])
def test_gradient_where_p_is_zero_is_the_continuous_extension(name):
    """Moving mass into a cell where p = 0 costs what the formula's gradient there says,
    whether that cell's q is 0 (cell 0) or not (cell 1); cell 2 is the donor."""
    p = np.array([0.0, 0.0, 0.5, 0.5])
    grid = Grid(0.0, 1.0, 4)
    d = make(name, grid)
    for q in (np.array([0.0, 0.2, 0.4, 0.4]), np.array([0.1, 0.2, 0.3, 0.4])):
        g = d.grad(p, q)
        for cell in (0, 1):
            v = np.zeros(4)
            v[cell], v[2] = 1.0, -1.0
            assert g @ v == pytest.approx(one_sided(d, p, q, v), rel=1e-5), (q, cell)
        assert g[0] == g[1] == {"js": 0.5 * math.log(2), "kl": 0.0, "hellinger": 0.5,
                                "chi2": 1.0}[name]


def test_gradient_where_q_is_zero():
    """-inf where q = 0 < p (the one-sided limit), for every divergence that uses p / q;
    reverse KL is +inf where p = 0, whatever q."""
    p, q = np.array([0.3, 0.7, 0.0, 0.0]), np.array([0.0, 0.5, 0.5, 0.0])
    grid = Grid(0.0, 1.0, 4)
    for name in ("js", "kl", "hellinger", "chi2", "reverse_kl"):
        g = make(name, grid).grad(p, q)
        assert g[0] == -math.inf and np.isfinite(g[1]), name
    g = make("reverse_kl", grid).grad(p, q)
    assert g[2] == g[3] == math.inf
    assert g[1] == pytest.approx(math.log(0.5 / 0.7) + 1)


def test_subgradients_at_kinks():
    """sign(0) = 0: at p = q the subgradients of tv, w1, ks (and w2's convention) are 0;
    ks puts its sign on the cells up to the first largest CDF gap."""
    # dyadic masses, so that the CDF gaps that are 0 are exactly 0: with other masses they
    # are rounding noise of either sign, which still gives a valid subgradient at the kink
    grid = Grid(0.0, 1.0, 5)
    p = np.array([0.125, 0.25, 0.25, 0.125, 0.25])
    for name in ("tv", "w1", "ks", "w2"):
        assert np.array_equal(make(name, grid).grad(p, p), np.zeros(5)), name
    q = np.array([0.125, 0.375, 0.125, 0.125, 0.25])    # CDF gaps 0, 1/8, 0, 0, 0
    assert np.array_equal(make("tv", grid).grad(p, q), [0, 0.5, -0.5, 0, 0])
    assert np.array_equal(make("w1", grid).grad(p, q), [grid.h, grid.h, 0, 0, 0])
    assert np.array_equal(make("ks", grid).grad(p, q), [1, 1, 0, 0, 0])
    q2 = np.array([0.25, 0.125, 0.25, 0.0, 0.375])      # gaps 1/8, 0, 0, -1/8, 0: a tie
    assert np.array_equal(make("ks", grid).grad(p, q2), [1, 0, 0, 0, 0])


def test_subgradient_is_a_subgradient():
    """For the convex tv, w1 and ks: D(q') >= D(q) + g . (q' - q) for every q'."""
    grid = Grid(0.0, 1.0, 6)
    rng = np.random.default_rng(1)
    p = np.array([0.2, 0.1, 0.3, 0.1, 0.2, 0.1])
    q = p.copy()
    q[[1, 2]] = [0.3, 0.1]                        # ties in cells and CDF gaps
    for name in ("tv", "w1", "ks"):
        d = make(name, grid)
        g = d.grad(p, q)
        for _ in range(200):
            other = rng.dirichlet(np.ones(6))
            assert d.value(p, other) >= d.value(p, q) + g @ (other - q) - 1e-14, name
