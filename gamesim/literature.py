"""The literature checks ``gamesim reproduce`` runs (gamesim/reproduce.py).

Each check is a function ``(quick) -> (rows, figure or None)``: it simulates or evaluates what a
paper claims, on scenarios defined here (so the checks run from an installed package, without
the repository's scenarios/ folder), and states the expected number, the measured one and the
tolerance. ``quick`` uses smaller grids, fewer repetitions and shorter runs (the whole set
within a minute); the tolerances are derived for each size, not loosened for speed.
"""

import math

import numpy as np
from matplotlib.figure import Figure

from . import engine, sampled, scenario
from .exact import Exact
from .reproduce import row

GOODFELLOW = "Goodfellow et al. 2014"
ARJOVSKY = "Arjovsky, Chintala, Bottou 2017"
MIXTURE = {"kind": "mixture", "components": [
    {"kind": "normal", "mean": -2.0, "std": 0.5, "weight": 0.3},
    {"kind": "normal", "mean": 1.5, "std": 1.0, "weight": 0.7}]}
TARGETS = {"two-mode mixture": MIXTURE,
           "uniform on [-1, 2]": {"kind": "uniform", "lower": -1.0, "upper": 2.0}}


def load(name, table):
    """A scenario from its table, named ``reproduce:NAME`` in messages."""
    return scenario.load(f"reproduce:{name}", data={"name": name, **table})


def _frame(title, xlabel, ylabel, ax=None):
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def goodfellow_proposition_1(quick):
    """For a fixed G the optimal D is p_d / (p_d + p_g), and each objective's oracle is a
    best response: no perturbation of it raises V_D."""
    points = 512 if quick else 2048
    rows = []
    sc = load("proposition-1", {"grid": {"points": points}, "target": MIXTURE,
                                "generator": {"kind": "location_scale", "mu": 0.5, "sigma": 2.0},
                                "discriminator": {"kind": "oracle"}, "iterations": 0})
    p_d = sc.p_data
    p_g, _ = sc.generator.forward(sc.generator.init_params(np.random.default_rng(0)))
    u = sc.objective.oracle(p_d, p_g)
    both = p_d + p_g > 0
    ratio = np.divide(p_d, p_d + p_g, out=np.full_like(p_d, 0.5), where=both)
    d_star = 1.0 / (1.0 + np.exp(-u))
    rows.append(row(GOODFELLOW, "Proposition 1: the optimal D is p_d / (p_d + p_g) (largest "
                                f"deviation over the {points} cells)", 0.0,
                    float(np.abs(d_star - ratio)[both].max()), 1e-12))
    rng = np.random.default_rng(1)
    for name in ("minimax", "least_squares", "hinge"):
        objective = load(f"proposition-1-{name}", {
            "grid": {"points": points}, "target": MIXTURE, "iterations": 0,
            "generator": {"kind": "location_scale", "mu": 0.5, "sigma": 2.0},
            "discriminator": {"kind": "oracle"}, "game": {"objective": name}}).objective
        best = objective.oracle(p_d, p_g)
        top = objective.value(p_d, p_g, best)
        gain = max(objective.value(p_d, p_g, best + scale * rng.standard_normal(points)) - top
                   for scale in (1e-6, 1e-3, 1e-1, 1.0) for _ in range(25))
        rows.append(row(GOODFELLOW, f"the {name} oracle is a best response: the largest gain "
                                    f"in V_D over 100 random perturbations of it",
                        "<= 0", gain, 1e-15, passed=gain <= 1e-15))
    fig, ax = _frame(f"{GOODFELLOW}, Proposition 1: D* = p_d / (p_d + p_g)", "x",
                     "density / D")
    x = sc.grid.x
    ax.plot(x, p_d / sc.grid.h, "k:", label="p_data")
    ax.plot(x, p_g / sc.grid.h, color="tab:green", label="p_g")
    ax.plot(x, d_star, "--", color="tab:blue", label="oracle D*")
    ax.plot(x[::16], ratio[::16], "o", ms=3, color="tab:red", label="p_d / (p_d + p_g)")
    ax.legend(fontsize=8)
    return rows, fig


