"""Targets: exact cell integrals (scipy.stats as the reference), accurate tails, mixtures,
and the mass that fell outside the grid."""

import numpy as np
import pytest
from scipy import special, stats

from gamesim import plugins
from gamesim.grid import Grid
from gamesim.params import build


def target(spec):
    instance, _ = build(plugins.registry(), "target", spec, "test.toml", "target")
    return instance


def cell_integrals(dist, grid):
    """Reference masses: cdf differences left of the median, sf differences right of it
    (each side where its differences lose no relative precision), before renormalization."""
    a, b = grid.edges[:-1], grid.edges[1:]
    left = dist.cdf(b) - dist.cdf(a)
    right = dist.sf(a) - dist.sf(b)
    return np.where(grid.x < dist.median(), left, right)


def check_against(dist, spec, grid, rtol=1e-12):
    p, outside = target(spec).masses(grid)
    ref = cell_integrals(dist, grid)
    inside = ref.sum()
    np.testing.assert_allclose(p, ref / inside, rtol=rtol, atol=0)
    assert p.sum() == pytest.approx(1.0, abs=1e-14)
    assert outside == pytest.approx(dist.cdf(grid.lower) + dist.sf(grid.upper),
                                    rel=1e-12, abs=1e-300)
    return p, outside


GRID = Grid(-8.0, 8.0, 512)


@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (-2.0, 0.5), (1.5, 3.0), (0.3, 0.25),
                                      (7.0, 2.0)])
def test_normal_masses_are_exact_cell_integrals(mean, std):
    check_against(stats.norm(mean, std), {"kind": "normal", "mean": mean, "std": std}, GRID)


@pytest.mark.parametrize("loc,scale", [(0.0, 1.0), (-1.0, 0.2), (2.5, 2.0)])
def test_laplace_masses_are_exact_cell_integrals(loc, scale):
    check_against(stats.laplace(loc, scale), {"kind": "laplace", "loc": loc, "scale": scale},
                  GRID)


@pytest.mark.parametrize("lower,upper", [(-1.0, 1.0), (-2.99, 0.013), (-10.0, 3.0),
                                         (0.01, 0.02)])
def test_uniform_masses_are_exact_cell_integrals(lower, upper):
    dist = stats.uniform(lower, upper - lower)
    p, _ = check_against(dist, {"kind": "uniform", "lower": lower, "upper": upper}, GRID,
                         rtol=1e-9)
    a, b = GRID.edges[:-1], GRID.edges[1:]
    assert np.all(p[(b <= lower) | (a >= upper)] == 0.0)
    assert np.all(p[(a < upper) & (b > lower)] > 0.0)


def test_uniform_interior_cells_carry_equal_mass():
    p, outside = target({"kind": "uniform", "lower": -2.0, "upper": 2.0}).masses(GRID)
    inner = p[p > 0]
    assert len(inner) == 128  # 4 / (16 / 512)
    np.testing.assert_allclose(inner, 1 / 128, rtol=1e-13)
    assert outside == 0.0


def test_no_tail_cell_rounds_to_zero():
    """Std 0.25 on [-8, 8]: the outermost cells hold about 1e-225, far below what 1 - cdf can
    resolve; survival-function differences keep every one of them positive and exact."""
    dist = stats.norm(0.0, 0.25)
    p, _ = check_against(dist, {"kind": "normal", "std": 0.25}, GRID)
    assert np.all(p > 0)
    assert 1e-240 < p[-1] < 1e-200 and p[0] == pytest.approx(p[-1], rel=1e-10)
    np.testing.assert_allclose(p[::-1], p, rtol=1e-12)  # symmetric to the last digits
    naive = np.diff(dist.cdf(GRID.edges))
    assert np.count_nonzero(naive[256:] == 0) > 150  # what plain cdf differences would give
    # scipy's survival function differences, cell by cell on the right tail
    right = stats.norm.sf(GRID.edges[256:-1], 0, 0.25) - stats.norm.sf(GRID.edges[257:], 0, 0.25)
    np.testing.assert_allclose(p[256:], right / cell_integrals(dist, GRID).sum(), rtol=1e-12)


def log_normal_cell_integrals(grid, mean, std):
    """log of each cell's N(mean, std^2) integral, computed in log space (scipy's log_ndtr):
    accurate where the integral itself underflows."""
    za, zb = (grid.edges[:-1] - mean) / std, (grid.edges[1:] - mean) / std
    with np.errstate(divide="ignore"):
        return _log_cells(grid, mean, za, zb)


def _log_cells(grid, mean, za, zb):
    left = special.log_ndtr(zb) + np.log1p(-np.exp(special.log_ndtr(za) - special.log_ndtr(zb)))
    right = special.log_ndtr(-za) + np.log1p(-np.exp(special.log_ndtr(-zb) - special.log_ndtr(-za)))
    return np.where(grid.x < mean, left, right)


def test_tiny_cells_are_positive_exactly_where_representable_and_zero_beyond():
    """Std 0.05: the cell integrals span 1 down to far below the smallest double. Every cell
    whose integral is representable (subnormals included) is positive, the others are 0."""
    p, _ = target({"kind": "normal", "std": 0.05}).masses(GRID)
    log_ref = log_normal_cell_integrals(GRID, 0.0, 0.05)  # the normalizer is 1 - 1e-300ish
    assert not np.any(np.isnan(p))
    assert p[0] == 0.0 and p[-1] == 0.0
    representable = log_ref > np.log(np.nextafter(0, 1)) + 0.7  # rounds up to >= 5e-324
    assert np.array_equal(p > 0, representable)
    normal = log_ref > np.log(np.finfo(float).tiny)
    np.testing.assert_allclose(np.log(p[normal]), log_ref[normal], rtol=0, atol=1e-11)
    sub = representable & ~normal
    assert sub.sum() == 2  # the two subnormal cells (about 2.5e-318), symmetric
    np.testing.assert_allclose(p[sub], np.exp(log_ref[sub]), rtol=1e-4)


