"""``gamesim reproduce``: run the literature checks shipped with gamesim and write report.md.

Each check (:mod:`gamesim.literature`, where its report :class:`~gamesim.literature.Row` is
defined) states a paper's claim, the number it predicts, the
number gamesim measures and the tolerance between them, and may draw a figure. The report
folder is reserved and written whole as a run directory is (gamesim/results.py): report.md,
report.json and figures/. The exit status is 0 when every check passes and 3 when any fails;
1 stays "unexpected" (an error), as elsewhere.
"""

import dataclasses
import json
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


def report_text(rows, quick):
    passed = sum(r.passed for r in rows)
    lines = ["# gamesim reproduce", "",
             f"{passed} of {len(rows)} checks pass{' (--quick: smaller grids and runs)' if quick else ''}.",
             "", "| # | Paper | Claim | Expected | Measured | Tolerance | Result | Figure |",
             "|---|---|---|---|---|---|---|---|"]
    for k, r in enumerate(rows, 1):
        figure = f"[figure](figures/{r.figure})" if r.figure else ""
        lines.append("| " + " | ".join(_cell(c) for c in (
            k, r.paper, r.claim, r.expected, r.measured, r.tolerance,
            "pass" if r.passed else "**FAIL**", figure)) + " |")
    return "\n".join(lines) + "\n"


def reproduce(out=None, quick=False, checks=None):
    """Run the checks (default: all of :data:`gamesim.literature.CHECKS`) and write the report
    folder ``out`` (default: a new folder ``runs/reproduce``, ``-2`` and so on if taken).
    Returns (the folder's path, the rows)."""
    from matplotlib import use

    from . import results

    use("Agg")
    checks = literature.CHECKS if checks is None else checks
    with results.reserve(out, name="reproduce-quick" if quick else "reproduce") as reservation:
        figures = os.path.join(reservation.tmp, "figures")
        os.makedirs(figures)
        rows = run_checks(checks, quick, figures)
        with open(os.path.join(reservation.tmp, "report.md"), "w") as f:
            f.write(report_text(rows, quick))
        with open(os.path.join(reservation.tmp, "report.json"), "w") as f:
            json.dump({"quick": quick, "checks": [dataclasses.asdict(r) for r in rows]}, f,
                      indent=2)
            f.write("\n")
        return reservation.commit(), rows
