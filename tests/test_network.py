"""gamesim_plugins.network: the Numba kernels against a plain NumPy reference, finite
differences, the extremes of the one-exp-per-block tanh, and the cache.

The reference below is written from the formulas, independently of the module. Gradients
are taken against g of total size about 1 (as the game's are: masses times O(1)), so their
errors are absolute. All inputs come from fixed seeds.
"""

import numpy as np
import pytest

from gamesim import testing
from gamesim_plugins import network

EPS = np.finfo(np.float64).eps
ACTIVATIONS = tuple(network.ACTIVATIONS)


def reference(s, theta, hidden, activation, g):
    """(y, dy/ds, vjp, dyds_vjp) in plain NumPy: y = c + sum_j a_j act(w_j s + b_j)."""
    w, b, a = theta[:-1].reshape(3, hidden)
    c = theta[-1]
    z = np.outer(s, w) + b
    if activation == "tanh":
        f0 = np.tanh(z)
        f1 = 1.0 - f0 * f0
        f2 = -2.0 * f0 * f1
    elif activation in ("relu", "leaky_relu"):
        low = 0.0 if activation == "relu" else network.LEAK
        f0 = np.where(z > 0, z, low * z)
        f1 = np.where(z > 0, 1.0, low)
        f2 = np.zeros_like(z)
    else:
        f0 = np.logaddexp(0.0, z)
        f1 = 1.0 / (1.0 + np.exp(-z))
        f2 = f1 * (1.0 - f1)
    y = f0 @ a + c
    dyds = f1 @ (a * w)
    gs = (g * s)[:, None]
    vjp = np.concatenate([a * (gs * f1).sum(0), a * (g[:, None] * f1).sum(0), g @ f0, [g.sum()]])
    dyds_vjp = np.concatenate([a * (g @ f1 + w * (gs * f2).sum(0)), a * w * (g @ f2), w * (g @ f1),
                               [0.0]])
    return y, dyds, vjp, dyds_vjp


def evaluate(s, theta, hidden, activation, g):
    return (network.forward(s, theta, hidden, activation),
            network.dyds(s, theta, hidden, activation),
            network.vjp(s, theta, hidden, activation, g),
            network.dyds_vjp(s, theta, hidden, activation, g))


def parameters(rng, hidden, scale=1.0):
    """w, b ~ N(0, scale^2), a ~ N(0, 1 / H), c ~ N(0, 1) (network.init has scale 1, c = 0)."""
    theta = np.concatenate([rng.normal(0, scale, hidden), rng.normal(0, scale, hidden),
                            rng.normal(0, hidden ** -0.5, hidden), rng.normal(0, 1, 1)])
    theta[0] = 0.0  # a unit with w = 0
    return theta


INPUTS = {
    "grid": lambda n, rng: (np.arange(n) + 0.5) / n * 2.0 - 1.0,  # cell centres, standardized
    "linspace": lambda n, rng: np.linspace(-1.0, 1.0, n),
    "backwards": lambda n, rng: np.linspace(1.7, -0.6, n),  # ds < 0, off-centre
    "sampled": lambda n, rng: rng.uniform(-1.0, 1.0, n),
}


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("inputs", INPUTS)
def test_agrees_with_numpy(activation, inputs):
    """y, dy/ds and both VJPs agree with NumPy to 1e-14 at moderate weights, on grids of 1 to
    1000 points (a partial last block, a single block, one point)."""
    rng = np.random.default_rng(1)
    worst = 0.0
    for n in (1, 2, 3, 63, 64, 65, 257, 1000):
        s = INPUTS[inputs](n, rng)
        for scale in (0.3, 1.0, 3.0):
            theta = parameters(rng, 16, scale)
            g = rng.normal(size=n) / n
            for got, ref in zip(evaluate(s, theta, 16, activation, g),
                                reference(s, theta, 16, activation, g)):
                worst = max(worst, np.abs(got - ref).max())
    assert worst < 1e-14, worst


@pytest.mark.parametrize("inputs", INPUTS)
def test_tanh_with_large_weights_within_the_rounding_of_z(inputs):
    """At |w| up to thousands tanh is as ill-conditioned as z = w s + b is rounded: a single
    unit's tanh agrees with np.tanh to eps (1 + |w| max |s| + |b|). Covers the table's
    block factor overflowing and underflowing and units too steep for the table."""
    rng = np.random.default_rng(2)
    worst = 0.0
    for n in (2, 65, 1000, 20001):
        s = INPUTS[inputs](n, rng)
        for scale in (10.0, 100.0, 3000.0):
            w, b = rng.normal(0, scale, 2)
            got = network.forward(s, np.array([w, b, 1.0, 0.0]), 1, "tanh")
            rounding_of_z = EPS * (1.0 + abs(w) * np.abs(s).max() + abs(b))
            worst = max(worst, (np.abs(got - np.tanh(w * s + b)) / rounding_of_z).max())
    assert worst <= 1.0, worst  # measured 0.26


def test_tanh_extremes():
    """inf * table and 0 * table (exp(2 z) beyond the float64 range at a block's start),
    z = 0 (s[64] = 0 with b = 0), w = 0, huge and infinite weights, NaN: np.tanh's values to
    4 eps absolute, NaN where it is NaN."""
    s = np.linspace(-1.0, 1.0, 129)
    for w, b in [(0.0, 0.0), (0.0, -3.0), (1.0, 0.0), (3.0, 400.0), (-3.0, 400.0), (3.0, -400.0),
                 (5.0, 1e300), (1e3, 0.0), (1e300, 0.0), (-1e300, 1.0), (np.inf, 0.0),
                 (-np.inf, 2.0), (0.0, np.inf), (2.0, -np.inf), (np.nan, 0.0), (1.0, np.nan)]:
        with np.errstate(invalid="ignore"):
            want = np.tanh(w * s + b)  # NaN where w = inf meets s = 0, as in the kernels
        got = network.forward(s, np.array([w, b, 1.0, 0.0]), 1, "tanh")
        np.testing.assert_allclose(got, want, rtol=0, atol=4 * EPS, err_msg=f"w={w}, b={b}")


