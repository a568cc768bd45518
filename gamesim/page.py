"""Interactive pages: one self-contained HTML file per run or sweep, drawn with plotly.

A page carries plotly.js inline (about 4.6 MB), requests nothing from the network and uses no
JavaScript beyond plotly's own, so it opens offline from a file. The same run directory gives
the same bytes: plot divs have fixed ids and nothing depends on the clock. The densities
follow Goodfellow et al. 2014, Figure 1, as the static figures do (gamesim/plotting.py).
"""

import ast
import csv
import html
import json
import math
import os
import urllib.parse

import numpy as np
import tomli_w

from . import plotting, results
from .defaults import sweep_metric
from .errors import GamesimError

PAGE = "report.html"
CONFIG = {"displaylogo": False, "responsive": True}  # no link to plotly.com in the mode bar
TEMPLATE = "plotly_white"
STYLE = """body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}
pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:30em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.15em .5em;text-align:left}
.bad{color:#b00}"""


def _plotly():
    import plotly.graph_objects as go  # a dependency, imported only when a page is built
    import plotly.io as pio
    import plotly.offline

    return go, pio, plotly.offline


def _values(array):
    """A float array as a JSON-ready list: None where a value cannot be drawn."""
    return [v if math.isfinite(v) else None
            for v in plotting.drawable(np.asarray(array, dtype=float).ravel()).tolist()]


def _limits(*arrays, pad=0.05):
    """[low, high] over the finite values of ``arrays``, padded; None when there are none."""
    finite = np.concatenate([plotting.drawable(a).ravel() for a in arrays])
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return None
    low, high = float(finite.min()), float(finite.max())
    margin = pad * (high - low) or pad * (abs(high) or 1.0)
    return [low - margin, high + margin]


def _line(go, x, y, name, color, dash="solid", width=1.5, **kw):
    return go.Scatter(x=_values(x), y=_values(y), name=name, mode="lines",
                      line=dict(color=color, dash=dash, width=width), **kw)


def densities_figure(run):
    """p_data (dotted black), p_g (solid green) and D or the critic (dashed blue, right axis)
    as densities (masses over the cell width), with one frame per snapshot, a slider and a
    play button; frames are named by snapshot index "0", "1", ..."""
    go, _, _ = _plotly()
    s = run.snapshots
    x, iterations = s["x"], s["iterations"]
    h = plotting.cell_width(x)
    d_key = "d" if "d" in s else "critic" if "critic" in s else None
    label = {"d": "discriminator D", "critic": "critic u"}.get(d_key)

    def moving(k):
        traces = [_line(go, x, s["p_gen"][k] / h, "generator p_g", "green")]
        if d_key:
            traces.append(_line(go, x, s[d_key][k], label, "blue", "dash", yaxis="y2"))
        return traces

    traces = [_line(go, x, s["p_data"] / h, "data p_data", "black", "dot", width=2)]
    traces += moving(0)
    if d_key == "d":
        traces.append(go.Scatter(x=_values(x[[0, -1]]), y=[0.5, 0.5], yaxis="y2", mode="lines",
                                 name="D = 1/2", hoverinfo="skip",
                                 line=dict(color="blue", width=0.6), opacity=0.5))
    names = [str(k) for k in range(len(iterations))]
    frames = [go.Frame(name=n, data=moving(k), traces=[1, 2] if d_key else [1])
              for k, n in enumerate(names)]
    still = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate",
             "transition": {"duration": 0}}
    slider = dict(active=0, currentvalue={"prefix": "iteration "}, pad={"t": 40},
                  steps=[dict(method="animate", label=str(int(it)) if np.isfinite(it) else
                              str(it), args=[[n], still]) for n, it in zip(names, iterations)])
    play = dict(type="buttons", direction="left", x=0, y=-0.12, xanchor="right",
                yanchor="top", showactive=False, pad={"t": 40, "r": 10}, buttons=[
                    dict(label="Play", method="animate",
                         args=[None, {"frame": {"duration": 500, "redraw": False},
                                      "fromcurrent": True, "transition": {"duration": 0}}]),
                    dict(label="Pause", method="animate", args=[[None], still])])
    top = _limits(s["p_data"] / h, s["p_gen"] / h, pad=0.0)
    layout = dict(xaxis={"title": "x"},
                  yaxis={"title": "density", "range": [0, 1.05 * top[1] or 1.0] if top else None},
                  hovermode="x unified", legend={"orientation": "h", "y": 1.12},
                  sliders=[slider] if len(names) > 1 else [],
                  updatemenus=[play] if len(names) > 1 else [], margin={"t": 60})
    if d_key:
        d_range = [-0.02, 1.02] if d_key == "d" else _limits(s[d_key])
        layout["yaxis2"] = dict(title="D(x)" if d_key == "d" else "critic u(x)",
                                overlaying="y", side="right", range=d_range, showgrid=False,
                                **({"tickmode": "linear", "tick0": 0, "dtick": 0.25}
                                   if d_key == "d" else {"tickmode": "auto"}))
    return go.Figure(data=traces, frames=frames, layout=layout)


