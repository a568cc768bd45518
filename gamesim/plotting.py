"""Figures of a run, drawn from its saved data with Matplotlib's object interface (Agg).

Each ``plot_*`` function draws on Axes the caller gives, so a notebook user can place it; each
plot kind makes a titled Figure for files and says whether it applies to a run. Style after
Goodfellow et al. 2014, Figure 1: data density dotted black, generator density solid green,
D dashed blue, D = 1/2 marked. Legends sit outside the axes, never over the data; log axes
keep their scale when a value is exactly 0 and draw it at the axis floor, marked.
"""

import json
import math
import os
import textwrap

import numpy as np
from matplotlib.figure import Figure

DATA_STYLE = dict(color="black", linestyle=":", linewidth=2.0, label="data p_data")
GEN_STYLE = dict(color="green", linestyle="-", linewidth=1.5, label="generator p_g")
D_STYLE = dict(color="blue", linestyle="--", linewidth=1.5, label="discriminator D")
CRITIC_STYLE = dict(color="blue", linestyle="--", linewidth=1.5, label="critic u")
HALF_STYLE = dict(color="blue", linestyle="-", linewidth=0.6, alpha=0.5, label="D = 1/2")
ZERO_MARKER = "v"
ZERO_LABEL = "exactly 0, drawn at the floor"
MAX_ZERO_MARKERS = 40  # a long run of zeros is a line at the floor with this many markers
# why a kind does not apply to a run (the CLI prints them as warnings)
REASONS = {
    "densities": "it needs at least one snapshot",
    "parameters": "it needs players with recorded parameters (a parametrized generator or "
                  "discriminator)",
    "phase": "it needs two one-parameter players",
    "transform": "it needs a generator with a transform G(z)",
    "animation": "it needs at least two snapshots",
    "eigenvalues": "it needs the run directory's stability.json ([analysis] stability, or "
                   "gamesim analyze)",
}
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


def number(value):
    """A summary or sweep entry as a float, NaN if it is not a drawable number (a damaged or
    older summary, a failed sweep point's blank, a boolean)."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(drawable(float(value)))
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _iteration(value):
    """An iteration for a title: an integer, whatever the array's dtype."""
    return str(int(value)) if np.isfinite(value) else str(value)


def cell_width(x):
    """The grid's cell width, 1 for a grid of one cell (or a damaged one)."""
    width = x[1] - x[0] if x.size > 1 else 0.0
    return float(width) if np.isfinite(width) and width > 0 else 1.0


def parameter_columns(run):
    """Metric columns holding players' parameters: ``g.*`` then ``d.*``."""
    return [c for c in run.columns if c.startswith("g.")] + \
        [c for c in run.columns if c.startswith("d.")]


