"""Optimizers step a flat float64 parameter vector in place, given its gradient."""

import math

import numpy as np
from numba import njit

import gamesim


@njit(cache=True)
def _sgd_step(theta, grad, lr):
    for i in range(theta.size):
        theta[i] -= lr * grad[i]
    return theta


@njit(cache=True)
def _mirror_step(logits, grad, lr):
    """Exponentiated gradient on softmax logits: p <- p exp(-lr grad), renormalized.

    Logits of -inf (zero mass) stay -inf: a multiplicative update cannot create mass. The
    largest logit is shifted to 0 so the logits never drift.
    """
    m = -math.inf
    for i in range(logits.size):
        if logits[i] != -math.inf:
            logits[i] -= lr * grad[i]
            if logits[i] > m:
                m = logits[i]
    if math.isfinite(m):
        for i in range(logits.size):
            logits[i] -= m
    return logits


class SGD:
    """Plain gradient descent: theta <- theta - lr * grad."""

    name = "sgd"
    lr: float = gamesim.param(0.01, gt=0, help="learning rate")

    def init_state(self, theta):
        return None

    def step(self, theta, grad, state):
        return _sgd_step(theta, grad, self.lr)


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
        return _mirror_step(theta, grad, self.lr)


@gamesim.hookimpl
def gamesim_register_optimizers(register):
    register(SGD)
    register(Mirror)
