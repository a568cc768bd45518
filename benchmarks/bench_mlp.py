"""Per-iteration cost of an MLP-vs-MLP game against a plain NumPy loop doing the same work.

The game is scenarios/mlp-gan.toml's (MLP generator, 16 tanh units, M = 257 nodes, against an
MLP discriminator, 16 tanh units, on [-6, 6]; alternating schedule, 1 discriminator step, adam
with lr 0.005 and beta1 0.5 for both) with the minimax objective (mlp-gan.toml plays the
non-saturating one, whose generator gradient softplus(-u) costs the same), at several grid
sizes N.

gamesim's time is its whole engine loop (plugin calls included, recording only at the ends).
The NumPy loop is a straightforward vectorized implementation of the same iteration:

1. generator forward: the MLP at the M nodes, then the piecewise-linear pushforward (each of
   the M - 1 segments carries mass 1/(M - 1) uniformly over its span, widened to one cell
   about its midpoint if shorter, deposited by exact cell integrals, mass beyond the grid in
   the edge cells; the mass beyond the grid is computed too, as gamesim tracks it);
2. the discriminator's gradient d(-V)/du = p_g sigma(u) - p_d sigma(-u), its VJP through the
   MLP on the grid, an adam step, the discriminator forward at the new parameters;
3. the generator's gradient -softplus(u), its VJP through the deposit and the MLP, an adam step.

The discriminator's hidden activations from its forward pass are kept for its VJP in the next
iteration (psi does not change in between), as anyone writing the loop by hand would do.

Before timing, the NumPy loop is checked against gamesim's trajectory from the same initial
parameters (the timed game's, and a start that exercises every branch of the deposit: segments
running backwards, widened ones, mass beyond the grid): after --check iterations masses,
discriminator outputs and parameters must agree to 1e-10 (the script stops otherwise). The two
round differently (gamesim's Numba kernels compute tanh from one exp per block of evenly spaced
inputs and sum in their own order, see plugins/network.py; NumPy calls np.tanh and BLAS), so
after one iteration everything agrees to a few 1e-16, not bit for bit; the differences then
grow with the iterations, the faster the finer the grid (a cell mass moves by dx / h when a
node moves by dx): about 1e-13 after 10 iterations at N = 65536, 1e-10 in the parameters
(1e-8 in the masses) after 25.

Each grid size runs in a fresh process, as `gamesim run` would: the NumPy loop's N x H
temporaries of 128 KiB or more (N >= 1024) are served by mmap and page-faulted afresh until the
allocator has once freed a larger block, so timings in one long process would depend on the
sizes run before (gamesim allocates no N x H temporaries and recycles its kept activations).
Prints medians of several repeats (interleaved) and the ratio NumPy / gamesim (> 1 means
gamesim is faster).

    python benchmarks/bench_mlp.py [--sizes 512 2048 8192 65536] [--repeats 5] [--check 10]
"""

import argparse
import json
import os
import subprocess
import statistics
import sys

import numpy as np

import gamesim
from common import load_scenario as load_scenario_text, seconds

from gamesim import engine
from gamesim import plugins as plugin_manager

HIDDEN = 16      # both networks' hidden units, as in mlp-gan.toml
NODES = 257      # the generator's M, as in mlp-gan.toml
LR, BETA1, BETA2, EPS = 0.005, 0.5, 0.999, 1e-8
TOLERANCE = 1e-10
# trajectory checks: (label, seed, generator init_scale). "mlp-gan" is the timed game; "edges"
# starts the generator with segments running backwards, segments shorter than a cell and most
# of its mass beyond the grid's upper edge, so every branch of the deposit is compared.
CHECKS = (("mlp-gan", 0, 1.0), ("edges", 4, 8.0))

SCENARIO = """
name = "bench-mlp"
seed = {seed}
iterations = {iterations}
record_every = {iterations}
[grid]
lower = -6.0
upper = 6.0
points = {points}
[target]
kind = "mixture"
components = [{{ kind = "normal", mean = -2.0, std = 0.5, weight = 0.5 }},
              {{ kind = "normal", mean = 2.0, std = 0.5, weight = 0.5 }}]
[generator]
kind = "mlp"
hidden = {hidden}
activation = "tanh"
nodes = {nodes}
init_scale = {init_scale}
optimizer = {{ kind = "adam", lr = {lr}, beta1 = {beta1}, beta2 = {beta2}, eps = {eps} }}
[discriminator]
kind = "mlp"
hidden = {hidden}
activation = "tanh"
steps = 1
optimizer = {{ kind = "adam", lr = {lr}, beta1 = {beta1}, beta2 = {beta2}, eps = {eps} }}
[game]
mode = "adversarial"
objective = "minimax"
schedule = "alternating"
[metrics]
distances = []
[output]
snapshots = 1
"""


