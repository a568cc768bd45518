"""Instance noise (``[game] instance_noise``): the convolution K of gamesim.noise against
scipy's normal cell integrals, its adjoint, the noisy game's gradients against finite
differences, the oracle's value identity for what D sees, the annealing schedule and its
caches, and the Dirac-GAN's Jacobian with noise against the closed form of Mescheder, Geiger,
Nowozin 2018: eigenvalues -sigma^2/4 +- sqrt(sigma^4/16 - 1/4).
"""

import math
import pathlib

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm

from gamesim import engine, scenario
from gamesim.exact import Exact
from gamesim.field import gradients
from gamesim.grid import Grid
from gamesim.noise import TAIL, Convolution

SCENARIOS = pathlib.Path(__file__).resolve().parent.parent / "scenarios"
GRID = Grid(-3.0, 2.0, 50)  # h = 0.1
# sigma / h from 0.1 (a band of one cell) to 30 (a band wider than the grid)
SIGMAS = [0.01, 0.03, 0.4, 3.0]


def cell_integrals(grid, sigma):
    """K by scipy: column j holds N(x_j, sigma^2)'s mass in each cell, the first and last
    cells extended to -inf and +inf (differences of the cdf left of x_j, of the sf right)."""
    e = grid.edges
    k = np.empty((grid.points, grid.points))
    for j, c in enumerate(grid.x):
        left, right = np.diff(norm.cdf(e, c, sigma)), -np.diff(norm.sf(e, c, sigma))
        col = np.where(e[:-1] >= c, right, left)
        col[j] = norm.cdf(e[j + 1], c, sigma) - norm.cdf(e[j], c, sigma)
        col[0], col[-1] = norm.cdf(e[1], c, sigma), norm.sf(e[-2], c, sigma)
        k[:, j] = col
    return k


def matrix(apply, n):
    return np.column_stack([apply(v) for v in np.eye(n)])


@pytest.mark.parametrize("sigma", SIGMAS)
def test_k_is_the_normal_cell_integrals_with_the_tails_in_the_edge_cells(sigma):
    k = matrix(Convolution(GRID, sigma).apply, GRID.points)
    ref = cell_integrals(GRID, sigma)
    # relative 1e-12 (scipy's differences of cdfs lose a few digits in the far cells), and
    # the entries dropped from the band are below TAIL
    assert np.all(np.abs(k - ref) <= 1e-12 * ref + TAIL)
    assert np.all(k >= 0)
    # every column sums to 1 (mass beyond the grid is in the edge cells): to rounding
    assert np.max(np.abs(k.sum(0) - 1.0)) < 1e-15


@pytest.mark.parametrize("sigma", SIGMAS)
def test_adjoint_is_the_transpose(sigma):
    conv = Convolution(GRID, sigma)
    rng = np.random.default_rng(3)
    a, b = rng.random(GRID.points), rng.normal(size=GRID.points)
    lhs, rhs = conv.apply(a) @ b, a @ conv.adjoint(b)
    assert abs(lhs - rhs) <= 1e-14 * np.abs(a).sum() * np.abs(b).max()
    assert np.array_equal(matrix(conv.adjoint, GRID.points),
                          matrix(conv.apply, GRID.points).T)


def test_masses_stay_nonnegative_and_sum_to_one_on_a_long_grid():
    grid = Grid(-8.0, 8.0, 4000)  # band of 430 cells, truncated at the TAIL
    conv = Convolution(grid, 0.5)
    assert conv.tails[-1] < TAIL <= conv.tails[-2] and conv.weights.size < grid.points
    rng = np.random.default_rng(0)
    p = rng.random(grid.points) ** 8
    p[[0, 5, -1]] = [0.3, 0.0, 0.2]  # mass at both edges, some empty cells
    p /= p.sum()
    q = conv.apply(p)
    assert np.all(q >= 0) and abs(q.sum() - 1.0) < 1e-14
    # the edge cell keeps half the mass on it (the half beyond the grid), plus its neighbours'
    assert q[0] > 0.5 * p[0] and q[-1] > 0.5 * p[-1]


