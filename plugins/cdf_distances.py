"""Distances that see the grid's geometry through the cumulative masses (or their inverses).

A distribution on the grid is read as point masses at the cell centres x_i, so its CDF is a
step function whose steps F_i = p_0 + ... + p_i hold on [x_i, x_{i+1}), a gap of h. That makes
every value here exact for those atoms: ``w1`` equals scipy.stats.wasserstein_distance with
the centres as values and the masses as weights, and ``energy`` the square of
scipy.stats.energy_distance. Values are in the grid's units (w1, w2), its units (energy,
cramer: the integral of a squared difference of probabilities over x), or unitless (ks).

Gradients are with respect to the generated masses q: a mass q_j enters every G_i with
i >= j, so each gradient is a suffix sum of d value / d G_i. Where a distance has a kink (a CDF
gap of exactly 0 in w1, a tie for the largest gap in ks) the gradient is a subgradient, with
sign(0) = 0 and the first maximizer.

Sampled training uses ``sample_value_grad(x, y, unbiased)`` of ``w1``, ``energy`` and
``cramer``: the distance between a data sample x and a generated sample y, with its gradient in
the points y, from sorted samples (O((m + n) log(m + n))). ``w1`` is the distance between the
two empirical distributions (biased upwards; ``unbiased`` does not apply); ``energy`` and
``cramer`` average |x - x'| and |y - y'| over distinct pairs (U-statistic, unbiased) or over
all pairs (V-statistic).
"""

import math

import numpy as np
from numba import njit

import gamesim
from gamesim.vecmath import filled, sum_of


@njit(cache=True)
def _suffix_sum(per_edge, out):
    """out_j = sum_{i >= j} per_edge_i: the chain rule from G_i = q_0 + ... + q_i to q_j."""
    tail = 0.0
    for j in range(per_edge.size - 1, -1, -1):
        tail += per_edge[j]
        out[j] = tail


@njit(cache=True)
def _cdf_gaps(p, q, out):
    """G_i - F_i, the generated minus the data CDF at the right of cell i."""
    gap = 0.0
    for i in range(p.size):
        gap += q[i] - p[i]
        out[i] = gap


@njit(cache=True)
def _w1_sum(p, q):
    """sum_i |G_i - F_i|, in one call."""
    gaps = np.empty(p.size)
    _cdf_gaps(p, q, gaps)
    for i in range(gaps.size):
        gaps[i] = abs(gaps[i])
    return sum_of(gaps)


@njit(cache=True)
def _w1_per_edge(gaps, h):
    """d/dG_i of h sum |G_i - F_i| = h sign(G_i - F_i), sign(0) = 0."""
    for i in range(gaps.size):
        g = gaps[i]
        gaps[i] = 0.0 if g == 0.0 else math.copysign(h, g)


@njit(cache=True)
def _ks_grad(gaps, out):
    """Subgradient of max_i |G_i - F_i|: sign of the first largest gap, on cells up to it."""
    best, arg = -1.0, 0
    for i in range(gaps.size):
        if abs(gaps[i]) > best:
            best, arg = abs(gaps[i]), i
    s = 0.0 if gaps[arg] == 0.0 else math.copysign(1.0, gaps[arg])
    for j in range(out.size):
        out[j] = s if j <= arg else 0.0


@njit(cache=True)
def _w2_squared(p, q, h):
    """Integral over t in (0, 1) of (Q_p(t) - Q_q(t))^2, walking the merged CDF steps.

    Q_p(t) = x_i on (F_{i-1}, F_i], so on each piece between consecutive steps of either CDF
    the two quantiles are centres x_i, x_j and the integrand is ((i - j) h)^2.
    """
    n = p.size
    i = j = 0
    fp, gq, t, total = p[0], q[0], 0.0, 0.0
    while i < n and j < n:
        nxt = min(fp, gq)
        if nxt > t:
            total += (nxt - t) * float((i - j) * (i - j))
            t = nxt
        if fp <= gq:
            i += 1
            if i < n:
                fp += p[i]
        else:
            j += 1
            if j < n:
                gq += q[j]
    return total * h * h


@njit(cache=True)
def _w2_squared_per_edge(p, q, h, out):
    """d/dG_i of W2^2 = 2 h (Q_p(G_i) - e_{i+1}), e_{i+1} = x_i + h/2 the edge G_i sits on.

    Raising G_i hands the quantiles just above G_i from x_{i+1} to x_i; with a = Q_p(G_i),
    (a - x_i)^2 - (a - x_{i+1})^2 = 2 h (a - e_{i+1}). Q_p is left-continuous (the smallest k
    with F_k >= G_i); the last edge, where both CDFs are 1, contributes 0.
    """
    n = p.size
    k, fp, gq = 0, p[0], 0.0
    for i in range(n - 1):
        gq += q[i]
        while fp < gq and k < n - 1:
            k += 1
            fp += p[k]
        out[i] = 2.0 * h * h * (k - i - 0.5)
    out[n - 1] = 0.0


@njit(cache=True)
def _sample_w1(xs, ys, grad):
    """W1 between the empirical distributions of sorted samples xs and ys: the integral over
    t of |Q_x(t) - Q_y(t)|, walking the merged quantile levels; grad = d/dys (sign(0) = 0)."""
    m, n = xs.size, ys.size
    i = j = 0
    t, total = 0.0, 0.0
    grad[:] = 0.0
    while i < m and j < n:
        nxt = min((i + 1) / m, (j + 1) / n)
        d = ys[j] - xs[i]
        total += (nxt - t) * abs(d)
        grad[j] += (nxt - t) * (1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0))
        t = nxt
        if (i + 1) / m <= nxt:
            i += 1
        if (j + 1) / n <= nxt:
            j += 1
    return total


