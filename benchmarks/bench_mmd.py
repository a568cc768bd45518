"""MMD value and gradient on the grid: FFT convolution against the direct product.

Times one evaluation of the ``mmd`` plugin's value plus gradient (two products K v) with
``method = "fft"`` and ``method = "direct"`` (the matrix-free O(N^2) Numba double loop), on a
smooth p against a q with a high-frequency perturbation, and prints medians of several repeats,
the ratio direct / FFT and their disagreement, in units of the absolute tolerance
1e-12 x ||p - q||_1^2 x max|k| (a relative tolerance is meaningless when p - q is
high-frequency and the value is rounding noise). ``--crossover`` times both methods at small N,
which is how kernel_distances.FFT_FROM was chosen.

    python benchmarks/bench_mmd.py [--sizes 65536] [--repeats 5] [--crossover]
"""

import argparse

import numpy as np
from common import median_seconds

from gamesim.grid import Grid
from gamesim_plugins.kernel_distances import MMD


def make_mmd(grid, method, kernel="gaussian", bandwidth=(0.1, 0.5, 2.0)):
    mmd = MMD()
    mmd.kernel, mmd.bandwidth, mmd.method = kernel, list(bandwidth), method
    mmd.setup(grid)
    return mmd


def masses(grid, seed=0):
    """A two-bump p and a q that is p shifted, with cell-scale noise (the hard case)."""
    x = grid.x
    p = np.exp(-0.5 * ((x + 2.0) / 0.5) ** 2) * 0.3 + np.exp(-0.5 * ((x - 1.5) / 1.0) ** 2)
    noise = np.random.default_rng(seed).random(x.size)
    q = np.exp(-0.5 * ((x - 0.3) / 2.0) ** 2) * (1.0 + 0.5 * noise)
    return p / p.sum(), q / q.sum()


def compare(n, repeats, kernel="gaussian", bandwidth=(0.1, 0.5, 2.0)):
    """(direct seconds, fft seconds, worst disagreement / tolerance) at n cells."""
    grid = Grid(-8.0, 8.0, n)
    p, q = masses(grid)
    fft = make_mmd(grid, "fft", kernel, bandwidth)
    direct = make_mmd(grid, "direct", kernel, bandwidth)
    results = {}
    for name, mmd in (("fft", fft), ("direct", direct)):
        mmd.value(p, q), mmd.grad(p, q)  # compile, warm caches
        results[name] = (mmd.value(p, q), mmd.grad(p, q))
        results[name + "_t"] = median_seconds(lambda: (mmd.value(p, q), mmd.grad(p, q)), repeats)
    tol = 1e-12 * np.abs(p - q).sum() ** 2 * np.abs(fft.c).max()
    # the gradient 2 K (q - p) is tested per entry against the same scale
    worst = max(abs(results["fft"][0] - results["direct"][0]),
                float(np.abs(results["fft"][1] - results["direct"][1]).max()))
    return results["direct_t"], results["fft_t"], worst / tol


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[65536])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--crossover", action="store_true",
                        help="also time both methods at N = 32 .. 1024")
    args = parser.parse_args(argv)
    if args.crossover:
        print(f"{'N':>6} {'direct us':>10} {'fft us':>10} {'direct/fft':>10}")
        for n in (32, 64, 96, 128, 192, 256, 512, 1024):
            d, f, _ = compare(n, max(args.repeats, 51))
            print(f"{n:>6} {d * 1e6:>10.1f} {f * 1e6:>10.1f} {d / f:>10.2f}")
    print(f"{'N':>6} {'kernel':>9} {'direct s':>10} {'fft ms':>9} {'direct/fft':>11} "
          f"{'err/tol':>8}")
    for n in args.sizes:
        for kernel, bw in (("gaussian", (0.1, 0.5, 2.0)), ("energy", (1.0,))):
            d, f, err = compare(n, args.repeats, kernel, bw)
            print(f"{n:>6} {kernel:>9} {d:>10.3f} {f * 1e3:>9.2f} {d / f:>11.0f} {err:>8.2g}")


if __name__ == "__main__":
    main()
