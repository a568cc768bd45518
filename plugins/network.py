"""The one-hidden-layer network on a scalar input shared by the ``mlp`` generator and
discriminator: y(s) = c + sum_j a_j act(w_j s + b_j), parameters packed (w, b, a, c).

Numba kernels. They beat NumPy (np.tanh over an N x H array, np.outer and more N x H
temporaries for BLAS products) 7-10x on the tanh network because of

- **fused passes**: one pass over blocks of 64 inputs computes every unit's activations and
  y; one pass over a unit's activations accumulates the three sums its gradient needs.
  Nothing N x H is allocated but the kept activations (H x N, one row per unit, so the
  loops over inputs vectorize). Sums run in 64 lanes added up at the end, which vectorizes
  without fast-math flags and fixes the order of the additions: every run gives the same
  bits;
- **one exp per block for evenly spaced inputs** (the grid's cell centres, the generator's
  nodes): with s_i = s_0 + i ds, exp(2 z_i) = exp(2 (w_j s_0 + b_j)) exp(2 w_j ds k) for the
  k-th input of a block, the second factor from a per-unit table, and tanh z =
  1 - 2 / (exp(2 z) + 1): a few multiplies and one divide per element, no loop-carried
  dependency, under 1 ns, where np.tanh took about 20 ns per float64 on the AVX2 machine
  measured. Other inputs (sampled points) take the vectorizable exp of gamesim.vecmath per
  element, about 1.5-4 ns.

Evenly spaced is detected, not declared by the callers, so a sampled batch cannot take the
table by mistake: every s_i within 1e-8 |ds| of s_0 + i ds (cell centres and np.linspace
deviate by a few ulps). The deviation dev is corrected to first order, exp(2 w_j dev) =
1 + 2 w_j dev, exact to rounding since |2 w_j dev| < 1e-8. A unit whose table would span
more than exp(+-40) (|2 w_j ds| * 64 > 40: a steep unit on coarse inputs) goes per element
instead, which bounds the rounding of the table's exponents (about 20 ulps of E) and rules
out 0 * inf: the block's factor may underflow to 0 or overflow to inf (tanh is then -1 or
1 throughout the block), the table's entries cannot. NaN or infinite weights fail that
test too.

Accuracy: 1 - 2 / (E + 1) has an absolute error of a few 1e-16; its relative error near
z = 0 is larger, but y and the gradients are sums of a_j act_j and its derivatives, for
which the absolute error is what counts. Against np.tanh the activations agree to a few
1e-16 at moderate weights and within eps (1 + |w_j| max |s| + |b_j|), the rounding of z
itself, at large ones (tests/test_network.py).

What is kept per (s, theta) is tanh's activations t (act' = 1 - t^2, act'' = -2 t act'),
for the other activations the pre-activations z, from which the kernels derive act, act'
and act''. The last few (s, theta) pairs are cached, keyed by copies compared by value
(optimizers update parameters in place), so forward, vjp, dyds and dyds_vjp at the same
parameters share one evaluation.
"""

import math
import threading

import numpy as np
from numba import njit

from gamesim.vecmath import sum_of, vexp

LEAK = 0.2  # slope of leaky_relu for negative inputs

TANH, RELU, LEAKY_RELU, SOFTPLUS = range(4)
ACTIVATIONS = {"tanh": TANH, "relu": RELU, "leaky_relu": LEAKY_RELU, "softplus": SOFTPLUS}
"""name -> the code the kernels branch on."""

_BLOCK = 64  # inputs per block: one exp per unit and block, and the number of sum lanes
_SPAN = 40.0  # largest |2 w_j ds| * block for the exp table (see the module docstring)
_EVEN = 1e-8  # evenly spaced: every s_i within _EVEN |ds| of s_0 + i ds
_JIT = dict(cache=True, error_model="numpy")  # no fastmath: the same bits on every run


def init(rng, hidden, init_scale):
    """w, b ~ N(0, 1); a ~ N(0, init_scale^2 / H); c = 0."""
    return np.concatenate([rng.normal(0, 1, hidden), rng.normal(0, 1, hidden),
                           rng.normal(0, init_scale / math.sqrt(hidden), hidden), [0.0]])


# ------------------------------------------------------------------------------------------
# Kernels. The per-element helpers branch on the activation code; their callers pass the
# constant TANH where they can, so that after inlining LLVM folds the branches away and
# vectorizes the tanh loops (other activations run at scalar speed: the timed game is tanh).


