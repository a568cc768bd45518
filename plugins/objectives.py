"""Objectives of the minimax game: minimax and nonsaturating (Goodfellow et al. 2014),
least_squares (Mao et al. 2017), hinge (Lim and Ye 2017) and wasserstein (Arjovsky et al. 2017).

Each gives ``value`` (D's objective V_D), ``discriminator_grad`` = d(-V_D)/du (D descends it),
``generator_grad`` = dL_G/dp_g and ``oracle`` (D's exact best response): the protocol
:class:`gamesim.protocols.Objective` (docs/design.md, "Model", states the game).

Expectations are sums over cells. Cells where a weight (p_d or p_g) is 0 contribute nothing:
0 log 0 = 0 and 0 * (-inf) = 0, so disjoint supports give no NaN.

Each also gives ``oracle_value``: V_D against its oracle in closed form, computed from the
masses alone (neither ``oracle`` nor ``value`` is called), which a run against the oracle
compares with its recorded value at every recorded row (docs/design.md, "Numerics"). The
closed forms hold for masses of totals S_d, S_g <= 1 (the discriminator may see masses that
lost some share beyond the grid), and reduce to the familiar ones at S_d = S_g = 1.

For sampled training (``[game] estimator = "sampled"``) each also gives its integrands, so
that sample averages are unbiased estimates of the sums: with V_D = E_{p_d} a(u) + E_{p_g} b(u)
and L_G = E_{p_g} c(u), ``discriminator_terms(u_data, u_gen) -> (a, a', b, b')`` and
``generator_terms(u_gen) -> (c, c')``, elementwise at the outputs u of the batch's points,
the primes being derivatives in u.
"""

import math

import numpy as np
from numba import njit

import gamesim
from gamesim.vecmath import filled, sum_of, vlog, wide_vectors


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


_LOG_TINY = math.log(5e-324)  # the log of the smallest positive double


@njit(cache=True)
def _log_ratio_oracle(p_d, p_g, out):
    """u* = log p_d - log p_g, a zero mass counting as the smallest positive double.

    So the logit stays finite (|u| < 745; D = sigma(u) is still 0 or 1 to double precision)
    and so do the generator's gradients: an infinite one would turn a mirror or softmax step
    into NaN where a mass has underflowed. 0 (D = 1/2) where both masses are 0.
    """
    for i in range(p_d.size):
        if p_d[i] == 0.0 and p_g[i] == 0.0:
            out[i] = 0.0
        else:
            out[i] = (math.log(p_d[i]) if p_d[i] > 0.0 else _LOG_TINY) - \
                (math.log(p_g[i]) if p_g[i] > 0.0 else _LOG_TINY)


@njit(cache=True, error_model="numpy", inline="always")
def _oracle_cell(log_p_d, p_d, p_g, log_p_g, nonsaturating):
    """(u*, generator gradient) of one cell, given log p_g (-inf where p_g = 0).

    With u* = log p_d - log p_g, -softplus(u*) = log p_g - log(p_d + p_g) (minimax) and
    softplus(-u*) = log(p_d + p_g) - log p_d (non-saturating): one logarithm besides log p_g.
    ``log_p_d`` is log p_d with _LOG_TINY for a zero mass, as the oracle counts it; log 0 =
    -inf of p_g counts as the smallest double too. Branch-free (selects only), so the loops
    calling it vectorize with gamesim.vecmath's log.
    """
    log_g = max(log_p_g, _LOG_TINY)
    total = p_d + p_g
    log_sum = vlog(total)
    grad = log_sum - log_p_d if nonsaturating else log_g - log_sum
    both_zero = math.log(2.0) if nonsaturating else -math.log(2.0)
    return log_p_d - log_g, both_zero if total == 0.0 else grad  # u* = 0 where both are 0


@njit(cache=True, error_model="numpy")
def _oracle_and_generator_grad(log_p_d, p_d, p_g, u, g, nonsaturating):
    """The oracle logit and, in the same pass, the generator's gradient against it: two
    logarithms a cell instead of four."""
    wide_vectors()
    for i in range(p_d.size):
        u[i], g[i] = _oracle_cell(log_p_d[i], p_d[i], p_g[i], vlog(p_g[i]), nonsaturating)


