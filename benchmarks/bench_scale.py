"""Scale: the ideal game and the direct FFT-MMD route on a grid of 1,000,000 cells.

Two scenarios, written to a temporary folder, loaded by ``gamesim.scenario.load`` and run by
``gamesim.engine.run`` (the real engine, recording the default metrics js, kl, w1 and tv):

- ``ideal``: free ``density`` generator with the ``mirror`` optimizer (lr 0.5, so that no
  algebraic shortcut applies), ``oracle`` discriminator, ``minimax`` objective;
- ``direct``: the same generator descending the squared MMD, Gaussian kernel with bandwidths
  [0.1, 0.5, 2.0], computed by FFT convolution (``[game] mode = "direct"``).

Each case runs in a child process of its own, because ``ru_maxrss`` is a process-lifetime
peak: one case's arrays must not count towards the other's. A child times runs of K and 2K
iterations (medians of ``--repeats``); both record the same rows and snapshots (the first
and the last), so (t(2K) - t(K)) / K is the cost of one iteration with the recording cancelled
out. K defaults to 50 for the ideal game and 20 for the direct route, about 1 and 3 seconds
at N = 10^6: at 1e6 cells an iteration's time varies by tens of percent from run to run,
with how often glibc's malloc hands back fresh pages for the 8 MB temporaries. The time of a
run of 0 iterations (set-up of the run, one recorded row, one snapshot) is printed as well.
Memory is reported as

- ``ru_maxrss``, the resident set peak of the child: at its start (the bare interpreter),
  after importing gamesim and its plugins (Numba and LLVM included), after loading the
  scenario, and at the end;
- the ``tracemalloc`` peak of one run of K iterations: NumPy reports its array buffers to
  tracemalloc, so this is the largest amount of array data alive at once during a run, also
  given in units of one N-cell float64 array (8 MB at N = 10^6). Memory Numba's runtime
  allocates inside a kernel is not traced (the engine's kernels write into arrays allocated
  by NumPy, so there is little of it).

For comparison it prints what the dense N x N kernel matrix of MMD would need.

``--before DIR`` compares with another version of gamesim: DIR is an export of it (``git
archive HEAD | tar -x -C DIR``, with its ``gamesim`` and ``plugins`` folders); its children
import that version (through PYTHONPATH), the others this one, run in turn, before and after,
``--rounds`` times, and the time per iteration and the peak RSS are printed side by side as
medians and ranges over the rounds.

    python benchmarks/bench_scale.py [--points 1000000] [--iterations K] [--repeats 3]
                                     [--cases ideal direct] [--before DIR [--rounds 5]]
"""

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

from common import IDEAL_GAME, median_seconds, spread



GAMES = {
    "ideal": """
[discriminator]
kind = "oracle"
[game]
mode = "adversarial"
objective = "minimax"
""",
    "direct": """
[game]
mode = "direct"
distance = { kind = "mmd", kernel = "gaussian", bandwidth = [0.1, 0.5, 2.0], method = "fft" }
""",
}

ITERATIONS = {"ideal": 50, "direct": 20}  # K of each case unless --iterations is given
MB = 1024.0 ** 2


def scenario_text(case, points, iterations):
    """The TOML scenario of ``case`` ("ideal" or "direct") on ``points`` cells."""
    return IDEAL_GAME.format(case=case, points=points, iterations=iterations, lr=0.5) + GAMES[case]


