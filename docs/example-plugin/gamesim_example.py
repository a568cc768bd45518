"""gamesim-example: the Bhattacharyya distance, a triangular target and an entropy metric.

Installed, it is found through the ``gamesim`` entry-point group (see pyproject.toml): no
``plugins`` list or ``-p`` option is needed.
"""

import math
import os

import numpy as np
from numba import njit

import gamesim
from gamesim.grid import ContinuousTarget


@njit(cache=True)
def _coefficient(p, q):
    """Bhattacharyya coefficient sum sqrt(p q)."""
    total = 0.0
    for i in range(p.size):
        total += math.sqrt(p[i] * q[i])
    return total


@njit(cache=True)
def _coefficient_grad(p, q, out):
    """d/dq sum sqrt(p q) = sqrt(p / q) / 2: 0 where p = 0, +inf where q = 0 < p."""
    for i in range(p.size):
        if p[i] == 0.0:
            out[i] = 0.0
        elif q[i] == 0.0:
            out[i] = math.inf
        else:
            out[i] = 0.5 * math.sqrt(p[i] / q[i])
    return out


class Bhattacharyya:
    """Bhattacharyya distance -log sum sqrt(p q) in nats: 0 for p = q, inf for disjoint supports.

    Gradient -(d/dq sum sqrt(p q)) / sum sqrt(p q); -inf where q = 0 < p.
    """

    name = "bhattacharyya"

    def value(self, p, q):
        bc = _coefficient(p, q)
        return max(-math.log(bc), 0.0) if bc > 0.0 else math.inf

    def grad(self, p, q):
        bc = _coefficient(p, q)
        g = _coefficient_grad(p, q, np.empty_like(q))
        if bc == 0.0:  # disjoint supports: the value is inf whatever q does nearby
            return np.where(p > 0.0, -math.inf, 0.0)
        return -g / bc


class Triangle(ContinuousTarget):
    """Symmetric triangular distribution on [mode - half_width, mode + half_width]."""

    name = "triangle"
    mode: float = gamesim.param(0.0, help="the peak")
    half_width: float = gamesim.param(1.0, gt=0, help="half the support's width")

    def cdf(self, x):
        z = np.clip((np.asarray(x, np.float64) - self.mode) / self.half_width, -1.0, 1.0)
        return np.where(z < 0.0, 0.5 * (1.0 + z) ** 2, 1.0 - 0.5 * (1.0 - z) ** 2)

    def sf(self, x):
        return self.cdf(2.0 * self.mode - np.asarray(x, np.float64))


def entropy(p):
    """Entropy -sum p log p of masses, in nats (0 log 0 = 0)."""
    nz = p[p > 0.0]
    return float(-(nz * np.log(nz)).sum())


@gamesim.hookimpl
def gamesim_register_distances(register):
    register(Bhattacharyya)


@gamesim.hookimpl
def gamesim_register_targets(register):
    register(Triangle)


@gamesim.hookimpl
def gamesim_record(state):
    return {"entropy_g": entropy(state.p_gen)}


@gamesim.hookimpl
def gamesim_run_end(scenario, directory):
    with open(os.path.join(directory, "entropy.txt"), "w") as f:
        f.write(f"data entropy {entropy(scenario.p_data):.12g} nats\n")
