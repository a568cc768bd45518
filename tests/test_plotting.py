"""Plots: every kind renders where it applies, draws the saved data, and redraws identically."""

import importlib.util
import os

import numpy as np
import pytest

from gamesim import plotting, results
from gamesim.cli import main

ORACLE = """
name = "{name}"
description = "plot test"
iterations = 30
record_every = 3
[grid]
points = 128
[target]
kind = "normal"
std = {std}
[generator]
kind = "density"
init = {{ kind = "normal", mean = 1.0, std = 2.0 }}
optimizer = {{ lr = 0.5 }}
[output]
plots = ["convergence", "densities", "animation"]
snapshots = 3
"""

DIRECT = """
name = "direct"
iterations = 30
record_every = 3
[grid]
points = 128
[target]
kind = "normal"
[generator]
kind = "density"
init = { kind = "normal", mean = 1.0, std = 2.0 }
optimizer = { lr = 0.5 }
[game]
mode = "direct"
distance = { kind = "w1" }
[output]
plots = ["convergence", "densities"]
snapshots = 3
"""


def _run(tmp_path, text, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    out = tmp_path / name
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plots")
    return {
        "oracle": _run(tmp, ORACLE.format(name="oracle", std=1.0), "oracle"),
        "oracle_wide": _run(tmp, ORACLE.format(name="oracle_wide", std=1.5), "oracle_wide"),
        "direct": _run(tmp, DIRECT, "direct"),
    }


def test_run_writes_the_requested_plots_that_apply(runs):
    video = ["animation.mp4"] if importlib.util.find_spec("imageio_ffmpeg") else []
    assert sorted(os.listdir(runs["oracle"] / "plots")) == [
        "animation.gif", *video, "convergence.png", "densities.png"]
    assert sorted(os.listdir(runs["direct"] / "plots")) == ["convergence.png", "densities.png"]


def test_plot_command_reproduces_run_plots_byte_for_byte(runs):
    before = {f: (runs["oracle"] / "plots" / f).read_bytes()
              for f in os.listdir(runs["oracle"] / "plots")}
    assert main(["plot", str(runs["oracle"])]) == 0
    after = {f: (runs["oracle"] / "plots" / f).read_bytes()
             for f in os.listdir(runs["oracle"] / "plots")}
    assert after == before
    assert not [f for f in os.listdir(runs["oracle"]) if f.startswith(".")]


def test_different_runs_give_different_images(runs):
    for kind in ("convergence.png", "densities.png"):
        a = (runs["oracle"] / "plots" / kind).read_bytes()
        b = (runs["oracle_wide"] / "plots" / kind).read_bytes()
        assert a != b


def test_densities_panels_draw_the_saved_snapshots(runs):
    run = results.RunData(str(runs["oracle"]))
    fig = plotting.figure_densities(run)
    s = run.snapshots
    h = s["x"][1] - s["x"][0]
    panels = [ax for ax in fig.axes if ax.get_ylabel() == "density"]
    assert len(panels) == len(s["iterations"])
    for i, ax in enumerate(panels):
        data_line, gen_line = ax.get_lines()[:2]
        np.testing.assert_array_equal(data_line.get_ydata(), s["p_data"] / h)
        np.testing.assert_array_equal(gen_line.get_ydata(), s["p_gen"][i] / h)
    d_axes = [ax for ax in fig.axes if ax.get_ylabel() == "D(x)"]
    for i, ax in enumerate(d_axes):
        np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), s["d"][i])
        assert ax.get_ylim() == pytest.approx((-0.02, 1.02))


def test_convergence_draws_the_saved_metrics(runs):
    run = results.RunData(str(runs["oracle"]))
    fig = plotting.figure_convergence(run)
    ax_value, ax_dist, ax_dev = fig.axes
    value_line = ax_value.get_lines()[0]
    np.testing.assert_array_equal(value_line.get_xdata(), run.columns["iteration"])
    np.testing.assert_array_equal(value_line.get_ydata(), run.columns["value"])
    equilibrium = ax_value.get_lines()[1]
    assert equilibrium.get_ydata()[0] == pytest.approx(-np.log(4.0), abs=1e-15)
    by_label = {line.get_label(): line for line in ax_dist.get_lines()}
    np.testing.assert_allclose(by_label["js"].get_ydata(),
                               np.where(run.columns["js"] > 0, run.columns["js"], np.nan))
    assert "max |D - 1/2|" not in by_label  # a deviation of D, not a distance: its own axis
    assert "max |D - 1/2|" in [line.get_label() for line in ax_dev.get_lines()]
    assert ax_dist.get_yscale() == "log"


def test_direct_run_has_no_discriminator_axis(runs):
    run = results.RunData(str(runs["direct"]))
    fig = plotting.figure_densities(run)
    assert not [ax for ax in fig.axes if ax.get_ylabel() in ("D(x)", "critic u(x)")]
    assert "d" not in run.snapshots
    ax_value = plotting.figure_convergence(run).axes[0]
    assert ax_value.get_yscale() == "log"  # a positive loss, no equilibrium line
    assert len(ax_value.get_lines()) == 1


