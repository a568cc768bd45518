"""The faster paths against the plain ones they replace, with numbers: the log-masses of the
density generator and the oracle taken from them, the generator's gradient at the cells a
node generator's vjp reads, the logistic discriminator's kernels, the R1 kernel, the skipped
zero-weight cells, the fused copy and check (in Python for short arrays), the cells a node
generator's vjp reads, W1 in one kernel, and the recorder's cheaper norms and d_max_dev.

Paths that give the same bits are compared with ``array_equal``; algebraic rewrites within a
few ulps (docs/design.md, "Numerics")."""

import itertools
import math
import pathlib

import numpy as np
import pytest
from gamesim_plugins import cdf_distances, objectives, transforms
from gamesim_plugins.generators import _NO_LOG, _softmax

from gamesim import engine, scenario, testing
from gamesim.divergence import copy_checked, first_bad
from gamesim.grid import Grid
from gamesim.protocols import faster
from gamesim.recorder import _dev_from_half, _norm_of, discriminator_values
from gamesim.vecmath import filled

SCENARIOS = pathlib.Path(__file__).resolve().parent.parent / "scenarios"
LD = np.longdouble
GRID = Grid(-4.0, 4.0, 201)


def ulps(got, ref):
    """|got - ref| in float64 ulps of ref (ref in extended precision)."""
    ref = np.asarray(ref, LD)
    return np.abs(np.asarray(got, LD) - ref) / np.spacing(np.abs(ref).astype(np.float64))


# ------------------------------------------------------------------------- oracle

def test_discriminator_grad_skips_cells_of_zero_weight_exactly():
    rng = np.random.default_rng(2)
    n = GRID.points
    p_d, p_g = np.zeros(n), np.zeros(n)
    p_d[40:44], p_g[150:153] = 0.25, 1.0 / 3.0
    u = rng.normal(0, 30, n)
    got = filled(objectives._logistic_discriminator_grad, p_d, p_g, u)
    plain = np.array([p_g[i] * objectives._sigmoid(u[i]) - p_d[i] * objectives._sigmoid(-u[i])
                      for i in range(n)])
    assert np.array_equal(got, plain)
    assert np.count_nonzero(got) == 7


def test_density_log_masses_are_the_logs_of_its_masses():
    gen = testing.make("generator", {"kind": "density"}, GRID)
    rng = np.random.default_rng(3)
    theta = rng.normal(0, 4, GRID.points)
    theta[:5] = -math.inf  # zero masses
    theta[5] = -900.0  # a mass that underflows to 0: its log stays finite
    p, outside, log_p = gen.forward_log(theta)
    assert np.array_equal(p, gen.forward(theta)[0]) and outside == 0.0
    assert np.all(log_p[:5] == -math.inf) and p[5] == 0.0 and -1000 < log_p[5] < -800
    live = p > 0
    assert np.max(ulps(log_p[live], np.log(p[live].astype(LD)))) <= 8
    plain = np.empty(GRID.points)
    _softmax(theta, plain, _NO_LOG)
    assert np.array_equal(plain, p)


@pytest.mark.parametrize("name", ["minimax", "nonsaturating"])
@pytest.mark.parametrize("zeros", [0, 30])
def test_oracle_from_log_masses_matches_the_plain_oracle(name, zeros):
    gen = testing.make("generator", {"kind": "density"}, GRID)
    rng = np.random.default_rng(4)
    p_d = testing.random_masses(rng, GRID.points, zeros=zeros)
    theta = rng.normal(0, 3, GRID.points)
    theta[100:100 + zeros] = -math.inf  # disjoint in part from p_d's zeros
    p_g, _, log_p_g = gen.forward_log(theta)
    plain_obj = testing.make("objective", {"kind": name}, GRID)
    fast_obj = testing.make("objective", {"kind": name}, GRID)
    u_plain = plain_obj.oracle(p_d, p_g)
    g_plain = plain_obj.generator_grad(p_d, p_g, u_plain)
    u_fast = fast_obj.oracle_log(p_d, p_g, log_p_g)
    g_fast = fast_obj.generator_grad(p_d, p_g, u_fast)
    assert not np.isnan(u_fast).any() and not np.isnan(g_fast).any()
    assert np.max(np.abs(u_fast - u_plain)) <= 1e-12
    assert np.max(np.abs(g_fast - g_plain)) <= 1e-13
    both_zero = (p_d == 0) & (p_g == 0)
    assert np.array_equal(u_fast[both_zero], u_plain[both_zero])  # 0: D = 1/2
    # the gradient the oracle hands over equals the one computed from u afresh
    assert fast_obj.generator_grad(p_d, p_g, u_fast) == pytest.approx(g_fast, abs=1e-12)


