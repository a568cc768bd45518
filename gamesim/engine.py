"""The iteration loop: the players' dynamics of DESIGN.md section 1, recorded.

Plugins are plain objects here; the registry and pluggy were consulted while the scenario was
built. Each iteration calls a handful of plugin methods, each a single Numba kernel or a few
NumPy operations.

Extrapolation optimizers (those with ``lookahead``, such as extragradient) are settled here:
a player whose optimizer has it takes a trial step, both players' gradients are evaluated
at the extrapolated point (in the simultaneous schedule; its own in the alternating one) and
the real step starts again from the original parameters with those gradients.
"""

import dataclasses
import math
import time
import types

import numpy as np
from numba import njit

from . import _malloc
from .errors import GamesimError, PluginRunError
from .fastmath import _bits

SMALL_MODEL = 8  # players with at most this many parameters get one column per parameter
PHASE_POINTS = 15  # the phase portrait's gradient field is sampled on PHASE_POINTS^2 points


_EXPONENT_BITS = 0x7FF0000000000000  # all set: inf or NaN
_NEG_INF_BITS = -0x10000000000000  # 0xFFF0000000000000 as an int64


@njit(cache=True, error_model="numpy")
def _first_bad(x, allow_neg_inf):
    """Index of the first NaN or infinite entry (-inf allowed on request), or -1.

    Every iteration checks its arrays, so the common case is a first pass that only counts
    non-finite entries in integer arithmetic on the bits: no branch, so it vectorizes (3-6x
    faster than comparing floats one by one). The index is looked for only when one exists.
    """
    nonfinite = 0
    neg_inf = 0
    for i in range(x.size):
        bits = _bits(x[i])
        nonfinite += (bits & _EXPONENT_BITS) == _EXPONENT_BITS
        neg_inf += bits == _NEG_INF_BITS
    if nonfinite == (neg_inf if allow_neg_inf else 0):
        return -1
    for i in range(x.size):
        v = x[i]
        if v != v or v == math.inf or (v == -math.inf and not allow_neg_inf):
            return i
    return -1


@njit(cache=True)
def _max_dev_from_half(p_d, p_g, d):
    """max |D - 1/2| over cells where p_d + p_g > 0."""
    worst = 0.0
    for i in range(d.size):
        if p_d[i] + p_g[i] > 0.0:
            worst = max(worst, abs(d[i] - 0.5))
    return worst


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


class _Diverged(Exception):
    def __init__(self, quantity, plugin, index):
        super().__init__(quantity)
        self.quantity, self.plugin, self.index = quantity, plugin, index  # index -1: a scalar


@njit(cache=True, error_model="numpy")
def _copy_checked(x, out, allow_neg_inf):
    """out[:] = x, and the index of the first non-finite entry of x as _first_bad gives it."""
    for i in range(x.size):
        out[i] = x[i]
    return _first_bad(x, allow_neg_inf)


def _check(x, quantity, plugin, allow_neg_inf=False):
    i = _first_bad(x, allow_neg_inf)
    if i >= 0:
        raise _Diverged(quantity, plugin, i)
    return x


def discriminator_values(output, u):
    """D on the grid from the raw outputs: sigma(u) for logits, u itself otherwise (exp(-u)
    may overflow to inf, giving D = 0: a run ignores NumPy's floating-point warnings)."""
    if output == "logit":
        return 1.0 / (1.0 + np.exp(-u))
    return u.copy()


def parameter_values(plugin, x):
    """A player's parameters as named numbers: the plugin's ``param_values`` if it has one,
    else each entry of a small vector, else the vector's norm."""
    if hasattr(plugin, "param_values"):
        return plugin.param_values(x)
    if x.size <= SMALL_MODEL:
        return {f"p{i}": float(v) for i, v in enumerate(x)}
    return {"norm": float(np.linalg.norm(x))}


