"""gamesim.stability and gamesim.field: the Jacobian of the players' field and of one
iteration against closed forms (the Dirac-GAN, the ideal game), the measured rate against the
spectral radius, the places analysed, the reasons given instead of a Jacobian, the saved
stability.json and its plot."""

import json
import os

import numpy as np
import pytest
from scipy.special import expit

import gamesim
from conftest import SCENARIOS
from gamesim import engine, field, plotting, results, scenario, stability
from gamesim.exact import Exact

DIRAC = os.path.join(SCENARIOS, "dirac-gan-simultaneous.toml")
R1 = os.path.join(SCENARIOS, "dirac-gan-r1.toml")
ORIGIN = {"theta": [0.0], "psi": [0.0]}


def at(path, place, overrides=()):
    """The one analysed point of ``path`` at ``place``."""
    (point,) = engine.analyze(scenario.load(path, list(overrides)), place)["points"]
    return point


def complex_of(pairs):
    return np.sort_complex(np.array([re + 1j * im for re, im in pairs]))


def closed_form(values):
    return np.sort_complex(np.asarray(values, dtype=complex))


def dirac_jacobian(gamma):
    """J at (0, 0): f'(0) = 1/2 couples the players, R1 adds -gamma to psi's diagonal."""
    return np.array([[0.0, 0.5], [-0.5, -gamma]])


@pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0])
def test_dirac_gan_jacobian_at_the_equilibrium(gamma):
    """+-i/2 unregularized; -gamma/2 +- sqrt(gamma^2/4 - 1/4) with R1 (complex at 0.3, real
    at 2); simultaneous sgd's update map 1 + h lambda."""
    overrides = [f"discriminator.regularizer.gamma={gamma}"] if gamma else []
    point = at(R1 if gamma else DIRAC, ORIGIN, overrides)
    root = np.sqrt(complex(gamma ** 2 / 4 - 0.25))
    expected = closed_form([-gamma / 2 + root, -gamma / 2 - root])
    assert np.abs(complex_of(point["jacobian_eigenvalues"]) - expected).max() < 1e-6
    assert np.abs(complex_of(point["update_eigenvalues"]) - (1 + 0.1 * expected)).max() < 1e-6
    assert point["field_norm"] == 0.0 and point["jacobian_error"] < 1e-6
    radius = np.abs(1 + 0.1 * expected).max()
    assert point["spectral_radius"] == pytest.approx(radius, abs=1e-9)
    if gamma:
        assert point["verdict"] == {"flow": "stable", "update": "stable",
                                    "predicted_rate": point["spectral_radius"]}
    else:  # pure imaginary: the linearization does not decide the flow; sgd spirals out
        assert point["verdict"]["flow"] == "marginal" and point["verdict"]["update"] == "unstable"


def test_alternating_play_stays_on_the_unit_circle():
    """psi' = psi - h theta / 2, then theta' = theta + h psi' / 2: det 1, trace 2 - h^2 / 4."""
    h = 0.1
    point = at(os.path.join(SCENARIOS, "dirac-gan-alternating.toml"), ORIGIN)
    values = complex_of(point["update_eigenvalues"])
    expected = np.linalg.eigvals(np.array([[1 - h * h / 4, h / 2], [-h / 2, 1.0]]))
    assert np.abs(values - closed_form(expected)).max() < 1e-8
    assert np.abs(np.abs(values) - 1.0).max() <= 2 * point["update_error"] < 2e-8
    assert point["verdict"]["update"] == "marginal"


@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_extragradient_and_optimistic_match_their_linearized_maps(gamma):
    """Extragradient: x' = x + h J (x + h J x), eigenvalues 1 + h lambda + h^2 lambda^2.
    Optimistic: x' = x + 2 h J x + h p, p' = -J x (p the previous gradient), a 4x4 map whose
    eigenvalues solve mu^2 - (1 + 2 h lambda) mu + h lambda = 0 for each lambda of J."""
    h, path = 0.1, R1 if gamma else DIRAC
    reg = [f"discriminator.regularizer.gamma={gamma}"] if gamma else []
    lam = np.linalg.eigvals(dirac_jacobian(gamma))
    for kind, expected in (
            ("extragradient", 1 + h * lam + (h * lam) ** 2),
            ("optimistic", np.concatenate([np.roots([1.0, -(1 + 2 * h * x), h * x]) for x in lam]))):
        table = f"{{kind='{kind}', lr={h}}}"
        point = at(path, ORIGIN, reg + [f"generator.optimizer={table}",
                                         f"discriminator.optimizer={table}"])
        values = complex_of(point["update_eigenvalues"])
        assert values.size == expected.size == (2 if kind == "extragradient" else 4)
        assert np.abs(values - closed_form(expected)).max() < 1e-6, kind


