"""``gamesim reproduce``: run the literature checks shipped with gamesim and write report.md.

Each check (:mod:`gamesim.literature`, where its report :class:`~gamesim.literature.Row` is
defined) states a paper's claim, the number it predicts, the
number gamesim measures and the tolerance between them, and may draw a figure. The report
folder is reserved and written whole as a run directory is (gamesim/results.py): report.md,
report.json and figures/. The exit status is 0 when every check passes and 3 when any fails;
1 stays "unexpected" (an error), as elsewhere.
"""

import base64
import dataclasses
import html
import os

from . import literature

FAILED = 3  # the exit status when a check fails


def run_checks(checks, quick, figures):
    """Run each check (a function ``(quick) -> (rows, figure or None)``), saving figures
    into the folder ``figures``; return every row."""
    rows = []
    for check in checks:
        found, figure = check(quick)
        if figure is not None:
            name = f"{check.__name__.replace('_', '-')}.png"
            figure.savefig(os.path.join(figures, name), dpi=100)
            for r in found:
                r.figure = name
        rows.extend(found)
    return rows


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


HEADER = ("#", "Paper", "Claim", "Expected", "Measured", "Tolerance", "Result")


def _cells(k, r):
    """Row ``r``'s cells under HEADER but the last (the result, marked up by each format)."""
    return k, r.paper, r.claim, r.expected, r.measured, r.tolerance


def report_text(rows, quick):
    passed = sum(r.passed for r in rows)
    header = (*HEADER, "Figure")
    lines = ["# gamesim reproduce", "",
             f"{passed} of {len(rows)} checks pass{' (--quick: smaller grids and runs)' if quick else ''}.",
             "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for k, r in enumerate(rows, 1):
        figure = f"[figure](figures/{r.figure})" if r.figure else ""
        lines.append("| " + " | ".join(_cell(c) for c in (
            *_cells(k, r), "pass" if r.passed else "**FAIL**", figure)) + " |")
    return "\n".join(lines) + "\n"


def report_page(rows, quick, figures):
    """report.html: the report's table, then each figure once, inlined."""
    from .page import STYLE

    passed = sum(r.passed for r in rows)
    lines = [f"<tr class=\"{'pass' if r.passed else 'bad'}\">" + "".join(
        f"<td>{html.escape(str(c))}</td>" for c in _cells(k, r)) +
        f"<td>{'pass' if r.passed else '<b>FAIL</b>'}</td></tr>" for k, r in enumerate(rows, 1)]
    shown = []
    for name in dict.fromkeys(r.figure for r in rows if r.figure):
        with open(os.path.join(figures, name), "rb") as f:
            data = base64.b64encode(f.read()).decode()
        shown.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
                     f'{data}"><figcaption>{html.escape(name)}</figcaption></figure>')
    title = "gamesim reproduce" + (" --quick" if quick else "")
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{title}</title>\n<style>{STYLE}\nimg{{max-width:100%}}</style>\n</head>\n"
            f"<body>\n<h1>{title}</h1>\n<p id=\"count\">{passed} of {len(rows)} checks pass"
            f"</p>\n<table id=\"checks\">\n<tr>" + "".join(f"<th>{h}</th>" for h in HEADER)
            + "</tr>\n" + "\n".join(lines) + "\n</table>\n" + "\n".join(shown) + "\n</body>\n</html>\n")


def reproduce(out=None, quick=False, checks=None):
    """Run the checks (default: all of :data:`gamesim.literature.CHECKS`) and write the report
    folder ``out`` (default: a new folder ``runs/reproduce``, ``-2`` and so on if taken).
    Returns (the folder's path, the rows)."""
    from . import results

    checks = literature.CHECKS if checks is None else checks
    with results.reserve(out, name="reproduce-quick" if quick else "reproduce") as reservation:
        figures = os.path.join(reservation.tmp, "figures")
        os.makedirs(figures)
        rows = run_checks(checks, quick, figures)
        with open(os.path.join(reservation.tmp, "report.md"), "w") as f:
            f.write(report_text(rows, quick))
        with open(os.path.join(reservation.tmp, "report.html"), "w") as f:
            f.write(report_page(rows, quick, figures))
        results.write_json(os.path.join(reservation.tmp, "report.json"),
                           {"quick": quick, "checks": [dataclasses.asdict(r) for r in rows]})
        return reservation.commit(), rows