@njit(cache=True, error_model="numpy")
def _oracle_and_generator_grad_from_log(log_p_d, p_d, p_g, log_p_g, u, g, nonsaturating):
    """As :func:`_oracle_and_generator_grad` with log p_g given: one logarithm a cell."""
    wide_vectors()
    for i in range(p_d.size):
        u[i], g[i] = _oracle_cell(log_p_d[i], p_d[i], p_g[i], log_p_g[i], nonsaturating)


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
    """d(-V)/du = p_g sigma(u) - p_d sigma(-u); exactly 0 where both weights are 0 (u is
    finite: the engine checks it), so those cells cost no exponential."""
    for i in range(u.size):
        if p_d[i] == 0.0 and p_g[i] == 0.0:
            out[i] = 0.0
        else:
            out[i] = p_g[i] * _sigmoid(u[i]) - p_d[i] * _sigmoid(-u[i])


@njit(cache=True)
def _minimax_generator_grad(u, out):
    """d/dp_g of sum p_g log(1 - sigma(u)) = -softplus(u)."""
    for i in range(u.size):
        out[i] = -_softplus(u[i])


@njit(cache=True)
def _nonsaturating_generator_grad(u, out):
    """d/dp_g of -sum p_g log sigma(u) = softplus(-u)."""
    for i in range(u.size):
        out[i] = _softplus(-u[i])


@njit(cache=True)
def _generator_grad_at(u, cells, nonsaturating, out):
    """The minimax (or non-saturating) generator gradient at ``cells``, 0 elsewhere."""
    out[:] = 0.0
    for c in cells:
        out[c] = _softplus(-u[c]) if nonsaturating else -_softplus(u[c])


@njit(cache=True)
def _log_sigmoid_terms(u, sign, value, slope):
    """value = log sigma(sign u) = -softplus(-sign u), slope = d value / du = sign sigma(-sign u)."""
    for i in range(u.size):
        t = sign * u[i]
        value[i] = -_softplus(-t)
        slope[i] = sign * _sigmoid(-t)


def _log_sigmoid(u, sign):
    value, slope = np.empty(u.size), np.empty(u.size)
    _log_sigmoid_terms(u, sign, value, slope)
    return value, slope


@njit(cache=True)
def _least_squares_oracle(p_d, p_g, out):
    """D* = p_d / (p_d + p_g); 1/2 where both masses are 0."""
    for i in range(p_d.size):
        total = p_d[i] + p_g[i]
        out[i] = p_d[i] / total if total > 0.0 else 0.5


@njit(cache=True)
def _least_squares_value(p_d, p_g, u):
    total = 0.0
    for i in range(u.size):
        total -= 0.5 * (p_d[i] * (u[i] - 1.0) ** 2 + p_g[i] * u[i] ** 2)
    return total


@njit(cache=True)
def _hinge_value(p_d, p_g, u):
    total = 0.0
    for i in range(u.size):
        total += p_d[i] * min(0.0, u[i] - 1.0) + p_g[i] * min(0.0, -u[i] - 1.0)
    return total


@njit(cache=True)
def _hinge_discriminator_grad(p_d, p_g, u, out):
    """d(-V)/du = -p_d [u < 1] + p_g [u > -1] (the subgradient 0 at the kinks)."""
    for i in range(u.size):
        out[i] = (p_g[i] if u[i] > -1.0 else 0.0) - (p_d[i] if u[i] < 1.0 else 0.0)


@njit(cache=True)
def _hinge_oracle_value(p_d, p_g):
    """sum |p_d - p_g| - (p_d + p_g) = -2 sum min(p_d, p_g)."""
    total = 0.0
    for i in range(p_d.size):
        total += abs(p_d[i] - p_g[i]) - (p_d[i] + p_g[i])
    return total


