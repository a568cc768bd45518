"""Figures of a run, drawn from its saved data with Matplotlib's object interface (Agg).

Each ``plot_*`` function draws on Axes a caller gives (a notebook user places them); the
``figure_*`` functions make a titled Figure for files. Style after Goodfellow et al. 2014,
Figure 1: data density dotted black, generator density solid green, D dashed blue.
"""

import math
import os

import numpy as np
from matplotlib.figure import Figure

DATA_STYLE = dict(color="black", linestyle=":", linewidth=2.0, label="data p_data")
GEN_STYLE = dict(color="green", linestyle="-", linewidth=1.5, label="generator p_g")
D_STYLE = dict(color="blue", linestyle="--", linewidth=1.5, label="discriminator D")
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


def _title(fig, run):
    name = run.summary.get("name", "")
    desc = run.summary.get("description", "")
    fig.suptitle(f"{name}\n{desc}" if desc else name, fontsize=10)


def plot_value(ax, run):
    """The game's value (or the direct loss) against iteration, with its equilibrium line."""
    it = run.columns["iteration"]
    value = run.columns["value"]
    eq = run.summary.get("equilibrium")
    direct = run.summary.get("mode") == "direct"
    ax.plot(it, value, color="C0", label="loss (distance)" if direct else "value V(D, G)")
    if eq is not None and not direct:
        ax.axhline(eq, color="gray", linestyle="--", linewidth=1,
                   label=f"equilibrium {eq:.4g}" + (" (= -log 4)" if abs(eq + math.log(4)) < 1e-12 else ""))
    if direct and np.all(value[np.isfinite(value)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss" if direct else "value")
    ax.legend(fontsize=8)


def plot_distances(ax, run):
    """Each recorded distance and max |D - 1/2| against iteration, on a log scale."""
    it = run.columns["iteration"]
    skip = {"iteration", "value", "mass_outside"}
    drawn = False
    for i, (name, col) in enumerate(run.columns.items()):
        if name in skip:
            continue
        shown = np.where(np.isfinite(col) & (col > 0), col, np.nan)
        if np.all(np.isnan(shown)):
            continue
        label = "max |D - 1/2|" if name == "d_max_dev" else name
        ax.plot(it, shown, label=label, color=f"C{i % 10}")
        drawn = True
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("iteration")
    ax.set_ylabel("distance to the data (log scale)")


def plot_densities(ax, run, index):
    """Goodfellow-style panel at snapshot ``index``: p_data, p_g and D (right axis, [0, 1])."""
    s = run.snapshots
    x = s["x"]
    h = x[1] - x[0] if x.size > 1 else 1.0
    ax.plot(x, s["p_data"] / h, **DATA_STYLE)
    ax.plot(x, s["p_gen"][index] / h, **GEN_STYLE)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title(f"iteration {int(s['iterations'][index])}", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    for key, ylabel in (("d", "D(x)"), ("critic", "critic u(x)")):
        if key in s:
            twin = ax.twinx()
            line, = twin.plot(x, s[key][index], **D_STYLE)
            if key == "d":
                twin.set_ylim(-0.02, 1.02)
                twin.axhline(0.5, color="blue", linewidth=0.6, alpha=0.5)
            twin.set_ylabel(ylabel)
            handles.append(line)
            labels.append(line.get_label())
    ax.legend(handles, labels, fontsize=7, loc="upper left")


def figure_convergence(run):
    fig = Figure(figsize=(10, 4.2))
    # fixed margins: constrained layout would cost about a second per figure
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.82, wspace=0.28)
    ax_value, ax_dist = fig.subplots(1, 2)
    plot_value(ax_value, run)
    plot_distances(ax_dist, run)
    _title(fig, run)
    return fig


def figure_densities(run):
    n = len(run.snapshots["iterations"])
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.8 * cols, 3.0 * rows + 0.8))
    fig.subplots_adjust(left=0.07, right=0.93, bottom=0.14 / rows, top=1 - 0.5 / (3.0 * rows + 0.8),
                        wspace=0.55, hspace=0.45)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        if i < n:
            plot_densities(ax, run, i)
        else:
            ax.set_visible(False)
    _title(fig, run)
    return fig


FIGURES = {"convergence": figure_convergence, "densities": figure_densities}


def save_plots(run, kinds, directory, fmt="png"):
    """Draw each requested figure into ``directory/plots/KIND.FMT``; return the paths."""
    plots = os.path.join(directory, "plots")
    os.makedirs(plots, exist_ok=True)
    paths = []
    for kind in kinds:
        fig = FIGURES[kind](run)
        path = os.path.join(plots, f"{kind}.{fmt}")
        fig.savefig(path, dpi=110, metadata=_METADATA.get(fmt))
        paths.append(path)
    return paths
