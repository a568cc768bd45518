"""The exact estimator: both players' gradients from the grid densities (``[game] estimator =
"exact"``). The recorder and the phase portrait use it in every mode: metrics are exact.

With ``[game] instance_noise`` the discriminator plays against K p_d and K p_g, the masses
convolved with the noise of the point's iteration (:mod:`gamesim.noise`), and the generator's
gradient in its masses is K^T of the objective's (docs/design.md, "One iteration").

Plugins whose methods fill an ``out=`` buffer (``out_methods``, docs/plugins.md, "Protocols")
are given buffers of :class:`Buffers`, reused from one iteration to the next, on grids of at
least ``BUFFERED_CELLS`` cells; the others allocate their results as before."""

import sys

import numpy as np

from .divergence import check
from .noise import Convolution
from .protocols import capability, faster, fills


def _refcounts(arrays):
    return [sys.getrefcount(a) for a in arrays]


_UNHELD = _refcounts([np.empty(0)])[0]  # the count of an array only a spare list holds
# Grids from this many cells on use the buffers. On smaller ones a fresh array costs less
# than the bookkeeping (about 1 us a buffer: a few µs an iteration at 512 cells).
BUFFERED_CELLS = 1 << 16


class Buffers:
    """Float64 arrays of ``size`` cells for the engine's ``out=`` buffers, a few spares per
    quantity, each written again only once nothing but its spare list refers to it.

    A Point keeps its grid quantities and gradient, the objectives' caches (keyed on an
    array's identity) keep theirs, and a caller of the engine may keep any of them or a view
    of one: all hold a reference, so the array's reference count tells when it is free. When
    none is, a new array is made (and kept as a spare, up to ``SPARES``): the loop's next
    point is computed while the last one is still held, so two of each alternate."""

    SPARES = 3

    def __init__(self, size):
        self.size, self.spares = size, {}

    def take(self, quantity):
        """A free array for ``quantity`` (a name), its contents undefined."""
        spares = self.spares.setdefault(quantity, [])
        for array, count in zip(spares, _refcounts(spares)):
            if count == _UNHELD:
                return array
        array = np.empty(self.size)
        if len(spares) < self.SPARES:
            spares.append(array)
        return array


class Point:
    """A point (theta, psi) of iteration ``iteration`` and what the exact estimator computes
    there, each once, on first use: the grid quantities (p_g, mass outside, u) and each
    player's gradient. A recorded row and the step that follows it share one Point, so the
    row's gradient norms cost nothing more."""

    __slots__ = ("iteration", "theta", "psi", "_players", "_grid", "_g", "_d")

    def __init__(self, players, theta, psi, iteration=0, grid=None):
        self.iteration, self.theta, self.psi = iteration, theta, psi
        self._players, self._grid, self._g, self._d = players, grid, None, None

    def grid(self):
        """(p_g, mass_outside, u); u None in direct mode."""
        if self._grid is None:
            self._grid = self._players.at(self.theta, self.psi, self.iteration)
        return self._grid

    def g_grad(self):
        if self._g is None:
            p_g, _, u = self.grid()
            self._g = self._players.generator_gradient(self.theta, p_g, u, self.iteration)
        return self._g

    def d_grad(self):
        if self._d is None:
            p_g, _, u = self.grid()
            self._d = self._players.discriminator_gradient(self.psi, p_g, u, self.iteration)
        return self._d