class _Players:
    """The gradients of both players at any (theta, psi): what the schedules step with."""

    def __init__(self, sc):
        self.sc, self.gen, self.disc, self.objective = sc, sc.generator, sc.discriminator, sc.objective
        self.oracle = self.disc is not None and getattr(self.disc, "oracle", False)
        self.parametrized = self.disc is not None and not self.oracle
        self.mirror = getattr(sc.generator_optimizer, "requires_logit_params", False)
        self.penalty = getattr(sc.regularizer, "penalty", None)
        self.project = getattr(sc.regularizer, "project", None)
        if sc.mode == "direct":
            self.g_source = f"distance {sc.distance.name!r}"
        else:
            self.g_source = f"objective {sc.objective.name!r}"
        # the plugins named when a check fails, spelled out once rather than every iteration
        self.gen_label = f"generator {self.gen.name!r}"
        self.g_grad_label = f"{self.gen_label} ({self.g_source})"
        self.disc_label = self.disc is not None and f"discriminator {self.disc.name!r}"

    def at(self, theta, psi):
        """(p_g, mass_outside, u) at the given parameters; u None in direct mode."""
        p_g, outside = self.gen.forward(theta)
        _check(p_g, "generator masses", self.gen_label)
        u = None
        if self.oracle:
            u = self.objective.oracle(self.sc.p_data, p_g)
        elif self.parametrized:
            u = self.outputs(psi)
        return p_g, outside, u

    def outputs(self, psi):
        """The parametrized discriminator's raw outputs u(psi)."""
        return _check(self.disc.forward(psi), "discriminator outputs", self.disc_label)

    def g_grad(self, theta, p_g, u):
        """The generator's gradient (dL/dp_g itself for the mirror step)."""
        p_d = self.sc.p_data
        if self.sc.mode == "direct":
            g_p = self.sc.distance.grad(p_d, p_g)
        else:
            g_p = self.objective.generator_grad(p_d, p_g, u)
        if self.mirror:
            return g_p
        return _check(self.gen.vjp(theta, g_p), "generator gradient", self.g_grad_label)

    def d_grad(self, psi, p_g, u):
        """The discriminator's descent direction: d(-V_D + penalty)/dpsi."""
        p_d = self.sc.p_data
        g = self.disc.vjp(psi, self.objective.discriminator_grad(p_d, p_g, u))
        if self.penalty is not None:
            g = g + self.penalty(self.disc, psi, p_d, p_g)[1]
        return _check(g, "discriminator gradient", self.disc_label)


def _bind(function, **kwargs):
    """Call an observer hook implementation with the arguments it declares (as pluggy does)."""
    names = function.__code__.co_varnames[:function.__code__.co_argcount]
    return function(**{k: v for k, v in kwargs.items() if k in names})


class State:
    """One iteration's parameters (copies) and their exact grid quantities (p_g, mass outside,
    u), computed by ``at`` on first use: every iteration in exact mode, only where a row or a
    snapshot is recorded in sampled mode."""

    __slots__ = ("iteration", "theta", "psi", "_at", "_exact")

    def __init__(self, iteration, theta, psi, at, exact=None):
        self.iteration, self.theta, self.psi = iteration, theta, psi
        self._at, self._exact = at, exact

    def exact(self):
        if self._exact is None:
            self._exact = self._at(self.theta, self.psi)
        return self._exact


def start_run(sc):
    """The observers, after calling their run-start hooks; the players' initial parameters."""
    from . import plugins as plugin_manager

    observers = plugin_manager.observers()
    for hook in observers["gamesim_run_start"]:
        _bind(hook, scenario=sc)
    gen_seed, disc_seed = np.random.SeedSequence(sc.seed).spawn(2)
    theta = np.ascontiguousarray(sc.generator.init_params(np.random.default_rng(gen_seed)),
                                 np.float64)
    psi = None
    if sc.discriminator is not None and not getattr(sc.discriminator, "oracle", False):
        psi = np.ascontiguousarray(sc.discriminator.init_params(np.random.default_rng(disc_seed)),
                                   np.float64)
    return observers, theta, psi


class Steps:
    """Both players' optimizers and their state. D's steps are checked for divergence (and its
    parameters projected by a regularizer that projects); G's parameters are checked as the
    next iteration copies them (:meth:`saved_theta`), one pass for both."""

    def __init__(self, sc, players, theta, psi):
        self.players, self.gopt, self.dopt = players, sc.generator_optimizer, sc.discriminator_optimizer
        self.logit_params = getattr(sc.generator, "logit_params", False)
        self.gstate = self.gopt.init_state(theta)
        self.g_look = getattr(self.gopt, "lookahead", None)
        self.gopt_label = f"optimizer {self.gopt.name!r} ({players.g_source})"
        self.dstate = self.d_look = self.dopt_label = None
        if psi is not None:
            self.dstate = self.dopt.init_state(psi)
            self.d_look = getattr(self.dopt, "lookahead", None)
            self.dopt_label = f"optimizer {self.dopt.name!r}"

    def gen(self, theta, g):
        return self.gopt.step(theta, g, self.gstate)

    def saved_theta(self, theta, iteration):
        """A copy of theta, which the generator's optimizer (its init_params at iteration 0)
        must have left finite: the optimizer may step theta in place, so a State keeps a copy."""
        saved = np.empty(theta.size)
        i = _copy_checked(theta, saved, self.logit_params)
        if i >= 0:
            raise _Diverged("generator parameters",
                            self.gopt_label if iteration else self.players.gen_label, i)
        return saved

    def disc(self, psi, g):
        psi = self.dopt.step(psi, g, self.dstate)
        if self.players.project is not None:
            psi = self.players.project(psi)
        return _check(psi, "discriminator parameters", self.dopt_label)


