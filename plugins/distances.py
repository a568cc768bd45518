"""Divergences between the data masses p and the generated masses q, cell by cell.

Every distance plugin has ``value(p, q)`` and ``grad(p, q)``, the gradient with respect to q
(p = data, q = generated; both float64 masses summing to 1). They serve as recorded metrics in
every mode and as the generator's loss in direct mode. This module holds the f-divergences,
which compare the two masses cell by cell and so see nothing of the grid's geometry;
``cdf_distances`` and ``kernel_distances`` hold those that do.

Conventions shared by this module (docs/distances.md states them per distance):

- logarithms are natural (nats); 0 log 0 = 0; an infinite divergence is ``inf``, never NaN;
- the gradient is the derivative of the formula as written, q treated as unconstrained (only
  its component along mass-preserving directions, sum v = 0, moves a generator); where q = 0
  it is the one-sided limit q -> 0+, which is -inf where q = 0 < p for the divergences that
  blow up there;
- where p = 0 the formula's value for q > 0 holds at q = 0 too (its continuous extension), so
  a transform generator spreading mass into empty cells sees the true cost of doing so.
"""

import math

from numba import njit

import gamesim
from gamesim.vecmath import filled


@njit(cache=True)
def _js(p, q):
    total = 0.0
    for i in range(p.size):
        # log(2p / (p + q)), not log(p / m): m = (p + q) / 2 underflows to 0 for subnormal masses
        s = p[i] + q[i]
        if p[i] > 0.0:
            total += 0.5 * p[i] * math.log(2.0 * p[i] / s)
        if q[i] > 0.0:
            total += 0.5 * q[i] * math.log(2.0 * q[i] / s)
    return max(total, 0.0)


@njit(cache=True)
def _js_grad(p, q, out):
    for i in range(p.size):
        if p[i] == 0.0:
            out[i] = 0.5 * math.log(2.0)
        elif q[i] == 0.0:
            out[i] = -math.inf
        else:
            out[i] = 0.5 * math.log(2.0 * q[i] / (p[i] + q[i]))


@njit(cache=True)
def _kl(p, q):
    total = 0.0
    for i in range(p.size):
        if p[i] > 0.0:
            if q[i] == 0.0:
                return math.inf
            # a difference of logs: p / q overflows for a finite KL when q is subnormal
            total += p[i] * (math.log(p[i]) - math.log(q[i]))
    return max(total, 0.0)


@njit(cache=True)
def _kl_grad(p, q, out):
    for i in range(p.size):
        if p[i] == 0.0:
            out[i] = 0.0
        else:
            out[i] = -p[i] / q[i] if q[i] > 0.0 else -math.inf


@njit(cache=True)
def _reverse_kl_grad(p, q, out):
    """d/dq of sum q log(q / p) = log(q / p) + 1."""
    for i in range(p.size):
        if p[i] == 0.0:
            out[i] = math.inf
        elif q[i] == 0.0:
            out[i] = -math.inf
        else:
            out[i] = math.log(q[i]) - math.log(p[i]) + 1.0


@njit(cache=True)
def _tv(p, q):
    total = 0.0
    for i in range(p.size):
        total += abs(p[i] - q[i])
    return 0.5 * total


@njit(cache=True)
def _tv_grad(p, q, out):
    for i in range(p.size):
        d = q[i] - p[i]
        out[i] = 0.0 if d == 0.0 else math.copysign(0.5, d)


@njit(cache=True)
def _hellinger(p, q):
    total = 0.0
    for i in range(p.size):
        d = math.sqrt(p[i]) - math.sqrt(q[i])
        total += d * d
    return 0.5 * total


@njit(cache=True)
def _hellinger_grad(p, q, out):
    """d/dq of 1/2 (sqrt p - sqrt q)^2 = (1 - sqrt(p / q)) / 2."""
    for i in range(p.size):
        if p[i] == 0.0:
            out[i] = 0.5
        elif q[i] == 0.0:
            out[i] = -math.inf
        else:
            out[i] = 0.5 * (1.0 - math.sqrt(p[i] / q[i]))


