"""Sweeps: one run per point, identical results whatever the executor, failures as rows."""

import csv
import os
import urllib.parse

import pytest

import gamesim
from gamesim import scenario, sweep
from gamesim.cli import main

from conftest import tree

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
NAMES = ["000-generator.optimizer.lr=0.25-game.objective=minimax",
         "001-generator.optimizer.lr=0.25-game.objective=nonsaturating",
         "002-generator.optimizer.lr=1-game.objective=minimax",
         "003-generator.optimizer.lr=1-game.objective=nonsaturating",
         "004-generator.optimizer.lr=-1-game.objective=minimax",
         "005-generator.optimizer.lr=-1-game.objective=nonsaturating"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "sw.toml"
    path.write_text(SWEEP)
    return path


def _sweep(scenario_file, name, *options):
    out = scenario_file.parent / name
    assert main(["sweep", str(scenario_file), "--out", str(out), "--quiet", *options]) == 0
    return out


@pytest.fixture(scope="module")
def parallel(scenario_file):
    """Two worker processes, each point's run directory written."""
    return _sweep(scenario_file, "parallel", "--jobs", "2", "--point-dirs")


@pytest.fixture(scope="module")
def lean(scenario_file):
    """Two worker processes, no point directories (the default)."""
    return _sweep(scenario_file, "lean", "--jobs", "2")


def test_by_default_a_sweep_writes_its_table_plot_and_page_only(lean):
    assert tree(lean) == ["report.html", "sweep-js.png", "sweep.csv"]
    rows = _rows(lean / "sweep.csv")
    assert [r["run"] for r in rows] == NAMES  # named as their directories would be
    assert [r["status"] for r in rows] == ["completed"] * 4 + ["error"] * 2
    assert 0 < float(rows[2]["js"]) < float(rows[0]["js"])  # lr 1 gets closer than lr 0.25


def test_point_dirs_writes_one_directory_per_valid_point(parallel):
    assert [r["run"] for r in _rows(parallel / "sweep.csv")] == NAMES
    files = ("metrics.csv", "scenario.toml", "snapshots.npz", "summary.json")  # no plots
    assert tree(parallel) == sorted(["report.html", "sweep-js.png", "sweep.csv", *NAMES[:4],
                                     *(os.path.join(n, f) for n in NAMES[:4] for f in files)])


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("dirs", [(), ("--point-dirs",)])
def test_sweep_csv_is_the_same_bytes_whatever_the_jobs_and_directories(scenario_file, lean,
                                                                       jobs, dirs):
    out = _sweep(scenario_file, f"jobs{jobs}{''.join(dirs)}", "--jobs", jobs, *dirs)
    assert (out / "sweep.csv").read_bytes() == (lean / "sweep.csv").read_bytes()
    assert (out / "report.html").read_bytes() == (lean / "report.html").read_bytes()


def test_a_bad_point_is_a_row_and_the_others_run(parallel):
    bad = [r for r in _rows(parallel / "sweep.csv") if r["generator.optimizer.lr"] == "-1.0"]
    assert len(bad) == 2
    for r in bad:
        assert r["status"] == "error"
        assert "generator.optimizer.lr" in r["error"] and "> 0" in r["error"]
        assert not os.path.exists(parallel / r["run"])


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


def test_plots_and_point_pages_imply_point_directories(scenario_file):
    out = _sweep(scenario_file, "pages", "--jobs", "1", "--plots", "--point-pages",
                 "--set", 'output.plots=["convergence"]',
                 "--set", 'sweep={"generator.optimizer.lr"=[0.25, 1.0]}')
    names = ["000-generator.optimizer.lr=0.25", "001-generator.optimizer.lr=1"]
    for name in names:
        assert sorted(os.listdir(out / name)) == ["metrics.csv", "plots", "report.html",
                                                  "scenario.toml", "snapshots.npz",
                                                  "summary.json"]
        assert os.listdir(out / name / "plots") == ["convergence.png"]
    page = (out / "report.html").read_text()
    assert [f'href="{urllib.parse.quote(n)}/report.html"' in page for n in names] == [True] * 2
    assert page.count("/report.html\"") == 2


def test_point_pages_of_a_sweep_without_point_directories_are_refused(lean, capsys):
    before = (lean / "report.html").read_bytes()
    assert main(["view", str(lean), "--point-pages"]) == 2
    err = capsys.readouterr().err
    assert "--point-pages: the sweep's points have no run directories" in err
    assert "--point-dirs" in err
    assert (lean / "report.html").read_bytes() == before
    assert main(["view", str(lean)]) == 0  # the sweep's own page needs only sweep.csv


def test_the_scenario_file_is_read_once_for_all_points_and_workers(scenario_file, tmp_path,
                                                                   monkeypatch):
    log = tmp_path / "reads.log"
    read = scenario.read_toml

    def logged(path):
        with open(log, "a") as f:  # appended by the forked workers too
            f.write(f"{os.getpid()}\n")
        return read(path)

    monkeypatch.setattr(scenario, "read_toml", logged)
    for jobs in (1, 2):
        rows, _ = sweep.run_sweep(str(scenario_file), jobs=jobs, write=False)
        assert [r["status"] for r in rows] == ["completed"] * 4 + ["error"] * 2
    assert log.read_text().splitlines() == [str(os.getpid())] * 2


class Counter:
    def __init__(self):
        self.calls, self.closed = [], False

    def __call__(self, done):
        self.calls.append(done)

    def close(self):
        self.closed = True


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_counts_every_point_in_chunks_of_consecutive_points(scenario_file, jobs):
    bar = Counter()
    rows, _ = sweep.run_sweep(str(scenario_file), jobs=jobs, write=False, progress=bar,
                              overrides=['sweep.seed=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]'])
    assert len(rows) == 60 and [r["index"] for r in rows] == list(range(60))
    assert bar.calls == list(range(1, 61)) and bar.closed
    assert [[i for i, _ in chunk] for chunk in sweep._chunks("abcde", 2)] == \
        [[0, 1], [2, 3], [4]]
    assert sweep._chunk_size(60, 2) == 1 and sweep._chunk_size(10000, 2) == 156


def test_a_summary_column_is_one_entry_of_summary_columns(scenario_file, monkeypatch):
    monkeypatch.setattr(sweep, "SUMMARY_COLUMNS", {"mode": ("mode",),
                                                   "absent": ("stability", "radius")})
    rows, _ = sweep.run_sweep(str(scenario_file), jobs=1, write=False)
    assert list(rows[0])[-3:] == ["mode", "status", "error"]  # after the final metrics
    assert "absent" not in rows[0]  # no point's summary has it: no column
    assert [r["mode"] for r in rows] == ["adversarial"] * 4 + [""] * 2


def test_api_run_sweep_writes_point_directories_only_when_asked(scenario_file, tmp_path):
    lean_rows = gamesim.run_sweep(scenario_file, out=tmp_path / "a", jobs=1)
    rows = gamesim.run_sweep(scenario_file, out=tmp_path / "b", jobs=1, point_dirs=True)
    assert rows == lean_rows
    assert sorted(os.listdir(tmp_path / "a")) == ["report.html", "sweep-js.png", "sweep.csv"]
    assert sorted(os.listdir(tmp_path / "b")) == sorted(["report.html", "sweep-js.png",
                                                         "sweep.csv", *NAMES[:4]])
    assert [r["run"] for r in rows] == NAMES
    assert rows[2]["js"] == float(_rows(tmp_path / "b" / NAMES[2] / "metrics.csv")[-1]["js"])


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
    assert main(["sweep", str(path), "--out", str(out), "--jobs", "2", "--quiet",
                 "--point-dirs"]) == 0
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
def test_dask_local_cluster_gives_the_same_sweep(scenario_file, lean, parallel, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        for dirs in ((), ("--point-dirs",)):
            out = tmp_path / f"dask{''.join(dirs)}"
            assert main(["sweep", str(scenario_file), "--out", str(out), "--executor", "dask",
                         "--scheduler", cluster.scheduler_address, "--quiet", *dirs]) == 0
            assert (out / "sweep.csv").read_bytes() == (lean / "sweep.csv").read_bytes()
            assert tree(out) == tree(parallel if dirs else lean)
