"""Per-iteration cost of the MLP-vs-MLP game: gamesim against NumPy, JAX and PyTorch.

The game is scenarios/mlp-gan.toml's, loaded from the file with only the grid size, the
iterations and the output changed: an MLP generator (16 tanh units, M = 257 nodes, each of
the M - 1 segments depositing mass 1/(M - 1) uniformly over its span by exact cell
integrals, widened to one cell about its midpoint if shorter, mass beyond the grid in the
edge cells) against an MLP discriminator (16 tanh units on standardized cell centres), the
non-saturating objective, alternating schedule with one discriminator step, adam (lr 0.005,
beta1 0.5, beta2 0.999, eps 1e-8) for both, on [-6, 6] with N cells.

One iteration: p_g from the generator; D's gradient d(-V)/du = p_g sigma(u) - p_d sigma(-u)
through its MLP, an adam step; u at the new psi; G's gradient dL/dp_g = softplus(-u) through
the deposit and its MLP, an adam step. The references:

- numpy: vectorized NumPy (np.tanh and BLAS products over N x H arrays, the deposit by
  np.bincount over (segment, cell) pairs), D's activations kept from its forward pass;
- jax: the iteration written with jax.numpy (the deposit: first and last cells of each span
  scattered, interior cells by a difference array and cumsum), gradients by jax.vjp/jax.grad,
  adam by hand, the whole iteration under one jax.jit, float64, called once an iteration
  from Python; "jax loop": the same step under lax.fori_loop, one call for all iterations;
- torch: the same in PyTorch (CPU, float64, autograd, torch.optim.Adam), D's output
  recomputed each iteration.

gamesim's time per iteration is the difference of two ``engine.run`` lengths (3K and K
iterations, rows at the ends only) divided by 2K, so the start-up cancels; the references
run K iterations after a warm-up (JAX compiles there), fewer if K would take over four times
gamesim's shorter run (the iterations each ran are printed). Each (N, threads) pair runs in a fresh
process: "1 thread" pins it to one CPU and sets OMP/OpenBLAS/MKL/Numba threads to 1 and
XLA_FLAGS=--xla_cpu_multi_thread_eigen=false (torch.set_num_threads(1)); "default" leaves
all as installed. gamesim's Numba kernels are serial either way.

Before timing, each reference runs --check iterations from gamesim's initial parameters and
is compared with gamesim's state (engine.iteration's step) at the same iteration: the max
differences of p_g, u, theta and psi are printed (and the script stops if one exceeds 1e-8).
They round differently (gamesim's tanh from one exp per block of evenly spaced inputs, sums
in its own order), so the differences start at a few 1e-16 and grow with the iterations,
the faster the finer the grid. The check also runs from a start that exercises every branch
of the deposit (segments running backwards, widened ones, mass beyond the grid).

Prints medians (ranges) of interleaved repeats and the ratios gamesim / reference of repeats
measured side by side (< 1: gamesim faster).

    python benchmarks/bench_mlp.py [--sizes 256 2048 8192 65536] [--repeats 5] [--quick]
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
from common import ONE_THREAD_ENV, header, interleaved, ratios, seconds, shipped, spread

HIDDEN = 16      # both networks' hidden units, as in mlp-gan.toml
NODES = 257      # the generator's M, as in mlp-gan.toml
LR, BETA1, BETA2, EPS = 0.005, 0.5, 0.999, 1e-8
TOLERANCE = 1e-8
# trajectory checks: (label, overrides). "mlp-gan" is the timed game; "edges" starts the
# generator with segments running backwards, segments shorter than a cell and most of its
# mass beyond the grid's upper edge, so every branch of the deposit is compared.
CHECKS = (("mlp-gan", ()), ("edges", ("seed=4", "generator.init_scale=8.0")))
REFERENCES = ("numpy", "jax", "jax loop", "torch")


def load_scenario(points, iterations, extra=()):
    """scenarios/mlp-gan.toml at ``points`` cells, rows only at the ends, no plots."""
    sc = shipped("mlp-gan", [f"grid.points={points}", f"iterations={iterations}",
                             f"record_every={iterations}", "metrics.distances=[]",
                             "output.plots=[]", "output.snapshots=1", *extra])
    g, d = sc.generator, sc.discriminator
    assert (g.hidden, g.nodes, d.hidden, g.activation, d.activation, d.standardize) == \
        (HIDDEN, NODES, HIDDEN, "tanh", "tanh", True), "mlp-gan.toml changed"
    assert sc.objective.name == "nonsaturating" and sc.schedule == "alternating" and sc.steps == 1
    for opt in (sc.generator_optimizer, sc.discriminator_optimizer):
        assert (opt.name, opt.lr, opt.beta1, opt.beta2, opt.eps) == ("adam", LR, BETA1, BETA2, EPS)
    return sc


def game_of(sc):
    """(p_d, lower, h, N, generator inputs, discriminator inputs) as NumPy arrays."""
    g = sc.grid
    half_width = 0.5 * (g.upper - g.lower)
    s_disc = (np.asarray(g.x, np.float64) - 0.5 * (g.lower + g.upper)) / half_width
    return sc.p_data, g.lower, g.h, g.points, np.linspace(-1.0, 1.0, NODES), s_disc


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


def numpy_game(game, theta, psi, iterations):
    """``iterations`` alternating steps from (theta, psi), modified in place. Returns
    (theta, psi, max mass beyond the grid)."""
    p_d, lower, h, n, s_gen, s_disc = game
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
        # generator step against the new discriminator (non-saturating): dL/dp_g = softplus(-u)
        g_x = dep.vjp(np.logaddexp(0.0, -u))
        g_opt.step(theta, mlp_vjp(s_gen, theta, act_g, g_x))
    return theta, psi, max_outside


def numpy_reference(game, theta, psi):
    """run(iterations) -> (theta, psi) of the NumPy game from (theta, psi)."""
    def run(iterations):
        th, ps, _ = numpy_game(game, theta.copy(), psi.copy(), iterations)
        return th, ps
    return run


# ---------------------------------------------------------------- JAX

def jax_reference(game, theta, psi, loop=False):
    """run(iterations) -> (theta, psi) of the jitted JAX game from (theta, psi); ``loop``:
    all iterations in one lax.fori_loop instead of one jitted call per iteration."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    p_d_np, lower, h, n, s_gen_np, s_disc_np = game
    p_d, s_gen, s_disc = jnp.asarray(p_d_np), jnp.asarray(s_gen_np), jnp.asarray(s_disc_np)
    H, w = HIDDEN, 1.0 / (NODES - 1)

    def mlp(s, th):
        return jnp.tanh(jnp.outer(s, th[:H]) + th[H:2 * H]) @ th[2 * H:3 * H] + th[3 * H]

    def deposit(xs):
        x0, x1 = xs[:-1], xs[1:]
        lo, hi = jnp.minimum(x0, x1), jnp.maximum(x0, x1)
        short = hi - lo < h
        mid = 0.5 * (lo + hi)
        a = jnp.where(short, mid - 0.5 * h, lo)
        b = jnp.where(short, mid + 0.5 * h, hi)
        ka = jnp.clip(jnp.floor((a - lower) / h), 0, n - 1).astype(jnp.int64)
        kb = jnp.clip(jnp.floor((b - lower) / h), 0, n - 1).astype(jnp.int64)
        same = ka == kb
        dens = w / (b - a)
        first = jnp.minimum(w, dens * jnp.maximum(0.0, lower + (ka + 1) * h - a))
        last = jnp.maximum(0.0, w - first - dens * h * (kb - ka - 1))
        inner = jnp.where(kb > ka + 1, dens * h, 0.0)  # each cell strictly inside the span
        ramp = jnp.zeros(n + 1).at[ka + 1].add(inner).at[kb].add(-inner)
        p = jnp.cumsum(ramp)[:n]
        return p.at[ka].add(jnp.where(same, w, first)).at[kb].add(jnp.where(same, 0.0, last))

    def adam(x, g, m, v, t):
        m = BETA1 * m + (1.0 - BETA1) * g
        v = BETA2 * v + (1.0 - BETA2) * g * g
        c1, c2 = 1.0 - BETA1 ** t, 1.0 - BETA2 ** t
        return x - LR * (m / c1) / (jnp.sqrt(v / c2) + EPS), m, v

    def step(state):
        th, ps, mg, vg, md, vd, t = state
        t = t + 1.0
        p_g, deposit_vjp = jax.vjp(lambda x: deposit(mlp(s_gen, x)), th)

        def d_loss(x):  # -V_D
            u = mlp(s_disc, x)
            return jnp.sum(p_d * jax.nn.softplus(-u) + p_g * jax.nn.softplus(u))

        ps, md, vd = adam(ps, jax.grad(d_loss)(ps), md, vd, t)
        g_th, = deposit_vjp(jax.nn.softplus(-mlp(s_disc, ps)))  # non-saturating
        th, mg, vg = adam(th, g_th, mg, vg, t)
        return th, ps, mg, vg, md, vd, t

    zeros_g, zeros_d = jnp.zeros(theta.size), jnp.zeros(psi.size)
    start = (jnp.asarray(theta), jnp.asarray(psi), zeros_g, zeros_g, zeros_d, zeros_d, 0.0)
    if loop:
        many = jax.jit(lambda state, k: jax.lax.fori_loop(0, k, lambda i, s: step(s), state))

        def run(iterations):
            state = many(start, iterations)
            return np.asarray(state[0]), np.asarray(state[1])
    else:
        one = jax.jit(step)

        def run(iterations):
            state = start
            for _ in range(iterations):
                state = one(state)
            return np.asarray(state[0]), np.asarray(state[1])
    return run