def test_away_from_the_equilibrium_the_trace_is_zero_within_the_stated_accuracy():
    """At (0.5, 0.5): J = [[s' psi^2, s + s' psi theta], [-(s + s' psi theta), -s' theta^2]]
    with s = sigma(psi theta) (the continuum closed form; the grid's cells put it within the
    stated error). A 1e-6 step would drop J_tt: trace -0.0615, a false contraction."""
    point = at(DIRAC, {"theta": [0.5], "psi": [0.5]})
    s = expit(0.25)
    ds = s * (1 - s)
    closed = np.array([[ds / 4, s + ds / 4], [-(s + ds / 4), -ds / 4]])
    error = point["jacobian_error"]
    assert 1e-5 < error < 5e-3
    values = complex_of(point["jacobian_eigenvalues"])
    assert abs(values.real.sum()) <= error  # the trace
    assert np.abs(values - closed_form(np.linalg.eigvals(closed))).max() <= error
    assert point["verdict"] is None and "local linearization" in point["note"]
    sc = scenario.load(DIRAC)
    steps, resolved = field.steps(sc.generator, np.array([0.5]), np.array([0.5]))
    assert steps[0] == pytest.approx(sc.grid.h) and resolved.tolist() == [True, False]


def test_the_field_jacobian_matches_the_closed_form_entrywise():
    """The dense finite-difference Jacobian itself, entry by entry, within its error."""
    sc = scenario.load(DIRAC)
    players = Exact(sc)
    theta, psi = np.array([0.5]), np.array([0.5])
    step, resolved = field.steps(sc.generator, theta, psi)

    def v(y):
        return -field.joined(*field.gradients(players, theta + y[:1], psi + y[1:]))

    jac, error = field.jacobian(v, step, resolved)
    s = expit(0.25)
    ds = s * (1 - s)
    closed = np.array([[ds / 4, s + ds / 4], [-(s + ds / 4), -ds / 4]])
    assert np.linalg.norm(jac - closed) <= error


def test_the_ideal_game_is_stable_at_its_end():
    """Mirror steps against the oracle: J = -(I - 1 p^T) / 2 on the logits, -1/2 on every
    direction modulo constants (the shift removed, so no eigenvalue 0); lr 1 halves the
    distance: the update map's eigenvalues are all 1/2, as measured."""
    sc = scenario.load(os.path.join(SCENARIOS, "ideal-oracle.toml"), ["analysis.stability='end'"])
    result = engine.run(sc)
    assert result.status == "converged"
    document = result.documents["stability.json"]
    (point,) = document["points"]
    flow, update = complex_of(point["jacobian_eigenvalues"]), complex_of(point["update_eigenvalues"])
    assert flow.size == update.size == sc.grid.points - 1
    assert np.abs(flow + 0.5).max() < 1e-7 and np.abs(update - 0.5).max() < 1e-7
    assert point["field_norm"] < stability.FIELD_TOLERANCE
    assert point["verdict"] == {"flow": "stable", "update": "stable",
                                "predicted_rate": point["spectral_radius"]}
    assert document["measured"]["series"] == "d_max_dev"
    assert point["measured_rate"] == pytest.approx(0.5, rel=1e-4)
    assert result.summary_sections["stability"]["spectral_radius"] == point["spectral_radius"]


def test_adam_gets_the_flow_analysis_with_its_reason():
    sc = scenario.load(os.path.join(SCENARIOS, "ideal-oracle.toml"),
                       ["grid.points=64", "iterations=50", "analysis.stability='end'",
                        "generator.optimizer={kind='adam', lr=0.05}"])
    (point,) = engine.run(sc).documents["stability.json"]["points"]
    assert len(point["jacobian_eigenvalues"]) == 63
    assert "update_eigenvalues" not in point and "spectral_radius" not in point
    assert "optimizer 'adam'" in point["update_reason"] and "m = v = 0" in point["update_reason"]