class Recorder:
    """metrics.csv rows and snapshots, exact on the grid whatever the estimator; ``batch`` is
    None or (column names, function of a State giving their values), the sampled estimator's
    batch estimates, placed after ``value``."""

    def __init__(self, sc, players, observers, theta, psi, batch=None):
        self.sc, self.players, self.observers = sc, players, observers
        self.batch_names, self.batch_values = batch if batch is not None else ((), None)
        self.d_output = sc.objective.output if sc.objective is not None else None
        # a parametrized run also records each player's parameters and gradient norms
        self.detailed = players.parametrized or not getattr(sc.generator, "logit_params", False)
        columns = ["iteration", "value", *self.batch_names, *sc.distances, "mass_outside"]
        if self.d_output in ("logit", "probability"):
            columns.append("d_max_dev")
        if self.detailed:
            columns += [f"g.{k}" for k in parameter_values(sc.generator, theta)]
            if players.parametrized:
                columns += [f"d.{k}" for k in parameter_values(sc.discriminator, psi)]
            columns += ["grad_norm.g"] + ["grad_norm.d"] * players.parametrized
        self.columns, self.rows, self.observer_names = columns, [], None
        self.transform = getattr(sc.generator, "transform", None)
        self.snapshot_set = set(sc.snapshots)
        self.snap_it, self.snap_p, self.snap_d, self.snap_x = [], [], [], []
        self.last_recorded, self.max_outside = -1, 0.0
        self.phase = players.parametrized and theta.size == 1 and psi.size == 1

    def record(self, state):
        sc, players, p_d = self.sc, self.players, self.sc.p_data
        it, theta, psi = state.iteration, state.theta, state.psi
        p_g, outside, u = state.exact()
        self.max_outside = max(self.max_outside, outside)
        if sc.mode == "direct":
            value = sc.distance.value(p_d, p_g)
        else:
            value = sc.objective.value(p_d, p_g, u)
        if math.isnan(value):
            raise _Diverged("value", sc.distance.name if sc.mode == "direct" else sc.objective.name, -1)
        row = [it, value]
        if self.batch_values is not None:
            row += self.batch_values(state)
        row += [*(d.value(p_d, p_g) for d in sc.distances.values()), outside]
        if self.d_output in ("logit", "probability"):
            row.append(_max_dev_from_half(p_d, p_g, discriminator_values(self.d_output, u)))
        if self.detailed:
            row += parameter_values(sc.generator, theta).values()
            if players.parametrized:
                row += parameter_values(sc.discriminator, psi).values()
                row += [_norm_of(players.g_grad, theta, p_g, u), _norm_of(players.d_grad, psi, p_g, u)]
            else:
                row.append(_norm_of(players.g_grad, theta, p_g, u))
        if self.observers["gamesim_record"]:
            view = types.SimpleNamespace(iteration=it, p_data=p_d, p_gen=p_g, u=u, theta=theta,
                                         psi=psi)
            extra = {}
            for hook in self.observers["gamesim_record"]:
                extra.update(_bind(hook, scenario=sc, state=view) or {})
            if self.observer_names is None:
                self.observer_names = list(extra)
                self.columns.extend(self.observer_names)
            row += [float(extra.get(k, math.nan)) for k in self.observer_names]
        self.rows.append(row)
        self.last_recorded = it

    def snapshot(self, state):
        if self.snap_it and self.snap_it[-1] == state.iteration:
            return
        p_g, _, u = state.exact()
        self.snap_it.append(state.iteration)
        self.snap_p.append(p_g.copy())
        if u is not None:
            self.snap_d.append(discriminator_values(self.d_output, u))
        if self.transform is not None:
            self.snap_x.append(self.transform(state.theta))

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
        if self.transform is not None and self.snap_x:
            extra["z"] = self.snap_x[0][0]
            extra["transform"] = np.array([x for _, x in self.snap_x])
        if self.phase and self.rows:
            extra.update(_phase_field(self.players, self.columns, self.rows))
        warnings = []
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
        return Result(self.columns, self.rows, self.snap_it, self.snap_p, self.snap_d,
                      self.d_output, status, iterations, failure, warnings,
                      time.perf_counter() - start, extra)


