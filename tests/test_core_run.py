"""The run directory's contract (docs/design.md, "Run directory"): rows, columns, snapshots, statuses,
and a resolved scenario.toml that runs again to the same numbers."""

import tomllib

import numpy as np
import pytest

from conftest import LOG4

MINIMAL = """
[target]
kind = "normal"
[generator]
kind = "density"
init = { kind = "normal", mean = 1.0, std = 2.0 }
"""


def test_defaults_are_filled_into_the_resolved_scenario(run_scenario):
    run = run_scenario(MINIMAL, "--set", "iterations=20")
    resolved = tomllib.loads(run.scenario_text)
    assert resolved["name"].startswith("scenario-")  # the file's stem
    assert resolved["seed"] == 0 and resolved["record_every"] == 10
    assert resolved["grid"] == {"lower": -8.0, "upper": 8.0, "points": 512}
    assert resolved["target"] == {"kind": "normal", "mean": 0.0, "std": 1.0}
    assert resolved["generator"]["optimizer"]["kind"] == "mirror"
    assert resolved["generator"]["optimizer"]["lr"] == 1.0
    assert resolved["discriminator"]["kind"] == "oracle"
    assert resolved["game"]["mode"] == "adversarial" and resolved["game"]["objective"] == "minimax"
    assert resolved["metrics"]["distances"] == ["js", "kl", "w1", "tv"]
    assert run.header[:8] == ["iteration", "value", "js", "kl", "w1", "tv", "mass_outside",
                          "d_max_dev"]
    assert run.snapshots["p_gen"].shape[1] == 512 and run.snapshots["x"].shape == (512,)


def test_the_resolved_scenario_runs_again_to_the_same_bytes(run_scenario, tmp_path):
    first = run_scenario(MINIMAL, "--set", "iterations=15", "--set", "record_every=4")
    again = run_scenario(first.scenario_text)
    assert tomllib.loads(again.scenario_text) == tomllib.loads(first.scenario_text)
    with open(f"{first.path}/metrics.csv", "rb") as a, open(f"{again.path}/metrics.csv", "rb") as b:
        assert a.read() == b.read()


@pytest.mark.parametrize("iterations,every,rows", [
    (25, 10, [0, 10, 20, 25]), (20, 10, [0, 10, 20]), (3, 10, [0, 3]), (0, 5, [0]),
    (4, 1, [0, 1, 2, 3, 4])])
def test_rows_are_iteration_0_every_record_every_and_the_last(run_scenario, iterations, every,
                                                              rows):
    run = run_scenario(MINIMAL, "--set", f"iterations={iterations}",
                       "--set", f"record_every={every}")
    assert run.metrics["iteration"].tolist() == rows
    assert run.summary["status"] == "completed" and run.summary["iterations"] == iterations
    final = {k: v for k, v in run.summary["final"].items()}
    assert final["iteration"] == rows[-1] and final["value"] == run.last("value")
    assert np.all(run.metrics["mass_outside"] == 0.0)


def test_snapshots_evenly_spaced_or_listed(run_scenario):
    run = run_scenario(MINIMAL, "--set", "iterations=20", "--set", "output.snapshots=5")
    assert run.snapshots["iterations"].tolist() == [0, 5, 10, 15, 20]
    run = run_scenario(MINIMAL, "--set", "iterations=20", "--set", "output.snapshots=[3, 0, 7]")
    assert run.snapshots["iterations"].tolist()[:3] == [0, 3, 7]
    assert run.snapshots["p_gen"].shape == (len(run.snapshots["iterations"]), 512)
    assert run.snapshots["d"].shape == run.snapshots["p_gen"].shape