# ---------------------------------------------------------------- PyTorch

def torch_reference(game, theta, psi):
    """run(iterations) -> (theta, psi) of the PyTorch game from (theta, psi)."""
    import torch

    p_d_np, lower, h, n, s_gen_np, s_disc_np = game
    f64 = torch.float64
    p_d, s_gen, s_disc = (torch.tensor(a, dtype=f64) for a in (p_d_np, s_gen_np, s_disc_np))
    H, w = HIDDEN, 1.0 / (NODES - 1)
    softplus = torch.nn.functional.softplus

    def mlp(s, th):
        return torch.tanh(torch.outer(s, th[:H]) + th[H:2 * H]) @ th[2 * H:3 * H] + th[3 * H]

    def deposit(xs):
        x0, x1 = xs[:-1], xs[1:]
        lo, hi = torch.minimum(x0, x1), torch.maximum(x0, x1)
        short = hi - lo < h
        mid = 0.5 * (lo + hi)
        a = torch.where(short, mid - 0.5 * h, lo)
        b = torch.where(short, mid + 0.5 * h, hi)
        with torch.no_grad():
            ka = torch.clamp(torch.floor((a - lower) / h), 0, n - 1).long()
            kb = torch.clamp(torch.floor((b - lower) / h), 0, n - 1).long()
        same = ka == kb
        dens = w / (b - a)
        first = torch.clamp(dens * torch.clamp(lower + (ka + 1) * h - a, min=0.0), max=w)
        last = torch.clamp(w - first - dens * h * (kb - ka - 1), min=0.0)
        inner = torch.where(kb > ka + 1, dens * h, torch.zeros_like(dens))
        ramp = torch.zeros(n + 1, dtype=f64).index_add(0, ka + 1, inner).index_add(0, kb, -inner)
        p = torch.cumsum(ramp, 0)[:n]
        p = p.index_add(0, ka, torch.where(same, torch.full_like(first, w), first))
        return p.index_add(0, kb, torch.where(same, torch.zeros_like(last), last))

    def run(iterations):
        th = torch.tensor(theta, dtype=f64, requires_grad=True)
        ps = torch.tensor(psi, dtype=f64, requires_grad=True)
        opt_g = torch.optim.Adam([th], lr=LR, betas=(BETA1, BETA2), eps=EPS)
        opt_d = torch.optim.Adam([ps], lr=LR, betas=(BETA1, BETA2), eps=EPS)
        for _ in range(iterations):
            p_g = deposit(mlp(s_gen, th))
            u = mlp(s_disc, ps)
            opt_d.zero_grad()
            (p_d * softplus(-u) + p_g.detach() * softplus(u)).sum().backward()  # -V_D
            opt_d.step()
            with torch.no_grad():
                u = mlp(s_disc, ps)
            opt_g.zero_grad()
            (p_g * softplus(-u)).sum().backward()  # non-saturating L_G
            opt_g.step()
        return th.detach().numpy().copy(), ps.detach().numpy().copy()
    return run