def _norm_of(gradient, *args):
    try:
        return float(np.linalg.norm(gradient(*args)))
    except _Diverged:
        return math.inf


def iterate(sc, players, make_update, progress, start, eager, batch=None):
    """The run both estimators share: set up the observers, the initial parameters, the
    optimizers (``make_update(steps)`` gives ``update(state, theta, psi) -> (theta, psi)``,
    which makes an iteration's steps) and the :class:`Recorder` (``batch`` as it takes it);
    then each iteration's state is recorded and snapshotted as due and the stop condition
    checked before ``update``. A non-finite number ends the run as 'diverged', keeping what was
    recorded (and the last finite state). ``eager``: compute the exact state every iteration
    (exact mode steps with it) rather than only where recorded. An exception a plugin raises
    becomes a :class:`PluginRunError` naming it and the iteration."""
    it = 0
    # a plugin's overflow shows as a non-finite number, which the checks record as a
    # divergence (or a NaN metric, as a warning): NumPy's warnings would only repeat it
    with np.errstate(all="ignore"):
        try:
            observers, theta, psi = start_run(sc)
            steps = Steps(sc, players, theta, psi)
            recorder = Recorder(sc, players, observers, theta, psi, batch)
            update = make_update(steps)
            status, failure = "completed", None
            state = None  # the last state known to be finite
            updating = False
            last, record_every = sc.iterations, sc.record_every
            snapshot_set = recorder.snapshot_set
            try:
                for it in range(last + 1):
                    updating = False
                    saved_theta = steps.saved_theta(theta, it)
                    exact = None
                    if eager:
                        exact = players.at(theta, psi)
                        if exact[1] > recorder.max_outside:
                            recorder.max_outside = exact[1]
                    state = State(it, saved_theta, None if psi is None else psi.copy(),
                                  players.at, exact)
                    if it % record_every == 0 or it == last:
                        recorder.record(state)
                    if it in snapshot_set:
                        recorder.snapshot(state)
                    if sc.stop is not None and recorder.last_recorded == it and \
                            recorder.rows[-1][recorder.columns.index(sc.stop[0])] < sc.stop[1]:
                        status = "converged"
                        break
                    if progress is not None and it % 256 == 0:
                        progress(it)
                    if it == last:
                        break
                    updating = True
                    theta, psi = update(state, theta, psi)
            except _Diverged as err:
                status = "diverged"
                failure = {"quantity": err.quantity, "plugin": err.plugin,
                           "iteration": it + 1 if updating else it, "index": err.index}
                if state is not None and recorder.last_recorded != state.iteration:
                    try:
                        recorder.record(state)
                    except _Diverged:
                        pass
            if state is not None:
                it = state.iteration
                try:
                    recorder.snapshot(state)
                except _Diverged:  # sampled mode: the last state's grid deposit was not finite
                    pass
            return recorder.result(status, failure, it, start)
        except Exception as err:
            relabelled = plugin_failure(sc, err, it)
            if relabelled is None:
                raise
            raise relabelled from err


def _plugins_of(sc):
    """Every plugin instance the scenario plays with: id -> (kind, instance)."""
    found = [("target", sc.target), ("generator", sc.generator),
             ("optimizer", sc.generator_optimizer), ("discriminator", sc.discriminator),
             ("optimizer", sc.discriminator_optimizer), ("regularizer", sc.regularizer),
             ("objective", sc.objective), ("distance", sc.distance),
             *(("distance", d) for d in sc.distances.values())]
    return {id(plugin): (kind, plugin) for kind, plugin in found if plugin is not None}


def plugin_failure(sc, err, iteration):
    """The :class:`PluginRunError` for ``err``, raised at ``iteration`` of a run of ``sc``, if
    a plugin raised it: in one of its methods (the innermost on the traceback: the method's
    ``self`` is one of the scenario's plugins), or in an observer hook (a PluginRunError
    already naming the plugin). None for an exception of gamesim's own code, or a
    GamesimError."""
    if isinstance(err, GamesimError):
        if type(err) is PluginRunError:
            return PluginRunError(f"{err} at iteration {iteration}")
        return None
    plugins, found = _plugins_of(sc), None
    tb = err.__traceback__
    while tb is not None:  # walked only once the run has failed: the loop pays nothing
        code = tb.tb_frame.f_code
        if code.co_argcount and code.co_varnames[0] == "self":
            owner = plugins.get(id(tb.tb_frame.f_locals.get("self")))
            if owner is not None:
                found = owner, code
        tb = tb.tb_next
    if found is None:
        return None
    (kind, plugin), code = found
    from . import plugins as plugin_manager

    origin = plugin_manager.registry().origins[kind].get(plugin.name)
    where = f"{kind} {plugin.name!r}" + (f" (plugin {origin!r})" if origin else "")
    detail = " ".join(str(err).split())  # one line, whatever the plugin's message
    raised = type(err).__name__ + (f": {detail}" if detail else "")
    args = ", ".join(code.co_varnames[1:code.co_argcount])
    return PluginRunError(f"{where}: {code.co_name}({args}) raised {raised} at iteration "
                          f"{iteration}")


