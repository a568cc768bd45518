"""Per-iteration cost of the ideal game against a plain NumPy loop doing the same work.

The game: free density generator (softmax logits), oracle discriminator u* = log p_d - log p_g,
minimax generator gradient -softplus(u), a mirror step with lr 0.5 (lr = 1 would allow the
algebraic shortcut p <- (p + p_d)/2). gamesim's time is its whole engine loop (plugin calls
included, recording only at the ends). Prints medians of several interleaved repeats and the
median and range of the ratios NumPy / gamesim of each pair (> 1 means gamesim is faster).

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048, 8192, 65536])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    print(f"{'N':>7} {'iters':>6} {'numpy us/it':>12} {'gamesim us/it':>14} {'ratio':>6}  range")
    for n in args.sizes:
        iterations = max(200, 4_000_000 // n)
        sc = load_scenario(SCENARIO.format(case="ideal", iterations=iterations, points=n,
                                           lr=0.5))
        engine.run(sc)  # compile and warm up
        theta0 = np.log(sc.generator.init.masses(sc.grid)[0])
        t_np, t_gs = [], []
        for _ in range(args.repeats):  # interleaved, so a busy neighbour slows both alike
            t_np.append(seconds(lambda: numpy_loop(sc.p_data, theta0.copy(), iterations, 0.5)))
            t_gs.append(seconds(lambda: engine.run(sc)))
        ratios = sorted(a / b for a, b in zip(t_np, t_gs))
        print(f"{n:>7} {iterations:>6} {1e6 * statistics.median(t_np) / iterations:>12.2f} "
              f"{1e6 * statistics.median(t_gs) / iterations:>14.2f} "
              f"{statistics.median(ratios):>6.2f}  {ratios[0]:.2f}-{ratios[-1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