def test_logit_coordinates_leave_out_minus_inf_and_the_shift():
    theta = np.array([0.0, -np.inf, 1.0, 2.0])
    sc = scenario.load(os.path.join(SCENARIOS, "ideal-oracle.toml"))
    coords = stability._parameter_coordinates(sc, theta, None, theta.size)
    assert coords.dim == 2
    basis = np.array([coords.lift(e) for e in np.eye(2)]).T
    assert np.allclose(basis.T @ basis, np.eye(2)) and np.allclose(basis.sum(axis=0), 0)
    assert np.all(basis[1] == 0)  # the -inf cell never moves
    assert np.allclose(coords.reduce(np.ones(4)), 0)  # constants are zero modulo constants


@pytest.mark.parametrize("gamma, iterations", [(0.3, 2500), (2.0, 2500)])
def test_the_measured_rate_of_a_dirac_gan_run_is_its_spectral_radius(gamma, iterations):
    sc = scenario.load(R1, [f"discriminator.regularizer.gamma={gamma}",
                            f"iterations={iterations}", "analysis.stability='end'"])
    summary = engine.run(sc).summary_sections["stability"]
    assert summary["verdict"]["update"] == "stable"
    ratio = np.log(summary["measured_rate"]) / np.log(summary["spectral_radius"])
    assert abs(ratio - 1) < 0.05


def test_the_measured_rate_near_a_quadratic_discriminators_equilibrium():
    """location_scale against a quadratic logistic D, 10 D steps per G step, from mu = 0.5
    (mu = 0 would leave the slowest mode unexcited)."""
    sc = scenario.load(os.path.join(SCENARIOS, "quadratic-discriminator.toml"),
                       ["iterations=400", "generator.mu=0.5", "analysis.stability='end'"])
    result = engine.run(sc)
    summary = result.summary_sections["stability"]
    assert summary["verdict"]["update"] == "stable" and summary["spectral_radius"] < 0.95
    ratio = np.log(summary["measured_rate"]) / np.log(summary["spectral_radius"])
    assert abs(ratio - 1) < 0.05
    # the Jacobian-vector path (ARPACK), an independent computation of the same spectrum
    (point,) = result.documents["stability.json"]["points"]
    theta = np.array(point["parameters"]["theta"])
    psi = np.array(point["parameters"]["psi"])
    dense = complex_of(engine.analyze(sc, {"theta": theta, "psi": psi})["points"][0][
        "jacobian_eigenvalues"])
    limit = stability.DENSE_LIMIT
    try:
        stability.DENSE_LIMIT = 0
        sparse = engine.analyze(sc, {"theta": theta, "psi": psi})["points"][0]
    finally:
        stability.DENSE_LIMIT = limit
    assert sparse["jacobian_method"].startswith("ARPACK")
    top = complex_of(sparse["jacobian_eigenvalues"])
    assert top.size == 3  # k = m - 2 of the m = 5 coordinates
    assert max(np.abs(dense - value).min() for value in top) < 1e-6
    assert top.real.max() == pytest.approx(dense.real.max(), abs=1e-6)


def test_a_small_sweep_converges_where_the_spectral_radius_is_below_one():
    """Dirac-GAN with R1 over learning rate and gamma, from (0.1, 0.1), near the equilibrium
    (local stability says nothing of a far start: lr 1 and gamma 2 from (1, 1) miss it): the
    radius at (0, 0) below 1 is the same as the distance to (0, 0) falling below 1e-6 of its
    start within 1500 iterations."""
    checked = 0
    for lr in (0.1, 0.5, 1.0, 2.0):
        for gamma in (0.0, 0.3, 2.0):
            overrides = [f"generator.optimizer.lr={lr}", f"discriminator.optimizer.lr={lr}",
                         f"discriminator.regularizer.gamma={gamma}", "iterations=1500",
                         "output.snapshots=1", "generator.at=0.1", "discriminator.init=[0.1]"]
            sc = scenario.load(R1, overrides)
            radius = engine.analyze(sc, ORIGIN)["points"][0]["spectral_radius"]
            if abs(radius - 1) < 0.01:
                continue
            result = engine.run(sc)
            cols = {c: np.array([row[i] for row in result.rows])
                    for i, c in enumerate(result.columns)}
            distance = np.hypot(cols["g.theta"], cols["d.w1"])
            converged = bool(np.any(distance[1:] < 1e-6 * distance[0]))
            assert converged == (radius < 1), (lr, gamma, radius)
            checked += 1
    assert checked >= 10


