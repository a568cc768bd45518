"""Figures a newcomer reads at a glance, tested on the Figure objects: balanced panel grids,
legends off the data, log axes that keep their scale with exact zeros, max |D - 1/2| on its
own axis, snapshots spread over what was run, plot kinds that do not apply named."""

import math
import types

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D

import gamesim
from gamesim import plotting

CELLS = 64
X = np.linspace(-4.0, 4.0, CELLS)
H = X[1] - X[0]


def _normal(mean, std):
    p = np.exp(-0.5 * ((X - mean) / std) ** 2)
    return p / p.sum()


def fake_run(snapshot_count=3, columns=None, summary=None, planned=100):
    """A run as plotting reads it: columns, snapshots (p_g moving onto p_data), summary."""
    its = np.linspace(0, planned, snapshot_count).round().astype(np.int64)
    p_gen = np.array([_normal(2.0 * (1 - t / planned), 1.0 + t / planned) for t in its])
    p_data = _normal(0.0, 1.0)
    d = p_data / (p_data + p_gen)
    if columns is None:
        it = np.arange(0, planned + 1, 10, dtype=float)
        js = np.exp(-it / 10) * 0.3
        columns = {"iteration": it, "value": -math.log(4) + 2 * js, "js": js, "tv": js * 2,
                   "mass_outside": np.zeros_like(it), "d_max_dev": js / 3}
    return types.SimpleNamespace(
        path="/nowhere/fake", columns=columns, scenario={"iterations": planned},
        snapshots={"x": X, "p_data": p_data, "iterations": its, "p_gen": p_gen, "d": d},
        summary={"name": "fake", "description": "a fake run", "status": "completed",
                 "iterations": planned, "equilibrium": -math.log(4), **(summary or {})})


def drawn(fig):
    FigureCanvasAgg(fig).draw()
    return fig


def legends(fig):
    return list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]


def legend_texts(fig):
    return [t.get_text() for legend in legends(fig) for t in legend.get_texts()]


def data_lines(ax):
    return [line for line in ax.get_lines() if np.size(line.get_xdata())]


def assert_no_data_under_legends(fig):
    renderer = drawn(fig).canvas.get_renderer()
    boxes = [legend.get_window_extent(renderer) for legend in legends(fig)]
    assert boxes
    for ax in fig.axes:
        for line in data_lines(ax):
            xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
            xy = xy[np.isfinite(xy).all(axis=1)]
            if not xy.size:
                continue
            points = line.get_transform().transform(xy)
            if line.get_clip_on():  # what the axes clips is not drawn
                points = points[[ax.bbox.contains(*p) for p in points]]
            for box in boxes:
                inside = [box.contains(*p) for p in points]
                assert not any(inside), f"{line.get_label()!r} drawn under a legend"


@pytest.mark.parametrize("n", range(1, 10))
def test_densities_grid_has_no_empty_axes_nor_mostly_empty_row(n):
    fig = plotting.figure_densities(fake_run(n))
    panels = [ax for ax in fig.axes if ax.get_ylabel() == "density"]
    assert len(panels) == n
    for ax in fig.axes:
        assert ax.get_visible() and data_lines(ax), "an empty Axes in the grid"
    rows, cols = panels[0].get_subplotspec().get_gridspec().get_geometry()
    per_row = [0] * rows
    for ax in panels:
        per_row[ax.get_subplotspec().rowspan.start] += 1
    assert all(2 * count >= cols for count in per_row), (n, rows, cols, per_row)


@pytest.mark.parametrize("n", [1, 5, 13, 17, 30])
def test_grid_shape_fills_rows_at_least_half(n):
    rows, cols = plotting.grid_shape(n)
    assert rows * cols >= n and 2 * (n - (rows - 1) * cols) >= cols


def test_densities_share_one_scale_and_one_legend_naming_d_half():
    fig = plotting.figure_densities(fake_run(5))
    panels = [ax for ax in fig.axes if ax.get_ylabel() == "density"]
    assert len({ax.get_ylim() for ax in panels}) == 1
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    assert {"data p_data", "generator p_g", "discriminator D", "D = 1/2"} <= \
        set(legend_texts(fig))