# ---------------------------------------------------------------- checks and timing

def available():
    """The references whose library imports."""
    names = ["numpy"]
    for module, refs in (("jax", ("jax", "jax loop")), ("torch", ("torch",))):
        try:
            __import__(module)
            names += refs
        except ImportError:
            pass
    return names


def references(names, game, theta, psi):
    make = {"numpy": lambda: numpy_reference(game, theta, psi),
            "jax": lambda: jax_reference(game, theta, psi),
            "jax loop": lambda: jax_reference(game, theta, psi, loop=True),
            "torch": lambda: torch_reference(game, theta, psi)}
    return {name: make[name]() for name in names}


def grid_state(sc, theta, psi):
    """gamesim's p_g and u at (theta, psi)."""
    return sc.generator.forward(theta)[0], sc.discriminator.forward(psi)


def verify(n, iterations, names):
    """{label: {reference: max differences of p_g, u, theta, psi}} after ``iterations``."""
    from gamesim import engine

    out = {}
    for label, extra in CHECKS:
        sc = load_scenario(n, iterations, extra)
        step = engine.iteration(sc)
        theta, psi, states = step.initial()
        theta0, psi0 = theta.copy(), psi.copy()
        for it in range(iterations):
            theta, psi, states = step(theta, psi, states, it)
        p_g, u = grid_state(sc, theta, psi)
        runs = references(names, game_of(sc), theta0, psi0)
        out[label] = {}
        for name, run in runs.items():
            th, ps = run(iterations)
            q, v = grid_state(sc, th, ps)
            out[label][name] = {"p_g": float(np.abs(q - p_g).max()),
                                "u": float(np.abs(v - u).max()),
                                "theta": float(np.abs(th - theta).max()),
                                "psi": float(np.abs(ps - psi).max())}
    return out