@njit(cache=True)
def _w1_oracle_value(p_d, p_g, h):
    """h sum_{i<N-1} |G_i| - G_{N-1} h sum_{i<N-1} sign(G_i) (i + 1) / N, G_i = F_g,i - F_d,i
    accumulated in the order the oracle accumulates it (so the signs are the oracle's)."""
    n = p_d.size
    gap, w1, tilt = 0.0, 0.0, 0.0
    for i in range(n - 1):
        gap += p_g[i] - p_d[i]
        w1 += abs(gap)
        if gap != 0.0:
            tilt += math.copysign(i + 1.0, gap)
    gap += p_g[n - 1] - p_d[n - 1]
    return h * (w1 - gap * tilt / n)


@njit(cache=True)
def _kantorovich_potential(p_d, p_g, h, out):
    """u_{i+1} - u_i = h sign(F_g,i - F_d,i) (cumulative masses through cell i), mean 0."""
    gap, u, total = 0.0, 0.0, 0.0
    for i in range(p_d.size):
        out[i] = u
        total += u
        gap += p_g[i] - p_d[i]
        u += 0.0 if gap == 0.0 else math.copysign(h, gap)
    mean = total / p_d.size
    for i in range(p_d.size):
        out[i] -= mean


@njit(cache=True, error_model="numpy")
def _js_oracle_terms(p_d, p_g, out):
    """p_d log(p_d / (p_d + p_g)) + p_g log(p_g / (p_d + p_g)) in each cell, 0 log 0 = 0.

    Branch-free (selects only), so LLVM vectorizes the loop with gamesim.vecmath's log.
    """
    wide_vectors()
    for i in range(p_d.size):
        log_total = vlog(p_d[i] + p_g[i])
        from_d = p_d[i] * (vlog(p_d[i]) - log_total)
        from_g = p_g[i] * (vlog(p_g[i]) - log_total)
        out[i] = (from_d if p_d[i] > 0.0 else 0.0) + (from_g if p_g[i] > 0.0 else 0.0)


@njit(cache=True)
def _harmonic_oracle_value(p_d, p_g):
    """-1/2 sum p_d p_g / (p_d + p_g), 0 where both masses are 0."""
    total = 0.0
    for i in range(p_d.size):
        both = p_d[i] + p_g[i]
        if both > 0.0:
            total -= 0.5 * p_d[i] * p_g[i] / both
    return total


class Minimax:
    """Goodfellow et al. 2014: D maximizes sum p_d log D + sum p_g log(1 - D); G minimizes
    sum p_g log(1 - D). D = sigma(u); the oracle is u* = log p_d - log p_g, where the value
    is -log 4 + 2 JS(p_d || p_g)."""

    name = "minimax"
    output = "logit"
    equilibrium = -math.log(4.0)
    nonsaturating = False
    # the generator gradient the oracle's pass gives is handed over to the caller, who keeps
    # it: it has no out= form
    out_methods = ("oracle", "oracle_log")
    _cache = (None, None, None, None, None)  # p_d, log p_d, p_g, u, generator gradient

    def oracle(self, p_d, p_g, out=None):
        return self.oracle_log(p_d, p_g, None, out=out)

    def oracle_log(self, p_d, p_g, log_p_g, out=None):
        """The oracle with log p_g given (None: taken here), one logarithm a cell fewer."""
        # The generator's gradient against the oracle comes out of the same pass almost for
        # free; it is kept for the generator_grad call that follows with these very arrays.
        cached_p_d, log_p_d = self._cache[:2]
        if p_d is not cached_p_d:
            # log p_d, zero masses counted as the smallest double: the oracle against p_g = 1
            log_p_d = filled(_log_ratio_oracle, p_d, np.ones_like(p_d))
        u = np.empty(p_d.size) if out is None else out
        g = np.empty(p_d.size)
        if log_p_g is None:
            _oracle_and_generator_grad(log_p_d, p_d, p_g, u, g, self.nonsaturating)
        else:
            _oracle_and_generator_grad_from_log(log_p_d, p_d, p_g, log_p_g, u, g,
                                                self.nonsaturating)
        self._cache = (p_d, log_p_d, p_g, u, g)
        return u

    def _cached_generator_grad(self, p_d, p_g, u):
        cached_p_d, _, cached_p_g, cached_u, g = self._cache
        if u is cached_u and p_g is cached_p_g and p_d is cached_p_d and g is not None:
            self._cache = (*self._cache[:4], None)  # handed over once: the caller owns it
            return g
        return None

    def value(self, p_d, p_g, u):
        return _logistic_value(p_d, p_g, u)

    def oracle_value(self, p_d, p_g):
        """-log 4 + 2 JS(p_d || p_g) in nats; for totals S_d, S_g exactly
        -(S_d + S_g) log 2 + KL(p_d || m) + KL(p_g || m), m = (p_d + p_g) / 2.

        That is the sum over cells of p_d log(p_d / (p_d + p_g)) + p_g log(p_g / (p_d + p_g)),
        the value at D* = p_d / (p_d + p_g) (Goodfellow et al. 2014, Theorem 1)."""
        return sum_of(filled(_js_oracle_terms, p_d, p_g))

    def discriminator_grad(self, p_d, p_g, u):
        return filled(_logistic_discriminator_grad, p_d, p_g, u)

    def generator_grad(self, p_d, p_g, u):
        cached = self._cached_generator_grad(p_d, p_g, u)
        return cached if cached is not None else filled(_minimax_generator_grad, u)

    def generator_grad_at(self, p_d, p_g, u, cells):
        """generator_grad at ``cells`` (the rest 0): a point generator's vjp reads two."""
        cached = self._cached_generator_grad(p_d, p_g, u)
        if cached is not None:
            return cached
        g = np.empty(u.size)
        _generator_grad_at(u, cells, self.nonsaturating, g)
        return g

    def discriminator_terms(self, u_data, u_gen):
        """a = log sigma(u) at data points, b = log(1 - sigma(u)) at generated ones, and
        their derivatives in u."""
        return (*_log_sigmoid(u_data, 1.0), *_log_sigmoid(u_gen, -1.0))

    def generator_terms(self, u_gen):
        """c = log(1 - sigma(u)) and dc/du."""
        return _log_sigmoid(u_gen, -1.0)


