"""Per-iteration cost of the ideal game: gamesim against plain NumPy loops and a fused kernel.

The game: free density generator (softmax logits), oracle discriminator u* = log p_d - log p_g,
minimax generator gradient -softplus(u*), a mirror step with lr 0.5 (lr = 1 would allow the
algebraic shortcut p <- (p + p_d)/2). References:

- lean: what a NumPy user writes, on the masses: ``g = log(p_g / (p_d + p_g))``,
  ``p_g *= exp(-lr g)``, normalized (one log and one exp a cell);
- twin: gamesim's own formulation in NumPy (logits, softmax, oracle logit, softplus);
- fused prototypes (NOT gamesim: a measure of what is achievable), the same mirror step on
  the logits with one exp and one log a cell: the log-masses come out of the softmax
  (log p_g = theta - log sum e^theta) and -softplus(log p_d - log p_g) = log p_g -
  log(p_d + p_g). "fused (vecmath)": one Numba call for all iterations, gamesim.vecmath's exp
  and log, four passes a cell (exp; sum; log of p_d + p_g; the step with its maximum, which
  also counts NaN and +inf logits) and the shift. "fused (NumPy e/l)": the same with NumPy's
  np.exp and np.log (SIMD with AVX-512F, not with AVX2) between two Numba passes.

gamesim's time per iteration is the difference of two ``engine.run`` lengths (3K and K
iterations, rows at the ends only) divided by 2K, so the start-up cancels; the references run
2K iterations. Before timing, each reference's final masses are compared with gamesim's after
K iterations (max relative difference printed). Prints medians and ranges of interleaved
repeats and the ratios gamesim / reference of the repeats side by side (< 1: gamesim faster).

    python benchmarks/bench_ideal.py [--sizes 512 2048 8192 65536] [--repeats 7] [--quick]
"""

import argparse
import math
import sys

import numpy as np
from common import IDEAL_GAME, header, interleaved, load_scenario, ratios, spread
from numba import njit

from gamesim import engine
from gamesim.vecmath import sum_of, vexp, vlog, wide_vectors

LR = 0.5
NAMES = ("lean", "twin", "fused", "hybrid")  # the references, as the table orders them
SCENARIO = IDEAL_GAME + """
[metrics]
distances = []
"""
_LANES = 64  # sums and maxima in 64 lanes: the loops vectorize without fast-math flags
_LOG_TINY = math.log(5e-324)  # gamesim's oracle counts log 0 as the log of the smallest double


def numpy_loop(p_d, theta, iterations, lr):
    """The same game in plain NumPy: softmax, oracle logit, generator gradient, mirror step."""
    log_pd = np.log(p_d)
    for _ in range(iterations):
        z = theta - theta.max()
        e = np.exp(z)
        p_g = e / e.sum()
        u = log_pd - np.log(p_g)
        g = -np.logaddexp(0.0, u)
        theta = theta - lr * g
        theta -= theta.max()
    return theta


def lean_loop(p_d, p_g, iterations, lr):
    """The loop a NumPy user writes: oracle D, minimax, mirror step with lr on the masses."""
    for _ in range(iterations):
        g = np.log(p_g / (p_d + p_g))  # dC/dp_g = log(1 - D*)
        p_g = p_g * np.exp(-lr * g)
        p_g /= p_g.sum()
    return p_g


@njit(cache=True, error_model="numpy")
def _masses_plus_data(p_d, e, scale, out):
    """out = p_d + e scale: p_d + p_g, whose log NumPy takes next."""
    for i in range(e.size):
        out[i] = p_d[i] + e[i] * scale


@njit(cache=True, error_model="numpy")
def _mirror(theta, log_both, log_total, lr):
    """theta <- theta - lr (log p_g - log(p_d + p_g)), log p_g = theta - log_total (clamped
    as gamesim's oracle clamps it), -inf kept; then the largest shifted to 0. Returns the
    number of NaN and +inf logits."""
    wide_vectors()
    top = np.full(_LANES, -math.inf)
    both_zero = -math.log(2.0)
    bad = 0
    n = theta.size
    for i0 in range(0, n, _LANES):
        for k in range(min(_LANES, n - i0)):
            t, lb = theta[i0 + k], log_both[i0 + k]
            g = max(t - log_total, _LOG_TINY) - lb
            g = both_zero if lb == -math.inf else g
            t = t if t == -math.inf else t - lr * g
            theta[i0 + k] = t
            top[k] = max(top[k], t)
            bad += not (t < math.inf)
    shift = -math.inf
    for k in range(_LANES):
        shift = max(shift, top[k])
    shift = shift if math.isfinite(shift) else 0.0
    for i in range(n):
        theta[i] -= shift
    return bad