def measure(n, args):
    """Check the references at n cells, then time them and gamesim: a dict of the figures."""
    from gamesim import engine

    names = available()
    checks = verify(n, args.check, names)
    worst = max(v for ref in checks.values() for d in ref.values() for v in d.values())
    if not worst <= TOLERANCE:
        sys.exit(f"N = {n}: a reference and gamesim disagree by {worst:.3g} > {TOLERANCE:g} "
                 f"after {args.check} iterations: {json.dumps(checks)}")
    sc = load_scenario(n, 5)
    engine.run(sc)
    per_it = engine.run(sc).wall_seconds / 5
    k = int(min(2000, max(5, args.budget / per_it)))
    short, long = load_scenario(n, k), load_scenario(n, 3 * k)
    engine.run(short)
    step = engine.iteration(short)
    theta, psi, _ = step.initial()
    runs = references(names, game_of(short), theta, psi)
    # each reference runs K iterations, fewer if that would take over 4x gamesim's run
    ks = {}
    for name, run in runs.items():
        run(3)  # warm up: JAX compiles, PyTorch and BLAS allocate
        ks[name] = int(min(k, max(3, 4 * args.budget / (seconds(lambda run=run: run(3)) / 3))))
    fns = {"gs_short": lambda: engine.run(short), "gs_long": lambda: engine.run(long)}
    fns.update({name: (lambda run=run, i=ks[name]: run(i)) for name, run in runs.items()})
    t = interleaved(fns, args.repeats)
    times = {"gamesim": [(b - a) / (2 * k) for a, b in zip(t["gs_short"], t["gs_long"])]}
    times.update({name: [s / ks[name] for s in t[name]] for name in runs})
    return {"n": n, "k": k, "ks": ks, "checks": checks, "times": times}


