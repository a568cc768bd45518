"""Objectives of the minimax game: minimax and nonsaturating (Goodfellow et al. 2014).

Expectations are sums over cells. Cells where a weight (p_d or p_g) is 0 contribute nothing:
0 log 0 = 0 and 0 * (-inf) = 0, so disjoint supports give no NaN.
"""

import math

import numpy as np
from numba import njit

import gamesim


@njit(cache=True)
def _softplus(t):
    """log(1 + e^t), exact for every t including +-inf."""
    if t > 0:
        return t + math.log1p(math.exp(-t))
    return math.log1p(math.exp(t))


@njit(cache=True)
def _sigmoid(t):
    if t >= 0:
        return 1.0 / (1.0 + math.exp(-t))
    e = math.exp(t)
    return e / (1.0 + e)


@njit(cache=True)
def _log_ratio_oracle(p_d, p_g, out):
    """u* = log p_d - log p_g; 0 (D = 1/2) where both masses are 0."""
    for i in range(p_d.size):
        if p_d[i] == 0.0 and p_g[i] == 0.0:
            out[i] = 0.0
        elif p_g[i] == 0.0:
            out[i] = math.inf
        elif p_d[i] == 0.0:
            out[i] = -math.inf
        else:
            out[i] = math.log(p_d[i]) - math.log(p_g[i])
    return out


@njit(cache=True)
def _logistic_value(p_d, p_g, u):
    """sum p_d log sigma(u) + sum p_g log(1 - sigma(u)), with 0 * (-inf) = 0."""
    total = 0.0
    for i in range(u.size):
        if p_d[i] > 0.0:
            total -= p_d[i] * _softplus(-u[i])
        if p_g[i] > 0.0:
            total -= p_g[i] * _softplus(u[i])
    return total


@njit(cache=True)
def _logistic_discriminator_grad(p_d, p_g, u, out):
    """d(-V)/du = p_g sigma(u) - p_d sigma(-u)."""
    for i in range(u.size):
        out[i] = p_g[i] * _sigmoid(u[i]) - p_d[i] * _sigmoid(-u[i])
    return out


@njit(cache=True)
def _minimax_generator_grad(u, out):
    """d/dp_g of sum p_g log(1 - sigma(u)) = -softplus(u)."""
    for i in range(u.size):
        out[i] = -_softplus(u[i])
    return out


@njit(cache=True)
def _nonsaturating_generator_grad(u, out):
    """d/dp_g of -sum p_g log sigma(u) = softplus(-u)."""
    for i in range(u.size):
        out[i] = _softplus(-u[i])
    return out


class Minimax:
    """Goodfellow et al. 2014: D maximizes sum p_d log D + sum p_g log(1 - D); G minimizes
    sum p_g log(1 - D). D = sigma(u); the oracle is u* = log p_d - log p_g, where the value
    is -log 4 + 2 JS(p_d || p_g)."""

    name = "minimax"
    output = "logit"
    equilibrium = -math.log(4.0)

    def oracle(self, p_d, p_g):
        return _log_ratio_oracle(p_d, p_g, np.empty_like(p_d))

    def value(self, p_d, p_g, u):
        return _logistic_value(p_d, p_g, u)

    def discriminator_grad(self, p_d, p_g, u):
        return _logistic_discriminator_grad(p_d, p_g, u, np.empty_like(u))

    def generator_grad(self, p_d, p_g, u):
        return _minimax_generator_grad(u, np.empty_like(u))


class Nonsaturating(Minimax):
    """As minimax for D; G minimizes -sum p_g log D instead (Goodfellow et al. 2014, sec. 3),
    which keeps G's gradient large while D rejects its samples."""

    name = "nonsaturating"

    def generator_grad(self, p_d, p_g, u):
        return _nonsaturating_generator_grad(u, np.empty_like(u))


@gamesim.hookimpl
def gamesim_register_objectives(register):
    register(Minimax)
    register(Nonsaturating)
