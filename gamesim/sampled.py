"""Sampled training: the players' gradients estimated from minibatches (``[game] estimator =
"sampled"``), as GANs and generative moment matching networks train.

Each step draws a data batch x from p_d (cell centres with probability p_d, optionally
jittered uniformly within their cells; or the target's own ``draw(rng, n)`` if it has one,
such as raw data resampled)
and a noise batch z ~ U(0, 1) pushed through the generator, y = G_theta(z) (continuous, off the
grid). Direct mode descends a sample distance between x and y; adversarial mode takes sample
averages of the objective's terms at a parametrized discriminator's outputs u(x), u(y), and the
generator's gradient flows through du/dx at its samples. :class:`Batches` is the estimator the
schedule (:class:`gamesim.schedule.Iteration`) steps with; recording is the exact one's
(:class:`gamesim.recorder.Recorder`): the metrics are exact on the grid (the generator
deposited by ``forward(theta)``), with the batch estimate ``batch_value`` beside ``value``.

Randomness: iteration t draws the generator's batches from one numpy Generator and the
discriminator's from another, seeded by SeedSequence(seed, spawn_key=(2, t, player)), so a
run is reproducible, every iteration's draws depend on nothing but the seed and t, and they
are independent of the players' initialization streams (spawn keys (0,) and (1,)).
"""

import numpy as np

from .divergence import check
from .protocols import capability

STREAM = 2  # spawn-key prefix of the per-iteration streams
GENERATOR, DISCRIMINATOR = 0, 1
_Z_STEPS = 2.0 ** 53  # z = (k + 1/2) / 2^53 with k uniform: never exactly 0 or 1


def streams(seed, iteration):
    """The generator's and the discriminator's random Generators for one iteration."""
    return [np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        seed, spawn_key=(STREAM, iteration, player)))) for player in (GENERATOR, DISCRIMINATOR)]


class _Point:
    """A point (theta, psi) of an iteration, with that iteration's random streams."""

    __slots__ = ("theta", "psi", "rng_g", "rng_d")

    def __init__(self, theta, psi, rng_g, rng_d):
        self.theta, self.psi, self.rng_g, self.rng_d = theta, psi, rng_g, rng_d


class Batches:
    """Draws data and noise batches, and estimates both players' gradients from them: the
    estimator protocol of :class:`gamesim.schedule.Iteration`. Each discriminator step draws
    a data and a noise batch from the iteration's discriminator stream, the generator one batch
    from its own (noise; data and noise in direct mode); an extrapolation optimizer's lookahead
    gradient reuses its step's batch. ``players`` (:class:`gamesim.exact.Exact`) names the
    plugins in divergence messages."""

    def __init__(self, sc, players):
        self.sc, self.gen, self.disc = sc, sc.generator, sc.discriminator
        self.objective, self.distance = sc.objective, sc.distance
        s = sc.sampling
        self.m, self.n, self.unbiased, self.jitter = (s.data_batch, s.noise_batch, s.unbiased,
                                                      s.jitter)
        self.centres, self.h = np.asarray(sc.grid.x, np.float64), sc.grid.h
        self.cdf = np.cumsum(sc.p_data)
        self.cdf /= self.cdf[-1]
        self.draw = capability(sc.target, "draw")
        self.gen_name, self.disc_name = players.gen_label, players.disc_label
        self.g_grad_name = players.g_grad_label

    def data(self, rng):
        """m data points: the target's own ``draw(rng, m)`` if it has one, else cell centres
        drawn with probability p_d (jittered within their cells if asked)."""
        if self.draw is not None:
            return np.ascontiguousarray(self.draw(rng, self.m), np.float64)
        cells = np.minimum(np.searchsorted(self.cdf, rng.random(self.m), side="right"),
                           self.cdf.size - 1)
        x = self.centres[cells]
        if self.jitter:
            x = x + (rng.random(self.m) - 0.5) * self.h
        return x

    def noise(self, rng):
        """n noise points z in (0, 1)."""
        return (rng.integers(0, 2 ** 53, self.n).astype(np.float64) + 0.5) / _Z_STEPS

    def samples(self, theta, z):
        return check(self.gen.sample(theta, z), "generated samples", self.gen_name)

    def direct(self, theta, x, z):
        """(sample distance, its gradient in theta)."""
        value, g_y = self.distance.sample_value_grad(x, self.samples(theta, z), self.unbiased)
        g = self.gen.sample_vjp(theta, z, g_y)
        return value, check(g, "generator gradient", self.g_grad_name)

    def discriminator(self, theta, psi, x, z):
        """(batch estimate of V_D, D's descent direction d(-V_D)/dpsi)."""
        y = self.samples(theta, z)
        u_x = check(self.disc.forward_at(psi, x), "discriminator outputs", self.disc_name)
        u_y = check(self.disc.forward_at(psi, y), "discriminator outputs", self.disc_name)
        a, da, b, db = self.objective.discriminator_terms(u_x, u_y)
        g = -(self.disc.vjp_at(psi, x, da / x.size) + self.disc.vjp_at(psi, y, db / y.size))
        return a.mean() + b.mean(), check(g, "discriminator gradient", self.disc_name)

    def generator(self, theta, psi, z):
        """(batch estimate of G's loss, its gradient in theta, through du/dx at y)."""
        y = self.samples(theta, z)
        c, dc = self.objective.generator_terms(self.disc.forward_at(psi, y))
        g_y = dc * self.disc.dudx_at(psi, y) / y.size
        g = self.gen.sample_vjp(theta, z, g_y)
        return c.mean(), check(g, "generator gradient", self.g_grad_name)

    def value(self, state):
        """[batch_value]: the batch estimate at a state, from the very batch (the first one
        the iteration draws) that its step uses: the direct loss, or V_D in adversarial mode."""
        rng_g, rng_d = streams(self.sc.seed, state.iteration)
        if self.sc.mode == "direct":
            return [self.direct(state.theta, self.data(rng_g), self.noise(rng_g))[0]]
        return [self.discriminator(state.theta, state.psi, self.data(rng_d),
                                   self.noise(rng_d))[0]]

    def point(self, theta, psi, iteration=0):
        return _Point(theta, psi, *streams(self.sc.seed, iteration))

    def moved(self, point, theta=None, psi=None):
        return _Point(point.theta if theta is None else theta, point.psi if psi is None else psi,
                      point.rng_g, point.rng_d)

    def d_batch(self, point):
        return self.data(point.rng_d), self.noise(point.rng_d)

    def g_batch(self, point):
        if self.sc.mode == "direct":
            return self.data(point.rng_g), self.noise(point.rng_g)
        return self.noise(point.rng_g)

    def d_grad(self, point, batch):
        return self.discriminator(point.theta, point.psi, *batch)[1]

    def g_grad(self, point, batch):
        if self.sc.mode == "direct":
            return self.direct(point.theta, *batch)[1]
        return self.generator(point.theta, point.psi, batch)[1]
