"""Shared helpers: scenario files in tmp_path, in-process CLI calls, saved runs read back."""

import csv
import dataclasses
import json
import math
import os
import re
import shutil
import site
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from gamesim import plugins
from gamesim.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = os.path.join(REPO, "scenarios")
LOG4 = math.log(4.0)


@dataclasses.dataclass
class CliResult:
    status: int
    out: str
    err: str


@dataclasses.dataclass
class Run:
    """A run directory read back with the standard library and numpy only."""

    path: str
    header: list
    metrics: dict  # column -> float array ("inf" and "nan" parsed as floats)
    snapshots: dict
    summary: dict
    scenario_text: str

    def last(self, column):
        return float(self.metrics[column][-1])


def read_run(path):
    path = os.fspath(path)
    with open(os.path.join(path, "metrics.csv"), newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    metrics = {name: np.array([float(r[i]) for r in rows[1:]]) for i, name in enumerate(header)}
    with np.load(os.path.join(path, "snapshots.npz"), allow_pickle=False) as z:
        snapshots = {k: z[k] for k in z.files}
    with open(os.path.join(path, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(path, "scenario.toml")) as f:
        scenario_text = f.read()
    return Run(path, header, metrics, snapshots, summary, scenario_text)


@pytest.fixture
def write_scenario(tmp_path):
    """``write_scenario(text, name="scenario.toml")`` writes dedented TOML into tmp_path."""
    def write(text, name="scenario.toml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path
    return write


@pytest.fixture
def run_cli(capsys):
    """``run_cli(*args)`` calls gamesim.cli.main in-process; returns status, stdout, stderr."""
    def run(*args):
        capsys.readouterr()
        status = main([os.fspath(a) for a in args])
        out, err = capsys.readouterr()
        return CliResult(status, out, err)
    return run


@pytest.fixture
def run_scenario(tmp_path, write_scenario, run_cli):
    """``run_scenario(text, *cli_args)``: write, run with --no-plots --quiet into tmp_path/run
    (or ``out=``), assert exit 0, and return the run read back."""
    counter = iter(range(10**6))

    def run(text, *args, out=None):
        n = next(counter)
        path = write_scenario(text, f"scenario-{n}.toml")
        out = out or tmp_path / f"run-{n}"
        result = run_cli("run", path, "--out", out, "--no-plots", "--quiet", *args)
        assert result.status == 0, result.err
        return read_run(out)
    return run


def run_subprocess(args, cwd=None, env=None, timeout=300, executable=None):
    """Run ``python -m gamesim ARGS`` (or ``executable ARGS``) in a fresh process."""
    full_env = dict(os.environ)
    full_env.pop("GAMESIM_TRACEBACK", None)
    full_env.update(env or {})
    cmd = [executable] if executable else [sys.executable, "-m", "gamesim"]
    return subprocess.run(cmd + [os.fspath(a) for a in args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def parse_plugin_listing(text):
    """``gamesim plugins`` output as {kind heading: {plugin name: its indented lines}}.

    A kind heading is an unindented line ending in ':'; a plugin entry starts one level
    of indentation deeper; anything indented further belongs to the entry above it.
    """
    listing, kind, entry, entry_indent = {}, None, None, None
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            kind = line.strip().rstrip(":")
            listing[kind] = {}
            entry = None
        elif entry is None or indent <= entry_indent:
            entry, entry_indent = line.split()[0], indent
            listing[kind][entry] = []
        else:
            listing[kind][entry].append(line.strip())
    return listing


# The core built-ins every install has, with the parameters each declares (others may add more).
BUILTINS = {
    "target": {"normal": ["mean", "std"], "uniform": ["lower", "upper"],
               "laplace": ["loc", "scale"], "mixture": ["components"]},
    "generator": {"density": ["init"]},
    "discriminator": {"oracle": []},
    "objective": {"minimax": [], "nonsaturating": []},
    "optimizer": {"sgd": ["lr"], "mirror": ["lr"]},
    "distance": {"js": [], "kl": [], "tv": [], "w1": []},
}


def check_plugin_listing(text):
    """Assert ``gamesim plugins`` output lists every built-in with each declared parameter
    and its default; returns the parsed listing."""
    from gamesim import params

    listing = parse_plugin_listing(text)
    by_name = {}
    for heading, entries in listing.items():
        by_name.setdefault(heading.rstrip("s"), {}).update(entries)
    for kind, names in BUILTINS.items():
        assert kind in by_name, f"no {kind}s section in:\n{text}"
        for name, expected in names.items():
            assert name in by_name[kind], f"{kind} {name!r} not listed"
            listed = [line.split()[0] for line in by_name[kind][name]]
            assert len(listed) == len(set(listed)), f"{kind} {name!r}: a parameter twice"
            for p in expected:
                assert p in listed, f"{kind} {name!r}: parameter {p!r} not listed"
    reg = plugins.registry()
    for kind, classes in reg.classes.items():
        for name, cls in classes.items():
            if not reg.origins[kind][name].startswith("gamesim"):
                continue
            assert name in by_name.get(kind, {}), f"built-in {kind} {name!r} not listed"
            lines = by_name[kind][name]
            for p in params.declared(cls):
                line = next((entry for entry in lines if entry.split()[0] == p.name), None)
                assert line is not None, f"{kind} {name!r}: parameter {p.name!r} not listed"
                if p.required:
                    assert "required" in line
                elif p.default is not None:
                    assert repr(p.default) in line, (line, p.default)
    return listing


_SKIP = shutil.ignore_patterns(".git", ".ci-venv", "runs", "build", "dist", "*.egg-info",
                               "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks",
                               "*.nbi", "*.nbc", "*.pyc")


def _build_isolation():
    """--no-build-isolation (fast, offline) where the build backend can make wheels here:
    setuptools before 70.1 needs the separate 'wheel' package, which a venv lacks."""
    import importlib.metadata
    import importlib.util

    try:
        version = tuple(int(v) for v in importlib.metadata.version("setuptools").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return []
    if version >= (70, 1) or importlib.util.find_spec("wheel") is not None:
        return ["--no-build-isolation"]
    return []


def venv_with(root, folder, layers, timeout=300):
    """A fresh venv in ``root``/venv seeing the site folders ``layers`` after its own (a .pth
    file), with ``folder`` pip-installed into it non-editable from a copy in ``root``/source
    (so the build writes nothing into the working tree); (venv, python, purelib)."""
    source = root / "source"
    shutil.copytree(folder, source, ignore=_SKIP)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True,
                   capture_output=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(purelib, "outer-environment.pth"), "w") as f:
        f.write("\n".join(layers) + "\n")
    result = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", *_build_isolation(),
         "--disable-pip-version-check", source],
        cwd=root, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return venv, python, purelib


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """gamesim installed NON-editable into a fresh venv (from a copy of the repository, so the
    build writes nothing into the working tree). Its dependencies, and pip, come from the
    environment running the tests, base interpreter or CI's venv alike: that environment's
    site folders go on the venv's path after its own (their .pth files, such as an editable
    install's finder, are not run)."""
    root = tmp_path_factory.mktemp("install")
    outer = [p for p in site.getsitepackages() + [site.getusersitepackages()]
             if os.path.isdir(p)]
    venv, python, purelib = venv_with(root, REPO, outer, timeout=600)
    return types.SimpleNamespace(root=root, venv=venv, python=python, purelib=purelib,
                                 gamesim=str(venv / "bin" / "gamesim"))


HEADER = """
import numpy as np
import gamesim
"""


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """``plugin_module(source)`` writes a plugin module (numpy and gamesim imported), loads it as ``-p`` would and returns
    its name and the module; it is unregistered after the test."""
    loaded = []

    def load(source):
        name = "gs_" + re.sub(r"\W", "_", tmp_path.name) + f"_{len(loaded)}"
        (tmp_path / f"{name}.py").write_text(HEADER + textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(tmp_path))
        plugins.load_modules([name])
        loaded.append(name)
        return name, sys.modules[name]

    yield load
    pm = plugins.manager()
    for name in loaded:
        pm.unregister(name=name)
        sys.modules.pop(name, None)
    plugins._registry = None


GAMESIM = os.path.join(os.path.dirname(sys.executable), "gamesim")  # the console script


def gamesim_cli(args, cwd, env=None, timeout=300, input=None):
    """Run the ``gamesim`` console script as a user types it, from ``cwd``; CompletedProcess."""
    full_env = dict(os.environ)
    full_env.pop("GAMESIM_TRACEBACK", None)
    full_env.update(env or {})
    return subprocess.run([GAMESIM, *[os.fspath(a) for a in args]], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


def tree(root):
    """Every path under ``root`` (hidden ones included), relative and sorted: what is on disk."""
    found = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def assert_one_line_error(proc, status, *fragments):
    """Exit ``status``, one ``gamesim: error:`` line on stderr holding each fragment, no
    traceback."""
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gamesim: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
