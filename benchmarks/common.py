"""What the benchmark scripts share: the machine header, interleaved timing summarized by
medians and ranges, and the ideal game's scenario."""

import os
import platform
import statistics
import sys
import tempfile
import time

IDEAL_GAME = """
name = "bench-{case}"
iterations = {iterations}
record_every = 1000000000  # only the first and the last rows: the timed loop does not record
[grid]
lower = -8.0
upper = 8.0
points = {points}
[target]
kind = "mixture"
components = [{{ kind = "normal", mean = -2.0, std = 0.5, weight = 0.3 }},
              {{ kind = "normal", mean = 1.5, std = 1.0, weight = 0.7 }}]
[generator]
kind = "density"
init = {{ kind = "normal", mean = 0.0, std = 3.0 }}
optimizer = {{ kind = "mirror", lr = {lr} }}
[output]
snapshots = 1
"""

# thread settings of a benchmark's child process, applied before NumPy, JAX or PyTorch load
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "NUMBA_NUM_THREADS": "1",
                  "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false "
                               "intra_op_parallelism_threads=1"}


def cpu_features():
    """The CPU's model and its float64 vector units, from /proc/cpuinfo: NumPy's float64 exp
    and log are SIMD only with AVX-512F, so the ratios depend on it."""
    model, flags = platform.processor() or "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    vector = [name for name in ("avx2", "fma", "avx512f", "avx512dq", "avx512vl") if name in flags]
    return f"{model}; {', '.join(vector) or 'no AVX2'}"


def header(title):
    """Print the benchmark's title and the machine: CPU, vector units, cores, versions."""
    import numba
    import numpy

    print(title)
    print(f"CPU: {cpu_features()}; {os.cpu_count()} logical CPUs "
          f"({len(os.sched_getaffinity(0))} usable)")
    print(f"Python {platform.python_version()}, NumPy {numpy.__version__}, "
          f"Numba {numba.__version__}")
    sys.stdout.flush()


def seconds(fn):
    """Wall time of one call of ``fn()``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_seconds(fn, repeats):
    """Median wall time of ``repeats`` calls of ``fn()``: shared machines are noisy."""
    return statistics.median(seconds(fn) for _ in range(repeats))


def interleaved(fns, repeats):
    """{name: [seconds of each repeat]} for the callables ``fns`` (a dict), run A B C A B C
    ...: a busy neighbour slows every contender of a round alike."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(seconds(fn))
    return times


def spread(values, scale=1.0, digits=1):
    """'median (min-max)' of ``values`` times ``scale``."""
    v = sorted(x * scale for x in values)
    return f"{statistics.median(v):.{digits}f} ({v[0]:.{digits}f}-{v[-1]:.{digits}f})"


def ratios(numerators, denominators):
    """The ratios of repeats measured side by side (the i-th of each in the same round)."""
    return [a / b for a, b in zip(numerators, denominators)]


def load_scenario(text):
    """A validated scenario from TOML text (written to a temporary file and read back)."""
    from gamesim import scenario

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.toml")
        with open(path, "w") as f:
            f.write(text)
        return scenario.load(path)


def shipped(name, overrides):
    """A shipped scenario (scenarios/NAME.toml) with ``--set``-style overrides."""
    from gamesim import scenario

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "scenarios", f"{name}.toml")
    return scenario.load(path, overrides=list(overrides))
