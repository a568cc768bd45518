"""The ``samples`` target: readers, KDE and histogram masses, the Old Faithful scenario, and
bad data rejected with exit status 2 and nothing left behind."""

import os
import pickle

import numpy as np
import pytest
from scipy.stats import gaussian_kde

from gamesim import GamesimError, Grid, plugins
from gamesim.params import build

from conftest import SCENARIOS, read_run, run_subprocess

FAITHFUL = os.path.join(SCENARIOS, "data", "old-faithful.csv")
ERUPTIONS = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)[:, 0]


def samples(folder, **spec):
    """A ``samples`` target built as a scenario file in ``folder`` would build it."""
    where = os.path.join(os.fspath(folder), "scenario.toml")
    target, _ = build(plugins.registry(), "target", {"kind": "samples", **spec}, where, "target")
    return target


def faithful(**spec):
    return samples(SCENARIOS, path="data/old-faithful.csv", column="eruption_minutes", **spec)


def scipy_cells(kde, grid):
    """Each cell's KDE mass by scipy, and the mass beyond the grid."""
    m = np.array([kde.integrate_box_1d(a, b) for a, b in zip(grid.edges[:-1], grid.edges[1:])])
    return m, 1.0 - m.sum()


def test_the_shipped_data_set_is_old_faithful():
    data = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    assert data.shape == (272, 2)
    assert np.round(data.mean(axis=0), 4).tolist() == [3.4878, 70.8971]  # as its README says
    assert os.path.exists(os.path.join(SCENARIOS, "data", "README.md"))


@pytest.mark.parametrize("spec, bw_method", [
    ({"rule": "scott"}, "scott"),
    ({"rule": "silverman"}, "silverman"),
    ({"bandwidth": 0.25}, 0.25 / ERUPTIONS.std(ddof=1)),  # scipy's number is a factor
    ({"bandwidth": 0.004}, 0.004 / ERUPTIONS.std(ddof=1)),  # narrower than a cell
])
@pytest.mark.parametrize("grid", [Grid(-0.5, 7.5, 512), Grid(0.0, 7.0, 300),
                                  Grid(2.5, 4.0, 64)], ids=["wide", "tails-out", "clipped"])
def test_kde_masses_are_scipys_kde_integrated_over_each_cell(spec, bw_method, grid):
    target = faithful(clip=True, **spec)
    p, outside = target.masses(grid)
    expected, expected_outside = scipy_cells(gaussian_kde(ERUPTIONS, bw_method), grid)
    assert p.dtype == np.float64 and abs(p.sum() - 1.0) < 1e-14
    np.testing.assert_allclose(p * (1.0 - outside), expected, rtol=0, atol=1e-9)
    assert abs(outside - expected_outside) < 1e-9


def test_kde_bandwidth_rules_are_scipys():
    for rule in ("scott", "silverman"):
        kde = gaussian_kde(ERUPTIONS, rule)
        assert faithful(rule=rule).bw == pytest.approx(np.sqrt(kde.covariance[0, 0]), rel=1e-14)


def test_kde_keeps_tiny_tail_masses():
    p, outside = faithful().masses(Grid(-3.0, 10.0, 512))
    assert p.min() > 0  # no representable tail mass rounds to 0 (survival function on the right)
    assert 0 < outside < 1e-30


def test_histogram_masses_are_counts_over_n_exactly():
    grid = Grid(-0.5, 7.5, 512)
    p, outside = faithful(method="histogram").masses(grid)
    counts = np.histogram(ERUPTIONS, bins=np.asarray(grid.edges))[0]
    assert np.array_equal(p, counts / ERUPTIONS.size) and outside == 0.0


def test_histogram_assigns_a_point_on_an_edge_to_the_cell_on_its_right(tmp_path):
    (tmp_path / "x.txt").write_text("0\n0.25\n0.5\n0.5\n1.0\n")
    p, _ = samples(tmp_path, path="x.txt", method="histogram").masses(Grid(0.0, 1.0, 4))
    assert p.tolist() == [0.2, 0.2, 0.4, 0.2]  # the upper edge belongs to the last cell


def test_histogram_clip_leaves_points_outside_out_and_reports_their_share(tmp_path):
    (tmp_path / "x.txt").write_text("-1\n0.1\n0.2\n0.9\n2\n")
    p, outside = samples(tmp_path, path="x.txt", method="histogram",
                         clip=True).masses(Grid(0.0, 1.0, 2))
    assert p.tolist() == [2 / 3, 1 / 3] and outside == 2 / 5