@njit(inline="always", **_JIT)
def _phi(code, order, k):
    """act (order 0), act' (1) or act'' (2) from the kept value k (tanh: act; else: z)."""
    if code == TANH:
        if order == 0:
            return k
        d = 1.0 - k * k
        return d if order == 1 else -2.0 * k * d
    if code == RELU:
        if order == 0:
            return k if k > 0.0 else 0.0
        return (1.0 if k > 0.0 else 0.0) if order == 1 else 0.0
    if code == LEAKY_RELU:
        if order == 0:
            return k if k > 0.0 else LEAK * k
        return (1.0 if k > 0.0 else LEAK) if order == 1 else 0.0
    # SOFTPLUS: act = log(1 + e^z) as np.logaddexp(0, z) computes it, act' = sigmoid(z)
    if order == 0:
        return max(k, 0.0) + math.log1p(math.exp(-abs(k)))
    sig = 1.0 / (1.0 + math.exp(-k))
    return sig if order == 1 else sig * (1.0 - sig)


@njit(inline="always", **_JIT)
def _add_phi(code, order, coef, row, acc):
    for k in range(row.size):
        acc[k] += coef * _phi(code, order, row[k])


@njit(inline="always", **_JIT)
def _combine(code, order, kept, coef, c, i0, i1, acc, out):
    """out[i] = c + sum_j coef_j act^(order)_j(s_i) for i0 <= i < i1."""
    m = i1 - i0
    acc[:m] = 0.0
    for j in range(kept.shape[0]):
        if code == TANH:
            _add_phi(TANH, order, coef[j], kept[j, i0:i1], acc)
        else:
            _add_phi(code, order, coef[j], kept[j, i0:i1], acc)
    for k in range(m):
        out[i0 + k] = acc[k] + c


@njit(**_JIT)
def _even_step(s):
    """ds if every s_i is within _EVEN |ds| of s_0 + i ds, else NaN (also for NaN or inf)."""
    n = s.size
    if n < 2:
        return 0.0
    ds = (s[n - 1] - s[0]) / (n - 1)
    tol = _EVEN * abs(ds)
    bad = 0
    for i in range(n):
        bad += not abs(s[i] - (s[0] + i * ds)) <= tol
    return ds if bad == 0 else np.nan


@njit(**_JIT)
def _fill(code, s, theta, kept, y):
    """kept (H x N: tanh's activations, else pre-activations) and y = c + sum_j a_j act_j."""
    H, n = kept.shape
    L = min(_BLOCK, max(n, 1))  # at least 1 for empty inputs
    w, b, a, c = theta[:H], theta[H:2 * H], theta[2 * H:3 * H], theta[3 * H]
    ds = _even_step(s) if code == TANH else np.nan
    kds = np.arange(L) * ds
    table = np.empty((H, L))  # exp(2 w_j k ds)
    fast = np.empty(H, np.bool_)
    for j in range(H):
        w2 = 2.0 * w[j]
        fast[j] = abs(w2 * ds) * L <= _SPAN  # False for NaN: uneven inputs, w_j = inf or NaN
        if fast[j]:
            for k in range(L):
                table[j, k] = vexp(w2 * kds[k])
    dev = np.empty(L)
    acc = np.empty(L)
    for i0 in range(0, n, L):
        i1 = min(i0 + L, n)
        sb = s[i0:i1]
        for k in range(sb.size):  # the inputs' deviations from the table's progression
            dev[k] = (sb[k] - sb[0]) - kds[k]
        for j in range(H):
            row, wj, bj = kept[j, i0:i1], w[j], b[j]
            if code != TANH:
                for k in range(row.size):
                    row[k] = wj * sb[k] + bj
            elif fast[j]:
                e0 = vexp(2.0 * (wj * sb[0] + bj))  # may be 0 or inf: tanh is then -1 or 1
                tj, w2 = table[j], 2.0 * wj
                for k in range(row.size):  # exp(2 w_j dev) = 1 + 2 w_j dev to rounding
                    row[k] = 1.0 - 2.0 / (e0 * tj[k] * (1.0 + w2 * dev[k]) + 1.0)
            else:
                for k in range(row.size):
                    row[k] = 1.0 - 2.0 / (vexp(2.0 * (wj * sb[k] + bj)) + 1.0)
        _combine(code, 0, kept, a, c, i0, i1, acc, y)


@njit(**_JIT)
def _dyds(code, kept, theta, out):
    """out = dy/ds = sum_j a_j w_j act'_j."""
    H, n = kept.shape
    L = min(_BLOCK, max(n, 1))  # at least 1 for empty inputs
    coef = theta[2 * H:3 * H] * theta[:H]
    acc = np.empty(L)
    for i0 in range(0, n, L):
        _combine(code, 1, kept, coef, 0.0, i0, min(i0 + L, n), acc, out)


@njit(inline="always", **_JIT)
def _add_moments(code, order, row, g, s, m0, m1, m2):
    for k in range(row.size):
        f1 = _phi(code, order + 1, row[k])
        m0[k] += g[k] * _phi(code, order, row[k])
        m1[k] += g[k] * f1
        m2[k] += g[k] * s[k] * f1


