"""The literature checks ``gamesim reproduce`` runs (gamesim/reproduction.py).

Each check is a function ``(quick) -> (rows, figure or None)``: it simulates or evaluates what a
paper claims, on scenarios defined here (so the checks run from an installed package, without
the repository's scenarios/ folder), and states the expected number, the measured one and the
tolerance. ``quick`` uses smaller grids, fewer repetitions and shorter runs (the whole set
within a minute); the tolerances are derived for each size, not loosened for speed.
"""

import dataclasses
import math

import numpy as np
from matplotlib.figure import Figure

from . import engine, sampled, scenario
from .exact import Exact

@dataclasses.dataclass
class Row:
    """One line of the report: a claim and its verdict."""

    paper: str
    claim: str
    expected: str
    measured: str
    tolerance: str
    passed: bool
    figure: str | None = None  # file name under figures/, set when the check's figure is saved


def row(paper, claim, expected, measured, tolerance, passed=None):
    """A report row; numbers are formatted, and ``passed`` defaults to
    |measured - expected| <= tolerance."""
    if passed is None:
        passed = abs(measured - expected) <= tolerance
    return Row(paper, claim, _text(expected), _text(measured), _text(tolerance), bool(passed))


def _text(value):
    if isinstance(value, str):
        return value
    return f"{value:.10g}" if isinstance(value, float) else str(value)


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


def _frame(title, xlabel, ylabel):
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


MESCHEDER = "Mescheder, Geiger, Nowozin 2018"
DIRAC_LR = 0.1
DIRAC = {  # the Dirac-GAN: p_g = delta_theta against D(x) = sigmoid(psi x), target at 0
    "grid": {"lower": -4.0, "upper": 4.0, "points": 801}, "target": {"kind": "point", "at": 0.0},
    "generator": {"kind": "point", "at": 1.0, "optimizer": {"kind": "sgd", "lr": DIRAC_LR}},
    "discriminator": {"kind": "logistic", "features": "polynomial", "degree": 1, "bias": False,
                      "standardize": False, "init": [1.0],
                      "optimizer": {"kind": "sgd", "lr": DIRAC_LR}},
    "game": {"schedule": "simultaneous"}, "metrics": {"distances": ["w1"]}}
EQUILIBRIUM = {"theta": [0.0], "psi": [0.0]}


def dirac(iterations=0, regularizer=None, **game):
    """The Dirac-GAN's table with ``regularizer`` and ``[game]`` keys changed."""
    table = {**DIRAC, "iterations": iterations, "game": {**DIRAC["game"], **game},
             "discriminator": dict(DIRAC["discriminator"])}
    if regularizer is not None:
        table["discriminator"]["regularizer"] = regularizer
    return table


def _paired(measured, expected):
    """The largest distance between two lists of complex eigenvalues, matched in order of
    (real part, imaginary part)."""
    def order(z):
        return round(z.real, 6), round(z.imag, 6)

    measured = sorted((complex(re, im) for re, im in measured), key=order)
    expected = sorted(expected, key=order)
    return max(abs(a - b) for a, b in zip(measured, expected, strict=True))


def mescheder_dirac_gan(quick):
    """The Dirac-GAN table of Mescheder et al. 2018 (sections 2-3): the Jacobian's
    eigenvalues at the equilibrium (0, 0) in closed form against gamesim's analysis, and the
    update map's spectral radius against |1 + h lambda| (or 1 for alternating play).

    The closed forms hold for this game as written: a degree-1 discriminator without bias or
    standardizing, f'(0) = 1/2 (the logistic loss), equal learning rates h, and for R1 and R2
    a gamma other than 1, where the repeated eigenvalue -1/2 would split under the finite
    differences and could not be compared one by one."""
    half = 0.5  # f'(0)
    cases = [
        ("simultaneous gradient play", dirac(), [1j * half, -1j * half], None),
        ("R1, gamma = 0.3 (complex pair)", dirac(regularizer={"kind": "r1", "gamma": 0.3}),
         None, 0.3),
        ("R1, gamma = 2 (real pair)", dirac(regularizer={"kind": "r1", "gamma": 2.0}), None, 2.0),
        ("R2, gamma = 0.3 (as R1 here: D's slope is psi at every x)",
         dirac(regularizer={"kind": "r2", "gamma": 0.3}), None, 0.3),
    ]
    rows = []
    fig, ax = _frame(f"{MESCHEDER}: Dirac-GAN eigenvalues at (0, 0), closed form (+) and "
                     f"gamesim (o)", "real part", "imaginary part")
    for k, (what, table, expected, gamma) in enumerate(cases):
        if expected is None:
            root = np.sqrt(complex(gamma ** 2 / 4 - half ** 2))
            expected = [-gamma / 2 + root, -gamma / 2 - root]
        point = engine.analyze(load("dirac", table), EQUILIBRIUM)["points"][0]
        rows.append(row(MESCHEDER, f"Dirac-GAN, {what}: J's eigenvalues "
                                   f"{_complexes(expected)} (largest distance)", 0.0,
                        _paired(point["jacobian_eigenvalues"], expected), 1e-6))
        radius = max(abs(1 + DIRAC_LR * z) for z in expected)
        rows.append(row(MESCHEDER, f"Dirac-GAN, {what}, simultaneous sgd lr {DIRAC_LR}: "
                                   f"spectral radius max |1 + h lambda|"
                                   f"{' > 1: spirals out' if radius > 1 else ' < 1: converges'}",
                        radius, point["spectral_radius"], 1e-6))
        pairs = np.array(point["jacobian_eigenvalues"])
        ax.plot(pairs[:, 0], pairs[:, 1], "o", color=f"C{k}", fillstyle="none", label=what)
        ax.plot([z.real for z in expected], [z.imag for z in expected], "+", color=f"C{k}",
                markersize=12)
    point = engine.analyze(load("dirac", dirac(schedule="alternating")),
                           EQUILIBRIUM)["points"][0]
    rows.append(row(MESCHEDER, "Dirac-GAN, alternating sgd: the update map's eigenvalues lie on "
                               "the unit circle (spectral radius 1: it cycles)", 1.0,
                    point["spectral_radius"], 1e-6))
    gamma = 1.0
    point = engine.analyze(load("dirac", dirac(consensus=gamma)), EQUILIBRIUM)["points"][0]
    expected = [-gamma * half ** 2 + 1j * half, -gamma * half ** 2 - 1j * half]
    rows.append(row("Mescheder, Nowozin, Geiger 2017",
                    f"Dirac-GAN, consensus optimization gamma = {gamma:g}: J - gamma J^T J has "
                    f"eigenvalues {_complexes(expected)} (largest distance)", 0.0,
                    _paired(point["consensus_jacobian_eigenvalues"], expected), 1e-6))
    rows.extend(_instance_noise(sigma) for sigma in (1.0, 1.5))  # a complex and a real pair
    ax.axvline(0.0, color="0.5", linewidth=0.8)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=7)
    return rows + _wgan(quick), fig


