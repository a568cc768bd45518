"""Distance values against independent references: scipy, linear programming, Gaussian closed
forms; the properties D(p, p) = 0, D >= 0, symmetry; MMD by FFT against the direct product."""

import math

import numpy as np
import pytest
import scipy.optimize
import scipy.spatial.distance
import scipy.special
import scipy.stats

from gamesim import plugins
from gamesim.grid import Grid
from gamesim.params import build

ALL = ("js", "kl", "reverse_kl", "tv", "hellinger", "chi2", "w1", "w2", "energy", "cramer", "ks",
       "mmd")
SYMMETRIC = ("js", "tv", "hellinger", "w1", "w2", "energy", "cramer", "ks", "mmd")


def make(name, grid, **params):
    """A distance plugin built from its scenario table, as a run builds it, and set up."""
    distance, _ = build(plugins.registry(), "distance", {"kind": name, **params}, "", "test")
    if hasattr(distance, "setup"):
        distance.setup(grid)
    return distance


def random_pair(n, seed, zeros=0):
    """Two random distributions on n cells; ``zeros`` cells of each set to 0 (different ones)."""
    rng = np.random.default_rng(seed)
    p, q = rng.random(n) ** 2, rng.random(n) ** 2
    p[rng.choice(n, zeros, replace=False)] = 0.0
    q[rng.choice(n, zeros, replace=False)] = 0.0
    return p / p.sum(), q / q.sum()


def normal_masses(grid, mean, std):
    """Exact cell integrals (survival function on the right, so no tail cell underflows)."""
    edges = np.asarray(grid.edges)
    m = np.where(edges[:-1] < mean, np.diff(scipy.stats.norm.cdf(edges, mean, std)),
                 -np.diff(scipy.stats.norm.sf(edges, mean, std)))
    return m / m.sum()


GRID = Grid(-3.0, 2.0, 57)


@pytest.mark.parametrize("seed", range(3))
def test_against_scipy(seed):
    p, q = random_pair(GRID.points, seed)
    x = GRID.x
    ref = {
        "w1": scipy.stats.wasserstein_distance(x, x, p, q),
        "energy": scipy.stats.energy_distance(x, x, p, q) ** 2,   # scipy returns the root
        "cramer": scipy.stats.energy_distance(x, x, p, q) ** 2 / 2,
        "js": scipy.spatial.distance.jensenshannon(p, q, base=math.e) ** 2,
        "kl": scipy.special.rel_entr(p, q).sum(),
        "reverse_kl": scipy.special.rel_entr(q, p).sum(),
        "chi2": scipy.stats.chisquare(p, q).statistic,
        "tv": 0.5 * scipy.spatial.distance.cityblock(p, q),
        "hellinger": scipy.spatial.distance.euclidean(np.sqrt(p), np.sqrt(q)) ** 2 / 2,
        "ks": scipy.spatial.distance.chebyshev(np.cumsum(p), np.cumsum(q)),
    }
    for name, expected in ref.items():
        assert make(name, GRID).value(p, q) == pytest.approx(expected, rel=1e-12, abs=1e-15), name


def test_js_with_zeros_and_disjoint_supports():
    p, q = random_pair(GRID.points, 7, zeros=10)
    assert make("js", GRID).value(p, q) == pytest.approx(
        scipy.spatial.distance.jensenshannon(p, q, base=math.e) ** 2, rel=1e-12)
    left, right = np.where(GRID.x < 0, p, 0.0), np.where(GRID.x < 0, 0.0, q)
    assert make("js", GRID).value(left / left.sum(), right / right.sum()) == \
        pytest.approx(math.log(2), rel=1e-15)


@pytest.mark.parametrize("n", [2, 3, 6, 9])
def test_w2_against_linear_program(n):
    """W2^2 is the optimal transport cost with cost (x_i - x_j)^2: solve the LP."""
    grid = Grid(-1.0, 2.0, n)
    for seed in range(4):
        p, q = random_pair(n, seed, zeros=1 if n > 3 else 0)
        cost = (grid.x[:, None] - grid.x[None, :]) ** 2
        rows = np.kron(np.eye(n), np.ones(n))          # sum_j pi_ij = p_i
        cols = np.kron(np.ones(n), np.eye(n))          # sum_i pi_ij = q_j
        lp = scipy.optimize.linprog(cost.ravel(), A_eq=np.vstack([rows, cols]),
                                    b_eq=np.r_[p, q], bounds=(0, None), method="highs")
        assert make("w2", grid).value(p, q) ** 2 == pytest.approx(lp.fun, rel=1e-9, abs=1e-14)


# Two Gaussians on a grid fine enough that the O(h^2) discretization error is ~1e-6.
FINE = Grid(-15.0, 15.0, 6000)
M1, S1, M2, S2 = -0.4, 1.0, 0.9, 1.5


def _mean_abs(m, s):
    """E|Z| for Z ~ N(m, s^2)."""
    return (s * math.sqrt(2 / math.pi) * math.exp(-m * m / (2 * s * s))
            + m * math.erf(m / (s * math.sqrt(2))))


def _gauss_kernel_mean(m, s2, b):
    """E exp(-Z^2 / (2 b^2)) for Z ~ N(m, s2)."""
    return b / math.sqrt(b * b + s2) * math.exp(-m * m / (2 * (b * b + s2)))


