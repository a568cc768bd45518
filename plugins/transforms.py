"""Transform generators x = G_theta(z), z ~ U(0, 1): the chapter's transformation method.

``location_scale`` deposits the exact cell integrals of N(mu, sigma^2). ``quantile``, ``mlp``
and ``point`` are node generators: G is evaluated at nodes z_j = j / (M - 1) and linearly
interpolated, so each of the M - 1 segments carries mass 1 / (M - 1) spread uniformly over
[G(z_j), G(z_{j+1})] and deposited by exact cell integrals (docs/design.md, "Model"). A segment
shorter than a cell h is widened to width h about its midpoint, which is exactly the
cloud-in-cell deposit of that midpoint: a point mass moves continuously and has a gradient.
Mass beyond the grid goes to the edge cells and is reported as ``mass_outside``.

Sampled training (``[game] estimator = "sampled"``) uses two more methods of every generator
here: ``sample(theta, z) -> x``, G_theta at noise points z in (0, 1) (continuous, off the
grid), and ``sample_vjp(theta, z, g_x) -> g_theta``, d/dtheta of sum g_x * G_theta(z).
``location_scale`` and ``mlp`` evaluate their formula at z; ``quantile`` and ``point`` are
piecewise linear through their nodes by definition, so their samples follow the very
distribution whose cell integrals ``forward`` deposits.
"""

import math
from statistics import NormalDist

import numpy as np
from numba import njit

import gamesim
from gamesim.vecmath import filled

from . import network

INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def _normal_cells(mu, sigma, lower, h, out):
    """Exact cell masses of N(mu, sigma^2), the tails beyond the grid in the edge cells.

    Differences of the CDF left of the mean and of the survival function right of it, so no
    representable tail mass rounds to 0. Returns the mass beyond the grid.
    """
    n = out.size
    prev_cdf, prev_sf = 0.0, 1.0  # at the edge -inf: the left edge cell takes the tail
    for k in range(n):
        if k == n - 1:
            cdf, sf = 1.0, 0.0
        else:
            z = (lower + (k + 1) * h - mu) / sigma
            cdf, sf = 0.5 * math.erfc(-z * INV_SQRT2), 0.5 * math.erfc(z * INV_SQRT2)
        out[k] = max(prev_sf - sf if prev_cdf >= 0.5 else cdf - prev_cdf, 0.0)
        prev_cdf, prev_sf = cdf, sf
    z_lo, z_hi = (lower - mu) / sigma, (lower + n * h - mu) / sigma
    return 0.5 * math.erfc(-z_lo * INV_SQRT2) + 0.5 * math.erfc(z_hi * INV_SQRT2)


@njit(cache=True)
def _normal_cells_vjp(mu, sigma, lower, h, g):
    """(dL/dmu, dL/dsigma) of L = sum g_k p_k: with p_k = Phi(z_{k+1}) - Phi(z_k) over the
    interior edges, dL/dmu = -sum_j phi(z_j)(g_{j-1} - g_j) / sigma, and dL/dsigma the same
    with an extra factor z_j."""
    d_mu, d_sigma = 0.0, 0.0
    for j in range(1, g.size):
        z = (lower + j * h - mu) / sigma
        w = INV_SQRT2PI * math.exp(-0.5 * z * z) * (g[j - 1] - g[j]) / sigma
        d_mu -= w
        d_sigma -= w * z
    return d_mu, d_sigma


# Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9),
# polished by one Halley step on erfc below.
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
      3.754408661907416e+00)
_SQRT2PI = math.sqrt(2.0 * math.pi)


