"""Checks a run makes of itself, at its recorded rows and after its loop (docs/design.md,
"Numerics"): the objective's value identity against the oracle, and an exact cycle of the
recorded rows. Their findings make the ``checks`` section of summary.json; a failed check or
a cycle is also a warning (the simulation ran: the exit status stays 0)."""

import inspect
import math

import numpy as np

# |value - oracle_value| <= ATOL + RTOL |oracle_value| at every row. Rounding in the sums over
# N cells leaves at most about N eps times the sum of |terms| (<= 2 for the logistic
# objectives, the grid's span for W1); the shipped oracle scenarios deviate by 4.5e-15 at
# most. An error in a closed form or in the value is far above the tolerance (the tests'
# broken objective is off by 1e-6); the relative term covers W1 on wide grids.
ATOL = RTOL = 1e-9
TOLERANCE_RULE = f"|value - oracle_value| <= {ATOL:g} + {RTOL:g} |oracle_value|"

# Two rows are the same state when every counted column (all but the iteration) agrees within
# CYCLE_RTOL times the largest finite magnitude that column took: relative to the column's
# scale, so round-off around a fixed point (JS of 1e-17 against 2e-17) is not an oscillation.
CYCLE_RTOL = 1e-12
MAX_PERIOD = 8   # in recorded rows
MIN_REPEATS = 10  # rows at the end that each repeat the row a period before


def tolerance(expected):
    """The identity's tolerance at a row whose ``oracle_value`` is ``expected``."""
    return ATOL + RTOL * abs(expected)


def json_number(x):
    """A float for summary.json, where non-finite numbers are the strings 'nan', 'inf' and
    '-inf' (JSON has no spelling for them)."""
    x = float(x)
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


class ValueIdentity:
    """The recorded value against ``objective.oracle_value`` on the seen masses, row by row,
    keeping the row that comes nearest to (or goes furthest past) its tolerance."""

    def __init__(self, objective):
        self.objective = objective
        doc = inspect.getdoc(objective.oracle_value) or "the objective's oracle_value"
        self.identity = " ".join(doc.split("\n\n")[0].split())
        self.rows, self.worst = 0, None  # worst: (deviation / tolerance, deviation, it, tol)

    def check(self, iteration, value, p_d, p_g):
        expected = float(self.objective.oracle_value(p_d, p_g))
        deviation, tol = abs(float(value) - expected), tolerance(expected)
        ratio = deviation / tol
        if math.isnan(ratio):  # a NaN or infinite closed form fails the check
            ratio = math.inf
        self.rows += 1
        if self.worst is None or ratio > self.worst[0]:
            self.worst = (ratio, deviation, iteration, tol)

    @property
    def passed(self):
        return self.worst is None or self.worst[0] <= 1.0

    def section(self):
        if self.worst is None:
            return {"objective": self.objective.name, "identity": self.identity, "rows": 0,
                    "rule": TOLERANCE_RULE, "passed": True}
        _, deviation, iteration, tol = self.worst
        return {"objective": self.objective.name, "identity": self.identity,
                "rows": self.rows, "largest_deviation": json_number(deviation),
                "iteration": iteration, "tolerance": tol, "rule": TOLERANCE_RULE,
                "passed": self.passed}

    def warning(self):
        """The line of a failed check: its worst row, deviation and tolerance."""
        _, deviation, iteration, tol = self.worst
        return (f"check failed: value identity of objective {self.objective.name!r}: "
                f"|value - oracle_value| = {deviation:.3g} at iteration {iteration}, above the "
                f"tolerance {tol:.3g} ({TOLERANCE_RULE}; largest of {self.rows} recorded rows)")


def find_cycle(rows, record_every):
    """The shortest exact repetition of the recorded rows at their end, or None.

    Only rows at multiples of ``record_every`` count (a last row off that spacing would break
    the period). A period p (2 to MAX_PERIOD rows) is reported when each of the last
    MIN_REPEATS or more of them equals the row p before (columns but the iteration, to
    CYCLE_RTOL of the column's scale) and no shorter period does: rows equal to their
    predecessor are a fixed point, not a cycle. A cycle whose period divides ``record_every``
    shows as equal rows and cannot be told from a fixed point here.
    Returns {"period_rows", "period_iterations", "from_iteration", "rows"}.
    """
    regular = [row for row in rows if row[0] % record_every == 0]
    if len(regular) < 1 + MIN_REPEATS:
        return None
    values = np.array([row[1:] for row in regular], dtype=float)
    finite = np.where(np.isfinite(values), np.abs(values), 0.0)
    slack = CYCLE_RTOL * finite.max(axis=0)
    with np.errstate(invalid="ignore"):
        for period in range(1, MAX_PERIOD + 1):
            now, before = values[period:], values[:-period]
            same = (np.abs(now - before) <= slack) | (now == before) | \
                (np.isnan(now) & np.isnan(before))
            repeats = np.flatnonzero(~same.all(axis=1))
            count = same.shape[0] - (int(repeats[-1]) + 1 if repeats.size else 0)
            if count >= MIN_REPEATS:
                if period == 1:
                    return None
                first = len(regular) - count - period
                return {"period_rows": period,
                        "period_iterations": period * record_every,
                        "from_iteration": regular[first][0], "rows": count + period}
    return None


def cycle_warning(cycle):
    """The warning line for a cycle :func:`find_cycle` found."""
    return (f"cycle: the recorded rows repeat with period {cycle['period_iterations']} "
            f"iterations ({cycle['period_rows']} rows) from iteration "
            f"{cycle['from_iteration']} on ({cycle['rows']} rows, every metric to "
            f"{CYCLE_RTOL:g} of its scale): the run has not stalled, and snapshots spaced by a "
            f"multiple of the period show one phase of the cycle")
