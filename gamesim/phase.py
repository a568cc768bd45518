"""The phase portrait's field: both players' descent directions on a grid of (theta, psi)
spanning a one-parameter-each game's recorded trajectory (the Dirac-GAN)."""

import numpy as np

from .divergence import Diverged
from .field import gradients

POINTS = 15  # the field is sampled on POINTS^2 points


def applies(players, theta, psi):
    """Whether a game has a phase portrait: a parametrized discriminator, one parameter each."""
    return players.parametrized and theta.size == 1 and psi.size == 1


def field(players, columns, rows, iteration):
    """{"phase_theta", "phase_psi", "phase_grad_theta", "phase_grad_psi"}: POINTS x POINTS
    arrays of the exact gradients, minus the field of :mod:`gamesim.field` (``players``: a
    :class:`gamesim.exact.Exact`), on the range of the first ``g.`` and ``d.`` columns of
    ``rows``, padded by 15%; {} where that range is not finite. The gradients are those of
    ``iteration`` (the run's last state): with annealed instance noise the field changes
    along the run, and the portrait shows the one the trajectory ends in."""
    g_col = next(i for i, c in enumerate(columns) if c.startswith("g."))
    d_col = next(i for i, c in enumerate(columns) if c.startswith("d."))
    axes = []
    for col in (g_col, d_col):
        values = np.array([r[col] for r in rows], float)
        values = values[np.isfinite(values)]
        lo, hi = (values.min(), values.max()) if values.size else (-1.0, 1.0)
        pad = 0.15 * (hi - lo) if hi > lo else 1.0
        axes.append(np.linspace(lo - pad, hi + pad, POINTS))
    if not np.all(np.isfinite(axes)):  # a trajectory spanning more than the doubles do
        return {}
    theta, psi = np.meshgrid(*axes, indexing="xy")
    grad_theta, grad_psi = np.zeros_like(theta), np.zeros_like(psi)
    for idx in np.ndindex(theta.shape):
        try:
            g_theta, g_psi = gradients(players, np.array([theta[idx]]), np.array([psi[idx]]),
                                       iteration)
            grad_theta[idx], grad_psi[idx] = g_theta[0], g_psi[0]
        except Diverged:
            pass  # an arrow of length 0 where the field is not finite
    return {"phase_theta": theta, "phase_psi": psi, "phase_grad_theta": grad_theta,
            "phase_grad_psi": grad_psi}
