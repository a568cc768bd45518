"""Figures of a run, drawn from its saved data with Matplotlib's object interface (Agg).

Each ``plot_*`` function draws on Axes the caller gives, so a notebook user can place it; each
plot kind makes a titled Figure for files and says whether it applies to a run. Style after
Goodfellow et al. 2014, Figure 1: data density dotted black, generator density solid green,
D dashed blue.
"""

import math
import os
import textwrap

import numpy as np
from matplotlib.figure import Figure

DATA_STYLE = dict(color="black", linestyle=":", linewidth=2.0, label="data p_data")
GEN_STYLE = dict(color="green", linestyle="-", linewidth=1.5, label="generator p_g")
D_STYLE = dict(color="blue", linestyle="--", linewidth=1.5, label="discriminator D")
CRITIC_STYLE = dict(color="blue", linestyle="--", linewidth=1.5, label="critic u")
# fixed dates and no software tag: the same data gives the same file
METADATA = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
DPI = 110
# Matplotlib's tick, limit and arrow arithmetic overflows on numbers near the largest double:
# a diverged run's larger values are left undrawn, as its infinities and NaNs are
LARGEST_DRAWN = 1e150
PHASE_KEYS = ("phase_theta", "phase_psi", "phase_grad_theta", "phase_grad_psi")


def drawable(values):
    """``values`` as a float array with NaN for what cannot be drawn: non-finite entries and
    those beyond LARGEST_DRAWN in magnitude."""
    values = np.asarray(values, dtype=float)
    return np.where(np.abs(values) < LARGEST_DRAWN, values, np.nan)


def _number(value):
    """A summary or sweep entry as a float, NaN if it is not a drawable number (a damaged or
    older summary, a failed sweep point)."""
    try:
        return float(drawable(float(value)))
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _iteration(value):
    """An iteration for a title: an integer, whatever the array's dtype."""
    return str(int(value)) if np.isfinite(value) else str(value)


def _cell_width(x):
    """The grid's cell width, 1 for a grid of one cell (or a damaged one)."""
    width = x[1] - x[0] if x.size > 1 else 0.0
    return float(width) if np.isfinite(width) and width > 0 else 1.0


def parameter_columns(run):
    """Metric columns holding players' parameters: ``g.*`` then ``d.*``."""
    return [c for c in run.columns if c.startswith("g.")] + \
        [c for c in run.columns if c.startswith("d.")]


def plot_value(ax, run):
    """The game's value (or the direct loss) against iteration, with its equilibrium line."""
    it, value = run.columns["iteration"], drawable(run.columns["value"])
    direct = run.summary.get("mode") == "direct"
    batch = drawable(run.columns.get("batch_value", value))
    if "batch_value" in run.columns:  # sampled training: the noisy estimate the players saw
        ax.plot(it, batch, color="C0", alpha=0.35, linewidth=0.8, label="batch estimate")
    ax.plot(it, value, color="C0", label="loss (distance)" if direct else "value V(D, G)")
    eq = _number(run.summary.get("equilibrium"))
    if np.isfinite(eq) and not direct:
        note = " = -log 4" if abs(eq + math.log(4.0)) < 1e-12 else ""
        ax.axhline(eq, color="gray", linestyle="--", linewidth=1, label=f"equilibrium {eq:.4g}{note}")
    finite = np.concatenate([v[np.isfinite(v)] for v in (value, batch)])
    if direct and finite.size and np.all(finite > 0):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss" if direct else "value")
    ax.legend(fontsize=8)


def plot_distances(ax, run):
    """Each recorded distance and max |D - 1/2| against iteration, on a log scale."""
    it = run.columns["iteration"]
    skip = {"iteration", "value", "mass_outside", *parameter_columns(run)}
    drawn = 0
    for name, col in run.columns.items():
        if name in skip or name.startswith("grad_norm") or name.startswith("batch_"):
            continue
        shown = drawable(np.where(col > 0, col, np.nan))
        if np.all(np.isnan(shown)):
            continue
        ax.plot(it, shown, label="max |D - 1/2|" if name == "d_max_dev" else name,
                color=f"C{(drawn + 1) % 10}")
        drawn += 1
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("iteration")
    ax.set_ylabel("distance to the data (log scale)")