class Exact:
    """Both players' gradients at any (theta, psi), from the grid: the estimator protocol of
    :class:`gamesim.schedule.Iteration` (``point``, ``moved``, ``d_batch``, ``g_batch``,
    ``d_grad``, ``g_grad``), with no batches."""

    def __init__(self, sc):
        self.sc, self.gen, self.disc, self.objective = sc, sc.generator, sc.discriminator, sc.objective
        self.oracle = self.disc is not None and capability(self.disc, "oracle")
        self.parametrized = self.disc is not None and not self.oracle
        # the oracle from the generator's log-masses, one logarithm a cell fewer, where both
        # offer them; not with instance noise (D sees K p_g, whose logs no plugin gives)
        self.log_oracle = self.oracle and sc.instance_noise is None and \
            faster(self.gen, "forward_log", "forward") and \
            faster(self.objective, "oracle_log", "oracle")
        self.mirror = capability(sc.generator_optimizer, "requires_logit_params")
        # the objective's gradient only at the cells the generator's vjp reads, where both
        # offer that (a point generator reads two of N)
        self.sparse_g = not self.mirror and sc.mode != "direct" and \
            faster(self.gen, "vjp_cells", "vjp") and \
            faster(self.objective, "generator_grad_at", "generator_grad")
        self.penalty = capability(sc.regularizer, "penalty")
        # the per-iteration arrays of N cells, in reused buffers where the plugin fills out=
        # and the grid is large enough for that to pay
        self.buffers = Buffers(sc.grid.points)
        buffered = sc.grid.points >= BUFFERED_CELLS
        self.out_forward = buffered and fills(self.gen, "forward")
        self.out_forward_log = buffered and fills(self.gen, "forward_log")
        self.out_oracle = buffered and fills(
            self.objective, "oracle_log" if self.log_oracle else "oracle")
        self.out_distance = buffered and sc.mode == "direct" and fills(sc.distance, "grad")
        if sc.mode == "direct":
            self.g_source = f"distance {sc.distance.name!r}"
        else:
            self.g_source = f"objective {sc.objective.name!r}"
        # the plugins named when a check fails, spelled out once rather than every iteration
        self.gen_label = f"generator {self.gen.name!r}"
        self.g_grad_label = f"{self.gen_label} ({self.g_source})"
        self.disc_label = self.disc is not None and f"discriminator {self.disc.name!r}"
        self.noise = sc.instance_noise
        # the last noise level's (sigma, K, K p_d) and the last (p_g, K, K p_g): a run pays one
        # convolution of p_g per iteration, and K p_d is the same array while sigma is the
        # same (the objectives' caches key on an array's identity), a new one when it changes
        self._noisy_data = (None, None, None)
        self._noisy_gen = (None, None, None)

    def at(self, theta, psi, iteration=0):
        """(p_g, mass_outside, u) at the given parameters; u None in direct mode."""
        if self.oracle:
            return self.against_oracle(theta, iteration)
        p_g, outside = self.forward(theta)
        return p_g, outside, self.outputs(psi) if self.parametrized else None

    def _out(self, fills_out, *quantities):
        """The keyword ``out=`` (one buffer a quantity; a tuple for several) for a method
        that fills it, none for one that allocates."""
        if not fills_out:
            return {}
        out = tuple(self.buffers.take(q) for q in quantities)
        return {"out": out if len(out) > 1 else out[0]}

    def forward(self, theta):
        """The generator's (p_g, mass_outside), checked."""
        p_g, outside = self.gen.forward(theta, **self._out(self.out_forward, "p_g"))
        check(p_g, "generator masses", self.gen_label)
        return p_g, outside

    def against_oracle(self, theta, iteration=0):
        """(p_g, mass_outside, u) with the oracle's u: from the log-masses where the
        generator and the objective offer them."""
        u_out = self._out(self.out_oracle, "u")
        if self.log_oracle:
            p_g, outside, log_p_g = self.gen.forward_log(
                theta, **self._out(self.out_forward_log, "p_g", "log_p_g"))
            check(p_g, "generator masses", self.gen_label)
            return p_g, outside, self.objective.oracle_log(self.sc.p_data, p_g, log_p_g, **u_out)
        p_g, outside = self.forward(theta)
        return p_g, outside, self.objective.oracle(*self.seen(p_g, iteration), **u_out)

    def seen(self, p_g, iteration=0):
        """(p_data, p_g) as the discriminator sees them at ``iteration``: the masses whose
        game ``value`` is and whose best response the oracle plays. With instance noise
        (K p_d, K p_g) at that iteration's sigma; ``p_g`` as the generator gave it (K p_g is
        kept for the same array: a buffer is rewritten only once nothing, this cache
        included, holds it)."""
        if self.noise is None:
            return self.sc.p_data, p_g
        kernel, p_d = self._noise_at(iteration)
        last_p_g, last_kernel, seen_g = self._noisy_gen
        if p_g is not last_p_g or kernel is not last_kernel:
            seen_g = kernel.apply(p_g)
            self._noisy_gen = (p_g, kernel, seen_g)
        return p_d, seen_g

    def _noise_at(self, iteration):
        """(K, K p_d) at ``iteration``'s sigma, built when sigma changes."""
        sigma = self.noise.std_at(iteration, self.sc.iterations)
        last_sigma, kernel, p_d = self._noisy_data
        if sigma != last_sigma:
            kernel = Convolution(self.sc.grid, sigma)
            p_d = kernel.apply(self.sc.p_data)
            self._noisy_data = (sigma, kernel, p_d)
        return kernel, p_d

    def outputs(self, psi):
        """The parametrized discriminator's raw outputs u(psi)."""
        return check(self.disc.forward(psi), "discriminator outputs", self.disc_label)

    def generator_gradient(self, theta, p_g, u, iteration=0):
        """The generator's gradient (dL/dp_g itself for the mirror step)."""
        if self.sc.mode == "direct":
            g_p = self.sc.distance.grad(self.sc.p_data, p_g, **self._out(self.out_distance, "g_p"))
        elif self.noise is None:
            cells = self.gen.vjp_cells(theta) if self.sparse_g else None
            g_p = self.objective.generator_grad(self.sc.p_data, p_g, u) if cells is None \
                else self.objective.generator_grad_at(self.sc.p_data, p_g, u, cells)
        else:  # L_G(K p_d, K p_g): dL/dp_g = K^T dL/d(K p_g)
            g_p = self._noise_at(iteration)[0].adjoint(
                self.objective.generator_grad(*self.seen(p_g, iteration), u))
        if self.mirror:
            return g_p
        return check(self.gen.vjp(theta, g_p), "generator gradient", self.g_grad_label)

    def discriminator_gradient(self, psi, p_g, u, iteration=0):
        """The discriminator's descent direction: d(-V_D + penalty)/dpsi. A penalty weighs
        what D sees (with instance noise R1 at the noisy data: D is trained on it)."""
        p_d = self.sc.p_data
        if self.noise is not None:
            p_d, p_g = self.seen(p_g, iteration)
        g = self.disc.vjp(psi, self.objective.discriminator_grad(p_d, p_g, u))
        if self.penalty is not None:
            g = g + self.penalty(self.disc, psi, p_d, p_g)[1]
        return check(g, "discriminator gradient", self.disc_label)

    def point(self, theta, psi, iteration=0):
        return Point(self, theta, psi, iteration)

    def moved(self, point, theta=None, psi=None):
        """``point`` with theta and/or psi replaced: only what depends on them is recomputed
        (p_g and an oracle's u on theta, a parametrized D's u on psi)."""
        p_g, outside, u = point.grid()
        if theta is None:
            theta = point.theta
        elif self.oracle:
            p_g, outside, u = self.against_oracle(theta, point.iteration)
        else:
            p_g, outside = self.forward(theta)
        if psi is None:
            psi = point.psi
        else:
            u = self.outputs(psi)
        return Point(self, theta, psi, point.iteration, (p_g, outside, u))

    def d_batch(self, point):
        return None

    def g_batch(self, point):
        return None

    def d_grad(self, point, batch):
        return point.d_grad()

    def g_grad(self, point, batch):
        return point.g_grad()