def test_kinks_and_projections_are_stated_not_differentiated():
    wgan = os.path.join(SCENARIOS, "dirac-gan-r1.toml")
    gp = at(wgan, ORIGIN, ["discriminator.regularizer={kind='gradient_penalty', gamma=1.0}"])
    assert "kink" in gp["jacobian_reason"] and "jacobian_eigenvalues" not in gp
    clipped = at(wgan, {"theta": [0.5], "psi": [0.01]},
                 ["discriminator.regularizer={kind='clip', c=0.01}"])
    assert "clipping" in clipped["update_reason"]
    inside = at(wgan, {"theta": [0.5], "psi": [0.005]},
                ["discriminator.regularizer={kind='clip', c=0.01}"])
    assert len(inside["update_eigenvalues"]) == 2


def test_node_generators_step_a_node_by_a_cell():
    """To first order: the node Jacobian by central differences of node_values (smooth)."""
    sc = scenario.load(os.path.join(SCENARIOS, "mlp-gan.toml"))
    theta = sc.generator.init_params(np.random.default_rng(0))
    steps = sc.generator.jacobian_steps(theta)
    eps = 1e-6
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = eps
        column = (sc.generator.node_values(theta + e) - sc.generator.node_values(theta - e)) / (2 * eps)
        assert steps[i] * np.abs(column).max() == pytest.approx(sc.grid.h, rel=1e-6)
    point = scenario.load(DIRAC).generator
    assert point.jacobian_steps(np.array([0.3])).tolist() == [point.grid.h]


def test_places_a_saved_run_and_its_plot(tmp_path):
    """analyze_run re-simulates a saved run to the same end state the run analysed (the
    loop's trajectory is step() repeated, bit for bit), at its snapshots and an iteration."""
    out = tmp_path / "run"
    gamesim.run(R1, overrides={"analysis.stability": "end", "iterations": 120,
                               "output.plots": ["eigenvalues"]}, out=out)
    saved = json.loads((out / "stability.json").read_text())
    again = engine.analyze_run(out, at=["end", "snapshots", 7])
    assert again["points"][0] == saved["points"][0]
    labels = [(p["label"], p["iteration"]) for p in again["points"]]
    assert labels == [("end", 120), ("snapshot", 0), ("snapshot", 40), ("snapshot", 80),
                      ("snapshot", 120), ("iteration", 7)]
    assert (out / "plots" / "eigenvalues.png").read_bytes().startswith(b"\x89PNG")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stability"]["spectral_radius"] == saved["points"][0]["spectral_radius"]
    (out / "stability.json").unlink()
    skipped = plotting.not_applying(results.RunData(str(out)), ["eigenvalues"])
    assert skipped == [("eigenvalues", plotting.REASONS["eigenvalues"])]
    with pytest.raises(gamesim.GamesimError, match="expected 'end'"):
        engine.analyze_run(out, at="middle")


@pytest.mark.parametrize("points, lower", [(801, -12.0), (2001, -10.0), (801, -4.0)])
def test_a_point_mass_on_a_cell_centre_has_the_mean_of_its_one_sided_slopes(points, lower):
    """At a cell centre the cloud-in-cell span's ends sit on cell edges, where rounding puts
    them on either side: the vjp takes the mean of the one-sided derivatives whatever the
    rounding, and the Dirac-GAN's J at (0, 0) has its eigenvalues +-i/2 on every grid."""
    from gamesim import literature

    table = literature.dirac()
    table["grid"] = {"lower": lower, "upper": -lower, "points": points}
    sc = literature.load("centre", table)
    gen, h = sc.generator, sc.grid.h
    g_p = np.sin(np.arange(points) * 0.37)  # any smooth enough gradient in the masses
    k = points // 2  # the cell centred on 0
    slopes = [(g_p[k + 1] - g_p[k]) / h, (g_p[k] - g_p[k - 1]) / h]
    assert gen.vjp(np.array([0.0]), g_p)[0] == pytest.approx(np.mean(slopes), rel=1e-9)
    point = engine.analyze(sc, {"theta": [0.0], "psi": [0.0]})["points"][0]
    assert sorted(z[1] for z in point["jacobian_eigenvalues"]) == pytest.approx([-0.5, 0.5],
                                                                                abs=1e-6)
