"""Sweep throughput and memory.

Speed: 256 points of the ideal game (N = 512, 2000 iterations, each point about 25 ms), the
sweep folder written (sweep.csv, plot, page; no point directories, the default). Timed, in
interleaved repeats so that a busy neighbour slows every configuration alike:

- "back to back": the same simulations one after another in this process, each point loaded
  and run with the API (``gamesim.run(scenario, {lr})``, nothing written), as a user's loop
  would; and "engine only", the scenarios loaded beforehand and only ``engine.run`` timed;
- ``--jobs 1`` and ``--jobs 2`` sweeps;
- "2 independent halves": two forked processes each running half the points back to back,
  the reference for the speed-up: what two processes can do on this machine at the time (a
  shared machine gives less than 2x even to independent work).

Printed: the median and range of each one's wall and CPU time (its own and its workers'),
of the ratios jobs 1 / back to back and jobs 1 / engine only, of the speed-up jobs 1 / jobs 2
(wall times: it needs two idle cores), and of the CPU times of jobs 1 over back to back and
of jobs 2 over jobs 1 (what the sweep and its workers cost, whatever else the machine is
doing).

Memory: sweeps of 1,000 and 10,000 tiny points (N = 64, 10 iterations) with ``--jobs 2``, each
in a fresh process, which prints its own peak RSS (the parent) and the largest of its
children's (the workers), and the size of its rows in memory (the rows of sweep.csv, which
the parent keeps for the plot and the page). Memory is flat if the workers' peak stays put
from 1,000 to 10,000 points and the parent's grows by what the rows take, and the page built
from them (plotly's figure and the table of the points) while it is written.

    python benchmarks/bench_sweep.py [--points 256] [--repeats 5] [--memory-repeats 5]
"""

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import gamesim
from gamesim import engine, plugins, sweep
from gamesim.sources import Source

SCENARIO = """
iterations = {iterations}
record_every = {record_every}
[grid]
points = {points}
[target]
kind = "normal"
[generator]
kind = "density"
init = {{ kind = "normal", mean = 1.0, std = 2.0 }}
[metrics]
distances = ["js", "tv"]
"""
SPEED = {"iterations": 2000, "record_every": 100, "points": 512}
TINY = {"iterations": 10, "record_every": 5, "points": 64}

# run in a fresh process: one sweep of tiny points, then its peak memory as JSON
MEMORY_CHILD = """
import json, resource, sys
from gamesim import sweep
path, out = sys.argv[1], sys.argv[2]
rows, _ = sweep.run_sweep(path, out, jobs=2)

def size(value):  # the rows' own memory: dicts, keys and values
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(size(k) + size(v) for k, v in value.items())
    if isinstance(value, list):
        return sys.getsizeof(value) + sum(size(v) for v in value)
    return sys.getsizeof(value)

kib = 1024
# this process's peak from /proc: its ru_maxrss would count the benchmark's own memory, which
# Linux carries across the exec that started it; the forked workers' ru_maxrss is theirs
with open("/proc/self/status") as f:
    parent = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(json.dumps({"parent": parent * kib,
                  "workers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * kib,
                  "rows": size(rows), "points": len(rows),
                  "completed": sum(r["status"] == "completed" for r in rows)}))
"""


def write_scenario(path, sizes, lrs=None):
    with open(path, "w") as f:
        f.write(SCENARIO.format(**sizes))
        if lrs is not None:
            f.write(f'[sweep]\n"generator.optimizer.lr" = {lrs}\n')


def back_to_back(single, lrs):
    """The points one after another in this process, as a user's loop would run them."""
    for lr in lrs:
        run = gamesim.run(single, {"generator.optimizer.lr": lr})
        if run.status != "completed":
            sys.exit(f"lr = {lr}: {run.status}")


def independent_halves(single, lrs):
    """Two forked processes, each running half the points back to back; waits for both. What
    two processes can do on this machine at the time, free of any sweep machinery."""
    context = multiprocessing.get_context("fork")
    halves = [context.Process(target=back_to_back, args=(single, lrs[i::2])) for i in range(2)]
    for half in halves:
        half.start()
    for half in halves:
        half.join()
        if half.exitcode:
            sys.exit(f"a half failed (exit {half.exitcode})")


def engine_only(single, lrs):
    """Only the simulations: the scenarios loaded beforehand, outside the time."""
    source = Source(path=single)
    scenarios = [source.load([("generator.optimizer.lr", lr)]) for lr in lrs]
    start = time.perf_counter()
    for sc in scenarios:
        engine.run(sc, None, plugins.observers())
    return time.perf_counter() - start


def spread(values):
    return (f"median {statistics.median(values):.3f} (range {min(values):.3f}-"
            f"{max(values):.3f}; {', '.join(f'{v:.3f}' for v in values)})")


def cpu_seconds():
    """CPU time of this process and of its children that ended (a sweep's workers)."""
    return sum(getattr(resource.getrusage(who), field)
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for field in ("ru_utime", "ru_stime"))


