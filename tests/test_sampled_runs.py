"""Sampled runs: seeding, exact metrics beside batch estimates, the batch-size limit, and the
validation of what cannot be trained from samples."""

import os

import numpy as np
import pytest

from conftest import SCENARIOS, read_run
from gamesim import engine, sampled, scenario
from gamesim.exact import Exact

GAN = """
seed = 0
iterations = 200
record_every = 50
[grid]
lower = -6.0
upper = 6.0
points = 1024
[target]
kind = "normal"
mean = 1.5
std = 0.6
[generator]
kind = "location_scale"
optimizer = { kind = "sgd", lr = 0.05 }
[discriminator]
kind = "logistic"
degree = 2
optimizer = { kind = "sgd", lr = 0.5 }
[game]
objective = "nonsaturating"
estimator = "sampled"
batch = 16
[metrics]
distances = ["w1"]
[output]
plots = []
"""


def final(result, column):
    return result.rows[-1][result.columns.index(column)]


def test_same_seed_same_bytes_other_seed_other_run(tmp_path, run_cli):
    path = os.path.join(SCENARIOS, "gan-sampled.toml")
    args = ("--set", "iterations=40", "--set", "output.snapshots=2", "--no-plots", "--quiet")
    for out, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert run_cli("run", path, "--out", tmp_path / out, "--set", f"seed={seed}",
                       *args).status == 0
    files = ("metrics.csv", "snapshots.npz")
    a, b, c = ({f: (tmp_path / d / f).read_bytes() for f in files} for d in "abc")
    assert a == b
    assert a["metrics.csv"] != c["metrics.csv"] and a["snapshots.npz"] != c["snapshots.npz"]


def test_each_iteration_draws_from_its_own_stream(write_scenario):
    """Recording more often changes no draw: the rows both runs record are identical."""
    path = write_scenario(GAN)
    sparse = engine.run(scenario.load(path))
    dense = engine.run(scenario.load(path, ["record_every=10"]))
    rows = {r[0]: r for r in dense.rows}
    assert [rows[r[0]] for r in sparse.rows] == sparse.rows
    g, d = sampled.streams(0, 7)
    assert g.random() != d.random() and sampled.streams(0, 7)[0].random() == \
        sampled.streams(0, 7)[0].random()


def test_metrics_are_exact_with_the_batch_estimate_beside_them(write_scenario):
    path = write_scenario(GAN)
    result = engine.run(scenario.load(path, ["iterations=0"]))
    exact = _exact_twin(path, ["iterations=0"])
    assert result.columns[:3] == ["iteration", "value", "batch_value"]
    row = dict(zip(result.columns, result.rows[0]))
    # the same initial players: exact columns agree to the bit, the estimate only roughly
    assert row["value"] == exact.rows[0][1] and row["w1"] == final(exact, "w1")
    assert row["batch_value"] != row["value"] and abs(row["batch_value"] - row["value"]) < 0.5


def _exact_twin(path, overrides=()):
    sc = scenario.load(path, overrides)
    sc.estimator, sc.sampling = "exact", None
    return engine.run(sc)


def test_a_larger_batch_follows_the_exact_run_more_closely(write_scenario):
    """At iteration 200, |W1(sampled) - W1(exact)| averaged over three seeds shrinks with the
    batch: 0.021, 0.0067 and 0.0013 at batches 16, 256 and 4096 (the noise of the gradient
    falls like 1 / sqrt(batch); h = 12 / 1024 keeps the O(h^2) bias below that)."""
    path = write_scenario(GAN)
    exact = final(_exact_twin(path), "w1")
    errors = []
    for batch in (16, 256, 4096):
        errors.append(np.mean([abs(final(engine.run(scenario.load(
            path, [f"game.batch={batch}", f"seed={seed}"])), "w1") - exact)
            for seed in range(3)]))
    assert errors[0] > 2 * errors[1] > 4 * errors[2], errors
    assert errors[2] < 0.005, errors


def test_the_target_may_draw_its_own_data(write_scenario):
    """A target with ``draw(rng, n)`` (raw data resampled, say) supplies the data batches."""
    sc = scenario.load(write_scenario(GAN))
    sc.target.draw = lambda rng, n: np.full(n, 0.25)
    assert np.all(sampled.Batches(sc, Exact(sc)).data(np.random.default_rng(0)) == 0.25)


def test_data_batches_are_cell_centres_with_probability_p_data(write_scenario):
    sc = scenario.load(write_scenario(GAN), ["game.data_batch=200000", "grid.points=64"])
    x = sampled.Batches(sc, Exact(sc)).data(np.random.default_rng(0))
    counts = np.bincount(np.searchsorted(sc.grid.x, x), minlength=64) / x.size
    assert set(np.unique(x)) <= set(sc.grid.x)
    assert np.abs(counts - sc.p_data).max() < 5 * np.sqrt(sc.p_data.max() / x.size)
    jittered = scenario.load(write_scenario(GAN), ["game.jitter=true", "grid.points=64"])
    y = sampled.Batches(jittered, Exact(jittered)).data(np.random.default_rng(0))
    assert not set(np.unique(y)) & set(sc.grid.x)


@pytest.mark.parametrize("overrides, key, words", [
    (["generator.kind='density'", "generator.optimizer.kind='mirror'"], "generator.kind",
     "exact-only"),
    (["discriminator={kind='oracle'}"], "discriminator.kind", "exact densities"),
    (["discriminator.regularizer={kind='r1'}"], "discriminator.regularizer.kind",
     "no sampled form"),
    (["game.estimator='exact'"], "game.batch", "only used with game.estimator = 'sampled'"),
    (["game.statistic='biased'"], "game.statistic", "only used in direct mode"),
])
def test_what_cannot_be_sampled_is_a_validation_error(write_scenario, run_cli, overrides, key,
                                                      words):
    path = write_scenario(GAN)
    result = run_cli("validate", path, *[a for o in overrides for a in ("--set", o)])
    assert result.status == 2, result.err
    assert key in result.err and words in result.err, result.err


def test_a_distance_without_a_sample_estimator_is_named(write_scenario, run_cli):
    path = write_scenario("""
        iterations = 1
        [target]
        kind = "normal"
        [generator]
        kind = "location_scale"
        [game]
        mode = "direct"
        distance = { kind = "kl" }
        estimator = "sampled"
    """)
    result = run_cli("validate", path)
    assert result.status == 2
    assert "game.distance.kind" in result.err and "'kl'" in result.err and \
        "sample_value_grad" in result.err


@pytest.mark.parametrize("name", ["gmmn-sampled", "gan-sampled"])
def test_the_sampled_scenarios_run_and_learn(tmp_path, run_cli, name):
    out = tmp_path / name
    result = run_cli("run", os.path.join(SCENARIOS, f"{name}.toml"), "--out", out,
                     "--set", "iterations=300", "--set", "output.snapshots=2", "--no-plots",
                     "--quiet")
    assert result.status == 0, result.err
    run = read_run(out)
    assert run.summary["status"] == "completed"
    assert "batch_value" in run.header
    assert run.metrics["w1"][-1] < 0.5 * run.metrics["w1"][0]
