"""The ideal-capacity generator: one free logit per cell."""

import math

import numpy as np
from numba import njit

import gamesim
from gamesim.fastmath import exp1


@njit(cache=True, error_model="numpy")
def _softmax(theta, out):
    """Masses softmax(theta); cells with logit -inf get exactly 0.

    The exp loop has no reduction in it, so LLVM vectorizes it with gamesim.fastmath's exp.
    """
    m = -math.inf
    for i in range(theta.size):
        m = max(m, theta[i])
    for i in range(theta.size):
        out[i] = exp1(theta[i] - m)
    total = 0.0
    for i in range(theta.size):
        total += out[i]
    scale = 1.0 / total
    for i in range(theta.size):
        out[i] *= scale
    return out


@njit(cache=True)
def _softmax_vjp(p, g, out):
    """d/dtheta of sum g * softmax(theta) = p (g - <p, g>), with 0 * inf = 0 where p = 0."""
    mean = 0.0
    for i in range(p.size):
        if p[i] > 0.0:
            mean += p[i] * g[i]
    for i in range(p.size):
        out[i] = p[i] * (g[i] - mean) if p[i] > 0.0 else 0.0
    return out


class Density:
    """Free density: masses softmax(theta), one logit per cell (ideal capacity).

    Its natural step is the ``mirror`` optimizer (exponentiated gradient on the masses);
    plain ``sgd`` on the logits moves each cell in proportion to its mass and stalls in the
    tails. A cell whose mass is exactly 0 stays 0 under both: multiplicative updates cannot
    create mass, so start from a density with full support.
    """

    name = "density"
    logit_params = True
    default_optimizer = {"kind": "mirror", "lr": 1.0}
    init: dict = gamesim.param(None, plugin="target",
                               help="initial density as a target table; default uniform over the grid")

    def setup(self, grid):
        self.grid = grid

    def init_params(self, rng):
        if self.init is None:
            return np.zeros(self.grid.points)
        p0, _ = self.init.masses(self.grid)
        with np.errstate(divide="ignore"):
            return np.log(p0)

    def forward(self, theta):
        return _softmax(theta, np.empty_like(theta)), 0.0

    def vjp(self, theta, g_p):
        p = _softmax(theta, np.empty_like(theta))
        return _softmax_vjp(p, g_p, np.empty_like(theta))


@gamesim.hookimpl
def gamesim_register_generators(register):
    register(Density)
