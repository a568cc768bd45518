"""Distances between the data masses p and the generated masses q on the grid.

``value(p, q)`` and ``grad(p, q)`` (the gradient with respect to q). They serve as recorded
metrics in every mode and as the generator's loss in direct mode. Infinite divergences are
inf, never NaN; conventions where a distance is not differentiable are stated per class.
"""

import math

import numpy as np
from numba import njit

import gamesim


@njit(cache=True)
def _js(p, q):
    total = 0.0
    for i in range(p.size):
        m = 0.5 * (p[i] + q[i])
        if p[i] > 0.0:
            total += 0.5 * p[i] * math.log(p[i] / m)
        if q[i] > 0.0:
            total += 0.5 * q[i] * math.log(q[i] / m)
    return max(total, 0.0)


@njit(cache=True)
def _js_grad(p, q, out):
    for i in range(p.size):
        if q[i] > 0.0:
            out[i] = 0.5 * math.log(2.0 * q[i] / (p[i] + q[i]))
        else:
            out[i] = -math.inf if p[i] > 0.0 else 0.0
    return out


@njit(cache=True)
def _kl(p, q):
    total = 0.0
    for i in range(p.size):
        if p[i] > 0.0:
            if q[i] == 0.0:
                return math.inf
            total += p[i] * math.log(p[i] / q[i])
    return max(total, 0.0)


@njit(cache=True)
def _kl_grad(p, q, out):
    for i in range(p.size):
        if p[i] > 0.0:
            out[i] = -p[i] / q[i] if q[i] > 0.0 else -math.inf
        else:
            out[i] = 0.0
    return out


@njit(cache=True)
def _w1(p, q, h):
    total, cdf_gap = 0.0, 0.0
    for i in range(p.size):
        cdf_gap += p[i] - q[i]
        total += abs(cdf_gap)
    return h * total


@njit(cache=True)
def _w1_grad(p, q, h, out):
    """d/dq_j of h sum_i |F_p,i - F_q,i| = h sum_{i >= j} sign(F_q,i - F_p,i), sign(0) = 0."""
    cdf_gap = 0.0
    signs = np.empty(p.size)
    for i in range(p.size):
        cdf_gap += q[i] - p[i]
        signs[i] = 0.0 if cdf_gap == 0.0 else math.copysign(1.0, cdf_gap)
    tail = 0.0
    for j in range(p.size - 1, -1, -1):
        tail += signs[j]
        out[j] = h * tail
    return out


class JS:
    """Jensen-Shannon divergence in nats, (KL(p||m) + KL(q||m)) / 2 with m = (p + q) / 2;
    symmetric, at most log 2. Gradient 1/2 log(2q / (p + q)): -inf where q = 0 < p, 0 where
    both are 0."""

    name = "js"

    def value(self, p, q):
        return _js(p, q)

    def grad(self, p, q):
        return _js_grad(p, q, np.empty_like(q))


class KL:
    """Forward Kullback-Leibler divergence KL(p || q) = sum p log(p / q) in nats (p = data):
    inf where q = 0 < p. Gradient -p / q: -inf where q = 0 < p, 0 where p = 0."""

    name = "kl"

    def value(self, p, q):
        return _kl(p, q)

    def grad(self, p, q):
        return _kl_grad(p, q, np.empty_like(q))


class TV:
    """Total variation distance 1/2 sum |p - q|, in [0, 1]. Subgradient 1/2 sign(q - p),
    0 where p = q."""

    name = "tv"

    def value(self, p, q):
        return 0.5 * float(np.abs(p - q).sum())

    def grad(self, p, q):
        return 0.5 * np.sign(q - p)


class W1:
    """Wasserstein-1 distance h sum |F_p - F_q| (cumulative masses at the cell edges), in
    the grid's units. Subgradient h sum_{i >= j} sign(F_q,i - F_p,i), with sign(0) = 0."""

    name = "w1"

    def setup(self, grid):
        self.h = grid.h

    def value(self, p, q):
        return _w1(p, q, self.h)

    def grad(self, p, q):
        return _w1_grad(p, q, self.h, np.empty_like(q))


@gamesim.hookimpl
def gamesim_register_distances(register):
    for cls in (JS, KL, TV, W1):
        register(cls)
