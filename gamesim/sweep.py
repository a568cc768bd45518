"""Parameter sweeps: the Cartesian product of a scenario's ``[sweep]`` lists, one run each.

Every point is an independent, seeded run, so the results are identical whatever the
parallelism: serially, on local processes, or on a Dask cluster. A failing point (a bad value,
an unexpected error) or a diverging game is a row of sweep.csv, not the end of the sweep.
"""

import contextlib
import copy
import csv
import dataclasses
import functools
import itertools
import math
import multiprocessing
import os

from . import interrupts, results, scenario
from .defaults import sweep_metric
from .errors import GamesimError, located
from .progress import Progress
from .runs import Run
from .sources import DICT_WHERE, source_of


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
    """A point's name, its index and swept values (003-generator.optimizer.lr=0.1): its row's
    ``run``, and the name of its run directory when it has one."""
    parts = [f"{key}={_short(value)}" for key, value in point]
    return "-".join([f"{index:03d}", *parts]).replace(os.sep, "_")[:200]


def _short(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        return "".join(ch for ch in str(value) if ch.isalnum() or ch in "._-=")[:40]
    return str(value)


# sweep.csv columns read from a point's summary.json besides its final metrics: the column's
# name -> the keys leading to its value there. A point whose summary lacks it leaves its cell
# empty, and a sweep whose points all lack it has no such column.
SUMMARY_COLUMNS = {"spectral_radius": ("stability", "spectral_radius")}  # [analysis] stability


@dataclasses.dataclass(frozen=True)
class Job:
    """What every point of a sweep shares, read once by the parent and sent to its workers:
    the scenario's table as read (before any override), ``where`` it came from (what messages
    name; relative paths resolve against ``base``), the overrides and plugin modules of every
    point, and how the points run: their run directories written in ``folder`` unless it is
    None (with their figures if ``plots``), ``memory_share`` of them at once sharing the
    memory limit.

    A point is loaded from a copy of the table, so no worker reads or parses the file again;
    plugin modules and the registry are loaded once per process (:mod:`gamesim.plugins`
    keeps them), so a worker sets them up for its first point only."""

    where: str
    table: dict
    base: str
    overrides: tuple = ()
    plugins: tuple = ()
    plots: bool = False
    memory_share: int = 1
    folder: str | None = None

    @classmethod
    def of(cls, source, **how):
        """The job of ``source`` (a scenario file's path, a dict or a
        :class:`~gamesim.sources.Source`); its file read and parsed here, once."""
        source = source_of(source)
        if source.path is None:
            return cls(DICT_WHERE, source.data, source.base, **how)
        path = os.path.abspath(source.path)  # workers may start in another folder
        # the file's folder, against which scenario.load resolves a file's relative paths
        return cls(path, scenario.read_toml(path), os.path.dirname(path), **how)

    def swept(self):
        """The table with the overrides applied, as the sweep's keys and points are read."""
        return scenario.apply_overrides(copy.deepcopy(self.table), self.overrides, self.where)

    def load(self, point):
        """The validated scenario of one point (a list of (key, value) overrides)."""
        # a fresh copy for each point (overrides change it), but of the [sweep] table, as long
        # as the sweep and no part of a point's scenario
        data = {k: copy.deepcopy(v) for k, v in self.table.items() if k != "sweep"}
        return scenario.load(self.where, [*self.overrides, *point], list(self.plugins),
                             self.memory_share, data=data, base=self.base)

    def rows(self, chunk):
        """The rows of the (index, point) pairs of ``chunk``, made one at a time."""
        for index, point in chunk:
            name = point_name(index, point)
            place = None if self.folder is None else \
                functools.partial(_point_place, self.folder, name)
            yield {"index": index, "run": name, **dict(point), **self.row(point, place)}

    def row(self, point, reserve=None):
        """A point's cells of sweep.csv: final metrics, SUMMARY_COLUMNS, status and error;
        its run directory written if ``reserve`` (which takes its place) is given. Never
        raises but for a signal."""
        row = {"status": "error", "error": ""}
        try:
            sc = self.load(point)
            reservation = None if reserve is None else reserve()
            with reservation or contextlib.nullcontext():
                # no page of its own: the sweep's page covers the points (point_pages adds them)
                run = Run.simulate(sc, None, reservation, self.plots, page=False)
            row.update(run.final)
            for column, path in SUMMARY_COLUMNS.items():
                value = _lookup(run.summary, path)
                if value is not None:
                    row[column] = value
            row["status"] = run.status
            failure = run.summary["failure"]
            if failure:
                row["error"] = (f"{failure['quantity']} of {failure['plugin']} went non-finite "
                                f"at iteration {failure['iteration']}")
        except GamesimError as err:
            row["error"] = str(err)
        except Exception as err:  # one broken point must not stop the others
            row["error"] = f"{type(err).__name__}: {err}"
        return row


def _lookup(summary, path):
    """The value at the keys ``path`` of a summary.json document, or None."""
    for key in path:
        if not isinstance(summary, dict) or key not in summary:
            return None
        summary = summary[key]
    return summary


def _point_place(folder, name):
    """The place of a point's run directory in the sweep's temporary folder. No other process
    writes there and every point has its own name, so the place is taken without
    :func:`gamesim.results.reserve`'s lock and scan of the folder (a listing of every point
    written so far, for each point)."""
    final = os.path.join(folder, name)
    tmp = os.path.join(folder, results.partial_name(name))
    os.mkdir(tmp)
    return results.Reservation(final, tmp, folder)


def _chunks(points, size):
    """The (index, point) pairs of ``points`` in consecutive lists of ``size``, each made
    when it is asked for."""
    pairs = enumerate(points)
    while chunk := list(itertools.islice(pairs, size)):
        yield chunk


def _chunk_size(points, workers):
    # about 32 chunks a worker: few round trips, and the worker that finishes first waits for
    # at most one short chunk of another's
    return max(1, points // (32 * workers))


_worker_job = None  # a local worker's Job, given once when the worker starts


def _start_worker(job):
    global _worker_job
    interrupts.worker_setup()
    _worker_job = job


def _run_chunk(chunk, job=None):
    """The rows of a chunk, in a worker: of ``job``, else of the worker's own."""
    return list((job or _worker_job).rows(chunk))


def _local_map(jobs, progress):
    def run_all(job, points):
        if jobs == 1:
            return _counted(job.rows(enumerate(points)), progress)
        # fork keeps the kernels compiled and loaded, and the job, in the parent: workers
        # start at once
        context = multiprocessing.get_context("fork" if "fork" in
                                              multiprocessing.get_all_start_methods() else None)
        chunks = _chunks(points, _chunk_size(len(points), jobs))
        pool = context.Pool(min(jobs, len(points)), initializer=_start_worker, initargs=(job,))
        try:
            rows = _counted(itertools.chain.from_iterable(pool.imap(_run_chunk, chunks)),
                            progress)
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
    def run_all(job, points):
        try:
            from dask.distributed import Client, as_completed
        except ImportError:
            raise GamesimError("--executor dask needs the dask extra: "
                               "pip install 'gamesim[dask]'") from None
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as err:
            raise GamesimError(f"--scheduler {scheduler}: no Dask scheduler answered within "
                               f"{connect_timeout:g} s (--connect-timeout): {err}") from None
        with client:
            workers = sum(client.nthreads().values()) or 1
            chunks = list(_chunks(points, _chunk_size(len(points), workers)))
            futures = client.map(_run_chunk, chunks, job=job, pure=False)
            sizes = {future.key: len(chunk) for future, chunk in zip(futures, chunks)}
            done = 0
            for future in as_completed(futures):
                done += sizes[future.key]
                progress(done)
            return list(itertools.chain.from_iterable(client.gather(futures)))
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
              point_pages=False, progress=None, point_dirs=False):
    """Run every point of the sweep of ``source`` (a scenario file's path, a dict or an
    :class:`~gamesim.sources.Source`); return (rows, directory).

    With ``write``, into ``out`` (default ``runs/<name>-sweep``, numbered if taken): the
    sweep directory is reserved before any point runs, written into a temporary sibling and
    renamed into place at the end: sweep.csv, the sweep plot and its page (report.html).
    Each point's run directory (named by its row's ``run``) is written only with
    ``point_dirs``, or with ``plots`` (its figures) or ``point_pages`` (its page), which
    imply it. Without ``write``, nothing is written and the directory is None.
    ``progress``: called with the number of points done (a
    :class:`~gamesim.progress.Progress`); closed when they are all done.
    """
    check_options(executor, scheduler, jobs, connect_timeout)
    jobs = 1 if executor == "dask" else jobs or os.cpu_count() or 1
    job = Job.of(source, overrides=tuple(overrides), plugins=tuple(plugins), plots=plots,
                 memory_share=jobs)
    keys, points = sweep_points(job.where, job.swept())
    base = _first_valid(job, points)
    if progress is None:
        progress = Progress(len(points), False)
    run_all = _dask_map(scheduler, connect_timeout, progress) if executor == "dask" else \
        _local_map(jobs, progress)

    def run_points(folder):
        dirs = folder is not None and (point_dirs or plots or point_pages)
        try:
            rows = run_all(dataclasses.replace(job, folder=folder if dirs else None), points)
        finally:
            progress.close()
        columns = sweep_columns(keys, rows)
        for i, row in enumerate(rows):  # in place: a sweep's rows are most of its memory
            rows[i] = {c: row.get(c, "") for c in columns}  # as sweep.csv
        return rows

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


def _first_valid(job, points):
    """The first point that validates; if none does, the error is outside [sweep]: raise it."""
    first_error = None
    for point in points:
        try:
            return job.load(point)
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


