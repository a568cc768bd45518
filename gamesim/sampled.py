"""Sampled training: the players' gradients estimated from minibatches (``[game] estimator =
"sampled"``), as GANs and generative moment matching networks train.

Each step draws a data batch x from p_d (cell centres with probability p_d, optionally
jittered uniformly within their cells; or the target's own ``draw(rng, n)`` if it has one,
such as raw data resampled)
and a noise batch z ~ U(0, 1) pushed through the generator, y = G_theta(z) (continuous, off the
grid). Direct mode descends a sample distance between x and y; adversarial mode takes sample
averages of the objective's terms at a parametrized discriminator's outputs u(x), u(y), and the
generator's gradient flows through du/dx at its samples. Recording is the exact engine's own
(:class:`gamesim.engine.Recorder`): the metrics are exact on the grid (the generator deposited
by ``forward(theta)``), with the batch estimate ``batch_value`` beside ``value``.

Randomness: iteration t draws the generator's batches from one numpy Generator and the
discriminator's from another, seeded by SeedSequence(seed, spawn_key=(2, t, player)), so a
run is reproducible, every iteration's draws depend on nothing but the seed and t, and they
are independent of the players' initialization streams (spawn keys (0,) and (1,)).
"""

import time

import numpy as np

from .engine import _check, _Players, iterate

STREAM = 2  # spawn-key prefix of the per-iteration streams
GENERATOR, DISCRIMINATOR = 0, 1
_Z_STEPS = 2.0 ** 53  # z = (k + 1/2) / 2^53 with k uniform: never exactly 0 or 1


def streams(seed, iteration):
    """The generator's and the discriminator's random Generators for one iteration."""
    return [np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        seed, spawn_key=(STREAM, iteration, player)))) for player in (GENERATOR, DISCRIMINATOR)]


class Batches:
    """Draws data and noise batches, and estimates both players' gradients from them."""

    def __init__(self, sc, players):
        self.sc, self.gen, self.disc = sc, sc.generator, sc.discriminator
        self.objective, self.distance = sc.objective, sc.distance
        s = sc.sampling
        self.m, self.n, self.unbiased, self.jitter = (s.data_batch, s.noise_batch, s.unbiased,
                                                      s.jitter)
        self.centres, self.h = np.asarray(sc.grid.x, np.float64), sc.grid.h
        self.cdf = np.cumsum(sc.p_data)
        self.cdf /= self.cdf[-1]
        self.draw = getattr(sc.target, "draw", None)
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
        return _check(self.gen.sample(theta, z), "generated samples", self.gen_name)

    def direct(self, theta, x, z):
        """(sample distance, its gradient in theta)."""
        value, g_y = self.distance.sample_value_grad(x, self.samples(theta, z), self.unbiased)
        g = self.gen.sample_vjp(theta, z, g_y)
        return value, _check(g, "generator gradient", self.g_grad_name)

    def discriminator(self, theta, psi, x, z):
        """(batch estimate of V_D, D's descent direction d(-V_D)/dpsi)."""
        y = self.samples(theta, z)
        u_x = _check(self.disc.forward_at(psi, x), "discriminator outputs", self.disc_name)
        u_y = _check(self.disc.forward_at(psi, y), "discriminator outputs", self.disc_name)
        a, da, b, db = self.objective.discriminator_terms(u_x, u_y)
        g = -(self.disc.vjp_at(psi, x, da / x.size) + self.disc.vjp_at(psi, y, db / y.size))
        return a.mean() + b.mean(), _check(g, "discriminator gradient", self.disc_name)

    def generator(self, theta, psi, z):
        """(batch estimate of G's loss, its gradient in theta, through du/dx at y)."""
        y = self.samples(theta, z)
        c, dc = self.objective.generator_terms(self.disc.forward_at(psi, y))
        g_y = dc * self.disc.dudx_at(psi, y) / y.size
        g = self.gen.sample_vjp(theta, z, g_y)
        return c.mean(), _check(g, "generator gradient", self.g_grad_name)

    def value(self, state):
        """[batch_value]: the batch estimate at a state, from the very batch (the first one
        the iteration draws) that its step uses: the direct loss, or V_D in adversarial mode."""
        rng_g, rng_d = streams(self.sc.seed, state.iteration)
        if self.sc.mode == "direct":
            return [self.direct(state.theta, self.data(rng_g), self.noise(rng_g))[0]]
        return [self.discriminator(state.theta, state.psi, self.data(rng_d),
                                   self.noise(rng_d))[0]]


def _stepped(x, g, look, state, gradient_at, step):
    """One optimizer step from x along g; an extrapolation optimizer (``look``) steps along
    the gradient at its lookahead point instead, on the same batch."""
    if look is not None:
        g = gradient_at(look(x, g, state))
    return step(x, g)


def run(sc, progress=None):
    """Simulate sampled scenario ``sc``; returns a :class:`gamesim.engine.Result`."""
    start = time.perf_counter()
    players = _Players(sc)
    batches = Batches(sc, players)
    return iterate(sc, players, lambda steps: _update(sc, batches, steps), progress, start,
                   eager=False, batch=(["batch_value"], batches.value))


def _update(sc, batches, steps):
    """One iteration of the sampled dynamics: the function ``iterate`` calls with each state."""
    g_look, d_look = steps.g_look, steps.d_look

    def update(state, theta, psi):
        rng_g, rng_d = streams(sc.seed, state.iteration)
        if sc.mode == "direct":
            x, z = batches.data(rng_g), batches.noise(rng_g)
            g = batches.direct(theta, x, z)[1]
            return _stepped(theta, g, g_look, steps.gstate,
                            lambda t: batches.direct(t, x, z)[1], steps.gen), psi
        if sc.schedule == "alternating":
            for _ in range(sc.steps):
                x, z = batches.data(rng_d), batches.noise(rng_d)
                g = batches.discriminator(theta, psi, x, z)[1]
                psi = _stepped(psi, g, d_look, steps.dstate,
                               lambda s: batches.discriminator(theta, s, x, z)[1], steps.disc)
            z = batches.noise(rng_g)
            g = batches.generator(theta, psi, z)[1]
            return _stepped(theta, g, g_look, steps.gstate,
                            lambda t: batches.generator(t, psi, z)[1], steps.gen), psi
        x, z, z_g = batches.data(rng_d), batches.noise(rng_d), batches.noise(rng_g)
        g_psi = batches.discriminator(theta, psi, x, z)[1]
        g_theta = batches.generator(theta, psi, z_g)[1]
        if g_look is not None or d_look is not None:  # both gradients at the extrapolated point
            theta_half = theta if g_look is None else g_look(theta, g_theta, steps.gstate)
            psi_half = psi if d_look is None else d_look(psi, g_psi, steps.dstate)
            if d_look is not None:
                g_psi = batches.discriminator(theta_half, psi_half, x, z)[1]
            if g_look is not None:
                g_theta = batches.generator(theta_half, psi_half, z_g)[1]
        psi = steps.disc(psi, g_psi)
        return steps.gen(theta, g_theta), psi

    return update