@njit(cache=True, error_model="numpy")
def _fused(theta, p_d, lr, iterations, e):
    """``iterations`` mirror steps of the ideal game on the logits theta (largest 0), in
    place; ``e`` is scratch. Returns the number of NaN and +inf logits of the last step.
    Each loop is branch-free (selects only), so LLVM vectorizes it with gamesim.vecmath's
    exp and log: exp, sum, log of p_d + p_g, then the step with its maximum and the shift."""
    wide_vectors()
    bad = 0
    for _ in range(iterations):
        for i in range(theta.size):
            e[i] = vexp(theta[i])
        total = sum_of(e)
        scale = 1.0 / total
        for i in range(theta.size):
            e[i] = vlog(p_d[i] + e[i] * scale)
        bad = _mirror(theta, e, vlog(total), lr)
        if bad:
            break
    return bad


def hybrid_loop(p_d, theta, iterations, lr):
    """The fused prototype's step with NumPy's exp and log (SIMD with AVX-512F) and the rest
    in two Numba passes: exp, sum, p_d + p_g, log, step and max, shift."""
    e, both = np.empty(theta.size), np.empty(theta.size)
    for _ in range(iterations):
        np.exp(theta, out=e)
        total = e.sum()
        _masses_plus_data(p_d, e, 1.0 / total, both)
        np.log(both, out=both)
        if _mirror(theta, both, math.log(total), lr):
            raise FloatingPointError("a logit went non-finite")
    return theta


def fused_loop(p_d, theta, iterations, lr):
    """The fused prototype: one Numba call for all the iterations."""
    if _fused(theta, p_d, lr, iterations, np.empty(theta.size)):
        raise FloatingPointError("a logit went non-finite")
    return theta


def softmax(theta):
    e = np.exp(theta - theta.max())
    return e / e.sum()


def final_masses(sc, iterations):
    """gamesim's p_g after ``iterations``, from its last snapshot."""
    result = engine.run(sc)
    assert result.status == "completed" and result.snapshot_iterations[-1] == iterations
    return result.snapshot_p_gen[-1]


def measure(n, repeats, scale):
    k = max(100, int(scale / n))
    short = load_scenario(SCENARIO.format(case="ideal", iterations=k, points=n, lr=LR))
    long = load_scenario(SCENARIO.format(case="ideal", iterations=3 * k, points=n, lr=LR))
    engine.run(long)  # compile and warm up
    p_d = short.p_data
    p0 = short.generator.init.masses(short.grid)[0]
    theta0 = np.log(p0)
    reference = final_masses(short, k)
    finals = {"twin": softmax(numpy_loop(p_d, theta0.copy(), k, LR)),
              "lean": lean_loop(p_d, p0.copy(), k, LR),
              "fused": softmax(fused_loop(p_d, theta0 - theta0.max(), k, LR)),
              "hybrid": softmax(hybrid_loop(p_d, theta0 - theta0.max(), k, LR))}
    diffs = {name: float(np.max(np.abs(p - reference) / np.maximum(reference, 1e-300)))
             for name, p in finals.items()}
    fns = {"gs_short": lambda: engine.run(short), "gs_long": lambda: engine.run(long),
           "twin": lambda: numpy_loop(p_d, theta0.copy(), 2 * k, LR),
           "lean": lambda: lean_loop(p_d, p0.copy(), 2 * k, LR),
           "fused": lambda: fused_loop(p_d, theta0 - theta0.max(), 2 * k, LR),
           "hybrid": lambda: hybrid_loop(p_d, theta0 - theta0.max(), 2 * k, LR)}
    t = interleaved(fns, repeats)
    per_it = {"gamesim": [(b - a) / (2 * k) for a, b in zip(t["gs_short"], t["gs_long"])]}
    per_it.update({name: [s / (2 * k) for s in t[name]] for name in NAMES})
    return k, diffs, per_it


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048, 8192, 65536])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a smoke run (3 repeats, short)")
    args = parser.parse_args(argv)
    repeats, scale = (3, 2e5) if args.quick else (args.repeats, 2e6)
    header(__doc__.splitlines()[0])
    print(f"mirror lr {LR}; microseconds per iteration, median (range) of {repeats} "
          f"interleaved repeats; ratio = gamesim / reference per repeat (< 1: gamesim faster)")
    print(f"{'N':>6} {'K':>5} {'gamesim':>18} {'lean':>18} {'twin':>18} {'fused (vecmath)':>18} "
          f"{'fused (NumPy e/l)':>18} {'gs/lean':>16} {'gs/twin':>16} {'gs/fused':>16} "
          f"{'gs/fused NumPy':>16}  max rel. diff. of p_g from gamesim's after K")
    for n in args.sizes:
        k, diffs, t = measure(n, repeats, scale)
        digits = 2 if n < 8192 else 1
        cells = [f"{n:>6} {k:>5}", f"{spread(t['gamesim'], 1e6, digits):>18}"]
        cells += [f"{spread(t[name], 1e6, digits):>18}" for name in NAMES]
        cells += [f"{spread(ratios(t['gamesim'], t[name]), 1, 2):>16}" for name in NAMES]
        cells.append("  " + ", ".join(f"{diffs[name]:.1e}" for name in NAMES))
        print(" ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
