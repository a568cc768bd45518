"""Parameter sweeps: the Cartesian product of a scenario's ``[sweep]`` lists, one run each.

Every point is an independent, seeded run, so the results are identical whatever the
parallelism: serially, on local processes, or on a Dask cluster. A failing point (a bad value,
an unexpected error) or a diverging game is a row of sweep.csv, not the end of the sweep.
"""

import contextlib
import csv
import itertools
import math
import multiprocessing
import os
import traceback

from . import interrupts
from .defaults import sweep_metric
from .progress import Progress
from .sources import Source, source_of
from .errors import GamesimError, located


def sweep_points(path, data):
    """The sweep table's keys and the list of points, each a list of (key, value) pairs."""
    table = data.get("sweep")
    if not isinstance(table, dict) or not table:
        raise GamesimError(located(path, "sweep", "expected a table mapping dotted keys to "
                                                  "lists of values, e.g. "
                                                  "'generator.optimizer.lr' = [0.1, 1.0]"))
    for key, values in table.items():
        if not isinstance(values, list) or not values:
            raise GamesimError(located(path, f"sweep.{key}",
                                       f"got {values!r}, expected a non-empty list of values"))
        if key.split(".")[0] == "sweep":
            raise GamesimError(located(path, f"sweep.{key}", "a sweep cannot sweep itself"))
    keys = list(table)
    return keys, [list(zip(keys, combo)) for combo in itertools.product(*table.values())]


def point_name(index, point):
    """Directory name of a point: its index and swept values, e.g. 003-generator.optimizer.lr=0.1."""
    parts = [f"{key}={_short(value)}" for key, value in point]
    return "-".join([f"{index:03d}", *parts]).replace(os.sep, "_")[:200]


