"""Local stability analysis of a game (docs/stability.md).

At a point (theta, psi, optimizer states) of a run: the eigenvalues of J, the Jacobian of the
players' joint field v (:mod:`gamesim.field`; stable under gradient flow where every real part
is negative), and of the Jacobian of one iteration of the configured schedule and optimizers,
the update map F (stable where the spectral radius is below 1, which is then the predicted
contraction per iteration). A verdict is given only where |v| <= FIELD_TOLERANCE; elsewhere
the spectra are a local linearization. Beside it, the contraction per iteration measured over
the run's last stretch.

Entry points: :func:`gamesim.engine.analyze` (a scenario) and
:func:`gamesim.engine.analyze_run` (a run, saved or in memory), which give this module the
run's step to re-simulate with, and :func:`attach` (the engine, after a run's loop, for
``[analysis] stability``).
"""

import copy

import numpy as np

from .divergence import Diverged, first_bad
from .errors import GamesimError
from .exact import Exact
from .field import SMOOTH_STEP, gradients, jacobian, joined, largest_eigenvalues, split, steps
from .optstate import flat_state, set_flat_state
from .protocols import capability
from .runchecks import json_number
from .schedule import Iteration

DENSE_LIMIT = 1000  # coordinates; beyond, ARPACK's EIGS_COUNT eigenvalues that decide
EIGS_COUNT = 6
FIELD_TOLERANCE = 1e-6  # |v| below which a point counts as stationary and gets a verdict
MARGIN = 1e-9  # a real part (modulus - 1) within max(MARGIN, 2 x the error) of 0: 'marginal'
RATE_FLOOR = 1e-10  # the measured rate's series is fitted above this share of its largest value


class Coordinates:
    """Coordinates y of displacements of a flat vector x (parameters, optimizer states):
    x = x0 + lift(y), and reduce(w) the coordinates of any vector w laid out as x. Entries
    that do not move (-inf logits, an optimizer's counters) are left out; a part marked
    ``shift`` (mass logits: softmax(theta + c) = softmax(theta)) loses its constant direction,
    through an orthonormal basis of its sum-zero vectors (the columns of a Householder
    reflection that maps the last unit vector to the constant one)."""

    def __init__(self, size):
        self.size, self.parts = size, []

    def add(self, indices, shift=False):
        indices = np.asarray(indices, dtype=np.int64)
        self.parts.append((indices, shift, max(indices.size - shift, 0)))

    @property
    def dim(self):
        return sum(n for _, _, n in self.parts)

    def lift(self, y):
        x, k = np.zeros(self.size), 0
        for idx, shift, n in self.parts:
            if n:
                x[idx] = _reflect(np.append(y[k:k + n], 0.0)) if shift else y[k:k + n]
            k += n
        return x

    def reduce(self, w):
        return np.concatenate([np.zeros(0)] + [
            (_reflect(w[idx])[:-1] if shift else w[idx]) for idx, shift, n in self.parts if n])

    def steps(self, step, resolved):
        """The finite-difference steps (and resolution flags) of the coordinates: a shift part
        moves all its entries at once, by its largest step."""
        s, r = [np.zeros(0)], [np.zeros(0, dtype=bool)]
        for idx, shift, n in self.parts:
            if n:
                s.append(np.full(n, step[idx].max()) if shift else step[idx])
                r.append(np.zeros(n, dtype=bool) if shift else resolved[idx])
        return np.concatenate(s), np.concatenate(r)


def _reflect(z):
    """H z, H = I - 2 w w^T / |w|^2 the reflection mapping e_n to (1, ..., 1) / sqrt(n)."""
    w = np.full(z.size, -1.0 / np.sqrt(z.size))
    w[-1] += 1.0
    return z - w * (2.0 * (w @ z) / (w @ w))


def _parameter_coordinates(sc, theta, psi, size):
    coords = Coordinates(size)
    if capability(sc.generator, "logit_params"):
        coords.add(np.flatnonzero(np.isfinite(theta)), shift=True)
    else:
        coords.add(np.arange(theta.size))
    coords.add(np.arange(theta.size, theta.size + (0 if psi is None else psi.size)))
    return coords


def _counters(optimizer, state):
    """Which entries of the flat state hold integers (step counters): a fraction written
    there reads back rounded. They are held fixed."""
    probe = copy.deepcopy(state)
    x = flat_state(optimizer, probe) + 0.25
    set_flat_state(optimizer, probe, x)
    return flat_state(optimizer, probe) != x