def plot_densities(ax, run, index):
    """Goodfellow-style panel at snapshot ``index``: p_data, p_g and D on a right axis."""
    s = run.snapshots
    x = s["x"]
    h = _cell_width(x)
    ax.plot(x, drawable(s["p_data"] / h), **DATA_STYLE)
    ax.plot(x, drawable(s["p_gen"][index] / h), **GEN_STYLE)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title(f"iteration {_iteration(s['iterations'][index])}", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    for key, style, ylabel in (("d", D_STYLE, "D(x)"), ("critic", CRITIC_STYLE, "critic u(x)")):
        if key in s:
            twin = ax.twinx()
            line, = twin.plot(x, drawable(s[key][index]), **style)
            if key == "d":
                twin.set_ylim(-0.02, 1.02)
                twin.axhline(0.5, color="blue", linewidth=0.6, alpha=0.5)
            twin.set_ylabel(ylabel)
            handles.append(line)
            labels.append(line.get_label())
    ax.legend(handles, labels, fontsize=7, loc="upper left")


def plot_parameters(ax, run):
    """Trajectories of the players' recorded parameters against iteration."""
    it = run.columns["iteration"]
    for i, name in enumerate(parameter_columns(run)):
        ax.plot(it, drawable(run.columns[name]), label=name, color=f"C{i % 10}",
                linestyle="-" if name.startswith("g.") else "--")
    ax.set_xlabel("iteration")
    ax.set_ylabel("parameter value")
    ax.legend(fontsize=8)


def plot_phase(ax, run):
    """The two-parameter trajectory over the game's gradient field, equilibrium marked."""
    s = run.snapshots
    g_name, d_name = parameter_columns(run)
    field = [drawable(s[k]) for k in PHASE_KEYS]
    shown = np.logical_and.reduce([np.isfinite(a) for a in field])
    if shown.any():
        # one scale for both components keeps the arrows' directions, and their squared
        # lengths finite; quiver scales the arrows to the axes anyway
        scale = max(np.abs(field[2][shown]).max(), np.abs(field[3][shown]).max()) or 1.0
        ax.quiver(field[0][shown], field[1][shown], -field[2][shown] / scale,
                  -field[3][shown] / scale, color="0.6", angles="xy", pivot="mid")
    theta, psi = drawable(run.columns[g_name]), drawable(run.columns[d_name])
    ax.plot(theta, psi, color="C3", linewidth=1.2, label="trajectory")
    ax.plot(theta[:1], psi[:1], "o", color="C3", label="start")
    rest = field_zero(*field) if shown.all() and field[0].ndim == 2 else None
    if rest is not None:
        ax.plot(*rest, marker="*", markersize=14, color="black", linestyle="none",
                label="equilibrium (gradient 0)")
    ax.set_xlabel(g_name)
    ax.set_ylabel(d_name)
    ax.legend(fontsize=8)


def field_zero(theta, psi, grad_theta, grad_psi):
    """Where the sampled gradient field vanishes: the zero of its bilinear interpolation in
    the first grid cell whose corners bracket 0 in both components, or None."""
    for j in range(theta.shape[0] - 1):
        for i in range(theta.shape[1] - 1):
            corners = (slice(j, j + 2), slice(i, i + 2))
            a, b = grad_theta[corners], grad_psi[corners]
            if a.min() > 0 or a.max() < 0 or b.min() > 0 or b.max() < 0:
                continue
            s = t = 0.5  # Newton on the bilinear interpolant in the unit cell
            for _ in range(20):
                w = np.array([[(1 - t) * (1 - s), (1 - t) * s], [t * (1 - s), t * s]])
                ds = np.array([[-(1 - t), 1 - t], [-t, t]])
                dt = np.array([[-(1 - s), -s], [1 - s, s]])
                f = np.array([(w * a).sum(), (w * b).sum()])
                jac = np.array([[(ds * a).sum(), (dt * a).sum()], [(ds * b).sum(), (dt * b).sum()]])
                try:
                    step = np.linalg.solve(jac, f)
                except np.linalg.LinAlgError:
                    break
                s, t = s - step[0], t - step[1]
            if 0 <= s <= 1 and 0 <= t <= 1:
                x = theta[j, i] + s * (theta[j, i + 1] - theta[j, i])
                y = psi[j, i] + t * (psi[j + 1, i] - psi[j, i])
                return float(x), float(y)
    return None


def plot_transform(ax, run):
    """G_theta(z) at the snapshots against the target's quantile function (the ideal G)."""
    s = run.snapshots
    z = s["z"]
    ax.plot(z, target_quantile(s["x"], s["p_data"], z), **{**DATA_STYLE, "label": "target quantile F^-1(z)"})
    n = min(len(s["iterations"]), len(s["transform"]))
    for i in range(n):
        ax.plot(z, drawable(s["transform"][i]), color="green", alpha=0.3 + 0.7 * (i + 1) / n,
                label=f"G(z), iteration {_iteration(s['iterations'][i])}")
    ax.set_xlabel("noise z ~ U(0, 1)")
    ax.set_ylabel("x = G(z)")
    ax.legend(fontsize=7)


def target_quantile(x, p, z):
    """Quantile function of the grid masses p (piecewise linear CDF within cells) at z; NaN
    where p has no positive finite total."""
    h = _cell_width(x)
    edges = np.concatenate([[x[0] - h / 2], x + h / 2])
    cdf = np.concatenate([[0.0], np.cumsum(p)])
    if not (np.isfinite(cdf[-1]) and cdf[-1] > 0):
        return np.full(np.shape(z), np.nan)
    cdf /= cdf[-1]
    keep = np.concatenate([[True], np.diff(cdf) > 0])  # skip empty cells: a flat CDF piece
    return np.interp(z, cdf[keep], edges[keep])


def _titled(run, width, height, rows=1, cols=1):
    name, desc = str(run.summary.get("name", "")), str(run.summary.get("description", ""))
    lines = [name, *textwrap.wrap(desc, width=int(width * 15))]  # about 15 characters an inch
    height += 0.16 * (len(lines) - 2)
    fig = Figure(figsize=(width, height))
    fig.suptitle("\n".join(lines), fontsize=9)
    # fixed margins: a layout engine would cost about a second per figure
    fig.subplots_adjust(left=0.08 if cols > 1 else 0.1, right=0.92, bottom=0.13 / rows,
                        top=1 - (0.45 + 0.16 * len(lines)) / height, wspace=0.5, hspace=0.5)
    return fig, np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()


def figure_convergence(run):
    fig, (ax_value, ax_dist) = _titled(run, 10, 4.4, cols=2)
    plot_value(ax_value, run)
    plot_distances(ax_dist, run)
    return fig


def figure_densities(run):
    n = len(run.snapshots["iterations"])
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = _titled(run, 3.9 * cols, 3.0 * rows + 0.9, rows, cols)
    for i, ax in enumerate(axes):
        if i < n:
            plot_densities(ax, run, i)
        else:
            ax.set_visible(False)
    return fig


def figure_parameters(run):
    fig, (ax,) = _titled(run, 7, 4.4)
    plot_parameters(ax, run)
    return fig


def figure_phase(run):
    fig, (ax,) = _titled(run, 6, 5.6)
    plot_phase(ax, run)
    return fig


def figure_transform(run):
    fig, (ax,) = _titled(run, 6.5, 4.8)
    plot_transform(ax, run)
    return fig


def save_animation(run, path):
    """A GIF of p_g and D through the snapshots (Matplotlib's Pillow writer)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    s = run.snapshots
    fig, (ax,) = _titled(run, 6.5, 4.4)
    h = _cell_width(s["x"])
    p_data, p_gen = drawable(s["p_data"] / h), drawable(s["p_gen"] / h)
    ax.plot(s["x"], p_data, **DATA_STYLE)
    gen_line, = ax.plot(s["x"], p_gen[0], **GEN_STYLE)
    top = np.nanmax(np.concatenate([[0.0], p_data.ravel(), p_gen.ravel()]))
    ax.set_ylim(0, 1.05 * top or 1.0)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    d_key = "d" if "d" in s else "critic" if "critic" in s else None
    lines = [gen_line]
    if d_key:
        d_values = drawable(s[d_key])
        twin = ax.twinx()
        d_line, = twin.plot(s["x"], d_values[0], **(D_STYLE if d_key == "d" else CRITIC_STYLE))
        if d_key == "d":
            twin.set_ylim(-0.02, 1.02)
            twin.axhline(0.5, color="blue", linewidth=0.6, alpha=0.5)
        else:
            finite = d_values[np.isfinite(d_values)]
            if finite.size:
                twin.set_ylim(finite.min() - 0.05, finite.max() + 0.05)
        twin.set_ylabel("D(x)" if d_key == "d" else "critic u(x)")
        lines.append(d_line)
    title = ax.set_title("", fontsize=9)

    def frame(i):
        gen_line.set_ydata(p_gen[i])
        if d_key:
            lines[1].set_ydata(d_values[i])
        title.set_text(f"iteration {_iteration(s['iterations'][i])}")
        return lines

    anim = FuncAnimation(fig, frame, frames=len(s["iterations"]), blit=False)
    anim.save(path, writer=PillowWriter(fps=4), dpi=80)


KINDS = {
    "convergence": (lambda run: True, figure_convergence),
    "densities": (lambda run: len(run.snapshots["iterations"]) > 0, figure_densities),
    "parameters": (lambda run: bool(parameter_columns(run)), figure_parameters),
    "phase": (lambda run: len(parameter_columns(run)) == 2
              and all(k in run.snapshots for k in PHASE_KEYS), figure_phase),
    "transform": (lambda run: "transform" in run.snapshots and "z" in run.snapshots,
                  figure_transform),
    "animation": (lambda run: len(run.snapshots["iterations"]) > 1, None),
}


def save_plots(run, kinds, directory, fmt="png"):
    """Draw each requested kind that applies to the run into ``directory/plots``; return paths."""
    plots = os.path.join(directory, "plots")
    os.makedirs(plots, exist_ok=True)
    paths = []
    for kind in kinds:
        applies, make = KINDS[kind]
        if not applies(run):
            continue
        if make is None:
            path = os.path.join(plots, f"{kind}.gif")
            save_animation(run, path)
        else:
            path = os.path.join(plots, f"{kind}.{fmt}")
            make(run).savefig(path, dpi=DPI, metadata=METADATA[fmt])
        paths.append(path)
    return paths


def figure_compare(runs, metric):
    """One axis overlaying ``metric`` against iteration for several runs, named in the legend."""
    fig = Figure(figsize=(7.5, 4.8))
    fig.subplots_adjust(left=0.12, right=0.96, bottom=0.12, top=0.9)
    ax = fig.subplots()
    names = [str(r.summary.get("name") or os.path.basename(r.path)) for r in runs]
    if len(set(names)) < len(names):  # the same scenario run twice: tell them apart by folder
        names = [os.path.basename(os.path.normpath(r.path)) if r.path else f"{name} ({i + 1})"
                 for i, (r, name) in enumerate(zip(runs, names))]  # or, in memory, by order
    positive = True
    for i, (run, name) in enumerate(zip(runs, names)):
        col = drawable(run.columns[metric])
        positive &= bool(np.all(col[np.isfinite(col)] > 0))
        ax.plot(run.columns["iteration"], col, label=name, color=f"C{i % 10}")
    equilibria = {_number(r.summary.get("equilibrium")) for r in runs}
    if metric == "value" and len(equilibria) == 1 and math.isfinite(next(iter(equilibria))):
        ax.axhline(equilibria.pop(), color="gray", linestyle="--", linewidth=1, label="equilibrium")
    if positive and metric != "value":
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: " + " vs ".join(names), fontsize=9)
    ax.legend(fontsize=8)
    return fig


def figure_sweep(rows, keys, metric, name):
    """A final metric over one swept key (a line) or two (a heatmap: a phase diagram)."""
    fig = Figure(figsize=(7, 5))
    fig.subplots_adjust(left=0.22, right=0.9, bottom=0.14, top=0.9)
    ax = fig.subplots()
    values = [_number(r.get(metric)) if r.get("status") in ("completed", "converged")
              else math.nan for r in rows]
    # tables and lists (swept optimizers, bandwidth lists) are shown by their text
    rows = [{k: repr(r[k]) if isinstance(r[k], (dict, list)) else r[k] for k in keys}
            for r in rows]
    if len(keys) == 1:
        xs = [r[keys[0]] for r in rows]
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
        positions = xs if numeric else range(len(xs))
        ax.plot(positions, values, "o-", color="C0")
        if not numeric:
            ax.set_xticks(list(positions), [str(x) for x in xs])
        elif min(xs) > 0 and max(xs) / min(xs) > 50:
            ax.set_xscale("log")
        ax.set_xlabel(keys[0])
        ax.set_ylabel(f"final {metric}")
    else:
        xs = list(dict.fromkeys(r[keys[0]] for r in rows))
        ys = list(dict.fromkeys(r[keys[1]] for r in rows))
        grid = np.full((len(ys), len(xs)), np.nan)
        for r, v in zip(rows, values):
            grid[ys.index(r[keys[1]]), xs.index(r[keys[0]])] = v
        finite = grid[np.isfinite(grid)]
        shown = np.log10(np.where(grid > 0, grid, np.nan)) if finite.size and finite.min() > 0 else grid
        image = ax.imshow(shown, origin="lower", aspect="auto", cmap="viridis")
        fig.colorbar(image, ax=ax, label=f"final {metric}" + (" (log10)" if shown is not grid else ""))
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        ax.set_yticks(range(len(ys)), [str(y) for y in ys])
        ax.set_xlabel(keys[0])
        ax.set_ylabel(keys[1])
        for (j, i), v in np.ndenumerate(grid):
            if not np.isfinite(v):
                ax.text(i, j, "x", ha="center", va="center", color="red")
    ax.set_title(f"{name}: final {metric} over the sweep (x: failed or diverged)", fontsize=9)
    return fig
