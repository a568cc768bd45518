"""Every shipped scenario gives the numbers it gave before, checked two ways against
reference_runs.json (columns or arrays added since are not compared):

- **bits**: each column of metrics.csv and each array of snapshots.npz has the digest it had
  on the machine that recorded the reference. Refactoring and faster paths must not change a
  bit. Only compared where the machine's numerics profile (:func:`numerics_profile`: the
  versions of NumPy, Numba and the C library, NumPy's CPU features and OpenBLAS's kernels) is
  the recording one's: NumPy's float64 exp and log are SIMD code on AVX-512 CPUs and the C
  library's elsewhere, and OpenBLAS's kernels (so their order of summation) depend on the
  CPU, so other machines differ in the last bits.
- **numbers**, on every machine: sampled rows of each column and sampled entries of each array
  (with the sum of the array's absolute values) within 1e-12 absolute plus 1e-9 relative, as
  ``benchmarks/compare_runs.py`` compares two versions; for the chaotic scenarios, whose
  trajectories separate from any rounding difference, over the first 50 iterations.

A deliberate numerical change updates the reference in its own commit, saying why:

    python tests/test_reference_runs.py RUNS_DIR   # RUNS_DIR/<scenario>/ for every scenario
"""

import csv
import ctypes
import glob
import hashlib
import json
import os
import platform
import sys

import numba
import numpy as np
import pytest

# processes, virtual environments or a browser: left out by -m 'not slow'
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "tests", "reference_runs.json")
SCENARIOS = os.path.join(ROOT, "scenarios")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from compare_runs import CHAOTIC, CHAOTIC_ITERATIONS, close  # noqa: E402

ROWS = 32  # rows of metrics.csv kept for the numbers, evenly spread
ENTRIES = 48  # entries of each array kept for the numbers, evenly spread


def numerics_profile():
    """What a run's last bits depend on besides gamesim's own code."""
    from numpy._core._multiarray_umath import __cpu_features__

    blas = "unknown"
    for lib in glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*")):
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename"):
            corename = getattr(ctypes.CDLL(lib), symbol, None)
            if corename is not None:
                corename.restype = ctypes.c_char_p
                blas = corename().decode()
    features = " ".join(sorted(k for k, on in __cpu_features__.items() if on))
    return (f"numpy {np.__version__}, numba {numba.__version__}, "
            f"{' '.join(platform.libc_ver())}, openblas {blas}, cpu {features}")


def _digest(data):
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:24]


def _spread(count, keep):
    """Indices of ``keep`` entries evenly spread over ``count``, first and last included."""
    return np.unique(np.linspace(0, count - 1, min(count, keep)).round().astype(int))


def _sampled(values):
    """[entries at evenly spread indices, sum of the finite entries' absolute values]."""
    flat = np.asarray(values, np.float64).ravel()
    finite = flat[np.isfinite(flat)]
    return [flat[_spread(flat.size, ENTRIES)].tolist(), float(np.abs(finite).sum())]


def record(run_dir, name):
    """A run directory's entry of the reference: its digests and its sampled numbers."""
    until = CHAOTIC_ITERATIONS if name in CHAOTIC else None
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        header, *rows = list(csv.reader(f))
    bits = {"columns": {column: _digest("\n".join(row[i] for row in rows))
                        for i, column in enumerate(header)}, "arrays": {}}
    compared = [r for r in rows if until is None or int(r[0]) <= until]
    kept = [compared[i] for i in _spread(len(compared), ROWS)] if compared else []
    columns = {column: [float(r[i]) if r[i] != "" else np.nan for r in kept]
               for i, column in enumerate(header)}
    arrays = {}
    with np.load(os.path.join(run_dir, "snapshots.npz"), allow_pickle=False) as z:
        iterations = z["iterations"]
        for key in z.files:
            a = z[key]
            bits["arrays"][key] = _digest(f"{a.dtype.str}{a.shape}".encode() + a.tobytes())
            if until is not None and key != "iterations" and a.ndim >= 1 and \
                    a.shape[0] == iterations.size:
                a = a[iterations <= until]  # a row per snapshot
            arrays[key] = _sampled(a)
    return {"until": until, "bits": bits, "columns": columns, "arrays": arrays}


