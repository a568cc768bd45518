"""What the benchmark scripts share: timing by medians and the ideal game's scenario."""

import os
import statistics
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


def seconds(fn):
    """Wall time of one call of ``fn()``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_seconds(fn, repeats):
    """Median wall time of ``repeats`` calls of ``fn()``: shared machines are noisy."""
    return statistics.median(seconds(fn) for _ in range(repeats))


def load_scenario(text):
    """A validated scenario from TOML text (written to a temporary file and read back)."""
    from gamesim import scenario

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.toml")
        with open(path, "w") as f:
            f.write(text)
        return scenario.load(path)
