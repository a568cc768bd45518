"""Per-iteration cost of a small game, scenarios/dirac-gan-r1.toml, against plain NumPy.

The game (801 cells on [-4, 4]): the point generator at theta deposited by cloud-in-cell, the
point target at 0, the degree-1 logistic discriminator u = psi x (no bias, no
standardizing), minimax, the R1 penalty with gamma = 1, simultaneous play, sgd with lr 0.1
for both. At this size an iteration is a few microseconds of arithmetic: what it costs is the
machinery around it (plugin calls, checks, allocations, recording).

gamesim's time per iteration is the difference of two ``engine.run`` lengths (3000 and 1000
iterations) divided by 2000, so the start-up (initial state, the phase portrait computed
after the loop) cancels; with ``record_every`` 1000 (rows at the ends only) and 1 (the shipped
value, a row every iteration). The NumPy loop is what a skilled user writes for the same
game: the cloud-in-cell deposit of theta and its derivative (g[k+1] - g[k]) / h, both
objective gradients over all 801 cells, the R1 gradient gamma psi sum(p_d), two sgd steps;
"numpy + rows" also computes each iteration what a gamesim row holds (value, W1, d_max_dev,
the gradient norms). It is checked against gamesim's trajectory over --check iterations
(max |dtheta|, |dpsi| printed; the script stops beyond 1e-12).

Ratios are gamesim / NumPy of the repeats measured side by side (< 1: gamesim faster).
``--profile`` prints where gamesim's iteration spends its time (cProfile of the engine's
loop, plugin calls per iteration).

    python benchmarks/bench_small.py [--repeats 7] [--quick] [--profile]
"""

import argparse
import cProfile
import io
import pstats
import sys

import numpy as np
from common import header, interleaved, ratios, shipped, spread

from gamesim import engine

TOLERANCE = 1e-12
SHORT, LONG = 1000, 3000


def load(iterations, record_every):
    return shipped("dirac-gan-r1", [f"iterations={iterations}", f"record_every={record_every}",
                                    "output.plots=[]"])


# ---------------------------------------------------------------- the plain NumPy game

class Dirac:
    """The grid, the data's masses, the constants the loop needs."""

    def __init__(self, sc):
        g = sc.grid
        self.lower, self.h, self.n = g.lower, g.h, g.points
        self.x = np.asarray(g.x, np.float64)
        self.lr_g, self.lr_d = sc.generator_optimizer.lr, sc.discriminator_optimizer.lr
        self.gamma = sc.regularizer.gamma
        self.p_d = np.zeros(self.n)
        for k, m in self.cic(0.0):
            self.p_d[k] += m

    def cic(self, theta):
        """[(cell, mass)] of a unit point mass at theta: the span [theta - h/2, theta + h/2]
        by exact cell integrals (the edge cells take what lies beyond the grid)."""
        h, lower, n = self.h, self.lower, self.n
        a, b = theta - 0.5 * h, theta + 0.5 * h
        ka = min(max(int(np.floor((a - lower) / h)), 0), n - 1)
        kb = min(max(int(np.floor((b - lower) / h)), 0), n - 1)
        if ka == kb:
            return [(ka, 1.0)]
        first = min(1.0, max(0.0, lower + (ka + 1) * h - a) / (b - a))
        return [(ka, first), (kb, max(0.0, 1.0 - first))]


def sigmoid(u):
    return 0.5 * (1.0 + np.tanh(0.5 * u))  # no overflow for any u


def numpy_game(game, theta, psi, iterations, rows=None):
    """``iterations`` simultaneous sgd steps from (theta, psi); returns them. ``rows``: a
    list to append each iteration's gamesim row to (value, W1, d_max_dev, gradient norms)."""
    x, p_d, h, gamma = game.x, game.p_d, game.h, game.gamma
    total_d = p_d.sum()
    p_g = np.zeros(game.n)
    for _ in range(iterations):
        cells = game.cic(theta)
        p_g[:] = 0.0
        for k, m in cells:
            p_g[k] += m
        u = psi * x
        # D descends -V + R1: d(-V)/du = p_g sigma(u) - p_d sigma(-u); R1 = gamma/2 sum p_d psi^2
        g_psi = x @ (p_g * sigmoid(u) - p_d * sigmoid(-u)) + gamma * psi * total_d
        # G: dL/dp_g = -softplus(u), through the deposit: (g[kb] - g[ka]) / h
        g_p = -np.logaddexp(0.0, u)
        g_theta = 0.0 if len(cells) == 1 else (g_p[cells[1][0]] - g_p[cells[0][0]]) / h
        if rows is not None:
            value = -(p_d @ np.logaddexp(0.0, -u)) + p_g @ g_p
            w1 = h * np.abs(np.cumsum(p_g - p_d)).sum()
            support = p_d + p_g > 0
            dev = np.abs(sigmoid(u[support]) - 0.5).max()
            rows.append((value, w1, dev, theta, psi, abs(g_theta), abs(g_psi)))
        theta, psi = theta - game.lr_g * g_theta, psi - game.lr_d * g_psi
    return theta, psi


