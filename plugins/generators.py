"""The ideal-capacity generator: one free logit per cell."""


import numpy as np
from numba import njit

import gamesim
from gamesim.vecmath import max_of, sum_of, vexp, vlog, wide_vectors

_NO_LOG = np.empty(0)  # log_out of _softmax when the log-masses are not wanted


@njit(cache=True, error_model="numpy")
def _softmax(theta, out, log_out):
    """Masses softmax(theta) in ``out``; cells with logit -inf get exactly 0. Unless
    ``log_out`` is empty, it gets the log-masses theta - max - log sum e^(theta - max),
    -inf where the logit is (finite where an exp underflowed: truer than log 0).

    The exp loop has no reduction in it, so LLVM vectorizes it with gamesim.vecmath's exp;
    the max and the sum run in four chains.
    """
    wide_vectors()
    m = max_of(theta)
    for i in range(theta.size):
        out[i] = vexp(theta[i] - m)
    total = sum_of(out)
    scale = 1.0 / total
    if log_out.size:
        log_total = vlog(total)
        for i in range(theta.size):
            out[i] *= scale
            log_out[i] = (theta[i] - m) - log_total
    else:
        for i in range(theta.size):
            out[i] *= scale


@njit(cache=True, error_model="numpy")
def _softmax_vjp(p, g, out):
    """d/dtheta of sum g * softmax(theta) = p (g - <p, g>), with 0 * inf = 0 where p = 0."""
    for i in range(p.size):
        out[i] = p[i] * g[i] if p[i] > 0.0 else 0.0
    mean = sum_of(out)
    for i in range(p.size):
        out[i] = p[i] * (g[i] - mean) if p[i] > 0.0 else 0.0


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

    out_methods = ("forward", "forward_log")

    # the kernels fill arrays made here (or the engine's buffers) and return nothing: Numba
    # boxes a returned array by unpickling its type, about 0.5 us a call
    def forward(self, theta, out=None):
        p = np.empty(theta.size) if out is None else out
        _softmax(theta, p, _NO_LOG)
        return p, 0.0

    def forward_log(self, theta, out=None):
        """(p, 0.0, log p): the log-masses come out of the softmax for one pass more, where
        taking the log of p would cost a logarithm a cell. ``out``: the pair (p, log p)."""
        p, log_p = (np.empty(theta.size), np.empty(theta.size)) if out is None else out
        _softmax(theta, p, log_p)
        return p, 0.0, log_p

    def vjp(self, theta, g_p):
        p, g = np.empty(theta.size), np.empty(theta.size)
        _softmax(theta, p, _NO_LOG)
        _softmax_vjp(p, g_p, g)
        return g


@gamesim.hookimpl
def gamesim_register_generators(register):
    register(Density)