def _spectrum(f, step, resolved, which):
    """(eigenvalues, error, method, J or None) of f's Jacobian at 0 (see field.jacobian)."""
    if step.size <= DENSE_LIMIT:
        jac, error = jacobian(f, step, resolved)
        return np.linalg.eigvals(jac), error, "dense", jac
    values, error = largest_eigenvalues(f, step, which, EIGS_COUNT)
    kind = "real part" if which == "LR" else "modulus"
    return values, error, f"ARPACK: the {values.size} of largest {kind}", None


def _verdict(deciding, error, bound):
    """'stable', 'unstable' or 'marginal' (within the margin of ``bound``)."""
    margin = max(MARGIN, 2.0 * error)
    return "stable" if deciding < bound - margin else (
        "unstable" if deciding > bound + margin else "marginal")


def _kink(sc, players, theta, psi, iteration):
    """The regularizer's reason why the field or the update has no Jacobian here, or None."""
    kink = capability(sc.regularizer, "kink")
    if kink is None or psi is None:
        return None
    p_g = players.point(theta, psi, iteration).grid()[0]
    return kink(sc.discriminator, psi, *players.seen(p_g, iteration))  # as the penalty sees them


def analyse_point(sc, players, step, theta, psi, states, iteration):
    """The analysis at (theta, psi, optimizer states) of ``iteration``: a dict of the field's
    norm, the spectra of J and F with their errors and methods, the spectral radius, and the
    verdict where the field is near zero (docs/stability.md, "Output")."""
    out = {"parameters": {"theta": _numbers(theta), "psi": None if psi is None else
                          _numbers(psi)}}
    x0 = joined(theta, psi)
    coords = _parameter_coordinates(sc, theta, psi, x0.size)

    def field(y):
        t, p = split(x0 + coords.lift(y), theta.size, psi)
        return -coords.reduce(joined(*gradients(players, t, p, iteration)))

    v0 = field(np.zeros(coords.dim))
    out["field_norm"] = float(np.linalg.norm(v0))
    near = out["field_norm"] <= FIELD_TOLERANCE
    reason = _kink(sc, players, theta, psi, iteration)
    if reason is not None:
        out.update(jacobian_reason=reason, update_reason=reason)
        return _judged(out, near, None, None)
    step_x, resolved = steps(sc.generator, theta, psi)
    values, error, method, jac = _spectrum(field, *coords.steps(step_x, resolved), "LR")
    out.update(jacobian_eigenvalues=_pairs(values, values.real), jacobian_error=error,
               jacobian_method=method, max_real_part=float(values.real.max(initial=-np.inf)))
    flow = {"flow": (values.real.max(initial=-np.inf), error)}
    if sc.consensus and jac is not None:  # the played flow v - gamma J^T v: J - gamma J^T J
        played = np.linalg.eigvals(jac - sc.consensus * jac.T @ jac)
        out["consensus_jacobian_eigenvalues"] = _pairs(played, played.real)
        flow["consensus_flow"] = (played.real.max(initial=-np.inf), error)
    update = _update_map(sc, step, theta, psi, states, iteration, x0, step_x, resolved)
    if isinstance(update, str):
        out["update_reason"] = update
        return _judged(out, near, flow, None)
    values, error, method = update
    radius = float(np.abs(values).max(initial=0.0))
    out.update(update_eigenvalues=_pairs(values, np.abs(values)), update_error=error,
               update_method=method, spectral_radius=radius)
    return _judged(out, near, flow, (radius, error))


def _update_map(sc, step, theta, psi, states, iteration, x0, step_x, resolved):
    """(eigenvalues, error, method) of F at the point, or the reason it has none."""
    optimizers = [sc.generator_optimizer] + ([sc.discriminator_optimizer] if psi is not None
                                             else [])
    for opt in optimizers:
        reason = capability(opt, "not_differentiable")
        if reason is not None:
            return f"optimizer {opt.name!r}: {reason}"
    try:
        flats = [flat_state(opt, state) for opt, state in zip(optimizers, states)]
        counters = [_counters(opt, state) for opt, state in zip(optimizers, states)]
    except GamesimError as err:
        return f"the optimizer's state cannot be read as a vector: {err}"
    base = np.concatenate([x0, *flats])
    coords = _parameter_coordinates(sc, theta, psi, base.size)
    start = x0.size
    for flat, counter in zip(flats, counters):
        coords.add(start + np.flatnonzero(~counter))
        start += flat.size
    state_steps = [SMOOTH_STEP * np.maximum(1.0, np.abs(flat)) for flat in flats]

    def update(y):
        x = base + coords.lift(y)
        t, p = split(x[:x0.size], theta.size, psi)
        moved, start = copy.deepcopy(states), x0.size
        for opt, state, flat in zip(optimizers, moved, flats):
            set_flat_state(opt, state, x[start:start + flat.size])
            start += flat.size
        t, p, moved = step(t, p, moved, iteration)
        after = np.concatenate([joined(t, p)] + [flat_state(opt, state) for opt, state in
                                                 zip(optimizers, moved)])
        return coords.reduce(after - base)

    full_steps = np.concatenate([step_x, *state_steps])
    full_resolved = np.concatenate([resolved] + [np.zeros(f.size, dtype=bool) for f in flats])
    values, error, method, _ = _spectrum(update, *coords.steps(full_steps, full_resolved), "LM")
    return values, error, method