def legend_below(ax, handles=None, labels=None, ncol=2, fontsize=8):
    """A legend under ``ax``, beside nothing it could hide: below the x axis's label."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    fig = ax.get_figure()
    height = ax.get_position().height * fig.get_figheight()  # the axes' height in inches
    return ax.legend(handles, labels, loc="upper center", fontsize=fontsize, ncol=ncol,
                     bbox_to_anchor=(0.5, -0.5 / max(height, 0.5)), frameon=False)


def log_lines(ax, series):
    """Draw ``series`` ((label, x, y, color) each) on a log y-axis, exact
    zeros drawn at the axis floor (a decade below the smallest positive value) with a marker
    and one legend entry saying so. An axis with no positive value stays linear. Negative
    and non-drawable values are left undrawn. Returns whether the axis is logarithmic."""
    series = [(label, np.asarray(x), drawable(values), color)
              for label, x, values, color in series]
    positive = np.concatenate([[]] + [v[v > 0] for _, _, v, _ in series])
    if not positive.size:
        for label, x, values, color in series:
            ax.plot(x, values, label=label, color=color)
        return False
    ax.set_yscale("log")
    floor = 10.0 ** math.floor(math.log10(positive.min() / 3))
    zeros = False
    for label, x, values, color in series:
        ax.plot(x, np.where(values > 0, values, np.nan), label=label, color=color)
        zero = values == 0
        if zero.any():
            zeros = True
            where = np.flatnonzero(zero)
            starts = where[np.concatenate([[True], np.diff(where) > 1])]
            marks = sorted({*starts.tolist(),
                            *where[::math.ceil(where.size / MAX_ZERO_MARKERS)].tolist()})
            ax.plot(x, np.where(zero, floor, np.nan), color=color, linewidth=1.0,
                    marker=ZERO_MARKER, markersize=5, markevery=marks, clip_on=False,
                    label=f"_{label} = 0")
    if zeros:
        ax.plot([], [], marker=ZERO_MARKER, color="0.35", linestyle="none", label=ZERO_LABEL)
    ax.set_ylim(bottom=floor)
    return True


def plot_value(ax, run):
    """The game's value (or the direct loss) against iteration, with its equilibrium line."""
    it, value = run.columns["iteration"], drawable(run.columns["value"])
    direct = run.summary.get("mode") == "direct"
    batch = drawable(run.columns.get("batch_value", value))
    finite = np.concatenate([v[np.isfinite(v)] for v in (value, batch)])
    label = "loss (distance)" if direct else "value V(D, G)"
    if direct and finite.size and np.all(finite >= 0):  # a loss: log scale, zeros marked
        series = [("batch estimate", it, batch, "C0")] if "batch_value" in run.columns else []
        log_lines(ax, series + [(label, it, value, "C0")])
        for line in ax.get_lines()[:1] if series else ():
            line.set(alpha=0.35, linewidth=0.8)
    else:
        if "batch_value" in run.columns:  # sampled training: the noisy estimate players saw
            ax.plot(it, batch, color="C0", alpha=0.35, linewidth=0.8, label="batch estimate")
        ax.plot(it, value, color="C0", label=label)
    eq = number(run.summary.get("equilibrium"))
    if np.isfinite(eq) and not direct:
        note = " = -log 4" if abs(eq + math.log(4.0)) < 1e-12 else ""
        ax.axhline(eq, color="gray", linestyle="--", linewidth=1, label=f"equilibrium {eq:.4g}{note}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss" if direct else "value")
    legend_below(ax)


def distance_columns(run):
    """The recorded distances to the data: metric columns but the value, the players'
    parameters, gradient norms, batch estimates, mass_outside and the D = 1/2 measures."""
    skip = {"iteration", "value", "mass_outside", *D_DEVIATIONS, *parameter_columns(run)}
    return [name for name in run.columns if name not in skip
            and not name.startswith("grad_norm") and not name.startswith("batch_")]


def plot_distances(ax, run):
    """Each recorded distance to the data against iteration, on a log scale (exact zeros at
    the floor, marked). max |D - 1/2| is not a distance: :func:`plot_d_deviation`."""
    names = [n for n in distance_columns(run)
             if np.isfinite(drawable(run.columns[n])).any()]
    it = run.columns["iteration"]
    log_lines(ax, [(name, it, run.columns[name], f"C{(i + 1) % 10}")
                   for i, name in enumerate(names)])
    ax.set_xlabel("iteration")
    ax.set_ylabel("distance to the data (log scale)")
    legend_below(ax)


# the D = 1/2 measures (0 at the equilibrium of Proposition 1) and their labels: the largest
# deviation over cells with mass, and the mass-weighted mean, which a cell holding 1e-98 of
# mass cannot dominate
D_DEVIATIONS = {"d_max_dev": "max |D - 1/2|", "d_mean_dev": "mass-weighted mean |D - 1/2|"}


def plot_d_deviation(ax, run):
    """The D = 1/2 measures against iteration (log scale)."""
    log_lines(ax, [(label, run.columns["iteration"], run.columns[name], color)
                   for (name, label), color in zip(D_DEVIATIONS.items(), ("C3", "C4"))
                   if name in run.columns])
    ax.set_xlabel("iteration")
    ax.set_ylabel("|D(x) - 1/2| (log scale)")
    legend_below(ax)


