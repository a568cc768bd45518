"""Conformance checks for plugin authors: call them from your own tests.

Each ``check_*`` takes a plugin instance (build one with :func:`make`) and raises
``AssertionError`` with a message naming the plugin and the failed property: array shapes,
masses non-negative and summing to 1, VJPs and gradients against central finite differences,
D(p, p) = 0 and no NaN on disjoint supports. They use a fixed seed, so they are deterministic.

    from gamesim import testing

    def test_my_distance():
        testing.check_distance(testing.make("distance", {"kind": "l2"}))
"""

import math

import numpy as np

from . import plugins as plugin_manager
from .grid import Grid
from .params import build

GRID = Grid(-4.0, 4.0, 64)


def make(kind, spec, grid=GRID, modules=()):
    """Build a registered plugin from a table (defaults filled) and set it up on ``grid``."""
    plugin_manager.load_modules(modules)
    instance, _ = build(plugin_manager.registry(), kind, spec, "", kind)
    if hasattr(instance, "setup"):
        instance.setup(grid)
    return instance


def _who(plugin):
    return f"{type(plugin).__name__} {getattr(plugin, 'name', '?')!r}"


def random_masses(rng, n, zeros=0):
    """A random interior distribution (every mass > 0), or with ``zeros`` cells set to 0."""
    p = rng.uniform(0.2, 1.0, n)
    if zeros:
        p[rng.choice(n, zeros, replace=False)] = 0.0
    return p / p.sum()


def _assert_masses(plugin, p, n, what):
    assert isinstance(p, np.ndarray) and p.shape == (n,) and p.dtype == np.float64, \
        f"{_who(plugin)}: {what} must be a float64 array of shape ({n},), got {getattr(p, 'shape', p)}"
    assert not np.isnan(p).any(), f"{_who(plugin)}: {what} has NaN"
    assert (p >= 0).all(), f"{_who(plugin)}: {what} has negative masses (min {p.min()})"
    assert abs(p.sum() - 1.0) < 1e-12, f"{_who(plugin)}: {what} sums to {p.sum()!r}, not 1"


def directional_fd(f, x, v, eps):
    """Central finite difference of f at x along v."""
    return (f(x + eps * v) - f(x - eps * v)) / (2.0 * eps)


def _assert_close(plugin, what, exact, approx, rtol, atol):
    assert math.isclose(exact, approx, rel_tol=rtol, abs_tol=atol), \
        f"{_who(plugin)}: {what}: analytic {exact!r} vs finite differences {approx!r}"


def check_target(target, grid=GRID):
    p, outside = target.masses(grid)
    _assert_masses(target, p, grid.points, "masses(grid)")
    assert 0.0 <= outside <= 1.0, f"{_who(target)}: mass_outside {outside!r} not in [0, 1]"