def convergence_figure(run):
    """The value (or direct loss) with its equilibrium line, and the distances on a log axis."""
    go, _, _ = _plotly()
    from plotly.subplots import make_subplots

    it, cols = run.columns["iteration"], run.columns
    direct = run.summary.get("mode") == "direct"
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("loss" if direct else "value V(D, G)",
                                        "distances to the data"))
    if "batch_value" in cols:
        fig.add_trace(_line(go, it, cols["batch_value"], "batch estimate", "#1f77b4",
                            width=0.8, opacity=0.35), 1, 1)
    fig.add_trace(_line(go, it, cols["value"], "loss (distance)" if direct else "value",
                        "#1f77b4"), 1, 1)
    eq = plotting.number(run.summary.get("equilibrium"))
    if math.isfinite(eq) and not direct and it.size:
        note = " = -log 4" if abs(eq + math.log(4.0)) < 1e-12 else ""
        fig.add_trace(_line(go, it[[0, -1]], [eq, eq], f"equilibrium {eq:.6g}{note}", "gray",
                            "dash", width=1), 1, 1)
    value = plotting.drawable(cols["value"])
    if direct and np.all(value[np.isfinite(value)] > 0):
        fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    skip = {"iteration", "value", "mass_outside", *plotting.parameter_columns(run)}
    palette = ["#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
    drawn = 0
    for name, col in cols.items():
        if name in skip or name.startswith(("grad_norm", "batch_")):
            continue
        shown = np.where(col > 0, col, np.nan)
        if np.all(np.isnan(plotting.drawable(shown))):
            continue
        fig.add_trace(_line(go, it, shown, plotting.D_DEVIATIONS.get(name, name),
                            palette[drawn % len(palette)]), 1, 2)
        drawn += 1
    fig.update_yaxes(type="log", exponentformat="power", title="distance (log scale)",
                     row=1, col=2)
    fig.update_yaxes(title="loss" if direct else "value", row=1, col=1)
    fig.update_xaxes(title="iteration")
    fig.update_layout(hovermode="x unified", margin={"t": 40})
    return fig


def parameters_figure(run):
    """The players' recorded parameters (g.* solid, d.* dashed) against iteration."""
    go, _, _ = _plotly()
    it = run.columns["iteration"]
    fig = go.Figure([_line(go, it, run.columns[n], n, None,
                           "solid" if n.startswith("g.") else "dash")
                     for n in plotting.parameter_columns(run)])
    fig.update_layout(xaxis_title="iteration", yaxis_title="parameter value",
                      hovermode="x unified")
    return fig


def phase_figure(run):
    """The two-parameter trajectory over the game's field -grad (arrows of one scale, so
    their directions are kept), with the start and the field's zero marked."""
    go, _, _ = _plotly()
    s = run.snapshots
    g_name, d_name = plotting.parameter_columns(run)
    theta, psi, g_theta, g_psi = (np.asarray(s[k], dtype=float) for k in plotting.PHASE_KEYS)
    shown = np.logical_and.reduce([np.isfinite(plotting.drawable(a))
                                   for a in (theta, psi, g_theta, g_psi)])
    traces = []
    if shown.any():
        t, p, u, v = theta[shown], psi[shown], -g_theta[shown], -g_psi[shown]
        scale = max(np.abs(u).max(), np.abs(v).max()) or 1.0
        steps = [np.diff(np.unique(a)) for a in (t, p)]
        cell = min([float(d.min()) for d in steps if d.size] or [1.0])
        u, v = 0.9 * cell * u / scale, 0.9 * cell * v / scale
        xs, ys = [], []
        for x0, y0, du, dv in zip(t, p, u, v):
            tip = np.array([x0 + du / 2, y0 + dv / 2])
            xs += [x0 - du / 2, tip[0], None]
            ys += [y0 - dv / 2, tip[1], None]
            for angle in (2.7, -2.7):  # two barbs, about 25 degrees off the shaft
                c, sn = math.cos(angle), math.sin(angle)
                barb = 0.3 * np.array([c * du - sn * dv, sn * du + c * dv])
                xs += [tip[0], tip[0] + barb[0], None]
                ys += [tip[1], tip[1] + barb[1], None]
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", name="-gradient field",
                                 line=dict(color="#999999", width=1), hoverinfo="skip"))
        traces.append(go.Scatter(
            x=_values(t), y=_values(p), mode="markers", marker=dict(size=3, color="#999999"),
            name="field samples", showlegend=False,
            customdata=np.stack([_values(g_theta[shown]), _values(g_psi[shown])], 1).tolist(),
            hovertemplate=f"{g_name}=%{{x:.4g}}<br>{d_name}=%{{y:.4g}}<br>"
                          "grad=(%{customdata[0]:.4g}, %{customdata[1]:.4g})<extra></extra>"))
    a, b = run.columns[g_name], run.columns[d_name]
    traces.append(go.Scatter(x=_values(a), y=_values(b), mode="lines", name="trajectory",
                             line=dict(color="#d62728", width=1.5),
                             customdata=_values(run.columns["iteration"]),
                             hovertemplate="iteration %{customdata}<br>(%{x:.4g}, %{y:.4g})"
                                           "<extra></extra>"))
    traces.append(go.Scatter(x=_values(a[:1]), y=_values(b[:1]), mode="markers", name="start",
                             marker=dict(color="#d62728", size=9)))
    rest = (plotting.field_zero(theta, psi, g_theta, g_psi)
            if shown.all() and theta.ndim == 2 else None)
    if rest is not None:
        traces.append(go.Scatter(x=[rest[0]], y=[rest[1]], mode="markers",
                                 name="equilibrium (gradient 0)",
                                 marker=dict(symbol="star", size=14, color="black")))
    fig = go.Figure(traces)
    fig.update_layout(xaxis_title=g_name, yaxis_title=d_name, height=600)
    return fig