class Nonsaturating(Minimax):
    """As minimax for D; G minimizes -sum p_g log D instead (Goodfellow et al. 2014, sec. 3),
    which keeps G's gradient large while D rejects its samples."""

    name = "nonsaturating"
    nonsaturating = True

    def generator_grad(self, p_d, p_g, u):
        cached = self._cached_generator_grad(p_d, p_g, u)
        return cached if cached is not None else filled(_nonsaturating_generator_grad, u)

    # the faster form of this generator_grad too (it reads ``nonsaturating``): see
    # gamesim.protocols.faster
    generator_grad_at = Minimax.generator_grad_at

    def generator_terms(self, u_gen):
        """c = -log sigma(u) and dc/du."""
        value, slope = _log_sigmoid(u_gen, 1.0)
        return -value, -slope


class LeastSquares:
    """LSGAN (Mao et al. 2017) with a = 0, b = c = 1 and D = u raw: D maximizes
    -1/2 sum p_d (u - 1)^2 - 1/2 sum p_g u^2, G minimizes 1/2 sum p_g (u - 1)^2. The oracle
    D* = p_d / (p_d + p_g) gives value -1/2 sum p_d p_g / (p_d + p_g); -1/4 at p_g = p_d."""

    name = "least_squares"
    output = "probability"
    equilibrium = -0.25
    out_methods = ("oracle",)

    def oracle(self, p_d, p_g, out=None):
        return filled(_least_squares_oracle, p_d, p_g, out=out)

    def value(self, p_d, p_g, u):
        return _least_squares_value(p_d, p_g, u)

    def oracle_value(self, p_d, p_g):
        """-1/2 sum p_d p_g / (p_d + p_g) (0 where both are 0), for any totals."""
        return _harmonic_oracle_value(p_d, p_g)

    def discriminator_grad(self, p_d, p_g, u):
        return p_d * (u - 1.0) + p_g * u

    def generator_grad(self, p_d, p_g, u):
        return 0.5 * (u - 1.0) ** 2

    def discriminator_terms(self, u_data, u_gen):
        """a = -(u - 1)^2 / 2, b = -u^2 / 2, and their derivatives in u."""
        return -0.5 * (u_data - 1.0) ** 2, 1.0 - u_data, -0.5 * u_gen ** 2, -u_gen

    def generator_terms(self, u_gen):
        """c = (u - 1)^2 / 2 and dc/du."""
        return 0.5 * (u_gen - 1.0) ** 2, u_gen - 1.0


