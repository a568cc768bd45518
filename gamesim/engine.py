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

SMALL_MODEL = 8  # players with at most this many parameters get one column per parameter
PHASE_POINTS = 15  # the phase portrait's gradient field is sampled on PHASE_POINTS^2 points


@njit(cache=True)
def _first_bad(x, allow_neg_inf):
    """Index of the first NaN or infinite entry (-inf allowed on request), or -1."""
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


def _check(x, quantity, plugin, allow_neg_inf=False):
    i = _first_bad(x, allow_neg_inf)
    if i >= 0:
        raise _Diverged(quantity, plugin, i)
    return x


def discriminator_values(output, u):
    """D on the grid from the raw outputs: sigma(u) for logits, u itself otherwise."""
    if output == "logit":
        with np.errstate(over="ignore"):
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

    def at(self, theta, psi):
        """(p_g, mass_outside, u) at the given parameters; u None in direct mode."""
        p_g, outside = self.gen.forward(theta)
        _check(p_g, "generator masses", f"generator {self.gen.name!r}")
        u = None
        if self.oracle:
            u = self.objective.oracle(self.sc.p_data, p_g)
        elif self.parametrized:
            u = self.outputs(psi)
        return p_g, outside, u

    def outputs(self, psi):
        """The parametrized discriminator's raw outputs u(psi)."""
        return _check(self.disc.forward(psi), "discriminator outputs",
                      f"discriminator {self.disc.name!r}")

    def g_grad(self, theta, p_g, u):
        """The generator's gradient (dL/dp_g itself for the mirror step)."""
        p_d = self.sc.p_data
        if self.sc.mode == "direct":
            g_p = self.sc.distance.grad(p_d, p_g)
        else:
            g_p = self.objective.generator_grad(p_d, p_g, u)
        if self.mirror:
            return g_p
        return _check(self.gen.vjp(theta, g_p), "generator gradient",
                      f"generator {self.gen.name!r} ({self.g_source})")

    def d_grad(self, psi, p_g, u):
        """The discriminator's descent direction: d(-V_D + penalty)/dpsi."""
        p_d = self.sc.p_data
        g = self.disc.vjp(psi, self.objective.discriminator_grad(p_d, p_g, u))
        if self.penalty is not None:
            g = g + self.penalty(self.disc, psi, p_d, p_g)[1]
        return _check(g, "discriminator gradient", f"discriminator {self.disc.name!r}")


def _bind(function, **kwargs):
    """Call an observer hook implementation with the arguments it declares (as pluggy does)."""
    names = function.__code__.co_varnames[:function.__code__.co_argcount]
    return function(**{k: v for k, v in kwargs.items() if k in names})