def speed(work, points, repeats):
    path, single = os.path.join(work, "sweep.toml"), os.path.join(work, "single.toml")
    lrs = [round(0.05 + 0.9 * i / points, 6) for i in range(points)]
    write_scenario(path, SPEED, lrs)
    write_scenario(single, SPEED)
    configs = {"back to back": lambda out: back_to_back(single, lrs),
               "engine only": lambda out: engine_only(single, lrs),
               "jobs=1": lambda out: sweep.run_sweep(path, out, jobs=1),
               "jobs=2": lambda out: sweep.run_sweep(path, out, jobs=2),
               "2 independent halves": lambda out: independent_halves(single, lrs)}
    wall = {name: [] for name in configs}
    cpu = {name: [] for name in configs}
    sweep.run_sweep(path, os.path.join(work, "warm"), jobs=1)  # compile, import, warm up
    for r in range(repeats):
        for i, (name, run) in enumerate(configs.items()):
            out = os.path.join(work, f"run-{r}-{i}")
            start, used = time.perf_counter(), cpu_seconds()
            timed = run(out)
            wall[name].append(timed if name == "engine only" else time.perf_counter() - start)
            cpu[name].append(cpu_seconds() - used)  # engine only: its loading included
            shutil.rmtree(out, ignore_errors=True)
    print(f"speed: {points} points of N = {SPEED['points']}, {SPEED['iterations']} iterations; "
          f"{repeats} interleaved repeats; load average {os.getloadavg()[0]:.2f} at the end")
    for name in configs:
        print(f"  {name}: wall {spread(wall[name])} s "
              f"({points / statistics.median(wall[name]):.1f} points/s); "
              f"CPU {spread(cpu[name])} s")
    ratios = {"jobs=1 / back to back": ("jobs=1", "back to back"),
              "jobs=1 / engine only": ("jobs=1", "engine only"),
              "speed-up of jobs=2 over jobs=1": ("jobs=1", "jobs=2"),
              "speed-up of 2 independent halves over back to back":
                  ("back to back", "2 independent halves")}
    for label, (a, b) in ratios.items():
        x = [ta / tb for ta, tb in zip(wall[a], wall[b])]
        print(f"  {label}: {spread(x)}")
    # CPU times: what the sweep machinery costs, whatever else the machine is doing
    for label, (a, b) in {"jobs=1 / back to back": ("jobs=1", "back to back"),
                          "jobs=2 / jobs=1 (the workers' cost)": ("jobs=2", "jobs=1")}.items():
        x = [ta / tb for ta, tb in zip(cpu[a], cpu[b])]
        print(f"  CPU time of {label}: {spread(x)}")


def memory(work, counts, repeats):
    found = {count: [] for count in counts}
    for count in counts:
        with open(os.path.join(work, f"tiny-{count}.toml"), "w") as f:
            f.write(SCENARIO.format(**TINY) + f"[sweep]\nseed = {list(range(count))}\n")
    for r in range(repeats):
        for count in counts:
            path, out = (os.path.join(work, f"tiny-{count}{end}") for end in (".toml", f"-{r}"))
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, path, out],
                                  capture_output=True, text=True, check=True)
            figures = json.loads(proc.stdout)
            figures["seconds"] = time.perf_counter() - start
            figures["csv"] = os.path.getsize(os.path.join(out, "sweep.csv"))
            if figures["completed"] != count:
                sys.exit(f"{count} tiny points: only {figures['completed']} completed")
            found[count].append(figures)
            shutil.rmtree(out, ignore_errors=True)
    mib = 2 ** 20
    print(f"memory: tiny points (N = {TINY['points']}, {TINY['iterations']} iterations), "
          f"--jobs 2, each sweep in a fresh process; {repeats} interleaved repeats; load "
          f"average {os.getloadavg()[0]:.2f} at the end")
    for count, runs in found.items():
        print(f"  {count} points: " + "; ".join(
            f"{what} {spread([f[key] / scale for f in runs])} {unit}"
            for what, key, scale, unit in (("parent peak RSS", "parent", mib, "MiB"),
                                           ("workers' peak RSS", "workers", mib, "MiB"),
                                           ("rows in memory", "rows", mib, "MiB"),
                                           ("sweep.csv", "csv", mib, "MiB"),
                                           ("wall", "seconds", 1, "s"))))
    low, high = counts[0], counts[-1]
    for what in ("parent", "workers", "rows"):
        growth = [(b[what] - a[what]) / mib for a, b in zip(found[low], found[high])]
        print(f"  growth of {what} from {low} to {high} points: {spread(growth)} MiB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-repeats", type=int, default=5)
    parser.add_argument("--memory-points", type=int, nargs=2, default=[1000, 10000])
    parser.add_argument("--skip", choices=("speed", "memory"), help="leave one part out")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="gamesim-bench-sweep-")
    try:
        if args.skip != "speed":
            speed(work, args.points, args.repeats)
        if args.skip != "memory":
            memory(work, args.memory_points, args.memory_repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