class Hinge:
    """Hinge loss (Lim and Ye 2017): D maximizes sum p_d min(0, u - 1) + sum p_g min(0, -u - 1),
    G minimizes -sum p_g u. Oracle u* = sign(p_d - p_g), value 2 TV - 2; -2 at p_g = p_d.
    u is a critic, not a probability."""

    name = "hinge"
    output = "critic"
    equilibrium = -2.0
    out_methods = ("oracle",)

    def oracle(self, p_d, p_g, out=None):
        gap = np.subtract(p_d, p_g, out=out)
        return np.sign(gap, out=gap)

    def value(self, p_d, p_g, u):
        return _hinge_value(p_d, p_g, u)

    def oracle_value(self, p_d, p_g):
        """2 TV - 2 = sum |p_d - p_g| - (S_d + S_g): -2 sum min(p_d, p_g), for any totals."""
        return _hinge_oracle_value(p_d, p_g)

    def discriminator_grad(self, p_d, p_g, u):
        return filled(_hinge_discriminator_grad, p_d, p_g, u)

    def generator_grad(self, p_d, p_g, u):
        return -u

    def discriminator_terms(self, u_data, u_gen):
        """a = min(0, u - 1), b = min(0, -u - 1), and their (sub)derivatives in u (0 at the
        kinks, as in the exact gradient)."""
        return (np.minimum(0.0, u_data - 1.0), (u_data < 1.0).astype(np.float64),
                np.minimum(0.0, -u_gen - 1.0), -(u_gen > -1.0).astype(np.float64))

    def generator_terms(self, u_gen):
        """c = -u and dc/du = -1."""
        return -u_gen, np.full_like(u_gen, -1.0)


class Wasserstein:
    """Wasserstein GAN (Arjovsky, Chintala, Bottou 2017): the critic maximizes
    sum p_d u - sum p_g u over 1-Lipschitz u, G minimizes -sum p_g u. The oracle is the 1D
    Kantorovich potential (u_{i+1} - u_i = h sign(F_g - F_d), mean 0), where the value is W1;
    0 at p_g = p_d. A parametrized critic needs a regularizer (clip or gradient_penalty) to
    stay Lipschitz: the objective alone is unbounded."""

    name = "wasserstein"
    output = "critic"
    equilibrium = 0.0
    out_methods = ("oracle",)

    def setup(self, grid):
        self.h = grid.h

    def oracle(self, p_d, p_g, out=None):
        return filled(_kantorovich_potential, p_d, p_g, self.h, out=out)

    def value(self, p_d, p_g, u):
        return float((p_d - p_g) @ u)

    def oracle_value(self, p_d, p_g):
        """W1 = h sum_{i<N-1} |F_d,i - F_g,i| between the masses at the cell centres, plus
        (S_d - S_g) c.

        F: the cumulative masses through cell i; c = h sum_{i<N-1} sign(F_g,i - F_d,i)
        (i + 1) / N is the oracle's centred potential at the last cell (V_D = sum (p_d - p_g) u*
        summed by parts). The second term is 0 when the totals agree (to rounding); it is kept
        so that the identity is exact on the grid whatever the totals."""
        return _w1_oracle_value(p_d, p_g, self.h)

    def discriminator_grad(self, p_d, p_g, u):
        return p_g - p_d

    def generator_grad(self, p_d, p_g, u):
        return -u

    def discriminator_terms(self, u_data, u_gen):
        """a = u, b = -u, and their derivatives 1 and -1."""
        return u_data.copy(), np.ones_like(u_data), -u_gen, np.full_like(u_gen, -1.0)

    def generator_terms(self, u_gen):
        """c = -u and dc/du = -1."""
        return -u_gen, np.full_like(u_gen, -1.0)


@gamesim.hookimpl
def gamesim_register_objectives(register):
    for cls in (Minimax, Nonsaturating, LeastSquares, Hinge, Wasserstein):
        register(cls)
