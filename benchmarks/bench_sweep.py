"""Sweep throughput: 256 points of the ideal game (N = 512, 2000 iterations), 1 vs 2 processes.

Each point is a full run (validation, simulation, run directory without plots). Prints the
median wall time of each configuration over a few interleaved repeats and the median speed-up
of consecutive pairs.

Also timed, as the reference for the speed-up: two independent processes side by side, each
running half the points one after another (as a sweep's worker does, without the sweep's
sweep.csv and plot). Their speed-up is what two processes can do on this machine at the time
(a shared or virtual machine gives less than 2x even to independent work); the sweep's own
overhead is the gap between the two.

    python benchmarks/bench_sweep.py [--points 256] [--repeats 5]
"""

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time

from gamesim import sweep

SCENARIO = """
iterations = 2000
record_every = 100
[grid]
points = 512
[target]
kind = "normal"
[generator]
kind = "density"
init = {{ kind = "normal", mean = 1.0, std = 2.0 }}
[metrics]
distances = ["js", "tv"]
[sweep]
"generator.optimizer.lr" = {lrs}
"""


def run_points(path, lrs, out):
    """Run the points with these learning rates one after another, as a sweep's worker does."""
    for i, lr in enumerate(lrs):
        row = sweep.run_point(path, [("generator.optimizer.lr", lr)], [],
                              os.path.join(out, str(i)), False)
        if row["status"] != "completed":
            sys.exit(f"lr = {lr}: {row['status']} {row['error']}")


def independent_halves(path, lrs, out):
    """Two forked processes, each running half the points; waits for both."""
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=run_points,
                               args=(path, lrs[i::2], os.path.join(out, str(i))))
               for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
        if w.exitcode:
            sys.exit(f"a half failed (exit {w.exitcode})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="gamesim-bench-sweep-")
    path = os.path.join(work, "sweep.toml")
    lrs = [round(0.05 + 0.9 * i / args.points, 6) for i in range(args.points)]
    with open(path, "w") as f:
        f.write(SCENARIO.format(lrs=lrs))
    configs = {"jobs=1": lambda out: sweep.run_sweep(path, out, jobs=1),
               "jobs=2": lambda out: sweep.run_sweep(path, out, jobs=2),
               "2 independent halves": lambda out: independent_halves(path, lrs, out)}
    runs = {name: [] for name in configs}
    try:
        sweep.run_sweep(path, os.path.join(work, "warm"), jobs=1)  # compile and warm up
        # interleaved, so that a busy neighbour slows every configuration alike; speed-ups
        # are the medians of the ratios within each repeat
        for r in range(args.repeats):
            for i, (name, run) in enumerate(configs.items()):
                out = os.path.join(work, f"run-{r}-{i}")
                start = time.perf_counter()
                run(out)
                runs[name].append(time.perf_counter() - start)
                shutil.rmtree(out, ignore_errors=True)
        for name, times in runs.items():
            median = statistics.median(times)
            print(f"{name}: median {median:.2f} s for {args.points} points "
                  f"({args.points / median:.1f} points/s; runs {', '.join(f'{t:.2f}' for t in times)})")
        for name in ("jobs=2", "2 independent halves"):
            ratios = [one / t for one, t in zip(runs["jobs=1"], runs[name])]
            print(f"speed-up of {name}: median {statistics.median(ratios):.2f}x "
                  f"(repeats {', '.join(f'{x:.2f}' for x in ratios)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
