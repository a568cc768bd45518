"""The iteration loop: the players' dynamics of DESIGN.md section 1, recorded.

Plugins are plain objects here; the registry and pluggy were consulted while the scenario was
built. Each iteration calls a handful of plugin methods, each a single Numba kernel.
"""

import dataclasses
import math
import time

import numpy as np
from numba import njit


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


class _Diverged(Exception):
    def __init__(self, quantity, plugin, index):
        super().__init__(quantity)
        self.quantity, self.plugin, self.index = quantity, plugin, index  # index -1: a scalar


def _check(x, quantity, plugin, allow_neg_inf=False):
    i = _first_bad(x, allow_neg_inf)
    if i >= 0:
        raise _Diverged(quantity, plugin, i)


def discriminator_values(output, u):
    """D on the grid from the raw outputs: sigma(u) for logits, u itself otherwise."""
    if output == "logit":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-u))
    return u.copy()


def run(sc, progress=None):
    """Simulate scenario ``sc``; ``progress(iteration)`` is called now and then if given."""
    start = time.perf_counter()
    gen, gopt = sc.generator, sc.generator_optimizer
    disc, dopt, objective = sc.discriminator, sc.discriminator_optimizer, sc.objective
    oracle = disc is not None and getattr(disc, "oracle", False)
    parametrized = disc is not None and not oracle
    mirror = getattr(gopt, "requires_logit_params", False)
    logit_params = getattr(gen, "logit_params", False)
    p_d = sc.p_data
    gen_seed, disc_seed = np.random.SeedSequence(sc.seed).spawn(2)

    theta = np.ascontiguousarray(gen.init_params(np.random.default_rng(gen_seed)), np.float64)
    gstate = gopt.init_state(theta)
    psi = dstate = None
    if parametrized:
        psi = np.ascontiguousarray(disc.init_params(np.random.default_rng(disc_seed)), np.float64)
        dstate = dopt.init_state(psi)

    d_output = objective.output if objective is not None else None
    columns = ["iteration", "value", *sc.distances, "mass_outside"]
    if d_output in ("logit", "probability"):
        columns.append("d_max_dev")
    snapshot_set = set(sc.snapshots)
    rows, snap_it, snap_p, snap_d = [], [], [], []
    status, failure, max_outside, last_recorded = "completed", None, 0.0, -1

    def record(it, p_g, u, outside):
        nonlocal last_recorded
        value = sc.distance.value(p_d, p_g) if sc.mode == "direct" else objective.value(p_d, p_g, u)
        if math.isnan(value):
            raise _Diverged("value", sc.distance.name if sc.mode == "direct" else objective.name, -1)
        row = [it, value, *(d.value(p_d, p_g) for d in sc.distances.values()), outside]
        if d_output in ("logit", "probability"):
            row.append(_max_dev_from_half(p_d, p_g, discriminator_values(d_output, u)))
        rows.append(row)
        last_recorded = it

    def snapshot(it, p_g, u):
        if snap_it and snap_it[-1] == it:
            return
        snap_it.append(it)
        snap_p.append(p_g.copy())
        if u is not None:
            snap_d.append(discriminator_values(d_output, u))

    state = None  # the last state known to be finite: (iteration, p_g, u, outside)
    updating = False
    it = 0
    try:
        for it in range(sc.iterations + 1):
            updating = False
            p_g, outside = gen.forward(theta)
            _check(p_g, "generator masses", f"generator {gen.name!r}")
            max_outside = max(max_outside, outside)
            u = None
            if oracle:
                u = objective.oracle(p_d, p_g)
            elif parametrized:
                u = disc.forward(psi)
                _check(u, "discriminator outputs", f"discriminator {disc.name!r}")
            if it % sc.record_every == 0 or it == sc.iterations:
                record(it, p_g, u, outside)
            state = (it, p_g, u, outside)
            if it in snapshot_set:
                snapshot(it, p_g, u)
            if sc.stop is not None and last_recorded == it and \
                    rows[-1][columns.index(sc.stop[0])] < sc.stop[1]:
                status = "converged"
                break
            if progress is not None and it % 256 == 0:
                progress(it)
            if it == sc.iterations:
                break

            updating = True
            if sc.mode == "direct":
                g_p = sc.distance.grad(p_d, p_g)
                source = f"distance {sc.distance.name!r}"
            elif oracle:
                g_p = objective.generator_grad(p_d, p_g, u)
                source = f"objective {objective.name!r}"
            else:
                if sc.schedule == "alternating":
                    for _ in range(sc.steps):
                        g_psi = disc.vjp(psi, objective.discriminator_grad(p_d, p_g, u))
                        _check(g_psi, "discriminator gradient", f"discriminator {disc.name!r}")
                        psi = dopt.step(psi, g_psi, dstate)
                        _check(psi, "discriminator parameters", f"optimizer {dopt.name!r}")
                        u = disc.forward(psi)
                        _check(u, "discriminator outputs", f"discriminator {disc.name!r}")
                    g_p = objective.generator_grad(p_d, p_g, u)
                else:
                    g_psi = disc.vjp(psi, objective.discriminator_grad(p_d, p_g, u))
                    _check(g_psi, "discriminator gradient", f"discriminator {disc.name!r}")
                    g_p = objective.generator_grad(p_d, p_g, u)
                    psi = dopt.step(psi, g_psi, dstate)
                    _check(psi, "discriminator parameters", f"optimizer {dopt.name!r}")
                source = f"objective {objective.name!r}"
            if mirror:
                grad = g_p
            else:
                grad = gen.vjp(theta, g_p)
                _check(grad, "generator gradient", f"generator {gen.name!r} ({source})")
            theta = gopt.step(theta, grad, gstate)
            _check(theta, "generator parameters", f"optimizer {gopt.name!r} ({source})",
                   allow_neg_inf=logit_params)
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
        snapshot(*state[:3])

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
                  it, failure, warnings, time.perf_counter() - start)
