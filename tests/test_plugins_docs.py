"""docs/plugins.md, followed literally: its code blocks, grouped by the file named on their
first line, are written into a fresh folder and its shell commands are run there as printed,
with the ``gamesim`` console script of a fresh virtual environment holding gamesim
(non-editable): the tutorial's scenario runs with its plugins, their own tests pass, and the
observer example adds its metrics and file. The console script does not put the current
directory on sys.path: the plugins are found because gamesim looks there itself."""

import os
import re
import shlex
import subprocess

import numpy as np
import pytest

from conftest import REPO, read_run

# processes, virtual environments or a browser: left out by -m 'not slow'
pytestmark = pytest.mark.slow

DOC = os.path.join(REPO, "docs", "plugins.md")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
FILE = re.compile(r"#\s*([\w.-]+\.(?:py|toml))\s*$")


def doc_files(text):
    """{file name: content} of the fenced blocks whose first line is ``# NAME.py`` or
    ``# NAME.toml``, in document order (blocks naming one file are concatenated)."""
    files = {}
    for lang, body in BLOCK.findall(text):
        first = body.split("\n", 1)[0]
        match = FILE.fullmatch(first.strip())
        if lang in ("python", "toml") and match:
            files.setdefault(match.group(1), []).append(body)
    return {name: "\n\n".join(parts) for name, parts in files.items()}


def doc_commands(text):
    """The command lines of the ``sh`` blocks, comments dropped, in document order."""
    return [shlex.split(line, comments=True) for lang, body in BLOCK.findall(text)
            if lang == "sh" for line in body.splitlines() if line.strip()]


def write_tutorial(folder):
    with open(DOC) as f:
        files = doc_files(f.read())
    assert {"my_gan_plugins.py", "knots-gan.toml", "test_my_gan_plugins.py",
            "gan_observers.py"} <= set(files)
    for name, content in files.items():
        (folder / name).write_text(content)
    return folder


@pytest.fixture(scope="module")
def commands():
    with open(DOC) as f:
        found = doc_commands(f.read())
    assert found == [["gamesim", "plugins", "-p", "my_gan_plugins"],
                     ["gamesim", "run", "knots-gan.toml"],
                     ["python", "-m", "pytest", "test_my_gan_plugins.py"],
                     ["gamesim", "run", "knots-gan.toml", "-p", "gan_observers"]]
    return found


def shell(installed, folder, argv):
    """``argv`` as a user types it in ``folder``: ``gamesim`` is the venv's console script,
    ``python`` its interpreter; no GAMESIM_* variable and no PYTHONPATH."""
    program = {"gamesim": installed.gamesim, "python": str(installed.python)}[argv[0]]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GAMESIM_") and k != "PYTHONPATH"}
    return subprocess.run([program, *argv[1:]], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def test_tutorial_commands_work_as_printed(installed, commands, tmp_path):
    tutorial = write_tutorial(tmp_path)
    listed = shell(installed, tutorial, commands[0])
    assert listed.returncode == 0, listed.stderr
    assert "broken" not in listed.stdout
    entries = [line.strip() for line in listed.stdout.splitlines()
               if line.startswith("  ") and not line.startswith("   ")]  # plugins, not params
    assert any(line.startswith("l2  [my_gan_plugins]  Squared L2 distance") for line in entries)
    assert any(line.startswith("knots  [my_gan_plugins]") for line in entries)

    result = shell(installed, tutorial, commands[1])
    assert result.returncode == 0, result.stderr
    run = read_run(tutorial / "runs" / "knots-gan")
    assert run.summary["status"] == "completed"
    assert run.header[:5] == ["iteration", "value", "l2", "js", "tv"]
    # the recorded l2 is the squared L2 distance of the saved masses
    s = run.snapshots
    assert list(s["iterations"]) == [0, 100, 200, 300]
    for k, it in enumerate(s["iterations"]):
        row = list(run.metrics["iteration"]).index(it)
        expected = float(((s["p_gen"][k] - s["p_data"]) ** 2).sum())
        assert run.metrics["l2"][row] == pytest.approx(expected, rel=1e-12, abs=1e-18)
    assert run.metrics["js"][-1] < 0.1 * run.metrics["js"][0]  # the game does make progress
    assert "kind = \"knots\"" in run.scenario_text and "knots = 33" in run.scenario_text

    tests = shell(installed, tutorial, [*commands[2], "-q", "-p", "no:cacheprovider"])
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout


def test_observer_example_adds_metrics_and_a_file(installed, commands, tmp_path):
    tutorial = write_tutorial(tmp_path)
    result = shell(installed, tutorial, commands[3])
    assert result.returncode == 0, result.stderr
    run = read_run(tutorial / "runs" / "knots-gan")
    assert run.header[-2:] == ["mean_g", "mean_gap"]
    x = run.snapshots["x"]
    mean_d = float(run.snapshots["p_data"] @ x)
    assert run.metrics["mean_g"][0] == pytest.approx(float(run.snapshots["p_gen"][0] @ x))
    assert run.metrics["mean_gap"] == pytest.approx(run.metrics["mean_g"] - mean_d)
    final = np.loadtxt(tutorial / "runs" / "knots-gan" / "final_p_gen.txt")
    assert final == pytest.approx(run.snapshots["p_gen"][-1], rel=1e-15)


def test_doc_files_reads_named_blocks_only():
    text = ("```python\n# a.py\nx = 1\n```\n```python\nnot_a_file = 1\n```\n"
            "```sh\n# b.py\n```\n```python\n# a.py\ny = 2\n```\n")
    assert doc_files(text) == {"a.py": "# a.py\nx = 1\n\n\n# a.py\ny = 2\n"}


def test_doc_commands_reads_sh_blocks_only():
    text = ("```sh\ngamesim run a.toml   # comment\n\npython -m x\n```\n"
            "```python\ngamesim = 1\n```\n")
    assert doc_commands(text) == [["gamesim", "run", "a.toml"], ["python", "-m", "x"]]
