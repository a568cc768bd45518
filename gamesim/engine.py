"""Simulate a scenario: the players' dynamics of docs/design.md ("One iteration"), recorded.

Plugins are plain objects here; the registry and pluggy were consulted while the scenario was
built, and the caller passes the observer hooks. Each iteration calls a handful of plugin
methods, each a single Numba kernel or a few NumPy operations. The pieces: the estimators
(:mod:`gamesim.exact`, :mod:`gamesim.sampled`), the schedule (:mod:`gamesim.schedule`), the
loop (:mod:`gamesim.loop`) and its recorder (:mod:`gamesim.recorder`), and after the loop the
phase portrait (:mod:`gamesim.phase`) and the stability analysis (:mod:`gamesim.stability`).
"""

import copy
import time

import numpy as np

from . import _malloc, phase, scenario as scenarios, stability
from .blame import reraise
from .errors import GamesimError
from .exact import Exact
from .loop import iterate
from .recorder import Result  # noqa: F401  (the run's result, named in the hooks' docs)
from .results import RunData
from .sampled import Batches
from .schedule import Iteration


def iteration(sc):
    """One iteration of scenario ``sc``'s dynamics, as the run makes it: a
    :class:`gamesim.schedule.Iteration` ``step``, with ``step.initial() -> (theta, psi,
    states)`` and ``step(theta, psi, states, iteration=0) -> (theta, psi, states)``. A sampled
    scenario's step estimates the gradients from iteration ``iteration``'s batches."""
    return _iteration(sc, Exact(sc))


def _iteration(sc, players):
    estimator = players if sc.estimator == "exact" else Batches(sc, players)
    return Iteration(sc, estimator)


def run(sc, progress=None, observers=None):
    """Simulate scenario ``sc``; ``progress(iteration)`` is called now and then if given.
    ``observers``: the observer hooks as :func:`gamesim.plugins.observers` gives them (None:
    no observers). Returns a :class:`gamesim.recorder.Result`; with ``[analysis] stability``
    its ``documents`` hold stability.json and its ``summary_sections`` "stability"."""
    _malloc.retain_freed_memory()
    start = time.perf_counter()
    players = Exact(sc)
    step = _iteration(sc, players)
    exact = sc.estimator == "exact"
    batch = None if exact else (["batch_value"], step.estimator.value)
    result, state, final_states = iterate(sc, players, step, observers or {}, progress, start,
                                          eager=exact, batch=batch)
    if state is None or not result.rows:
        return result
    with np.errstate(all="ignore"):
        try:
            if phase.applies(players, state.theta, state.psi):
                result.extra_snapshots.update(phase.field(players, result.columns, result.rows,
                                                          state.iteration))
            if sc.stability is not None:
                stability.attach(sc, result, step, state, final_states)
        except Exception as err:
            reraise(sc, err, result.iterations)
    result.wall_seconds = time.perf_counter() - start
    return result


def analyze(sc, at="end"):
    """The local stability analysis (docs/stability.md) of a loaded scenario ``sc`` at
    ``at``: "end" and "snapshots" (the planned last iteration and snapshot iterations: a run
    that stops early, by a stop rule or a divergence, ends elsewhere, so analyse the run with
    :func:`analyze_run`), "start", an iteration number, given parameters {"theta": [...],
    "psi": [...]}, or a list of those. The states are re-simulated from the start.

    Returns a dict, as stability.json: "scenario", "field_tolerance", "dense_limit",
    "consensus", "measured" (None: no run to measure) and "points", one dict per place:
    "label", "iteration", "parameters", "field_norm", "jacobian_eigenvalues" and
    "update_eigenvalues" ([re, im] pairs), their errors and methods, "spectral_radius",
    "verdict" (None away from a stationary point, with a "note"), and the reasons where a
    Jacobian is not given."""
    _adversarial(sc, sc.path)
    return stability.analyse(sc, iteration(sc), at, sc.iterations, sc.snapshots)


def analyze_run(run, at="end"):
    """The local stability analysis of a run at ``at`` ("end", "start", "snapshots", an
    iteration, given parameters, or a list of those), its states re-simulated from its
    scenario (bit for bit the run's). ``run``: a run directory, or a run read back or
    simulated (:class:`gamesim.runs.Run`, :class:`gamesim.results.RunData`). Its end is the
    run's last finite state, its snapshots those it saved, and its metrics give the measured
    rate (the end point's "measured_rate"). Returns the dict :func:`analyze` describes."""
    if not hasattr(run, "summary"):
        run = RunData(str(run))
    where = run.path or str(run.summary.get("name", "run"))
    sc = scenarios.load(where, data=copy.deepcopy(run.scenario))
    _adversarial(sc, where)
    return stability.analyse(sc, iteration(sc), at, int(run.summary["iterations"]),
                             run.snapshots["iterations"], run.columns)


def _adversarial(sc, where):
    if sc.mode == "direct":
        raise GamesimError(f"{where}: the stability analysis is for the adversarial game: "
                           f"direct mode has no discriminator to analyse against")
