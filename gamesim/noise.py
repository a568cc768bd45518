"""Instance noise (Sonderby et al. 2016; Arjovsky and Bottou 2017): cell masses convolved with
N(0, sigma^2) on the grid, the linear map K through which the discriminator sees p_d and p_g
(``[game] instance_noise``; docs/design.md, "One iteration"), and its adjoint K^T.

A cell's mass, at its centre, is spread over the cells by the Gaussian's exact cell
integrals. On a uniform grid they depend only on the offset k between the cells:
w_k = P((k - 1/2) h < Z < (k + 1/2) h) for Z ~ N(0, sigma^2), from the tails
t_m = P(Z > (m + 1/2) h) (erfc, accurate far out), so that w_0 = 1 - 2 t_0 and
w_{+-k} = t_{k-1} - t_k. The band stops at the first offset whose tail is below ``TAIL``
(about 8.6 sigma / h cells), or at the grid's width. Applying K costs O(N * band): about
0.25 ns per cell and offset (N = 10^6 cells and sigma = 40 h: 0.2 s).

Mass spread beyond the grid is put in the edge cells, as a generator's mass beyond the grid is
(docs/design.md, "Model"): the edge cells stand for the half-lines beyond them. So K maps
distributions to distributions (each column sums to 1, up to rounding and a lost tail below
``TAIL``) and every objective's closed forms hold for what D sees (the oracle's value
-log 4 + 2 JS, the equilibrium value at p_g = p_d). Losing that mass would hand D masses
summing to less than 1, for which those identities fail; renormalizing K p by its sum would
make the map nonlinear and rescale the masses D sees everywhere, a different game.
"""

import math

import numpy as np
from numba import njit

from .vecmath import filled

TAIL = 1e-17  # a tail mass below a tenth of the rounding of a total 1 is dropped from the band


@njit(cache=True)
def _tails(r, out):
    """t_m = P(Z > (m + 1/2) h) = erfc((m + 1/2) r) / 2 with r = h / (sigma sqrt 2)."""
    for m in range(out.size):
        out[m] = 0.5 * math.erfc((m + 0.5) * r)


@njit(cache=True)
def _band(a, w, out):
    """out_i = sum_j a_j w[B + i - j] over |i - j| <= B (w: the 2B + 1 weights of offsets -B..B).

    Scattered from each nonzero a_j, so a point mass costs O(B) and a full vector O(N B); the
    band is symmetric, so this is both K's and K^T's Toeplitz part. The inner loop runs over
    two slices, which LLVM vectorizes (4 to 8 times faster than indexing ``w`` by i - j).
    """
    n, b = a.size, (w.size - 1) // 2
    out[:] = 0.0
    for j in range(n):
        m = a[j]
        if m == 0.0:
            continue
        lo, hi = max(0, j - b), min(n - 1, j + b)
        target, weights = out[lo:hi + 1], w[b + lo - j:b + hi - j + 1]
        for k in range(target.size):
            target[k] += m * weights[k]


@njit(cache=True)
def _forward(a, w, t, out):
    """K a: the band, then each cell's tail beyond an edge (offset > its distance) added to
    that edge cell."""
    _band(a, w, out)
    n, left, right = a.size, 0.0, 0.0
    for m in range(min(t.size, n)):
        left += a[m] * t[m]
        right += a[n - 1 - m] * t[m]
    out[0] += left
    out[n - 1] += right


@njit(cache=True)
def _adjoint(b, w, t, out):
    """K^T b: the band, and each cell near an edge reads the edge cell by its tail there."""
    _band(b, w, out)
    n = b.size
    for m in range(min(t.size, n)):
        out[m] += t[m] * b[0]
        out[n - 1 - m] += t[m] * b[n - 1]


class Convolution:
    """K for noise of standard deviation ``sigma`` on ``grid`` (docs/design.md, "One
    iteration"): ``apply(p)`` = K p, ``adjoint(g)`` = K^T g, each a new array in
    O(nonzeros * band) and O(N * band); sigma = 0 (an annealed run's end) is the identity,
    which returns its argument itself."""

    def __init__(self, grid, sigma):
        self.sigma, self.identity = sigma, sigma == 0.0
        if self.identity:
            return
        n = grid.points
        r = grid.h / (sigma * math.sqrt(2.0))
        # erfc(x) / 2 < TAIL from x = 6.1 on: no more offsets than that, nor than the grid has
        t = np.empty(min(n, math.ceil(6.1 / r) + 1))
        _tails(r, t)
        below = np.flatnonzero(t < TAIL)
        self.tails = t[:below[0] + 1] if below.size else t
        half = np.empty(self.tails.size)
        half[0] = math.erf(0.5 * r)  # 1 - 2 t_0, without the cancellation
        half[1:] = self.tails[:-1] - self.tails[1:]
        self.weights = np.concatenate([half[:0:-1], half])

    def apply(self, p):
        """K p: what D sees of masses ``p``."""
        if self.identity:
            return p
        return filled(_forward, p, self.weights, self.tails)

    def adjoint(self, g):
        """K^T g: a gradient in what D sees pulled back to the masses (dL/dp = K^T dL/d(K p))."""
        if self.identity:
            return g
        return filled(_adjoint, g, self.weights, self.tails)
