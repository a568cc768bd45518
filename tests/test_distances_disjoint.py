"""Arjovsky, Chintala, Bottou 2017, Example 1 in 1D: the scenario and the theta-sweep script."""

import importlib.util
import math
import os

import numpy as np
import pytest

from conftest import REPO, SCENARIOS, read_run

SCRIPT = os.path.join(REPO, "docs", "disjoint_supports.py")
SCENARIO = os.path.join(SCENARIOS, "disjoint-supports.toml")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("disjoint_supports", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def swept(script):
    return script.sweep(SCENARIO, shifts=161)


def test_disjoint_shifts(swept):
    """For every |theta| >= w + h: JS = log 2, KL = inf, TV = 1, and W1 = |theta|."""
    theta, values, width, h = swept
    disjoint = np.abs(theta) >= width + h
    assert disjoint.sum() > 100 and (~disjoint).sum() >= 3
    assert np.allclose(values["js"][disjoint], math.log(2), rtol=0, atol=1e-14)
    assert np.all(values["kl"][disjoint] == math.inf)
    assert np.all(values["tv"][disjoint] == pytest.approx(1.0, abs=1e-14))
    assert np.allclose(values["w1"][disjoint], np.abs(theta[disjoint]), rtol=0, atol=1e-12)
    # and overlapping shifts are told apart by all of them
    assert np.all(values["js"][~disjoint] < math.log(2))
    assert np.all(values["tv"][~disjoint] < 1)


def test_w1_is_the_shift_everywhere(swept):
    theta, values, _, _ = swept
    assert np.allclose(values["w1"], np.abs(theta), rtol=0, atol=1e-12)
    assert values["kl"][np.argmin(np.abs(theta))] == 0.0


def test_scenario_records_the_example(run_cli, tmp_path):
    result = run_cli("run", SCENARIO, "--out", tmp_path / "run", "--no-plots", "--quiet")
    assert result.status == 0, result.err
    run = read_run(tmp_path / "run")
    assert run.last("js") == pytest.approx(math.log(2), abs=1e-14)
    assert run.last("kl") == math.inf and run.last("tv") == pytest.approx(1.0, abs=1e-14)
    assert run.last("w1") == pytest.approx(2.0, abs=1e-12) == run.last("value")


def test_script_writes_the_plot(script, tmp_path, capsys):
    out = tmp_path / "disjoint.png"
    script.main(["--scenario", SCENARIO, "--out", os.fspath(out)])
    assert out.stat().st_size > 10_000
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out
