"""The iteration loop both estimators share: each iteration's state is recorded and
snapshotted as due, the stop condition checked, then the schedule steps
(docs/design.md, "One iteration")."""

import numpy as np

from .blame import reraise
from .divergence import Diverged, copy_checked
from .protocols import capability
from .recorder import Recorder, bind


def iterate(sc, players, step, observers, progress, start, eager, batch=None):
    """Run scenario ``sc``: call the ``gamesim_run_start`` observers, take the initial
    parameters and optimizer states from ``step`` (a :class:`gamesim.schedule.Iteration`),
    then record (``batch`` as :class:`gamesim.recorder.Recorder` takes it) and step each
    iteration. Returns the :class:`gamesim.recorder.Result`, the last finite state (a
    :class:`gamesim.exact.Point` of ``players``; None if there was none) and the optimizer
    states at that state (None if the run diverged: a step that failed may have updated
    them in part), so an analysis of the end state needs no re-simulation.

    A recorded state's grid quantities and gradients are computed once: ``eager`` (exact mode)
    computes the grid every iteration and the step starts from that state, so a row's
    gradient norms are the step's own gradients; otherwise (sampled) only where recorded. A
    non-finite number ends the run as 'diverged', keeping what was recorded (and the last
    finite state). An exception a plugin raises becomes a :class:`PluginRunError` naming it
    and the iteration."""
    it = 0
    # a plugin's overflow shows as a non-finite number, which the checks record as a
    # divergence (or a NaN metric, as a warning): NumPy's warnings would only repeat it
    with np.errstate(all="ignore"):
        try:
            for hook in observers.get("gamesim_run_start", ()):
                bind(hook, scenario=sc)
            theta, psi, states = step.initial()
            recorder = Recorder(sc, players, observers.get("gamesim_record", ()), theta, psi,
                                batch)
            logit_params = capability(sc.generator, "logit_params")
            gopt_label = f"optimizer {sc.generator_optimizer.name!r} ({players.g_source})"
            stop_col = None if sc.stop is None else recorder.columns.index(sc.stop[0])
            status, failure = "completed", None
            state = None  # the last state known to be finite
            updating = False
            last, record_every = sc.iterations, sc.record_every
            wants = recorder.wants
            try:
                for it in range(last + 1):
                    updating = False
                    # a copy (the optimizers step theta in place), which the generator's
                    # optimizer (its init_params at iteration 0) must have left finite
                    saved = np.empty(theta.size)
                    bad = copy_checked(theta, saved, logit_params)
                    if bad >= 0:
                        raise Diverged("generator parameters",
                                       gopt_label if it else players.gen_label, bad)
                    point = players.point(saved, None if psi is None else psi.copy(), it)
                    if eager:
                        outside = point.grid()[1]
                        if outside > recorder.max_outside:
                            recorder.max_outside = outside
                    state = point
                    if it % record_every == 0 or it == last:
                        recorder.record(state)
                    if wants(it):  # planned, or due in the thinning buffer
                        recorder.snapshot(state)
                    if stop_col is not None and recorder.last_recorded == it and \
                            recorder.rows[-1][stop_col] < sc.stop[1]:
                        status = "converged"
                        break
                    if progress is not None and it % 256 == 0:
                        progress(it)
                    if it == last:
                        break
                    updating = True
                    theta, psi, states = step(theta, psi, states, it, state if eager else None)
            except Diverged as err:
                status = "diverged"
                failure = {"quantity": err.quantity, "plugin": err.plugin,
                           "iteration": it + 1 if updating else it, "index": err.index}
                if state is not None and recorder.last_recorded != state.iteration:
                    try:
                        recorder.record(state)
                    except Diverged:
                        pass
            if state is not None:
                it = state.iteration
                try:
                    recorder.snapshot(state)
                except Diverged:  # sampled mode: the last state's grid deposit was not finite
                    pass
            final_states = None if status == "diverged" else states
            return recorder.result(status, failure, it, start), state, final_states
        except Exception as err:
            reraise(sc, err, it)
