"""A command line that helps: --version, plugin documentation, help on every option, a
progress bar with rate and time left, a short final line, --set errors that say how to change
a plugin's kind, removable stop rules, clipped snapshots, validate reporting every file, and
the overrides recorded in summary.json. Each through the ``gamesim`` console script."""

import argparse
import json
import os
import pty
import subprocess
import time

import pytest

import gamesim
from gamesim import cli
from conftest import GAMESIM, assert_one_line_error, gamesim_cli

SMALL = """\
name = "small"
iterations = 100
record_every = 10
[grid]
points = 64
[target]
kind = "mixture"
components = [{ kind = "normal", mean = -1.0, std = 0.5 }, { kind = "normal", mean = 1.0, std = 0.5 }]
[generator]
kind = "location_scale"
[stop]
metric = "js"
below = 10.0
[output]
snapshots = [0, 50, 100]
"""


def write(folder, text=SMALL, name="s.toml"):
    (folder / name).write_text(text)
    return name


def summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


@pytest.mark.slow
def test_version(tmp_path):
    proc = gamesim_cli(["--version"], tmp_path)
    assert proc.returncode == 0 and proc.stdout == f"gamesim {gamesim.__version__}\n"


def _actions(parser):
    for action in parser._actions:
        yield parser.prog, action
        if isinstance(action, argparse._SubParsersAction):
            yield from ((parser.prog, a) for a in action._choices_actions)
            for sub in action.choices.values():
                yield from _actions(sub)


def test_every_option_and_argument_of_every_command_has_help():
    actions = [(prog, a) for prog, a in _actions(cli._parser()) if a.dest != "help"]
    assert len({prog for prog, _ in actions}) == 1 + len(cli.COMMANDS)
    missing = [f"{prog} {a.option_strings or a.dest}" for prog, a in actions
               if not (a.help or "").strip()]
    assert missing == []


@pytest.mark.slow
def test_help_is_shown_for_every_command(tmp_path):
    for command in cli.COMMANDS:
        proc = gamesim_cli([command, "--help"], tmp_path)
        assert proc.returncode == 0 and "--" in proc.stdout, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["distance", "distances"])
def test_plugins_lists_one_kind(tmp_path, kind):
    proc = gamesim_cli(["plugins", kind], tmp_path)
    assert proc.returncode == 0, proc.stderr
    headings = [line for line in proc.stdout.splitlines() if line and not line[0].isspace()]
    assert headings == ["distances:"]
    assert "  js  [gamesim" in proc.stdout and "  w1  [gamesim" in proc.stdout


