"""Every shipped scenario gives the numbers it gave before: each column of metrics.csv and each
array of snapshots.npz has the fingerprint recorded in reference_runs.json (columns or arrays
added since are not compared). Refactoring and faster paths must not change a bit; a
deliberate numerical change updates the reference in its own commit, saying why:

    python tests/test_reference_runs.py RUNS_DIR   # RUNS_DIR/<scenario>/ for every scenario
"""

import csv
import hashlib
import json
import os
import sys

import numpy as np
import pytest

# processes, virtual environments or a browser: left out by -m 'not slow'
pytestmark = pytest.mark.slow

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_runs.json")
SCENARIOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "scenarios")


def _digest(text):
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()[:24]


def fingerprint(run_dir):
    """{"columns": name -> digest of its text cells, "arrays": name -> digest of its dtype,
    shape and bytes} of a run directory."""
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        rows = list(csv.reader(f))
    columns = {name: _digest("\n".join(row[i] for row in rows[1:]))
               for i, name in enumerate(rows[0])}
    with np.load(os.path.join(run_dir, "snapshots.npz"), allow_pickle=False) as z:
        arrays = {key: _digest(f"{z[key].dtype.str}{z[key].shape}".encode() + z[key].tobytes())
                  for key in z.files}
    return {"columns": columns, "arrays": arrays}


def _reference():
    with open(REFERENCE) as f:
        return json.load(f)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_reference()))
def test_shipped_scenario_gives_its_reference_numbers(name, tmp_path):
    from conftest import gamesim_cli

    expected = _reference()[name]
    proc = gamesim_cli(["run", os.path.join(SCENARIOS, f"{name}.toml"), "--out", "run",
                        "--no-plots", "--quiet"], tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr
    got = fingerprint(tmp_path / "run")
    for part in ("columns", "arrays"):
        changed = [key for key, digest in expected[part].items()
                   if got[part].get(key) != digest]
        assert changed == [], f"{name}: {part} changed: {changed}"


def test_the_reference_covers_every_shipped_scenario():
    shipped = sorted(f[:-5] for f in os.listdir(SCENARIOS) if f.endswith(".toml"))
    assert sorted(_reference()) == shipped


if __name__ == "__main__":
    runs = sys.argv[1]
    table = {name: fingerprint(os.path.join(runs, name)) for name in sorted(os.listdir(runs))
             if os.path.isfile(os.path.join(runs, name, "metrics.csv"))}
    with open(REFERENCE, "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {REFERENCE}: {len(table)} scenarios")