def max_rss():
    """Peak resident set size of this process so far, in bytes (Linux reports KiB, macOS
    bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def measure(case, points, iterations, repeats):
    """Time and memory of one case in this process; a dict of plain numbers (see the module
    docstring for what each means)."""
    rss_python = max_rss()
    import gamesim
    from gamesim import engine, plugins, scenario

    plugins.registry()  # imports the built-in plugins and their cached Numba kernels
    rss_imports = max_rss()

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"scale-{case}.toml")
        with open(path, "w") as f:
            f.write(scenario_text(case, points, iterations))
        start = time.perf_counter()
        sc = scenario.load(path)
        load_seconds = time.perf_counter() - start
    rss_loaded = max_rss()

    result = engine.run(sc)  # warm-up: loads (or compiles) the cached kernels
    if result.status != "completed":
        raise RuntimeError(f"{case}: the run ended {result.status}: {result.failure}")
    # the same loaded scenario run twice as long, rather than a second load of the file,
    # which would hold a second copy of its arrays (and of the FFT spectrum)
    longer = dataclasses.replace(sc, iterations=2 * iterations)
    empty = dataclasses.replace(sc, iterations=0)
    t_short = median_seconds(lambda: engine.run(sc), repeats)
    t_long = median_seconds(lambda: engine.run(longer), repeats)
    t_empty = median_seconds(lambda: engine.run(empty), repeats)

    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    engine.run(sc)
    traced_peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()

    final = dict(zip(result.columns, result.rows[-1]))
    return {
        "case": case, "points": points, "iterations": iterations, "repeats": repeats,
        "load_s": load_seconds,
        "per_iteration_s": (t_long - t_short) / iterations,
        "empty_run_s": t_empty,
        "traced_peak_bytes": traced_peak,
        "rss_python_bytes": rss_python, "rss_imports_bytes": rss_imports,
        "rss_loaded_bytes": rss_loaded, "rss_peak_bytes": max_rss(),
        "final_value": final["value"], "final_tv": final.get("tv", float("nan")),
        "gamesim": os.path.dirname(gamesim.__file__),
    }


def importable(export, folder):
    """A folder for PYTHONPATH in which ``gamesim`` and ``gamesim_plugins`` are the export's
    (its ``gamesim`` and ``plugins`` folders, linked)."""
    for name, source in (("gamesim", "gamesim"), ("gamesim_plugins", "plugins")):
        os.symlink(os.path.join(os.path.abspath(export), source), os.path.join(folder, name))
    return folder


def run_child(case, points, iterations, repeats, path=None):
    """``measure`` in a fresh interpreter, so that its ru_maxrss is this case's alone; with
    ``path``, importing the gamesim found there."""
    command = [sys.executable, os.path.abspath(__file__), "--child", case, "--points",
               str(points), "--iterations", str(iterations), "--repeats", str(repeats)]
    env = None if path is None else {**os.environ, "PYTHONPATH": path}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{case} failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(rows, points):
    """Print the measurements and the dense-matrix comparison."""
    array_bytes = 8.0 * points
    print(f"N = {points:,} cells; one N-cell float64 array = {array_bytes / MB:.1f} MiB")
    print(f"{'case':>7} {'K':>5} {'ms/iter':>9} {'ns/cell':>8} {'0-iter s':>8} "
          f"{'load s':>7} {'traced MiB':>11} {'(arrays)':>8} {'RSS MiB: python':>16} "
          f"{'imports':>8} {'loaded':>7} {'peak':>6}")
    for r in rows:
        print(f"{r['case']:>7} {r['iterations']:>5} {r['per_iteration_s'] * 1e3:>9.1f} "
              f"{r['per_iteration_s'] / points * 1e9:>8.1f} {r['empty_run_s']:>8.2f} "
              f"{r['load_s']:>7.2f} {r['traced_peak_bytes'] / MB:>11.1f} "
              f"{r['traced_peak_bytes'] / array_bytes:>8.1f} "
              f"{r['rss_python_bytes'] / MB:>16.0f} {r['rss_imports_bytes'] / MB:>8.0f} "
              f"{r['rss_loaded_bytes'] / MB:>7.0f} {r['rss_peak_bytes'] / MB:>6.0f}")
    for r in rows:
        print(f"{r['case']}: after {r['iterations']} iterations value = {r['final_value']:.6g}, "
              f"tv = {r['final_tv']:.3g}")
    from gamesim_plugins.kernel_distances import fft_length
    length = fft_length(points)
    # the FFT route holds the padded kernel's spectrum and, per product, a padded transform
    spectrum = 16.0 * (length // 2 + 1)
    print(f"MMD's kernel as a dense N x N float64 matrix: {8.0 * points ** 2 / 1e12:,.1f} TB "
          f"({8.0 * points ** 2 / MB:,.0f} MiB); the FFT route's padded length is {length:,} "
          f"and its kernel spectrum {spectrum / MB:.1f} MiB")


def compare(rounds_by_version, points):
    """Print each case's time per iteration and peak RSS, before and after, as medians and
    ranges over the rounds, with the ratio of the medians."""
    before, after = rounds_by_version["before"], rounds_by_version["after"]
    print(f"N = {points:,} cells; medians (min-max) over {len(before[0])} rounds, each a "
          f"fresh process per case and version, run in turn")
    print(f"{'case':>7} {'version':>8} {'ms/iter':>22} {'peak RSS MiB':>22} "
          f"{'traced MiB':>20}  gamesim")
    for b_rows, a_rows in zip(before, after):
        for version, rows in (("before", b_rows), ("after", a_rows)):
            print(f"{rows[0]['case']:>7} {version:>8} "
                  f"{spread([r['per_iteration_s'] for r in rows], 1e3, 2):>22} "
                  f"{spread([r['rss_peak_bytes'] for r in rows], 1 / MB, 0):>22} "
                  f"{spread([r['traced_peak_bytes'] for r in rows], 1 / MB, 0):>20}  "
                  f"{rows[0]['gamesim']}")
        ratio = [statistics.median(r[k] for r in a_rows) / statistics.median(r[k] for r in b_rows)
                 for k in ("per_iteration_s", "rss_peak_bytes", "traced_peak_bytes")]
        print(f"{'':>7} {'after/before':>8}: time {ratio[0]:.3f}, peak RSS {ratio[1]:.3f}, "
              f"traced peak {ratio[2]:.3f}")
        if {r["final_value"] for r in a_rows} != {r["final_value"] for r in b_rows}:
            print(f"{'':>7} the final values differ: {a_rows[0]['final_value']!r} after, "
                  f"{b_rows[0]['final_value']!r} before")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=None,
                        help="K: runs of K and 2K iterations are timed (default: "
                             + ", ".join(f"{k} {case}" for case, k in ITERATIONS.items()) + ")")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", choices=sorted(GAMES), default=["ideal", "direct"])
    parser.add_argument("--before", metavar="DIR",
                        help="an export of the gamesim to compare with (its gamesim/ and plugins/)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="with --before: rounds of before and after (default 5)")
    parser.add_argument("--child", choices=sorted(GAMES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if (args.iterations is not None and args.iterations < 1) or args.repeats < 1 or \
            args.rounds < 1:
        parser.error("--iterations, --repeats and --rounds must be >= 1")
    if args.child:
        print(json.dumps(measure(args.child, args.points, args.iterations, args.repeats)))
        return 0
    if args.before is not None:
        if not os.path.isfile(os.path.join(args.before, "gamesim", "__init__.py")):
            parser.error(f"--before {args.before}: no gamesim/__init__.py there")
        with tempfile.TemporaryDirectory() as folder:
            paths = {"before": importable(args.before, folder), "after": None}
            found = {v: [[] for _ in args.cases] for v in paths}
            for _ in range(args.rounds):
                for i, case in enumerate(args.cases):
                    for version, path in paths.items():
                        found[version][i].append(run_child(
                            case, args.points, args.iterations or ITERATIONS[case],
                            args.repeats, path))
        compare(found, args.points)
        return 0
    rows = [run_child(case, args.points, args.iterations or ITERATIONS[case], args.repeats)
            for case in args.cases]
    report(rows, args.points)
    return 0


if __name__ == "__main__":
    sys.exit(main())
