"""Every distance between a narrow uniform bump and the same bump shifted by theta.

Arjovsky, Chintala, Bottou (2017), Example 1, in 1D: for every shift with disjoint supports on
the grid (|theta| >= w + h, w the bump's width, h the cell width) JS = log 2, KL = inf and
TV = 1 whatever theta is, so they give the generator no gradient in theta, while W1 = |theta|.
The grid, the target and the list of distances come from a scenario with a uniform target
(docs/disjoint_supports.py uses scenarios/disjoint-supports.toml); the shifted bump is the
target's uniform moved by theta, discretized by exact cell integrals.
"""

import copy
import math

import numpy as np
from matplotlib.figure import Figure


def sweep(sc, shifts=321):
    """(theta, {distance name: values}, width, h): each recorded distance of the loaded
    scenario ``sc`` between its uniform target and the target shifted by theta, for shifts
    that keep the bump on the grid."""
    target, grid = sc.target, sc.grid
    if target.name != "uniform":
        raise ValueError(f"{sc.path}: the target must be a uniform bump, got {target.name!r}")
    width = target.upper - target.lower
    reach = min(grid.upper - target.upper, target.lower - grid.lower)
    theta = np.linspace(-reach, reach, shifts)
    values = {name: np.empty(shifts) for name in sc.distances}
    for k, t in enumerate(theta):
        shifted = copy.copy(target)
        shifted.lower, shifted.upper = target.lower + t, target.upper + t
        q, _ = shifted.masses(grid)
        for name, distance in sc.distances.items():
            values[name][k] = distance.value(sc.p_data, q)
    return theta, values, width, grid.h


def plot(theta, values, width, h, title="disjoint-supports"):
    """One panel per distance against theta; an infinite value is drawn as a marker at the
    panel's top edge, labelled inf."""
    names = list(values)
    cols = 4
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True).ravel()
    for ax, name in zip(axes, names):
        v = values[name]
        finite = np.isfinite(v)
        # a marker too, so that a lone finite point (KL at theta = 0) shows
        ax.plot(theta[finite], v[finite], color="tab:green", lw=1.5, label=name,
                marker="o" if finite.sum() < 5 else None, ms=3)
        if not finite.all():
            top = max(np.nanmax(v[finite]) if finite.any() else 1.0, 1.0) * 1.15
            ax.plot(theta[~finite], np.full((~finite).sum(), top), ls="none", marker="^",
                    ms=2, color="tab:red", label=f"{name} = inf")
            ax.set_ylim(top=top * 1.08)
        for edge in (-(width + h), width + h):
            ax.axvline(edge, color="0.6", ls=":", lw=1)
        ax.set_title(name)
        ax.set_ylabel("distance")
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for ax in axes[max(len(names) - cols, 0):len(names)]:
        ax.set_xlabel("shift theta (grid units)")
    fig.suptitle(f"{title}: uniform bump of width {width:g} vs the same bump shifted by theta "
                 f"(dotted: |theta| = w + h, supports disjoint beyond)")
    return fig