@pytest.mark.parametrize("fmt,magic", [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_plot_format_option(runs, tmp_path, fmt, magic):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(runs["direct"], copy)
    assert main(["plot", str(copy), "--format", fmt]) == 0
    produced = sorted(os.listdir(copy / "plots"))
    assert produced == [f"convergence.{fmt}", f"densities.{fmt}"]
    assert (copy / "plots" / f"convergence.{fmt}").read_bytes().startswith(magic)


def test_compare_overlays_each_run(runs, tmp_path, capsys):
    out = tmp_path / "cmp.png"
    assert main(["compare", str(runs["oracle"]), str(runs["direct"]), "--metric", "tv",
                 "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    runs_data = [results.RunData(str(runs[k])) for k in ("oracle", "direct")]
    fig = plotting.figure_compare(runs_data, "tv")
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["oracle", "direct"]
    for line, run in zip(lines, runs_data):
        np.testing.assert_array_equal(line.get_ydata(), run.columns["tv"])


@pytest.mark.parametrize("command", ["plot", "compare"])
def test_missing_empty_and_foreign_directories_exit_2(tmp_path, capsys, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("hello")
    for directory, expected in ((tmp_path / "nope", "no such run directory"),
                                (empty, "missing scenario.toml"),
                                (foreign, "missing scenario.toml")):
        assert main([command, str(directory)]) == 2
        err = capsys.readouterr().err
        assert str(directory) in err and expected in err
    assert sorted(os.listdir(tmp_path)) == ["empty", "foreign"]


def test_compare_unknown_metric_names_the_run(runs, capsys):
    assert main(["compare", str(runs["oracle"]), "--metric", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and str(runs["oracle"]) in err and "js" in err


def test_target_quantile_inverts_the_grid_cdf():
    x = np.linspace(-1.95, 1.95, 40)
    p = np.full(40, 1 / 40)
    z = np.array([0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(plotting.target_quantile(x, p, z), [-2.0, -1.0, 0.0, 2.0],
                               atol=1e-12)


SCENARIOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scenarios")


@pytest.fixture(scope="module")
def approximate(tmp_path_factory):
    """A two-parameter game (Dirac-GAN) and a critic game with a transform generator."""
    tmp = tmp_path_factory.mktemp("approximate")
    out = {}
    shorter = ["--set", "iterations=300", "--set", "output.snapshots=3"]
    for name in ("dirac-gan-simultaneous", "wgan-clip"):
        out[name] = tmp / name
        assert main(["run", os.path.join(SCENARIOS, f"{name}.toml"), "--out", str(out[name]),
                     "--quiet", "--set", 'output.plots=["convergence", "densities", '
                     '"parameters", "phase", "transform"]', *shorter]) == 0
    return out


def test_parametrized_runs_draw_the_kinds_that_apply(approximate):
    assert sorted(os.listdir(approximate["dirac-gan-simultaneous"] / "plots")) == [
        "convergence.png", "densities.png", "parameters.png", "phase.png"]
    assert sorted(os.listdir(approximate["wgan-clip"] / "plots")) == [
        "convergence.png", "densities.png", "parameters.png", "transform.png"]


def test_phase_portrait_draws_the_trajectory_and_finds_the_equilibrium(approximate):
    run = results.RunData(str(approximate["dirac-gan-simultaneous"]))
    ax = plotting.figure_phase(run).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["trajectory"].get_xdata(), run.columns["g.theta"])
    np.testing.assert_array_equal(lines["trajectory"].get_ydata(), run.columns["d.w1"])
    # the Dirac-GAN's equilibrium is (0, 0): where the sampled gradient field vanishes
    np.testing.assert_allclose(lines["equilibrium (gradient 0)"].get_xydata()[0], [0, 0],
                               atol=1e-3)


def test_parameters_and_transform_draw_the_saved_data(approximate):
    run = results.RunData(str(approximate["wgan-clip"]))
    ax = plotting.figure_parameters(run).axes[0]
    for line in ax.get_lines():
        np.testing.assert_array_equal(line.get_ydata(), run.columns[line.get_label()])
    assert {line.get_label() for line in ax.get_lines()} == set(plotting.parameter_columns(run))
    ax = plotting.figure_transform(run).axes[0]
    target, *generated = ax.get_lines()
    s = run.snapshots
    np.testing.assert_allclose(target.get_ydata(),
                               plotting.target_quantile(s["x"], s["p_data"], s["z"]))
    for line, g_of_z in zip(generated, s["transform"]):
        np.testing.assert_array_equal(line.get_ydata(), g_of_z)


def test_a_critic_gets_its_own_axis(approximate):
    run = results.RunData(str(approximate["wgan-clip"]))
    assert "critic" in run.snapshots and "d" not in run.snapshots
    fig = plotting.figure_densities(run)
    critic_axes = [ax for ax in fig.axes if ax.get_ylabel() == "critic u(x)"]
    assert len(critic_axes) == len(run.snapshots["iterations"])
    for ax, values in zip(critic_axes, run.snapshots["critic"]):
        np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), values)
        assert ax.get_ylim() != pytest.approx((-0.02, 1.02))
    assert "d_max_dev" not in run.columns