def load_scenario(points, iterations, seed=0, init_scale=1.0):
    text = SCENARIO.format(iterations=iterations, points=points, hidden=HIDDEN, nodes=NODES,
                           lr=LR, beta1=BETA1, beta2=BETA2, eps=EPS, seed=seed,
                           init_scale=init_scale)
    return load_scenario_text(text)


# ---------------------------------------------------------------- the plain NumPy game

def mlp_forward(s, theta):
    """y = c + sum_j a_j tanh(w_j s + b_j), theta = (w, b, a, c); also the activations."""
    H = HIDDEN
    act = np.tanh(np.outer(s, theta[:H]) + theta[H:2 * H])
    return act @ theta[2 * H:3 * H] + theta[3 * H], act


def mlp_vjp(s, theta, act, g):
    """d/dtheta of sum g * y(s), from the forward pass's activations."""
    H = HIDDEN
    g_pre = (1.0 - act * act) * np.outer(g, theta[2 * H:3 * H])
    return np.concatenate([s @ g_pre, g_pre.sum(0), act.T @ g, [g.sum()]])


class Deposit:
    """The piecewise-linear pushforward of the node values xs onto the grid.

    Each segment's span [a, b] covers cells ka..kb; the (segment, cell) pairs are laid out
    segment by segment (first cell, interior cells, last cell) and summed into the cells with
    np.bincount. The plan is built once per iteration and serves the forward and the VJP.
    """

    def __init__(self, xs, lower, h, n):
        w = 1.0 / (xs.size - 1)
        x0, x1 = xs[:-1], xs[1:]
        lo, hi = np.minimum(x0, x1), np.maximum(x0, x1)
        short = hi - lo < h                      # widened to one cell about the midpoint
        mid = 0.5 * (lo + hi)
        a = np.where(short, mid - 0.5 * h, lo)
        b = np.where(short, mid + 0.5 * h, hi)
        ka = np.clip(np.floor((a - lower) / h), 0, n - 1).astype(np.intp)
        kb = np.clip(np.floor((b - lower) / h), 0, n - 1).astype(np.intp)
        same = ka == kb
        width = b - a
        dens = w / width
        # the first cell's part; the last cell takes the rest, so each segment deposits w
        # (and the edge cells take what lies beyond the grid)
        first = np.minimum(w, dens * np.maximum(0.0, lower + (ka + 1) * h - a))
        last = np.maximum(0.0, w - first - dens * h * (kb - ka - 1))
        counts = kb - ka + 1
        starts = np.cumsum(counts) - counts
        ends = starts + counts - 1
        seg = np.repeat(np.arange(xs.size - 1), counts)
        cell = np.arange(counts.sum()) - starts[seg] + ka[seg]
        values = (dens * h)[seg]
        values[ends] = last
        values[starts] = np.where(same, w, first)
        self.masses = np.bincount(cell, values, minlength=n)
        # the mass beyond the grid of the segments as given (a point mass counts whole)
        upper = lower + n * h
        span = hi - lo
        beyond = np.maximum(0.0, np.minimum(hi, lower) - lo) + np.maximum(0.0, hi - np.maximum(lo, upper))
        frac = np.where(span > 0, beyond / np.where(span > 0, span, 1.0),
                        ((lo < lower) | (lo > upper)).astype(np.float64))
        self.outside = w * frac.sum()
        self.w, self.lower, self.h, self.n = w, lower, h, n
        self.a, self.b, self.ka, self.kb, self.same, self.width = a, b, ka, kb, same, width
        self.short, self.forward_seg = short, x0 <= x1
        self.seg, self.cell, self.starts, self.ends = seg, cell, starts, ends

    def vjp(self, g):
        """dL/dxs of L = sum g_k p_k: for a span [a, b], dL/da = w (gbar - g(a)) / (b - a) and
        dL/db = w (g(b) - gbar) / (b - a), gbar the mean of g over the span; a widened span
        moves with its midpoint (half to each node)."""
        lower, h, ka, kb, width = self.lower, self.h, self.ka, self.kb, self.width
        interior = g[self.cell] * h
        interior[self.starts] = 0.0
        interior[self.ends] = 0.0
        gbar = (g[ka] * np.maximum(0.0, lower + (ka + 1) * h - self.a)
                + g[kb] * np.maximum(0.0, self.b - (lower + kb * h))
                + np.bincount(self.seg, interior, minlength=ka.size)) / width
        d_a = np.where(self.same, 0.0, self.w * (gbar - g[ka]) / width)
        d_b = np.where(self.same, 0.0, self.w * (g[kb] - gbar) / width)
        half = 0.5 * (d_a + d_b)
        left = np.where(self.short, half, np.where(self.forward_seg, d_a, d_b))
        right = np.where(self.short, half, np.where(self.forward_seg, d_b, d_a))
        out = np.zeros(ka.size + 1)
        out[:-1] += left
        out[1:] += right
        return out


