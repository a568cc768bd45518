"""The metric columns of metrics.csv: one rule for the recorder and for the scenario's stop
condition (this module imports nothing, so validating a scenario stays cheap)."""


def metric_columns(objective, distance_names, batch_names=()):
    """``value``, an estimator's batch estimates, one column per distance, ``mass_outside``,
    and ``d_max_dev`` (max |D - 1/2|) and ``d_mean_dev`` (sum (p_d + p_g) |D - 1/2| / 2) where
    D is a probability: the objective's ``output`` is 'logit' or 'probability' (not a critic;
    ``objective`` None in direct mode)."""
    columns = ["value", *batch_names, *distance_names, "mass_outside"]
    if objective is not None and objective.output in ("logit", "probability"):
        columns += ["d_max_dev", "d_mean_dev"]
    return columns
