"""Discriminators: the oracle (exact best response) and parametrized ones.

A parametrized discriminator gives raw outputs u(psi) on the grid's cell centres (logits
for probability objectives, critic values otherwise), ``vjp(psi, g_u)`` (dL/dpsi from
dL/du), ``dudx(psi)`` (du/dx at the centres, for gradient penalties) and
``dudx_vjp(psi, g)`` (d/dpsi of sum g * du/dx).

For sampled training (``[game] estimator = "sampled"``) they also evaluate at arbitrary
points x (the batch's data and generated samples, off the grid): ``forward_at(psi, x) -> u``,
``vjp_at(psi, x, g_u)`` (d/dpsi of sum g_u * u(x)) and ``dudx_at(psi, x)`` (du/dx at x, which
carries the generator's gradient through D). The oracle is exact-only: its best response
needs both exact densities, which a batch does not give.
"""

import math

import numpy as np
from numba import njit

import gamesim

from . import network


# Logistic's products with its (N, K) feature matrices, K small (often 1): BLAS's per-call
# cost and its machine-dependent summation order would dominate; rows are summed in order.

@njit(cache=True)
def _features_dot(a, w, bias, out):
    """out_i = sum_k a_ik w_k (k = 0..K-1, in order), plus w_K if ``bias``."""
    n, k = a.shape
    for i in range(n):
        s = a[i, 0] * w[0]
        for j in range(1, k):
            s += a[i, j] * w[j]
        out[i] = s + w[k] if bias else s


@njit(cache=True)
def _features_vjp(a, g, bias, out):
    """out_k = sum_i a_ik g_i (i in order; zero g_i, most cells in a game of small supports,
    skipped: they add nothing), and out_K = sum_i g_i if ``bias``."""
    n, k = a.shape
    out[:] = 0.0
    for i in range(n):
        if g[i] != 0.0:
            for j in range(k):
                out[j] += a[i, j] * g[i]
            if bias:
                out[k] += g[i]


class Oracle:
    """Plays the objective's exact best response to the current p_g every iteration
    (for minimax, D* = p_d / (p_d + p_g): Goodfellow et al. 2014, Proposition 1)."""

    name = "oracle"
    oracle = True


class _Standardized:
    """Mixin: s = (x - centre) / half-width of the grid (s in [-1, 1]) if ``standardize``."""

    def _inputs(self, grid):
        self.lower, self.upper = grid.lower, grid.upper
        if self.standardize:
            self.scale = 0.5 * (grid.upper - grid.lower)
        else:
            self.scale = 1.0
        return self._standardized(grid.x)

    def _standardized(self, x):
        """s at points x (after ``_inputs`` has seen the grid)."""
        if self.standardize:
            return (x - 0.5 * (self.lower + self.upper)) / self.scale
        return np.asarray(x, np.float64)


