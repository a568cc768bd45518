"""Sweep throughput: 256 points of the ideal game (N = 512, 2000 iterations), 1 vs 2 processes.

Each point is a full run (validation, simulation, run directory without plots). Prints the
median wall time of each configuration over a few interleaved repeats and the median speed-up
of consecutive pairs.

    python benchmarks/bench_sweep.py [--points 256] [--repeats 5]
"""

import argparse
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
    runs = {1: [], 2: []}
    try:
        sweep.run_sweep(path, os.path.join(work, "warm"), jobs=1)  # compile and warm up
        # interleaved, so that a busy neighbour slows both configurations alike; the speed-up
        # is the median of the ratios of consecutive pairs
        for r in range(args.repeats):
            for jobs in (1, 2):
                out = os.path.join(work, f"j{jobs}-{r}")
                start = time.perf_counter()
                sweep.run_sweep(path, out, jobs=jobs)
                runs[jobs].append(time.perf_counter() - start)
                shutil.rmtree(out)
        for jobs, times in runs.items():
            median = statistics.median(times)
            print(f"jobs={jobs}: median {median:.2f} s for {args.points} points "
                  f"({args.points / median:.1f} points/s; runs {', '.join(f'{t:.2f}' for t in times)})")
        ratios = [one / two for one, two in zip(runs[1], runs[2])]
        print(f"speed-up with 2 processes: median {statistics.median(ratios):.2f}x "
              f"(pairs {', '.join(f'{x:.2f}' for x in ratios)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