def test_snapshot_at_iteration_0_is_the_initial_density(run_scenario):
    from scipy import stats
    run = run_scenario(MINIMAL, "--set", "iterations=2")
    edges = np.linspace(-8, 8, 513)
    for dist, p in ((stats.norm(1.0, 2.0), run.snapshots["p_gen"][0]),
                    (stats.norm(), run.snapshots["p_data"])):
        ref = np.where(edges[:-1] < dist.median(), np.diff(dist.cdf(edges)),
                       -np.diff(dist.sf(edges)))
        np.testing.assert_allclose(p, ref / ref.sum(), rtol=1e-11)


def test_stop_condition_ends_the_run_as_converged_at_the_first_row_below(run_scenario):
    run = run_scenario(MINIMAL, "--set", "iterations=500", "--set", "record_every=3",
                       "--set", "stop={metric='tv', below=1e-4}")
    assert run.summary["status"] == "converged"
    tv = run.metrics["tv"]
    assert tv[-1] < 1e-4 and np.all(tv[:-1] >= 1e-4)
    last = int(run.metrics["iteration"][-1])
    assert last % 3 == 0 and run.summary["iterations"] == last < 500
    assert run.snapshots["iterations"][-1] == last  # the final state is kept as a snapshot
    assert run.last("value") == pytest.approx(-LOG4 + 2 * run.last("js"), abs=1e-12)


def test_summary_fields(run_scenario):
    run = run_scenario(MINIMAL, "--set", "iterations=5", "--set", "seed=11")
    s = run.summary
    for key in ("name", "status", "iterations", "final", "seed", "wall_seconds", "versions",
                "warnings"):
        assert key in s, key
    assert s["seed"] == 11 and s["status"] == "completed" and s["warnings"] == []
    assert 0 < s["wall_seconds"] < 60
    import gamesim, numba  # noqa: E401
    assert s["versions"]["gamesim"] == gamesim.__version__
    assert s["versions"]["numpy"] == np.__version__ and s["versions"]["numba"] == numba.__version__
    assert s["final"]["value"] == pytest.approx(-LOG4 + 2 * s["final"]["js"], abs=1e-9)


@pytest.mark.parametrize("size", [1, 5, 512, 1003])
def test_divergence_check_finds_the_first_non_finite_entry(size):
    from gamesim.divergence import first_bad

    x = np.linspace(-1.0, 1.0, size)
    assert first_bad(x, False) == -1
    x[size // 2] = -np.inf
    assert first_bad(x, True) == -1  # a logit of -inf is a zero mass
    assert first_bad(x, False) == size // 2
    for bad in (np.nan, -np.nan, np.inf):
        y = x.copy()
        y[-1] = bad
        assert first_bad(y, True) == size - 1
        y[0] = bad
        assert first_bad(y, True) == 0


def test_non_finite_initial_parameters_are_the_generators(write_scenario, monkeypatch):
    from gamesim import engine, scenario

    sc = scenario.load(write_scenario("iterations = 5\n" + MINIMAL))
    theta = np.zeros(sc.grid.points)
    theta[7] = np.nan
    monkeypatch.setattr(sc.generator, "init_params", lambda rng: theta, raising=False)
    result = engine.run(sc)
    assert result.status == "diverged" and result.rows == []
    assert result.failure == {"quantity": "generator parameters", "plugin": "generator 'density'",
                              "iteration": 0, "index": 7}


def test_large_grids_reuse_freed_memory_without_page_faults(write_scenario):
    """At N = 65536 each iteration frees and allocates arrays of 512 KiB; glibc would give them
    back to the system and page-fault them in again (240 faults an iteration measured), unless
    the engine has raised its thresholds (gamesim/_malloc.py)."""
    from gamesim import _malloc, engine, scenario

    if not _malloc.retain_freed_memory():
        pytest.skip("glibc's allocator only")
    import resource  # Unix only: after the skip

    sc = scenario.load(write_scenario("iterations = 50\n[grid]\npoints = 65536\n" + MINIMAL))
    engine.run(sc)  # the heap grows to what an iteration needs
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    engine.run(sc)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 50
