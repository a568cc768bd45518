"""Optimizers step a flat float64 parameter vector in place, given its gradient.

The kernels return nothing: Numba boxes a returned array by unpickling its type, about
0.5 us a call, as long as the whole step at a few hundred parameters.

``init_state(theta)`` makes the optimizer's per-player state, ``step(theta, grad, state)``
moves theta and updates that state in place (the engine keeps the object ``init_state``
returned). The states hold arrays of theta's size and counters only, so
:func:`gamesim.optstate.flat_state` reads each as a vector of one size from the start. An
optimizer that defines ``lookahead(theta, grad, state) -> theta_half`` (a copy) is an
extrapolation method: the engine evaluates both players' gradients at the extrapolated point
and passes those to ``step`` (extragradient, Korpelevich 1976).
"""

import math

import numpy as np
from numba import njit

import gamesim
from gamesim.vecmath import max_of


@njit(cache=True)
def _sgd_step(theta, grad, lr):
    for i in range(theta.size):
        theta[i] -= lr * grad[i]


@njit(cache=True)
def _mirror_step(logits, grad, lr):
    """Exponentiated gradient on softmax logits: p <- p exp(-lr grad), renormalized.

    Logits of -inf (zero mass) stay -inf: a multiplicative update cannot create mass. The
    largest logit is shifted to 0 so the logits never drift.
    """
    for i in range(logits.size):  # a select, not a branch: the loop vectorizes
        x = logits[i]
        logits[i] = x if x == -math.inf else x - lr * grad[i]
    m = max_of(logits)
    if math.isfinite(m):
        for i in range(logits.size):
            logits[i] -= m


@njit(cache=True)
def _momentum_step(theta, grad, velocity, lr, beta):
    for i in range(theta.size):
        velocity[i] = beta * velocity[i] + grad[i]
        theta[i] -= lr * velocity[i]


@njit(cache=True)
def _adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps):
    """Kingma and Ba 2015, with bias correction; t is the step count (from 1)."""
    c1, c2 = 1.0 - beta1 ** t, 1.0 - beta2 ** t
    for i in range(theta.size):
        m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i]
        v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i]
        theta[i] -= lr * (m[i] / c1) / (math.sqrt(v[i] / c2) + eps)


@njit(cache=True)
def _optimistic_step(theta, grad, previous, lr):
    """theta <- theta - lr (2 g_t - g_{t-1}); ``previous`` becomes g_t."""
    for i in range(theta.size):
        theta[i] -= lr * (2.0 * grad[i] - previous[i])
        previous[i] = grad[i]


class SGD:
    """Plain gradient descent: theta <- theta - lr * grad."""

    name = "sgd"
    lr: float = gamesim.param(0.01, gt=0, help="learning rate")

    def init_state(self, theta):
        return None

    def step(self, theta, grad, state):
        _sgd_step(theta, grad, self.lr)
        return theta


class Mirror:
    """Exponentiated gradient (mirror descent with the entropy) for generators whose
    parameters are mass logits: p <- p exp(-lr dL/dp), renormalized. With the minimax oracle
    and lr = 1 this is exactly p <- (p + p_data) / 2."""

    name = "mirror"
    requires_logit_params = True
    lr: float = gamesim.param(1.0, gt=0, help="learning rate (step in log-mass space)")

    def init_state(self, theta):
        return None

    def step(self, theta, grad, state):
        _mirror_step(theta, grad, self.lr)
        return theta


class Momentum:
    """Heavy ball (Polyak 1964): v <- beta v + grad, theta <- theta - lr v."""

    name = "momentum"
    lr: float = gamesim.param(0.01, gt=0, help="learning rate")
    beta: float = gamesim.param(0.9, ge=0, lt=1, help="momentum coefficient")

    def init_state(self, theta):
        return np.zeros_like(theta)

    def step(self, theta, grad, state):
        _momentum_step(theta, grad, state, self.lr, self.beta)
        return theta


class Adam:
    """Adam (Kingma and Ba 2015) with bias-corrected moment estimates."""

    name = "adam"
    not_differentiable = ("Adam's step m / (sqrt(v) + eps) has no Jacobian at a fixed point, "
                          "where m = v = 0")
    lr: float = gamesim.param(0.001, gt=0, help="learning rate")
    beta1: float = gamesim.param(0.9, ge=0, lt=1, help="decay of the first moment")
    beta2: float = gamesim.param(0.999, ge=0, lt=1, help="decay of the second moment")
    eps: float = gamesim.param(1e-8, gt=0, help="added to the root second moment")

    def init_state(self, theta):
        return {"m": np.zeros_like(theta), "v": np.zeros_like(theta), "t": 0}

    def step(self, theta, grad, state):
        state["t"] += 1
        _adam_step(theta, grad, state["m"], state["v"], state["t"], self.lr, self.beta1,
                   self.beta2, self.eps)
        return theta


class Optimistic:
    """Optimistic gradient descent (Daskalakis et al. 2018): theta <- theta - lr (2 g_t -
    g_{t-1}), the first step a plain one. It damps the cycling of simultaneous play."""

    name = "optimistic"
    lr: float = gamesim.param(0.01, gt=0, help="learning rate")

    def init_state(self, theta):
        return {"previous": np.zeros_like(theta), "t": 0}

    def step(self, theta, grad, state):
        if state["t"] == 0:
            state["previous"][:] = grad  # so the first step is a plain one
        state["t"] += 1
        _optimistic_step(theta, grad, state["previous"], self.lr)
        return theta


class Extragradient:
    """Extragradient (Korpelevich 1976): a trial step theta_half = theta - lr g(theta,
    psi), then theta <- theta - lr g(theta_half, psi_half), both players' gradients taken at
    the extrapolated point (the engine computes them)."""

    name = "extragradient"
    lr: float = gamesim.param(0.01, gt=0, help="learning rate (both half steps)")

    def init_state(self, theta):
        return None

    def lookahead(self, theta, grad, state):
        return theta - self.lr * grad

    def step(self, theta, grad, state):
        _sgd_step(theta, grad, self.lr)
        return theta


@gamesim.hookimpl
def gamesim_register_optimizers(register):
    for cls in (SGD, Mirror, Momentum, Adam, Optimistic, Extragradient):
        register(cls)
