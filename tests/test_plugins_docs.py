"""docs/plugins.md, followed literally: its code blocks, grouped by the file named on their
first line, are written into a fresh folder and used as a new user would, with gamesim
installed (non-editable) in a fresh virtual environment: the tutorial's scenario runs with its
plugins, their own tests pass, and the observer example adds its metrics and file."""

import os
import re
import subprocess

import numpy as np
import pytest

from conftest import REPO, read_run

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


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tutorial")
    with open(DOC) as f:
        files = doc_files(f.read())
    assert {"my_gan_plugins.py", "knots-gan.toml", "test_my_gan_plugins.py",
            "gan_observers.py"} <= set(files)
    for name, content in files.items():
        (folder / name).write_text(content)
    return folder


def python(installed, folder, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMESIM_")}
    return subprocess.run([str(installed.python), *map(os.fspath, args)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_tutorial_blocks_make_working_plugins(installed, tutorial):
    listed = python(installed, tutorial, "-m", "gamesim", "plugins", "-p", "my_gan_plugins")
    assert listed.returncode == 0, listed.stderr
    assert "broken" not in listed.stdout
    entries = [line.strip() for line in listed.stdout.splitlines()
               if line.startswith("  ") and not line.startswith("   ")]  # plugins, not params
    assert any(line.startswith("l2  [my_gan_plugins]") for line in entries)
    assert any(line.startswith("knots  [my_gan_plugins]") for line in entries)

    result = python(installed, tutorial, "-m", "gamesim", "run", "knots-gan.toml", "--out",
                    "run", "--no-plots", "--quiet")
    assert result.returncode == 0, result.stderr
    run = read_run(tutorial / "run")
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

    tests = python(installed, tutorial, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "test_my_gan_plugins.py")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout


def test_observer_example_adds_metrics_and_a_file(installed, tutorial):
    result = python(installed, tutorial, "-m", "gamesim", "run", "knots-gan.toml", "--out",
                    "observed", "--no-plots", "--quiet", "-p", "gan_observers",
                    "--set", "iterations=50")
    assert result.returncode == 0, result.stderr
    run = read_run(tutorial / "observed")
    assert run.header[-2:] == ["mean_g", "mean_gap"]
    x = run.snapshots["x"]
    mean_d = float(run.snapshots["p_data"] @ x)
    assert run.metrics["mean_g"][0] == pytest.approx(float(run.snapshots["p_gen"][0] @ x))
    assert run.metrics["mean_gap"] == pytest.approx(run.metrics["mean_g"] - mean_d)
    final = np.loadtxt(tutorial / "observed" / "final_p_gen.txt")
    assert final == pytest.approx(run.snapshots["p_gen"][-1], rel=1e-15)


def test_doc_files_reads_named_blocks_only():
    text = ("```python\n# a.py\nx = 1\n```\n```python\nnot_a_file = 1\n```\n"
            "```sh\n# b.py\n```\n```python\n# a.py\ny = 2\n```\n")
    assert doc_files(text) == {"a.py": "# a.py\nx = 1\n\n\n# a.py\ny = 2\n"}