def test_zero_sigma_is_the_identity():
    p = np.random.default_rng(0).random(GRID.points)
    conv = Convolution(GRID, 0.0)
    assert conv.apply(p) is p and conv.adjoint(p) is p


# --- the noisy game -------------------------------------------------------------------------

GAME = """
seed = 0
iterations = {iterations}
record_every = 1
[grid]
lower = -6.0
upper = 6.0
points = 240
[target]
kind = "mixture"
components = [
  {{ kind = "normal", mean = -1.5, std = 0.5, weight = 0.4 }},
  {{ kind = "normal", mean = 1.0, std = 0.8, weight = 0.6 }},
]
[generator]
{generator}
[discriminator]
{discriminator}
[game]
objective = "{objective}"
{noise}
[output]
plots = []
snapshots = {snapshots}
"""

ORACLE = 'kind = "oracle"'
MOVING = 'kind = "location_scale"\nmu = {}\nsigma = {}\noptimizer = {{ kind = "sgd", lr = {} }}'
LOGISTIC = """kind = "logistic"
degree = 2
init = [0.8, -0.6, 0.3]
regularizer = { kind = "r1", gamma = 0.7 }"""


def load(write_scenario, iterations=0, generator='kind = "location_scale"\nmu = 0.4\nsigma = 1.3',
         discriminator=LOGISTIC, objective="minimax", noise="{ std = 0.6 }", snapshots=1):
    return scenario.load(write_scenario(GAME.format(
        iterations=iterations, generator=generator, discriminator=discriminator,
        objective=objective, noise="" if noise is None else f"instance_noise = {noise}",
        snapshots=snapshots)))


