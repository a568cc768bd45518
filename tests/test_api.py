"""The Python API: the same runs, files and messages as the command line, from Python."""

import contextlib
import csv
import filecmp
import io
import math
import os
import re
import subprocess
import sys
import textwrap
import tomllib

import numpy as np
import pytest
from matplotlib.figure import Figure

import gamesim
from gamesim import scenario
from gamesim.errors import GamesimError

from conftest import gamesim_cli, read_run

SCENARIO = """
name = "api"
iterations = 30
record_every = 5
[grid]
lower = -6.0
upper = 6.0
points = 64
[target]
kind = "mixture"
components = [
  { kind = "normal", mean = -1.0, std = 0.5 },
  { kind = "normal", mean = 1.5, std = 0.5 },
]
[generator]
kind = "density"
init = { kind = "normal", mean = 0.5, std = 2.0 }
optimizer = { kind = "mirror", lr = 0.5 }
[metrics]
distances = ["js", "w1"]
[output]
plots = ["convergence"]
snapshots = 3
"""
SWEEP = SCENARIO + '[sweep]\n"generator.optimizer.lr" = [0.25, 1.0]\n'
SAVED = ("metrics.csv", "snapshots.npz")


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "api.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture
def cli_run(scenario_file, tmp_path):
    """The scenario run by the ``gamesim`` console script into tmp_path/cli."""
    proc = gamesim_cli(["run", scenario_file.name, "--out", "cli", "--no-plots", "--quiet"],
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "cli"


def same_files(a, b, names=SAVED):
    return all(filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False)
               for n in names)


@pytest.mark.slow
def test_a_run_from_a_file_saves_the_cli_bytes_and_reads_back_equal(scenario_file, cli_run,
                                                                    tmp_path):
    run = gamesim.run(scenario_file)
    assert run.path is None and not os.path.exists(tmp_path / "runs")  # nothing written
    assert run.status == "completed" and run.warnings == []
    saved = run.save(tmp_path / "saved", plots=False)
    assert saved == str(tmp_path / "saved") and run.path == saved
    assert same_files(saved, cli_run)
    back = gamesim.load_run(cli_run)
    assert list(back.metrics) == list(run.metrics) == read_run(cli_run).header
    for name, column in run.metrics.items():
        assert column.dtype == np.float64
        np.testing.assert_array_equal(back.metrics[name], column)
    assert back.metrics["iteration"].tolist() == [0, 5, 10, 15, 20, 25, 30]
    assert sorted(back.snapshots) == sorted(run.snapshots) == ["d", "iterations", "p_data",
                                                                "p_gen", "x"]
    for name, array in run.snapshots.items():
        np.testing.assert_array_equal(back.snapshots[name], array)
    assert back.scenario == run.scenario
    assert run.scenario["generator"]["optimizer"] == {"kind": "mirror", "lr": 0.5}
    assert back.final == run.final and run.final["iteration"] == 30
    assert run.final["js"] == run.metrics["js"][-1] < run.metrics["js"][0]
    # a run read back saves as it is, byte for byte
    copied = back.save(tmp_path / "copied")
    assert sorted(os.listdir(copied)) == sorted(os.listdir(cli_run))
    assert same_files(copied, cli_run, os.listdir(cli_run))