def child_env(threads):
    env = dict(os.environ)
    if threads == "1":
        env.update(ONE_THREAD_ENV)
    return env


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 2048, 8192, 65536])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--check", type=int, default=10,
                        help="iterations of the trajectory check before timing")
    parser.add_argument("--budget", type=float, default=0.25,
                        help="approximate seconds of gamesim's shorter run (sets K)")
    parser.add_argument("--threads", nargs="+", default=["1", "default"],
                        choices=["1", "default"])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: N = 256 and 2048, 3 repeats, short runs")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats, args.budget, args.check = [256, 2048], 3, 0.03, 5
    if args.child is not None:
        if os.environ.get("OMP_NUM_THREADS") == "1":
            import torch
            torch.set_num_threads(1)
        print(json.dumps(measure(args.child, args)))
        return 0

    header(__doc__.splitlines()[0])
    print(f"references installed: {', '.join(available())}")
    results = []
    for threads in args.threads:
        for n in args.sizes:
            print(f"N = {n}, threads {threads} ...", file=sys.stderr, flush=True)
            command = [sys.executable, os.path.abspath(__file__), "--child", str(n),
                       "--repeats", str(args.repeats), "--check", str(args.check),
                       "--budget", str(args.budget)]
            if threads == "1":  # one CPU: the first this process may use
                command = ["taskset", "-c", str(min(os.sched_getaffinity(0)))] + command
            child = subprocess.run(command, check=False, capture_output=True, text=True,
                                   env=child_env(threads))
            if child.returncode != 0:
                sys.stderr.write(child.stderr)
                return child.returncode
            results.append({"threads": threads, **json.loads(child.stdout.splitlines()[-1])})
    report(results, args)
    return 0


def report(results, args):
    first = results[0]
    print(f"\ntrajectory check ({args.check} iterations from gamesim's initial parameters; "
          f"max |difference| of p_g, u, theta, psi from gamesim's state):")
    for r in results:
        if r["threads"] != first["threads"]:
            continue
        for label, refs in r["checks"].items():
            print(f"  N = {r['n']:>6} {label:>8}: " + "; ".join(
                f"{name} {d['p_g']:.1e} {d['u']:.1e} {d['theta']:.1e} {d['psi']:.1e}"
                for name, d in refs.items()))
    names = [name for name in REFERENCES if name in first["times"]]
    print(f"\nmicroseconds per iteration, median (range) of {args.repeats} interleaved "
          f"repeats; then gamesim / reference per repeat (< 1: gamesim faster)")
    print(f"{'threads':>7} {'N':>6} {'K':>5} {'gamesim':>22}"
          + "".join(f" {name:>22}" for name in names)
          + "".join(f" {'gs/' + name:>17}" for name in names))
    print("iterations timed (gamesim: 3K - K = 2K): " + "; ".join(
        f"{r['threads']}/{r['n']}: K {r['k']}, " + ", ".join(f"{name} {i}" for name, i in r["ks"].items())
        for r in results))
    for r in results:
        t = r["times"]
        digits = 1 if r["n"] < 65536 else 0
        print(f"{r['threads']:>7} {r['n']:>6} {r['k']:>5} {spread(t['gamesim'], 1e6, digits):>22}"
              + "".join(f" {spread(t[name], 1e6, digits):>22}" for name in names)
              + "".join(f" {spread(ratios(t['gamesim'], t[name]), 1, 2):>17}" for name in names))


if __name__ == "__main__":
    sys.exit(main())