def plot_densities(ax, run, index, legend=True):
    """Goodfellow-style panel at snapshot ``index``: p_data, p_g and D on a right axis, with
    the line D = 1/2. Returns the legend's (handles, labels) and the right axis (or None);
    ``legend``: draw them under the panel (a figure of panels draws one for all)."""
    s = run.snapshots
    x = s["x"]
    h = cell_width(x)
    ax.plot(x, drawable(s["p_data"] / h), **DATA_STYLE)
    ax.plot(x, drawable(s["p_gen"][index] / h), **GEN_STYLE)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title(f"iteration {_iteration(s['iterations'][index])}", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    twin = None
    for key, style, ylabel in (("d", D_STYLE, "D(x)"), ("critic", CRITIC_STYLE, "critic u(x)")):
        if key in s:
            twin = ax.twinx()
            line, = twin.plot(x, drawable(s[key][index]), **style)
            handles.append(line)
            if key == "d":
                twin.set_ylim(-0.02, 1.02)
                handles.append(twin.axhline(0.5, **HALF_STYLE))
            twin.set_ylabel(ylabel)
    labels = [line.get_label() for line in handles]
    if legend:
        legend_below(ax, handles, labels, ncol=2, fontsize=7)
    return handles, labels, twin


def plot_parameters(ax, run):
    """Trajectories of the players' recorded parameters against iteration."""
    it = run.columns["iteration"]
    for i, name in enumerate(parameter_columns(run)):
        ax.plot(it, drawable(run.columns[name]), label=name, color=f"C{i % 10}",
                linestyle="-" if name.startswith("g.") else "--")
    ax.set_xlabel("iteration")
    ax.set_ylabel("parameter value")
    legend_below(ax, ncol=3)


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
    h = cell_width(x)
    edges = np.concatenate([[x[0] - h / 2], x + h / 2])
    cdf = np.concatenate([[0.0], np.cumsum(p)])
    if not (np.isfinite(cdf[-1]) and cdf[-1] > 0):
        return np.full(np.shape(z), np.nan)
    cdf /= cdf[-1]
    keep = np.concatenate([[True], np.diff(cdf) > 0])  # skip empty cells: a flat CDF piece
    return np.interp(z, cdf[keep], edges[keep])


def title_lines(run, width):
    """The scenario's name, its description and the overrides that changed it (the run's
    summary ``overrides``: "key=value" strings), wrapped to ``width`` inches."""
    name, desc = str(run.summary.get("name", "")), str(run.summary.get("description", ""))
    chars = int(width * 15)  # about 15 characters an inch
    lines = [name, *textwrap.wrap(desc, width=chars)]
    overrides = run.summary.get("overrides")
    if overrides:
        lines += textwrap.wrap("overrides: " + ", ".join(map(str, overrides)), width=chars)
    return lines


def _titled(run, width, height, rows=1, cols=1, below=0.0):
    """A Figure titled by :func:`title_lines` with ``rows`` x ``cols`` Axes; ``below``:
    inches kept free under each row for legends drawn under the axes."""
    lines = title_lines(run, width)
    height += 0.16 * (len(lines) - 2) + below * rows
    fig = Figure(figsize=(width, height))
    fig.suptitle("\n".join(lines), fontsize=9)
    # fixed margins: a layout engine would cost about a second per figure
    top = 1 - (0.45 + 0.16 * len(lines)) / height
    bottom = 0.13 / rows if not below else (0.5 + below) / height
    # rows are separated by their legends too (hspace: a fraction of an axes' height)
    axes_height = (top - bottom) * height / rows
    fig.subplots_adjust(left=0.08 if cols > 1 else 0.1, right=0.92, bottom=bottom, top=top,
                        wspace=0.5, hspace=0.5 + below / max(axes_height, 0.5))
    return fig, np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()


def figure_convergence(run):
    """The value, the distances to the data and, where D is a probability, max |D - 1/2|:
    one panel each, legends under them."""
    panels = 3 if "d_max_dev" in run.columns else 2
    fig, axes = _titled(run, 5.0 * panels, 4.4, cols=panels, below=0.45)
    plot_value(axes[0], run)
    plot_distances(axes[1], run)
    if panels == 3:
        plot_d_deviation(axes[2], run)
    return fig


def grid_shape(n, widest=4):
    """(rows, columns) for ``n`` panels: at most ``widest`` a row while the last row is
    at least half full, else wider (13 panels: 3 rows of 5, not 4 rows of 4)."""
    n = max(int(n), 1)
    rows = math.ceil(n / widest)
    cols = math.ceil(n / rows)
    while rows > 1 and 2 * (n - (rows - 1) * cols) < cols:
        cols += 1
        rows = math.ceil(n / cols)
    return rows, cols


def figure_densities(run):
    """A panel per snapshot on a balanced grid, one shared density scale (and one D scale)
    unless the scenario's ``[output] shared_y`` is false, one legend for all under the
    panels."""
    n = len(run.snapshots["iterations"])
    shared = run.scenario.get("output", {}).get("shared_y", True)
    rows, cols = grid_shape(n)
    legend = 0.35
    fig, axes = _titled(run, 3.9 * cols, 3.0 * rows + 0.9 + legend, rows, cols)
    fig.subplots_adjust(bottom=(0.5 + legend) / fig.get_figheight())
    twins = []
    for i, ax in enumerate(axes):
        if i >= n:
            ax.remove()  # the balanced grid leaves at most half of the last row empty
            continue
        if i and shared:
            ax.sharey(axes[0])
        handles, labels, twin = plot_densities(ax, run, i, legend=False)
        if twin is not None:
            if twins:
                twin.sharey(twins[0])
            twins.append(twin)
        if i == 0:
            fig.legend(handles, labels, loc="lower center", ncol=len(handles), fontsize=8,
                       frameon=False, bbox_to_anchor=(0.5, 0.0))
    top = _top(axes[0].get_lines(), run.snapshots)
    if top is not None and shared:
        axes[0].set_ylim(0, top)
    return fig


def _top(lines, snapshots):
    """The top of a density axis: 5% above the largest drawn density, or None."""
    h = cell_width(snapshots["x"])
    values = drawable(np.concatenate([np.ravel(snapshots["p_data"]),
                                      np.ravel(snapshots["p_gen"])]) / h)
    values = values[np.isfinite(values)]
    return 1.05 * values.max() if values.size and values.max() > 0 else None


def figure_parameters(run):
    fig, (ax,) = _titled(run, 7, 4.4, below=0.3 + 0.2 * math.ceil(
        len(parameter_columns(run)) / 3))
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


def _counter(run, iteration):
    """The animation's iteration counter: "iteration 120 / 400", and where the run ended
    before its planned iterations, how and where."""
    planned = (getattr(run, "scenario", None) or {}).get("iterations")
    ran = run.summary.get("iterations")
    text = f"iteration {_iteration(iteration)}"
    if isinstance(planned, int):
        text += f" / {planned}"
        if isinstance(ran, int) and ran < planned:
            text += f" ({run.summary.get('status', 'stopped')} at {ran})"
    return text


def animation_figure(run):
    """The animation's Figure and its frame function: p_g and D through the snapshots over
    p_data, the legend under the axes, an iteration counter as the axes' title."""
    s = run.snapshots
    fig, (ax,) = _titled(run, 6.5, 4.4, below=0.35)
    h = cell_width(s["x"])
    p_data, p_gen = drawable(s["p_data"] / h), drawable(s["p_gen"] / h)
    ax.plot(s["x"], p_data, **DATA_STYLE)
    gen_line, = ax.plot(s["x"], p_gen[0], **GEN_STYLE)
    top = np.nanmax(np.concatenate([[0.0], p_data.ravel(), p_gen.ravel()]))
    ax.set_ylim(0, 1.05 * top or 1.0)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    d_key = "d" if "d" in s else "critic" if "critic" in s else None
    handles = ax.get_lines()[:2]
    lines = [gen_line]
    if d_key:
        d_values = drawable(s[d_key])
        twin = ax.twinx()
        d_line, = twin.plot(s["x"], d_values[0], **(D_STYLE if d_key == "d" else CRITIC_STYLE))
        handles.append(d_line)
        if d_key == "d":
            twin.set_ylim(-0.02, 1.02)
            handles.append(twin.axhline(0.5, **HALF_STYLE))
        else:
            finite = d_values[np.isfinite(d_values)]
            if finite.size:
                twin.set_ylim(finite.min() - 0.05, finite.max() + 0.05)
        twin.set_ylabel("D(x)" if d_key == "d" else "critic u(x)")
        lines.append(d_line)
    legend_below(ax, handles, [line.get_label() for line in handles], ncol=len(handles))
    title = ax.set_title(_counter(run, s["iterations"][0]), fontsize=9)

    def frame(i):
        gen_line.set_ydata(p_gen[i])
        if d_key:
            lines[1].set_ydata(d_values[i])
        title.set_text(_counter(run, s["iterations"][i]))
        return lines

    return fig, frame


def ffmpeg():
    """The path of a pip-installed ffmpeg (imageio-ffmpeg), or None."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # installed without its binary
        return None


# the same frames give the same MP4 bytes: no encoder tag, no dates, one thread; yuv420p
# needs even sides, so an odd pixel row or column is padded
MP4_ARGS = ["-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-threads", "1",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]
MP4_MISSING = ("animation.mp4 not written (GIF only): pip install imageio-ffmpeg for an MP4 "
               "as well")


def save_animation(run, path, mp4=None):
    """A GIF of p_g and D through the snapshots (Matplotlib's Pillow writer) at ``path``;
    ``mp4``: also an MP4 there with ffmpeg from imageio-ffmpeg when it is installed. Returns
    the paths written."""
    import matplotlib
    from matplotlib.animation import FFMpegWriter, FuncAnimation, PillowWriter

    fig, frame = animation_figure(run)
    frames = len(run.snapshots["iterations"])
    anim = FuncAnimation(fig, frame, frames=frames, blit=False)
    anim.save(path, writer=PillowWriter(fps=4), dpi=80)
    written = [path]
    exe = ffmpeg() if mp4 else None
    if exe is not None:
        with matplotlib.rc_context({"animation.ffmpeg_path": exe}):
            anim = FuncAnimation(fig, frame, frames=frames, blit=False)
            anim.save(mp4, writer=FFMpegWriter(fps=4, codec="libx264", extra_args=MP4_ARGS),
                      dpi=80)
        written.append(mp4)
    return written


def stability_document(run):
    """The run directory's stability.json as a dict, or None (none there, unreadable, or a
    run in memory that has no directory yet)."""
    path = getattr(run, "path", None)
    if path is None:
        return None
    try:
        with open(os.path.join(path, "stability.json")) as f:
            document = json.load(f)
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and \
        isinstance(document.get("points"), list) else None


def _point_label(point):
    label = str(point.get("label", "point"))
    if point.get("iteration") is not None:
        label += f" (iteration {point['iteration']})"
    verdict = point.get("verdict")
    return label + ("" if not verdict else ": " + ", ".join(
        f"{k} {v}" for k, v in verdict.items() if isinstance(v, str)))


def plot_eigenvalues(axes, document):
    """The eigenvalues of each analysed point, one colour per point: J's (the field's
    Jacobian) on ``axes[0]`` with the imaginary axis marked (stable left of it), the update
    map's on ``axes[1]`` with the unit circle (stable inside it)."""
    flow, update = axes
    angle = np.linspace(0.0, 2.0 * math.pi, 361)
    update.plot(np.cos(angle), np.sin(angle), color="0.5", linewidth=0.8, label="unit circle")
    flow.axvline(0.0, color="0.5", linewidth=0.8, label="imaginary axis")
    for i, point in enumerate(document["points"]):
        color = f"C{i % 10}"
        for ax, key, marker, what in (
                (flow, "jacobian_eigenvalues", "o", ""),
                (flow, "consensus_jacobian_eigenvalues", "s", "J - gamma J^T J, "),
                (update, "update_eigenvalues", "x", "")):
            if not point.get(key):
                continue
            pairs = drawable(np.array(point[key], dtype=float).reshape(-1, 2))
            ax.plot(pairs[:, 0], pairs[:, 1], marker, color=color, markersize=6,
                    fillstyle="none", linestyle="none", label=what + _point_label(point))
    flow.set_title("Jacobian J of the field (gradient flow)", fontsize=9)
    update.set_title("update map F (one iteration)", fontsize=9)
    # the complex plane at one scale, so that a real part of 1e-14 looks like zero
    flow.set_aspect("equal", adjustable="datalim")
    update.set_aspect("equal", adjustable="datalim")
    for ax in axes:
        ax.axhline(0.0, color="0.85", linewidth=0.6)
        ax.set_xlabel("real part")
        ax.set_ylabel("imaginary part")
        legend_below(ax, ncol=1, fontsize=7)


