"""The run directory: written whole into a temporary sibling, then renamed into place."""

import csv
import io
import json
import math
import os
import shutil
import tempfile
import tomllib
import zipfile

import numba
import numpy as np
import tomli_w

import gamesim

from . import plugins as plugin_manager
from .errors import GamesimError, RunDirectoryError

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same run gives the same bytes


def default_out(name, root="runs"):
    """``runs/<name>``, or ``runs/<name>-2``, ``-3``... if taken: runs are never mixed."""
    candidate = os.path.join(root, name)
    n = 2
    while os.path.exists(candidate):
        candidate = os.path.join(root, f"{name}-{n}")
        n += 1
    return candidate


def _format(v):
    if isinstance(v, int):
        return str(v)
    return repr(float(v)) if math.isfinite(v) else ("nan" if math.isnan(v) else
                                                    ("inf" if v > 0 else "-inf"))


def write_npz(path, arrays):
    """np.savez with fixed entry timestamps, so identical arrays give identical bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH), buf.getvalue())


def snapshot_arrays(sc, result):
    """The arrays of snapshots.npz: grid, data, snapshot iterations, p_g and D (or critic),
    and whatever extra arrays the engine attached (``result.extra_snapshots``)."""
    arrays = {"x": sc.grid.x, "p_data": sc.p_data,
              "iterations": np.array(result.snapshot_iterations, dtype=np.int64),
              "p_gen": np.array(result.snapshot_p_gen).reshape(-1, sc.grid.points)}
    if result.d_output is not None:
        key = "critic" if result.d_output == "critic" else "d"
        arrays[key] = np.array(result.snapshot_d).reshape(-1, sc.grid.points)
    arrays.update(getattr(result, "extra_snapshots", {}) or {})
    return arrays


def summary_of(sc, result):
    final = dict(zip(result.columns, result.rows[-1])) if result.rows else {}
    return {
        "name": sc.name,
        "description": sc.description,
        "status": result.status,
        "iterations": result.iterations,
        "final": {k: (v if isinstance(v, int) or math.isfinite(v) else _format(v))
                  for k, v in final.items()},
        "seed": sc.seed,
        "mode": sc.mode,
        "d_output": result.d_output,
        "equilibrium": getattr(sc.objective, "equilibrium", 0.0 if sc.mode == "direct" else None),
        "failure": result.failure,
        "wall_seconds": round(result.wall_seconds, 6),
        "versions": {"gamesim": gamesim.__version__, "numpy": np.__version__,
                     "numba": numba.__version__},
        "warnings": result.warnings,
    }


def write_run(out, sc, result, draw_plots=None):
    """Write the run directory ``out`` atomically; ``draw_plots(tmpdir)`` adds plots/.

    Plugins' ``gamesim_run_end`` observers are called last, with the directory being written,
    so their extra files are renamed into place with the run (or removed with it on failure).
    """
    out = os.path.abspath(out)
    if os.path.exists(out):
        raise GamesimError(f"{out}: already exists; choose another --out (runs are never mixed)")
    parent = os.path.dirname(out)
    existing = parent
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", suffix=".partial", dir=parent)
    try:
        with open(os.path.join(tmp, "scenario.toml"), "wb") as f:
            tomli_w.dump(sc.resolved, f)
        with open(os.path.join(tmp, "metrics.csv"), "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(result.columns)
            writer.writerows([_format(v) for v in row] for row in result.rows)
        write_npz(os.path.join(tmp, "snapshots.npz"), snapshot_arrays(sc, result))
        with open(os.path.join(tmp, "summary.json"), "w") as f:
            json.dump(summary_of(sc, result), f, indent=2)
            f.write("\n")
        if draw_plots is not None:
            draw_plots(tmp)
        for hook in plugin_manager.observers()["gamesim_run_end"]:
            hook(scenario=sc, result=result, directory=tmp)  # extra files go in with the run
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_created(parent, existing)
        raise
    return out


def _remove_created(folder, existing):
    """Remove the empty folders made for a run that failed, up to one that existed before."""
    while folder != existing and len(folder) > len(existing):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)


class RunData:
    """A saved run read back: metric columns, snapshots, summary and scenario (for plots)."""

    FILES = ("scenario.toml", "summary.json", "metrics.csv", "snapshots.npz")

    def __init__(self, path):
        self.path = path
        if not os.path.isdir(path):
            raise RunDirectoryError(f"{path}: no such run directory")
        missing = [f for f in self.FILES if not os.path.isfile(os.path.join(path, f))]
        if missing:
            raise RunDirectoryError(f"{path}: not a gamesim run directory (missing "
                                    f"{', '.join(missing)})")
        try:
            with open(os.path.join(path, "scenario.toml"), "rb") as f:
                self.scenario = tomllib.load(f)
            with open(os.path.join(path, "summary.json")) as f:
                self.summary = json.load(f)
            with open(os.path.join(path, "metrics.csv"), newline="") as f:
                rows = list(csv.reader(f))
            self.columns = {name: np.array([float(r[i]) for r in rows[1:]])
                            for i, name in enumerate(rows[0])}
            with np.load(os.path.join(path, "snapshots.npz"), allow_pickle=False) as z:
                self.snapshots = {k: z[k] for k in z.files}
            if "iteration" not in self.columns or "p_gen" not in self.snapshots:
                raise ValueError("metrics.csv or snapshots.npz lacks the run's data")
        except (ValueError, IndexError, KeyError, OSError, tomllib.TOMLDecodeError,
                zipfile.BadZipFile) as err:
            raise RunDirectoryError(f"{path}: damaged gamesim run directory: {err}") from None

    @classmethod
    def from_result(cls, sc, result):
        """The same view of a run still in memory, without reading files."""
        self = cls.__new__(cls)
        self.path = None
        self.scenario = sc.resolved
        self.summary = summary_of(sc, result)
        rows = np.array(result.rows, dtype=float).reshape(-1, len(result.columns))
        self.columns = {name: rows[:, i] for i, name in enumerate(result.columns)}
        self.snapshots = snapshot_arrays(sc, result)
        return self
