"""Set-up checks of a scenario's plugins: each is called once on the scenario's own grid, so a
plugin returning the wrong shape or type is named in the error before the run starts.

A NaN is not an error here: a diverged game is a result, and the engine's status names the
first quantity and plugin that went non-finite. What is checked is the protocol's contract
(gamesim/protocols.py): a generator's ``forward`` gives ``(p, mass_outside)`` with p of shape
(N,), a discriminator's ``forward`` gives u of shape (N,), VJPs have their parameters' shape,
and objectives' and distances' gradients have shape (N,).
"""

import numpy as np

from . import protocols
from .errors import PluginError


class _Checker:
    def __init__(self, sc):
        from . import plugins as plugin_manager

        self.registry = plugin_manager.registry()
        self.n = sc.grid.points

    def who(self, kind, plugin):
        name = getattr(plugin, "name", type(plugin).__name__)
        origin = self.registry.origins.get(kind, {}).get(name)
        return f"{kind} {name!r}" + (f" (plugin {origin!r})" if origin else "")

    def call(self, kind, plugin, what, function, *args):
        try:
            return function(*args)
        except Exception as err:
            raise PluginError(f"{self.who(kind, plugin)}: {what} failed at set-up: "
                              f"{type(err).__name__}: {err}") from err

    def vector(self, kind, plugin, what, value, shape):
        """``value`` must be a float array of ``shape``."""
        got = getattr(value, "shape", None)
        if not isinstance(value, np.ndarray) or got != shape or value.dtype.kind != "f":
            desc = (f"an array of shape {got} and dtype {value.dtype}"
                    if isinstance(value, np.ndarray) else f"{type(value).__name__} {value!r:.60}")
            raise PluginError(f"{self.who(kind, plugin)}: {what} returned {desc}, expected a "
                              f"float64 array of shape {shape}")
        return value

    def scalar(self, kind, plugin, what, value):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise PluginError(f"{self.who(kind, plugin)}: {what} returned {value!r:.60}, "
                              f"expected a number") from None

    def params(self, kind, plugin, rng):
        x = self.call(kind, plugin, "init_params(rng)", plugin.init_params, rng)
        x = np.asarray(x)
        if x.ndim != 1 or x.dtype.kind not in "fi":
            raise PluginError(f"{self.who(kind, plugin)}: init_params(rng) returned shape "
                              f"{x.shape} ({x.dtype}), expected a flat vector of numbers")
        return np.ascontiguousarray(x, np.float64)


def check_scenario(sc):
    """Call each of ``sc``'s plugins once on its grid and check shapes; return ``sc``.

    Raises :class:`gamesim.errors.PluginError` naming the plugin, its origin, the method and
    what it returned. Uses its own random generator, so the run's streams are untouched.
    """
    c = _Checker(sc)
    rng = np.random.default_rng(0)
    c.vector("target", sc.target, "masses(grid)", sc.p_data, (c.n,))
    theta, p_g = _check_generator(c, sc.generator, rng)
    _check_optimizer(c, sc.generator_optimizer, theta)
    for distance in [sc.distance, *sc.distances.values()]:
        if distance is not None:
            _check_distance(c, distance, sc.p_data, p_g)
    if sc.objective is None:
        return sc
    u = c.vector("objective", sc.objective, "oracle(p_d, p_g)",
                 c.call("objective", sc.objective, "oracle(p_d, p_g)", sc.objective.oracle,
                        sc.p_data, p_g), (c.n,))
    disc = sc.discriminator
    if disc is not None and not protocols.has(disc, "oracle"):
        psi, u = _check_discriminator(c, disc, rng)
        _check_optimizer(c, sc.discriminator_optimizer, psi)
        if sc.regularizer is not None:
            _check_regularizer(c, sc.regularizer, disc, psi, sc.p_data, p_g)
    _check_objective(c, sc.objective, sc.p_data, p_g, u)
    return sc