# ---------------------------------------------------------------- check and timing

def check(iterations):
    """Max |dtheta|, |dpsi| between gamesim and NumPy over ``iterations`` iterations."""
    sc = load(iterations, 1)
    result = engine.run(sc)
    cols = result.columns
    gs = np.array([[r[cols.index("g.theta")], r[cols.index("d.w1")]] for r in result.rows])
    game = Dirac(sc)
    assert np.array_equal(game.p_d, sc.p_data), "p_data differs"
    theta, psi, ours = 1.0, 1.0, [(1.0, 1.0)]
    for _ in range(iterations):
        theta, psi = numpy_game(game, theta, psi, 1)
        ours.append((theta, psi))
    diff = np.abs(np.array(ours) - gs).max(axis=0)
    return diff, np.abs(gs[-1])


def per_iteration(short, long, extra):
    """The differenced per-iteration time of two run lengths."""
    return [(b - a) / extra for a, b in zip(short, long)]


def timing(repeats, numpy_iterations):
    out = {}
    game = None
    for record_every in (1000, 1):
        short, long = load(SHORT, record_every), load(LONG, record_every)
        engine.run(short), engine.run(long)  # compile, warm up
        game = Dirac(short)
        fns = {"gs_short": lambda s=short: engine.run(s), "gs_long": lambda s=long: engine.run(s),
               "numpy": lambda g=game: numpy_game(g, 1.0, 1.0, numpy_iterations),
               "numpy_rows": lambda g=game: numpy_game(g, 1.0, 1.0, numpy_iterations, [])}
        t = interleaved(fns, repeats)
        out[record_every] = (per_iteration(t["gs_short"], t["gs_long"], LONG - SHORT),
                             [s / numpy_iterations for s in t["numpy"]],
                             [s / numpy_iterations for s in t["numpy_rows"]])
    return out


def profile(record_every, iterations=5000, top=25):
    """cProfile of gamesim's run and the plugin calls per iteration."""
    sc = load(iterations, record_every)
    engine.run(sc)
    prof = cProfile.Profile()
    prof.enable()
    engine.run(sc)
    prof.disable()
    stream = io.StringIO()
    stats = pstats.Stats(prof, stream=stream)
    stats.sort_stats("tottime").print_stats(top)
    print(f"--- cProfile, record_every = {record_every}, {iterations} iterations "
          f"(tottime; calls / iterations = calls per iteration)")
    print(stream.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--check", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="a smoke run (3 repeats)")
    parser.add_argument("--profile", action="store_true", help="print cProfile tables")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    header(__doc__.splitlines()[0])
    diff, final = check(args.check)
    print(f"trajectory check over {args.check} iterations: max |dtheta| {diff[0]:.2e}, "
          f"max |dpsi| {diff[1]:.2e} (final |theta|, |psi| = {final[0]:.3g}, {final[1]:.3g})")
    if not diff.max() <= TOLERANCE:
        sys.exit(f"NumPy and gamesim disagree by {diff.max():.3g} > {TOLERANCE:g}")
    results = timing(repeats, 2000)
    print(f"\nmicroseconds per iteration, median (range) of {repeats} interleaved repeats; "
          f"ratio = gamesim / reference per repeat")
    print(f"{'record_every':>12} {'gamesim':>20} {'numpy':>18} {'numpy + rows':>18} "
          f"{'gs/numpy':>18} {'gs/(numpy + rows)':>18}")
    for record_every, (gs, np_, rows) in results.items():
        print(f"{record_every:>12} {spread(gs, 1e6):>20} {spread(np_, 1e6):>18} "
              f"{spread(rows, 1e6):>18} {spread(ratios(gs, np_), 1, 2):>18} "
              f"{spread(ratios(gs, rows), 1, 2):>18}")
    if args.profile:
        for record_every in (1000, 1):
            profile(record_every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