def differences(expected, got):
    """The columns and arrays of ``got`` (a :func:`record`) whose sampled numbers are not
    within tolerance of ``expected``'s."""
    found = []
    for column, values in expected["columns"].items():
        if column in got["columns"] and not close(values, got["columns"][column])[0]:
            found.append(column)
    for key, (entries, total) in expected["arrays"].items():
        if key in got["arrays"]:
            got_entries, got_total = got["arrays"][key]
            if not (close(entries, got_entries)[0] and close([total], [got_total])[0]):
                found.append(key)
    return found


def _reference():
    with open(REFERENCE) as f:
        return json.load(f)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_reference().get("scenarios", {})))
def test_shipped_scenario_gives_its_reference_numbers(name, tmp_path):
    from conftest import gamesim_cli

    reference = _reference()
    expected = reference["scenarios"][name]
    proc = gamesim_cli(["run", os.path.join(SCENARIOS, f"{name}.toml"), "--out", "run",
                        "--no-plots", "--quiet"], tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr
    got = record(tmp_path / "run", name)
    assert differences(expected, got) == [], f"{name}: numbers beyond the tolerance"
    if numerics_profile() == reference["profile"]:
        for part in ("columns", "arrays"):
            changed = [key for key, digest in expected["bits"][part].items()
                       if got["bits"][part].get(key) != digest]
            assert changed == [], f"{name}: {part} changed in their last bits: {changed}"


def test_the_reference_covers_every_shipped_scenario():
    shipped = sorted(f[:-5] for f in os.listdir(SCENARIOS) if f.endswith(".toml"))
    assert sorted(_reference()["scenarios"]) == shipped


def test_numbers_are_compared_within_the_tolerance_and_no_further():
    expected = {"columns": {"value": [1.0, -2.0, np.nan]},
                "arrays": {"p_gen": ([0.25, 0.75, np.inf], 1.0)}}

    def got(value, entry, total):
        return {"columns": {"value": [1.0, value, np.nan]},
                "arrays": {"p_gen": ([0.25, entry, np.inf], total)}}

    assert differences(expected, got(-2.0 * (1 + 5e-10), 0.75 + 5e-13, 1.0)) == []
    assert differences(expected, got(-2.0 * (1 + 2e-9), 0.75, 1.0)) == ["value"]
    assert differences(expected, got(-2.0, 0.75 * (1 + 2e-9), 1.0)) == ["p_gen"]
    assert differences(expected, got(-2.0, 0.75, 1.0 + 1e-8)) == ["p_gen"]
    assert differences(expected, got(np.nan, 0.75, 1.0)) == ["value"]


def test_a_chaotic_scenario_is_compared_over_its_first_iterations(tmp_path):
    """Rows and snapshots past CHAOTIC_ITERATIONS are left out of a chaotic scenario's
    numbers, not of its bits."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("iteration,value\n0,1.5\n50,2.5\n100,3.5\n")
    np.savez(run / "snapshots.npz", iterations=np.array([0, 100]),
             p_gen=np.array([[0.5, 0.5], [0.0, 1.0]]), x=np.array([-1.0, 0.0, 1.0]))
    chaotic, plain = record(run, sorted(CHAOTIC)[0]), record(run, "a-converging-game")
    assert chaotic["columns"]["value"] == [1.5, 2.5]
    assert plain["columns"]["value"] == [1.5, 2.5, 3.5]
    assert chaotic["arrays"]["p_gen"] == [[0.5, 0.5], 1.0]
    assert plain["arrays"]["p_gen"] == [[0.5, 0.5, 0.0, 1.0], 2.0]
    assert chaotic["arrays"]["x"] == plain["arrays"]["x"] == [[-1.0, 0.0, 1.0], 2.0]
    assert chaotic["bits"] == plain["bits"]


if __name__ == "__main__":
    runs = sys.argv[1]
    table = {name: record(os.path.join(runs, name), name) for name in sorted(os.listdir(runs))
             if os.path.isfile(os.path.join(runs, name, "metrics.csv"))}
    with open(REFERENCE, "w") as f:
        json.dump({"profile": numerics_profile(), "scenarios": table}, f, indent=1,
                  sort_keys=True)
        f.write("\n")
    print(f"wrote {REFERENCE}: {len(table)} scenarios, profile {numerics_profile()}")
