"""gamesim analyze and gamesim reproduce at the command line, and their Python API forms."""

import json
import os
import shutil

import pytest
from conftest import SCENARIOS, gamesim_cli

import gamesim
from gamesim import literature

R1 = os.path.join(SCENARIOS, "dirac-gan-r1.toml")


@pytest.fixture(scope="module")
def r1_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("analyze") / "r1"
    gamesim.run(R1, {"analysis": {}}, out=out, plots=False)
    return out


def test_analyze_writes_stability_json_and_prints_each_point(run_cli, r1_run):
    result = run_cli("analyze", r1_run, "--at", "end", "--at", "start", "--at", "250")
    assert result.status == 0, result.err
    document = json.loads((r1_run / "stability.json").read_text())
    labels = [p["label"] for p in document["points"]]
    assert labels == ["end", "start", "iteration"]
    assert document["points"][2]["iteration"] == 250
    end = document["points"][0]
    # R1 with gamma = 1 and lr 0.1: J's eigenvalue -1/2 (repeated), so rho = 1 - 0.1/2
    assert end["verdict"]["update"] == "stable"
    assert end["spectral_radius"] == pytest.approx(0.95, abs=1e-4)
    # the repeated eigenvalue is a Jordan block: the distance decays like t rho^t, a little
    # slower than rho over the fitted window (tests/test_stability.py compares gamma != 1)
    assert 0.95 < end["measured_rate"] < 0.955
    lines = result.out.splitlines()
    assert lines[0].startswith("end (iteration 500): ") and "spectral radius 0.95" in lines[0]
    assert "stable" in lines[0] and "measured 0.95" in lines[0]
    assert "local linearization" in lines[1]  # the start (1, 1) is not stationary
    assert lines[-1] == os.fspath(r1_run / "stability.json")
    assert (r1_run / "plots" / "eigenvalues.png").read_bytes()[:4] == b"\x89PNG"


def test_analyze_refuses_a_bad_place_and_a_direct_run(run_cli, r1_run, tmp_path):
    result = run_cli("analyze", r1_run, "--at", "middle")
    assert result.status == 2 and "--at" in result.err and "'end'" in result.err
    direct = tmp_path / "direct"
    gamesim.run(os.path.join(SCENARIOS, "ideal-direct-w1.toml"), {"iterations": 2},
                out=direct, plots=False)
    result = run_cli("analyze", direct)
    assert result.status == 2 and "direct mode" in result.err
    assert not (direct / "stability.json").exists()


def test_api_analyze_takes_a_scenario_file_or_a_run(r1_run):
    at_equilibrium = gamesim.analyze(R1, {"theta": [0.0], "psi": [0.0]})
    point = at_equilibrium["points"][0]
    # J = [[0, -1/2], [1/2, -1]]: the eigenvalue -1/2, repeated (it splits by about sqrt of
    # the differences' error, docs/stability.md)
    assert all(abs(complex(*z) + 0.5) < 1e-3 for z in point["jacobian_eigenvalues"])
    again = gamesim.analyze_run(gamesim.load_run(r1_run))
    assert again["points"][0]["spectral_radius"] == pytest.approx(0.95, abs=1e-4)


def test_reproduce_quick_exits_0_and_writes_its_report(run_cli, tmp_path):
    result = run_cli("reproduce", "--quick", "--out", tmp_path / "report")
    assert result.status == 0, result.err
    text = (tmp_path / "report" / "report.md").read_text()
    assert "**FAIL**" not in text and "checks pass" in text
    assert "Mescheder" in text and "Goodfellow" in text and "Arjovsky" in text
    assert result.out.splitlines()[-1] == os.fspath(tmp_path / "report" / "report.md")


def broken(quick):
    """A deliberately broken check: its claim is off."""
    return [literature.row("nobody", "1 + 1 = 3", 3.0, 2.0, 1e-9)], None


def test_reproduce_exits_3_when_a_check_fails(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(literature, "CHECKS", (literature.arjovsky_example_1, broken))
    result = run_cli("reproduce", "--out", tmp_path / "report")
    assert result.status == 3
    assert "1 of 5 checks failed" in result.err and "1 + 1 = 3" in result.err
    assert "**FAIL**" in (tmp_path / "report" / "report.md").read_text()


def test_the_commands_as_a_user_types_them(tmp_path):
    """The console script from a plain folder: run with [analysis] stability, analyze the run
    at more places, reproduce --quick; everything lands under the folder's runs/."""
    shutil.copy(R1, tmp_path / "dirac-gan-r1.toml")
    proc = gamesim_cli(["run", "dirac-gan-r1.toml", "--no-plots"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "stability at end (iteration 500): " in proc.stdout and "update stable" in proc.stdout
    proc = gamesim_cli(["analyze", "runs/dirac-gan-r1", "--at", "start", "--at", "snapshots"],
                       tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("start (iteration 0): ") and len(lines) == 1 + 4 + 1
    assert lines[-1] == "runs/dirac-gan-r1/stability.json"
    proc = gamesim_cli(["reproduce", "--quick"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == str(tmp_path / "runs" / "reproduce-quick" / "report.md")
    assert sorted(os.listdir(tmp_path)) == ["dirac-gan-r1.toml", "runs"]
    assert sorted(os.listdir(tmp_path / "runs")) == ["dirac-gan-r1", "reproduce-quick"]