@njit(cache=True)
def _normal_quantiles(z, out):
    """Phi^-1(z) for z in (0, 1) (-inf at 0, inf at 1), to about double precision."""
    for i in range(z.size):
        p = z[i]
        if p <= 0.0 or p >= 1.0:
            out[i] = -math.inf if p <= 0.0 else math.inf
            continue
        if p < 0.02425 or p > 0.97575:
            q = math.sqrt(-2.0 * math.log(p if p < 0.5 else 1.0 - p))
            x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
                ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
            x = x if p < 0.5 else -x
        else:
            q = p - 0.5
            r = q * q
            x = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
                (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
        # Halley step on e = Phi(x) - p, by erfc on the side of p (exact in both tails)
        e = (0.5 * math.erfc(-x * INV_SQRT2) - p) if p < 0.5 else ((1.0 - p) - 0.5 * math.erfc(x * INV_SQRT2))
        u = e * _SQRT2PI * math.exp(0.5 * x * x)
        out[i] = x - u / (1.0 + 0.5 * x * u)


@njit(cache=True)
def _interpolate_nodes(z, xs, out):
    """The piecewise-linear G through nodes xs at z_j = j / (M - 1), evaluated at z."""
    last = xs.size - 1
    for i in range(z.size):
        t = min(max(z[i], 0.0), 1.0) * last
        j = min(int(t), last - 1)
        f = t - j
        out[i] = (1.0 - f) * xs[j] + f * xs[j + 1]


@njit(cache=True)
def _interpolate_nodes_vjp(xs, z, g_x, out):
    """d/dxs of sum g_x * G(z) for :func:`_interpolate_nodes`."""
    last = xs.size - 1
    out[:] = 0.0
    for i in range(z.size):
        t = min(max(z[i], 0.0), 1.0) * last
        j = min(int(t), last - 1)
        f = t - j
        out[j] += (1.0 - f) * g_x[i]
        out[j + 1] += f * g_x[i]


@njit(cache=True)
def _span(a, b, h):
    """The deposited interval of segment (a, b): sorted, and widened to width h if shorter."""
    lo, hi = min(a, b), max(a, b)
    if hi - lo < h:
        mid = 0.5 * (lo + hi)
        return mid - 0.5 * h, mid + 0.5 * h
    return lo, hi


@njit(cache=True)
def _cell(x, lower, h, n):
    return min(max(int(math.floor((x - lower) / h)), 0), n - 1)


@njit(cache=True)
def _deposit(xs, lower, h, out):
    """Masses of the segments between consecutive nodes xs, each 1/(M-1), uniform over its
    span, as exact cell integrals; the edge cells take what lies beyond. Returns the mass
    beyond the grid of the segments as given (a point mass counts whole)."""
    n = out.size
    upper = lower + n * h
    w = 1.0 / (xs.size - 1)
    for s in range(xs.size):
        if not math.isfinite(xs[s]):  # a diverged generator: its masses are undefined
            out[:] = math.nan
            return math.nan
    out[:] = 0.0
    outside = 0.0
    for s in range(xs.size - 1):
        a, b = _span(xs[s], xs[s + 1], h)
        ka, kb = _cell(a, lower, h, n), _cell(b, lower, h, n)
        if ka == kb:
            out[ka] += w
        else:
            dens = w / (b - a)
            # max(0, .): an end on a cell edge may round to the neighbouring cell; the last
            # cell takes the rest, so each segment deposits exactly w
            first = min(w, dens * max(0.0, lower + (ka + 1) * h - a))
            out[ka] += first
            for k in range(ka + 1, kb):
                out[k] += dens * h
            out[kb] += max(0.0, w - first - dens * h * (kb - ka - 1))
        lo, hi = min(xs[s], xs[s + 1]), max(xs[s], xs[s + 1])
        if hi > lo:
            outside += w * (max(0.0, min(hi, lower) - lo) + max(0.0, hi - max(lo, upper))) / (hi - lo)
        elif lo < lower or lo > upper:
            outside += w
    return outside


KINK = 1e-9  # an end of a span within this many cells of an edge sits on the deposit's kink


@njit(cache=True)
def _on_lower_edge(x, k, lower, h):
    """Whether x, in cell k, sits on the edge to cell k - 1 (within KINK cells: where
    rounding puts it on either side)."""
    return k > 0 and x - (lower + k * h) < KINK * h


@njit(cache=True)
def _on_upper_edge(x, k, lower, h, n):
    """Whether x, in cell k of n, sits on the edge to cell k + 1 (within KINK cells)."""
    return k < n - 1 and lower + (k + 1) * h - x < KINK * h


@njit(cache=True)
def _end_value(x, k, lower, h, g):
    """g at the span end x in cell k; on a cell edge the mean of the two cells', so the
    derivative there is the mean of the one-sided ones rather than depending on the
    rounding."""
    if _on_lower_edge(x, k, lower, h):
        return 0.5 * (g[k - 1] + g[k])
    if _on_upper_edge(x, k, lower, h, g.size):
        return 0.5 * (g[k] + g[k + 1])
    return g[k]


@njit(cache=True)
def _deposit_vjp(xs, lower, h, g, out):
    """dL/dxs of L = sum g_k p_k for :func:`_deposit`. For a span [a, b] of density
    w/(b - a): dL/da = w (gbar - g(a)) / (b - a), dL/db = w (g(b) - gbar) / (b - a), gbar the
    mean of g over the span (g(a), g(b) as :func:`_end_value` reads them); a widened span
    moves with its midpoint (half to each node)."""
    n = g.size
    w = 1.0 / (xs.size - 1)
    out[:] = 0.0
    for s in range(xs.size - 1):
        a, b = _span(xs[s], xs[s + 1], h)
        if not b > a:  # nodes so far out that a cell's width is lost in rounding
            continue
        ka, kb = _cell(a, lower, h, n), _cell(b, lower, h, n)
        if ka == kb:
            gbar = g[ka]
        else:
            gbar = g[ka] * max(0.0, lower + (ka + 1) * h - a) + \
                g[kb] * max(0.0, b - (lower + kb * h))
            for k in range(ka + 1, kb):
                gbar += g[k] * h
            gbar /= b - a
        d_a = w * (gbar - _end_value(a, ka, lower, h, g)) / (b - a)
        d_b = w * (_end_value(b, kb, lower, h, g) - gbar) / (b - a)
        lo_node, hi_node = (s, s + 1) if xs[s] <= xs[s + 1] else (s + 1, s)
        if abs(xs[s + 1] - xs[s]) < h:
            out[s] += 0.5 * (d_a + d_b)
            out[s + 1] += 0.5 * (d_a + d_b)
        else:
            out[lo_node] += d_a
            out[hi_node] += d_b


@njit(cache=True)
def _read_cells(xs, lower, h, out):
    """The cells whose g :func:`_deposit_vjp` reads (each span's cells ka..kb, and the
    neighbour of an end on an edge), in increasing order in ``out[:count]``; returns count, or -1 for non-finite
    nodes (the deposit is undefined: every cell counts). Only the cells between the first
    and the last read are marked and scanned: a point reads two of N."""
    n = out.size
    for s in range(xs.size):
        if not math.isfinite(xs[s]):
            return -1
    segments = max(xs.size - 1, 0)
    los, his = np.empty(segments, np.int64), np.empty(segments, np.int64)
    first, last = n, -1
    for s in range(segments):
        a, b = _span(xs[s], xs[s + 1], h)
        ka, kb = _cell(a, lower, h, n), _cell(b, lower, h, n)
        # and the neighbour of an end on an edge (see _end_value)
        los[s] = ka - 1 if _on_lower_edge(a, ka, lower, h) else ka
        his[s] = kb + 1 if _on_upper_edge(b, kb, lower, h, n) else kb
        if los[s] < his[s]:
            first, last = min(first, los[s]), max(last, his[s])
    if last < first:
        return 0
    read = np.zeros(last - first + 1, np.bool_)
    for s in range(segments):
        if los[s] < his[s]:
            read[los[s] - first:his[s] - first + 1] = True
    count = 0
    for k in range(read.size):
        if read[k]:
            out[count] = first + k
            count += 1
    return count


def deposit(xs, grid):
    """Masses and mass beyond the grid of the piecewise-linear transform through nodes xs
    (two equal nodes: a point mass by cloud-in-cell)."""
    out = np.empty(grid.points)
    outside = _deposit(np.asarray(xs, np.float64), grid.lower, grid.h, out)
    return out, outside


class _Nodes:
    """A node generator: subclasses give ``node_values(theta)`` and ``node_values_vjp(theta, g_x)``."""

    def setup(self, grid):
        self.grid = grid

    def forward(self, theta):
        return deposit(self.node_values(theta), self.grid)

    def vjp(self, theta, g_p):
        xs = self.node_values(theta)
        g_x = filled(_deposit_vjp, xs, self.grid.lower, self.grid.h, g_p)
        return self.node_values_vjp(theta, g_x)

    def vjp_cells(self, theta):
        """The cells whose g_p ``vjp`` reads: those the segments' spans cover; None where
        that is more than a quarter of the grid (the full gradient costs about as much)."""
        cells = np.empty(self.grid.points, np.int64)
        count = _read_cells(self.node_values(theta), self.grid.lower, self.grid.h, cells)
        return cells[:count] if 0 <= count <= cells.size // 4 else None

    def jacobian_steps(self, theta):
        """Per parameter, the change that moves its most sensitive node by one cell h: the
        deposit is cloud-in-cell, so the gradient is constant while the nodes stay within
        their cells and a smaller finite-difference step reports a false contraction."""
        xs = self.node_values(theta)
        sensitivity = np.zeros(theta.size)
        for j in range(xs.size):  # row j of dxs/dtheta
            unit = np.zeros(xs.size)
            unit[j] = 1.0
            sensitivity = np.maximum(sensitivity, np.abs(self.node_values_vjp(theta, unit)))
        return self.grid.h / np.where(sensitivity > 0, sensitivity, 1.0)

    def transform(self, theta):
        """(z, G(z)) at the nodes, for the transform plot."""
        xs = self.node_values(theta)
        return np.linspace(0.0, 1.0, xs.size), xs

    def sample(self, theta, z):
        """G_theta(z) at noise points z: the piecewise-linear G through the nodes (sampled
        training)."""
        return filled(_interpolate_nodes, z, self.node_values(theta))

    def sample_vjp(self, theta, z, g_x):
        """d/dtheta of sum g_x * G_theta(z) for :meth:`sample`."""
        xs = self.node_values(theta)
        return self.node_values_vjp(theta, filled(_interpolate_nodes_vjp, xs, z, g_x))


class LocationScale:
    """x = mu + sigma Phi^-1(z): deposits the exact cell integrals of N(mu, sigma^2), so
    p_g has full support and p_k / h is the normal density within O(h^2).
    theta = (mu, log sigma)."""

    name = "location_scale"
    mu: float = gamesim.param(0.0, help="initial mean")
    sigma: float = gamesim.param(1.0, gt=0, help="initial standard deviation")
    default_optimizer = {"kind": "adam", "lr": 0.01}

    def setup(self, grid):
        self.grid = grid
        self.z = (np.arange(256) + 0.5) / 256
        self.z_normal = np.array([NormalDist().inv_cdf(t) for t in self.z])

    def init_params(self, rng):
        return np.array([self.mu, math.log(self.sigma)])

    def forward(self, theta):
        out = np.empty(self.grid.points)
        with np.errstate(over="ignore"):
            sigma = float(np.exp(theta[1]))
        if not (math.isfinite(theta[0]) and 0.0 < sigma < math.inf):
            out[:] = math.nan  # a diverged generator: its masses are undefined
            return out, math.nan
        outside = _normal_cells(theta[0], sigma, self.grid.lower, self.grid.h, out)
        return out, outside

    def vjp(self, theta, g_p):
        sigma = math.exp(theta[1])
        d_mu, d_sigma = _normal_cells_vjp(theta[0], sigma, self.grid.lower, self.grid.h, g_p)
        return np.array([d_mu, d_sigma * sigma])

    def param_values(self, theta):
        with np.errstate(over="ignore"):
            return {"mu": float(theta[0]), "sigma": float(np.exp(theta[1]))}

    def transform(self, theta):
        with np.errstate(over="ignore"):
            return self.z, theta[0] + np.exp(theta[1]) * self.z_normal

    def sample(self, theta, z):
        """mu + sigma Phi^-1(z) at noise points z (sampled training)."""
        with np.errstate(over="ignore"):
            return theta[0] + np.exp(theta[1]) * filled(_normal_quantiles, z)

    def sample_vjp(self, theta, z, g_x):
        """(sum g_x, sum g_x sigma Phi^-1(z)): d/d(mu, log sigma) of sum g_x * x."""
        w = filled(_normal_quantiles, z)
        return np.array([g_x.sum(), math.exp(theta[1]) * float(g_x @ w)])


class Quantile(_Nodes):
    """Monotone piecewise-linear quantile function through K knots at z_k = k / (K - 1):
    the inverse-CDF transform, learned. G(z_0) = t0 and each increment G(z_k) - G(z_{k-1}) =
    exp(theta_k) > 0, so theta = (t0, log increments). Each of the K - 1 segments carries mass
    1 / (K - 1). Starts as the uniform distribution on [init_lower, init_upper]."""

    name = "quantile"
    knots: int = gamesim.param(32, ge=2, help="number of knots K")
    init_lower: float = gamesim.param(-1.0, help="initial G(0)")
    init_upper: float = gamesim.param(1.0, help="initial G(1)")
    default_optimizer = {"kind": "adam", "lr": 0.02}

    def validate(self):
        if not self.init_upper > self.init_lower:
            raise gamesim.ParameterError("init_upper", f"got {self.init_upper!r}, expected a "
                                                       f"number > init_lower ({self.init_lower!r})")

    def init_params(self, rng):
        step = (self.init_upper - self.init_lower) / (self.knots - 1)
        return np.concatenate([[self.init_lower], np.full(self.knots - 1, math.log(step))])

    def node_values(self, theta):
        with np.errstate(over="ignore"):
            return theta[0] + np.concatenate([[0.0], np.cumsum(np.exp(theta[1:]))])

    def node_values_vjp(self, theta, g_x):
        tail = np.cumsum(g_x[::-1])[::-1]  # sum_{k >= j} g_x[k]
        return np.concatenate([[tail[0]], np.exp(theta[1:]) * tail[1:]])

    def param_values(self, theta):
        xs = self.node_values(theta)
        return {"G0": float(xs[0]), "G1": float(xs[-1])}


class MLP(_Nodes):
    """One hidden layer, x = c + sum_j a_j act(w_j s + b_j) with s = 2z - 1, at M nodes.
    theta = (w, b, a, c), H entries each but c. Not necessarily monotone: a segment running
    backwards spreads its mass the same way. Weights start N(0, 1) (w, b) and
    N(0, init_scale^2 / H) (a), c = 0."""

    name = "mlp"
    hidden: int = gamesim.param(16, ge=1, help="hidden units H")
    activation: str = gamesim.param("tanh", choices=tuple(network.ACTIVATIONS), help="hidden activation")
    nodes: int = gamesim.param(257, ge=2, help="noise nodes M (M - 1 segments)")
    init_scale: float = gamesim.param(1.0, gt=0, help="scale of the initial output weights")
    default_optimizer = {"kind": "adam", "lr": 0.01}
    vjp_cells = None  # its nodes spread over much of the grid: finding them costs a forward

    def setup(self, grid):
        super().setup(grid)
        self.s = np.linspace(-1.0, 1.0, self.nodes)

    def init_params(self, rng):
        return network.init(rng, self.hidden, self.init_scale)

    def node_values(self, theta):
        return network.forward(self.s, theta, self.hidden, self.activation)

    def node_values_vjp(self, theta, g_x):
        return network.vjp(self.s, theta, self.hidden, self.activation, g_x)

    def sample(self, theta, z):
        """The network itself at s = 2z - 1 (not its interpolation through the nodes, which
        ``forward`` deposits: they differ by O(1 / M^2))."""
        return network.forward(2.0 * z - 1.0, theta, self.hidden, self.activation)

    def sample_vjp(self, theta, z, g_x):
        return network.vjp(2.0 * z - 1.0, theta, self.hidden, self.activation, g_x)


_TWICE = np.zeros(2, np.intp)  # theta[_TWICE] = (theta_0, theta_0), in one NumPy call


class Point(_Nodes):
    """A point mass at theta, deposited by cloud-in-cell: the Dirac-GAN's generator
    (Mescheder, Geiger, Nowozin 2018)."""

    name = "point"
    at: float = gamesim.param(1.0, help="initial position theta")
    default_optimizer = {"kind": "sgd", "lr": 0.1}

    def init_params(self, rng):
        return np.array([self.at])

    def node_values(self, theta):
        return theta[_TWICE]

    def node_values_vjp(self, theta, g_x):
        first, second = g_x.tolist()
        return np.array([first + second])  # the sum of the two nodes' gradients, as a vector

    def param_values(self, theta):
        return {"theta": float(theta[0])}

    transform = None  # a point has no transform worth plotting


@gamesim.hookimpl
def gamesim_register_generators(register):
    for cls in (LocationScale, Quantile, MLP, Point):
        register(cls)