def check_distance(distance, grid=GRID, seed=0, trials=5, rtol=1e-5, atol=1e-8):
    """D(p, p) = 0, D >= 0, gradient in q against finite differences along mass-preserving
    directions at interior points, and no NaN on disjoint supports."""
    rng = np.random.default_rng(seed)
    n = grid.points
    for _ in range(trials):
        p, q = random_masses(rng, n), random_masses(rng, n)
        same = distance.value(p, p)
        assert abs(same) < 1e-12, f"{_who(distance)}: D(p, p) = {same!r}, expected 0"
        d = distance.value(p, q)
        assert d >= 0, f"{_who(distance)}: D(p, q) = {d!r} < 0"
        g = distance.grad(p, q)
        assert g.shape == (n,), f"{_who(distance)}: grad shape {g.shape}, expected ({n},)"
        v = rng.normal(size=n)
        v -= v.mean()  # keep the total mass
        v *= 0.1 * q.min() / np.abs(v).max()
        approx = directional_fd(lambda x: distance.value(p, x), q, v, 1e-3)
        _assert_close(distance, "directional derivative in q", float(g @ v), approx, rtol, atol * np.abs(v).sum())
    left = np.zeros(n)
    left[: n // 4] = 1.0 / (n // 4)
    right = left[::-1].copy()
    value = distance.value(left, right)
    assert not math.isnan(value), f"{_who(distance)}: NaN on disjoint supports"
    assert not np.isnan(distance.grad(left, right)).any(), \
        f"{_who(distance)}: NaN gradient on disjoint supports"


def check_generator(generator, grid=GRID, seed=0, trials=3, rtol=1e-5, atol=1e-9):
    """Masses, mass_outside and the VJP against finite differences of <g, p(theta)>."""
    rng = np.random.default_rng(seed)
    theta = np.asarray(generator.init_params(rng))
    assert theta.ndim == 1 and theta.dtype == np.float64, \
        f"{_who(generator)}: init_params must return a 1-D float64 vector"
    p, outside = generator.forward(theta.copy())
    _assert_masses(generator, p, grid.points, "forward(theta)[0]")
    assert 0.0 <= outside <= 1.0, f"{_who(generator)}: mass_outside {outside!r} not in [0, 1]"
    finite = np.isfinite(theta)
    for _ in range(trials):
        g_p = rng.normal(size=grid.points)
        grad = generator.vjp(theta.copy(), g_p)
        assert grad.shape == theta.shape, f"{_who(generator)}: vjp shape {grad.shape}"
        v = np.where(finite, rng.normal(size=theta.size), 0.0)
        approx = directional_fd(lambda t: float(g_p @ generator.forward(t)[0]), theta, v, 1e-6)
        _assert_close(generator, "VJP", float(grad[finite] @ v[finite]), approx, rtol, atol)


def check_discriminator(discriminator, grid=GRID, seed=0, trials=3, rtol=1e-5, atol=1e-9):
    """Raw outputs on the grid and the VJP against finite differences of <g, u(psi)>."""
    if getattr(discriminator, "oracle", False):
        return
    rng = np.random.default_rng(seed)
    psi = np.asarray(discriminator.init_params(rng))
    assert psi.ndim == 1 and psi.dtype == np.float64, \
        f"{_who(discriminator)}: init_params must return a 1-D float64 vector"
    u = discriminator.forward(psi.copy())
    assert u.shape == (grid.points,) and np.isfinite(u).all(), \
        f"{_who(discriminator)}: forward must give finite outputs of shape ({grid.points},)"
    for _ in range(trials):
        g_u = rng.normal(size=grid.points)
        grad = discriminator.vjp(psi.copy(), g_u)
        assert grad.shape == psi.shape, f"{_who(discriminator)}: vjp shape {grad.shape}"
        v = rng.normal(size=psi.size)
        approx = directional_fd(lambda t: float(g_u @ discriminator.forward(t)), psi, v, 1e-6)
        _assert_close(discriminator, "VJP", float(grad @ v), approx, rtol, atol)


def check_objective(objective, grid=GRID, seed=0, trials=3, rtol=1e-5, atol=1e-9):
    """D's gradient against finite differences of -value; the oracle maximizes the value
    (no nearby u does better); nothing is NaN on disjoint supports."""
    rng = np.random.default_rng(seed)
    n = grid.points
    assert objective.output in ("logit", "probability", "critic"), \
        f"{_who(objective)}: output must be 'logit', 'probability' or 'critic'"
    for _ in range(trials):
        p_d, p_g = random_masses(rng, n), random_masses(rng, n)
        u = rng.normal(size=n)
        g = objective.discriminator_grad(p_d, p_g, u)
        assert g.shape == (n,), f"{_who(objective)}: discriminator_grad shape {g.shape}"
        v = rng.normal(size=n)
        approx = directional_fd(lambda t: -objective.value(p_d, p_g, t), u, v, 1e-6)
        _assert_close(objective, "discriminator_grad", float(g @ v), approx, rtol, atol)
        assert objective.generator_grad(p_d, p_g, u).shape == (n,), \
            f"{_who(objective)}: generator_grad shape"
        best = objective.oracle(p_d, p_g)
        top = objective.value(p_d, p_g, best)
        nearby = objective.value(p_d, p_g, best + 1e-3 * rng.normal(size=n)) \
            if objective.output != "critic" else top
        assert top >= nearby - 1e-12, f"{_who(objective)}: the oracle is not a best response"
    left = np.zeros(n)
    left[: n // 4] = 1.0 / (n // 4)
    right = left[::-1].copy()
    u = objective.oracle(left, right)
    assert not np.isnan(u).any(), f"{_who(objective)}: NaN oracle on disjoint supports"
    for name in ("discriminator_grad", "generator_grad"):
        assert not np.isnan(getattr(objective, name)(left, right, u)).any(), \
            f"{_who(objective)}: NaN {name} on disjoint supports"
    assert not math.isnan(objective.value(left, right, u)), \
        f"{_who(objective)}: NaN value on disjoint supports"


def check_optimizer(optimizer, seed=0, steps=300):
    """Steps keep shape and dtype, and descend the quadratic 1/2 |x|^2 from a random start."""
    if getattr(optimizer, "requires_logit_params", False):
        return
    rng = np.random.default_rng(seed)
    x = rng.normal(size=8)
    start = np.linalg.norm(x)
    state = optimizer.init_state(x)
    for _ in range(steps):
        x = optimizer.step(x, x.copy(), state)
        assert x.shape == (8,) and x.dtype == np.float64, f"{_who(optimizer)}: step changed the shape"
    assert np.linalg.norm(x) < 0.5 * start, \
        f"{_who(optimizer)}: did not descend 1/2 |x|^2 ({start:.3g} -> {np.linalg.norm(x):.3g})"
