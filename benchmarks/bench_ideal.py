"""Per-iteration cost of the ideal game against two plain NumPy loops.

The twin does gamesim's own work (logits, softmax, oracle logit, softplus gradient); the lean
loop is what a NumPy user would write instead, on the masses themselves:
``p_g <- p_g exp(-lr log(p_g / (p_d + p_g)))``, normalized (the same mirror step, fewer
operations, no logits).

The game: free density generator (softmax logits), oracle discriminator u* = log p_d - log p_g,
minimax generator gradient -softplus(u), a mirror step with lr 0.5 (lr = 1 would allow the
algebraic shortcut p <- (p + p_d)/2). gamesim's time is its whole engine loop (plugin calls
included, recording only at the ends). Prints medians of several interleaved repeats and the
median and range of the ratios NumPy / gamesim of each triple (> 1 means gamesim is faster).

    python benchmarks/bench_ideal.py [--sizes 512 2048 8192 65536] [--repeats 9]
"""

import argparse
import statistics
import sys

import numpy as np

from common import IDEAL_GAME, load_scenario, seconds

from gamesim import engine

SCENARIO = IDEAL_GAME + """
[metrics]
distances = []
"""


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048, 8192, 65536])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    print(f"{'N':>7} {'iters':>6} {'twin us/it':>11} {'lean us/it':>11} {'gamesim us/it':>14} "
          f"{'twin/gs':>8}  range      {'lean/gs':>8}  range")
    for n in args.sizes:
        iterations = max(200, 4_000_000 // n)
        sc = load_scenario(SCENARIO.format(case="ideal", iterations=iterations, points=n,
                                           lr=0.5))
        engine.run(sc)  # compile and warm up
        p0 = sc.generator.init.masses(sc.grid)[0]
        theta0 = np.log(p0)
        t_np, t_lean, t_gs = [], [], []
        for _ in range(args.repeats):  # interleaved, so a busy neighbour slows all alike
            t_np.append(seconds(lambda: numpy_loop(sc.p_data, theta0.copy(), iterations, 0.5)))
            t_lean.append(seconds(lambda: lean_loop(sc.p_data, p0.copy(), iterations, 0.5)))
            t_gs.append(seconds(lambda: engine.run(sc)))
        cells = [f"{n:>7} {iterations:>6}"]
        cells += [f"{1e6 * statistics.median(t) / iterations:>{w}.2f}"
                  for t, w in ((t_np, 11), (t_lean, 11), (t_gs, 14))]
        for reference in (t_np, t_lean):
            ratios = sorted(a / b for a, b in zip(reference, t_gs))
            cells.append(f"{statistics.median(ratios):>8.2f}  {ratios[0]:.2f}-{ratios[-1]:.2f}")
        print(" ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
