"""Simulate a scenario: the players' dynamics of docs/design.md ("One iteration"), recorded.

Plugins are plain objects here; the registry and pluggy were consulted while the scenario was
built, and the caller passes the observer hooks. Each iteration calls a handful of plugin
methods, each a single Numba kernel or a few NumPy operations. The pieces: the estimators
(:mod:`gamesim.exact`, :mod:`gamesim.sampled`), the schedule (:mod:`gamesim.schedule`), the
loop (:mod:`gamesim.loop`) and its recorder (:mod:`gamesim.recorder`), and the phase
portrait (:mod:`gamesim.phase`), computed after the loop.
"""

import time

import numpy as np

from . import _malloc, phase
from .blame import reraise
from .exact import Exact
from .loop import iterate
from .recorder import Result  # noqa: F401  (the run's result, named in the hooks' docs)
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
    no observers). Returns a :class:`gamesim.recorder.Result`."""
    _malloc.retain_freed_memory()
    start = time.perf_counter()
    players = Exact(sc)
    step = _iteration(sc, players)
    exact = sc.estimator == "exact"
    batch = None if exact else (["batch_value"], step.estimator.value)
    result, state = iterate(sc, players, step, observers or {}, progress, start, eager=exact,
                            batch=batch)
    if state is not None and result.rows and phase.applies(players, state.theta, state.psi):
        with np.errstate(all="ignore"):
            try:
                result.extra_snapshots.update(phase.field(players, result.columns, result.rows))
            except Exception as err:
                reraise(sc, err, result.iterations)
        result.wall_seconds = time.perf_counter() - start
    return result
