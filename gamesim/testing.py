"""Conformance checks for plugin authors: call them from your own tests.

Each ``check_*`` takes a plugin instance (build one with :func:`make`, which fills the
defaults and calls ``setup(grid)``) and raises ``AssertionError`` with a message naming the
plugin and the failed property: array shapes and dtypes, masses non-negative and summing to 1,
VJPs and gradients against central finite differences, D(p, p) = 0, no NaN on disjoint
supports, optimizers that descend. They use a fixed seed, so they are deterministic::

    from gamesim import testing

    def test_my_distance():
        testing.check_distance(testing.make("distance", {"kind": "l2"}, modules=["my_plugin"]))

Every check first asks that the plugin's class define what its protocol requires
(:mod:`gamesim.protocols`), and reads optional capabilities through it. Derivatives are
checked at random points near the plugin's initial parameters (not at the initial parameters
themselves, which often sit on a kink of a piecewise-linear deposit), and in mass-preserving
directions for functions of masses.
"""

import copy
import math

import numpy as np

from . import plugins as plugin_manager, protocols, runchecks
from .errors import PluginError
from .grid import Grid
from .optstate import flat_state, set_flat_state
from .params import build

GRID = Grid(-4.0, 4.0, 64)
FINE_POINTS = 4096  # cells of the grid on which du/dx is compared with finite differences


def make(kind, spec, grid=GRID, modules=()):
    """Build a registered ``kind`` plugin ("distance", "generator", ...) from a table such as
    ``{"kind": "l2", "scale": 2.0}`` (defaults filled, ``validate()`` run) and set it up on
    ``grid``; ``modules`` are plugin modules to import first."""
    plugin_manager.load_modules(modules)
    instance, _ = build(plugin_manager.registry(), kind, spec, "", kind)
    if protocols.has(instance, "setup"):
        instance.setup(grid)
    return instance


def _who(plugin):
    return f"{type(plugin).__name__} {getattr(plugin, 'name', '?')!r}"


def _assert_conforms(kind, plugin):
    """The plugin's class defines what gamesim/protocols.py requires of ``kind``."""
    problem = protocols.problem(kind, type(plugin))
    assert problem is None, f"{_who(plugin)}: {problem}"


def random_masses(rng, n, zeros=0):
    """A random interior distribution (every mass > 0), or with ``zeros`` cells set to 0."""
    p = rng.uniform(0.2, 1.0, n)
    if zeros:
        p[rng.choice(n, zeros, replace=False)] = 0.0
    return p / p.sum()