@pytest.mark.parametrize("name, content, spec", [
    ("a.csv", "eruption_minutes,waiting_minutes\n{rows}", {"column": "waiting_minutes"}),
    ("b.csv", "eruption_minutes,waiting_minutes\n{rows}", {"index": 1}),
    ("c.csv", "{rows}", {"index": 1}),  # no header: the first row is numbers
    ("d.dat", "# waiting times\n\n{col}", {"format": "text"}),
    ("e.csv", "waiting\n{col}", {}),  # one column: no choice to make
    ("f.npy", None, {"index": 1}),
    ("g.npy", None, {}),
])
def test_every_format_reads_the_same_sample(tmp_path, name, content, spec):
    data = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    path = tmp_path / name
    if name == "f.npy":
        np.save(path, data)
    elif name == "g.npy":
        np.save(path, data[:, 1])
    else:
        rows = "".join(f"{a!r},{b!r}\n" for a, b in data.tolist())
        path.write_text(content.format(rows=rows, col="".join(f"{b}\n" for b in data[:, 1])))
    assert np.array_equal(samples(tmp_path, path=name, **spec).sample, data[:, 1])


def test_a_samples_target_can_be_a_mixture_component():
    components = [{"kind": "samples", "path": "data/old-faithful.csv",
                   "column": "eruption_minutes", "weight": 3.0},
                  {"kind": "normal", "mean": 3.0, "std": 1.0, "weight": 1.0}]
    where = os.path.join(SCENARIOS, "scenario.toml")
    mixture, _ = build(plugins.registry(), "target", {"kind": "mixture",
                                                      "components": components}, where, "target")
    grid = Grid(-0.5, 7.5, 256)
    p, _ = mixture.masses(grid)
    (kde, kde_out), (normal, normal_out) = (c.masses(grid) for c in mixture.components)
    expected = 0.75 * (1 - kde_out) * kde + 0.25 * (1 - normal_out) * normal
    np.testing.assert_allclose(p, expected / expected.sum(), rtol=1e-13, atol=0)


def test_old_faithful_oracle_scenario_converges(run_cli, tmp_path):
    out = tmp_path / "run"
    result = run_cli("run", os.path.join(SCENARIOS, "old-faithful-oracle.toml"), "--out", out,
                     "--no-plots", "--quiet")
    assert result.status == 0, result.err
    run = read_run(out)
    assert run.summary["status"] == "converged" and run.summary["warnings"] == []
    assert run.last("js") < 1e-6 and run.last("d_max_dev") < 1e-9
    assert run.last("value") == pytest.approx(-np.log(4.0), abs=1e-12)
    p, _ = faithful().masses(Grid(-0.5, 7.5, 512))
    assert np.array_equal(run.snapshots["p_data"], p)


SCENARIO = """\
iterations = 3
[grid]
lower = 0.0
upper = 10.0
points = 64
[target]
kind = "samples"
path = "{path}"
{extra}
[generator]
kind = "density"
[discriminator]
kind = "oracle"
"""


def _npy(array, **kwargs):
    def write(path):
        with open(path, "wb") as f:
            np.save(f, array, **kwargs)
    return write


