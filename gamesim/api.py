"""The Python API: load, run and sweep scenarios, read runs back, use one plugin on its own.

The command line is a thin layer over these functions, so the same input gives the same run
and, when it is bad, the same :class:`~gamesim.errors.GamesimError` message. Modules are
imported on first use: ``import gamesim`` loads neither Numba nor Matplotlib.
"""

import functools
import os

import numpy as np

from .errors import GamesimError, did_you_mean, located
from .sources import overrides_of, source_of

def load(source, overrides=None, plugins=()):
    """Read, override and validate a scenario; return it (plugin instances built, every
    default filled in ``.resolved``).

    ``source``: a scenario file's path, or a dict with a scenario file's keys (its name
    defaults to "scenario"; relative data paths resolve against the current folder).
    ``overrides``: ``{"generator.optimizer.lr": 0.5}``, as ``--set``. ``plugins``: extra
    plugin modules to import, as ``-p``.
    """
    return source_of(source).load(overrides_of(overrides), list(plugins))


def run(source, overrides=None, plugins=(), out=None, progress=False, plots=True):
    """Run one scenario; return its :class:`~gamesim.runs.Run`.

    With ``out``, the run directory is written there (with its plots if ``plots``), its
    place taken before simulating and refused if it exists, as ``gamesim run --out``.
    ``progress``: draw a progress bar on stderr for runs longer than about a second.
    """
    from . import results
    from .progress import Progress
    from .runs import Run

    src, overrides = source_of(source), overrides_of(overrides)
    if "sweep" in src.table(overrides):
        raise GamesimError(located(src.where, "sweep", "gamesim.run runs one scenario; run "
                                                       "the [sweep] table's points with "
                                                       "gamesim.run_sweep"))
    sc = src.load(overrides, list(plugins))
    bar = Progress(sc.iterations, True) if progress else None
    if out is None:
        return Run.simulate(sc, bar)
    with results.reserve(os.fspath(out), sc.name) as reservation:
        return Run.simulate(sc, bar, reservation, plots)


def load_run(run_dir):
    """A saved run directory read back as a :class:`~gamesim.runs.Run`."""
    from .runs import Run

    return Run(os.fspath(run_dir))


def analyze(source, at="end", overrides=None, plugins=()):
    """The local stability analysis (docs/stability.md) of a scenario (a file, a dict, or one
    :func:`load` returned) at ``at``: "end", "start", "snapshots" (the planned ones), an
    iteration, given parameters ``{"theta": [...], "psi": [...]}``, or a list of those; the
    states are re-simulated. Returns the dict stability.json holds: "points", one dict per
    place with "field_norm", "jacobian_eigenvalues" and "update_eigenvalues" ([re, im]
    pairs), "spectral_radius" and "verdict" (None away from a stationary point)."""
    from . import engine
    from .scenario import Scenario

    sc = source if isinstance(source, Scenario) else load(source, overrides, plugins)
    return engine.analyze(sc, at)


def analyze_run(run, at="end"):
    """The stability analysis of a run (a run directory, or a :class:`~gamesim.runs.Run`) at
    ``at`` (as :func:`analyze`; "end" is where the run ended, "snapshots" those it saved),
    with the run's measured contraction per iteration beside the predicted one at its end."""
    from . import engine

    return engine.analyze_run(run, at)


def reproduce(out=None, quick=False):
    """Run the literature checks shipped with gamesim (docs/design.md, "Literature checks")
    and write their report folder ``out`` (default runs/reproduce, numbered if taken).
    Returns (the folder, the rows: each with paper, claim, expected, measured, tolerance,
    passed)."""
    from . import reproduction

    return reproduction.reproduce(out, quick)


def run_sweep(source, overrides=None, plugins=(), out=None, jobs=None, executor="local",
              scheduler=None, plots=False, metric=None, connect_timeout=10.0,
              point_pages=False, point_dirs=False):
    """Run every point of the scenario's ``[sweep]`` table; return sweep.csv's rows, a dict
    per point (index, run, the swept values, final metrics, status, error).

    With ``out``, the sweep directory is written there (sweep.csv, the sweep plot of
    ``metric`` and its page), as ``gamesim sweep --out``; each point's run directory, named
    by its row's ``run``, only with ``point_dirs`` (implied by ``plots`` and ``point_pages``).
    ``jobs``: local worker processes (default: every core); ``executor="dask"`` runs the
    points on the Dask ``scheduler``.
    """
    from . import sweep

    rows, _ = sweep.run_sweep(source_of(source), out and os.fspath(out),
                              overrides_of(overrides), list(plugins), jobs, executor,
                              scheduler, plots, metric, connect_timeout, write=out is not None,
                              point_pages=point_pages, point_dirs=point_dirs)
    return rows