@pytest.mark.parametrize("make", [
    lambda: plotting.figure_densities(fake_run(5)),
    lambda: plotting.figure_densities(fake_run(1)),
    lambda: plotting.figure_convergence(fake_run()),
    lambda: plotting.animation_figure(fake_run(4))[0],
    lambda: plotting.figure_compare([fake_run(), fake_run(summary={"name": "other"})], "js"),
])
def test_no_data_vertex_lies_inside_a_legend(make):
    assert_no_data_under_legends(make())


def _zero_columns():
    it = np.arange(0, 101, 10, dtype=float)
    js = np.array([0.3, 1e-2, 1e-4, 1e-6, 1e-9, 1e-12, 0, 0, 0, 1e-16, 0])
    return {"iteration": it, "value": -math.log(4) + 2 * js, "js": js, "tv": js * 2,
            "mass_outside": np.zeros_like(it), "d_max_dev": np.where(it < 70, js, 0.0)}


def _assert_zeros_marked(ax, name, column, it):
    assert ax.get_yscale() == "log"
    floor = ax.get_ylim()[0]
    line = {line.get_label(): line for line in ax.get_lines()}[name]
    np.testing.assert_array_equal(line.get_ydata(), np.where(column > 0, column, np.nan))
    marks = [m for m in ax.get_lines() if m.get_marker() == plotting.ZERO_MARKER
             and np.size(m.get_xdata()) and m.get_color() == line.get_color()]
    assert marks, f"the zeros of {name} are not marked"
    y = np.asarray(marks[0].get_ydata(), dtype=float)
    np.testing.assert_array_equal(np.isfinite(y), column == 0)
    assert np.all(y[np.isfinite(y)] == floor) and floor < column[column > 0].min()
    assert plotting.ZERO_LABEL in [t.get_text() for t in ax.get_legend().get_texts()]


def test_log_axes_keep_their_scale_and_mark_exact_zeros():
    run = fake_run(columns=_zero_columns())
    fig = plotting.figure_convergence(run)
    it = run.columns["iteration"]
    ax_dist = next(ax for ax in fig.axes if ax.get_ylabel().startswith("distance"))
    _assert_zeros_marked(ax_dist, "js", run.columns["js"], it)
    ax_dev = next(ax for ax in fig.axes if ax.get_ylabel().startswith("|D(x) - 1/2|"))
    _assert_zeros_marked(ax_dev, "max |D - 1/2|", run.columns["d_max_dev"], it)


def test_compare_keeps_the_log_scale_with_zeros():
    a, b = fake_run(), fake_run(columns=_zero_columns(), summary={"name": "zeros"})
    fig = plotting.figure_compare([a, b], "js")
    (ax,) = fig.axes
    _assert_zeros_marked(ax, "zeros", b.columns["js"], b.columns["iteration"])
    assert plotting.figure_compare([a, b], "value").axes[0].get_yscale() == "linear"


def test_d_max_dev_is_not_on_the_distances_axis():
    fig = plotting.figure_convergence(fake_run())
    ax_dist = next(ax for ax in fig.axes if ax.get_ylabel().startswith("distance"))
    assert "max |D - 1/2|" not in [line.get_label() for line in ax_dist.get_lines()]
    assert "js" in [line.get_label() for line in ax_dist.get_lines()]
    ax_dev = [ax for ax in fig.axes if "max |D - 1/2|" in
              [line.get_label() for line in ax.get_lines()]]
    assert len(ax_dev) == 1 and ax_dev[0] is not ax_dist


def test_animation_has_a_legend_with_d_half_and_an_iteration_counter():
    run = fake_run(4)
    run.summary.update(iterations=40, status="converged")
    fig, frame = plotting.animation_figure(run)
    assert "D = 1/2" in legend_texts(fig)
    frame(2)
    title = fig.axes[0].get_title()
    assert title == f"iteration {run.snapshots['iterations'][2]} / 100 (converged at 40)"


def test_titles_carry_the_overrides():
    run = fake_run(summary={"overrides": ["generator.optimizer.lr=0.5", "seed=3"]})
    fig = plotting.figure_convergence(run)
    assert "overrides: generator.optimizer.lr=0.5, seed=3" in fig._suptitle.get_text()