def _short(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        return "".join(ch for ch in str(value) if ch.isalnum() or ch in "._-=")[:40]
    return str(value)


def run_point(source, point, plugins, out, plots, memory_share=1):
    """Run one sweep point, into the run directory ``out`` unless it is None; return its
    sweep.csv row (never raises but for a signal). ``source``: a scenario file's path or an
    :class:`~gamesim.sources.Source`. ``memory_share``: how many points run at once, sharing the
    memory limit."""
    from . import results
    from .runs import Run

    row = {"status": "error", "error": ""}
    try:
        sc = source_of(source).load(point, plugins, memory_share)
        reservation = None if out is None else results.reserve(out)
        with reservation or contextlib.nullcontext():
            # no page of its own: the sweep's page covers the points (point_pages adds them)
            run = Run.simulate(sc, None, reservation, plots, page=False)
        row.update(run.final)
        row["status"] = run.status
        failure = run.summary["failure"]
        if failure:
            row["error"] = (f"{failure['quantity']} of {failure['plugin']} went non-finite at "
                            f"iteration {failure['iteration']}")
    except GamesimError as err:
        row["error"] = str(err)
    except Exception as err:  # one broken point must not stop the others
        row["error"] = f"{type(err).__name__}: {err}"
        row["traceback"] = traceback.format_exc()
    return row


def _run_call(call):
    return run_point(*call)


def _local_map(jobs, progress):
    def run_all(calls):
        if jobs == 1:
            return _counted(map(_run_call, calls), progress)
        # fork keeps the kernels compiled and loaded in the parent: workers start at once
        context = multiprocessing.get_context("fork" if "fork" in
                                              multiprocessing.get_all_start_methods() else None)
        pool = context.Pool(jobs, initializer=interrupts.worker_setup)
        try:
            # chunks of about 1/32 of a worker's share: few round trips, and the worker that
            # finishes first waits for at most one short chunk of the other's
            chunk = max(1, len(calls) // (32 * jobs))
            rows = _counted(pool.imap(_run_call, calls, chunksize=chunk), progress)
        except BaseException:
            pool.terminate()  # a signal or an error: the workers must not outlive the sweep
            raise
        pool.close()
        pool.join()
        return rows
    return run_all


def _counted(rows, progress):
    """The rows of an iterator of points, ``progress`` told each time one is done."""
    done = []
    for row in rows:
        done.append(row)
        progress(len(done))
    return done


def _dask_map(scheduler, connect_timeout, progress):
    def run_all(calls):
        try:
            from dask.distributed import Client
        except ImportError:
            raise GamesimError("--executor dask needs the dask extra: "
                               "pip install 'gamesim[dask]'") from None
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as err:
            raise GamesimError(f"--scheduler {scheduler}: no Dask scheduler answered within "
                               f"{connect_timeout:g} s (--connect-timeout): {err}") from None
        with client:
            from dask.distributed import as_completed

            futures = client.map(run_point, *zip(*calls), pure=False)
            for done, _ in enumerate(as_completed(futures), 1):
                progress(done)
            return client.gather(futures)
    return run_all


def check_options(executor, scheduler, jobs, connect_timeout):
    """Refuse executor settings that cannot work, before anything runs."""
    if executor not in ("local", "dask"):
        raise GamesimError(f"--executor {executor!r}: expected 'local' or 'dask'")
    if executor == "dask" and not scheduler:
        raise GamesimError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise GamesimError(f"--jobs {jobs}: expected a number of processes >= 1")
    if not connect_timeout > 0:
        raise GamesimError(f"--connect-timeout {connect_timeout:g}: expected a number of "
                           "seconds > 0")


def run_sweep(source, out=None, overrides=(), plugins=(), jobs=None, executor="local",
              scheduler=None, plots=False, metric=None, connect_timeout=10.0, write=True,
              point_pages=False, progress=None):
    """Run every point of the sweep of ``source`` (a scenario file's path or an
    :class:`~gamesim.sources.Source`); return (rows, directory).

    With ``write``, into ``out`` (default ``runs/<name>-sweep``, numbered if taken): the
    sweep directory is reserved before any point runs, written into a temporary sibling and
    renamed into place at the end, with its page (report.html; with ``point_pages``, each
    point's page too). Without, nothing is written and the directory is None.
    ``progress``: called with the number of points done (a
    :class:`~gamesim.progress.Progress`); closed when they are all done.
    """
    from . import results

    check_options(executor, scheduler, jobs, connect_timeout)
    source = source_of(source)
    if source.path is not None:  # workers may start in another folder
        source = Source(path=os.path.abspath(source.path))
    keys, points = sweep_points(source.where, source.table(overrides))
    jobs = 1 if executor == "dask" else jobs or os.cpu_count() or 1
    base = _first_valid(source, overrides, points, plugins, jobs)
    if progress is None:
        progress = Progress(len(points), False)
    run_all = _dask_map(scheduler, connect_timeout, progress) if executor == "dask" else \
        _local_map(jobs, progress)
    names = [point_name(i, p) for i, p in enumerate(points)]

    def run_points(folder):
        try:
            rows = run_all([(source, [*overrides, *p], list(plugins),
                             folder and os.path.join(folder, n), plots, jobs)
                            for n, p in zip(names, points)])
        finally:
            progress.close()
        for index, (name, point, row) in enumerate(zip(names, points, rows)):
            row.update({"index": index, "run": name, **dict(point)})
        columns = sweep_columns(keys, rows)
        return [{c: row.get(c, "") for c in columns} for row in rows]  # as sweep.csv

    if not write:
        return run_points(None), None
    with results.reserve(out, f"{base.name}-sweep") as reservation:
        tmp = reservation.tmp
        rows = run_points(tmp)
        write_sweep_csv(os.path.join(tmp, "sweep.csv"), keys, rows)
        metric = metric or sweep_metric(rows)
        if metric is not None and len(keys) in (1, 2):
            from . import plotting
            fig = plotting.figure_sweep(rows, keys, metric, base.name)
            fig.savefig(os.path.join(tmp, f"sweep-{metric}.png"), dpi=plotting.DPI,
                        metadata=plotting.METADATA["png"])
        if metric is not None:
            from . import page
            page.write_sweep_page(tmp, rows, keys, metric, point_pages, f"{base.name}-sweep")
        results.remove_leftovers(tmp)  # of a worker killed while writing its point
        return rows, reservation.commit()


def _first_valid(source, overrides, points, plugins, memory_share):
    """The first point that validates; if none does, the error is outside [sweep]: raise it."""
    first_error = None
    for point in points:
        try:
            return source.load([*overrides, *point], plugins, memory_share)
        except GamesimError as err:
            first_error = first_error or err
    raise first_error


FIXED = ("index", "run")
TAIL = ("status", "error")


def sweep_columns(keys, rows):
    """sweep.csv's columns: index, run, the swept keys, the metrics, status and error."""
    metrics = []
    for row in rows:
        metrics += [k for k in row if k not in metrics and k not in (*FIXED, *TAIL, *keys,
                                                                     "traceback", "iteration")]
    return [*FIXED, *keys, "iteration", *metrics, *TAIL]


def write_sweep_csv(path, keys, rows):
    columns = sweep_columns(keys, rows)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c, "")) for c in columns])


def _cell(value):
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (list, dict)):
        return repr(value)
    return str(value)