def central(f, x, step):
    out = np.empty(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = step
        out[i] = (f(x + e) - f(x - e)) / (2 * step)
    return out


@pytest.mark.parametrize("objective", ["minimax", "nonsaturating", "least_squares"])
def test_gradients_are_those_of_the_game_d_sees(write_scenario, objective):
    """G's gradient is d/dtheta of L_G(K p_d, K p_g(theta)) at fixed u; D's the gradient of
    -V_D(K p_d, K p_g, u(psi)) + R1 with the noisy data's weights. The built-in objectives'
    L_G is linear in p_g at fixed u: L_G(q) = q . generator_grad(K p_d, q, u)."""
    sc = load(write_scenario, objective=objective)
    players, obj, gen, disc = Exact(sc), sc.objective, sc.generator, sc.discriminator
    kernel = Convolution(sc.grid, 0.6)
    p_d = kernel.apply(sc.p_data)
    theta, psi = np.array([0.4, math.log(1.3)]), np.array([0.8, -0.6, 0.3])
    point = players.point(theta, psi)
    u = point.grid()[2]

    def loss_g(t):
        q = kernel.apply(gen.forward(t)[0])
        return q @ obj.generator_grad(p_d, q, u)

    fd = central(loss_g, theta, 1e-6)
    assert np.allclose(point.g_grad(), fd, rtol=1e-7, atol=1e-9)

    q = kernel.apply(point.grid()[0])

    def loss_d(s, weights_d):
        penalty = sc.regularizer.penalty(disc, s, weights_d, q)[0]
        return -obj.value(p_d, q, disc.forward(s)) + penalty

    fd = central(lambda s: loss_d(s, p_d), psi, 1e-6)
    assert np.allclose(point.d_grad(), fd, rtol=1e-7, atol=1e-9)
    # the penalty weighs the noisy data, not the clean data (which gives another gradient,
    # by 4.7e-4 here: far beyond the tolerance above)
    clean = central(lambda s: loss_d(s, sc.p_data), psi, 1e-6)
    assert np.max(np.abs(clean - fd)) > 1e-4


def test_oracle_plays_the_best_response_to_what_it_sees(write_scenario):
    """At every iteration of an annealed run (sigma 0.8 to 0), u = log K p_d - log K p_g and
    V_D(K p_d, K p_g, u) = -log 4 + 2 JS(K p_d || K p_g), JS from scipy."""
    sc = load(write_scenario, iterations=16, generator=MOVING.format(2.0, 0.4, 2.0),
              discriminator=ORACLE, noise="{ std = 0.8, final_std = 0.0 }")
    step = engine.iteration(sc)
    players = step.estimator
    theta, psi, states = step.initial()
    for it in range(sc.iterations + 1):
        point = players.point(theta.copy(), None, it)
        p_g, _, u = point.grid()
        kernel = Convolution(sc.grid, sc.instance_noise.std_at(it, sc.iterations))
        p_d_seen, p_g_seen = kernel.apply(sc.p_data), kernel.apply(p_g)
        seen = players.seen(p_g, it)
        assert np.array_equal(seen[0], p_d_seen) and np.array_equal(seen[1], p_g_seen)
        assert np.allclose(u, np.log(p_d_seen) - np.log(p_g_seen), rtol=1e-13, atol=1e-13)
        js = jensenshannon(p_d_seen, p_g_seen) ** 2  # natural log, masses summing to 1
        assert abs(sc.objective.value(*seen, u) - (-math.log(4) + 2 * js)) < 1e-12
        if it < sc.iterations:
            theta, psi, states = step(theta, psi, states, it, point)
    assert theta[0] < 1.5  # the generator moved towards the data


def test_a_minimax_oracle_run_records_the_value_of_the_game_d_sees(write_scenario):
    """The recorded ``value`` is V_D of the noisy masses at every row (the recorder reads
    them from Exact.seen): -log 4 + 2 JS(K p_d || K p_g) within 1e-12."""
    iterations = 12
    sc = load(write_scenario, iterations=iterations, generator=MOVING.format(2.0, 0.4, 2.0),
              discriminator=ORACLE, noise="{ std = 0.8, final_std = 0.2 }",
              snapshots=list(range(iterations + 1)))
    result = engine.run(sc)
    values = [row[result.columns.index("value")] for row in result.rows]
    assert len(values) == iterations + 1
    assert list(result.snapshot_iterations) == list(range(iterations + 1))
    p_gen = result.snapshot_p_gen
    for it, value in enumerate(values):
        kernel = Convolution(sc.grid, sc.instance_noise.std_at(it, iterations))
        js = jensenshannon(kernel.apply(sc.p_data), kernel.apply(p_gen[it])) ** 2
        assert abs(value - (-math.log(4) + 2 * js)) < 1e-12


def test_annealing_schedule_and_the_noisy_data_array(write_scenario):
    """sigma falls linearly from std at iteration 0 to final_std at the last one; K p_d is
    one array while sigma stays, a new one (never the old one changed) when it moves."""
    sc = load(write_scenario, iterations=40, noise="{ std = 0.6, final_std = 0.2 }")
    players = Exact(sc)
    p_g = sc.generator.forward(np.array([0.4, 0.0]))[0]
    seen = {}
    for it, sigma in [(0, 0.6), (10, 0.5), (20, 0.4), (40, 0.2)]:
        seen[it] = players.seen(p_g, it)[0].copy()
        expected = Convolution(sc.grid, sigma).apply(sc.p_data)
        assert np.allclose(seen[it], expected, rtol=1e-13, atol=0)
    # the levels differ visibly: the check above tells them apart
    assert np.max(np.abs(seen[0] - seen[10])) > 1e-4
    first = players.seen(p_g, 10)[0]
    assert players.seen(p_g, 10)[0] is first
    players.seen(p_g, 20)
    assert np.array_equal(first, seen[10])  # not overwritten by the next level
    constant = Exact(load(write_scenario, iterations=40))
    assert constant.seen(p_g, 0)[0] is constant.seen(p_g.copy(), 33)[0]


def test_annealed_oracle_run_never_meets_a_stale_cache(write_scenario):
    """Against the minimax oracle (whose log p_d is cached by the identity of p_d), D's
    response and the generator's gradient at every iteration of an annealed run equal a
    fresh computation by another objective instance."""
    sc = load(write_scenario, iterations=10, generator=MOVING.format(1.5, 0.5, 1.0),
              discriminator=ORACLE, noise="{ std = 0.9, final_std = 0.1 }")
    step = engine.iteration(sc)
    players, fresh = step.estimator, type(sc.objective)()
    theta, psi, states = step.initial()
    for it in range(sc.iterations):
        point = players.point(theta.copy(), None, it)
        p_g, _, u_run = point.grid()
        kernel = Convolution(sc.grid, sc.instance_noise.std_at(it, sc.iterations))
        p_d_seen, p_g_seen = kernel.apply(sc.p_data), kernel.apply(p_g)
        u = fresh.oracle(p_d_seen, p_g_seen)
        assert np.allclose(u_run, u, rtol=1e-13, atol=1e-13)
        expected = sc.generator.vjp(point.theta, kernel.adjoint(
            fresh.generator_grad(p_d_seen, p_g_seen, u)))
        assert np.allclose(point.g_grad(), expected, rtol=1e-12, atol=1e-15)
        theta, psi, states = step(theta, psi, states, it, point)


def test_tiny_sigma_gives_the_noiseless_gradients_back(write_scenario):
    """sigma <= h / 20: K's off-diagonal mass erfc(h / (2 sqrt 2 sigma)) < 1e-22 rounds away,
    so the gradients are the noiseless ones exactly. Above that they approach them as
    sigma^2 (K is the heat kernel at time sigma^2 / 2): halving sigma from 0.2 (4 cells) to
    0.1 divides the gap by 4, to within 5 %."""
    h = 12.0 / 240

    def gradients(noise):
        point = Exact(load(write_scenario, noise=noise)).point(
            np.array([0.4, math.log(1.3)]), np.array([0.8, -0.6, 0.3]))
        return np.concatenate([point.g_grad(), point.d_grad()])

    noiseless = gradients(None)
    assert np.array_equal(gradients(f"{{ std = {h / 20!r} }}"), noiseless)
    gap = [np.max(np.abs(gradients(f"{{ std = {s!r} }}") - noiseless)) for s in (0.2, 0.1)]
    assert gap[1] > 5e-5  # 1.0e-4: well above rounding
    assert abs(gap[0] / gap[1] - 4.0) < 0.2


# --- the Dirac-GAN with instance noise ------------------------------------------------------

@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.5])
def test_dirac_gan_jacobian_has_the_closed_form_eigenvalues(sigma):
    """Mescheder, Geiger, Nowozin 2018: with f(t) = -log(1 + e^-t) (f'(0) = 1/2,
    f''(0) = -1/4), the field v = -(dL_G/dtheta, d(-V_D)/dpsi) has at (0, 0) the Jacobian
    [[0, f'(0)], [-f'(0), 2 f''(0) sigma^2]] (gamesim's psi has the opposite sign of theirs:
    the same eigenvalues), -sigma^2/4 +- sqrt(sigma^4/16 - 1/4).

    By central differences of the exact gradients: in theta with steps of one cell h (the
    cloud-in-cell gradient is constant within a cell), in psi of dL_G/dtheta at theta = +-h/2
    (the gradient just right and left of the centre: at the centre itself it is one-sided
    or, by rounding, the sum of both sides) and of d(-V_D)/dpsi at theta = 0. On the grid the
    second moment of a cell-centred point convolved by cell integrals is sigma^2 + h^2 / 12
    (Sheppard's correction), so the trace
    T = -(sigma^2 + h^2 / 12) / 2 is off by dT = h^2 / 24 (4.2e-6 for h = 0.01) while the
    off-diagonal entries are exact (K keeps a point's mean); an eigenvalue moves by at most
    dT / 2 (1 + |T| / (2 sqrt|T^2 / 4 - det|)). The test allows twice that, plus 1e-8 for
    the differences in psi (step 1e-4, error O(step^2)). The grid [-10, 10] keeps the mass
    the noise spreads beyond it below 1e-10.
    """
    sc = scenario.load(SCENARIOS / "dirac-gan-instance-noise.toml",
                       ["grid.lower=-10.0", "grid.upper=10.0", "grid.points=2001",
                        f"game.instance_noise={{ std = {sigma} }}"])
    players, h, step = Exact(sc), sc.grid.h, 1e-4
    assert abs(sc.grid.x[1000]) < 1e-12  # data at a cell centre

    def v(theta, psi):
        point = players.point(np.array([theta]), np.array([psi]))
        return -np.concatenate([point.g_grad(), point.d_grad()])

    def dv_dpsi(theta):
        return (v(theta, step) - v(theta, -step)) / (2 * step)

    d_theta = (v(h, 0.0) - v(-h, 0.0)) / (2 * h)
    d_psi = [(dv_dpsi(0.5 * h)[0] + dv_dpsi(-0.5 * h)[0]) / 2, dv_dpsi(0.0)[1]]
    jac = np.column_stack([d_theta, d_psi])
    trace = -(sigma ** 2 + h ** 2 / 12) / 2
    assert np.allclose(jac, [[0.0, 0.5], [-0.5, trace]], rtol=0, atol=1e-8)

    root = np.sqrt(complex(sigma ** 4 / 16 - 0.25))
    closed = np.sort_complex([-sigma ** 2 / 4 + root, -sigma ** 2 / 4 - root])
    got = np.sort_complex(np.linalg.eigvals(jac))
    d_trace = h ** 2 / 24
    sensitivity = 1 + abs(trace) / (2 * abs(np.sqrt(complex(trace ** 2 / 4 - 0.25))))
    allowed = 2 * d_trace / 2 * sensitivity
    assert np.max(np.abs(got - closed)) < allowed + 1e-8
    # without noise the eigenvalues are +-i/2: far outside what is allowed
    assert np.min(np.abs(closed - 0.5j)) > 100 * allowed