class Adam:
    def __init__(self, size):
        self.m, self.v, self.t = np.zeros(size), np.zeros(size), 0

    def step(self, theta, g):
        self.t += 1
        c1, c2 = 1.0 - BETA1 ** self.t, 1.0 - BETA2 ** self.t
        self.m *= BETA1
        self.m += (1.0 - BETA1) * g
        self.v *= BETA2
        self.v += (1.0 - BETA2) * g * g
        theta -= LR * (self.m / c1) / (np.sqrt(self.v / c2) + EPS)


def sigmoids(u):
    """(sigma(u), sigma(-u)) without overflow, from one exponential."""
    e = np.exp(-np.abs(u))
    r = 1.0 / (1.0 + e)
    pos = u >= 0
    return np.where(pos, r, e * r), np.where(pos, e * r, r)


def numpy_game(p_d, x, lower, h, theta, psi, iterations):
    """``iterations`` alternating steps from (theta, psi), modified in place. Returns
    (theta, psi, max mass beyond the grid)."""
    n = p_d.size
    s_gen = np.linspace(-1.0, 1.0, NODES)
    half_width = 0.5 * n * h
    s_disc = (x - (lower + half_width)) / half_width
    g_opt, d_opt = Adam(theta.size), Adam(psi.size)
    u, act_d = mlp_forward(s_disc, psi)
    max_outside = 0.0
    for _ in range(iterations):
        xs, act_g = mlp_forward(s_gen, theta)
        dep = Deposit(xs, lower, h, n)
        p_g = dep.masses
        max_outside = max(max_outside, dep.outside)
        # discriminator step: d(-V)/du = p_g sigma(u) - p_d sigma(-u)
        sig, sig_neg = sigmoids(u)
        d_opt.step(psi, mlp_vjp(s_disc, psi, act_d, p_g * sig - p_d * sig_neg))
        u, act_d = mlp_forward(s_disc, psi)
        # generator step against the new discriminator: dL/dp_g = -softplus(u)
        g_x = dep.vjp(-np.logaddexp(0.0, u))
        g_opt.step(theta, mlp_vjp(s_gen, theta, act_g, g_x))
    return theta, psi, max_outside


def numpy_state(sc, theta, psi):
    """p_g and u at (theta, psi), the NumPy way."""
    g = sc.grid
    xs, _ = mlp_forward(np.linspace(-1.0, 1.0, NODES), theta)
    half_width = 0.5 * g.points * g.h
    u, _ = mlp_forward((g.x - (g.lower + half_width)) / half_width, psi)
    return Deposit(xs, g.lower, g.h, g.points).masses, u


# ---------------------------------------------------------------- verification

class _Capture:
    """An observer that keeps the engine's state at each recorded row."""

    def __init__(self):
        self.states = {}

    @gamesim.hookimpl
    def gamesim_record(self, scenario, state):
        self.states[state.iteration] = {k: np.array(getattr(state, k), copy=True)
                                        for k in ("theta", "psi", "p_gen", "u")}
        return {}


def engine_states(sc):
    """gamesim's states at iteration 0 and at sc.iterations."""
    capture = _Capture()
    pm = plugin_manager.manager()
    pm.register(capture, name="bench-mlp-capture")
    try:
        result = engine.run(sc)
    finally:
        pm.unregister(name="bench-mlp-capture")
    assert result.status == "completed", result.status
    return capture.states[0], capture.states[sc.iterations]


