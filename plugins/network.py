"""The one-hidden-layer network on a scalar input shared by the ``mlp`` generator and
discriminator: y(s) = c + sum_j a_j act(w_j s + b_j), parameters packed (w, b, a, c).

NumPy rather than Numba: the work is elementwise over an N x H array and two products,
where NumPy's SIMD exp/tanh and BLAS beat Numba's scalar loops (DESIGN.md section 6).
The activations of the last few (s, theta) pairs are cached (keyed by copies compared by
value, since optimizers update parameters in place) so forward, vjp, dyds and dyds_vjp at
the same parameters share one evaluation; act' and act'' are computed only when needed.
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


class _Entry:
    """Pre-activations of one (s, theta) and their act, act', act'' computed on demand,
    with exactly the same expressions as ACTIVATIONS so results are bit-identical."""

    __slots__ = ("s", "theta", "hidden", "activation", "pre", "_t", "_act", "_dact", "_d2act")

    def __init__(self, s, theta, hidden, activation):
        self.s, self.theta = s.copy(), theta.copy()  # copies: callers update in place
        self.hidden, self.activation = hidden, activation
        w, b, _, _ = split(theta, hidden)
        self.pre = np.outer(s, w) + b
        self._t = self._act = self._dact = self._d2act = None

    def matches(self, s, theta, hidden, activation):
        return (self.hidden == hidden and self.activation == activation
                and self.s.shape == s.shape and np.array_equal(self.theta, theta)
                and np.array_equal(self.s, s))

    def act(self):
        if self._act is None:
            a, name = self.pre, self.activation
            if name == "tanh":
                self._act = self._t = np.tanh(a)
            elif name == "relu":
                self._act = np.where(a > 0, a, 0.0)
            elif name == "leaky_relu":
                self._act = np.where(a > 0, a, LEAK * a)
            elif name == "softplus":
                self._act = np.logaddexp(0.0, a)
            else:
                self._act, self._dact, self._d2act = ACTIVATIONS[name](a)
        return self._act

    def dact(self):
        if self._dact is None:
            a, name = self.pre, self.activation
            if name == "tanh":
                t = self.act()
                self._dact = 1.0 - t * t
            elif name == "relu":
                self._dact = (a > 0).astype(np.float64)
            elif name == "leaky_relu":
                self._dact = np.where(a > 0, 1.0, LEAK)
            elif name == "softplus":
                self._dact = 0.5 * (1.0 + np.tanh(0.5 * a))
            else:
                self._act, self._dact, self._d2act = ACTIVATIONS[name](a)
        return self._dact

    def d2act(self):
        if self._d2act is None:
            name = self.activation
            if name == "tanh":
                self._d2act = -2.0 * self.act() * self.dact()
            elif name in ("relu", "leaky_relu"):
                self._d2act = np.zeros_like(self.pre)
            elif name == "softplus":
                s = self.dact()
                self._d2act = s * (1.0 - s)
            else:
                self._act, self._dact, self._d2act = ACTIVATIONS[name](self.pre)
        return self._d2act


_CACHE = []
_CACHE_SIZE = 4  # generator and discriminator, each on its nodes and on samples


def _entry(s, theta, hidden, activation):
    """The cached activations of (s, theta), keyed by copies compared by value."""
    s = np.asarray(s, dtype=np.float64)
    theta = np.asarray(theta)
    for i, e in enumerate(_CACHE):
        if e.matches(s, theta, hidden, activation):
            if i:
                _CACHE.insert(0, _CACHE.pop(i))
            return e
    e = _Entry(s, theta, hidden, activation)
    _CACHE.insert(0, e)
    del _CACHE[_CACHE_SIZE:]
    return e


def forward(s, theta, hidden, activation):
    """y at the inputs s."""
    _, _, a, c = split(theta, hidden)
    return _entry(s, theta, hidden, activation).act() @ a + c


def vjp(s, theta, hidden, activation, g):
    """d/dtheta of sum g * y(s)."""
    _, _, a, _ = split(theta, hidden)
    e = _entry(s, theta, hidden, activation)
    g_pre = e.dact() * np.outer(g, a)
    return np.concatenate([s @ g_pre, g_pre.sum(0), e.act().T @ g, [g.sum()]])


def dyds(s, theta, hidden, activation):
    """dy/ds at the inputs s."""
    w, _, a, _ = split(theta, hidden)
    return _entry(s, theta, hidden, activation).dact() @ (a * w)


def dyds_vjp(s, theta, hidden, activation, g):
    """d/dtheta of sum g * dy/ds(s); dy/ds = sum_j a_j w_j act'(w_j s + b_j)."""
    w, _, a, _ = split(theta, hidden)
    e = _entry(s, theta, hidden, activation)
    dact, d2act = e.dact(), e.d2act()
    gd2 = d2act * g[:, None]
    return np.concatenate([a * (dact.T @ g + w * (s @ gd2)), a * w * gd2.sum(0),
                           w * (dact.T @ g), [0.0]])
