"""Sweeps: one run per point, identical results whatever the executor, failures as rows."""

import csv
import os

import pytest

from gamesim.cli import main

SWEEP = """
name = "sw"
iterations = 60
record_every = 20
[grid]
points = 128
[target]
kind = "normal"
[generator]
kind = "density"
init = { kind = "normal", mean = 1.0, std = 2.0 }
[sweep]
"generator.optimizer.lr" = [0.25, 1.0, -1.0]
"game.objective" = ["minimax", "nonsaturating"]
"""


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "sw.toml"
    path.write_text(SWEEP)
    return path


@pytest.fixture(scope="module")
def parallel(scenario_file):
    out = scenario_file.parent / "parallel"
    assert main(["sweep", str(scenario_file), "--out", str(out), "--jobs", "2", "--quiet"]) == 0
    return out


def test_sweep_writes_one_directory_per_point_and_a_csv(parallel):
    rows = _rows(parallel / "sweep.csv")
    assert [r["run"] for r in rows][:2] == [
        "000-generator.optimizer.lr=0.25-game.objective=minimax",
        "001-generator.optimizer.lr=0.25-game.objective=nonsaturating"]
    assert len(rows) == 6
    ok = [r for r in rows if r["status"] == "completed"]
    assert len(ok) == 4
    for r in ok:
        assert os.path.isfile(parallel / r["run"] / "metrics.csv")
        assert not os.path.exists(parallel / r["run"] / "plots")  # no plots unless asked
    assert os.path.isfile(parallel / "sweep-js.png")


def test_a_bad_point_is_a_row_and_the_others_run(parallel):
    bad = [r for r in _rows(parallel / "sweep.csv") if r["generator.optimizer.lr"] == "-1.0"]
    assert len(bad) == 2
    for r in bad:
        assert r["status"] == "error"
        assert "generator.optimizer.lr" in r["error"] and "> 0" in r["error"]
        assert not os.path.exists(parallel / r["run"])


def test_serial_and_parallel_sweeps_agree_byte_for_byte(scenario_file, parallel):
    serial = scenario_file.parent / "serial"
    assert main(["sweep", str(scenario_file), "--out", str(serial), "--jobs", "1", "--quiet"]) == 0
    assert (serial / "sweep.csv").read_bytes() == (parallel / "sweep.csv").read_bytes()


def test_sweep_rows_equal_single_runs(parallel, tmp_path):
    single_file = tmp_path / "single.toml"
    single_file.write_text(SWEEP.split("[sweep]")[0])
    for r in _rows(parallel / "sweep.csv"):
        if r["status"] != "completed":
            continue
        out = tmp_path / r["run"]
        assert main(["run", str(single_file), "--out", str(out), "--no-plots", "--quiet",
                     "--set", f"generator.optimizer.lr={r['generator.optimizer.lr']}",
                     "--set", f"game.objective={r['game.objective']}"]) == 0
        assert (out / "metrics.csv").read_bytes() == \
            (parallel / r["run"] / "metrics.csv").read_bytes()
        final = _rows(out / "metrics.csv")[-1]
        for key, value in final.items():
            assert float(r[key]) == float(value)


def test_run_on_a_sweep_scenario_runs_the_sweep(scenario_file, tmp_path):
    out = tmp_path / "via-run"
    assert main(["run", str(scenario_file), "--out", str(out), "--no-plots", "--quiet"]) == 0
    assert len(_rows(out / "sweep.csv")) == 6


EXPLODING = """
import numpy as np
import gamesim


class Exploding:
    \"\"\"Plain gradient steps that turn into NaN after ``after`` steps.\"\"\"

    name = "exploding"
    after: int = gamesim.param(5, ge=0, help="steps before the NaN")

    def init_state(self, theta):
        return [0]

    def step(self, theta, grad, state):
        state[0] += 1
        theta -= 0.1 * grad
        if state[0] > self.after:
            theta[3] = np.nan
        return theta


@gamesim.hookimpl
def gamesim_register_optimizers(register):
    register(Exploding)
"""


def test_a_diverging_point_is_reported(tmp_path, monkeypatch):
    (tmp_path / "exploding_optimizer.py").write_text(EXPLODING)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "div.toml"
    path.write_text('plugins = ["exploding_optimizer"]\n' + SWEEP.replace(
        '"generator.optimizer.lr" = [0.25, 1.0, -1.0]',
        '"generator.optimizer" = [{ kind = "exploding", after = 7 }, { kind = "sgd" }]'))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--jobs", "2", "--quiet"]) == 0
    rows = _rows(out / "sweep.csv")
    assert [r["status"] for r in rows] == ["diverged", "diverged", "completed", "completed"]
    assert "generator parameters of optimizer 'exploding'" in rows[0]["error"]
    assert "iteration 8" in rows[0]["error"]
    assert rows[0]["iteration"] == "7"  # the last finite state is recorded
    assert os.path.isfile(out / rows[0]["run"] / "metrics.csv")


def test_sweep_errors_outside_the_sweep_table_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(SWEEP.replace('kind = "normal"\n[generator]', 'kind = "normall"\n[generator]'))
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "target.kind" in capsys.readouterr().err
    path.write_text(SWEEP.replace('[0.25, 1.0, -1.0]', '0.5'))
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "sweep.generator.optimizer.lr" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["bad.toml"]


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_sweep(scenario_file, parallel, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "dask"
        assert main(["sweep", str(scenario_file), "--out", str(out), "--executor", "dask",
                     "--scheduler", cluster.scheduler_address, "--quiet"]) == 0
    assert (out / "sweep.csv").read_bytes() == (parallel / "sweep.csv").read_bytes()