class PlainDensity:
    """The density generator as a third-party plugin without forward_log."""

    def __init__(self, inner):
        self.inner, self.name, self.logit_params = inner, inner.name, True

    def __getattr__(self, name):
        if name == "forward_log":
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_ideal_game_gives_the_same_numbers_with_and_without_log_masses():
    path = SCENARIOS / "ideal-oracle.toml"
    overrides = ["iterations=60", "record_every=10", "grid.points=256"]
    fast = scenario.load(path, overrides)
    plain = scenario.load(path, overrides)
    plain.generator = PlainDensity(plain.generator)
    rows = [np.array(engine.run(sc).rows, dtype=float) for sc in (fast, plain)]
    assert rows[0].shape == rows[1].shape == (7, rows[0].shape[1])
    assert np.allclose(rows[0], rows[1], rtol=1e-9, atol=1e-12)
    assert rows[0][-1, 1] < rows[0][0, 1]  # the value falls toward -log 4


# ------------------------------------------------------------------------- sparse gradient

@pytest.mark.parametrize("table, theta, read", [
    ({"kind": "point"}, [0.3], 2),
    ({"kind": "point"}, [-3.999], 0),  # the deposit stays in the edge cell: no gradient
    ({"kind": "point"}, [7.0], 0),
    ({"kind": "quantile", "knots": 4, "init_lower": -0.5, "init_upper": 0.5}, None, 27),
])
def test_node_generators_read_only_their_vjp_cells(table, theta, read):
    gen = testing.make("generator", table, GRID)
    rng = np.random.default_rng(10)
    theta = np.array(theta) if theta is not None else gen.init_params(rng)
    cells = gen.vjp_cells(theta)
    assert cells.size == read and np.all(np.diff(cells) > 0)
    g = rng.normal(size=GRID.points)
    masked = np.zeros(GRID.points)
    masked[cells] = g[cells]
    assert np.array_equal(gen.vjp(theta, masked), gen.vjp(theta, g))
    if read:  # and the cells are read: the gradient moves with them
        g[cells] *= 2.0
        assert not np.array_equal(gen.vjp(theta, masked), gen.vjp(theta, g))
    else:
        assert np.all(gen.vjp(theta, g) == 0.0)


def _read_cells_plain(xs, grid):
    """The cells _deposit_vjp reads, marked on the whole grid as their definition says."""
    read = np.zeros(grid.points, bool)
    for a0, b0 in itertools.pairwise(xs):
        a, b = transforms._span(a0, b0, grid.h)
        ka, kb = (transforms._cell(x, grid.lower, grid.h, grid.points) for x in (a, b))
        kink = transforms.KINK * grid.h
        lo = ka - 1 if ka > 0 and a - (grid.lower + ka * grid.h) < kink else ka
        hi = kb + 1 if kb < grid.points - 1 and grid.lower + (kb + 1) * grid.h - b < kink else kb
        if lo < hi:
            read[lo:hi + 1] = True
    return np.flatnonzero(read)


def test_read_cells_scans_only_the_read_span_and_finds_the_same_cells():
    rng = np.random.default_rng(11)
    h, lower = GRID.h, GRID.lower
    found = 0
    for trial in range(400):
        m = int(rng.integers(2, 6))
        xs = [rng.uniform(-6, 6, m), np.full(m, rng.uniform(-5, 5)),  # spread, a point
              lower + h * rng.integers(-3, GRID.points + 3, m).astype(float)][trial % 3]  # edges
        out = np.empty(GRID.points, np.int64)
        count = transforms._read_cells(xs, lower, h, out)
        plain = _read_cells_plain(xs, GRID)
        assert count == plain.size and np.array_equal(out[:count], plain)
        found += count
    assert found > 1000  # the nodes read cells: the comparison is not of empty sets
    assert transforms._read_cells(np.array([0.0, math.inf]), lower, h,
                                  np.empty(GRID.points, np.int64)) == -1