def _instance_noise(sigma):
    """Instance noise on the Dirac-GAN: J at (0, 0) is [[0, f'(0)], [-f'(0), 2 f''(0) s^2]]
    with f''(0) = -1/4, eigenvalues -s^2/4 +- sqrt(s^4/16 - 1/4) for s^2 = sigma^2. On the grid
    the noise spreads cell masses, and the point mass itself spans up to two cells: s^2 is
    sigma^2 plus at most h^2/4 + h^2/12, so the tolerance is twice the eigenvalues' move from
    that, plus the differences' 1e-6. The grid reaches 8 sigma, so no noise is cut at its
    edges (gamesim.noise puts what is cut into the edge cells)."""
    table = dirac(instance_noise={"std": sigma})
    table["grid"] = {"lower": -8.0 * sigma, "upper": 8.0 * sigma, "points": 800}
    sc = load("dirac-noise", table)

    def closed(s2):
        root = np.sqrt(complex(s2 ** 2 / 16 - 0.25))
        return [-s2 / 4 + root, -s2 / 4 - root]

    expected = closed(sigma ** 2)
    spread = sc.grid.h ** 2 / 4 + sc.grid.h ** 2 / 12
    shift = max(abs(a - b) for a, b in zip(expected, closed(sigma ** 2 + spread)))
    point = engine.analyze(sc, EQUILIBRIUM)["points"][0]
    return row("Sonderby et al. 2016; " + MESCHEDER,
               f"Dirac-GAN, instance noise sigma = {sigma:g}: J's eigenvalues "
               f"{_complexes(expected)} (largest distance; h / sigma = "
               f"{sc.grid.h / sigma:.3g})", 0.0,
               _paired(point["jacobian_eigenvalues"], expected), 2 * shift + 1e-6)


def _complexes(values):
    return ", ".join(f"{z.real:.4g}{z.imag:+.4g}i" for z in values)


def _wgan(quick):
    """WGAN (weight clipping) and WGAN-GP on the Dirac-GAN, by their measured behaviour
    only (Mescheder et al. 2018, section 3.2: neither converges to the equilibrium)."""
    rows = []
    iterations = 1000 if quick else 4000
    for name, regularizer in (("WGAN, clip c = 1", {"kind": "clip", "c": 1.0}),
                              ("WGAN-GP, gamma = 1",
                               {"kind": "gradient_penalty", "gamma": 1.0})):
        table = dirac(iterations, regularizer, objective="wasserstein")
        table["record_every"] = 10
        result = engine.run(load("dirac-wgan", table))
        series = np.array(result.rows)[:, [result.columns.index("g.theta"),
                                           result.columns.index("d.w1")]]
        late = np.hypot(series[len(series) // 2:, 0], series[len(series) // 2:, 1])
        rows.append(row(MESCHEDER, f"Dirac-GAN, {name}, simultaneous sgd: does not converge "
                                   f"to (0, 0) (the smallest distance to it over the run's "
                                   f"second half, from 1.41 at the start)", "> 0.1",
                        float(late.min()), "-", passed=late.min() > 0.1))
    return rows


CHECKS = (goodfellow_proposition_1, goodfellow_theorem_1, arjovsky_example_1,
          gaussian_closed_forms, grid_refinement_orders, sampled_unbiasedness,
          mescheder_dirac_gan)
