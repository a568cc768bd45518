"""Reading a large CSV data file: the ``samples`` target on 10^7 rows (about 95 MB).

Writes a CSV with a header and one column ``x`` (random normals to 5 decimals)
into a temporary folder and builds a ``samples`` target reading column ``x`` as a scenario
would (a histogram, so that the timing is the reader's). Each repeat runs in a child process
of its own, since ``ru_maxrss`` is a process-lifetime peak: the time is the median of the
children's, the memory the largest peak resident set any child reached (imports included,
about 100 MB).

    python benchmarks/bench_csv.py [--rows 10000000] [--repeats 3]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

MB = 1e6


def write_csv(path, rows):
    """``rows`` data rows of one float column under the header ``x``."""
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        f.write("x\n")
        for start in range(0, rows, 1_000_000):
            np.savetxt(f, rng.normal(size=min(1_000_000, rows - start)), fmt="%.5f")


def child(path):
    """Load ``path`` through the samples target; print its size and the seconds taken."""
    from gamesim import plugins
    from gamesim.params import build

    registry = plugins.registry()
    where = os.path.join(os.path.dirname(path), "scenario.toml")
    start = time.perf_counter()
    target, _ = build(registry, "target", {"kind": "samples", "path": os.path.basename(path),
                                           "column": "x", "method": "histogram"},
                      where, "target")
    print(json.dumps({"seconds": time.perf_counter() - start, "values": target.sample.size}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.csv")
        write_csv(path, args.rows)
        size = os.path.getsize(path)
        times, peaks = [], []
        for _ in range(args.repeats):
            done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path],
                                  capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            assert result["values"] == args.rows, result
            times.append(result["seconds"])
            # the largest peak of the children waited for so far, in KiB on Linux
            peaks.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
    print(f"{args.rows:,} rows, {size / MB:.0f} MB: load {statistics.median(times):.2f} s "
          f"(median of {args.repeats}: {', '.join(f'{t:.2f}' for t in times)}), "
          f"peak RSS {max(peaks) / MB:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
