"""The direct route: the generator descends a distance to the data, no discriminator plays."""

import math
import os

import numpy as np
import pytest

from conftest import SCENARIOS
from gamesim import engine, scenario
from gamesim.grid import Grid
from test_distances import ALL, make


def run(name, *overrides):
    sc = scenario.load(os.path.join(SCENARIOS, f"{name}.toml"), overrides)
    return sc, engine.run(sc)


def tv(p, q):
    return 0.5 * float(np.abs(p - q).sum())


@pytest.fixture(scope="module")
def mmd_run():
    return run("ideal-direct-mmd")


def test_both_routes_reach_the_data(mmd_run):
    """The chapter's claim: descending MMD directly and playing the minimax game against an
    oracle discriminator lead the free density to the same generator, p_g = p_data."""
    sc, direct = mmd_run
    assert direct.iterations <= 5000 and direct.status == "converged"
    assert tv(direct.snapshot_p_gen[-1], sc.p_data) < 1e-3
    sc_oracle, oracle = run("ideal-oracle")
    assert np.array_equal(sc_oracle.p_data, sc.p_data)
    assert tv(oracle.snapshot_p_gen[-1], sc.p_data) < 1e-3
    assert tv(oracle.snapshot_p_gen[-1], direct.snapshot_p_gen[-1]) < 1e-3


def test_value_is_the_distance(mmd_run):
    sc, result = mmd_run
    assert "d_max_dev" not in result.columns and result.snapshot_d == []
    value = result.rows[-1][result.columns.index("value")]
    assert value == pytest.approx(sc.distance.value(sc.p_data, result.snapshot_p_gen[-1]),
                                  rel=1e-12)
    values = [row[1] for row in result.rows]
    assert values[-1] < 1e-6 * values[0]


def test_single_bandwidth_leaves_detail_unmatched():
    """Why ideal-direct-mmd uses three bandwidths: 0.5 alone is still above TV 1e-3 at 3000."""
    sc, result = run("ideal-direct-mmd", "game.distance.bandwidth=0.5", "iterations=3000")
    assert tv(result.snapshot_p_gen[-1], sc.p_data) > 1e-3


def test_direct_w1_descends():
    sc, result = run("ideal-direct-w1")
    w1 = [row[result.columns.index("w1")] for row in result.rows]
    assert result.status == "completed"
    assert w1[0] > 0.9 and w1[-1] < 0.01
    assert tv(result.snapshot_p_gen[-1], sc.p_data) < 0.01


SMALL = """
iterations = 200
record_every = 50
[grid]
lower = -5.0
upper = 5.0
points = 64
[target]
kind = "normal"
mean = 0.5
std = 0.8
[generator]
kind = "density"
init = {{ kind = "normal", mean = -1.0, std = 2.0 }}
optimizer = {{ kind = "mirror", lr = {lr} }}
[game]
mode = "direct"
distance = {{ kind = "{kind}" }}
[metrics]
distances = ["tv"]
"""


@pytest.mark.parametrize("kind", ALL)
def test_every_distance_is_a_direct_loss(kind, run_scenario):
    """Each distance drives the free density towards the data (no NaN, no divergence)."""
    lr = {"chi2": 0.02, "w1": 0.01, "w2": 0.01, "energy": 0.05, "cramer": 0.1, "ks": 0.02}
    result = run_scenario(SMALL.format(kind=kind, lr=lr.get(kind, 0.2)))
    assert result.summary["status"] == "completed"
    value, distance_tv = result.metrics["value"], result.metrics["tv"]
    assert np.isfinite(value).all()
    assert value[-1] < 0.5 * value[0] and distance_tv[-1] < 0.5 * distance_tv[0]


def test_direct_value_column_on_disk(run_scenario):
    """metrics.csv's value is D(p_data, p_g) of the recorded row, here recorded as w1 too."""
    text = SMALL.format(kind="w1", lr=0.01).replace('distances = ["tv"]', 'distances = ["w1"]')
    result = run_scenario(text)
    assert np.array_equal(result.metrics["value"], result.metrics["w1"])
    grid = Grid(-5.0, 5.0, 64)
    p_g, p_d = result.snapshots["p_gen"][-1], result.snapshots["p_data"]
    assert result.last("value") == pytest.approx(make("w1", grid).value(p_d, p_g), rel=1e-12)


def test_discriminator_table_is_an_error(write_scenario, run_cli):
    text = SMALL.format(kind="mmd", lr=0.2) + '[discriminator]\nkind = "oracle"\n'
    result = run_cli("validate", write_scenario(text))
    assert result.status == 2
    assert "discriminator" in result.err and "direct mode" in result.err


def test_direct_mode_needs_a_distance(write_scenario, run_cli):
    text = SMALL.format(kind="mmd", lr=0.2).replace('distance = { kind = "mmd" }\n', "")
    result = run_cli("validate", write_scenario(text))
    assert result.status == 2 and "game.distance" in result.err and "mmd" in result.err


def test_bad_distance_parameter_is_an_error(write_scenario, run_cli):
    text = SMALL.format(kind="mmd", lr=0.2).replace('{ kind = "mmd" }',
                                                     '{ kind = "mmd", bandwidth = [0.5, -1.0] }')
    result = run_cli("validate", write_scenario(text))
    assert result.status == 2 and "game.distance.bandwidth" in result.err


def test_infinite_loss_is_recorded_not_nan(run_scenario):
    """Reverse KL to a target with holes is inf at the start; the mirror step removes the
    generated mass from the holes (gradient +inf there) and the loss becomes finite."""
    text = SMALL.format(kind="reverse_kl", lr=0.2).replace(
        'kind = "normal"\nmean = 0.5\nstd = 0.8', 'kind = "uniform"\nlower = -1.0\nupper = 2.0')
    result = run_scenario(text)
    value = result.metrics["value"]
    assert value[0] == math.inf and not np.isnan(value).any()
    assert np.isfinite(value[1:]).all() and value[-1] < 0.01
