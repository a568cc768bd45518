"""Vectorized log/exp (gamesim.fastmath) against NumPy and a plain Numba math.log/math.exp loop.

For each N, prints the median time per element (ns) of

* ``np.log(x, out=out)`` / ``np.exp(x, out=out)`` (NumPy ufunc, libm per element on AVX2),
* an ``@njit`` loop ``out[i] = math.log(x[i])`` (scalar libm calls: no SVML since Numba 0.62),
* ``log_into(x, out)`` / ``exp_into(x, out)`` and the same in place (``out is x``),

and the ratios of the first two to ``*_into``. The methods are interleaved within each repeat
(the machine is shared), and each timing is the median of ``--repeats`` repeats of a batch of
calls about ``--batch`` elements long; the minimum over repeats (the cost without contention
from other processes) is printed below each table. Inputs: log on log-uniform values in
[1e-300, 1e300], exp on uniform values in [-40, 0] (softmax exponents); the ``*_into`` timings
do not depend on the values (no branches).

    python benchmarks/bench_fastmath.py [--sizes 512 8192 65536] [--repeats 41]
"""

import argparse
import math
import statistics
import time

import numpy as np
from numba import njit

from gamesim.fastmath import exp_into, log_into


@njit(cache=True)
def njit_log(x, out):
    for i in range(x.size):
        out[i] = math.log(x[i])
    return out


@njit(cache=True)
def njit_exp(x, out):
    for i in range(x.size):
        out[i] = math.exp(x[i])
    return out


def variants(kind, x, out, scratch):
    """name -> zero-argument callable. The in-place one overwrites ``scratch``, which is reset
    before each batch; within a batch its values drift (to inf or nan), which the
    branch-free kernels do not care about (no special-value slow path)."""
    if kind == "log":
        return {
            "np.log": lambda: np.log(x, out=out),
            "njit math.log": lambda: njit_log(x, out),
            "log_into": lambda: log_into(x, out),
            "log_into in place": lambda: log_into(scratch, scratch),
        }
    return {
        "np.exp": lambda: np.exp(x, out=out),
        "njit math.exp": lambda: njit_exp(x, out),
        "exp_into": lambda: exp_into(x, out),
        "exp_into in place": lambda: exp_into(scratch, scratch),
    }


def bench(kind, n, repeats, batch, rng):
    if kind == "log":
        x = np.exp(rng.uniform(-690.0, 690.0, n))
    else:
        x = rng.uniform(-40.0, 0.0, n)
    out = np.empty_like(x)
    scratch = x.copy()
    funcs = variants(kind, x, out, scratch)
    for f in funcs.values():  # compile / load from cache, warm up
        f()
    calls = max(1, batch // n)
    samples = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, f in funcs.items():
            if "place" in name:
                scratch[:] = x
            start = time.perf_counter()
            for _ in range(calls):
                f()
            samples[name].append((time.perf_counter() - start) / (calls * n) * 1e9)
    return ({name: statistics.median(s) for name, s in samples.items()},
            {name: min(s) for name, s in samples.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 8192, 65536])
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--batch", type=int, default=1 << 18,
                        help="elements per timed batch (calls = batch // N)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for kind in ("log", "exp"):
        results = {n: bench(kind, n, args.repeats, args.batch, rng) for n in args.sizes}
        names = list(results[args.sizes[0]][0])
        for label, which in (("median", 0), ("min", 1)):
            print(f"\n{kind}: {label} ns per element ({args.repeats} repeats)")
            print(f"{'N':>7}" + "".join(f"{name:>19}" for name in names)
                  + f"{'np / into':>11}{'njit / into':>13}")
            for n in args.sizes:
                t = results[n][which]
                fast = t[f"{kind}_into"]
                print(f"{n:>7}" + "".join(f"{t[name]:>19.2f}" for name in names)
                      + f"{t[names[0]] / fast:>11.2f}{t[names[1]] / fast:>13.2f}")

if __name__ == "__main__":
    main()
