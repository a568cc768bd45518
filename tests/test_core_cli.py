"""The command line: bad input exits 2 with one message naming the file and the key, and
leaves nothing behind; good input runs; a diverged game is a result (exit 0)."""

import json
import os
import tomllib

import numpy as np

import pytest

from conftest import SCENARIOS, check_plugin_listing, read_run, run_subprocess

GOOD = """\
name = "good"
iterations = 20
record_every = 5
[grid]
lower = -6.0
upper = 6.0
points = 64
[target]
kind = "mixture"
components = [
  { kind = "normal", mean = -1.0, std = 0.5, weight = 0.4 },
  { kind = "laplace", loc = 2.0, scale = 0.7, weight = 0.6 },
]
[generator]
kind = "density"
init = { kind = "normal", mean = 0.0, std = 2.0 }
optimizer = { kind = "mirror", lr = 1.0 }
[discriminator]
kind = "oracle"
[game]
objective = "minimax"
[metrics]
distances = ["js", "tv"]
[output]
snapshots = 3
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Every CLI test runs inside its own tmp_path, so a default runs/ folder would show."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GAMESIM_TRACEBACK", raising=False)


def replaced(old, new, text=GOOD):
    assert old in text, old
    return text.replace(old, new)


def assert_refused(result, tmp_path, before, *fragments, path=None, hint=None):
    """Exit 2, one line on stderr naming what is given, nothing written anywhere."""
    assert result.status == 2, result
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("gamesim: error: ")
    assert "Traceback" not in result.err
    if path is not None:
        assert str(path) in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    if hint is not None:
        assert f"(did you mean {hint!r}?)" in lines[0]
    assert sorted(os.listdir(tmp_path)) == before  # no run directory, no partial, no runs/


# (name, scenario text, extra CLI args, fragments the message must contain, did-you-mean)
BAD_FILES = [
    # unknown keys, at every level
    ("unknown top-level key", replaced("iterations = 20", "iteratons = 20"), [],
     ["iteratons", "unknown key"], "iterations"),
    ("unknown section key", replaced("points = 64", "pionts = 64"), [],
     ["grid.pionts"], "points"),
    ("unknown plugin parameter", replaced('std = 2.0 }', 'stdd = 2.0 }'), [],
     ["generator.init.stdd", "allowed: mean, std"], "std"),
    ("unknown component key", replaced("weight = 0.6", "wieght = 0.6"), [],
     ["target.components[1].wieght"], "weight"),
    ("unknown generator key", replaced("optimizer = {", "optimiser = {"), [],
     ["generator.optimiser"], "optimizer"),
    ("unknown optimizer parameter", replaced('lr = 1.0 }', 'rate = 1.0 }'), [],
     ["generator.optimizer.rate"], None),
    # wrong types
    ("string for an integer", replaced("iterations = 20", 'iterations = "20"'), [],
     ["iterations", "'20'", "integer"], None),
    ("float for an integer", replaced("points = 64", "points = 64.5"), [],
     ["grid.points", "64.5"], None),
    ("bool for a number", replaced("mean = -1.0", "mean = true"), [],
     ["target.components[0].mean", "True"], None),
    ("number for a table", replaced("[grid]\nlower = -6.0\nupper = 6.0\npoints = 64\n",
                                    "grid = 3\n"), [], ["grid", "expected a table"], None),
    ("table for a list", replaced('distances = ["js", "tv"]', 'distances = { js = 1 }'), [],
     ["metrics.distances"], None),
    ("string for a component list", replaced(
        'components = [\n  { kind = "normal", mean = -1.0, std = 0.5, weight = 0.4 },\n'
        '  { kind = "laplace", loc = 2.0, scale = 0.7, weight = 0.6 },\n]',
        'components = "normal"'), [], ["target.components"], None),
    # out-of-range values
    ("negative std", replaced("std = 0.5", "std = -0.5"), [],
     ["target.components[0].std", "-0.5", "> 0"], None),
    ("zero scale", replaced("scale = 0.7", "scale = 0.0"), [],
     ["target.components[1].scale", "> 0"], None),
    ("negative weight", replaced("weight = 0.6", "weight = -0.6"), [],
     ["target.components[1].weight", "-0.6"], None),
    ("grid lower >= upper", replaced("lower = -6.0", "lower = 6.0"), [],
     ["grid.upper", "lower"], None),
    ("grid lower > upper", replaced("upper = 6.0", "upper = -7.0"), [],
     ["grid.upper", "-7.0"], None),
    ("uniform lower >= upper", replaced('init = { kind = "normal", mean = 0.0, std = 2.0 }',
                                        'init = { kind = "uniform", lower = 1.0, upper = 0.5 }'),
     [], ["generator.init.upper", "0.5"], None),
    ("one grid point", replaced("points = 64", "points = 1"), [], ["grid.points", ">= 2"], None),
    ("zero learning rate", replaced("lr = 1.0", "lr = 0.0"), [],
     ["generator.optimizer.lr", "> 0"], None),
    ("negative iterations", replaced("iterations = 20", "iterations = -1"), [],
     ["iterations", "-1"], None),
    ("nan std", replaced("std = 0.5", "std = nan"), [], ["target.components[0].std", "nan"],
     None),
    # unknown plugin names
    ("unknown target", replaced('kind = "mixture"', 'kind = "mixtrue"'), [],
     ["target.kind", "'mixtrue'", "available:"], "mixture"),
    ("unknown component target", replaced('kind = "laplace"', 'kind = "laplce"'), [],
     ["target.components[1].kind"], "laplace"),
    ("unknown generator", replaced('kind = "density"', 'kind = "densty"'), [],
     ["generator.kind"], "density"),
    ("unknown discriminator", replaced('kind = "oracle"', 'kind = "oracel"'), [],
     ["discriminator.kind"], "oracle"),
    ("unknown objective", replaced('objective = "minimax"', 'objective = "minmax"'), [],
     ["game.objective"], "minimax"),
    ("unknown optimizer", replaced('kind = "mirror"', 'kind = "mirorr"'), [],
     ["generator.optimizer.kind"], "mirror"),
    ("unknown distance", replaced('"tv"]', '"tvv"]'), [], ["metrics.distances[1]"], "tv"),
    ("unknown plugin module", 'plugins = ["gamesim_no_such_plugin"]\n' + GOOD, [],
     ["plugins", "gamesim_no_such_plugin"], None),
    ("unknown section", replaced('[target]\nkind = "mixture"', '[targt]\nkind = "mixture"'),
     [], ["targt", "unknown key"], "target"),
    ("missing target", GOOD[:GOOD.index("[target]")] + GOOD[GOOD.index("[generator]"):], [],
     ["target", "missing"], None),
    # syntax
    ("TOML syntax error", replaced("iterations = 20", "iterations = = 20"), [],
     ["TOML syntax error"], None),
    ("duplicate key", replaced("iterations = 20", "iterations = 20\niterations = 30"), [],
     ["TOML syntax error"], None),
    # bad --set
    ("--set unknown key", GOOD, ["--set", "grid.pointz=3"], ["grid.pointz"], "points"),
    ("--set wrong type", GOOD, ["--set", "iterations=abc"], ["iterations", "'abc'"], None),
    ("--set out of range", GOOD, ["--set", "generator.init.std=-2"],
     ["generator.init.std", "-2"], None),
    ("--set into a value", GOOD, ["--set", "grid.points.x=1"], ["grid.points", "not a table"],
     None),
    ("--set unknown plugin", GOOD, ["--set", "game.objective='nonsaturatin'"],
     ["game.objective"], "nonsaturating"),
]


@pytest.mark.parametrize("text,args,fragments,hint",
                         [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_bad_scenario_exits_2_naming_file_and_key(tmp_path, write_scenario, run_cli, text,
                                                  args, fragments, hint):
    path = write_scenario(text)
    before = sorted(os.listdir(tmp_path))
    result = run_cli("run", path, "--out", tmp_path / "out", *args)
    assert_refused(result, tmp_path, before, *fragments, path=path, hint=hint)
    # without --out too: no runs/ folder appears
    result = run_cli("run", path, *args)
    assert_refused(result, tmp_path, before, *fragments, path=path, hint=hint)
    # and validate reports the same message
    result = run_cli("validate", path, *args)
    assert_refused(result, tmp_path, before, *fragments, path=path, hint=hint)


def test_missing_file(tmp_path, run_cli):
    before = sorted(os.listdir(tmp_path))
    result = run_cli("run", tmp_path / "nope.toml", "--out", tmp_path / "out")
    assert_refused(result, tmp_path, before, "no such file", path=tmp_path / "nope.toml")


def test_directory_instead_of_a_file(tmp_path, run_cli):
    (tmp_path / "dir.toml").mkdir()
    before = sorted(os.listdir(tmp_path))
    result = run_cli("run", tmp_path / "dir.toml", "--out", tmp_path / "out")
    assert_refused(result, tmp_path, before, "directory", path=tmp_path / "dir.toml")


def test_path_through_a_regular_file_is_unreadable(tmp_path, write_scenario, run_cli):
    path = write_scenario(GOOD)
    before = sorted(os.listdir(tmp_path))
    result = run_cli("run", f"{path}/x.toml", "--out", tmp_path / "out")
    assert_refused(result, tmp_path, before, "cannot read", path=f"{path}/x.toml")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path, write_scenario, run_cli):
    path = write_scenario(GOOD)
    path.chmod(0)
    before = sorted(os.listdir(tmp_path))
    result = run_cli("run", path, "--out", tmp_path / "out")
    assert_refused(result, tmp_path, before, "cannot read", path=path)


@pytest.mark.parametrize("content", [b"\x00\x01\x02\xff\xfe binary", b'name = "caf\xe9"\n',
                                     b"iterations = 3\n\x00"],
                         ids=["binary", "latin-1", "nul"])
def test_binary_file(tmp_path, run_cli, content):
    path = tmp_path / "bin.toml"
    path.write_bytes(content)
    before = sorted(os.listdir(tmp_path))
    result = run_cli("run", path, "--out", tmp_path / "out")
    assert_refused(result, tmp_path, before, "not a text file", path=path)


@pytest.mark.parametrize("args,fragment", [
    (["--set", "iterations"], "--set 'iterations': expected KEY=VALUE"),
    (["--set", "=3"], "expected KEY=VALUE"),
    (["--sett", "a=1"], "usage"),
    (["-p", "gamesim_no_such_plugin"], "gamesim_no_such_plugin"),
])
def test_bad_options(tmp_path, write_scenario, run_cli, args, fragment):
    path = write_scenario(GOOD)
    before = sorted(os.listdir(tmp_path))
    result = run_cli("run", path, "--out", tmp_path / "out", *args)
    assert_refused(result, tmp_path, before, fragment)


@pytest.mark.parametrize("args", [["bogus"], ["run"], [], ["validate"]])
def test_usage_errors_exit_2(tmp_path, run_cli, args):
    before = sorted(os.listdir(tmp_path))
    assert_refused(run_cli(*args), tmp_path, before, "usage")


def test_validate_good_files(tmp_path, write_scenario, run_cli):
    a = write_scenario(GOOD, "a.toml")
    b = os.path.join(SCENARIOS, "ideal-oracle.toml")
    before = sorted(os.listdir(tmp_path))
    result = run_cli("validate", a, b)
    assert result.status == 0 and result.err == ""
    lines = result.out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{a}: ok") and lines[1].startswith(f"{b}: ok")
    assert sorted(os.listdir(tmp_path)) == before  # validate writes nothing


def test_validate_names_the_bad_file_among_good_ones(tmp_path, write_scenario, run_cli):
    good = write_scenario(GOOD, "good.toml")
    bad = write_scenario(replaced("std = 0.5", "std = -1.0"), "bad.toml")
    result = run_cli("validate", good, bad)
    assert result.status == 2
    assert f"{bad}: target.components[0].std" in result.err and "good.toml" not in result.err


def test_every_shipped_scenario_validates(run_cli):
    names = sorted(f for f in os.listdir(SCENARIOS) if f.endswith(".toml"))
    assert {"ideal-oracle.toml", "ideal-gaussian.toml", "ideal-oracle-sgd.toml",
            "ideal-oracle-nonsaturating.toml"} <= set(names)
    result = run_cli("validate", *[os.path.join(SCENARIOS, n) for n in names])
    assert result.status == 0, result.err
    assert result.out.count(": ok") == len(names)


def test_set_overrides_are_parsed_as_toml(tmp_path, write_scenario, run_cli):
    path = write_scenario(GOOD)
    result = run_cli("run", path, "--out", tmp_path / "out", "--no-plots", "--quiet",
                     "--set", "iterations=7",
                     "--set", "name=plain-word",  # not TOML: taken as a string
                     "--set", "generator.optimizer.lr=5e-1",
                     "--set", "metrics.distances=['kl', 'js']",
                     "--set", "generator.init={kind='laplace', scale=0.5}",
                     "--set", "seed=1", "--set", "seed=2",  # the last one wins
                     "--set", "record_every = 3")
    assert result.status == 0, result.err
    run = read_run(tmp_path / "out")
    resolved = tomllib.loads(run.scenario_text)
    assert resolved["iterations"] == 7 and run.summary["iterations"] == 7
    assert resolved["name"] == "plain-word" and run.summary["name"] == "plain-word"
    assert resolved["generator"]["optimizer"]["lr"] == 0.5
    assert resolved["generator"]["optimizer"]["kind"] == "mirror"  # the kind is kept
    assert resolved["generator"]["init"] == {"kind": "laplace", "loc": 0.0, "scale": 0.5}
    assert resolved["seed"] == 2 and run.summary["seed"] == 2
    assert run.header[:4] == ["iteration", "value", "kl", "js"]
    assert list(run.metrics["iteration"]) == [0, 3, 6, 7]


def test_set_can_add_a_table_and_a_quoted_string(tmp_path, write_scenario, run_cli):
    path = write_scenario(GOOD)
    result = run_cli("run", path, "--out", tmp_path / "out", "--no-plots", "--quiet",
                     "--set", "name='quoted-name_1.0'", "--set", "stop.metric='tv'",
                     "--set", "stop.below=0.5")
    assert result.status == 0, result.err
    run = read_run(tmp_path / "out")
    assert run.summary["name"] == "quoted-name_1.0"
    assert run.summary["status"] == "converged" and run.last("tv") < 0.5


def test_existing_out_directory_is_refused_and_untouched(tmp_path, write_scenario, run_cli):
    path = write_scenario(GOOD)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    (tmp_path / "empty").mkdir()
    before = sorted(os.listdir(tmp_path))
    for target in (out, tmp_path / "empty"):
        result = run_cli("run", path, "--out", target)
        assert_refused(result, tmp_path, before, "already exists", str(target))
    assert os.listdir(out) == ["notes.txt"] and (out / "notes.txt").read_text() == "my notes"
    assert os.listdir(tmp_path / "empty") == []


def test_default_out_is_runs_name_and_never_mixes_runs(tmp_path, write_scenario, run_cli):
    path = write_scenario(GOOD)
    for _ in range(2):
        assert run_cli("run", path, "--no-plots", "--quiet").status == 0
    assert sorted(os.listdir(tmp_path / "runs")) == ["good", "good-2"]
    assert (tmp_path / "runs" / "good" / "metrics.csv").read_bytes() == \
        (tmp_path / "runs" / "good-2" / "metrics.csv").read_bytes()


def test_run_prints_a_summary_and_quiet_prints_nothing(tmp_path, write_scenario, run_cli):
    path = write_scenario(GOOD)
    loud = run_cli("run", path, "--out", tmp_path / "a", "--no-plots")
    assert loud.status == 0 and "good: completed after 20 iterations" in loud.out
    assert f"wrote {tmp_path / 'a'}" in loud.out
    quiet = run_cli("run", path, "--out", tmp_path / "b", "--no-plots", "--quiet")
    assert quiet.status == 0 and quiet.out == "" and quiet.err == ""


def test_plugins_lists_every_builtin_with_its_parameters(run_cli):
    result = run_cli("plugins")
    assert result.status == 0 and result.err == ""
    listing = check_plugin_listing(result.out)
    assert any("default 1.0" in line for line in listing["optimizers"]["mirror"])
    assert any("default 0.01" in line for line in listing["optimizers"]["sgd"])
    assert any("required" in line for line in listing["targets"]["mixture"])


def test_plugins_with_an_unknown_module_exits_2(tmp_path, run_cli):
    before = sorted(os.listdir(tmp_path))
    result = run_cli("plugins", "-p", "gamesim_no_such_plugin")
    assert_refused(result, tmp_path, before, "gamesim_no_such_plugin")


DIVERGING = """
name = "diverging"
iterations = 200
record_every = 1
[target]
kind = "mixture"
components = [{ kind = "normal", mean = -2.0, std = 0.5 }, { kind = "normal", mean = 2.0, std = 0.5 }]
[generator]
kind = "location_scale"
optimizer = { kind = "sgd", lr = 5.0 }
[game]
mode = "direct"
distance = { kind = "kl" }
"""


def test_diverging_run_is_a_result_with_exit_0(tmp_path, write_scenario, run_cli):
    """A Gaussian generator descending forward KL with sgd and a step far too large."""
    path = write_scenario(DIVERGING)
    result = run_cli("run", path, "--out", tmp_path / "out")  # with plots: they are drawn too
    assert result.status == 0, result.err
    assert "diverged" in result.out
    run = read_run(tmp_path / "out")
    assert run.summary["status"] == "diverged"
    failure = run.summary["failure"]
    assert failure["quantity"] and failure["plugin"] and failure["iteration"] >= 1
    assert "location_scale" in failure["plugin"] or "sgd" in failure["plugin"]
    assert any("diverged" in w for w in run.summary["warnings"])
    # what was recorded is kept: the initial row, finite, and the last finite state
    assert run.metrics["iteration"][0] == 0 and not np.isnan(run.metrics["value"]).any()
    assert run.summary["iterations"] == run.metrics["iteration"][-1] < failure["iteration"]
    assert run.snapshots["iterations"][-1] == run.summary["iterations"]
    assert os.listdir(tmp_path / "out" / "plots")


@pytest.mark.slow
def test_gamesim_traceback_shows_the_traceback(tmp_path, write_scenario):
    path = write_scenario(replaced("std = 0.5", "std = -1.0"))
    plain = run_subprocess(["validate", path])
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert plain.stderr.startswith("gamesim: error: ") and "target.components[0].std" in plain.stderr
    traced = run_subprocess(["validate", path], env={"GAMESIM_TRACEBACK": "1"})
    assert traced.returncode != 0
    assert "Traceback (most recent call last)" in traced.stderr
    assert "GamesimError" in traced.stderr and "target.components[0].std" in traced.stderr


@pytest.mark.slow
def test_python_dash_m_gamesim(tmp_path, write_scenario):
    result = run_subprocess(["plugins"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    check_plugin_listing(result.stdout)
    path = write_scenario(GOOD)
    result = run_subprocess(["run", path, "--out", tmp_path / "out", "--no-plots"],
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["status"] == "completed"