def disjoint_masses(n):
    """Two distributions with disjoint supports: uniform on the first and the last quarter."""
    left = np.zeros(n)
    left[: n // 4] = 1.0 / (n // 4)
    return left, left[::-1].copy()


def gradient_fd(f, x, eps=1e-6):
    """Central finite-difference gradient of the scalar function f at x, entry by entry."""
    grad = np.empty_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad


def directional_fd(f, x, v, eps):
    """Central finite difference of f at x along v."""
    return (f(x + eps * v) - f(x - eps * v)) / (2.0 * eps)


def _assert_close(plugin, what, exact, approx, rtol, atol):
    assert math.isclose(exact, approx, rel_tol=rtol, abs_tol=atol), \
        f"{_who(plugin)}: {what}: analytic {exact!r} vs finite differences {approx!r} " \
        f"(rtol {rtol:g}, atol {atol:g})"


def _assert_vjp(plugin, method, grad, f, x, v, rtol, atol):
    """``grad`` (what ``method`` returned, the gradient of the scalar f at x) against central
    differences of f along v, then, if they disagree, parameter by parameter along v's
    support, to name the first index that is off."""
    exact, approx = float(grad @ v), directional_fd(f, x, v, 1e-6)
    if math.isclose(exact, approx, rel_tol=rtol, abs_tol=atol):
        return
    scale = np.abs(grad).max()
    for i in np.flatnonzero(v):
        e = np.zeros_like(x)
        e[i] = 1.0
        one = directional_fd(f, x, e, 1e-6)
        if not math.isclose(grad[i], one, rel_tol=rtol, abs_tol=atol + rtol * scale):
            raise AssertionError(
                f"{_who(plugin)}: VJP {method} disagrees with finite differences at parameter "
                f"index {i}: analytic {float(grad[i])!r} vs finite differences {one!r} (rtol "
                f"{rtol:g}, atol {atol:g} plus rtol times the largest |gradient| entry)")
    _assert_close(plugin, f"VJP {method} along a random direction", exact, approx, rtol, atol)


def _assert_vector(plugin, x, n, what, finite=True):
    assert isinstance(x, np.ndarray) and x.shape == (n,) and x.dtype == np.float64, \
        f"{_who(plugin)}: {what} must be a float64 array of shape ({n},), got " \
        f"{getattr(x, 'shape', type(x).__name__)} {getattr(x, 'dtype', '')}"
    if finite:
        assert np.isfinite(x).all(), f"{_who(plugin)}: {what} is not finite: {x}"
    return x


def _assert_masses(plugin, p, n, what):
    _assert_vector(plugin, p, n, what, finite=False)
    assert not np.isnan(p).any(), f"{_who(plugin)}: {what} has NaN"
    assert (p >= 0).all(), f"{_who(plugin)}: {what} has negative masses (min {p.min()})"
    assert abs(p.sum() - 1.0) < 1e-12, f"{_who(plugin)}: {what} sums to {p.sum()!r}, not 1"


def _assert_outside(plugin, outside, what="mass_outside"):
    assert isinstance(outside, (float, int, np.floating)) and 0.0 <= outside <= 1.0, \
        f"{_who(plugin)}: {what} {outside!r} is not a number in [0, 1]"


def _params(plugin, rng, what="init_params(rng)"):
    x = plugin.init_params(rng)
    assert isinstance(x, np.ndarray) and x.ndim == 1 and x.dtype == np.float64, \
        f"{_who(plugin)}: {what} must return a 1-D float64 vector, got {x!r:.80}"
    return x


def check_target(target, grid=GRID):
    """``masses(grid)`` gives float64 masses of shape (N,), non-negative, summing to 1, and a
    mass outside the grid in [0, 1]."""
    _assert_conforms("target", target)
    out = target.masses(grid)
    assert isinstance(out, tuple) and len(out) == 2, \
        f"{_who(target)}: masses(grid) must return (masses, mass_outside)"
    p, outside = out
    _assert_masses(target, p, grid.points, "masses(grid)")
    _assert_outside(target, outside)


def check_distance(distance, grid=GRID, seed=0, trials=5, rtol=1e-5, atol=1e-8, zero=1e-12):
    """The distance's contract (gamesim/protocols.py, ``Distance``), with these tolerances:

    - D(p, p) = 0 within ``zero`` (absolute), for interior p and for p with zero cells;
    - D(p, q) >= 0 for p != q, exactly: a negative value, however small, is refused; finite
      for interior masses (every cell > 0);
    - ``grad(p, q)`` has shape (N,) and matches central differences of D along
      mass-preserving directions at interior points, within ``rtol`` relative and ``atol``
      times the direction's 1-norm absolute;
    - with zero cells in p, in q or in both, and on disjoint supports: the value is not NaN
      and is >= 0 (inf allowed, > 0 on disjoint supports); the gradient has no NaN and is
      finite wherever p > 0 and q > 0 (±inf only where p or q is 0)."""
    _assert_conforms("distance", distance)
    rng = np.random.default_rng(seed)
    n = grid.points

    def assert_value(p, q, where):
        d = distance.value(p, q)
        assert isinstance(d, (float, np.floating)) and not math.isnan(d) and d >= 0, \
            f"{_who(distance)}: D(p, q) = {d!r} {where}, expected a float >= 0 (inf allowed; " \
            f"no tolerance: a distance is never negative)"
        g = _assert_vector(distance, distance.grad(p, q), n, f"{where}, grad(p, q)",
                           finite=False)
        assert not np.isnan(g).any(), \
            f"{_who(distance)}: {where}, grad(p, q) has NaN at cells {np.flatnonzero(np.isnan(g))}"
        infinite = (p > 0) & (q > 0) & np.isinf(g)
        assert not infinite.any(), \
            f"{_who(distance)}: {where}, grad(p, q) is infinite where p > 0 and q > 0, at cells " \
            f"{np.flatnonzero(infinite)} (±inf is allowed only where p or q is 0)"
        return d, g

    def assert_zero(p, where):
        same = float(distance.value(p, p))
        assert abs(same) <= zero, \
            f"{_who(distance)}: D(p, p) = {same!r} {where}, expected 0 (within {zero:g})"

    for _ in range(trials):
        p, q = random_masses(rng, n), random_masses(rng, n)
        assert_zero(p, "for interior p")
        d, g = assert_value(p, q, "for interior masses")
        assert math.isfinite(d), f"{_who(distance)}: D(p, q) = {d!r} for interior masses, " \
                                 f"expected a finite value"
        v = rng.normal(size=n)
        v -= v.mean()  # keep the total mass
        v *= 0.1 * q.min() / np.abs(v).max()
        approx = directional_fd(lambda x: distance.value(p, x), q, v, 1e-3)
        _assert_close(distance, "directional derivative in q", float(g @ v), approx, rtol,
                      atol * np.abs(v).sum())
        holes = random_masses(rng, n, zeros=n // 8)
        other = random_masses(rng, n, zeros=n // 8)
        assert_value(p, holes, "where q has zero cells")
        assert_value(holes, q, "where p has zero cells")
        assert_value(holes, other, "where p and q have zero cells")
        assert_zero(holes, "for p with zero cells")
    left, right = disjoint_masses(n)
    for a, b in ((left, right), (right, left)):
        value, _ = assert_value(a, b, "on disjoint supports")
        assert value > 0, f"{_who(distance)}: D = {value!r} on disjoint supports, expected > 0"


def check_generator(generator, grid=GRID, seed=0, trials=3, rtol=1e-5, atol=1e-9):
    """``init_params`` gives a flat float64 vector; ``forward`` gives masses summing to 1 and a
    mass outside in [0, 1]; ``vjp`` has theta's shape and matches finite differences of
    <g, p(theta)> at points near the initial parameters."""
    _assert_conforms("generator", generator)
    rng = np.random.default_rng(seed)
    theta0 = _params(generator, rng)
    out = generator.forward(theta0.copy())
    assert isinstance(out, tuple) and len(out) == 2, \
        f"{_who(generator)}: forward(theta) must return (masses, mass_outside)"
    _assert_masses(generator, out[0], grid.points, "forward(theta)[0]")
    _assert_outside(generator, out[1], "forward(theta)[1] (mass_outside)")
    finite = np.isfinite(theta0)  # a density's -inf logits (zero masses) stay put
    for _ in range(trials):
        theta = np.where(finite, theta0 + 0.05 * rng.normal(size=theta0.size), theta0)
        _assert_masses(generator, generator.forward(theta.copy())[0], grid.points,
                       "forward(theta)[0] near the initial parameters")
        g_p = rng.normal(size=grid.points)
        grad = generator.vjp(theta.copy(), g_p)
        assert isinstance(grad, np.ndarray) and grad.shape == theta.shape, \
            f"{_who(generator)}: vjp shape {getattr(grad, 'shape', grad)}, expected {theta.shape}"
        v = np.where(finite, rng.normal(size=theta.size), 0.0)
        _assert_vjp(generator, "vjp(theta, g_p)", np.where(finite, grad, 0.0),
                    lambda t: float(g_p @ generator.forward(t)[0]), theta, v, rtol, atol)
    if protocols.has(generator, "transform"):
        z, x = generator.transform(theta0.copy())
        assert np.shape(z) == np.shape(x) and np.ndim(x) == 1, \
            f"{_who(generator)}: transform(theta) must return (z, G(z)) of one shape"


def _fine_copy(plugin, grid, points):
    fine = Grid(grid.lower, grid.upper, points)
    twin = copy.deepcopy(plugin)
    twin.setup(fine)
    return twin, fine


def check_discriminator(discriminator, grid=GRID, seed=0, trials=3, rtol=1e-5, atol=1e-9):
    """Raw outputs u(psi) of shape (N,), finite; ``vjp`` against finite differences of
    <g, u(psi)>; where present, ``dudx`` against central differences of u over the cells of a
    fine grid and ``dudx_vjp`` against finite differences of <g, du/dx(psi)>; and, where
    present, ``forward_at``/``dudx_at`` at the cell centres equal ``forward``/``dudx``.
    An oracle (``oracle = True``) has nothing to check: it is the objective's best response."""
    _assert_conforms("discriminator", discriminator)
    if protocols.has(discriminator, "oracle"):
        return
    rng = np.random.default_rng(seed)
    n = grid.points
    psi0 = _params(discriminator, rng)
    _assert_vector(discriminator, discriminator.forward(psi0.copy()), n, "forward(psi)")
    for _ in range(trials):
        psi = psi0 + 0.5 * rng.normal(size=psi0.size)  # away from zeros, where u may be flat
        u = _assert_vector(discriminator, discriminator.forward(psi.copy()), n, "forward(psi)")
        g_u = rng.normal(size=n)
        grad = discriminator.vjp(psi.copy(), g_u)
        assert isinstance(grad, np.ndarray) and grad.shape == psi.shape, \
            f"{_who(discriminator)}: vjp shape {getattr(grad, 'shape', grad)}, expected {psi.shape}"
        v = rng.normal(size=psi.size)
        _assert_vjp(discriminator, "vjp(psi, g_u)", grad,
                    lambda t: float(g_u @ discriminator.forward(t)), psi, v, rtol, atol)
        if protocols.has(discriminator, "forward_at"):
            at = discriminator.forward_at(psi.copy(), np.array(grid.x))
            assert np.allclose(at, u, rtol=1e-12, atol=1e-12), \
                f"{_who(discriminator)}: forward_at(psi, grid.x) differs from forward(psi)"
        if not protocols.has(discriminator, "dudx"):
            continue
        slope = _assert_vector(discriminator, discriminator.dudx(psi.copy()), n, "dudx(psi)")
        if protocols.has(discriminator, "dudx_at"):
            at = discriminator.dudx_at(psi.copy(), np.array(grid.x))
            assert np.allclose(at, slope, rtol=1e-12, atol=1e-12), \
                f"{_who(discriminator)}: dudx_at(psi, grid.x) differs from dudx(psi)"
        twin, fine = _fine_copy(discriminator, grid, FINE_POINTS)
        u_fine, slope_fine = twin.forward(psi.copy()), twin.dudx(psi.copy())
        central = (u_fine[2:] - u_fine[:-2]) / (2.0 * fine.h)
        tol = 1e-4 * (np.abs(slope_fine).max() + 1e-3)
        wrong = np.abs(central - slope_fine[1:-1]) > tol
        assert wrong.mean() <= 0.01, \
            f"{_who(discriminator)}: dudx(psi) differs from central differences of u at " \
            f"{wrong.sum()} of {wrong.size} cells (worst " \
            f"{np.abs(central - slope_fine[1:-1]).max():.3g}; kinks may explain 1%)"
        if protocols.has(discriminator, "dudx_vjp"):
            g = rng.normal(size=n)
            grad = discriminator.dudx_vjp(psi.copy(), g)
            assert isinstance(grad, np.ndarray) and grad.shape == psi.shape, \
                f"{_who(discriminator)}: dudx_vjp shape {getattr(grad, 'shape', grad)}"
            _assert_vjp(discriminator, "dudx_vjp(psi, g)", grad,
                        lambda t: float(g @ discriminator.dudx(t)), psi, v, rtol, atol)


def check_objective(objective, grid=GRID, seed=0, trials=3, rtol=1e-5, atol=1e-9):
    """``output`` is 'logit', 'probability' or 'critic'; ``discriminator_grad`` matches finite
    differences of -value in u; ``generator_grad`` has shape (N,) and depends only on its
    arguments' values; the oracle is a best response (no nearby u does better, except for a
    critic, whose best response is constrained) and gives ``equilibrium`` at p_g = p_d;
    ``oracle_value``, where defined, is the value at the oracle (as a run checks it, within
    :func:`gamesim.runchecks.tolerance`), also for masses summing to less than 1 and on
    disjoint supports; nothing is NaN on disjoint supports."""
    _assert_conforms("objective", objective)
    rng = np.random.default_rng(seed)
    n = grid.points
    assert objective.output in ("logit", "probability", "critic"), \
        f"{_who(objective)}: output must be 'logit', 'probability' or 'critic'"
    for _ in range(trials):
        p_d, p_g = random_masses(rng, n), random_masses(rng, n)
        u = rng.normal(size=n)
        g = _assert_vector(objective, objective.discriminator_grad(p_d, p_g, u), n,
                           "discriminator_grad(p_d, p_g, u)")
        v = rng.normal(size=n)
        approx = directional_fd(lambda t: -objective.value(p_d, p_g, t), u, v, 1e-6)
        _assert_close(objective, "discriminator_grad", float(g @ v), approx, rtol, atol)
        _assert_vector(objective, objective.generator_grad(p_d, p_g, u), n,
                       "generator_grad(p_d, p_g, u)")
        best = _assert_vector(objective, objective.oracle(p_d, p_g), n, "oracle(p_d, p_g)")
        fresh = objective.generator_grad(p_d, p_g, best)
        again = objective.generator_grad(p_d.copy(), p_g.copy(), best.copy())
        assert np.allclose(fresh, again, rtol=1e-12, atol=1e-12), \
            f"{_who(objective)}: generator_grad right after oracle differs from a fresh call " \
            f"with equal arrays (a stale cache?)"
        if objective.output == "probability":
            assert ((best >= 0) & (best <= 1)).all(), \
                f"{_who(objective)}: a probability oracle outside [0, 1]"
        top = objective.value(p_d, p_g, best)
        if objective.output != "critic":
            ascent = -objective.discriminator_grad(p_d, p_g, best)  # D ascends V_D along it
            for nearby in (best + 1e-3 * rng.normal(size=n), best + 1e-3 * ascent):
                assert top >= objective.value(p_d, p_g, nearby) - 1e-12, \
                    f"{_who(objective)}: the oracle is not a best response"
        if protocols.has(objective, "oracle_value"):
            _assert_oracle_value(objective, p_d, p_g, "random masses")
            _assert_oracle_value(objective, 0.9 * p_d, 0.8 * p_g, "masses summing to 0.9, 0.8")
    if protocols.has(objective, "equilibrium"):
        p = random_masses(rng, n)
        at_eq = objective.value(p, p, objective.oracle(p, p))
        _assert_close(objective, "value at p_g = p_d against the oracle (equilibrium)",
                      float(objective.equilibrium), float(at_eq), 1e-9, 1e-12)
    left, right = disjoint_masses(n)
    u = objective.oracle(left, right)
    assert not np.isnan(u).any(), f"{_who(objective)}: NaN oracle on disjoint supports"
    for name in ("discriminator_grad", "generator_grad"):
        assert not np.isnan(getattr(objective, name)(left, right, u)).any(), \
            f"{_who(objective)}: NaN {name} on disjoint supports"
    assert not math.isnan(objective.value(left, right, u)), \
        f"{_who(objective)}: NaN value on disjoint supports"
    if protocols.has(objective, "oracle_value"):
        _assert_oracle_value(objective, left, right, "disjoint supports")


def _assert_oracle_value(objective, p_d, p_g, what):
    """``oracle_value(p_d, p_g)`` against ``value`` at ``oracle(p_d, p_g)``."""
    at_oracle = objective.value(p_d, p_g, objective.oracle(p_d, p_g))
    closed = float(objective.oracle_value(p_d, p_g))
    assert abs(at_oracle - closed) <= runchecks.tolerance(closed), \
        f"{_who(objective)}: oracle_value {closed!r} vs value at the oracle {at_oracle!r} " \
        f"({what}; {runchecks.TOLERANCE_RULE})"


def _softmax(theta):
    e = np.exp(theta - theta.max())
    return e / e.sum()


def check_optimizer(optimizer, seed=0, max_steps=5000, state_steps=5):
    """Steps keep shape and dtype and descend: 1/2 |x|^2 from a random start until its norm
    halves (within ``max_steps``), or, for an optimizer stepping mass logits
    (``requires_logit_params``, given dL/dp), 1/2 |p - t|^2 over the simplex. Where present,
    ``lookahead`` returns a new vector and leaves theta alone.

    The state (:mod:`gamesim.optstate`): ``flat_state`` reads it and ``set_flat_state`` writes
    it back; a state that is not empty changes in ``state_steps`` steps with a non-zero
    gradient (a ``step`` that rebinds ``state`` instead of updating it in place loses its
    momentum); and a step depends on nothing but (theta, grad, state): stepping from a state
    and from a copy written by ``set_flat_state`` gives the same theta and state."""
    rng = np.random.default_rng(seed)
    _assert_conforms("optimizer", optimizer)
    logits = protocols.has(optimizer, "requires_logit_params")
    if logits:
        x, target = np.zeros(8), random_masses(rng, 8)

        def distance(x):
            return float(np.linalg.norm(_softmax(x) - target))

        def grad(x):
            return _softmax(x) - target  # dL/dp: what a mass-logit optimizer is given
    else:
        x = rng.normal(size=8)

        def distance(x):
            return float(np.linalg.norm(x))

        def grad(x):
            return x.copy()
    _check_state(optimizer, x.copy(), grad, state_steps)
    start = distance(x)
    state = optimizer.init_state(x)
    if protocols.has(optimizer, "lookahead"):
        before = x.copy()
        half = optimizer.lookahead(x, grad(x), state)
        assert isinstance(half, np.ndarray) and half.shape == x.shape and half is not x, \
            f"{_who(optimizer)}: lookahead must return a new vector of theta's shape"
        assert np.array_equal(x, before), f"{_who(optimizer)}: lookahead changed theta"
    for _ in range(max_steps):
        x = optimizer.step(x, grad(x), state)
        assert isinstance(x, np.ndarray) and x.shape == (8,) and x.dtype == np.float64, \
            f"{_who(optimizer)}: step must return theta, a float64 vector of the same shape"
        assert not np.isnan(x).any(), f"{_who(optimizer)}: step gave NaN"
        if distance(x) < 0.5 * start:
            return
        if not distance(x) < 1e3 * start:
            break  # running away
    raise AssertionError(f"{_who(optimizer)}: did not descend {'1/2 |p - t|^2' if logits else '1/2 |x|^2'}"
                         f" in {max_steps} steps ({start:.3g} -> {distance(x):.3g})")


def _check_state(optimizer, x, grad, steps):
    """The state rules of :func:`check_optimizer`, over ``steps`` (at least 2) steps from x."""
    try:
        state = optimizer.init_state(x)
        flats, after_one = [flat_state(optimizer, state)], None
        for k in range(steps):
            if k == 1:
                after_one = x.copy(), copy.deepcopy(state)
            x = optimizer.step(x, grad(x), state)
            flats.append(flat_state(optimizer, state))
        if flats[0].size and all(np.array_equal(f, flats[0]) for f in flats[1:]):
            raise AssertionError(
                f"{_who(optimizer)}: step(theta, grad, state) left its state ({flats[0].size} "
                f"numbers) unchanged in {steps} steps with a non-zero gradient: update the state "
                f"in place (velocity[:] = ..., state['m'] *= beta, state['t'] += 1); "
                f"rebinding the name inside step (state = beta * state + grad, state = {{...}}) "
                f"drops the update, so the momentum restarts at every step")
        x1, state1 = after_one
        vector = flat_state(optimizer, state1)
        twin = copy.deepcopy(state1)
        set_flat_state(optimizer, twin, np.zeros_like(vector))
        assert not flat_state(optimizer, twin).any(), \
            f"{_who(optimizer)}: set_flat_state(state, zeros) did not zero the state"
        set_flat_state(optimizer, twin, vector)
        assert np.array_equal(flat_state(optimizer, twin), vector), \
            f"{_who(optimizer)}: flat_state after set_flat_state(state, v) is not v"
    except (PluginError, ValueError) as err:
        raise AssertionError(str(err)) from None
    ours = optimizer.step(x1.copy(), grad(x1), state1)
    theirs = optimizer.step(x1.copy(), grad(x1), twin)
    assert np.array_equal(ours, theirs) and np.array_equal(flat_state(optimizer, state1),
                                                           flat_state(optimizer, twin)), \
        f"{_who(optimizer)}: two steps from equal states (one written by set_flat_state) " \
        f"differ: a step must depend on nothing but (theta, grad, state), with no state kept " \
        f"on the optimizer, and state_vector/load_state_vector must cover all of the state"


def check_regularizer(regularizer, discriminator=None, grid=GRID, seed=0, trials=3, rtol=1e-5,
                      atol=1e-9):
    """``penalty(disc, psi, p_d, p_g)`` gives (value >= 0, grad of psi's shape) matching finite
    differences of the value; ``project(psi)`` keeps the shape and is idempotent. The
    discriminator defaults to an ``mlp`` (which has ``dudx``) set up on ``grid``."""
    _assert_conforms("regularizer", regularizer)
    disc = discriminator if discriminator is not None else make("discriminator", {"kind": "mlp"},
                                                                grid)
    if protocols.has(regularizer, "needs_dudx"):
        assert protocols.has(disc, "dudx") and protocols.has(disc, "dudx_vjp"), \
            f"{_who(regularizer)}: needs_dudx, but {_who(disc)} has no dudx/dudx_vjp"
    rng = np.random.default_rng(seed)
    n = grid.points
    psi0 = _params(disc, rng)
    for _ in range(trials):
        psi = psi0 + 0.5 * rng.normal(size=psi0.size)
        p_d, p_g = random_masses(rng, n), random_masses(rng, n)
        if protocols.has(regularizer, "penalty"):
            out = regularizer.penalty(disc, psi.copy(), p_d, p_g)
            assert isinstance(out, tuple) and len(out) == 2, \
                f"{_who(regularizer)}: penalty must return (value, grad_psi)"
            value, grad = out
            assert math.isfinite(value) and value >= 0, \
                f"{_who(regularizer)}: penalty value {value!r}, expected a finite number >= 0"
            assert isinstance(grad, np.ndarray) and grad.shape == psi.shape, \
                f"{_who(regularizer)}: penalty grad shape {getattr(grad, 'shape', grad)}"
            v = rng.normal(size=psi.size)
            approx = directional_fd(lambda t: regularizer.penalty(disc, t, p_d, p_g)[0], psi, v,
                                    1e-6)
            _assert_close(regularizer, "penalty gradient", float(grad @ v), approx, rtol, atol)
        if protocols.has(regularizer, "project"):
            once = regularizer.project(psi.copy())
            assert isinstance(once, np.ndarray) and once.shape == psi.shape, \
                f"{_who(regularizer)}: project must return a vector of psi's shape"
            assert np.array_equal(regularizer.project(once.copy()), once), \
                f"{_who(regularizer)}: project is not idempotent"


CHECKS = {"target": check_target, "generator": check_generator,
          "discriminator": check_discriminator, "objective": check_objective,
          "distance": check_distance, "optimizer": check_optimizer,
          "regularizer": check_regularizer}


def check_plugin(kind, plugin, grid=GRID):
    """Run the check for a plugin of ``kind`` ("target", "distance", ...)."""
    if kind == "optimizer":
        return check_optimizer(plugin)
    return CHECKS[kind](plugin, grid=grid)
