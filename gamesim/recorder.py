"""metrics.csv rows and snapshots of a run, exact on the grid whatever the estimator, and the
:class:`Result` a run returns."""

import dataclasses
import math
import time
import types

import numpy as np
from numba import njit

from .columns import metric_columns
from .divergence import Diverged
from .protocols import capability, has
from .runchecks import ValueIdentity, cycle_warning, find_cycle, json_number

SMALL_MODEL = 8  # players with at most this many parameters get one column per parameter


@njit(cache=True)
def _dev_from_half(p_d, p_g, u, logit):
    """(d_max_dev, d_mean_dev): max |D - 1/2| over cells where p_d + p_g > 0, and the
    mass-weighted mean sum (p_d + p_g) |D - 1/2| / 2, which a cell of negligible mass cannot
    dominate (D* = p_d / (p_d + p_g) makes it TV(p_d, p_g) / 2). D = sigma(u) if ``logit``
    (as :func:`discriminator_values` gives it, taken only where it is read), else u."""
    worst, mean = 0.0, 0.0
    for i in range(u.size):
        weight = p_d[i] + p_g[i]
        if weight > 0.0:
            d = 1.0 / (1.0 + math.exp(-u[i])) if logit else u[i]
            dev = abs(d - 0.5)
            worst = max(worst, dev)
            mean += weight * dev
    return worst, 0.5 * mean


@dataclasses.dataclass
class Result:
    """What a run produced: metric rows, snapshots and how it ended."""

    columns: list
    rows: list
    snapshot_iterations: list
    snapshot_p_gen: list
    snapshot_d: list
    d_output: str | None
    status: str
    iterations: int
    failure: dict | None
    warnings: list
    wall_seconds: float
    extra_snapshots: dict = dataclasses.field(default_factory=dict)
    # analyses made after the loop: summary.json sections by name, and JSON files of the run
    # directory by file name (such as stability.json)
    summary_sections: dict = dataclasses.field(default_factory=dict)
    documents: dict = dataclasses.field(default_factory=dict)


def discriminator_values(output, u):
    """D on the grid from the raw outputs: sigma(u) for logits, u itself otherwise (exp(-u)
    may overflow to inf, giving D = 0: a run ignores NumPy's floating-point warnings)."""
    if output == "logit":
        return 1.0 / (1.0 + np.exp(-u))
    return u.copy()


def parameter_reader(plugin):
    """A function of x giving a player's parameters as named numbers: the plugin's
    ``param_values`` if it has one, else each entry of a small vector, else the vector's
    norm (looked up once per run)."""
    if has(plugin, "param_values"):
        return plugin.param_values
    return _plain_values


def _plain_values(x):
    if x.size <= SMALL_MODEL:
        return {f"p{i}": float(v) for i, v in enumerate(x)}
    return {"norm": float(np.linalg.norm(x))}


def bind(function, **kwargs):
    """Call an observer hook implementation with the arguments it declares (as pluggy does)."""
    names = function.__code__.co_varnames[:function.__code__.co_argcount]
    return function(**{k: v for k, v in kwargs.items() if k in names})


def _norm_of(gradient):
    """The Euclidean norm of ``gradient()`` (inf if it diverged), as np.linalg.norm takes
    it (the square root of x.dot(x)) without its overhead."""
    try:
        g = gradient()
    except Diverged:
        return math.inf
    return math.sqrt(g.dot(g))