def _judged(out, near, flow, update):
    """Add the verdict (near a stationary point) or the label of a local linearization."""
    if not near:
        out["verdict"] = None
        out["note"] = (f"local linearization, not a verdict: the field's norm "
                       f"{out['field_norm']:.3g} is above {FIELD_TOLERANCE:g}")
        return out
    verdict = {name: _verdict(deciding, error, 0.0)
               for name, (deciding, error) in (flow or {}).items()}
    if update is not None:
        verdict["update"] = _verdict(update[0], update[1], 1.0)
        verdict["predicted_rate"] = update[0]
    out["verdict"] = verdict or None
    return out


def _pairs(values, key):
    """Eigenvalues as [re, im] pairs, largest ``key`` first."""
    order = np.argsort(-key, kind="stable")
    return [[float(values[i].real), float(values[i].imag)] for i in order]


def _numbers(x):
    """A vector for JSON: floats, with non-finite entries as strings ("-inf")."""
    return [json_number(v) for v in np.asarray(x, dtype=np.float64)]


def measured_rate(columns):
    """{"rate", "series", "window": [first, last], "floor"}: the contraction per iteration
    fitted (least squares on the logarithm) to a recorded series that shrinks in proportion to
    the distance from the end point: the gradient norm sqrt(grad_norm.g^2 + grad_norm.d^2),
    else d_max_dev, tv or w1. The window is the later half, in the logarithm of the series,
    of the last stretch of rows above RATE_FLOOR times the series' largest value: from the
    first row whose logarithm has come half way from the stretch's first value to its last.
    None if the window has fewer than 3 rows. ``columns``: metric name -> array, as metrics.csv."""
    if "grad_norm.g" in columns:
        series = np.hypot(columns["grad_norm.g"], columns.get("grad_norm.d", 0.0))
        name = "gradient norm"
    else:
        name = next((n for n in ("d_max_dev", "tv", "w1") if n in columns), None)
        if name is None:
            return None
        series = np.asarray(columns[name], dtype=np.float64)
    it = np.asarray(columns["iteration"], dtype=np.float64)
    finite = np.isfinite(series) & (series > 0)
    if not finite.any():
        return None
    floor = RATE_FLOOR * series[finite].max()
    above = finite & (series > floor)
    last = int(np.flatnonzero(above)[-1])
    first = last
    while first > 0 and above[first - 1]:
        first -= 1
    # the later half in logarithm: from where the series has come half way (in log) from
    # the stretch's first value to its last, past a start that is not yet linear
    logs = np.log(series[first:last + 1])
    moved = np.abs(logs - logs[0]) >= 0.5 * abs(logs[-1] - logs[0])
    window = np.arange(first + int(np.argmax(moved)), last + 1)
    if window.size < 3:
        return None
    slope = np.polyfit(it[window], np.log(series[window]), 1)[0]
    return {"rate": float(np.exp(slope)), "series": name,
            "window": [int(it[window[0]]), int(it[window[-1]])], "floor": float(floor)}


def _resimulated(sc, step, iterations):
    """{iteration: (theta, psi, states)}, copies, along the run's trajectory: ``step`` (the
    run's own, :func:`gamesim.engine.iteration`) applied from the start, which is the loop
    bit for bit; an iteration past the point where the run diverged is missing."""
    logits = capability(sc.generator, "logit_params")
    found, it = {}, 0
    theta, psi, states = step.initial()
    try:
        for target in sorted(set(iterations)):
            while it < target:
                theta, psi, states = step(theta, psi, states, it)
                it += 1
                if first_bad(theta, logits) >= 0:  # as the loop checks it
                    return found
            found[target] = (theta.copy(), None if psi is None else psi.copy(),
                             copy.deepcopy(states))
    except Diverged:
        pass
    return found