class Logistic(_Standardized):
    """Linear in fixed features: u = sum_k w_k phi_k(x) (+ b). psi = (w_1..w_K[, b]).

    ``polynomial``: phi_k = s^k, k = 1..degree (s = x, or standardized x). ``rbf``:
    ``centres`` Gaussian bumps exp(-(x - c_k)^2 / (2 width^2)), centres evenly spread over the
    grid, width by default their spacing. ``fourier``: sin and cos of 2 pi k (x - lower) /
    (upper - lower), k = 1..frequencies. With degree 2 it represents the log ratio of two
    Gaussians exactly (D* between them); with degree 1, no bias and no standardizing it is
    the Dirac-GAN's u = psi x (Mescheder, Geiger, Nowozin 2018).
    """

    name = "logistic"
    features: str = gamesim.param("polynomial", choices=("polynomial", "rbf", "fourier"),
                                  help="feature family")
    degree: int = gamesim.param(2, ge=1, help="polynomial degree (features = 'polynomial')")
    centres: int = gamesim.param(16, ge=1, help="number of RBF centres (features = 'rbf')")
    width: float = gamesim.param(None, gt=0, help="RBF width; default the centres' spacing")
    frequencies: int = gamesim.param(8, ge=1, help="Fourier frequencies (features = 'fourier')")
    bias: bool = gamesim.param(True, help="add a bias b")
    standardize: bool = gamesim.param(True, help="polynomials of (x - centre) / half-width "
                                                 "of the grid instead of x")
    init: list[float] = gamesim.param(None, help="initial psi (weights, then bias); "
                                                 "default zeros")

    def validate(self):
        k = {"polynomial": self.degree, "rbf": self.centres,
             "fourier": 2 * self.frequencies}[self.features]
        self.size = k + self.bias
        if self.init is not None and len(self.init) != self.size:
            raise gamesim.ParameterError("init", f"got {len(self.init)} numbers, expected "
                                                 f"{self.size} (weights, then bias)")

    def setup(self, grid):
        self._inputs(grid)
        self.phi, self.dphi = map(np.ascontiguousarray,
                                  self._features(np.asarray(grid.x, np.float64)))
        self.names = [f"w{k + 1}" for k in range(self.phi.shape[1])] + ["b"] * self.bias

    def _features(self, x):
        """(phi_k(x), d phi_k / dx), each len(x) x K, at any points x."""
        lower, upper = self.lower, self.upper
        if self.features == "polynomial":
            s = self._standardized(x)
            k = np.arange(1, self.degree + 1)
            return s[:, None] ** k, k * s[:, None] ** (k - 1) / self.scale
        if self.features == "rbf":
            c = np.linspace(lower, upper, self.centres + 2)[1:-1]
            width = self.width or (c[1] - c[0] if c.size > 1 else upper - lower)
            r = (x[:, None] - c) / width
            phi = np.exp(-0.5 * r * r)
            return phi, -r / width * phi
        angle = 2 * math.pi * np.outer((x - lower) / (upper - lower),
                                       np.arange(1, self.frequencies + 1))
        freq = 2 * math.pi * np.arange(1, self.frequencies + 1) / (upper - lower)
        return (np.hstack([np.sin(angle), np.cos(angle)]),
                np.hstack([freq * np.cos(angle), -freq * np.sin(angle)]))

    def init_params(self, rng):
        return np.zeros(self.size) if self.init is None else np.array(self.init, np.float64)

    def param_values(self, psi):
        return dict(zip(self.names, psi.tolist()))

    # the kernels fill arrays made here: Numba boxes a returned array, about 0.5 us a call
    def forward(self, psi):
        u = np.empty(self.phi.shape[0])
        _features_dot(self.phi, psi, self.bias, u)
        return u

    def vjp(self, psi, g_u):
        g = np.empty(self.size)
        _features_vjp(self.phi, g_u, self.bias, g)
        return g

    def dudx(self, psi):
        slope = np.empty(self.dphi.shape[0])
        _features_dot(self.dphi, psi, False, slope)
        return slope

    def dudx_vjp(self, psi, g):
        g_psi = np.empty(self.size)
        _features_vjp(self.dphi, g, False, g_psi)  # 0 for the bias: u - b has no bias
        return g_psi

    def forward_at(self, psi, x):
        """u at points x (sampled training)."""
        u = self._features(x)[0] @ psi[:self.phi.shape[1]]
        return u + psi[-1] if self.bias else u

    def vjp_at(self, psi, x, g_u):
        """d/dpsi of sum g_u * u(x)."""
        g = self._features(x)[0].T @ g_u
        return np.append(g, g_u.sum()) if self.bias else g

    def dudx_at(self, psi, x):
        """du/dx at points x."""
        return self._features(x)[1] @ psi[:self.phi.shape[1]]


class MLP(_Standardized):
    """One hidden layer on s: u = c + sum_j a_j act(w_j s + b_j), psi = (w, b, a, c);
    s = x or standardized x. Weights start N(0, 1) (w, b) and N(0, init_scale^2 / H) (a)."""

    name = "mlp"
    hidden: int = gamesim.param(16, ge=1, help="hidden units H")
    activation: str = gamesim.param("tanh", choices=tuple(network.ACTIVATIONS),
                                    help="hidden activation")
    standardize: bool = gamesim.param(True, help="input (x - centre) / half-width of the grid")
    init_scale: float = gamesim.param(1.0, gt=0, help="scale of the initial output weights")

    def setup(self, grid):
        self.s = self._inputs(grid)

    def init_params(self, rng):
        return network.init(rng, self.hidden, self.init_scale)

    def forward(self, psi):
        return network.forward(self.s, psi, self.hidden, self.activation)

    def vjp(self, psi, g_u):
        return network.vjp(self.s, psi, self.hidden, self.activation, g_u)

    def dudx(self, psi):
        return network.dyds(self.s, psi, self.hidden, self.activation) / self.scale

    def dudx_vjp(self, psi, g):
        return network.dyds_vjp(self.s, psi, self.hidden, self.activation, g) / self.scale

    def forward_at(self, psi, x):
        """u at points x (sampled training)."""
        return network.forward(self._standardized(x), psi, self.hidden, self.activation)

    def vjp_at(self, psi, x, g_u):
        """d/dpsi of sum g_u * u(x)."""
        return network.vjp(self._standardized(x), psi, self.hidden, self.activation, g_u)

    def dudx_at(self, psi, x):
        """du/dx at points x."""
        return network.dyds(self._standardized(x), psi, self.hidden, self.activation) / self.scale


@gamesim.hookimpl
def gamesim_register_discriminators(register):
    for cls in (Oracle, Logistic, MLP):
        register(cls)