def test_point_reads_the_two_cells_of_its_cloud_in_cell_deposit():
    gen = testing.make("generator", {"kind": "point"}, GRID)
    theta = np.array([0.3])
    p, _ = gen.forward(theta)
    assert np.array_equal(gen.vjp_cells(theta), np.flatnonzero(p))
    assert gen.vjp_cells(np.array([math.nan])) is None
    wide = testing.make("generator", {"kind": "quantile", "init_lower": -3.9,
                                      "init_upper": 3.9}, GRID)
    assert wide.vjp_cells(wide.init_params(np.random.default_rng(0))) is None  # most cells


@pytest.mark.parametrize("name", ["minimax", "nonsaturating"])
def test_generator_grad_at_cells_is_generator_grad_there(name):
    objective = testing.make("objective", {"kind": name}, GRID)
    rng = np.random.default_rng(11)
    u = rng.normal(0, 10, GRID.points)
    p = testing.random_masses(rng, GRID.points)
    cells = np.array([0, 17, 18, 200])
    got = objective.generator_grad_at(p, p, u, cells)
    full = objective.generator_grad(p, p, u)
    assert np.array_equal(got[cells], full[cells])
    assert np.count_nonzero(np.delete(got, cells)) == 0


# ------------------------------------------------------------------------- discriminator

@pytest.mark.parametrize("table", [
    {"kind": "logistic", "degree": 1, "bias": False, "standardize": False},
    {"kind": "logistic", "degree": 3},
    {"kind": "logistic", "features": "rbf", "centres": 5},
    {"kind": "logistic", "features": "fourier", "frequencies": 2, "bias": False},
])
def test_logistic_kernels_match_the_matrix_products(table):
    disc = testing.make("discriminator", table, GRID)
    rng = np.random.default_rng(5)
    psi = rng.normal(0, 1, disc.size)
    g = rng.normal(0, 1, GRID.points)
    g[rng.random(GRID.points) < 0.7] = 0.0  # mostly zero, as D's gradients are
    k = disc.phi.shape[1]
    u = disc.phi @ psi[:k] + (psi[-1] if disc.bias else 0.0)
    vjp = np.append(disc.phi.T @ g, g.sum()) if disc.bias else disc.phi.T @ g
    dudx_vjp = np.append(disc.dphi.T @ g, 0.0) if disc.bias else disc.dphi.T @ g
    assert disc.forward(psi) == pytest.approx(u, rel=1e-13, abs=1e-13)
    assert disc.vjp(psi, g) == pytest.approx(vjp, rel=1e-12, abs=1e-12)
    assert disc.dudx(psi) == pytest.approx(disc.dphi @ psi[:k], rel=1e-13, abs=1e-13)
    assert disc.dudx_vjp(psi, g) == pytest.approx(dudx_vjp, rel=1e-12, abs=1e-12)
    if k == 1 and not disc.bias:  # one product a cell: no summation order to differ in
        assert np.array_equal(disc.forward(psi), disc.phi[:, 0] * psi[0])


@pytest.mark.parametrize("kind", ["r1", "r2"])
def test_squared_slope_penalty_matches_the_plain_formula(kind):
    disc = testing.make("discriminator", {"kind": "logistic", "degree": 3}, GRID)
    reg = testing.make("regularizer", {"kind": kind, "gamma": 2.5}, GRID)
    rng = np.random.default_rng(6)
    p_d, p_g = testing.random_masses(rng, GRID.points, 50), testing.random_masses(rng, GRID.points)
    psi = rng.normal(0, 1, disc.size)
    value, grad = reg.penalty(disc, psi, p_d, p_g)
    p = p_d if kind == "r1" else p_g
    slope = disc.dudx(psi)
    assert value == pytest.approx(0.5 * 2.5 * float(p @ slope ** 2), rel=1e-14)
    assert np.array_equal(grad, disc.dudx_vjp(psi, 2.5 * p * slope))


# ------------------------------------------------------------------------- engine pieces