@pytest.mark.slow
def test_plugins_shows_one_plugin_with_parameters_and_full_docstring(tmp_path):
    from gamesim import plugins

    proc = gamesim_cli(["plugins", "targets", "normal"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("target normal  [gamesim")
    assert any(line.strip().startswith("std (a number > 0; default 1.0)") for line in lines)
    proc = gamesim_cli(["plugins", "distance", "js"], tmp_path)
    doc = plugins.registry().classes["distance"]["js"].__doc__
    assert "parameters: none" in proc.stdout
    # the whole docstring, its later lines too, not only the first paragraph
    assert all(line.strip() in proc.stdout for line in doc.strip().splitlines())


@pytest.mark.slow
@pytest.mark.parametrize("args, fragments", [
    (["plugins", "distanse"], ["unknown kind (did you mean 'distance'?)",
                               "expected one of target, generator, discriminator"]),
    (["plugins", "distance", "jss"], ["unknown distance 'jss' (did you mean 'js'?)",
                                      "available: ", "w1"]),
])
def test_plugins_unknown_kind_or_name_is_bad_input(tmp_path, args, fragments):
    assert_one_line_error(gamesim_cli(args, tmp_path), 2, *fragments)


def _pty_run(args, cwd):
    """Run the console script with stderr on a terminal; (exit status, what it drew there)."""
    main, other = pty.openpty()
    proc = subprocess.Popen([GAMESIM, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=other)
    os.close(other)
    drawn = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal's other side closed: the process is done
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main)
    return proc.wait(), drawn.decode(errors="replace")


LONG = ["--no-plots", "--set", "iterations=20000", "--set", "grid.points=2048",
        "--set", "stop=false", "--set", "record_every=1000"]


@pytest.mark.slow
def test_run_progress_shows_rate_and_time_left_on_a_terminal(tmp_path):
    write(tmp_path)
    start = time.perf_counter()
    status, drawn = _pty_run(["run", "s.toml", "--out", "long", *LONG], tmp_path)
    assert status == 0, drawn
    assert time.perf_counter() - start > 2  # long enough for the bar to appear
    assert "it/s" in drawn and "/20000" in drawn and "<" in drawn, drawn  # rate, time left
    status, drawn = _pty_run(["run", "s.toml", "--out", "quiet", "--quiet", *LONG], tmp_path)
    assert status == 0 and drawn == "", drawn


@pytest.mark.slow
def test_run_progress_is_silent_off_a_terminal(tmp_path):
    write(tmp_path)
    proc = gamesim_cli(["run", "s.toml", "--out", "long", *LONG], tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


@pytest.mark.slow
def test_final_line_shows_the_value_and_the_distances_only(tmp_path):
    write(tmp_path)
    proc = gamesim_cli(["run", "s.toml", "--out", "run", "--no-plots", "--set",
                        'discriminator={kind="logistic", features="rbf", centres=12}',
                        "--set", 'metrics.distances=["js", "w1"]', "--set", "stop=false"],
                       tmp_path)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    final = summary(tmp_path / "run")["final"]
    assert "d.w12" in final  # the parameters are in summary.json, not on the line
    shown = first.split("; ", 1)[1]
    assert [part.split()[0] for part in shown.split(", ")] == ["value", "js", "w1"]
    assert first.startswith("small: completed after 100 iterations (")
    assert f"js {final['js']:.5g}" in shown


@pytest.mark.slow
def test_changing_a_kind_by_set_says_to_replace_the_whole_table(tmp_path):
    write(tmp_path)
    proc = gamesim_cli(["run", "s.toml", "--set", "target.kind=normal"], tmp_path)
    assert_one_line_error(proc, 2, "s.toml: target.components: unknown key for target 'normal'",
                          "to change a kind, replace the whole table",
                          "--set 'target={kind=\"normal\", mean=0.0, std=1.0}'")
    assert not (tmp_path / "runs").exists()
    proc = gamesim_cli(["run", "s.toml", "--out", "run", "--no-plots", "--quiet",
                        "--set", 'target={kind="normal", mean=0.0, std=1.0}'], tmp_path)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_a_kind_changed_in_the_file_keeps_the_plain_unknown_key_message(tmp_path):
    write(tmp_path, SMALL.replace('kind = "mixture"', 'kind = "normal"'))
    proc = gamesim_cli(["validate", "s.toml"], tmp_path)
    assert_one_line_error(proc, 2, "target.components: unknown key for target 'normal'")
    assert "replace the whole table" not in proc.stderr


@pytest.mark.slow
def test_stop_false_removes_the_stop_rule(tmp_path):
    write(tmp_path)
    # the file's rule (js below 10) stops the run at once
    proc = gamesim_cli(["run", "s.toml", "--out", "stopped", "--no-plots", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert summary(tmp_path / "stopped")["status"] == "converged"
    proc = gamesim_cli(["run", "s.toml", "--out", "free", "--no-plots", "--quiet",
                        "--set", "stop=false"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert summary(tmp_path / "free")["status"] == "completed"
    assert summary(tmp_path / "free")["iterations"] == 100
    assert "[stop]" not in (tmp_path / "free" / "scenario.toml").read_text()
    write(tmp_path, "stop = false\n" + SMALL.replace('[stop]\nmetric = "js"\nbelow = 10.0\n', ""),
          "no-stop.toml")
    assert gamesim_cli(["validate", "no-stop.toml"], tmp_path).returncode == 0
    proc = gamesim_cli(["validate", "s.toml", "--set", "stop=true"], tmp_path)
    assert_one_line_error(proc, 2, "s.toml: stop: got True, expected a table",
                          "false for no stop rule")


@pytest.mark.slow
def test_snapshots_past_a_shortened_run_are_left_out_with_a_warning(tmp_path):
    write(tmp_path)
    proc = gamesim_cli(["run", "s.toml", "--out", "short", "--no-plots", "--set",
                        "iterations=10", "--set", "stop=false"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    warning = "output.snapshots: 50, 100 are past iterations = 10: left out"
    assert f"warning: {warning}" in proc.stdout
    assert warning in summary(tmp_path / "short")["warnings"]
    # the run directory's scenario.toml runs again as it is, without the warning
    again = gamesim_cli(["validate", "short/scenario.toml"], tmp_path)
    assert again.returncode == 0, again.stderr
    # nothing left: the first and the last iteration
    write(tmp_path, SMALL.replace("[0, 50, 100]", "[50, 100]"), "late.toml")
    proc = gamesim_cli(["run", "late.toml", "--out", "late", "--no-plots", "--quiet", "--set",
                        "iterations=10", "--set", "stop=false"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    import numpy as np
    with np.load(tmp_path / "late" / "snapshots.npz") as z:
        assert z["iterations"].tolist() == [0, 10]


@pytest.mark.slow
def test_validate_reports_every_file(tmp_path):
    write(tmp_path, name="a.toml")
    write(tmp_path, SMALL.replace("std = 0.5 }]", "std = -1.0 }]"), "bad.toml")
    write(tmp_path, SMALL.replace("points = 64", "pionts = 64"), "worse.toml")
    write(tmp_path, name="z.toml")
    proc = gamesim_cli(["validate", "a.toml", "bad.toml", "worse.toml", "missing.toml",
                        "z.toml"], tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stdout.splitlines() == [
        "a.toml: ok (small, adversarial, 100 iterations)",
        "z.toml: ok (small, adversarial, 100 iterations)"]
    errors = proc.stderr.splitlines()
    assert len(errors) == 3 and all(line.startswith("gamesim: error: ") for line in errors)
    assert errors[0].startswith("gamesim: error: bad.toml: target.components[1].std")
    assert errors[1].startswith("gamesim: error: worse.toml: grid.pionts: unknown key")
    assert errors[2] == "gamesim: error: missing.toml: no such file"


@pytest.mark.slow
def test_overrides_are_recorded_as_given(tmp_path):
    write(tmp_path)
    given = ["iterations=20", "generator.optimizer.lr = 0.5", "stop=false",
             'target={kind="normal", std=2}']
    proc = gamesim_cli(["run", "s.toml", "--out", "run", "--no-plots", "--quiet",
                        *[a for o in given for a in ("--set", o)]], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert gamesim.load(tmp_path / "s.toml", given).overrides == given
    with open(tmp_path / "run" / "summary.json") as f:
        assert json.load(f)["overrides"] == given  # what the plot titles show
    assert gamesim.load(tmp_path / "s.toml").overrides == []
    # given in Python: written as TOML
    loaded = gamesim.load(tmp_path / "s.toml", {"target": {"kind": "normal", "std": 2.0},
                                                "output.format": "svg"})
    assert loaded.overrides == ['target={kind = "normal", std = 2.0}', 'output.format="svg"']


@pytest.mark.slow
def test_a_plot_kind_that_does_not_apply_is_named(tmp_path):
    write(tmp_path)
    proc = gamesim_cli(["run", "s.toml", "--out", "run", "--set", "iterations=10",
                        "--set", 'output.plots=["phase", "convergence"]'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "warning: plot 'phase' does not apply to this run: it needs two one-parameter " \
           "players" in proc.stdout.splitlines()
    assert sorted(os.listdir(tmp_path / "run" / "plots")) == ["convergence.png"]
