"""Sweep throughput: 256 points of the ideal game (N = 512, 2000 iterations), 1 vs 2 processes.

Each point is a full run (validation, simulation, run directory without plots). Prints the
median wall time of each configuration over a few repeats and the speed-up.

    python benchmarks/bench_sweep.py [--points 256] [--repeats 3]
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
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="gamesim-bench-sweep-")
    path = os.path.join(work, "sweep.toml")
    lrs = [round(0.05 + 0.9 * i / args.points, 6) for i in range(args.points)]
    with open(path, "w") as f:
        f.write(SCENARIO.format(lrs=lrs))
    times = {}
    try:
        sweep.run_sweep(path, os.path.join(work, "warm"), jobs=1)  # compile and warm up
        for jobs in (1, 2):
            runs = []
            for r in range(args.repeats):
                out = os.path.join(work, f"j{jobs}-{r}")
                start = time.perf_counter()
                sweep.run_sweep(path, out, jobs=jobs)
                runs.append(time.perf_counter() - start)
                shutil.rmtree(out)
            times[jobs] = statistics.median(runs)
            print(f"jobs={jobs}: {times[jobs]:.2f} s for {args.points} points "
                  f"({args.points / times[jobs]:.1f} points/s)")
        print(f"speed-up with 2 processes: {times[1] / times[2]:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