@pytest.mark.slow
def test_a_run_from_a_dict_gives_the_cli_bytes_of_the_same_file(cli_run, tmp_path,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = gamesim.run(tomllib.loads(SCENARIO), out="from-dict", plots=False)
    assert run.path == str(tmp_path / "from-dict")
    assert same_files(run.path, cli_run)
    assert run.scenario == gamesim.load_run(cli_run).scenario


def test_a_dict_source_defaults_its_name_and_resolves_data_paths_from_here(tmp_path,
                                                                           monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("\n".join(str(v / 10) for v in range(-9, 10)))
    monkeypatch.chdir(tmp_path)
    table = tomllib.loads(SCENARIO)
    del table["name"]
    table["target"] = {"kind": "samples", "path": "data/x.csv"}
    sc = gamesim.load(table)
    assert sc.name == "scenario"
    assert sc.resolved["target"]["path"] == str(tmp_path / "data" / "x.csv")


def test_overrides_take_python_values_as_set_takes_toml(scenario_file):
    by_dict = gamesim.load(scenario_file, {"generator.optimizer.lr": 0.125,
                                           "metrics.distances": ["tv"]})
    by_set = gamesim.load(scenario_file, ["generator.optimizer.lr=0.125",
                                          'metrics.distances=["tv"]'])
    assert by_dict.resolved == by_set.resolved
    assert by_dict.generator_optimizer.lr == 0.125 and list(by_dict.distances) == ["tv"]


BAD_INPUTS = [  # (text replaced in SCENARIO, its replacement, --set arguments, fragment)
    ("mean = -1.0, std = 0.5", "mean = -1.0, std = -1", [],
     "target.components[0].std: got -1, expected a number > 0"),
    ("", "", ["--set", "record_every=0"], "record_every: got 0, expected an integer >= 1"),
    ("[metrics]", "[game]\nmode = 'direct'\n[metrics]", [], "game.distance: missing"),
]


@pytest.mark.slow
@pytest.mark.parametrize("old, new, args, fragment", BAD_INPUTS)
def test_bad_input_raises_the_message_the_cli_prints(old, new, args, fragment, tmp_path,
                                                     monkeypatch):
    (tmp_path / "bad.toml").write_text(SCENARIO.replace(old, new) if old else SCENARIO)
    proc = gamesim_cli(["validate", "bad.toml", *args], cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    overrides = {key: int(value) for key, value in (a.split("=") for a in args[1::2])}
    with pytest.raises(GamesimError) as caught:
        gamesim.run("bad.toml", overrides)
    assert proc.returncode == 2
    assert proc.stderr == f"gamesim: error: {caught.value}\n"
    assert str(caught.value).startswith(f"bad.toml: {fragment}")


def test_an_existing_out_is_refused_before_simulating(scenario_file, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(GamesimError, match="already exists") as caught:
        gamesim.run(scenario_file, {"iterations": 10 ** 7, "record_every": 10 ** 7},
                    out=tmp_path / "taken")
    assert os.listdir(tmp_path / "taken") == []
    assert type(caught.value) is GamesimError


@pytest.mark.slow
def test_run_with_out_writes_the_run_directory_with_its_plots(scenario_file, cli_run,
                                                              tmp_path):
    run = gamesim.run(scenario_file, out=tmp_path / "api-out")
    assert same_files(run.path, cli_run)
    assert os.listdir(os.path.join(run.path, "plots")) == ["convergence.png"]
    assert not [e for e in os.listdir(tmp_path) if e.startswith(".")]


@pytest.mark.slow
def test_run_refuses_a_sweep_and_run_sweep_gives_the_rows_of_sweep_csv(tmp_path,
                                                                       monkeypatch):
    (tmp_path / "sweep.toml").write_text(SWEEP)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GamesimError, match="sweep.toml: sweep: gamesim.run runs one scenario"):
        gamesim.run("sweep.toml")
    rows = gamesim.run_sweep("sweep.toml", jobs=1)
    assert os.listdir(tmp_path) == ["sweep.toml"]  # no out: nothing written
    proc = gamesim_cli(["sweep", "sweep.toml", "--out", "cli", "--jobs", "1", "--quiet"],
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "cli" / "sweep.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert [list(r) for r in rows] == [list(r) for r in written]
    assert [r["generator.optimizer.lr"] for r in rows] == [0.25, 1.0]
    assert [r["status"] for r in rows] == ["completed", "completed"]
    assert [r["js"] for r in rows] == [float(r["js"]) for r in written]
    assert rows[1]["js"] < rows[0]["js"]  # the larger step gets closer in 30 iterations
    (tmp_path / "one.toml").write_text(SCENARIO)
    single = gamesim.run("one.toml", {"generator.optimizer.lr": 1.0})
    assert single.final["js"] == rows[1]["js"]


def test_plot_kinds_pandas_and_the_notebook_view(scenario_file):
    run = gamesim.run(scenario_file)
    for kind in ("convergence", "densities"):
        assert isinstance(run.plot(kind), Figure)
    with pytest.raises(GamesimError, match=r"'phase' does not apply to run 'api'; it has "
                                           r"convergence, densities"):
        run.plot("phase")
    with pytest.raises(GamesimError, match=r"'convergance' \(did you mean 'convergence'\?\)"):
        run.plot("convergance")
    frame = run.to_pandas()
    assert frame.index.name == "iteration" and frame.index.tolist() == list(range(0, 31, 5))
    assert frame["js"].iloc[-1] == run.final["js"]
    view = run._repr_html_()
    assert "<b>api</b>: completed after 30 iterations" in view
    assert f"<td>js</td><td>{run.final['js']:.6g}</td>" in view
    assert 'src="data:image/png;base64,' in view
    assert repr(run) == "<Run 'api': completed after 30 iterations>"


def test_to_pandas_without_pandas_says_so(scenario_file, monkeypatch):
    run = gamesim.run(scenario_file)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(GamesimError, match="needs pandas.*pip install pandas"):
        run.to_pandas()


def test_compare_picks_the_first_common_distance(scenario_file):
    a = gamesim.run(scenario_file)
    b = gamesim.run(scenario_file, {"generator.optimizer.lr": 1.0,
                                    "metrics.distances": ["kl", "w1"]})
    figure = gamesim.compare([a, b])
    assert figure.axes[0].get_ylabel() == "w1"
    with pytest.raises(GamesimError, match="--metric 'js': not recorded in api; its metrics "
                                           "are value, kl, w1"):
        gamesim.compare([a, b], "js")


def test_a_plugin_on_its_own_computes_with_lists_and_float32():
    js = gamesim.plugin("distance", "js")
    p, q = [0.5, 0.5], [0.9, 0.1]
    m = [0.7, 0.3]
    closed = 0.5 * sum(a * math.log(a / c) for a, c in zip(p, m)) + \
        0.5 * sum(b * math.log(b / c) for b, c in zip(q, m))
    assert js.value(p, q) == pytest.approx(closed, rel=1e-15, abs=0)
    grad = js.grad(np.array(p, np.float32), np.array(q, np.float32))
    assert grad.dtype == np.float64
    # d JS / dq = 1/2 log(2q / (p + q)), with q's float32 rounding
    q32 = np.array(q, np.float32).astype(np.float64)
    np.testing.assert_allclose(grad, 0.5 * np.log(2 * q32 / (np.array(p) + q32)), rtol=1e-14)
    assert js.name == "js" and repr(js) == "<distance 'js' {'kind': 'js'}>"


def test_a_plugin_is_validated_as_in_a_scenario_and_given_its_grid(tmp_path):
    with pytest.raises(GamesimError) as caught:
        gamesim.plugin("target", "normal", std=0)
    assert str(caught.value) == "target.std: got 0, expected a number > 0"
    (tmp_path / "s.toml").write_text("[target]\nkind = 'normal'\nstd = 0\n"
                                     "[generator]\nkind = 'density'\n")
    with pytest.raises(GamesimError) as in_file:
        scenario.load(tmp_path / "s.toml")
    assert str(in_file.value) == f"{tmp_path / 's.toml'}: {caught.value}"
    with pytest.raises(GamesimError, match="distance 'w2' works on a grid: pass grid="):
        gamesim.plugin("distance", "w2")
    with pytest.raises(GamesimError, match=r"grid.points: got 1, expected an integer >= 2"):
        gamesim.plugin("distance", "w1", grid=(-1.0, 1.0, 1))
    with pytest.raises(GamesimError, match=r"plugin kind 'distances' \(did you mean "
                                           r"'distance'\?\)"):
        gamesim.plugin("distances", "js")
    normal = gamesim.plugin("target", "normal", mean=0.0, std=1.0)
    grid = gamesim.Grid(-6.0, 6.0, 120)
    masses, outside = normal.masses(grid)
    assert masses.sum() == pytest.approx(1.0, abs=1e-15)
    assert outside == pytest.approx(math.erfc(6 / math.sqrt(2)), rel=1e-12)
    w1 = gamesim.plugin("distance", "w1", grid=(-6.0, 6.0, 120))
    shifted = gamesim.plugin("target", "normal", mean=0.5).masses(grid)[0]
    assert w1.value(masses, shifted) == pytest.approx(0.5, abs=1e-3)  # W1 of a shift


@pytest.mark.slow
def test_import_gamesim_loads_neither_numba_nor_matplotlib():
    code = textwrap.dedent("""
        import sys
        import gamesim
        assert callable(gamesim.load) and "load" in dir(gamesim)
        print(sorted(m for m in ("numba", "matplotlib", "gamesim.api") if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "['gamesim.api']"
    missing = subprocess.run([sys.executable, "-c", "import gamesim; gamesim.nope"],
                             capture_output=True, text=True, timeout=60)
    assert "module 'gamesim' has no attribute 'nope'" in missing.stderr


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(REPO, "docs", "api.md")) as f:
    DOCS = f.read()
# each ```python block, and the ```text block right after it: the output it prints
EXAMPLES = re.findall(r"```python\n(.*?)```\n(?:\n```text\n(.*?)```\n)?", DOCS, re.S)


with open(os.path.join(REPO, "README.md")) as f:
    README_EXAMPLES = re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    [code] = README_EXAMPLES
    os.symlink(os.path.join(REPO, "scenarios"), tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["run"].status == "converged"
    assert namespace["run"].final["value"] == pytest.approx(-math.log(4), abs=1e-9)


def test_the_docs_have_examples_with_output():
    assert len(EXAMPLES) >= 8 and all(shown for _, shown in EXAMPLES)


@pytest.mark.parametrize("code, shown", EXAMPLES, ids=[f"example-{i}" for i in
                                                       range(len(EXAMPLES))])
def test_docs_api_examples_print_what_they_show(code, shown, tmp_path, monkeypatch):
    os.symlink(os.path.join(REPO, "scenarios"), tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/api.md", "exec"), {"__name__": "__docs__"})
    assert printed.getvalue() == shown
