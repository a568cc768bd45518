"""The one-hidden-layer network on a scalar input shared by the ``mlp`` generator and
discriminator: y(s) = c + sum_j a_j act(w_j s + b_j), parameters packed (w, b, a, c).

NumPy rather than Numba: the work is elementwise over an N x H array and two products,
where NumPy's SIMD exp/tanh and BLAS beat Numba's scalar loops (DESIGN.md section 6).
"""

import math

import numpy as np

LEAK = 0.2  # slope of leaky_relu for negative inputs


def _tanh(a):
    t = np.tanh(a)
    return t, 1.0 - t * t, -2.0 * t * (1.0 - t * t)


def _relu(a):
    pos = a > 0
    return np.where(pos, a, 0.0), pos.astype(np.float64), np.zeros_like(a)


def _leaky_relu(a):
    pos = a > 0
    return np.where(pos, a, LEAK * a), np.where(pos, 1.0, LEAK), np.zeros_like(a)


def _softplus(a):
    s = 0.5 * (1.0 + np.tanh(0.5 * a))
    return np.logaddexp(0.0, a), s, s * (1.0 - s)


ACTIVATIONS = {"tanh": _tanh, "relu": _relu, "leaky_relu": _leaky_relu, "softplus": _softplus}
"""name -> function of the pre-activations returning (act, act', act'') elementwise."""


def init(rng, hidden, init_scale):
    """w, b ~ N(0, 1); a ~ N(0, init_scale^2 / H); c = 0."""
    return np.concatenate([rng.normal(0, 1, hidden), rng.normal(0, 1, hidden),
                           rng.normal(0, init_scale / math.sqrt(hidden), hidden), [0.0]])


def split(theta, hidden):
    H = hidden
    return theta[:H], theta[H:2 * H], theta[2 * H:3 * H], theta[3 * H]


def forward(s, theta, hidden, activation):
    """y at the inputs s."""
    w, b, a, c = split(theta, hidden)
    act, _, _ = ACTIVATIONS[activation](np.outer(s, w) + b)
    return act @ a + c


def vjp(s, theta, hidden, activation, g):
    """d/dtheta of sum g * y(s)."""
    w, b, a, _ = split(theta, hidden)
    act, dact, _ = ACTIVATIONS[activation](np.outer(s, w) + b)
    g_pre = dact * np.outer(g, a)
    return np.concatenate([s @ g_pre, g_pre.sum(0), act.T @ g, [g.sum()]])


def dyds(s, theta, hidden, activation):
    """dy/ds at the inputs s."""
    w, b, a, _ = split(theta, hidden)
    _, dact, _ = ACTIVATIONS[activation](np.outer(s, w) + b)
    return dact @ (a * w)


def dyds_vjp(s, theta, hidden, activation, g):
    """d/dtheta of sum g * dy/ds(s); dy/ds = sum_j a_j w_j act'(w_j s + b_j)."""
    w, b, a, _ = split(theta, hidden)
    _, dact, d2act = ACTIVATIONS[activation](np.outer(s, w) + b)
    gd2 = d2act * g[:, None]
    return np.concatenate([a * (dact.T @ g + w * (s @ gd2)), a * w * gd2.sum(0),
                           w * (dact.T @ g), [0.0]])