@njit(**_JIT)
def _vjp(code, order, kept, s, theta, g, out):
    """out = d/dtheta of sum_i g_i d^order y / ds^order (s_i), order 0 or 1.

    Per unit j, with f = act^(order)_j: m0 = sum g f, m1 = sum g f', m2 = sum g s f'. For
    y: (dw, db, da) = (a m2, a m1, m0), dc = sum g. For dy/ds = sum_j a_j w_j act'_j:
    (a (m0 + w m2), a w m1, w m0), dc = 0.
    """
    H, n = kept.shape
    L = min(_BLOCK, max(n, 1))  # at least 1 for empty inputs
    m0, m1, m2 = np.empty(L), np.empty(L), np.empty(L)
    for j in range(H):
        m0[:] = 0.0
        m1[:] = 0.0
        m2[:] = 0.0
        for i0 in range(0, n, L):
            i1 = min(i0 + L, n)
            if code == TANH:
                _add_moments(TANH, order, kept[j, i0:i1], g[i0:i1], s[i0:i1], m0, m1, m2)
            else:
                _add_moments(code, order, kept[j, i0:i1], g[i0:i1], s[i0:i1], m0, m1, m2)
        s0, s1, s2 = sum_of(m0), sum_of(m1), sum_of(m2)
        wj, aj = theta[j], theta[2 * H + j]
        if order == 0:
            out[j], out[H + j], out[2 * H + j] = aj * s2, aj * s1, s0
        else:
            out[j], out[H + j], out[2 * H + j] = aj * (s0 + wj * s2), aj * wj * s1, wj * s0
    out[3 * H] = sum_of(g) if order == 0 else 0.0


@njit(**_JIT)
def _same(x, y):
    """x == y elementwise (arrays of one size)."""
    for i in range(x.size):
        if x[i] != y[i]:
            return False
    return True


# ------------------------------------------------------------------------------------------
# The cache and the API


class _Entry:
    """The kept array and y of one (s, theta, activation), with copies of s and theta."""

    __slots__ = ("s", "theta", "code", "kept", "y")


_CACHE_SIZE = 4  # generator and discriminator, each on its nodes and on samples
_LOCAL = threading.local()  # one cache per thread: entries are recycled in place


def _entry(s, theta, hidden, activation):
    """The cached evaluation of (s, theta), keyed by copies compared by value."""
    s = np.ascontiguousarray(s, dtype=np.float64)
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    code = ACTIVATIONS[activation]
    if s.ndim != 1 or theta.shape != (3 * hidden + 1,):
        raise ValueError(f"expected 1-D inputs and {3 * hidden + 1} parameters, got shapes "
                         f"{s.shape} and {theta.shape}")
    cache = _LOCAL.__dict__.setdefault("cache", [])
    for i, e in enumerate(cache):
        if (e.code == code and e.kept.shape == (hidden, s.size) and _same(e.theta, theta)
                and _same(e.s, s)):
            if i:
                cache.insert(0, cache.pop(i))
            return e
    # recycle the least recently used entry's arrays: a new H x N array of a MiB or more
    # would be page-faulted afresh on every call
    e = cache.pop() if len(cache) == _CACHE_SIZE else _Entry()
    if getattr(e, "kept", None) is None or e.kept.shape != (hidden, s.size):
        e.kept, e.y = np.empty((hidden, s.size)), np.empty(s.size)
    e.s, e.theta, e.code = s.copy(), theta.copy(), code  # copies: callers update in place
    _fill(code, e.s, e.theta, e.kept, e.y)
    cache.insert(0, e)
    return e


def _gradient(s, theta, hidden, activation, g, order):
    e = _entry(s, theta, hidden, activation)
    g = np.ascontiguousarray(g, dtype=np.float64)
    if g.shape != e.s.shape:
        raise ValueError(f"g has shape {g.shape}, the inputs {e.s.shape}")
    out = np.empty(e.theta.size)
    _vjp(e.code, order, e.kept, e.s, e.theta, g, out)
    return out


def forward(s, theta, hidden, activation):
    """y at the inputs s."""
    return _entry(s, theta, hidden, activation).y.copy()  # a copy: the entry is recycled


def vjp(s, theta, hidden, activation, g):
    """d/dtheta of sum g * y(s)."""
    return _gradient(s, theta, hidden, activation, g, 0)


def dyds(s, theta, hidden, activation):
    """dy/ds at the inputs s."""
    e = _entry(s, theta, hidden, activation)
    out = np.empty(e.s.size)
    _dyds(e.code, e.kept, e.theta, out)
    return out


def dyds_vjp(s, theta, hidden, activation, g):
    """d/dtheta of sum g * dy/ds(s); dy/ds = sum_j a_j w_j act'(w_j s + b_j)."""
    return _gradient(s, theta, hidden, activation, g, 1)