def _warmed(sc, step, theta, psi):
    """Optimizer states for given parameters: fresh ones after one step from there (the
    parameters restored), so a first step's special case (optimistic's) is past."""
    states = (sc.generator_optimizer.init_state(theta.copy()),
              None if psi is None else sc.discriminator_optimizer.init_state(psi.copy()))
    step(theta.copy(), None if psi is None else psi.copy(), states, 0)
    return states


def places(at, end, snapshots):
    """[(label, iteration)] or [("given", {"theta", "psi"})] for ``at``: "end", "start",
    "snapshots", an iteration number, {"theta": [...], "psi": [...]}, or a list of those."""
    found = []
    for place in at if isinstance(at, list) else [at]:
        if place == "end":
            found.append(("end", end))
        elif place == "start":
            found.append(("start", 0))
        elif place == "snapshots":
            found += [("snapshot", int(i)) for i in snapshots]
        elif isinstance(place, (int, np.integer)) and not isinstance(place, bool) and \
                0 <= place <= end:
            found.append(("iteration", int(place)))
        elif isinstance(place, dict) and "theta" in place:
            found.append(("given", place))
        else:
            raise GamesimError(f"stability analysis: at = {place!r}: expected 'end', 'start', "
                               f"'snapshots', an iteration from 0 to {end} or "
                               f"{{'theta': [...], 'psi': [...]}}")
    return found


def analyse(sc, run_step, at, end, snapshots=(), columns=None, known=None):
    """The stability document (docs/stability.md, "Output") of scenario ``sc`` at ``at`` (see
    :func:`places`); ``run_step``: the run's step, to re-simulate the states not ``known``
    ({iteration: (theta, psi, states)}); ``end``: the run's last iteration; ``columns``: its
    metrics for the measured rate."""
    players = Exact(sc)
    step = Iteration(sc, players)  # the exact schedule, whatever the run's estimator
    wanted = places(at, end, snapshots)
    known = dict(known or {})
    missing = [i for label, i in wanted if label != "given" and i not in known]
    if missing:
        known.update(_resimulated(sc, run_step, missing))
    measured = measured_rate(columns) if columns is not None else None
    points = []
    for label, where in wanted:
        if label == "given":
            theta = np.array(where["theta"], dtype=np.float64)
            psi = None if where.get("psi") is None else np.array(where["psi"], np.float64)
            entry = {"label": label, "iteration": None}
            state = (theta, psi, _warmed(sc, step, theta, psi))
            iteration = 0
        else:
            entry, iteration = {"label": label, "iteration": where}, where
            state = known.get(where)
        if state is None:
            entry["reason"] = f"the run diverged before iteration {where}"
        else:
            try:
                with np.errstate(all="ignore"):
                    entry.update(analyse_point(sc, players, step, *state, iteration))
            except Diverged as err:
                entry["reason"] = (f"a non-finite {err.quantity} of {err.plugin} near this "
                                   f"point: no Jacobian")
        if label == "end":
            entry["measured_rate"] = None if measured is None else measured["rate"]
        points.append(entry)
    return {"scenario": sc.name, "field_tolerance": FIELD_TOLERANCE, "dense_limit": DENSE_LIMIT,
            "consensus": sc.consensus, "measured": measured, "points": points}


def summary_section(document):
    """summary.json's "stability": the figures of the end point (else the last analysed)."""
    points = document["points"]
    if not points:
        return {}
    point = next((p for p in points if p["label"] == "end"), points[-1])
    keys = ("label", "iteration", "field_norm", "max_real_part", "spectral_radius", "verdict",
            "measured_rate", "reason", "update_reason")
    return {k: point[k] for k in keys if k in point}


def attach(sc, result, run_step, final, final_states):
    """After a run's loop, for ``[analysis] stability``: put stability.json into
    ``result.documents`` and its end point's figures into ``result.summary_sections``.
    ``run_step``: the run's step; ``final``: the last finite state (a
    :class:`gamesim.exact.Point`); ``final_states``: the optimizer states there, or None
    (then re-simulated)."""
    known = {}
    if final_states is not None:
        known[final.iteration] = (final.theta.copy(), None if final.psi is None else
                                  final.psi.copy(), copy.deepcopy(final_states))
    at = sc.stability if isinstance(sc.stability, str) else dict(sc.stability)
    columns = {name: np.array([row[i] for row in result.rows], dtype=np.float64)
               for i, name in enumerate(result.columns)}
    document = analyse(sc, run_step, at, final.iteration, result.snapshot_iterations, columns,
                       known)
    result.documents["stability.json"] = document
    result.summary_sections["stability"] = summary_section(document)
