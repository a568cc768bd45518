"""The built-in default plugin names, in one table: what a scenario gets for a key it leaves
out (docs/design.md, "Scenario files")."""

OPTIMIZER = {"kind": "sgd", "lr": 0.01}  # a player whose class names no default_optimizer
OBJECTIVE = "minimax"
DISCRIMINATOR = {"kind": "oracle"}
DISTANCES = ["js", "kl", "w1", "tv"]  # recorded every row
SWEEP_METRICS = ("js", "w1", "tv", "value")  # the sweep plot's metric: the first recorded


def sweep_metric(rows):
    """The first of SWEEP_METRICS that a sweep's rows recorded (a value, not an empty cell),
    or None."""
    return next((m for m in SWEEP_METRICS if any(row.get(m, "") != "" for row in rows)), None)