def compare(runs, metric=None):
    """A Matplotlib Figure overlaying one metric of several runs (:class:`~gamesim.runs.Run`
    objects or run directories), as ``gamesim compare`` draws it; ``metric`` as
    :func:`compared_metric` chooses it."""
    from . import plotting

    runs = [_run_of(r) for r in runs]
    return plotting.figure_compare(runs, compared_metric(runs, metric))


def compared_metric(runs, metric=None):
    """``metric`` if every run recorded it (an error naming the first that did not), or by
    default the first distance they all recorded, else value."""
    runs = [_run_of(r) for r in runs]
    if metric is None:
        skip = {"iteration", "value", "mass_outside"}
        common = [c for c in runs[0].columns if c not in skip and not c.startswith(("g.", "d."))
                  and all(c in r.columns for r in runs)]
        return common[0] if common else "value"
    for run in runs:
        if metric not in run.columns:
            raise GamesimError(f"--metric {metric!r}: not recorded in "
                               f"{run.path or run.summary.get('name')}; its metrics are "
                               f"{', '.join(c for c in run.columns if c != 'iteration')}")
    return metric


def _run_of(run):
    from . import results

    return run if isinstance(run, results.RunData) else load_run(run)


def plugin(kind, name, grid=None, **params):
    """A configured plugin usable on its own, e.g. ``plugin("distance", "js")``.

    ``params`` are validated as in a scenario's table, with the same messages. ``grid``: a
    :class:`~gamesim.grid.Grid` or ``(lower, upper, points)``, needed by plugins that set
    themselves up on the grid (those with a ``setup`` method). The methods take lists and
    arrays of any float dtype and return float64.
    """
    from . import params as declared, plugins as plugin_manager, protocols, scenario
    from .grid import Grid

    kinds = list(plugin_manager.SINGULAR.values())
    if kind not in kinds:
        raise GamesimError(f"plugin kind {kind!r}{did_you_mean(kind, kinds)}: expected one "
                           f"of {', '.join(kinds)}")
    instance, _ = declared.build(plugin_manager.registry(), kind, {"kind": name, **params},
                                 "", kind)
    if grid is not None and not isinstance(grid, Grid):
        if not isinstance(grid, (list, tuple)) or len(grid) != 3:
            raise GamesimError(f"grid: got {grid!r:.80}, expected a gamesim.Grid or "
                               "(lower, upper, points)")
        section = scenario.GridSection()
        declared.fill(section, dict(zip(("lower", "upper", "points"), grid)), None, "",
                      "grid", "[grid]")
        grid = Grid(section.lower, section.upper, section.points)
    if protocols.has(instance, "setup"):
        if grid is None:
            raise GamesimError(f"{kind} {instance.name!r} works on a grid: pass "
                               "grid=(lower, upper, points) or a gamesim.Grid")
        instance.setup(grid)
    return Plugin(kind, instance, grid)


class Plugin:
    """A plugin instance configured by :func:`plugin`: attributes are the instance's; its
    methods get lists and float arrays as float64 arrays and return float64 (the built-in
    kernels take nothing else). ``instance`` is the plugin object itself."""

    def __init__(self, kind, instance, grid):
        self.kind, self.instance, self.grid = kind, instance, grid

    def __getattr__(self, attribute):
        if "instance" not in self.__dict__:  # half-built (being copied or unpickled)
            raise AttributeError(attribute)
        value = getattr(self.instance, attribute)
        if not callable(value) or isinstance(value, type):
            return value

        @functools.wraps(value)
        def call(*args, **kwargs):
            return _float64(value(*map(_array, args),
                                  **{k: _array(v) for k, v in kwargs.items()}))
        return call

    def __dir__(self):
        return sorted({*super().__dir__(), *dir(self.instance)})

    def __repr__(self):
        return f"<{self.kind} {self.instance.name!r} {self.instance.config}>"


def _array(value):
    """A list or numeric array as a contiguous float64 array; anything else as it is."""
    if isinstance(value, list) or (isinstance(value, np.ndarray) and value.dtype.kind in "fiu"):
        return np.ascontiguousarray(value, dtype=np.float64)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _float64(value):
    if isinstance(value, tuple):
        return tuple(_float64(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64, copy=False)
    if isinstance(value, np.floating):
        return float(value)
    return value