class Recorder:
    """Rows and snapshots of recorded states (:class:`gamesim.exact.Point`); ``batch`` is None
    or (column names, function of a state giving their values), the sampled estimator's
    batch estimates, placed after ``value``; ``record_hooks``: the ``gamesim_record``
    observers. A row's gradient norms are the state's own gradients, which the step that
    follows reuses in exact mode."""

    def __init__(self, sc, players, record_hooks, theta, psi, batch=None):
        self.sc, self.players, self.record_hooks = sc, players, record_hooks
        batch_names, self.batch_values = batch if batch is not None else ((), None)
        self.d_output = sc.objective.output if sc.objective is not None else None
        metrics = metric_columns(sc.objective, sc.distances, batch_names)
        self.d_max_dev = "d_max_dev" in metrics  # and d_mean_dev beside it
        # a run against the oracle checks its value against the closed form at every row
        self.identity = ValueIdentity(sc.objective) if players.oracle and \
            has(sc.objective, "oracle_value") else None
        # a parametrized run also records each player's parameters and gradient norms
        self.detailed = players.parametrized or not capability(sc.generator, "logit_params")
        # what a row calls, looked up once: the value, the distances, the parameters' readers
        self.value_of = sc.distance.value if sc.mode == "direct" else sc.objective.value
        self.value_plugin = sc.distance.name if sc.mode == "direct" else sc.objective.name
        self.distance_values = [d.value for d in sc.distances.values()]
        self.logit = self.d_output == "logit"
        self.g_values = parameter_reader(sc.generator)
        self.d_values = parameter_reader(sc.discriminator) if players.parametrized else None
        columns = ["iteration", *metrics]
        if self.detailed:
            columns += [f"g.{k}" for k in self.g_values(theta)]
            if players.parametrized:
                columns += [f"d.{k}" for k in self.d_values(psi)]
            columns += ["grad_norm.g"] + ["grad_norm.d"] * players.parametrized
        self.columns, self.rows, self.observer_names = columns, [], None
        self.transform = capability(sc.generator, "transform")
        self.snapshot_set = set(sc.snapshots)
        # snapshots by iteration: (p_g, D or None, G(z) or None); kept while the planned
        # list, the thinning buffer or the latest state needs them
        self.snaps, self.latest = {}, None
        # ``snapshots`` given as a count: a thinning buffer spreads the count over what was
        # run when the run ends early (a stop rule, a divergence): a snapshot every
        # ``spacing`` iterations from 0; beyond 2 * count of them, every other one is
        # dropped and the spacing doubled. A run that reaches its planned end keeps the
        # planned (evenly rounded) iterations instead, as before.
        count = getattr(sc, "snapshot_count", None)
        self.thin_count = count if count is not None and len(self.snapshot_set) < \
            sc.iterations + 1 else None
        self.buffer, self.buffered, self.spacing = [], set(), 1
        self.last_recorded, self.max_outside = -1, 0.0

    def wants(self, it):
        """Whether iteration ``it``'s state is snapshotted (planned, or due in the buffer)."""
        return it in self.snapshot_set or (self.thin_count is not None
                                           and it % self.spacing == 0)

    def record(self, state):
        sc, players, p_d = self.sc, self.players, self.sc.p_data
        it, theta, psi = state.iteration, state.theta, state.psi
        p_g, outside, u = state.grid()
        self.max_outside = max(self.max_outside, outside)
        if sc.mode == "direct":
            value = self.value_of(p_d, p_g)
        else:
            # the game's value and D's closeness to 1/2 are of the masses D sees
            seen_d, seen_g = players.seen(p_g, it)
            value = self.value_of(seen_d, seen_g, u)
        if math.isnan(value):
            raise Diverged("value", self.value_plugin, -1)
        if self.identity is not None:
            self.identity.check(it, value, seen_d, seen_g)
        row = [it, value]
        if self.batch_values is not None:
            row += self.batch_values(state)
        for distance in self.distance_values:
            row.append(distance(p_d, p_g))
        row.append(outside)
        if self.d_max_dev:
            row += _dev_from_half(seen_d, seen_g, u, self.logit)
        if self.detailed:
            row += self.g_values(theta).values()
            if players.parametrized:
                row += self.d_values(psi).values()
                row += [_norm_of(state.g_grad), _norm_of(state.d_grad)]
            else:
                row.append(_norm_of(state.g_grad))
        if self.record_hooks:
            view = types.SimpleNamespace(iteration=it, p_data=p_d, p_gen=p_g, u=u, theta=theta,
                                         psi=psi)
            extra = {}
            for hook in self.record_hooks:
                extra.update(bind(hook, scenario=sc, state=view) or {})
            if self.observer_names is None:
                self.observer_names = list(extra)
                self.columns.extend(self.observer_names)
            row += [float(extra.get(k, math.nan)) for k in self.observer_names]
        self.rows.append(row)
        self.last_recorded = it

    def snapshot(self, state):
        """Keep ``state``'s grid quantities if it is planned or due in the thinning buffer;
        the loop also calls this with the run's last state, always kept. A state only the
        buffer wants whose grid is not finite is passed over (sampled mode computes the grid
        only where it records or snapshots: the buffer must not end a run)."""
        it = state.iteration
        if it == self.latest:
            return
        due = self.thin_count is not None and it % self.spacing == 0
        try:
            snap = self._take(state)
        except Diverged:
            if due and it not in self.snapshot_set:
                return
            raise
        previous, self.latest = self.latest, it
        self.snaps[it] = snap
        dropped = [] if previous is None else [previous]
        if due:
            self.buffer.append(it)
            self.buffered.add(it)
            if len(self.buffer) > 2 * self.thin_count:
                dropped += self.buffer[1::2]
                self.buffered.difference_update(self.buffer[1::2])
                self.buffer = self.buffer[::2]
                self.spacing *= 2
        for old in dropped:  # only these can have lost the last reason to keep them
            if old != it and old not in self.buffered and old not in self.snapshot_set:
                self.snaps.pop(old, None)

    def _take(self, state):
        p_g, _, u = state.grid()
        d = None if u is None else discriminator_values(self.d_output, u)
        x = None if self.transform is None else self.transform(state.theta)
        return p_g.copy(), d, x

    def snapshot_iterations(self):
        """The snapshotted iterations, in order: the planned ones up to the latest state and
        the latest itself; for a count spread by the buffer over a run that ended early,
        the buffered iterations nearest to ``count`` evenly spaced ones, with the latest."""
        if self.latest is None:
            return []
        if self.thin_count is None or self.latest == self.sc.iterations:
            return sorted(t for t in self.snaps if t in self.snapshot_set or t == self.latest)
        candidates = np.array(sorted({*self.buffer, self.latest}))
        count = min(self.thin_count, candidates.size)
        targets = np.linspace(0, self.latest, count)
        right = np.clip(np.searchsorted(candidates, targets), 1, candidates.size - 1) \
            if candidates.size > 1 else np.zeros(count, dtype=int)
        if candidates.size > 1:
            left = right - 1
            nearer_left = targets - candidates[left] <= candidates[right] - targets
            right = np.where(nearer_left, left, right)
        return sorted({int(candidates[i]) for i in right} | {self.latest})

    def nan_metrics(self):
        """A warning for each metric that was NaN in a recorded row, with its first iteration.
        Observers' columns are left out: theirs is NaN wherever an observer gave no value."""
        if not self.rows:
            return []
        own = len(self.columns) - len(self.observer_names or ())
        nan = np.isnan(np.array([row[:own] for row in self.rows], dtype=float))
        return [f"metric {self.columns[col]!r} was NaN, first at iteration "
                f"{self.rows[int(nan[:, col].argmax())][0]}"
                for col in np.flatnonzero(nan.any(axis=0))]

    def result(self, status, failure, iterations, start):
        sc = self.sc
        extra = {}
        snap_it = self.snapshot_iterations()
        snaps = [self.snaps[t] for t in snap_it]
        snap_p = [p for p, _, _ in snaps]
        snap_d = [d for _, d, _ in snaps if d is not None]
        if self.transform is not None and snaps:
            extra["z"] = snaps[0][2][0]
            extra["transform"] = np.array([x for _, _, (_, x) in snaps])
        warnings = list(sc.warnings)
        if sc.target_outside > 1e-9:
            warnings.append(f"the target has mass {sc.target_outside:.3g} outside the grid "
                            f"[{sc.grid.lower}, {sc.grid.upper}]; its masses were renormalized")
        if self.max_outside > 0:
            warnings.append(f"generated mass up to {self.max_outside:.3g} fell beyond the grid's "
                            f"edges and was put in the edge cells (metric mass_outside)")
        if failure is not None:
            warnings.append(f"diverged: {failure['quantity']} of {failure['plugin']} went "
                            f"non-finite at iteration {failure['iteration']}")
        warnings += self.nan_metrics()
        checks = self.checks()
        if self.identity is not None and not self.identity.passed:
            warnings.append(self.identity.warning())
        if checks["cycle"] is not None:
            warnings.append(cycle_warning(checks["cycle"]))
        return Result(self.columns, self.rows, snap_it, snap_p, snap_d,
                      self.d_output, status, iterations, failure, warnings,
                      time.perf_counter() - start, extra, summary_sections={"checks": checks})

    def checks(self):
        """summary.json's ``checks``: the value identity of a run against the oracle, the last
        row's d_mean_dev (beside d_max_dev) and the cycle found in the rows (or None)."""
        checks = {}
        if self.identity is not None:
            checks["value_identity"] = self.identity.section()
        if self.d_max_dev and self.rows:
            last = dict(zip(self.columns, self.rows[-1]))
            checks["d_mean_dev"] = {"iteration": last["iteration"],
                                    "d_mean_dev": json_number(last["d_mean_dev"]),
                                    "d_max_dev": json_number(last["d_max_dev"])}
        checks["cycle"] = find_cycle(self.rows, self.sc.record_every)
        return checks