def figure_eigenvalues(run):
    """The eigenvalues plot of a run whose directory holds stability.json."""
    document = stability_document(run)
    entries = sum(1 + bool(p.get("consensus_jacobian_eigenvalues")) for p in document["points"])
    fig, axes = _titled(run, 11.0, 4.8, cols=2, below=0.25 + 0.16 * entries)
    plot_eigenvalues(axes, document)
    return fig


KINDS = {
    "convergence": (lambda run: True, figure_convergence),
    "densities": (lambda run: len(run.snapshots["iterations"]) > 0, figure_densities),
    "parameters": (lambda run: bool(parameter_columns(run)), figure_parameters),
    "phase": (lambda run: len(parameter_columns(run)) == 2
              and all(k in run.snapshots for k in PHASE_KEYS), figure_phase),
    "transform": (lambda run: "transform" in run.snapshots and "z" in run.snapshots,
                  figure_transform),
    "animation": (lambda run: len(run.snapshots["iterations"]) > 1, None),
    "eigenvalues": (lambda run: stability_document(run) is not None, figure_eigenvalues),
}


class SavedPlots(list):
    """The paths :func:`save_plots` wrote, with ``skipped``: (kind, reason) for each
    requested kind that does not apply to the run, and ``notes``: what else the caller
    should tell (an animation without its MP4)."""

    def __init__(self, paths=(), skipped=(), notes=()):
        super().__init__(paths)
        self.skipped, self.notes = list(skipped), list(notes)

    def messages(self):
        """One line each for the caller to print:
        ``warning: plot 'phase' does not apply to this run: it needs two one-parameter
        players``, then ``note: ...``."""
        return [f"warning: plot {kind!r} does not apply to this run: {reason}"
                for kind, reason in self.skipped] + [f"note: {note}" for note in self.notes]