def _check_generator(c, gen, rng):
    """(theta, p_g): initial parameters and their masses, with forward's pair and vjp's
    shape checked."""
    theta = c.params("generator", gen, rng)
    out = c.call("generator", gen, "forward(theta)", gen.forward, theta.copy())
    if not (isinstance(out, tuple) and len(out) == 2):
        raise PluginError(f"{c.who('generator', gen)}: forward(theta) returned "
                          f"{type(out).__name__}, expected a pair (masses, mass_outside)")
    p_g = c.vector("generator", gen, "forward(theta) masses", out[0], (c.n,))
    c.scalar("generator", gen, "forward(theta) mass_outside", out[1])
    c.vector("generator", gen, "vjp(theta, g_p)",
             c.call("generator", gen, "vjp(theta, g_p)", gen.vjp, theta.copy(), np.zeros(c.n)),
             theta.shape)
    return theta, p_g


def _check_distance(c, distance, p_d, p_g):
    c.scalar("distance", distance, "value(p, q)",
             c.call("distance", distance, "value(p, q)", distance.value, p_d, p_g))
    c.vector("distance", distance, "grad(p, q)",
             c.call("distance", distance, "grad(p, q)", distance.grad, p_d, p_g), (c.n,))


def _check_discriminator(c, disc, rng):
    """(psi, u): initial parameters and the outputs there, with vjp (and, where defined,
    dudx and dudx_vjp) checked."""
    psi = c.params("discriminator", disc, rng)
    u = c.vector("discriminator", disc, "forward(psi)",
                 c.call("discriminator", disc, "forward(psi)", disc.forward, psi.copy()), (c.n,))
    c.vector("discriminator", disc, "vjp(psi, g_u)",
             c.call("discriminator", disc, "vjp(psi, g_u)", disc.vjp, psi.copy(),
                    np.zeros(c.n)), psi.shape)
    if protocols.has(disc, "dudx"):
        c.vector("discriminator", disc, "dudx(psi)",
                 c.call("discriminator", disc, "dudx(psi)", disc.dudx, psi.copy()), (c.n,))
        if protocols.has(disc, "dudx_vjp"):
            c.vector("discriminator", disc, "dudx_vjp(psi, g)",
                     c.call("discriminator", disc, "dudx_vjp(psi, g)", disc.dudx_vjp,
                            psi.copy(), np.zeros(c.n)), psi.shape)
    return psi, u


def _check_regularizer(c, reg, disc, psi, p_d, p_g):
    if protocols.has(reg, "penalty"):
        pair = c.call("regularizer", reg, "penalty(disc, psi, p_d, p_g)", reg.penalty, disc,
                      psi.copy(), p_d, p_g)
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise PluginError(f"{c.who('regularizer', reg)}: penalty(...) returned "
                              f"{type(pair).__name__}, expected a pair (value, grad_psi)")
        c.scalar("regularizer", reg, "penalty(...) value", pair[0])
        c.vector("regularizer", reg, "penalty(...) grad_psi", pair[1], psi.shape)
    if protocols.has(reg, "project"):
        c.vector("regularizer", reg, "project(psi)",
                 c.call("regularizer", reg, "project(psi)", reg.project, psi.copy()),
                 psi.shape)


def _check_objective(c, obj, p_d, p_g, u):
    c.scalar("objective", obj, "value(p_d, p_g, u)",
             c.call("objective", obj, "value(p_d, p_g, u)", obj.value, p_d, p_g, u))
    for name, method in (("discriminator_grad", obj.discriminator_grad),
                         ("generator_grad", obj.generator_grad)):
        c.vector("objective", obj, f"{name}(p_d, p_g, u)",
                 c.call("objective", obj, f"{name}(p_d, p_g, u)", method, p_d, p_g, u), (c.n,))


def _check_optimizer(c, opt, x):
    """One step (and lookahead) from a copy of ``x`` with a zero gradient, on a fresh state."""
    state = c.call("optimizer", opt, "init_state(theta)", opt.init_state, x.copy())
    zero = np.zeros_like(x)
    if protocols.has(opt, "lookahead"):
        c.vector("optimizer", opt, "lookahead(theta, grad, state)",
                 c.call("optimizer", opt, "lookahead(theta, grad, state)", opt.lookahead,
                        x.copy(), zero, state), x.shape)
    c.vector("optimizer", opt, "step(theta, grad, state)",
             c.call("optimizer", opt, "step(theta, grad, state)", opt.step, x.copy(), zero,
                    state), x.shape)