@pytest.mark.parametrize("allow_neg_inf", [False, True])
def test_copy_checked_copies_and_finds_the_first_bad_entry(allow_neg_inf):
    rng = np.random.default_rng(7)
    for bad in ([], [(17, math.nan)], [(3, -math.inf)], [(9, math.inf), (2, -math.inf)],
                [(0, -math.inf), (40, math.nan)]):
        x = rng.normal(size=64)
        for i, v in bad:
            x[i] = v
        out = np.empty(64)
        index = copy_checked(x, out, allow_neg_inf)
        assert np.array_equal(out, x, equal_nan=True)
        assert index == first_bad(x, allow_neg_inf)
        expected = [i for i in range(64) if not np.isfinite(x[i])
                    and not (allow_neg_inf and x[i] == -math.inf)]
        assert index == (expected[0] if expected else -1)


def test_w1_in_one_kernel_equals_the_sum_of_the_gaps():
    """A row's W1 in one call: h sum |G - F| within a rounding per cell of the exact sum."""
    rng = np.random.default_rng(13)
    w1 = testing.make("distance", {"kind": "w1"}, GRID)
    for zeros in (0, 150, 195):
        p, q = (testing.random_masses(rng, GRID.points, zeros) for _ in range(2))
        gaps = np.abs(filled(cdf_distances._cdf_gaps, p, q))
        exact = GRID.h * math.fsum(gaps)
        assert exact > 0 and w1.value(p, q) == pytest.approx(exact, rel=GRID.points * 2.0 ** -53)
    assert w1.value(p, p) == 0.0


def test_d_max_dev_from_the_logits_matches_the_plain_one():
    rng = np.random.default_rng(8)
    n = GRID.points
    p_d, p_g = testing.random_masses(rng, n, 60), testing.random_masses(rng, n, 60)
    u = rng.normal(0, 5, n)
    u[:10] = [800.0, -800.0, 40.0, -40.0, 0.0, 1e-9, -1e-9, 36.0, -745.0, 709.0]
    worst, mean = _dev_from_half(p_d, p_g, u, True)
    with np.errstate(over="ignore"):
        d = discriminator_values("logit", u)
    weight = p_d + p_g
    plain = np.abs(d - 0.5)[weight > 0]
    assert worst == pytest.approx(plain.max(), rel=2 ** -52, abs=0)
    assert mean == pytest.approx(0.5 * float((weight[weight > 0] * plain).sum()), rel=1e-14)
    assert _dev_from_half(p_d, p_g, u, False)[0] == np.abs(u - 0.5)[weight > 0].max()


def test_gradient_norm_equals_numpys():
    rng = np.random.default_rng(9)
    for size in (1, 2, 7, 300):
        g = rng.normal(size=size) * 10.0 ** rng.integers(-30, 30)
        assert _norm_of(lambda g=g: g) == float(np.linalg.norm(g))


def test_point_generator_gradient_sums_its_two_nodes():
    gen = testing.make("generator", {"kind": "point", "at": 0.3}, GRID)
    g_x = np.array([0.25, -1.5])
    assert np.array_equal(gen.node_values_vjp(np.array([0.3]), g_x), np.array([g_x.sum()]))


def test_a_fast_form_is_used_only_with_the_plain_member_it_belongs_to():
    minimax = testing.make("objective", {"kind": "minimax"}, GRID)
    nonsaturating = testing.make("objective", {"kind": "nonsaturating"}, GRID)
    assert faster(minimax, "oracle_log", "oracle")
    assert faster(minimax, "generator_grad_at", "generator_grad")
    assert faster(nonsaturating, "generator_grad_at", "generator_grad")
    assert not faster(testing.make("objective", {"kind": "hinge"}, GRID), "oracle_log", "oracle")

    class Tempered(type(minimax)):  # a third party's minimax with its own oracle
        def oracle(self, p_d, p_g):
            return 0.5 * super().oracle(p_d, p_g)

    assert not faster(Tempered(), "oracle_log", "oracle")
    assert faster(Tempered(), "generator_grad_at", "generator_grad")
    minimax.generator_grad = lambda p_d, p_g, u: -u  # replaced on the instance
    assert not faster(minimax, "generator_grad_at", "generator_grad")
    density = testing.make("generator", {"kind": "density"}, GRID)
    assert faster(density, "forward_log", "forward") and faster(type(density), "forward_log",
                                                                  "forward")
    assert not faster(PlainDensity(density), "forward_log", "forward")