@njit(cache=True)
def _chi2(p, q):
    total = 0.0
    for i in range(p.size):
        if q[i] > 0.0:
            d = p[i] - q[i]
            total += d * d / q[i]
        elif p[i] > 0.0:
            return math.inf
    return total


@njit(cache=True)
def _chi2_grad(p, q, out):
    """d/dq of (p - q)^2 / q = 1 - (p / q)^2."""
    for i in range(p.size):
        if p[i] == 0.0:
            out[i] = 1.0
        elif q[i] == 0.0:
            out[i] = -math.inf
        else:
            r = p[i] / q[i]
            out[i] = 1.0 - r * r


class JS:
    """Jensen-Shannon divergence in nats, (KL(p||m) + KL(q||m)) / 2 with m = (p + q) / 2;
    symmetric, in [0, log 2] (log 2 for disjoint supports). Gradient 1/2 log(2q / (p + q)):
    1/2 log 2 where p = 0, -inf where q = 0 < p."""

    name = "js"
    out_methods = ("grad",)

    def value(self, p, q):
        return _js(p, q)

    def grad(self, p, q, out=None):
        return filled(_js_grad, p, q, out=out)


class KL:
    """Forward Kullback-Leibler divergence KL(p || q) = sum p log(p / q) in nats (p = data,
    mass-covering): inf where q = 0 < p. Gradient -p / q: 0 where p = 0, -inf where q = 0 < p."""

    name = "kl"
    out_methods = ("grad",)

    def value(self, p, q):
        return _kl(p, q)

    def grad(self, p, q, out=None):
        return filled(_kl_grad, p, q, out=out)


class ReverseKL:
    """Reverse Kullback-Leibler divergence KL(q || p) = sum q log(q / p) in nats (mode-seeking):
    inf where p = 0 < q. Gradient log(q / p) + 1: +inf where p = 0 (whatever q), -inf where
    q = 0 < p."""

    name = "reverse_kl"
    out_methods = ("grad",)

    def value(self, p, q):
        return _kl(q, p)

    def grad(self, p, q, out=None):
        return filled(_reverse_kl_grad, p, q, out=out)


class TV:
    """Total variation distance 1/2 sum |p - q|, in [0, 1]. Subgradient 1/2 sign(q - p) with
    sign(0) = 0, so 0 where p = q."""

    name = "tv"
    out_methods = ("grad",)

    def value(self, p, q):
        return _tv(p, q)

    def grad(self, p, q, out=None):
        return filled(_tv_grad, p, q, out=out)


class Hellinger:
    """Squared Hellinger distance 1/2 sum (sqrt p - sqrt q)^2 = 1 - sum sqrt(p q), in [0, 1]
    (1 for disjoint supports); its square root is the Hellinger metric. Gradient
    (1 - sqrt(p / q)) / 2: 1/2 where p = 0, -inf where q = 0 < p."""

    name = "hellinger"
    out_methods = ("grad",)

    def value(self, p, q):
        return _hellinger(p, q)

    def grad(self, p, q, out=None):
        return filled(_hellinger_grad, p, q, out=out)


class Chi2:
    """Pearson chi-squared divergence chi2(p || q) = sum (p - q)^2 / q (generated masses in the
    denominator, as scipy.stats.chisquare's expected frequencies): inf where q = 0 < p.
    Gradient 1 - (p / q)^2: 1 where p = 0, -inf where q = 0 < p."""

    name = "chi2"
    out_methods = ("grad",)

    def value(self, p, q):
        return _chi2(p, q)

    def grad(self, p, q, out=None):
        return filled(_chi2_grad, p, q, out=out)


@gamesim.hookimpl
def gamesim_register_distances(register):
    for cls in (JS, KL, ReverseKL, TV, Hellinger, Chi2):
        register(cls)
