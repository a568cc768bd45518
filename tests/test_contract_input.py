"""Bad input through the ``gamesim`` console script: run names, special and oversize scenario
files, scenarios too large for memory, broken data files and targets with no mass on the
grid. Each is exit status 2 with one message naming the file and the key, and leaves nothing
on disk."""

import os

import numpy as np
import pytest

from gamesim import Grid, memory, plugins
from gamesim.params import build

from conftest import assert_one_line_error, gamesim_cli, tree

# processes, virtual environments or a browser: left out by -m 'not slow'
pytestmark = pytest.mark.slow

SCENARIO = """\
{top}
iterations = 3
record_every = 1
[grid]
lower = 0.0
upper = 1.0
points = 4
[target]
{target}
[generator]
kind = "density"
[output]
snapshots = 2
"""
NORMAL = 'kind = "normal"\nmean = 0.5\nstd = 0.2'


def write(folder, top="", target=NORMAL, name="s.toml"):
    path = folder / name
    path.write_text(SCENARIO.format(top=top, target=target))
    return path


def refused(tmp_path, args, *fragments, env=None):
    """``gamesim run ARGS`` from tmp_path: status 2, one line naming each fragment, and
    nothing written."""
    before = tree(tmp_path)
    proc = gamesim_cli(["run", *args, "--no-plots", "--quiet"], tmp_path, env=env)
    assert_one_line_error(proc, 2, *fragments)
    assert tree(tmp_path) == before