def run_sections(run):
    """The figures a run has, as (heading, div id, figure), in page order."""
    sections = [("Densities", "densities", densities_figure(run)),
                ("Convergence", "convergence", convergence_figure(run))]
    applies = {k: f(run) for k, (f, _) in plotting.KINDS.items() if k in ("parameters", "phase")}
    if applies["parameters"]:
        sections.append(("Players' parameters", "parameters", parameters_figure(run)))
    if applies["phase"]:
        sections.append(("Phase portrait", "phase", phase_figure(run)))
    return sections


def _table(mapping):
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{_cell(v)}</td></tr>"
                   for k, v in mapping.items())
    return f"<table>{rows}</table>"


def _cell(value):
    if isinstance(value, dict):
        return _table(value)
    if isinstance(value, float):
        return html.escape(repr(value))
    if value is None:
        return "none"
    return html.escape(value if isinstance(value, str) else json.dumps(value))


def _summary_html(summary):
    head = {k: summary[k] for k in ("status", "iterations", "mode", "seed", "failure",
                                    "wall_seconds", "versions") if k in summary}
    parts = [_table(head), "<h3>Final metrics</h3>", _table(summary.get("final") or {})]
    warnings = summary.get("warnings") or []
    parts.append("<h3>Warnings</h3>" + ("<ul>" + "".join(
        f"<li>{html.escape(str(w))}</li>" for w in warnings) + "</ul>" if warnings
        else "<p>none</p>"))
    if "checks" in summary:
        checks = summary["checks"]
        parts.append("<h3>Checks</h3>" + (_table(checks) if isinstance(checks, dict) else
                                          "<ul>" + "".join(f"<li>{_cell(c)}</li>" for c in checks)
                                          + "</ul>" if isinstance(checks, list) else
                                          _cell(checks)))
    return "\n".join(parts)


def _document(title, intro, sections):
    """The page: plotly.js inline once, then each section (HTML or a figure) in order."""
    _, pio, offline = _plotly()
    body = []
    for heading, div_id, content in sections:
        if isinstance(content, str):
            shown = content
        else:
            content.update_layout(template=TEMPLATE)
            if content.layout.margin.t is None:
                content.update_layout(margin={"t": 40})
            shown = pio.to_html(content, config=CONFIG, auto_play=False, include_plotlyjs=False,
                                include_mathjax=False, full_html=False, div_id=div_id,
                                default_height=content.layout.height or 480)
        body.append(f'<section id="section-{div_id}">\n<h2>{html.escape(heading)}</h2>\n'
                    f"{shown}\n</section>")
    script = offline.get_plotlyjs().replace("</script", "<\\/script")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n"
            f'<script>window.PlotlyConfig = {{MathJaxConfig: "local"}};</script>\n'
            f"<script>{script}</script>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            f"{intro}\n" + "\n".join(body) + "\n</body>\n</html>\n")


