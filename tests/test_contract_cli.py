"""The command line's contract where the world is hostile: an output place that cannot be
written, damaged run directories, a closed or full standard output, disk errors, signals and
concurrent runs. Every command is the ``gamesim`` console script run from a plain folder, as a
user types it: exit status, one line naming what is wrong, no traceback, and nothing left on
disk that the user did not ask for."""

import errno
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import GAMESIM, assert_one_line_error, gamesim_cli, tree

# processes, virtual environments or a browser: left out by -m 'not slow'
pytestmark = pytest.mark.slow

SMALL = """\
name = "small"
iterations = 30
record_every = 5
[grid]
points = 64
[target]
kind = "normal"
mean = 1.0
std = 1.0
[generator]
kind = "density"
[output]
snapshots = 3
"""

# long enough to be caught by a signal in every phase: simulating, writing, plotting
SLOW = """\
name = "slow"
iterations = 2000
record_every = 1
[grid]
points = 4096
[target]
kind = "normal"
mean = 1.0
std = 1.0
[generator]
kind = "density"
optimizer = { kind = "mirror", lr = 0.01 }
[output]
plots = ["convergence", "densities", "animation"]
snapshots = 30
"""


@pytest.fixture
def folder(tmp_path):
    """A plain folder holding small.toml and slow.toml, with nothing else."""
    (tmp_path / "small.toml").write_text(SMALL)
    (tmp_path / "slow.toml").write_text(SLOW)
    return tmp_path


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A finished run of small.toml, to damage copies of."""
    root = tmp_path_factory.mktemp("saved")
    (root / "small.toml").write_text(SMALL)
    proc = gamesim_cli(["run", "small.toml", "--out", "run", "--no-plots", "--quiet"], root)
    assert proc.returncode == 0, proc.stderr
    return root / "run"


def _damage(run, how):
    """Damage a copy of a run directory in one of the ways a hand edit or a bad copy would."""
    if how == "summary not an object":
        (run / "summary.json").write_text("[1, 2]\n")
    elif how == "snapshots of another grid":
        with np.load(run / "snapshots.npz") as z:
            arrays = {k: z[k] for k in z.files}
        arrays["x"] = np.linspace(-1, 1, 10)
        np.savez(run / "snapshots.npz", **arrays)
    elif how == "non-numeric array":
        with np.load(run / "snapshots.npz") as z:
            arrays = {k: z[k] for k in z.files}
        arrays["p_gen"] = np.array(["a", "b"])
        np.savez(run / "snapshots.npz", **arrays)
    elif how == "ragged metrics":
        with open(run / "metrics.csv", "a") as f:
            f.write("1,2\n")
    elif how == "summary not JSON":
        (run / "summary.json").write_text("{")


DAMAGES = ["summary not an object", "snapshots of another grid", "non-numeric array",
           "ragged metrics", "summary not JSON"]


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("command", ["plot", "compare"])
def test_a_damaged_run_directory_is_exit_2_naming_it(folder, saved_run, how, command):
    run = folder / "run"
    shutil.copytree(saved_run, run)
    _damage(run, how)
    before = tree(folder)
    proc = gamesim_cli([command, "run"], folder)
    assert_one_line_error(proc, 2, "damaged run directory: run")
    assert tree(folder) == before


# (what, arguments given the folder, exit status, fragments of the one-line message)
REFUSED = [
    ("--out under a regular file", lambda d: ["run", "small.toml", "--out", "small.toml/run"],
     2, ["--out small.toml/run", "is a file, not a folder"]),
    ("--out deeper under a regular file",
     lambda d: ["run", "small.toml", "--out", "small.toml/a/b/run"], 2, ["not a folder"]),
    ("--out name too long", lambda d: ["run", "small.toml", "--out", "r" * 300], 2,
     ["cannot write a run directory there", "too long"]),
    ("--out that exists", lambda d: ["run", "small.toml", "--out", "."], 2, ["already exists"]),
    ("sweep --out under a regular file",
     lambda d: ["sweep", "small.toml", "--set", "sweep.seed=[0, 1]", "--out", "small.toml/s"],
     2, ["not a folder"]),
    ("compare --out into a missing folder",
     lambda d: ["compare", str(d / "run"), "--out", "missing/c.png"], 2,
     ["--out 'missing/c.png'", "no such folder"]),
    ("Dask scheduler that does not answer",
     lambda d: ["sweep", "small.toml", "--set", "sweep.seed=[0, 1]", "--executor", "dask",
                "--scheduler", f"tcp://127.0.0.1:{_free_port()}", "--connect-timeout", "1"],
     2, ["no Dask scheduler answered within 1 s", "--connect-timeout"]),
    ("a zero connection timeout",
     lambda d: ["sweep", "small.toml", "--executor", "dask", "--scheduler", "tcp://x:1",
                "--connect-timeout", "0"], 2, ["--connect-timeout 0"]),
]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("what,args,status,fragments", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_before_anything_is_written(folder, saved_run, what, args, status, fragments):
    shutil.copytree(saved_run, folder / "run")
    before = tree(folder)
    started = time.monotonic()
    proc = gamesim_cli(args(folder), folder)
    assert_one_line_error(proc, status, *fragments)
    assert tree(folder) == before  # no runs/, no .partial, nothing outside the folder
    assert time.monotonic() - started < 30


def test_an_immutable_folder_is_refused_before_simulating(folder):
    locked = folder / "locked"
    locked.mkdir()
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", locked], capture_output=True).returncode != 0:
        pytest.skip("this file system cannot make a folder immutable (chattr +i)")
    try:
        proc = gamesim_cli(["run", "slow.toml", "--out", "locked/run"], folder)
        assert_one_line_error(proc, 2, "--out locked/run", "cannot write a run directory")
        assert os.listdir(locked) == []
    finally:
        subprocess.run(["chattr", "-i", locked], check=True)


def test_standard_output_closed_or_full_is_one_line_and_exit_1(folder):
    closed = subprocess.run(f"{GAMESIM} plugins >&-", shell=True, cwd=folder,
                            capture_output=True, text=True)
    assert_one_line_error(closed, 1, "standard output is closed")
    full = subprocess.run(f"{GAMESIM} plugins > /dev/full", shell=True, cwd=folder,
                          capture_output=True, text=True)
    assert_one_line_error(full, 1, "No space left on device")
    piped = subprocess.run(f"{GAMESIM} plugins | head -1", shell=True, cwd=folder,
                           capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stderr == ""  # a reader that stopped early
    assert piped.stdout.endswith(":\n")


def test_a_full_disk_while_writing_is_one_line_exit_1_and_leaves_nothing(folder, run_cli,
                                                                         monkeypatch):
    from gamesim import results

    def full(path, arrays):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))

    monkeypatch.chdir(folder)
    monkeypatch.setattr(results, "write_npz", full)
    before = tree(folder)
    result = run_cli("run", "small.toml", "--no-plots")
    assert result.status == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "snapshots.npz: No space left on device" in lines[0], result.err
    assert tree(folder) == before  # the runs/ folder it made is gone with the partial run


def test_an_unexpected_error_is_one_line_exit_1(folder, run_cli, monkeypatch):
    from gamesim import engine

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.chdir(folder)
    monkeypatch.setattr(engine, "run", broken)
    before = tree(folder)
    result = run_cli("run", "small.toml")
    assert result.status == 1
    assert result.err == ("gamesim: error: unexpected RuntimeError: boom (set "
                          "GAMESIM_TRACEBACK=1 for the traceback)\n")
    assert tree(folder) == before


def test_run_directories_get_the_umask_permissions(folder):
    for umask, mode in ((0o022, 0o755), (0o002, 0o775)):
        out = f"run-{umask:o}"
        proc = subprocess.run(f"umask {umask:03o}; {GAMESIM} run small.toml --out {out} "
                              "--quiet", shell=True, cwd=folder, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert os.stat(folder / out).st_mode & 0o777 == mode
        assert os.stat(folder / out / "plots").st_mode & 0o777 == mode
        assert os.stat(folder / out / "summary.json").st_mode & 0o777 == mode & 0o666


def test_two_runs_started_together_both_finish_in_two_directories(folder):
    procs = [subprocess.Popen([GAMESIM, "run", "small.toml", "--no-plots", "--quiet"],
                              cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert sorted(os.listdir(folder / "runs")) == ["small", "small-2"]
    for name in ("small", "small-2"):
        assert sorted(os.listdir(folder / "runs" / name)) == [
            "metrics.csv", "scenario.toml", "snapshots.npz", "summary.json"]
        with open(folder / "runs" / name / "summary.json") as f:
            assert json.load(f)["status"] == "completed"


def _leftovers(root):
    return [p for p in tree(root) if p.endswith(".partial") or ".partial" + os.sep in p]


@pytest.mark.slow
def test_sigterm_at_random_moments_never_leaves_anything_half_written(folder):
    """SIGTERM, SIGHUP or SIGINT at 20 moments spread over a run with plots and an animation:
    exit 128 + the signal with one line, or exit 0 when the run had finished; never a
    leftover; a run directory only when whole."""
    started = time.monotonic()
    proc = gamesim_cli(["run", "slow.toml", "--out", "timing", "--quiet"], folder)
    assert proc.returncode == 0, proc.stderr
    duration = time.monotonic() - started
    shutil.rmtree(folder / "timing")
    moments = random.Random(0)
    signals = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
    interrupted = 0
    for i in range(20):
        signum = signals[i % 3]
        out = f"run-{i}"
        child = subprocess.Popen([GAMESIM, "run", "slow.toml", "--out", out, "--quiet"],
                                 cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        # from 0.5 s: before that the interpreter is starting, where SIGTERM and SIGHUP end
        # it by their default action (nothing is written yet) and SIGINT by Python's own
        time.sleep(moments.uniform(0.5, duration))
        child.send_signal(signum)
        _, err = child.communicate(timeout=120)
        assert "Traceback" not in err and "Exception" not in err, err
        assert _leftovers(folder) == [], (signum, err)
        if child.returncode == 0:
            assert err == ""
        else:
            interrupted += 1
            assert child.returncode == 128 + signum, (child.returncode, err)
            assert err.startswith(f"gamesim: interrupted by {signal.Signals(signum).name}; ")
            assert len(err.strip().splitlines()) == 1, err
        if os.path.exists(folder / out):  # finished, or written just before the signal
            assert {"metrics.csv", "snapshots.npz", "summary.json", "scenario.toml",
                    "plots"} <= set(os.listdir(folder / out))
            assert "animation.gif" in os.listdir(folder / out / "plots")
    assert interrupted >= 10


def test_sigterm_while_plotting_keeps_the_old_plots(folder):
    proc = gamesim_cli(["run", "slow.toml", "--out", "run", "--quiet"], folder)
    assert proc.returncode == 0, proc.stderr
    old = sorted(os.listdir(folder / "run" / "plots"))
    child = subprocess.Popen([GAMESIM, "plot", "run"], cwd=folder, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)  # start-up, then the animation
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode in (0, 143), err
    assert "Traceback" not in err
    assert sorted(os.listdir(folder / "run" / "plots")) == old
    assert _leftovers(folder) == []


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pids):
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


SWEEP = SLOW.replace('plots = ["convergence", "densities", "animation"]', "plots = []") + \
    '[sweep]\n"generator.optimizer.lr" = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08]\n'


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_killing_a_sweep_ends_its_workers_within_5_s(folder, signum):
    (folder / "sweep.toml").write_text(SWEEP)
    parent = subprocess.Popen([GAMESIM, "sweep", "sweep.toml", "--jobs", "2", "--quiet"],
                              cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    deadline = time.monotonic() + 60
    workers = []
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        workers = _children(parent.pid)
    assert len(workers) == 2, "the sweep did not start two workers"
    time.sleep(1.0)
    parent.send_signal(signum)
    _, err = parent.communicate(timeout=60)
    assert parent.returncode == (143 if signum == signal.SIGTERM else -signal.SIGKILL), err
    deadline = time.monotonic() + 5
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive(workers) == []
    if signum == signal.SIGTERM:
        assert _leftovers(folder) == []
        assert err == "gamesim: interrupted by SIGTERM; nothing half-written was left\n"


def test_leftovers_of_a_killed_process_are_removed_by_the_next_command(folder):
    """After SIGKILL, the next command writing in the same folder removes what a process of
    this host that is gone left; a live process's and another host's are left alone."""
    runs = folder / "runs"
    runs.mkdir()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a process id that is gone
    host = socket.gethostname()
    dead = runs / f".small~{host}~{child.pid}.partial"
    live = runs / f".other~{host}~{os.getpid()}.partial"
    remote = runs / f".small~elsewhere~{child.pid}.partial"
    for path in (dead, live, remote):
        (path / "plots").mkdir(parents=True)
    proc = gamesim_cli(["run", "small.toml", "--quiet", "--no-plots"], folder)
    assert proc.returncode == 0, proc.stderr
    assert not dead.exists()
    assert live.exists() and remote.exists()
    # another host may still be writing runs/small: this run takes the next name
    assert sorted(os.listdir(runs)) == sorted([live.name, remote.name, "small-2"])