BAD_NAMES = ["../x", "/abs", "a/b", ".", "..", "x" * 101, "with space"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_that_is_not_plain_is_refused_in_the_file(tmp_path, name):
    path = write(tmp_path, top=f"name = {name!r}")
    refused(tmp_path, ["s.toml"], f"{path.name}: name: got {name!r}", "expected a plain name",
            "at most 100 characters")


@pytest.mark.parametrize("name", ["../x", "/abs", ".."])
def test_a_name_that_is_not_plain_is_refused_from_set(tmp_path, name):
    write(tmp_path)
    refused(tmp_path, ["s.toml", "--set", f"name={name}"], f"s.toml: name: got {name!r}",
            "not '.' or '..'")


def test_a_file_stem_is_made_plain_for_the_default_name(tmp_path):
    write(tmp_path, name="my scenario!.toml")
    proc = gamesim_cli(["run", "my scenario!.toml", "--no-plots", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(tmp_path / "runs") == ["my-scenario-"]


def test_a_100_character_name_is_allowed():
    from gamesim.scenario import run_name

    assert run_name({"name": "a-b_c.9" * 14 + "xx"}, "s.toml") == "a-b_c.9" * 14 + "xx"
    assert run_name({}, "/x/" + "y" * 150 + ".toml") == "y" * 100
    assert run_name({"name": ""}, "/x/!.toml") == "-"


def test_a_fifo_and_a_device_are_refused_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.toml")  # opening it for reading would block the test
    refused(tmp_path, ["pipe.toml"], "pipe.toml: not a regular file (expected a scenario file")
    refused(tmp_path, ["/dev/zero"], "/dev/zero: not a regular file")


def test_an_oversize_scenario_file_is_refused(tmp_path):
    (tmp_path / "big.toml").write_text("# padding\n" * 500_000)  # 5 MB of comments
    refused(tmp_path, ["big.toml"], "big.toml: 5000000 bytes, more than a scenario file may "
                                    "have (4 MiB)")


@pytest.mark.parametrize("value", ["[" * 65 + "]" * 65, "[" * 5000 + "]" * 5000,
                                   "{a=" * 3000 + "1" + "}" * 3000])
def test_nesting_too_deep_is_refused(tmp_path, value):
    write(tmp_path, top=f"description = 'x'\nstop = {{ metric = 'tv', below = {value} }}")
    refused(tmp_path, ["s.toml"], "s.toml: nested too deep: more than 64 levels")


@pytest.mark.parametrize("sets, fragments", [
    (["grid.points=100000000"], ["s.toml: grid.points: 100000000 cells need about 25.9 GB"]),
    (["grid.points=1000000000000"], ["grid.points: 1000000000000 cells need about 256 TB"]),
    (["iterations=1000000000", "record_every=1000000000", "output.snapshots=1000000000"],
     ["output.snapshots: 1000000000 snapshots of 4 cells need about 128 GB"]),
    (["iterations=1000000000000", "record_every=1"],
     ["record_every: 1000000000002 recorded rows (iterations 1000000000000 / record_every 1)"
      " need about"]),
    (["discriminator={kind='logistic',features='rbf',centres=100000000}",
      "grid.points=1000"],
     ["discriminator: 1000 cells with generator 'density' and discriminator 'logistic' "
      "need about 3.2 TB"]),
])
def test_a_scenario_too_large_for_memory_is_refused(tmp_path, sets, fragments):
    write(tmp_path)
    args = ["s.toml"] + [a for s in sets for a in ("--set", s)]
    refused(tmp_path, args, *fragments,
            "more than this machine's memory limit of 16 GB (GAMESIM_MAX_MEMORY)",
            env={"GAMESIM_MAX_MEMORY": "16G"})


def test_the_default_limit_names_its_source(tmp_path):
    write(tmp_path)
    refused(tmp_path, ["s.toml", "--set", "grid.points=1000000000000"],
            "set GAMESIM_MAX_MEMORY to change it", env={"GAMESIM_MAX_MEMORY": ""})


def test_a_small_max_memory_refuses_a_normal_scenario_and_a_bad_one_is_named(tmp_path):
    write(tmp_path)
    refused(tmp_path, ["s.toml"], "s.toml: grid.points: 4 cells need about 268 MB, more than "
                                  "this machine's memory limit of 100 MB (GAMESIM_MAX_MEMORY)",
            env={"GAMESIM_MAX_MEMORY": "100M"})
    refused(tmp_path, ["s.toml"], "GAMESIM_MAX_MEMORY='8 parsecs': expected a size in bytes",
            env={"GAMESIM_MAX_MEMORY": "8 parsecs"})


@pytest.mark.parametrize("text, size", [("123", 123), ("512M", 512_000_000), ("8G", 8e9),
                                        ("1.5GiB", 1.5 * 2 ** 30), ("2 kB", 2000),
                                        ("0", None), ("-1G", None), ("G", None)])
def test_sizes_are_parsed_with_their_suffixes(text, size):
    assert memory.parse_size(text) == size


def test_a_sweep_share_divides_the_limit(tmp_path, monkeypatch):
    from gamesim import GamesimError, scenario

    monkeypatch.setenv("GAMESIM_MAX_MEMORY", "1.2G")
    path = write(tmp_path, top="name = 'ok'")
    scenario.load(path, ("grid.points=2000000",))  # 256 MiB + 512 MB + snapshots: fits
    with pytest.raises(GamesimError, match=r"grid.points: 2000000 cells need about 780 MB, "
                                           r"more than 600 MB, the share of one of 2 runs"):
        scenario.load(path, ("grid.points=2000000",), memory_share=2)


@pytest.mark.parametrize("kind", ["truncated", "fifo"])
def test_a_broken_data_file_is_refused(tmp_path, kind):
    if kind == "fifo":
        os.mkfifo(tmp_path / "data.npy")
        problem = "data.npy: not a regular file (expected a data file"
    else:
        np.save(tmp_path / "full.npy", np.linspace(0.1, 0.9, 1000))
        (tmp_path / "data.npy").write_bytes((tmp_path / "full.npy").read_bytes()[:500])
        os.remove(tmp_path / "full.npy")
        problem = ("data.npy: is truncated: its header promises a float64 array of shape "
                   "(1000,) (8000 bytes of data) but the file holds 372 bytes")
    write(tmp_path, target='kind = "samples"\npath = "data.npy"')
    refused(tmp_path, ["s.toml"], "s.toml: target.path:", problem)


@pytest.mark.parametrize("bandwidth", [1e-300, 1e-12])
def test_a_kde_far_narrower_than_a_cell_puts_each_point_in_its_cell(tmp_path, bandwidth):
    # one point at the centre of cell 1, one on the edge between cells 1 and 2
    (tmp_path / "x.txt").write_text("0.375\n0.5\n")
    target, _ = build(plugins.registry(), "target",
                      {"kind": "samples", "path": "x.txt", "bandwidth": bandwidth},
                      str(tmp_path / "s.toml"), "target")
    p, outside = target.masses(Grid(0.0, 1.0, 4))
    assert p.tolist() == [0.0, 0.75, 0.25, 0.0] and outside == 0.0


def test_a_kde_point_on_an_edge_alone_is_mass_on_the_grid(tmp_path):
    (tmp_path / "x.txt").write_text("0.5\n")
    write(tmp_path, target='kind = "samples"\npath = "x.txt"\nbandwidth = 1e-300')
    proc = gamesim_cli(["validate", "s.toml"], tmp_path)
    assert proc.returncode == 0 and "s.toml: ok" in proc.stdout, proc.stderr


@pytest.mark.parametrize("at", [-0.5, 1.5])
def test_a_point_target_outside_the_grid_is_refused(tmp_path, at):
    write(tmp_path, target=f'kind = "point"\nat = {at}')
    refused(tmp_path, ["s.toml"], "s.toml: target: has no mass on the grid [0.0, 1.0]: all of "
                                  "it lies outside; widen [grid]")