def not_applying(run, kinds):
    """(kind, reason) for each of ``kinds`` that does not apply to ``run``."""
    return [(kind, REASONS.get(kind, "it does not apply")) for kind in kinds
            if not KINDS[kind][0](run)]


def save_plots(run, kinds, directory, fmt="png"):
    """Draw each requested kind that applies to the run into ``directory/plots``; return a
    :class:`SavedPlots`: the paths written, the kinds that did not apply and why, notes."""
    plots = os.path.join(directory, "plots")
    os.makedirs(plots, exist_ok=True)
    saved = SavedPlots(skipped=not_applying(run, kinds))
    skipped = {kind for kind, _ in saved.skipped}
    for kind in kinds:
        if kind in skipped:
            continue
        _, make = KINDS[kind]
        if make is None:
            path = os.path.join(plots, f"{kind}.gif")
            written = save_animation(run, path, os.path.join(plots, f"{kind}.mp4"))
            saved += written
            if len(written) == 1:
                saved.notes.append(MP4_MISSING)
        else:
            path = os.path.join(plots, f"{kind}.{fmt}")
            make(run).savefig(path, dpi=DPI, metadata=METADATA[fmt])
            saved.append(path)
    return saved


def figure_compare(runs, metric):
    """One axis overlaying ``metric`` against iteration for several runs, named in the legend
    (under the axis). A metric that is never negative (but the value) is drawn on a log
    scale, its exact zeros at the floor, marked."""
    fig = Figure(figsize=(7.5, 5.4))
    fig.subplots_adjust(left=0.12, right=0.96, bottom=0.24, top=0.9)
    ax = fig.subplots()
    names = [str(r.summary.get("name") or os.path.basename(r.path)) for r in runs]
    if len(set(names)) < len(names):  # the same scenario run twice: tell them apart by folder
        names = [os.path.basename(os.path.normpath(r.path)) if r.path else f"{name} ({i + 1})"
                 for i, (r, name) in enumerate(zip(runs, names))]  # or, in memory, by order
    cols = [drawable(run.columns[metric]) for run in runs]
    nonnegative = metric != "value" and all(np.all(c[np.isfinite(c)] >= 0) for c in cols)
    if nonnegative:
        log_lines(ax, [(name, run.columns["iteration"], col, f"C{i % 10}")
                       for i, (run, name, col) in enumerate(zip(runs, names, cols))])
    else:
        for i, (run, name, col) in enumerate(zip(runs, names, cols)):
            ax.plot(run.columns["iteration"], col, label=name, color=f"C{i % 10}")
    equilibria = {number(r.summary.get("equilibrium")) for r in runs}
    if metric == "value" and len(equilibria) == 1 and math.isfinite(next(iter(equilibria))):
        ax.axhline(equilibria.pop(), color="gray", linestyle="--", linewidth=1, label="equilibrium")
    ax.set_xlabel("iteration")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: " + " vs ".join(names), fontsize=9)
    legend_below(ax, ncol=2)
    return fig


def figure_sweep(rows, keys, metric, name):
    """A final metric over one swept key (a line) or two (a heatmap: a phase diagram)."""
    fig = Figure(figsize=(7, 5))
    fig.subplots_adjust(left=0.22, right=0.9, bottom=0.14, top=0.9)
    ax = fig.subplots()
    values = [number(r.get(metric)) if r.get("status") in ("completed", "converged")
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