BAD_DATA = {  # case: (file name, content (None: no file), extra target keys, expected words)
    "missing file": ("none.csv", None, "", "no such file"),
    "empty file": ("x.csv", "", "", "is empty: no values"),
    "header only": ("x.csv", "x\n", "", "has a header but no values"),
    "empty npy": ("x.npy", _npy(np.array([])), "", "holds an empty array"),
    "missing column": ("x.csv", "a,b\n1,2\n", 'column = "c"',
                       "no column 'c'; the header has 'a', 'b'"),
    "column out of range": ("x.csv", "1,2\n3\n", "index = 1", "line 2 has 1 field(s), no column 2"),
    "several columns": ("x.csv", "a,b\n1,2\n", "", "has 2 columns ('a', 'b'); choose one"),
    "non-numeric csv": ("x.csv", "x,y\n1,2\n3,4\n5,abc\n", "index = 1",
                        "line 4, column 2 ('y'): got 'abc', expected a number"),
    "non-numeric text": ("x.txt", "1\n2\n\n3 4\n", "", "line 4, column 1: got '3 4'"),
    "nan": ("x.csv", "x\n1\n2\nnan\ninf\n", "",
            "2 value(s) NaN or infinite, the first at line 4, column 1 ('x'): nan"),
    "inf in npy": ("x.npy", _npy(np.array([1.0, 2.0, np.inf])), "",
                   "1 value(s) NaN or infinite, the first at index 2: inf"),
    "pickled npy": ("x.npy", _npy(np.array([1.0, None], dtype=object), allow_pickle=True), "",
                    "holds Python objects (pickled), which gamesim never loads"),
    "pickle named npy": ("x.npy", pickle.dumps([1.0, 2.0]), "", "is a Python pickle"),
    "text npy": ("x.npy", "1\n2\n", "", "is not an NPY file"),
    "one value for a rule": ("x.txt", "3.0\n", "", "the 'scott' bandwidth rule needs at least 2 "
                                                   "distinct values, the sample has 1 value(s)"),
    "constant sample": ("x.txt", "2\n2\n2\n", 'rule = "silverman"', "has 3 value(s) all equal"),
    "points outside": ("x.txt", "1\n2\n11\n12\n-1\n", "", "3 of 5 sample points lie outside the "
                       "grid [0, 10]: 1 below 0 (smallest -1) and 2 above 10 (largest 12)"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_exits_2_naming_the_file_and_the_problem(case, tmp_path, write_scenario,
                                                          run_cli):
    name, content, extra, expected = BAD_DATA[case]
    data = tmp_path / name
    if isinstance(content, str):
        data.write_text(content)
    elif isinstance(content, bytes):
        data.write_bytes(content)
    elif content is not None:
        content(data)
    scenario = write_scenario(SCENARIO.format(path=name, extra=extra))
    out = tmp_path / "run"
    result = run_cli("run", scenario, "--out", out, "--no-plots", "--quiet")
    assert result.status == 2, result.err
    assert str(data) in result.err and expected in result.err, result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    assert not out.exists() and sorted(os.listdir(tmp_path)) == sorted([name, "scenario.toml"]
                                                                       if content is not None
                                                                       else ["scenario.toml"])


@pytest.mark.parametrize("extra, key, expected", [
    ('column = "x"\nindex = 0', "target.index", "give column or index, not both"),
    ('method = "histogram"\nbandwidth = 0.5', "target.bandwidth", "only used with method = 'kde'"),
    ('rule = "silverman"\nbandwidth = 0.5', "target.bandwidth", "not both"),
    ('format = "text"\ncolumn = "x"', "target.column", "names a CSV header field"),
])
def test_conflicting_parameters_are_rejected(extra, key, expected, tmp_path, write_scenario,
                                            run_cli):
    (tmp_path / "x.csv").write_text("x\n1\n2\n")
    scenario = write_scenario(SCENARIO.format(path="x.csv", extra=extra))
    result = run_cli("validate", scenario)
    assert result.status == 2 and f"{scenario}: {key}: " in result.err and expected in result.err


@pytest.mark.slow
def test_validate_catches_bad_data_and_a_process_exits_2(tmp_path, write_scenario):
    (tmp_path / "x.csv").write_text("x\n1\noops\n")
    scenario = write_scenario(SCENARIO.format(path="x.csv", extra=""))
    for command in (["validate", scenario], ["run", scenario, "--out", tmp_path / "run"]):
        done = run_subprocess(command, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"gamesim: error: {scenario}: target.path: "
                                      f"{tmp_path / 'x.csv'}: line 3, column 1 ('x'): got 'oops'")
    assert sorted(os.listdir(tmp_path)) == ["scenario.toml", "x.csv"]


def test_clip_turns_the_outside_error_into_reported_mass_outside(tmp_path, write_scenario,
                                                                run_scenario):
    (tmp_path / "x.txt").write_text("1\n2\n3\n12\n")
    run = run_scenario(SCENARIO.format(path="x.txt", extra='method = "histogram"\nclip = true'))
    assert any("mass 0.25 outside the grid" in w for w in run.summary["warnings"])
    with pytest.raises(GamesimError, match="1 of 4 sample points"):
        samples(tmp_path, path="x.txt").masses(Grid(0.0, 10.0, 8))


def test_sampled_training_resamples_the_raw_data():
    grid = Grid(0.0, 7.0, 128)
    histogram = faithful(method="histogram")
    histogram.setup(grid)
    rng = np.random.default_rng(0)
    drawn = histogram.draw(rng, 4000)
    assert set(np.unique(drawn)) <= set(ERUPTIONS)  # resampled points, not cell centres
    kde = faithful()
    kde.setup(grid)
    drawn = kde.draw(np.random.default_rng(1), 200_000)
    # a draw from the KDE: the sample's mean, and its variance plus the bandwidth's square
    assert abs(drawn.mean() - ERUPTIONS.mean()) < 4 * drawn.std() / np.sqrt(drawn.size)
    np.testing.assert_allclose(drawn.var(), ERUPTIONS.var() + kde.bw ** 2, rtol=0.02)