def verify(points, iterations, seed=0, init_scale=1.0):
    """Max differences (masses, outputs, theta, psi) after ``iterations`` steps of both, the
    distance the parameters moved, and what the initial generator exercises: segments
    running backwards, widened (shorter than a cell), and its mass beyond the grid."""
    sc = load_scenario(points, iterations, seed, init_scale)
    start, end = engine_states(sc)
    theta, psi, _ = numpy_game(sc.p_data, sc.grid.x, sc.grid.lower, sc.grid.h,
                               start["theta"].copy(), start["psi"].copy(), iterations)
    p_g, u = numpy_state(sc, theta, psi)
    diffs = {"p_g": np.abs(p_g - end["p_gen"]).max(), "u": np.abs(u - end["u"]).max(),
             "theta": np.abs(theta - end["theta"]).max(), "psi": np.abs(psi - end["psi"]).max()}
    moved = max(np.abs(end["theta"] - start["theta"]).max(),
                np.abs(end["psi"] - start["psi"]).max())
    xs, _ = mlp_forward(np.linspace(-1.0, 1.0, NODES), start["theta"])
    dep = Deposit(xs, sc.grid.lower, sc.grid.h, points)
    exercised = (int((~dep.forward_seg).sum()), int(dep.short.sum()), dep.outside)
    return diffs, moved, exercised


# ---------------------------------------------------------------- timing

def measure(n, args):
    """Check the trajectories at n cells, then time both; a dict of the figures."""
    checks = []
    for label, seed, init_scale in CHECKS:
        diffs, moved, (back, short, beyond) = verify(n, args.check, seed, init_scale)
        checks.append({"label": label, **diffs, "moved": moved, "back": back, "short": short,
                       "beyond": beyond})
        worst = max(diffs.values())
        if not worst <= TOLERANCE:
            sys.exit(f"N = {n} ({label}): NumPy and gamesim disagree by {worst:.3g} > "
                     f"{TOLERANCE:g} after {args.check} iterations; the timing would compare "
                     f"different computations")

    # a short calibration run sets the iterations to about --budget seconds per run, at least
    # 30 so the two recorded rows (which take gradient norms) weigh little
    sc = load_scenario(n, 10)
    engine.run(sc)
    per_it = engine.run(sc).wall_seconds / 10
    iterations = int(min(5000, max(30, args.budget / per_it)))
    sc = load_scenario(n, iterations)
    engine.run(sc)  # warm up
    gen_seed, disc_seed = np.random.SeedSequence(sc.seed).spawn(2)  # as the engine does
    theta0 = sc.generator.init_params(np.random.default_rng(gen_seed))
    psi0 = sc.discriminator.init_params(np.random.default_rng(disc_seed))
    args_np = (sc.p_data, sc.grid.x, sc.grid.lower, sc.grid.h)
    numpy_game(*args_np, theta0.copy(), psi0.copy(), 3)  # warm up
    t_np, t_gs = [], []
    for _ in range(args.repeats):  # interleaved, so a noisy neighbour hits both alike
        t_np.append(seconds(lambda: numpy_game(*args_np, theta0.copy(), psi0.copy(),
                                               iterations)))
        t_gs.append(seconds(lambda: engine.run(sc)))
    return {"n": n, "checks": checks, "iterations": iterations,
            "numpy": statistics.median(t_np) / iterations,
            "gamesim": statistics.median(t_gs) / iterations}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048, 8192, 65536])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--check", type=int, default=10,
                        help="iterations of the trajectory check before timing")
    parser.add_argument("--budget", type=float, default=1.0,
                        help="approximate seconds per timed run (sets the iterations)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(args.child, args)))
        return 0

    results = []
    for n in args.sizes:
        print(f"N = {n} ...", file=sys.stderr, flush=True)
        child = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(n),
                                "--repeats", str(args.repeats), "--check", str(args.check),
                                "--budget", str(args.budget)], capture_output=True, text=True)
        if child.returncode != 0:
            sys.stderr.write(child.stderr)
            return child.returncode
        results.append(json.loads(child.stdout.splitlines()[-1]))

    print(f"trajectory check: {args.check} iterations of gamesim and of NumPy from gamesim's "
          f"initial parameters, tolerance {TOLERANCE:g}")
    print(f"{'N':>7} {'init':>8} {'max|dp_g|':>10} {'max|du|':>10} {'max|dtheta|':>12} "
          f"{'max|dpsi|':>10} {'moved':>8}  segments back/short, mass beyond grid")
    for r in results:
        for c in r["checks"]:
            print(f"{r['n']:>7} {c['label']:>8} {c['p_g']:>10.2e} {c['u']:>10.2e} "
                  f"{c['theta']:>12.2e} {c['psi']:>10.2e} {c['moved']:>8.2e}  "
                  f"{c['back']}/{c['short']}, {c['beyond']:.3f}")
    print()
    print(f"{'N':>7} {'iters':>6} {'numpy us/it':>12} {'gamesim us/it':>14} {'ratio':>6}")
    for r in results:
        print(f"{r['n']:>7} {r['iterations']:>6} {1e6 * r['numpy']:>12.1f} "
              f"{1e6 * r['gamesim']:>14.1f} {r['numpy'] / r['gamesim']:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