def test_shipped_scenario_converges_where_plain_simultaneous_play_spirals_out():
    """dirac-gan-instance-noise (sigma = 1, sgd lr 0.1 for both): near (0, 0) each step
    multiplies the distance by |1 + 0.1 lambda| = sqrt(1 - 0.05 + 0.0025) = 0.976."""
    sc = scenario.load(SCENARIOS / "dirac-gan-instance-noise.toml")
    result = engine.run(sc)
    cols = {c: np.array([r[i] for r in result.rows]) for i, c in enumerate(result.columns)}
    radius = np.hypot(cols["g.theta"], cols["d.w1"])
    assert result.status == "completed" and radius[0] == pytest.approx(math.sqrt(2))
    assert radius[-1] < 1e-3
    # the last 100 iterations, near the equilibrium: the predicted contraction
    rate = (radius[-1] / radius[-101]) ** (1 / 100)
    assert rate == pytest.approx(math.sqrt(0.9525), abs=0.01)


def test_annealed_phase_portrait_is_the_field_of_the_last_iteration():
    """With annealed noise the field changes along the run: the portrait drawn over the
    trajectory is the one of the last recorded state's noise level, where the run ends."""
    overrides = ["iterations=40", "game.instance_noise.final_std=0.2", "output.plots=[]"]
    sc = scenario.load(SCENARIOS / "dirac-gan-instance-noise.toml", overrides)
    snaps = engine.run(sc).extra_snapshots
    players = Exact(sc)
    corner = (0, 0)
    theta, psi = snaps["phase_theta"][corner], snaps["phase_psi"][corner]

    def field_at(iteration):
        return [g[0] for g in gradients(players, np.array([theta]), np.array([psi]), iteration)]

    at_end, at_start = field_at(40), field_at(0)
    assert [snaps["phase_grad_theta"][corner], snaps["phase_grad_psi"][corner]] == at_end
    assert abs(at_end[1] - at_start[1]) > 1e-3  # sigma 0.2 against 1: another field