def run(sc, progress=None):
    """Simulate scenario ``sc``; ``progress(iteration)`` is called now and then if given.
    A sampled scenario (``[game] estimator = "sampled"``) runs in :mod:`gamesim.sampled`."""
    _malloc.retain_freed_memory()
    if sc.estimator == "sampled":
        from . import sampled
        return sampled.run(sc, progress)
    start = time.perf_counter()
    players = _Players(sc)
    return iterate(sc, players, lambda steps: _exact_update(sc, players, steps), progress,
                   start, eager=True)


def _exact_update(sc, players, steps):
    """One iteration of the exact dynamics (DESIGN.md section 1): the function ``iterate``
    calls with each state."""
    g_look, d_look = steps.g_look, steps.d_look

    def gen_update(theta, psi, p_g, u):
        """One generator step against the current discriminator (the oracle re-responds at
        an extrapolated point)."""
        g = players.g_grad(theta, p_g, u)
        if g_look is not None:
            theta_half = g_look(theta, g, steps.gstate)
            p_half, _, u_half = players.at(theta_half, psi)
            g = players.g_grad(theta_half, p_half, u_half)
        return steps.gen(theta, g)

    def update(state, theta, psi):
        p_g, _, u = state.exact()
        if not players.parametrized:
            return gen_update(theta, psi, p_g, u), psi
        if sc.schedule == "alternating":
            for _ in range(sc.steps):
                g_psi = players.d_grad(psi, p_g, u)
                if d_look is not None:
                    psi_half = d_look(psi, g_psi, steps.dstate)
                    g_psi = players.d_grad(psi_half, p_g, players.outputs(psi_half))
                psi = steps.disc(psi, g_psi)
                u = players.outputs(psi)
            return gen_update(theta, psi, p_g, u), psi
        g_psi = players.d_grad(psi, p_g, u)
        g_theta = players.g_grad(theta, p_g, u)
        if g_look is not None or d_look is not None:
            theta_half = theta if g_look is None else g_look(theta, g_theta, steps.gstate)
            psi_half = psi if d_look is None else d_look(psi, g_psi, steps.dstate)
            p_half, _, u_half = players.at(theta_half, psi_half)
            if d_look is not None:
                g_psi = players.d_grad(psi_half, p_half, u_half)
            if g_look is not None:
                g_theta = players.g_grad(theta_half, p_half, u_half)
        psi = steps.disc(psi, g_psi)
        return steps.gen(theta, g_theta), psi

    return update


def _phase_field(players, columns, rows):
    """Both players' descent directions on a grid of (theta, psi) spanning the recorded
    trajectory, for the phase portrait of a one-parameter-each game (the Dirac-GAN)."""
    g_col = next(i for i, c in enumerate(columns) if c.startswith("g."))
    d_col = next(i for i, c in enumerate(columns) if c.startswith("d."))
    axes = []
    for col in (g_col, d_col):
        values = np.array([r[col] for r in rows], float)
        values = values[np.isfinite(values)]
        lo, hi = (values.min(), values.max()) if values.size else (-1.0, 1.0)
        pad = 0.15 * (hi - lo) if hi > lo else 1.0
        axes.append(np.linspace(lo - pad, hi + pad, PHASE_POINTS))
    if not np.all(np.isfinite(axes)):  # a trajectory spanning more than the doubles do
        return {}
    theta, psi = np.meshgrid(*axes, indexing="xy")
    grad_theta, grad_psi = np.zeros_like(theta), np.zeros_like(psi)
    for idx in np.ndindex(theta.shape):
        t, s = np.array([theta[idx]]), np.array([psi[idx]])
        try:
            p_g, _, u = players.at(t, s)
            grad_theta[idx] = players.g_grad(t, p_g, u)[0]
            grad_psi[idx] = players.d_grad(s, p_g, u)[0]
        except _Diverged:
            pass  # an arrow of length 0 where the field is not finite
    return {"phase_theta": theta, "phase_psi": psi, "phase_grad_theta": grad_theta,
            "phase_grad_psi": grad_psi}
