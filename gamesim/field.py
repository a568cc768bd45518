"""The players' joint vector field, its finite-difference Jacobian and consensus optimization
(docs/stability.md).

The field v(theta, psi) = -(dL_G/dtheta, d(-V_D + penalty)/dpsi) is the direction gradient
flow moves the players, regularizer included (the mirror step's v_theta is -dL/dp_g itself,
on the mass logits). Against the oracle or in direct mode v has theta's part only.
Derivatives are central differences over steps of at least SMOOTH_STEP relative, and for the
generator's parameters at least its ``jacobian_steps`` (a node generator's gradient is
constant within a cell). Each Jacobian comes with an estimate of its error.
"""

import numpy as np

from .protocols import capability

SMOOTH_STEP = 1e-5  # relative step of smooth parameters: truncation ~1e-10, rounding ~1e-11


def gradients(players, theta, psi, iteration=0):
    """(g_theta, g_psi): the generator's gradient (dL/dp_g itself for the mirror step) and
    the discriminator's descent direction at (theta, psi) of ``iteration`` (``players``: a
    :class:`gamesim.exact.Exact`); g_psi None without a parametrized discriminator. The field
    is minus them."""
    point = players.point(theta, psi, iteration)
    return point.g_grad(), point.d_grad() if players.parametrized else None


def joined(theta, psi):
    """One flat vector of theta and psi (psi None: theta alone)."""
    return theta.copy() if psi is None else np.concatenate([theta, psi])


def steps(generator, theta, psi):
    """(steps, resolved) for the joint vector (theta, psi): SMOOTH_STEP * max(1, |x|) (and
    SMOOTH_STEP where x is not finite: a -inf logit stays -inf), raised for theta to the
    generator's ``jacobian_steps``; ``resolved`` marks the entries whose step the generator's
    resolution set."""
    x = joined(theta, psi)
    finite = np.isfinite(x)
    step = SMOOTH_STEP * np.maximum(1.0, np.abs(np.where(finite, x, 0.0)))
    resolved = np.zeros(x.size, dtype=bool)
    own = capability(generator, "jacobian_steps")
    if own is not None:
        wanted = np.asarray(own(theta), dtype=np.float64)
        resolved[:theta.size] = wanted > step[:theta.size]
        step[:theta.size] = np.maximum(step[:theta.size], wanted)
    return step, resolved


def consensus(players, point, gamma):
    """The players' descent directions under consensus optimization (Mescheder, Nowozin,
    Geiger 2017) at ``point`` (a :class:`gamesim.exact.Point`): g + gamma J^T v, where
    g = (g_theta, g_psi), v = -g and J^T v = (dg/dx)^T g = grad |v|^2 / 2, so the players
    step along v - gamma J^T v. J^T v comes from central differences of g over each finite
    parameter: 2P gradient evaluations per call, for P parameters."""
    theta, psi, it = point.theta, point.psi, point.iteration
    g = joined(point.g_grad(), point.d_grad() if players.parametrized else None)
    x = joined(theta, psi)
    step, _ = steps(players.gen, theta, psi)
    jtv = np.zeros(x.size)
    for i in np.flatnonzero(np.isfinite(x)):
        ends = []
        for sign in (1.0, -1.0):
            y = x.copy()
            y[i] += sign * step[i]
            ends.append(joined(*gradients(players, *split(y, theta.size, psi), it)))
        jtv[i] = (ends[0] - ends[1]) @ g / (2.0 * step[i])
    out = g + gamma * jtv
    return out[:theta.size], None if psi is None else out[theta.size:]


def split(x, n_theta, psi):
    """(theta, psi) from a joint vector; psi None if the game has none."""
    return x[:n_theta].copy(), None if psi is None else x[n_theta:].copy()


def jacobian(f, step, resolved):
    """(J, error): the dense Jacobian at 0 of f: R^m -> R^m by central differences over
    ``step``, and an estimate of its error (Frobenius norm).

    A column's error is Richardson's |J(s) - J(2s)| / 3. Where a ``resolved`` step is set by
    the generator's resolution, f is piecewise in those coordinates and the stencil
    differentiates the cell-averaged field about a centre up to half a cell away: the error
    adds half the difference of a resolved column's one-sided quotients, and for every column
    half the change of J between the points half a step either side in all resolved
    coordinates (two more Jacobians)."""
    jac, err = _central(f, step, resolved)
    if resolved.any():
        half = np.where(resolved, 0.5 * step, 0.0)
        above = _central(lambda y: f(y + half), step, resolved, estimate=False)[0]
        below = _central(lambda y: f(y - half), step, resolved, estimate=False)[0]
        err = np.hypot(err, 0.5 * np.abs(above - below))
    return jac, float(np.linalg.norm(err))


def _central(f, step, resolved, estimate=True):
    m = step.size
    f0 = f(np.zeros(m))
    jac, err = np.zeros((f0.size, m)), np.zeros((f0.size, m))
    for i in range(m):
        e = np.zeros(m)
        e[i] = step[i]
        up, down = f(e), f(-e)
        jac[:, i] = (up - down) / (2.0 * step[i])
        if not estimate:
            continue
        wide = (f(2.0 * e) - f(-2.0 * e)) / (4.0 * step[i])
        err[:, i] = np.abs(jac[:, i] - wide) / 3.0
        if resolved[i]:  # and the staircase's one-sided quotients
            err[:, i] = np.hypot(err[:, i], np.abs(up - 2.0 * f0 + down) / (2.0 * step[i]))
    return jac, err


def largest_eigenvalues(f, step, which, count):
    """(eigenvalues, error): the ``count`` eigenvalues of f's Jacobian at 0 of largest real
    part (``which`` "LR") or modulus ("LM"), by scipy's ARPACK on Jacobian-vector products.
    The products are central differences along a direction scaled by ``step`` (the
    Jacobian of the scaled coordinates, similar to J, has its eigenvalues); the error is the
    largest residual |J w - lambda w| with J w taken again over twice the step."""
    try:
        from scipy.sparse.linalg import LinearOperator, eigs
    except ImportError:
        raise ImportError("the stability analysis of a game with more parameters than "
                          "gamesim.stability.DENSE_LIMIT uses scipy (scipy.sparse.linalg."
                          "eigs): pip install scipy") from None
    m = step.size

    def product(z, scale=1.0):
        z = np.real(np.asarray(z, dtype=np.float64)).ravel()
        size = np.abs(z).max()
        if size == 0:
            return np.zeros(m)
        t = scale / size  # each coordinate moves by at most its step (times scale)
        return (f(step * z * t) - f(-step * z * t)) / (2.0 * t) / step

    operator = LinearOperator((m, m), matvec=product, dtype=np.float64)
    values, vectors = eigs(operator, k=min(count, m - 2), which=which, tol=1e-10,
                           v0=np.ones(m))
    residuals = []
    for k in range(values.size):
        w = vectors[:, k]
        moved = product(w.real, 2.0) + 1j * product(w.imag, 2.0)
        residuals.append(np.linalg.norm(moved - values[k] * w) / np.linalg.norm(w))
    return values, float(max(residuals, default=0.0))
