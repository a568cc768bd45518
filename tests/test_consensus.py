"""Consensus optimization (``[game] consensus = gamma``): the players step along
v - gamma J^T v. J^T v against the Dirac-GAN's closed form, the run converging where plain
simultaneous play spirals out, its update map, the loop being step() repeated."""

import os

import numpy as np
import pytest

import gamesim
from conftest import SCENARIOS
from gamesim import engine, field, scenario
from gamesim.exact import Exact

CONSENSUS = os.path.join(SCENARIOS, "dirac-gan-consensus.toml")


def final_distance(overrides=()):
    result = engine.run(scenario.load(CONSENSUS, list(overrides)))
    row = dict(zip(result.columns, result.rows[-1]))
    return float(np.hypot(row["g.theta"], row["d.w1"])), result


def test_consensus_converges_where_plain_play_spirals_out():
    """From (1, 1): plain sgd (lr 0.1) ends 1000 iterations farther out than it started
    (radius sqrt(1 + h^2 / 4) > 1 at the equilibrium); with gamma = 1 it ends within 1e-9."""
    start = np.hypot(1.0, 1.0)
    plain, _ = final_distance(["game.consensus=0.0"])
    with_consensus, result = final_distance()
    assert plain > 1.5 * start
    assert with_consensus < 1e-9
    summary = result.summary_sections["stability"]
    assert summary["verdict"]["update"] == "stable"
    assert summary["measured_rate"] == pytest.approx(summary["spectral_radius"], rel=1e-6)


def test_alternating_consensus_converges_too():
    distance, _ = final_distance(["game.schedule='alternating'", "iterations=1000"])
    assert distance < 1e-9


def test_the_consensus_direction_against_the_closed_form():
    """At psi = 0 and theta a cell centre the discrete field is v = (0, -theta / 2) with
    J = [[0, 1/2], [-1/2, -theta^2 / 4]], so g + gamma J^T v = (gamma theta / 4,
    theta / 2 + gamma theta^3 / 8)."""
    sc = scenario.load(CONSENSUS)
    players = Exact(sc)
    theta = sc.grid.x[450]
    point = players.point(np.array([theta]), np.array([0.0]))
    for gamma in (0.5, 2.0):
        g_theta, g_psi = field.consensus(players, point, gamma)
        assert g_theta[0] == pytest.approx(gamma * theta / 4, rel=1e-8, abs=1e-12)
        assert g_psi[0] == pytest.approx(theta / 2 + gamma * theta ** 3 / 8, rel=1e-8)


def test_the_update_map_with_consensus():
    """The played flow's Jacobian is J - gamma J^T J = J - gamma / 4 at (0, 0), so sgd's
    update map has eigenvalues 1 + h (-gamma / 4 +- i / 2)."""
    h, gamma = 0.1, 1.0
    (point,) = engine.analyze(scenario.load(CONSENSUS), {"theta": [0.0], "psi": [0.0]})[
        "points"]
    expected = np.sort_complex(np.array([1 + h * (-gamma / 4 + 0.5j), 1 + h * (-gamma / 4 - 0.5j)]))
    values = np.sort_complex(np.array([a + 1j * b for a, b in point["update_eigenvalues"]]))
    assert np.abs(values - expected).max() < 1e-6
    played = np.array([a + 1j * b for a, b in point["consensus_jacobian_eigenvalues"]])
    assert np.abs(np.sort_complex(played) - np.sort_complex(
        np.array([-0.25 + 0.5j, -0.25 - 0.5j]))).max() < 1e-6
    assert point["verdict"] == {"flow": "marginal", "consensus_flow": "stable",
                                "update": "stable", "predicted_rate": point["spectral_radius"]}


def test_the_loop_is_step_repeated_with_consensus():
    n = 30
    sc = scenario.load(CONSENSUS, [f"iterations={n}"])
    result = engine.run(sc)
    step = engine.iteration(sc)
    theta, psi, states = step.initial()
    for it in range(n):
        theta, psi, states = step(theta, psi, states, it)
    row = dict(zip(result.columns, result.rows[-1]))
    assert row["g.theta"] == theta[0] and row["d.w1"] == psi[0]


@pytest.mark.parametrize("override, message", [
    (["generator={kind='density'}", "generator.optimizer={kind='mirror'}",
      "discriminator={kind='oracle'}", "game.schedule='alternating'"], "mirror"),
    (["game.estimator='sampled'"], "exact"),
])
def test_consensus_is_refused_where_it_has_no_meaning(override, message):
    with pytest.raises(gamesim.GamesimError, match=message):
        scenario.load(CONSENSUS, override)