class _CDF:
    def setup(self, grid):
        self.h = grid.h

    def _gaps(self, p, q):
        return filled(_cdf_gaps, p, q)


class W1(_CDF):
    """Wasserstein-1 distance h sum_i |F_p,i - F_q,i| (earth mover's, in the grid's units;
    symmetric). Subgradient h sum_{i >= j} sign(F_q,i - F_p,i), with sign(0) = 0."""

    name = "w1"
    out_methods = ("grad",)

    def value(self, p, q):
        return self.h * _w1_sum(p, q)  # a row's W1 in one call

    def grad(self, p, q, out=None):
        per_edge = self._gaps(p, q)
        _w1_per_edge(per_edge, self.h)
        return filled(_suffix_sum, per_edge, out=out)

    def sample_value_grad(self, x, y, unbiased=True):
        """(W1 of the two empirical distributions, its gradient in y); ``unbiased`` is
        ignored: no unbiased estimator of W1 exists, this one is biased upwards."""
        order = np.argsort(y, kind="stable")
        grad_sorted = np.empty_like(y)
        value = _sample_w1(np.sort(x), y[order], grad_sorted)
        grad = np.empty_like(y)
        grad[order] = grad_sorted
        return value, grad


class W2(_CDF):
    """Wasserstein-2 distance (not squared; in the grid's units; symmetric), the L2 distance
    between the quantile functions. Gradient (d W2^2 / dq) / (2 W2) with the one-sided
    quantile Q_p(t) = min{x_k : F_p,k >= t}; 0 where W2 = 0, where it is not differentiable."""

    name = "w2"
    out_methods = ("grad",)

    def value(self, p, q):
        return math.sqrt(_w2_squared(p, q, self.h))

    def grad(self, p, q, out=None):
        w2 = self.value(p, q)
        out = np.empty(q.size) if out is None else out
        if w2 == 0.0:
            out[:] = 0.0
            return out
        filled(_suffix_sum, filled(_w2_squared_per_edge, p, q, self.h), out=out)
        out /= 2.0 * w2
        return out


class Energy(_CDF):
    """Energy distance 2 h sum (F_p - F_q)^2 = 2 E|X - Y| - E|X - X'| - E|Y - Y'| (squared form:
    scipy.stats.energy_distance returns its square root; symmetric). Equals ``mmd`` with the
    energy kernel. Gradient 4 h sum_{i >= j} (F_q,i - F_p,i)."""

    name = "energy"
    factor = 2.0
    out_methods = ("grad",)

    def value(self, p, q):
        gaps = self._gaps(p, q)
        return self.factor * self.h * float(gaps @ gaps)

    def grad(self, p, q, out=None):
        return filled(_suffix_sum, 2.0 * self.factor * self.h * self._gaps(p, q), out=out)

    def sample_value_grad(self, x, y, unbiased=True):
        """(estimate, its gradient in y) of (factor / 2)(2 E|X - Y| - E|X - X'| - E|Y - Y'|)
        from samples x (data) and y (generated); the within-sample means over distinct pairs
        (U-statistic, unbiased) or all pairs (V-statistic, biased upwards)."""
        m, n = x.size, y.size
        xs = np.sort(x)
        order = np.argsort(y, kind="stable")
        ys = y[order]
        rank_x, rank_y = np.arange(m), np.arange(n)
        s_xx = 2.0 * float(xs @ (2.0 * rank_x - (m - 1)))  # sum over i != j of |x_i - x_j|
        g_yy = 2.0 * (2.0 * rank_y - (n - 1))               # d/dy of sum over i != j |y_i - y_j|
        s_yy = float(ys @ g_yy)
        below = np.searchsorted(xs, ys, side="left")        # number of x < y_j
        prefix = np.concatenate([[0.0], np.cumsum(xs)])
        s_xy = float(np.sum(ys * below - prefix[below] + (prefix[m] - prefix[below])
                            - ys * (m - below)))
        g_xy = 2.0 * below - m                               # d/dy_j of sum_i |x_i - y_j|
        mx, ny = (m - 1, n - 1) if unbiased else (m, n)
        half = 0.5 * self.factor
        value = half * (2.0 * s_xy / (m * n) - s_xx / (m * mx) - s_yy / (n * ny))
        grad = np.empty_like(y)
        grad[order] = half * (2.0 * g_xy / (m * n) - g_yy / (n * ny))
        return value, grad


class Cramer(Energy):
    """Cramer distance h sum (F_p - F_q)^2, half the energy distance (squared form, not its
    root; symmetric). Gradient 2 h sum_{i >= j} (F_q,i - F_p,i)."""

    name = "cramer"
    factor = 1.0


class KS(_CDF):
    """Kolmogorov-Smirnov distance max_i |F_p,i - F_q,i|, in [0, 1] (symmetric). Subgradient:
    sign(F_q,i* - F_p,i*) on cells j <= i*, 0 after, with i* the first largest gap and
    sign(0) = 0."""

    name = "ks"
    out_methods = ("grad",)

    def value(self, p, q):
        return float(np.abs(self._gaps(p, q)).max())

    def grad(self, p, q, out=None):
        return filled(_ks_grad, self._gaps(p, q), out=out)


@gamesim.hookimpl
def gamesim_register_distances(register):
    for cls in (W1, W2, Energy, Cramer, KS):
        register(cls)