def test_table_and_per_element_tanh_agree():
    """The same inputs in an uneven order take exp per element instead of the table."""
    rng = np.random.default_rng(3)
    s = np.linspace(-1.0, 1.0, 4097)
    order = rng.permutation(s.size)
    for scale in (0.5, 5.0, 50.0):
        theta = parameters(rng, 16, scale)
        even = network.forward(s, theta, 16, "tanh")
        shuffled = network.forward(s[order], theta, 16, "tanh")
        assert np.abs(even[order] - shuffled).max() < 4e-15


def test_even_spacing_is_detected():
    step = network._even_step
    assert step(np.linspace(-1.0, 1.0, 257)) == 2.0 / 256
    assert step(np.linspace(3.0, -1.0, 5)) == -1.0
    assert step((np.arange(65536) + 0.5) / 32768 - 1.0) == pytest.approx(1 / 32768, rel=1e-12)
    assert step(np.array([0.7])) == 0.0
    assert step(np.array([2.0, 2.0, 2.0])) == 0.0
    for uneven in ([0.0, 1.0, 3.0], [0.0, np.nan, 2.0], [0.0, 1.0, np.inf], [np.inf, np.inf],
                   np.random.default_rng(4).uniform(-1.0, 1.0, 100),
                   np.linspace(-1.0, 1.0, 100) + 1e-9 * np.sin(np.arange(100))):
        assert np.isnan(step(np.asarray(uneven, dtype=np.float64))), uneven


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_against_finite_differences(activation):
    rng = np.random.default_rng(5)
    hidden = 4
    s = np.concatenate([np.linspace(-1.0, 1.0, 40), rng.uniform(-1.0, 1.0, 9)])
    theta = parameters(rng, hidden, 1.5)
    theta[0] = 0.4  # off 0, so that the finite differences stay on one side of relu's kinks
    g = rng.normal(size=s.size)
    vjp = network.vjp(s, theta, hidden, activation, g)
    fd = testing.gradient_fd(lambda t: g @ network.forward(s, t, hidden, activation), theta)
    np.testing.assert_allclose(vjp, fd, rtol=1e-6, atol=1e-7)
    ds = 1e-6
    fd = (network.forward(s + ds, theta, hidden, activation)
          - network.forward(s - ds, theta, hidden, activation)) / (2 * ds)
    np.testing.assert_allclose(network.dyds(s, theta, hidden, activation), fd, rtol=1e-6, atol=1e-7)
    dyds_vjp = network.dyds_vjp(s, theta, hidden, activation, g)
    fd = testing.gradient_fd(lambda t: g @ network.dyds(s, t, hidden, activation), theta)
    np.testing.assert_allclose(dyds_vjp, fd, rtol=1e-6, atol=1e-7)
    v = rng.normal(size=theta.size)
    along = testing.directional_fd(lambda t: g @ network.dyds(s, t, hidden, activation), theta, v,
                                   1e-6)
    assert dyds_vjp @ v == pytest.approx(along, rel=1e-6, abs=1e-7)


def test_deterministic_and_independent_of_the_cache():
    """Bit-identical results on repeated calls, after the entry was evicted and recycled,
    and whether forward or the VJP evaluated the network first."""
    rng = np.random.default_rng(6)
    s, theta = np.linspace(-1.0, 1.0, 300), parameters(rng, 16, 2.0)
    g = rng.normal(size=300)
    first = evaluate(s, theta, 16, "tanh", g)
    for _ in range(2 * network._CACHE_SIZE):  # evict it
        network.forward(s, parameters(rng, 16), 16, "tanh")
    vjp_first = network.vjp(s, theta, 16, "tanh", g)
    again = evaluate(s, theta, 16, "tanh", g)
    for a, b in zip(first, again):
        assert np.array_equal(a, b)
    assert np.array_equal(vjp_first, first[2])


def test_cache_is_keyed_by_value():
    """Parameters and inputs changed in place are seen; returned arrays are the caller's."""
    rng = np.random.default_rng(7)
    s, theta = np.linspace(-1.0, 1.0, 50), parameters(rng, 3)

    def check(s, activation="tanh"):
        want = reference(s, theta, 3, activation, s)[0]
        np.testing.assert_allclose(network.forward(s, theta, 3, activation), want, rtol=0,
                                   atol=1e-15)

    y = network.forward(s, theta, 3, "tanh")
    y[:] = 0.0
    check(s)
    theta[4] += 0.25
    check(s)
    s[7] = 0.123
    check(s)
    check(np.linspace(-1.0, 1.0, 100)[::2], "relu")  # strided inputs


def test_shapes_are_checked():
    theta = np.zeros(3 * 4 + 1)
    with pytest.raises(ValueError, match="13 parameters"):
        network.forward(np.zeros(5), theta[:-1], 4, "tanh")
    with pytest.raises(ValueError, match="g has shape"):
        network.vjp(np.zeros(5), theta, 4, "tanh", np.zeros(4))
    assert network.forward(np.zeros(0), theta, 4, "tanh").shape == (0,)