def run(sc, progress=None):
    """Simulate scenario ``sc``; ``progress(iteration)`` is called now and then if given."""
    from . import plugins as plugin_manager

    start = time.perf_counter()
    players = _Players(sc)
    gen, gopt, disc, dopt, objective = (sc.generator, sc.generator_optimizer, sc.discriminator,
                                        sc.discriminator_optimizer, sc.objective)
    parametrized = players.parametrized
    logit_params = getattr(gen, "logit_params", False)
    p_d = sc.p_data
    gen_seed, disc_seed = np.random.SeedSequence(sc.seed).spawn(2)
    observers = plugin_manager.observers()
    for hook in observers["gamesim_run_start"]:
        _bind(hook, scenario=sc)

    theta = np.ascontiguousarray(gen.init_params(np.random.default_rng(gen_seed)), np.float64)
    gstate = gopt.init_state(theta)
    g_look = getattr(gopt, "lookahead", None)
    psi = dstate = d_look = None
    if parametrized:
        psi = np.ascontiguousarray(disc.init_params(np.random.default_rng(disc_seed)), np.float64)
        dstate = dopt.init_state(psi)
        d_look = getattr(dopt, "lookahead", None)

    d_output = objective.output if objective is not None else None
    # a parametrized run also records each player's parameters and gradient norms
    detailed = parametrized or not logit_params
    columns = ["iteration", "value", *sc.distances, "mass_outside"]
    if d_output in ("logit", "probability"):
        columns.append("d_max_dev")
    if detailed:
        columns += [f"g.{k}" for k in parameter_values(gen, theta)]
        if parametrized:
            columns += [f"d.{k}" for k in parameter_values(disc, psi)]
        columns += ["grad_norm.g"] + ["grad_norm.d"] * parametrized
    observer_names = None
    transform = getattr(gen, "transform", None)
    snapshot_set = set(sc.snapshots)
    rows, snap_it, snap_p, snap_d, snap_x = [], [], [], [], []
    status, failure, max_outside, last_recorded = "completed", None, 0.0, -1

    def norm_of(gradient, *args):
        try:
            with np.errstate(all="ignore"):
                return float(np.linalg.norm(gradient(*args)))
        except _Diverged:
            return math.inf

    def record(it, theta, psi, p_g, u, outside):
        nonlocal last_recorded, observer_names
        value = sc.distance.value(p_d, p_g) if sc.mode == "direct" else objective.value(p_d, p_g, u)
        if math.isnan(value):
            raise _Diverged("value", sc.distance.name if sc.mode == "direct" else objective.name, -1)
        row = [it, value, *(d.value(p_d, p_g) for d in sc.distances.values()), outside]
        if d_output in ("logit", "probability"):
            row.append(_max_dev_from_half(p_d, p_g, discriminator_values(d_output, u)))
        if detailed:
            row += parameter_values(gen, theta).values()
            if parametrized:
                row += parameter_values(disc, psi).values()
                row += [norm_of(players.g_grad, theta, p_g, u), norm_of(players.d_grad, psi, p_g, u)]
            else:
                row.append(norm_of(players.g_grad, theta, p_g, u))
        if observers["gamesim_record"]:
            state = types.SimpleNamespace(iteration=it, p_data=p_d, p_gen=p_g, u=u, theta=theta,
                                          psi=psi)
            extra = {}
            for hook in observers["gamesim_record"]:
                extra.update(_bind(hook, scenario=sc, state=state) or {})
            if observer_names is None:
                observer_names = list(extra)
                columns.extend(observer_names)
            row += [float(extra.get(k, math.nan)) for k in observer_names]
        rows.append(row)
        last_recorded = it

    def snapshot(it, theta, psi, p_g, u, outside):
        if snap_it and snap_it[-1] == it:
            return
        snap_it.append(it)
        snap_p.append(p_g.copy())
        if u is not None:
            snap_d.append(discriminator_values(d_output, u))
        if transform is not None:
            snap_x.append(transform(theta))

    def gen_step(theta, g):
        theta = gopt.step(theta, g, gstate)
        return _check(theta, "generator parameters", f"optimizer {gopt.name!r} "
                      f"({players.g_source})", allow_neg_inf=logit_params)

    def gen_update(theta, psi, p_g, u):
        """One generator step against the current discriminator (the oracle re-responds at
        an extrapolated point)."""
        g = players.g_grad(theta, p_g, u)
        if g_look is not None:
            theta_half = g_look(theta, g, gstate)
            p_half, _, u_half = players.at(theta_half, psi)
            g = players.g_grad(theta_half, p_half, u_half)
        return gen_step(theta, g)

    def disc_step(psi, g):
        psi = dopt.step(psi, g, dstate)
        if players.project is not None:
            psi = players.project(psi)
        return _check(psi, "discriminator parameters", f"optimizer {dopt.name!r}")

    state = None  # the last state known to be finite: (iteration, theta, psi, p_g, u, outside)
    updating = False
    it = 0
    try:
        for it in range(sc.iterations + 1):
            updating = False
            p_g, outside, u = players.at(theta, psi)
            max_outside = max(max_outside, outside)
            state = (it, theta.copy(), None if psi is None else psi.copy(), p_g, u, outside)
            if it % sc.record_every == 0 or it == sc.iterations:
                record(*state)
            if it in snapshot_set:
                snapshot(*state)
            if sc.stop is not None and last_recorded == it and \
                    rows[-1][columns.index(sc.stop[0])] < sc.stop[1]:
                status = "converged"
                break
            if progress is not None and it % 256 == 0:
                progress(it)
            if it == sc.iterations:
                break

            updating = True
            if not parametrized:
                theta = gen_update(theta, psi, p_g, u)
            elif sc.schedule == "alternating":
                for _ in range(sc.steps):
                    g_psi = players.d_grad(psi, p_g, u)
                    if d_look is not None:
                        psi_half = d_look(psi, g_psi, dstate)
                        g_psi = players.d_grad(psi_half, p_g, players.outputs(psi_half))
                    psi = disc_step(psi, g_psi)
                    u = players.outputs(psi)
                theta = gen_update(theta, psi, p_g, u)
            else:
                g_psi = players.d_grad(psi, p_g, u)
                g_theta = players.g_grad(theta, p_g, u)
                if g_look is not None or d_look is not None:
                    theta_half = theta if g_look is None else g_look(theta, g_theta, gstate)
                    psi_half = psi if d_look is None else d_look(psi, g_psi, dstate)
                    p_half, _, u_half = players.at(theta_half, psi_half)
                    if d_look is not None:
                        g_psi = players.d_grad(psi_half, p_half, u_half)
                    if g_look is not None:
                        g_theta = players.g_grad(theta_half, p_half, u_half)
                psi = disc_step(psi, g_psi)
                theta = gen_step(theta, g_theta)
    except _Diverged as err:
        status = "diverged"
        failure = {"quantity": err.quantity, "plugin": err.plugin,
                   "iteration": it + 1 if updating else it, "index": err.index}
        if state is not None and last_recorded != state[0]:
            try:
                record(*state)
            except _Diverged:
                pass
    if state is not None:
        it = state[0]
        snapshot(*state)

    extra = {}
    if transform is not None and snap_x:
        extra["z"] = snap_x[0][0]
        extra["transform"] = np.array([x for _, x in snap_x])
    if parametrized and theta.size == 1 and psi.size == 1 and rows:
        extra.update(_phase_field(players, columns, rows))

    warnings = []
    if sc.target_outside > 1e-9:
        warnings.append(f"the target has mass {sc.target_outside:.3g} outside the grid "
                        f"[{sc.grid.lower}, {sc.grid.upper}]; its masses were renormalized")
    if max_outside > 0:
        warnings.append(f"generated mass up to {max_outside:.3g} fell beyond the grid's edges and "
                        f"was put in the edge cells (metric mass_outside)")
    if failure is not None:
        warnings.append(f"diverged: {failure['quantity']} of {failure['plugin']} went non-finite "
                        f"at iteration {failure['iteration']}")
    return Result(columns, rows, snap_it, snap_p, snap_d, d_output, status,
                  it, failure, warnings, time.perf_counter() - start, extra)


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
    theta, psi = np.meshgrid(*axes, indexing="xy")
    grad_theta, grad_psi = np.zeros_like(theta), np.zeros_like(psi)
    with np.errstate(all="ignore"):
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