def test_closed_forms_between_gaussians():
    p, q = normal_masses(FINE, M1, S1), normal_masses(FINE, M2, S2)
    dm, v = M1 - M2, S1 * S1 + S2 * S2
    energy = 2 * _mean_abs(dm, math.sqrt(v)) - _mean_abs(0, S1 * math.sqrt(2)) - \
        _mean_abs(0, S2 * math.sqrt(2))

    def mmd2(b):
        return (_gauss_kernel_mean(0, 2 * S1 * S1, b) + _gauss_kernel_mean(0, 2 * S2 * S2, b)
                - 2 * _gauss_kernel_mean(dm, v, b))

    expected = {
        "w2": math.sqrt(dm * dm + (S1 - S2) ** 2),
        "kl": math.log(S2 / S1) + (S1 * S1 + dm * dm) / (2 * S2 * S2) - 0.5,
        "reverse_kl": math.log(S1 / S2) + (S2 * S2 + dm * dm) / (2 * S1 * S1) - 0.5,
        "hellinger": 1 - math.sqrt(2 * S1 * S2 / v) * math.exp(-dm * dm / (4 * v)),
        "chi2": S2 * S2 / (S1 * math.sqrt(2 * S2 * S2 - S1 * S1))
        * math.exp(dm * dm / (2 * S2 * S2 - S1 * S1)) - 1,
        "energy": energy,
        "cramer": energy / 2,
    }
    for name, value in expected.items():
        assert make(name, FINE).value(p, q) == pytest.approx(value, rel=2e-5), name
    assert make("mmd", FINE, bandwidth=0.7).value(p, q) == pytest.approx(mmd2(0.7), rel=2e-5)
    assert make("mmd", FINE, bandwidth=[0.1, 0.5, 2.0]).value(p, q) == \
        pytest.approx(mmd2(0.1) + mmd2(0.5) + mmd2(2.0), rel=2e-5)


def test_closed_forms_equal_variances():
    """A shift of a Gaussian: W1 = W2 = |shift|, TV = KS = 2 Phi(|shift| / (2 s)) - 1."""
    shift, s = 1.3, 0.8
    p, q = normal_masses(FINE, 0.0, s), normal_masses(FINE, shift, s)
    assert make("w1", FINE).value(p, q) == pytest.approx(shift, rel=1e-6)
    assert make("w2", FINE).value(p, q) == pytest.approx(shift, rel=1e-6)
    gap = 2 * scipy.stats.norm.cdf(shift / (2 * s)) - 1
    assert make("tv", FINE).value(p, q) == pytest.approx(gap, rel=1e-5)
    assert make("ks", FINE).value(p, q) == pytest.approx(gap, rel=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_identity_nonnegativity_symmetry(name):
    grid = Grid(-2.0, 2.0, 40)
    d = make(name, grid)
    for seed in range(5):
        p, q = random_pair(grid.points, seed, zeros=3 * (seed % 2))
        assert d.value(p, p) == pytest.approx(0.0, abs=1e-14)
        v = d.value(p, q)
        assert v >= 0 and not math.isnan(v)
        if name in SYMMETRIC:
            assert v == pytest.approx(d.value(q, p), rel=1e-12, abs=1e-15)
    if name == "reverse_kl":
        assert d.value(p, q) == pytest.approx(make("kl", grid).value(q, p), rel=1e-14)


def test_mmd_energy_kernel_is_energy_distance():
    p, q = random_pair(GRID.points, 3)
    for method in ("direct", "fft"):
        assert make("mmd", GRID, kernel="energy", method=method).value(p, q) == \
            pytest.approx(make("energy", GRID).value(p, q), rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 159, 160, 161, 1000])
@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "energy"])
def test_mmd_fft_matches_direct_product(n, kernel):
    """Linear (zero-padded) FFT convolution against the direct double loop, to an
    absolute tolerance 1e-12 ||p - q||_1^2 max|k|; a high-frequency q is the hard case."""
    grid = Grid(-4.0, 4.0, n)
    p, q = random_pair(n, n)
    params = {"kernel": kernel, "bandwidth": [0.05, 1.0]}
    fft = make("mmd", grid, method="fft", **params)
    direct = make("mmd", grid, method="direct", **params)
    scale = np.abs(p - q).sum() ** 2 * np.abs(direct.c).max()
    assert abs(fft.value(p, q) - direct.value(p, q)) <= 1e-12 * scale
    assert np.abs(fft.grad(p, q) - direct.grad(p, q)).max() <= 1e-12 * scale
    dense = kernel_matrix(grid, kernel, [0.05, 1.0])
    assert direct.value(p, q) == pytest.approx(max((p - q) @ dense @ (p - q), 0.0),
                                               abs=1e-14 * scale)


def kernel_matrix(grid, kernel, bandwidths):
    r = np.abs(grid.x[:, None] - grid.x[None, :])
    if kernel == "energy":
        return -r
    return sum(np.exp(-0.5 * (r / b) ** 2) if kernel == "gaussian" else np.exp(-r / b)
               for b in bandwidths)


def test_mmd_chooses_fft_by_size():
    from gamesim_plugins.kernel_distances import FFT_FROM
    assert not make("mmd", Grid(0, 1, FFT_FROM - 1)).use_fft
    assert make("mmd", Grid(0, 1, FFT_FROM)).use_fft
    assert make("mmd", Grid(0, 1, 8), method="fft").use_fft


def test_infinite_divergences_are_inf_not_nan():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([1.0, 0.0, 0.0])
    grid = Grid(0.0, 3.0, 3)
    assert make("kl", grid).value(p, q) == math.inf
    assert make("chi2", grid).value(p, q) == math.inf
    assert make("reverse_kl", grid).value(q, p) == math.inf
    assert make("reverse_kl", grid).value(p, q) == pytest.approx(math.log(2))
    for name in ALL:
        value, grad = make(name, grid).value(p, q), make(name, grid).grad(p, q)
        assert not math.isnan(value) and not np.isnan(grad).any(), name
