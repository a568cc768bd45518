"""One iteration of the players' dynamics (docs/design.md, "One iteration"), written once for
every estimator.

An estimator gives each player's gradient at a point (theta, psi) of an iteration:
``point(theta, psi, iteration)`` makes the point, ``moved(point, theta=None, psi=None)`` the
point with a player's parameters replaced, ``d_batch(point)`` and ``g_batch(point)`` draw what
a discriminator step and the generator step estimate from (None in exact mode), and
``d_grad(point, batch)``, ``g_grad(point, batch)`` are the discriminator's descent direction
and the generator's gradient there. :class:`gamesim.exact.Exact` computes them from the grid
densities, :class:`gamesim.sampled.Batches` from minibatches.

Extrapolation optimizers (those with ``lookahead``, such as extragradient) are settled here:
a player whose optimizer has it takes a trial step, both players' gradients are evaluated
at the extrapolated point (in the simultaneous schedule; its own in the alternating one, on
the same batch) and the real step starts again from the original parameters with those
gradients.

Consensus optimization (``[game] consensus = gamma``, exact mode only) replaces each
gradient the schedule takes at a point by that player's block of g + gamma J^T v
(:func:`gamesim.field.consensus`): in the simultaneous schedule both players step along
v - gamma J^T v from the same point; in the alternating one each player takes its own block
at the point it steps from (D's at each of its steps, G's against the updated D); an
extrapolation step and the step after it both use it.
"""

import numpy as np

from .divergence import check
from .field import consensus
from .protocols import capability


class Iteration:
    """One iteration of scenario ``sc``'s schedule with ``estimator``: a function
    ``(theta, psi, states) -> (theta, psi, states)``, the loop's own step.

    ``initial()`` gives the players' initial parameters (from the scenario's seed) and
    optimizer states: theta, psi (None without a parametrized discriminator) and
    ``states = (generator state, discriminator state)``. ``step(theta, psi, states,
    iteration=0)`` makes one iteration: alternating, ``sc.steps`` discriminator steps then one
    generator step against the updated discriminator; simultaneous, both players step from
    the same point; without a parametrized discriminator (the oracle, direct mode) a
    generator step. Like the optimizers it updates theta, psi and the states in place and
    returns them: pass copies to keep the inputs. ``iteration`` selects a sampled run's
    batches (exact mode ignores it). A non-finite discriminator output, gradient or step
    raises :class:`gamesim.divergence.Diverged`; theta is not checked (the loop checks it
    as it records the next state).

    ``at``: the estimator's point at (theta, psi) if the caller already has one (the loop's
    recorded state, with its grid quantities and gradients computed once).
    """

    def __init__(self, sc, estimator):
        self.sc, self.estimator = sc, estimator
        self.gopt, self.dopt = sc.generator_optimizer, sc.discriminator_optimizer
        self.g_look = capability(self.gopt, "lookahead")
        self.d_look = capability(self.dopt, "lookahead") if self.dopt is not None else None
        self.project = capability(sc.regularizer, "project")
        self.alternating, self.d_steps = sc.schedule == "alternating", sc.steps
        self.dopt_label = self.dopt is not None and f"optimizer {self.dopt.name!r}"
        self.consensus = sc.consensus
        self._consensual = (None, None)  # (point, its consensus gradients): one per point

    def initial(self):
        """(theta, psi, states) at iteration 0."""
        sc = self.sc
        gen_seed, disc_seed = np.random.SeedSequence(sc.seed).spawn(2)
        theta = np.ascontiguousarray(sc.generator.init_params(np.random.default_rng(gen_seed)),
                                     np.float64)
        psi = None
        if sc.discriminator is not None and not capability(sc.discriminator, "oracle"):
            psi = np.ascontiguousarray(
                sc.discriminator.init_params(np.random.default_rng(disc_seed)), np.float64)
        gstate = self.gopt.init_state(theta)
        return theta, psi, (gstate, None if psi is None else self.dopt.init_state(psi))

    def __call__(self, theta, psi, states, iteration=0, at=None):
        est = self.estimator
        here = est.point(theta, psi, iteration) if at is None else at
        gstate, dstate = states
        if psi is not None and not self.alternating:
            return (*self._simultaneous(est, here, theta, psi, gstate, dstate), states)
        if psi is not None:
            for _ in range(self.d_steps):
                batch = est.d_batch(here)
                g = self._d_grad(est, here, batch)
                if self.d_look is not None:
                    g = self._d_grad(est, est.moved(here, psi=self.d_look(psi, g, dstate)), batch)
                psi = self._d_step(psi, g, dstate)
                here = est.moved(here, psi=psi)
        batch = est.g_batch(here)
        g = self._g_grad(est, here, batch)
        if self.g_look is not None:  # an oracle re-responds at the extrapolated point
            g = self._g_grad(est, est.moved(here, theta=self.g_look(theta, g, gstate)), batch)
        return self.gopt.step(theta, g, gstate), psi, states

    def _simultaneous(self, est, here, theta, psi, gstate, dstate):
        d_batch, g_batch = est.d_batch(here), est.g_batch(here)
        g_psi, g_theta = self._d_grad(est, here, d_batch), self._g_grad(est, here, g_batch)
        if self.g_look is not None or self.d_look is not None:
            half = est.moved(here,
                             None if self.g_look is None else self.g_look(theta, g_theta, gstate),
                             None if self.d_look is None else self.d_look(psi, g_psi, dstate))
            if self.d_look is not None:
                g_psi = self._d_grad(est, half, d_batch)
            if self.g_look is not None:
                g_theta = self._g_grad(est, half, g_batch)
        psi = self._d_step(psi, g_psi, dstate)
        return self.gopt.step(theta, g_theta, gstate), psi

    def _g_grad(self, est, point, batch):
        if not self.consensus:
            return est.g_grad(point, batch)
        return self._with_consensus(est, point)[0]

    def _d_grad(self, est, point, batch):
        if not self.consensus:
            return est.d_grad(point, batch)
        return self._with_consensus(est, point)[1]

    def _with_consensus(self, est, point):
        """Both players' consensus gradients at ``point``, computed once per point."""
        if self._consensual[0] is not point:
            self._consensual = (point, consensus(est, point, self.consensus))
        return self._consensual[1]

    def _d_step(self, psi, g, dstate):
        psi = self.dopt.step(psi, g, dstate)
        if self.project is not None:
            psi = self.project(psi)
        return check(psi, "discriminator parameters", self.dopt_label)