def run_page(run):
    """The HTML text of a run's page, from a :class:`gamesim.results.RunData`."""
    summary = run.summary
    name = str(summary.get("name") or os.path.basename(os.path.normpath(run.path or "run")))
    text = None
    if run.path is not None:
        with open(os.path.join(run.path, "scenario.toml"), encoding="utf-8") as f:
            text = f.read()
    text = text if text is not None else tomli_w.dumps(run.scenario)
    status = str(summary.get("status", "?"))
    intro = (f"<p>{html.escape(str(summary.get('description') or ''))}</p>\n"
             f'<p>status: <b class="{"" if status in ("converged", "completed") else "bad"}">'
             f"{html.escape(status)}</b></p>")
    sections = [("Summary", "summary", _summary_html(summary)), *run_sections(run),
                ("Scenario", "scenario", f"<pre>{html.escape(text)}</pre>")]
    return _document(f"gamesim run: {name}", intro, sections)


def _write(path, text):
    """Write ``text`` to ``path`` whole (see :func:`gamesim.results.write_whole`)."""
    def write(partial):
        with open(partial, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return results.write_whole(path, write)


def write_run_page(run_dir, out=None, run=None):
    """Write the page of the run directory ``run_dir`` to ``out`` (default
    ``run_dir/report.html``); return its path. Only the saved files are read: ``run``, the
    directory already read as a :class:`~gamesim.results.RunData`, or read here."""
    run = run or results.RunData(run_dir)
    return _write(os.fspath(out or os.path.join(run_dir, PAGE)), run_page(run))


def _parse(text):
    """A sweep.csv cell as the value it was written from (numbers, lists, tables, booleans)."""
    try:
        value = ast.literal_eval(text)
        if isinstance(value, (int, float, list, dict, bool)):
            return value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    try:
        return float(text)  # inf, nan
    except ValueError:
        return text


def read_sweep(sweep_dir):
    """sweep.csv as (rows, keys): each row a dict of parsed values; keys the swept ones (the
    columns between ``run`` and ``iteration``)."""
    path = os.path.join(sweep_dir, "sweep.csv")
    try:
        with open(path, newline="") as f:
            table = list(csv.reader(f))
        header = table[0]
        keys = header[header.index("run") + 1:header.index("iteration")]
    except (OSError, IndexError, ValueError) as err:
        raise GamesimError(f"{sweep_dir}: not a sweep directory (sweep.csv: {err})") from None
    rows = [{c: (v if c in ("run", "status", "error") else _parse(v))
             for c, v in zip(header, line)} for line in table[1:]]
    return rows, keys


def _label(value):
    return repr(value) if isinstance(value, (dict, list)) else str(value)


def sweep_figure(rows, keys, metric):
    """The final ``metric`` over one swept key (a line) or two (a heatmap, log10 colours when
    all positive); failed or diverged points are red crosses, every point's values on hover."""
    go, _, _ = _plotly()
    ok = [r.get("status") in ("completed", "converged") for r in rows]
    values = [plotting.number(r.get(metric)) if good else math.nan for r, good in zip(rows, ok)]
    hover = ["<br>".join([f"{k} = {_label(r.get(k))}" for k in keys] +
                         [f"{metric} = {_label(r.get(metric))}", f"status: {r.get('status')}",
                          f"run: {r.get('run')}"] +
                         ([f"error: {html.escape(str(r['error']))[:200]}"] if r.get("error")
                          else [])) for r in rows]
    bad = [i for i, good in enumerate(ok) if not good or not math.isfinite(values[i])]
    if len(keys) == 2:
        xs = list(dict.fromkeys(_label(r[keys[0]]) for r in rows))
        ys = list(dict.fromkeys(_label(r[keys[1]]) for r in rows))
        grid = np.full((len(ys), len(xs)), np.nan)
        text = [[""] * len(xs) for _ in ys]
        for r, v, t in zip(rows, values, hover):
            j, i = ys.index(_label(r[keys[1]])), xs.index(_label(r[keys[0]]))
            grid[j, i], text[j][i] = v, t
        finite = grid[np.isfinite(grid)]
        log = bool(finite.size) and finite.min() > 0
        shown = np.log10(np.where(grid > 0, grid, np.nan)) if log else grid
        fig = go.Figure(go.Heatmap(
            x=xs, y=ys, z=[_values(line) for line in shown], text=text,
            hovertemplate="%{text}<extra></extra>", colorscale="Viridis",
            colorbar={"title": f"final {metric}" + (" (log10)" if log else "")}))
        where = [(_label(rows[i][keys[0]]), _label(rows[i][keys[1]])) for i in bad]
        axes = dict(xaxis={"title": keys[0], "type": "category"},
                    yaxis={"title": keys[1], "type": "category"})
    else:
        if len(keys) == 1:
            xs = [rows[i][keys[0]] for i in range(len(rows))]
            numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
            xs = xs if numeric else [_label(x) for x in xs]
            wide = numeric and min(xs) > 0 and max(xs) / min(xs) > 50
            title, kind = keys[0], "log" if wide else "linear" if numeric else "category"
        else:
            xs, title, kind = [r.get("index") for r in rows], "sweep point", "linear"
        order = (sorted(range(len(xs)), key=xs.__getitem__) if kind != "category"
                 else range(len(xs)))  # a line from left to right, whatever the sweep's order
        fig = go.Figure(go.Scatter(x=[xs[i] for i in order],
                                   y=_values([values[i] for i in order]),
                                   mode="lines+markers", name=f"final {metric}",
                                   text=[hover[i] for i in order],
                                   hovertemplate="%{text}<extra></extra>"))
        finite = [v for v in values if math.isfinite(v)]
        where = [(xs[i], values[i] if math.isfinite(values[i]) else
                  (min(finite) if finite else 0)) for i in bad]
        axes = dict(xaxis={"title": title, "type": kind},
                    yaxis={"title": f"final {metric}", "exponentformat": "power",
                           "type": "log" if finite and min(finite) > 0 else "linear"})
    if bad:
        fig.add_trace(go.Scatter(x=[w[0] for w in where], y=[w[1] for w in where],
                                 mode="markers", name="failed or diverged",
                                 marker=dict(symbol="x", size=12, color="red"),
                                 text=[hover[i] for i in bad],
                                 hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(**axes, legend={"orientation": "h", "y": 1.1})
    return fig


def _points_table(rows, keys, metric, links):
    columns = ["index", "run", *keys, metric, "status", "error"]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    lines = []
    for r in rows:
        cells = []
        for c in columns:
            text = html.escape(_label(r.get(c, "")))
            if c == "run" and r.get("run") in links:
                text = f'<a href="{html.escape(links[r["run"]])}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>\n" + "\n".join(lines) + "</table>"


def write_sweep_page(sweep_dir, rows=None, keys=None, metric=None, point_pages=False,
                     name=None):
    """Write ``sweep_dir/report.html``: the final ``metric`` (default js, w1, tv or value,
    the first recorded) over the sweep and a table of the points; return its path.

    ``rows`` and ``keys`` default to sweep.csv's. With ``point_pages``, each point's run
    directory also gets its page and the table links to it (each page holds plotly.js,
    megabytes: off by default). ``name``: the sweep's, by default the folder's."""
    if rows is None or keys is None:
        read_rows, read_keys = read_sweep(sweep_dir)
        rows = read_rows if rows is None else rows
        keys = read_keys if keys is None else keys
    metric = metric or sweep_metric(rows)
    if metric is None:
        raise GamesimError(f"{sweep_dir}: no metric to show (the sweep's points all failed?)")
    if not any(metric in r for r in rows):
        raise GamesimError(f"--metric {metric!r}: not a column of {sweep_dir}/sweep.csv")
    links = {}
    if point_pages:
        for r in rows:
            folder = os.path.join(sweep_dir, str(r.get("run", "")))
            if r.get("run") and os.path.isfile(os.path.join(folder, "summary.json")):
                write_run_page(folder)
                links[r["run"]] = f"{urllib.parse.quote(r['run'])}/{PAGE}"
        if not links and any(r.get("status") != "error" for r in rows):
            raise GamesimError(f"{sweep_dir}: --point-pages: the sweep's points have no run "
                               "directories (it ran without --point-dirs); run it again with "
                               "gamesim sweep --point-dirs")
    name = name or os.path.basename(os.path.normpath(sweep_dir))
    counts = {}
    for r in rows:
        counts[r.get("status")] = counts.get(r.get("status"), 0) + 1
    intro = (f"<p>{len(rows)} points over {html.escape(', '.join(keys))}: " +
             html.escape(", ".join(f"{v} {k}" for k, v in counts.items())) + "</p>")
    sections = [(f"Final {metric}", "sweep", sweep_figure(rows, keys, metric)),
                ("Points", "points", _points_table(rows, keys, metric, links))]
    return _write(os.path.join(sweep_dir, PAGE),
                  _document(f"gamesim sweep: {name}", intro, sections))