def goodfellow_theorem_1(quick):
    """The ideal game (oracle D, free density, mirror step) ends at p_g = p_data with the
    value at its global minimum (-log 4 for minimax), for several objectives and targets."""
    iterations = 200 if quick else 400
    rows = []
    fig, ax = _frame(f"{GOODFELLOW}, Theorem 1: value - equilibrium in the ideal game",
                     "iteration", "|value - equilibrium|")
    for objective in ("minimax", "nonsaturating", "least_squares"):
        for target_name, target in TARGETS.items():
            sc = load("theorem-1", {
                "iterations": iterations, "grid": {"points": 256 if quick else 512},
                "target": target, "discriminator": {"kind": "oracle"},
                "generator": {"kind": "density", "init": {"kind": "normal", "std": 3.0},
                              "optimizer": {"kind": "mirror", "lr": 1.0}},
                "game": {"objective": objective}, "metrics": {"distances": ["js"]}})
            result = engine.run(sc)
            table = np.array(result.rows, dtype=float)
            value, js = table[:, result.columns.index("value")], \
                table[:, result.columns.index("js")]
            equilibrium = sc.objective.equilibrium
            what = f"{objective}, {target_name}"
            rows.append(row(GOODFELLOW, f"Theorem 1 ({what}): the value ends at its global "
                                        f"minimum, reached at p_g = p_data", equilibrium,
                            float(value[-1]), 1e-9))
            rows.append(row(GOODFELLOW, f"Theorem 1 ({what}): p_g ends at p_data (JS, nats)",
                            0.0, float(js[-1]), 1e-9))
            ax.semilogy(table[:, 0], np.maximum(np.abs(value - equilibrium), 1e-17),
                        label=what)
    ax.legend(fontsize=7)
    return rows, fig


def arjovsky_example_1(quick):
    """Arjovsky et al. 2017, Example 1 in 1D: a uniform bump and its shift by theta. For
    disjoint supports JS = log 2, KL = inf and TV = 1 whatever theta, while W1 = |theta|."""
    from .studies.disjoint_supports import plot, sweep

    sc = load("example-1", {
        "iterations": 0, "grid": {"lower": -4.0, "upper": 4.0, "points": 800},
        "target": {"kind": "uniform", "lower": -0.25, "upper": 0.25},
        "generator": {"kind": "density", "init": {"kind": "uniform", "lower": 1.75,
                                                  "upper": 2.25}},
        "game": {"mode": "direct", "distance": {"kind": "w1"}},
        "metrics": {"distances": ["js", "kl", "tv", "w1"]}})
    theta, values, width, h = sweep(sc, 81 if quick else 321)
    disjoint = np.abs(theta) >= width + h
    shifts = f"{disjoint.sum()} disjoint shifts of {theta.size}"
    rows = [
        row(ARJOVSKY, f"Example 1: JS = log 2 for every disjoint shift ({shifts})", math.log(2),
            float(values["js"][disjoint][np.argmax(np.abs(values["js"][disjoint] -
                                                         math.log(2)))]), 1e-14),
        row(ARJOVSKY, f"Example 1: KL = inf for every disjoint shift (the number of finite "
                      f"values among {disjoint.sum()})", 0,
            int(np.isfinite(values["kl"][disjoint]).sum()), 0),
        row(ARJOVSKY, "Example 1: TV = 1 for every disjoint shift", 1.0,
            float(values["tv"][disjoint][np.argmax(np.abs(values["tv"][disjoint] - 1))]),
            1e-14),
        row(ARJOVSKY, f"Example 1: W1 = |theta| at every shift (the largest deviation over "
                      f"{theta.size})", 0.0, float(np.abs(values["w1"] - np.abs(theta)).max()),
            1e-12),
    ]
    return rows, plot(theta, values, width, h, title="Arjovsky et al. 2017, Example 1")


