"""The run directory: written whole into a temporary sibling, then renamed into place."""

import contextlib
import csv
import fcntl
import io
import json
import os
import re
import shutil
import socket
import tomllib
import zipfile

import numba
import numpy as np
import tomli_w

import gamesim

from . import interrupts, plugins as plugin_manager
from .errors import GamesimError, RunDirectoryError
from .protocols import capability
from .runchecks import json_number

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same run gives the same bytes


def _format(v):
    """A metrics.csv cell: an int as it is, a float by repr, non-finite as JSON spells it."""
    if isinstance(v, int):
        return str(v)
    x = json_number(v)
    return repr(x) if isinstance(x, float) else x


def write_json(path, document):
    """``document`` as indented JSON, ending with a newline."""
    with open(path, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")


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
    arrays.update(result.extra_snapshots)
    return arrays


def summary_of(sc, result):
    final = dict(zip(result.columns, result.rows[-1])) if result.rows else {}
    return {
        "name": sc.name,
        "description": sc.description,
        "status": result.status,
        "iterations": result.iterations,
        "final": {k: v if isinstance(v, int) else json_number(v) for k, v in final.items()},
        "seed": sc.seed,
        "mode": sc.mode,
        "d_output": result.d_output,
        "equilibrium": 0.0 if sc.mode == "direct" else capability(sc.objective, "equilibrium"),
        "failure": result.failure,
        "wall_seconds": round(result.wall_seconds, 6),
        "versions": {"gamesim": gamesim.__version__, "numpy": np.__version__,
                     "numba": numba.__version__},
        "warnings": result.warnings,
        "overrides": list(sc.overrides),  # --set or API overrides, as given
        **result.summary_sections,
    }


PARTIAL = ".partial"


def _host():
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


def partial_name(base):
    """A hidden temporary name beside ``base`` that tells who writes it:
    ``.<base>~<host>~<pid>.partial`` (``~`` is in neither a run name nor a host name)."""
    return f".{base[:100]}~{_host()}~{os.getpid()}{PARTIAL}"


def _owner(entry):
    """(base, host, pid) of a temporary name made by :func:`partial_name`, else None."""
    if not (entry.startswith(".") and entry.endswith(PARTIAL)):
        return None
    parts = entry[1:-len(PARTIAL)].split("~")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_leftovers(folder):
    """Remove what gamesim processes of this host that are gone (killed by SIGKILL, say) left
    half-written in ``folder``; another host's leftovers (a folder shared with Dask workers)
    are that host's to remove."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    host = _host()
    for entry in entries:
        owner = _owner(entry)
        if owner is None or owner[1] != host or _alive(owner[2]):
            continue
        path = os.path.join(folder, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(path)


def write_whole(path, write):
    """Write the file ``path`` whole: ``write(partial)`` fills a hidden partial file beside it,
    which is then renamed into place (removed if anything fails); return ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    partial = os.path.join(folder, partial_name(os.path.basename(path)))
    try:
        write(partial)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
        raise
    return path


@contextlib.contextmanager
def _locked(folder):
    """An exclusive lock on ``folder`` itself (flock on its descriptor: no lock file to leave
    behind, and released by the kernel if the process dies)."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _taken(parent, base):
    """Whether ``base`` exists in ``parent`` or is being written there by a live process."""
    if os.path.lexists(os.path.join(parent, base)):
        return True
    prefix = f".{base[:100]}~"
    return any(entry.startswith(prefix) and _owner(entry) is not None
               for entry in os.listdir(parent))


def _first_existing(folder):
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    return folder


class Reservation:
    """A run directory's place, taken before simulating: a hidden temporary folder beside the
    final one, filled by :meth:`write`, then renamed into place by :meth:`commit` or removed
    with the folders made for it by :meth:`release`. Used as a context manager, it is released
    when the block raises."""

    def __init__(self, final, tmp, existing):
        self.final, self.tmp, self.existing = final, tmp, existing
        self.committed = False

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is not None:
            self.release()

    def write(self, sc, result, draw_plots=None):
        """Write the run's files into the temporary folder; ``draw_plots(folder)`` adds plots/.

        Plugins' ``gamesim_run_end`` observers are called last, with the folder being written,
        so their extra files are renamed into place with the run (or removed with it).
        """
        tmp = self.tmp
        with open(os.path.join(tmp, "scenario.toml"), "wb") as f:
            tomli_w.dump(sc.resolved, f)
        with open(os.path.join(tmp, "metrics.csv"), "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(result.columns)
            writer.writerows([_format(v) for v in row] for row in result.rows)
        write_npz(os.path.join(tmp, "snapshots.npz"), snapshot_arrays(sc, result))
        for name, document in {"summary.json": summary_of(sc, result),
                               **result.documents}.items():
            write_json(os.path.join(tmp, name), document)
        if draw_plots is not None:
            draw_plots(tmp)
        for hook in plugin_manager.observers()["gamesim_run_end"]:
            hook(scenario=sc, result=result, directory=tmp)

    def commit(self):
        """Rename the finished folder into place (never cut in two by a signal)."""
        interrupts.check()
        try:
            with interrupts.deferred():
                os.rename(self.tmp, self.final)
                self.committed = True
        except interrupts.Interrupted as signal_:
            if self.committed:  # the result is in place: say so rather than call it lost
                signal_.written = self.final
            raise
        return self.final

    def release(self):
        """Remove the temporary folder and the empty folders made for it."""
        if not self.committed:
            shutil.rmtree(self.tmp, ignore_errors=True)
            _remove_created(os.path.dirname(self.final), self.existing)


def reserve(out=None, name=None, root="runs"):
    """Take the place of a run directory before simulating: ``out`` (refused if it exists), or
    the first free one of ``root/name``, ``root/name-2``, ... (two runs started together get
    two of them). A place that cannot be written is bad input, found before any work is done.
    """
    final = os.path.abspath(out if out is not None else os.path.join(root, name))
    shown = f"--out {out}" if out is not None else os.path.join(root, name)
    parent = os.path.dirname(final)
    existing = _first_existing(parent)
    if not os.path.isdir(existing):
        raise GamesimError(f"{shown}: {existing} is a file, not a folder")
    try:
        os.makedirs(parent, exist_ok=True)
        with _locked(parent):
            remove_leftovers(parent)
            base, n = os.path.basename(final), 2
            while _taken(parent, base):
                if out is not None:
                    raise GamesimError(f"{shown}: already exists; choose another directory "
                                       "(a run is never mixed into an earlier one)")
                base, n = f"{name}-{n}", n + 1
            final = os.path.join(parent, base)
            with contextlib.suppress(FileNotFoundError):  # a name too long is refused here
                os.lstat(final)
            tmp = os.path.join(parent, partial_name(base))
            os.mkdir(tmp)  # mode 0o777 less the umask, as the final directory's will be
    except OSError as err:
        _remove_created(parent, existing)
        raise GamesimError(f"{shown}: cannot write a run directory there: "
                           f"{err.strerror or err}") from None
    except BaseException:
        _remove_created(parent, existing)
        raise
    return Reservation(final, tmp, existing)


def _remove_created(folder, existing):
    """Remove the empty folders made for a run that failed, up to one that existed before."""
    while folder != existing and len(folder) > len(existing):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)


class RunData:
    """A saved run read back: metric columns, snapshots, summary and scenario (for plots).

    Whatever is wrong with the files (missing, unparsable, of the wrong shape, arrays of
    another grid) is a :class:`RunDirectoryError` naming the directory and what is wrong."""

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
            with np.load(os.path.join(path, "snapshots.npz"), allow_pickle=False) as z:
                self.snapshots = {k: z[k] for k in z.files}
            self.columns = _columns(rows)
            _check_shapes(self.scenario, self.summary, self.snapshots)
        except (ValueError, IndexError, KeyError, TypeError, OSError, UnicodeDecodeError,
                tomllib.TOMLDecodeError, zipfile.BadZipFile, EOFError) as err:
            raise RunDirectoryError(f"damaged run directory: {path}: {err}") from None


def _columns(rows):
    if not rows or "iteration" not in rows[0]:
        raise ValueError("metrics.csv has no header with an 'iteration' column")
    width = len(rows[0])
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            raise ValueError(f"metrics.csv line {number} has {len(row)} fields, the header "
                             f"{width}")
    return {name: np.array([float(r[i]) for r in rows[1:]]) for i, name in enumerate(rows[0])}


def _check_shapes(scenario, summary, snapshots):
    """The files agree with each other: one grid, one snapshot per iteration listed."""
    if not isinstance(summary, dict) or not isinstance(summary.get("status"), str):
        raise ValueError("summary.json is not an object with a 'status'")
    if not isinstance(scenario.get("output", {}), dict):
        raise ValueError("scenario.toml's [output] is not a table")
    for key in ("x", "p_data", "iterations", "p_gen"):
        if key not in snapshots:
            raise ValueError(f"snapshots.npz lacks {key!r}")
    for key, array in snapshots.items():
        if array.dtype.kind not in "biuf":
            raise ValueError(f"snapshots.npz: {key!r} holds {array.dtype}, not numbers")
    if snapshots["iterations"].ndim != 1 or snapshots["x"].ndim != 1:
        raise ValueError("snapshots.npz: 'x' and 'iterations' are not 1D arrays")
    count, cells = snapshots["iterations"].size, snapshots["x"].size
    grid = scenario.get("grid", {})
    if not isinstance(grid, dict) or grid.get("points", cells) != cells:
        raise ValueError(f"snapshots.npz holds a grid of {cells} cells, scenario.toml's [grid] "
                         f"is {grid!r}")
    expected = {"p_data": (cells,), "p_gen": (count, cells), "d": (count, cells),
                "critic": (count, cells)}
    for key, shape in expected.items():
        if key in snapshots and snapshots[key].shape != shape:
            raise ValueError(f"snapshots.npz: {key!r} has shape {snapshots[key].shape}, "
                             f"expected {shape} (a grid of {cells} cells, {count} snapshots)")