SCENARIO = {
    "name": "early", "iterations": 500,
    "stop": {"metric": "d_max_dev", "below": 1e-3},
    "grid": {"points": 96},
    "target": {"kind": "normal"},
    "generator": {"kind": "density", "init": {"kind": "normal", "mean": 1.0, "std": 2.0},
                  "optimizer": {"lr": 0.5}},
    "output": {"plots": ["animation"], "snapshots": 30},
}


def test_a_count_of_snapshots_spreads_over_a_run_stopped_early():
    run = gamesim.run(SCENARIO)
    ran = run.summary["iterations"]
    assert run.status == "converged" and 60 <= ran <= 150  # about a fifth of 500
    its = run.snapshots["iterations"]
    assert 27 <= len(its) <= 30
    assert its[0] == 0 and its[-1] == ran and np.all(np.diff(its) > 0)
    # spread: no gap more than twice the even spacing
    assert np.diff(its).max() <= 2 * ran / (len(its) - 1) + 1
    fig, frame = plotting.animation_figure(run)
    frame(len(its) - 1)
    assert fig.axes[0].get_title() == f"iteration {ran} / 500 (converged at {ran})"


def test_a_run_that_reaches_its_end_keeps_the_planned_snapshots():
    run = gamesim.run({k: v for k, v in SCENARIO.items() if k != "stop"} | {"iterations": 400})
    expected = sorted({int(round(t)) for t in np.linspace(0, 400, 30)})
    assert run.snapshots["iterations"].tolist() == expected


def test_a_list_of_snapshots_stays_as_listed():
    spec = {**SCENARIO, "output": {"plots": [], "snapshots": [0, 3, 50, 400]}}
    run = gamesim.run(spec)
    ran = run.summary["iterations"]
    assert run.snapshots["iterations"].tolist() == [0, 3, 50, ran]


def test_kinds_that_do_not_apply_are_named(tmp_path):
    run = fake_run()
    saved = plotting.save_plots(run, ["convergence", "phase"], tmp_path)
    assert [p.rsplit("/", 1)[-1] for p in saved] == ["convergence.png"]
    assert saved.skipped == [("phase", "it needs two one-parameter players")]
    assert saved.messages() == ["warning: plot 'phase' does not apply to this run: it needs "
                                "two one-parameter players"]


def test_animation_without_ffmpeg_is_a_gif_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(plotting, "ffmpeg", lambda: None)
    saved = plotting.save_plots(fake_run(3), ["animation"], tmp_path)
    assert [p.rsplit("/", 1)[-1] for p in saved] == ["animation.gif"]
    assert saved.notes == [plotting.MP4_MISSING]


def test_animation_mp4_is_written_and_the_same_bytes_again(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    paths = [plotting.save_plots(fake_run(3), ["animation"], tmp_path / name)
             for name in ("a", "b")]
    assert [p.rsplit("/", 1)[-1] for p in paths[0]] == ["animation.gif", "animation.mp4"]
    assert not paths[0].notes
    data = [[open(p, "rb").read() for p in saved] for saved in paths]
    assert data[0] == data[1] and data[0][1][4:8] == b"ftyp"


def test_zero_entry_is_a_marker_in_the_legend():
    fig = plotting.figure_convergence(fake_run(columns=_zero_columns()))
    ax = next(ax for ax in fig.axes if ax.get_ylabel().startswith("distance"))
    handles, labels = ax.get_legend_handles_labels()
    entry = handles[labels.index(plotting.ZERO_LABEL)]
    assert isinstance(entry, Line2D) and entry.get_marker() == plotting.ZERO_MARKER


def test_densities_panels_share_one_scale_unless_the_scenario_says_otherwise():
    run = fake_run(snapshot_count=4)
    run.snapshots["p_gen"][0] *= 0.2  # a low first panel: its own scale would differ
    run.snapshots["p_gen"][0][CELLS // 2] += 0.8
    shared = drawn(plotting.figure_densities(run))
    density_axes = [ax for ax in shared.axes if ax.get_ylabel() == "density"]
    assert len(density_axes) == 4
    assert len({ax.get_ylim() for ax in density_axes}) == 1
    run.scenario["output"] = {"shared_y": False}
    own = drawn(plotting.figure_densities(run))
    limits = [ax.get_ylim()[1] for ax in own.axes if ax.get_ylabel() == "density"]
    assert limits[0] > 2 * max(limits[1:])  # the spike's panel alone scaled to the spike
