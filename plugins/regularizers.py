"""Regularizers of a parametrized discriminator, ``[discriminator] regularizer = {...}``.

A regularizer defines ``penalty(disc, psi, p_d, p_g) -> (value, grad_psi)``, a term D adds
to the loss it descends (-V_D + penalty), or ``project(psi) -> psi``, applied after each of
D's steps, or both. Penalties on du/dx need the discriminator's ``dudx`` and ``dudx_vjp``
(``needs_dudx = True``). The recorded ``value`` stays V_D, without the penalty.
"""

import numpy as np
from numba import njit

import gamesim
from gamesim.vecmath import filled


@njit(cache=True)
def _interpolates(p_d, p_g, out):
    """Cell masses of x_hat = eps x + (1 - eps) y, x ~ p_d, y ~ p_g independent, eps ~ U(0, 1),
    with x and y at cell centres: each pair (i, j) spreads p_d,i p_g,j uniformly between
    centres i and j (half cells at both ends). O(N^2) pairs, each O(1) by a difference array."""
    n = p_d.size
    ramp = np.zeros(n + 1)
    out[:] = 0.0
    for i in range(n):
        if p_d[i] == 0.0:
            continue
        for j in range(n):
            w = p_d[i] * p_g[j]
            if w == 0.0:
                continue
            if i == j:
                out[i] += w
                continue
            lo, hi = min(i, j), max(i, j)
            per_cell = w / (hi - lo)
            out[lo] += 0.5 * per_cell
            out[hi] += 0.5 * per_cell
            ramp[lo + 1] += per_cell
            ramp[hi] -= per_cell
    running = 0.0
    for k in range(n):
        running += ramp[k]
        out[k] += running


@njit(cache=True)
def _squared_slope(gamma, p, slope, out):
    """out = gamma p slope, d/dslope of the penalty; returns sum p slope^2 over the cells
    with p > 0 (one pass: the value costs nothing beside the gradient)."""
    total = 0.0
    for i in range(p.size):
        out[i] = gamma * p[i] * slope[i]
        if p[i] != 0.0:
            total += p[i] * (slope[i] * slope[i])
    return total


class _SquaredSlope:
    """(gamma / 2) sum_i p_i (du/dx)_i^2 under the weights p this class picks."""

    needs_dudx = True
    gamma: float = gamesim.param(1.0, ge=0, help="penalty weight gamma")

    def penalty(self, disc, psi, p_d, p_g):
        p = self.weights(p_d, p_g)
        g = np.empty(p.size)
        total = _squared_slope(self.gamma, p, disc.dudx(psi), g)
        return 0.5 * self.gamma * total, disc.dudx_vjp(psi, g)


class R1(_SquaredSlope):
    """R1 (Mescheder, Geiger, Nowozin 2018): (gamma / 2) E_{p_d} |du/dx|^2 on the raw output
    (the logit); makes the Dirac-GAN's simultaneous gradient play converge."""

    name = "r1"

    def weights(self, p_d, p_g):
        return p_d


class R2(_SquaredSlope):
    """R2 (Mescheder, Geiger, Nowozin 2018): (gamma / 2) E_{p_g} |du/dx|^2 on the raw output."""

    name = "r2"

    def weights(self, p_d, p_g):
        return p_g


class GradientPenalty:
    """WGAN-GP (Gulrajani et al. 2017): gamma E_{x_hat} (|du/dx| - 1)^2 (their lambda).

    x_hat = eps x + (1 - eps) y with x ~ p_d and y ~ p_g drawn independently and
    eps ~ U(0, 1); its distribution is computed exactly on the grid (x and y at cell centres,
    each pair's segment spread uniformly over the cells between them). O(N^2) per new p_g.
    """

    name = "gradient_penalty"
    needs_dudx = True
    gamma: float = gamesim.param(10.0, ge=0, help="penalty weight (lambda of WGAN-GP); "
                                                  "interpolates eps x + (1 - eps) y, x ~ p_d and "
                                                  "y ~ p_g independent, eps ~ U(0, 1), exact on "
                                                  "the grid")

    def __init__(self):
        # (p_d, p_g, interpolates): D's k steps share one p_g. p_d is part of the key: with
        # instance noise D sees K p_d, which an annealed sigma changes while p_g may stay put
        self._cached = (None, None, None)

    def interpolates(self, p_d, p_g):
        cached_p_d, cached_p_g, q = self._cached
        if q is None or not (np.array_equal(cached_p_g, p_g) and np.array_equal(cached_p_d, p_d)):
            q = filled(_interpolates, p_d, p_g)
            self._cached = (p_d.copy(), p_g.copy(), q)
        return q

    def penalty(self, disc, psi, p_d, p_g):
        q = self.interpolates(p_d, p_g)
        slope = disc.dudx(psi)
        gap = np.abs(slope) - 1.0
        grad = disc.dudx_vjp(psi, 2.0 * self.gamma * q * gap * np.sign(slope))
        return self.gamma * float(q @ gap ** 2), grad

    def kink(self, disc, psi, p_d, p_g):
        """|du/dx| has a kink at du/dx = 0: where an interpolate's cell has a slope within
        1e-6 of 0 (relative to the largest), the penalty has no Jacobian."""
        slope = np.abs(disc.dudx(psi))[self.interpolates(p_d, p_g) > 0]
        flat = slope <= 1e-6 * max(1.0, float(slope.max(initial=0.0)))
        if flat.any():
            return (f"the gradient penalty's |du/dx| has a kink at du/dx = 0, and du/dx is 0 "
                    f"(within 1e-6) at {int(flat.sum())} of the cells it weighs")
        return None


class Clip:
    """Weight clipping (Arjovsky, Chintala, Bottou 2017): after each step of D, every
    parameter is clipped to [-c, c], a crude way to keep a critic Lipschitz."""

    name = "clip"
    c: float = gamesim.param(0.01, gt=0, help="bound c of the parameters")

    def project(self, psi):
        return np.clip(psi, -self.c, self.c, out=psi)

    def kink(self, disc, psi, p_d, p_g):
        """The clipping has no Jacobian where a parameter is at a bound +-c (one-sided)."""
        bound = np.abs(psi) >= self.c
        if bound.any():
            return (f"weight clipping holds {int(bound.sum())} parameter(s) at the bound "
                    f"+-{self.c:g}, where the projection has no Jacobian")
        return None


@gamesim.hookimpl
def gamesim_register_regularizers(register):
    for cls in (R1, R2, GradientPenalty, Clip):
        register(cls)