def test_laplace_tails_stay_positive_and_exact():
    p, _ = check_against(stats.laplace(0.0, 0.02), {"kind": "laplace", "scale": 0.02}, GRID)
    assert np.all(p > 0) and p[-1] < 1e-150


def test_mixture_is_the_weighted_sum_of_component_integrals():
    spec = {"kind": "mixture", "components": [
        {"kind": "normal", "mean": -2.0, "std": 0.5, "weight": 0.3},
        {"kind": "laplace", "loc": 1.5, "scale": 1.0, "weight": 0.5},
        {"kind": "uniform", "lower": 0.0, "upper": 9.0, "weight": 0.2}]}
    grid = Grid(-6.0, 6.0, 300)
    dists = [stats.norm(-2.0, 0.5), stats.laplace(1.5, 1.0), stats.uniform(0.0, 9.0)]
    weights = [0.3, 0.5, 0.2]
    ref = sum(w * cell_integrals(d, grid) for w, d in zip(weights, dists))
    p, outside = target(spec).masses(grid)
    np.testing.assert_allclose(p, ref / ref.sum(), rtol=1e-12)
    expected_outside = sum(w * (d.cdf(-6.0) + d.sf(6.0)) for w, d in zip(weights, dists))
    assert outside == pytest.approx(expected_outside, rel=1e-12)
    assert outside == pytest.approx(0.2 / 3 + 0.5 * 0.5 * np.exp(-4.5)
                                    + 0.5 * 0.5 * np.exp(-7.5) + 0.3 * stats.norm.cdf(-8),
                                    rel=1e-9)


def test_mixture_weights_are_normalized_and_default_to_one():
    comps = [{"kind": "normal", "mean": -1.0}, {"kind": "normal", "mean": 2.0, "std": 0.5}]
    scaled = [dict(c, weight=w) for c, w in zip(comps, (2.0, 6.0))]
    fractions = [dict(c, weight=w) for c, w in zip(comps, (0.25, 0.75))]
    equal = [dict(c, weight=7.0) for c in comps]
    p_scaled, _ = target({"kind": "mixture", "components": scaled}).masses(GRID)
    p_frac, _ = target({"kind": "mixture", "components": fractions}).masses(GRID)
    p_default, _ = target({"kind": "mixture", "components": comps}).masses(GRID)
    p_equal, _ = target({"kind": "mixture", "components": equal}).masses(GRID)
    np.testing.assert_allclose(p_scaled, p_frac, rtol=1e-14)
    np.testing.assert_allclose(p_default, p_equal, rtol=1e-14)
    ref = 0.25 * cell_integrals(stats.norm(-1, 1), GRID) + \
        0.75 * cell_integrals(stats.norm(2, 0.5), GRID)
    np.testing.assert_allclose(p_frac, ref / ref.sum(), rtol=1e-12)
    assert not np.allclose(p_frac, p_default)


def test_nested_mixture():
    inner = {"kind": "mixture", "components": [{"kind": "normal", "mean": -1.0},
                                               {"kind": "normal", "mean": 1.0}]}
    spec = {"kind": "mixture", "components": [dict(inner, weight=1.0),
                                              {"kind": "laplace", "loc": 3.0, "weight": 1.0}]}
    ref = 0.25 * (cell_integrals(stats.norm(-1, 1), GRID) + cell_integrals(stats.norm(1, 1), GRID)) \
        + 0.5 * cell_integrals(stats.laplace(3.0, 1.0), GRID)
    p, _ = target(spec).masses(GRID)
    np.testing.assert_allclose(p, ref / ref.sum(), rtol=1e-12)


def test_mass_outside_the_grid_is_reported_and_the_rest_renormalized():
    grid = Grid(-2.0, 2.0, 64)
    p, outside = target({"kind": "normal"}).masses(grid)
    assert outside == pytest.approx(2 * stats.norm.sf(2.0), rel=1e-13)
    assert p.sum() == pytest.approx(1.0, abs=1e-15)
    ref = cell_integrals(stats.norm(), grid)
    np.testing.assert_allclose(p, ref / (1 - outside), rtol=1e-12)
    p, outside = target({"kind": "uniform", "lower": -1.0, "upper": 3.0}).masses(grid)
    assert outside == pytest.approx(0.25, rel=1e-14)


def test_target_outside_mass_becomes_a_warning_in_summary(run_scenario):
    run = run_scenario("""
        iterations = 2
        [grid]
        lower = -2.0
        upper = 2.0
        points = 64
        [target]
        kind = "normal"
        [generator]
        kind = "density"
        """)
    assert any("outside" in w and "0.0455" in w for w in run.summary["warnings"]), \
        run.summary["warnings"]
    p_d = run.snapshots["p_data"]
    assert p_d.sum() == pytest.approx(1.0, abs=1e-15)


def test_target_entirely_off_the_grid_is_an_input_error(write_scenario, run_cli, tmp_path):
    path = write_scenario("""
        [target]
        kind = "uniform"
        lower = 20.0
        upper = 21.0
        [generator]
        kind = "density"
        """)
    r = run_cli("run", path, "--out", tmp_path / "out")
    assert r.status == 2 and "target" in r.err and str(path) in r.err
    assert not (tmp_path / "out").exists()
