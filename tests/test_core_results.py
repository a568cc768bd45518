"""The run directory: complete or absent, strict formats, identical bytes for identical runs."""

import json
import math
import os
import types
import zipfile

import numpy as np
import pytest

from gamesim import results
from gamesim.errors import GamesimError, RunDirectoryError
from gamesim.grid import Grid
from gamesim.recorder import Result


def fake_run(status="completed"):
    grid = Grid(-1.0, 1.0, 4)
    sc = types.SimpleNamespace(
        name="fake", description="d", seed=3, mode="adversarial", grid=grid,
        p_data=np.array([0.1, 0.2, 0.3, 0.4]), objective=types.SimpleNamespace(equilibrium=-1.5),
        resolved={"name": "fake", "seed": 3, "grid": {"lower": -1.0, "upper": 1.0, "points": 4}},
        overrides=[])
    result = Result(
        columns=["iteration", "value", "kl", "d_max_dev"],
        rows=[[0, -1.0, math.inf, 0.5], [5, -1.25, 0.125, 0.1]],
        snapshot_iterations=[0, 5], snapshot_p_gen=[np.full(4, 0.25), np.array([.1, .2, .3, .4])],
        snapshot_d=[np.full(4, 0.5), np.full(4, 0.5)], d_output="logit", status=status,
        iterations=5, failure=None, warnings=["w"], wall_seconds=0.25, extra_snapshots={})
    return sc, result


def write_run(out, sc, result, draw_plots=None):
    """The run directory ``out`` written as the command line writes one: reserved, written
    whole into its hidden folder, renamed into place."""
    with results.reserve(out) as reservation:
        reservation.write(sc, result, draw_plots)
        return reservation.commit()


def strict_json(path):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    with open(path) as f:
        return json.load(f, parse_constant=refuse)


def test_write_run_writes_every_file(tmp_path):
    sc, result = fake_run()
    out = write_run(tmp_path / "run", sc, result)
    assert out == str(tmp_path / "run")
    assert sorted(os.listdir(out)) == ["metrics.csv", "scenario.toml", "snapshots.npz",
                                       "summary.json"]
    with open(os.path.join(out, "metrics.csv")) as f:
        assert f.read() == ("iteration,value,kl,d_max_dev\n0,-1.0,inf,0.5\n"
                            "5,-1.25,0.125,0.1\n")
    summary = strict_json(os.path.join(out, "summary.json"))
    assert summary["final"] == {"iteration": 5, "value": -1.25, "kl": 0.125, "d_max_dev": 0.1}
    assert summary["status"] == "completed" and summary["seed"] == 3
    assert summary["equilibrium"] == -1.5 and summary["warnings"] == ["w"]
    assert set(summary["versions"]) == {"gamesim", "numpy", "numba"}
    with np.load(os.path.join(out, "snapshots.npz"), allow_pickle=False) as z:
        assert sorted(z.files) == ["d", "iterations", "p_data", "p_gen", "x"]
        assert z["p_gen"].shape == (2, 4) and z["iterations"].tolist() == [0, 5]
        np.testing.assert_array_equal(z["x"], sc.grid.x)
    assert os.listdir(tmp_path) == ["run"]  # no temporary sibling left
    data = results.RunData(out)
    assert data.summary == summary and data.columns["kl"][0] == math.inf


def test_non_finite_final_metrics_stay_strict_json(tmp_path):
    sc, result = fake_run("diverged")
    result.rows[-1] = [5, math.nan, math.inf, -math.inf]
    out = write_run(tmp_path / "run", sc, result)
    summary = strict_json(os.path.join(out, "summary.json"))
    assert summary["final"] == {"iteration": 5, "value": "nan", "kl": "inf", "d_max_dev": "-inf"}
    with open(os.path.join(out, "metrics.csv")) as f:
        assert f.read().splitlines()[-1] == "5,nan,inf,-inf"


def test_critic_snapshots_are_named_critic(tmp_path):
    sc, result = fake_run()
    result.d_output = "critic"
    out = write_run(tmp_path / "run", sc, result)
    with np.load(os.path.join(out, "snapshots.npz")) as z:
        assert "critic" in z.files and "d" not in z.files


def test_direct_mode_has_no_discriminator_snapshots(tmp_path):
    sc, result = fake_run()
    result.d_output, result.snapshot_d = None, []
    out = write_run(tmp_path / "run", sc, result)
    with np.load(os.path.join(out, "snapshots.npz")) as z:
        assert "critic" not in z.files and "d" not in z.files


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_a_failure_while_writing_leaves_nothing_behind(tmp_path, exc):
    sc, result = fake_run()
    seen = []

    def draw(directory):
        seen.append(sorted(os.listdir(directory)))
        raise exc("plotting failed")

    with pytest.raises(exc):
        write_run(tmp_path / "run", sc, result, draw)
    assert seen == [["metrics.csv", "scenario.toml", "snapshots.npz", "summary.json"]]
    assert os.listdir(tmp_path) == []


def test_an_existing_directory_is_refused_and_untouched(tmp_path):
    sc, result = fake_run()
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(GamesimError, match="already exists"):
        write_run(out, sc, result)
    assert os.listdir(out) == ["mine.txt"] and (out / "mine.txt").read_text() == "keep me"
    assert os.listdir(tmp_path) == ["run"]


def test_same_arrays_give_the_same_npz_bytes(tmp_path):
    arrays = {"x": np.linspace(0, 1, 7), "n": np.arange(3), "m": np.eye(2)}
    results.write_npz(tmp_path / "a.npz", arrays)
    results.write_npz(tmp_path / "b.npz", dict(arrays))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz", allow_pickle=False) as z:
        for key, value in arrays.items():
            np.testing.assert_array_equal(z[key], value)
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_object_arrays_are_not_pickled(tmp_path):
    with pytest.raises(ValueError):
        results.write_npz(tmp_path / "a.npz", {"o": np.array([{}], dtype=object)})


def test_reserve_never_reuses_a_directory_nor_one_being_written(tmp_path):
    root = tmp_path / "runs"
    first = results.reserve(name="x", root=root)
    assert first.final == os.path.join(root, "x")
    second = results.reserve(name="x", root=root)  # the first is still being written
    assert second.final == os.path.join(root, "x-2")
    second.release()
    first.release()
    assert not os.path.exists(root)  # released: the runs/ folder the first made is gone too
    os.makedirs(root / "x")
    assert results.reserve(name="x", root=root).final == os.path.join(root, "x-2")


def test_reading_a_missing_or_damaged_run_directory(tmp_path):
    with pytest.raises(RunDirectoryError, match="no such run directory"):
        results.RunData(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirectoryError, match="missing"):
        results.RunData(str(tmp_path / "empty"))
    sc, result = fake_run()
    out = write_run(tmp_path / "run", sc, result)
    with open(os.path.join(out, "metrics.csv"), "w") as f:
        f.write("iteration,value\n0,abc\n")
    with pytest.raises(RunDirectoryError, match="damaged"):
        results.RunData(out)
    out = write_run(tmp_path / "run2", sc, result)
    with open(os.path.join(out, "snapshots.npz"), "wb") as f:
        f.write(b"not a zip")
    with pytest.raises(RunDirectoryError, match="damaged"):
        results.RunData(out)