def gaussian_closed_forms(quick):
    """Each distance between two discretized Gaussians against the closed form between the
    continuous ones, within the leading discretization error that docs/grid-refinement.md
    derives (JS has no closed form and is left out)."""
    from .studies import grid_refinement as study

    n = 2048 if quick else 8192
    names = tuple(name for name in study.DISTANCES if name != "js")
    table = study.refinement_table((n,), study.Pair(), names)
    rows = []
    for name in names:
        allowed = 1.5 * abs(table.leading[name][0]) + study.FLOOR
        rows.append(row("closed forms", f"{name} between N(0, 1) and N(1, 1.5^2) on {n} "
                                        f"cells: the closed form within 1.5x the derived "
                                        f"leading error", table.exact[name],
                        float(table.exact[name] + table.errors[name][0]), allowed))
    return rows, None


def grid_refinement_orders(quick):
    """Second-order convergence in the cell width h of the distances whose error
    docs/grid-refinement.md derives as O(h^2) (fitted over successive doublings)."""
    from .studies import grid_refinement as study

    sizes = (128, 256, 512, 1024) if quick else (64, 128, 256, 512, 1024, 2048, 4096)
    names = tuple(name for name in study.SMOOTHED if name != "js") + ("w2", "w1")
    table = study.refinement_table(sizes, study.Pair(), names)
    rows = [row("grid refinement", f"{name}: the error's fitted order in h over "
                                   f"N = {sizes[0]}..{sizes[-1]}", 2.0, table.order(name), 0.05)
            for name in names]
    return rows, study.plot(table)


def sampled_unbiasedness(quick):
    """Sampled training's gradients are unbiased: the mean over many minibatches of each
    player's gradient is the exact one, within 3 standard errors plus the O(h^2) of generated
    points that sit within their cells (docs/design.md, "Numerics")."""
    reps = 400 if quick else 2000
    sc = load("unbiased", {
        "iterations": 0, "grid": {"lower": -6.0, "upper": 6.0, "points": 2048},
        "target": MIXTURE, "generator": {"kind": "location_scale", "mu": 0.4, "sigma": 1.3},
        "discriminator": {"kind": "logistic", "degree": 2, "init": [0.8, -1.5, 0.3]},
        "game": {"estimator": "sampled", "batch": 64}})
    players = Exact(sc)
    batches = sampled.Batches(sc, players)
    theta, psi, _ = engine.iteration(sc).initial()
    point = players.point(theta, psi)
    exact = {"generator": point.g_grad(), "discriminator": point.d_grad()}
    samples = {"generator": [], "discriminator": []}
    for rep in range(reps):
        rng = sampled.streams(1, rep)[1]
        x, z = batches.data(rng), batches.noise(rng)
        samples["discriminator"].append(batches.discriminator(theta, psi, x, z)[1])
        samples["generator"].append(batches.generator(theta, psi, batches.noise(rng))[1])
    rows = []
    for name, values in samples.items():
        values = np.asarray(values)
        mean, se = values.mean(0), values.std(0, ddof=1) / math.sqrt(reps)
        scale = float(np.abs(exact[name]).max())
        allowed = 3 * se + 2.0 * sc.grid.h ** 2 * scale
        worst = int(np.argmax(np.abs(mean - exact[name]) / allowed))
        rows.append(row("sampled estimators", f"the mean of {reps} minibatch {name} gradients "
                                              f"(minimax, batch 64) is the exact gradient "
                                              f"(its worst entry)",
                        float(exact[name][worst]), float(mean[worst]), float(allowed[worst])))
    return rows, None


CHECKS = (goodfellow_proposition_1, goodfellow_theorem_1, arjovsky_example_1,
          gaussian_closed_forms, grid_refinement_orders, sampled_unbiasedness)
