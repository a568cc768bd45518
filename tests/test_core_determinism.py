"""The same scenario and seed give byte-identical metrics.csv and snapshots.npz."""

import os

import pytest

from conftest import SCENARIOS, run_subprocess

FILES = ("metrics.csv", "snapshots.npz", "scenario.toml")


def read(directory):
    return {name: (directory / name).read_bytes() for name in FILES}


@pytest.mark.slow
def test_two_runs_are_byte_identical(tmp_path, run_cli):
    scenario = os.path.join(SCENARIOS, "ideal-oracle.toml")
    args = ("--set", "iterations=50", "--set", "seed=7", "--no-plots", "--quiet")
    assert run_cli("run", scenario, "--out", tmp_path / "a", *args).status == 0
    assert run_cli("run", scenario, "--out", tmp_path / "b", *args).status == 0
    a, b = read(tmp_path / "a"), read(tmp_path / "b")
    assert a == b
    assert len(a["metrics.csv"].splitlines()) == 52  # header + iterations 0..50
    # in a fresh process with another hash seed, too
    result = run_subprocess(["run", scenario, "--out", tmp_path / "c", *args],
                            env={"PYTHONHASHSEED": "123"})
    assert result.returncode == 0, result.stderr
    assert read(tmp_path / "c") == a


def test_a_different_setting_changes_the_bytes(tmp_path, run_cli):
    """The comparison above can fail: a changed learning rate gives other bytes."""
    scenario = os.path.join(SCENARIOS, "ideal-oracle.toml")
    args = ("--set", "iterations=20", "--no-plots", "--quiet")
    assert run_cli("run", scenario, "--out", tmp_path / "a", *args).status == 0
    assert run_cli("run", scenario, "--out", tmp_path / "b", *args,
                   "--set", "generator.optimizer.lr=0.9").status == 0
    a, b = read(tmp_path / "a"), read(tmp_path / "b")
    assert a["metrics.csv"] != b["metrics.csv"] and a["snapshots.npz"] != b["snapshots.npz"]
