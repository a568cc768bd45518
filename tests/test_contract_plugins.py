"""Plugin contracts: optimizer state read and written as a flat vector (and a step that rebinds
its state caught), distances refused when negative, plugin modules found beside the scenario
and in the current directory by the ``gamesim`` console script without touching sys.path,
plugins that call sys.exit at import, and names registered twice."""

import sys
import textwrap

import numpy as np
import pytest

from gamesim import optstate, plugins, testing
from gamesim.errors import PluginError

from conftest import assert_one_line_error, gamesim_cli, parse_plugin_listing

BROKEN = "broken plugins (not loaded; scenarios that do not use them still run)"

SCENARIO = """
iterations = 10
record_every = 5
{plugins}
[grid]
lower = -3.0
upper = 3.0
points = 32
[target]
kind = "{target}"
[generator]
kind = "density"
[metrics]
distances = {distances}
"""


def scenario(folder, name="s.toml", plugins="", target="normal", distances='["js"]'):
    path = folder / name
    path.write_text(SCENARIO.format(plugins=plugins, target=target, distances=distances))
    return path


# optimizer state


class RebindingMomentum:
    """Heavy ball whose step rebinds its state: the velocity is lost after every step."""

    name = "rebinding"
    lr, beta = 0.05, 0.9

    def init_state(self, theta):
        return np.zeros_like(theta)

    def step(self, theta, grad, state):
        state = self.beta * state + grad
        theta -= self.lr * state
        return theta


class RebindingAdam:
    """Builds a new dict each step: the moments and the step count never advance."""

    name = "rebinding_dict"
    lr = 0.05

    def init_state(self, theta):
        return {"m": np.zeros_like(theta), "t": 0}

    def step(self, theta, grad, state):
        state = {"m": 0.9 * state["m"] + 0.1 * grad, "t": state["t"] + 1}
        theta -= self.lr * state["m"] / (1.0 - 0.9 ** state["t"])
        return theta


@pytest.mark.parametrize("cls", [RebindingMomentum, RebindingAdam])
def test_an_optimizer_rebinding_its_state_fails_the_check(cls):
    size = 8 if cls is RebindingMomentum else 9
    with pytest.raises(AssertionError) as info:
        testing.check_optimizer(cls())
    message = str(info.value)
    assert message.startswith(f"{cls.__name__} {cls.name!r}: step(theta, grad, state) left its "
                              f"state ({size} numbers) unchanged in 5 steps")
    assert "update the state in place" in message and "momentum restarts" in message


def test_an_optimizer_keeping_its_state_on_itself_fails_the_check():
    class Hidden(RebindingMomentum):
        name = "hidden"

        def init_state(self, theta):
            self.velocity = np.zeros_like(theta)
            return [0]

        def step(self, theta, grad, state):
            state[0] += 1
            self.velocity = self.beta * self.velocity + grad
            theta -= self.lr * self.velocity
            return theta

    with pytest.raises(AssertionError, match="a step must depend on nothing but"):
        testing.check_optimizer(Hidden())


def by_hand(kind, theta):
    """A state of each built-in, built by hand, and the vector flat_state must read from it."""
    n = theta.size
    m, v, prev = np.linspace(-1, 1, n), np.linspace(0.1, 0.5, n), np.arange(n, dtype=float)
    return {
        "sgd": (None, np.zeros(0)),
        "mirror": (None, np.zeros(0)),
        "extragradient": (None, np.zeros(0)),
        "momentum": (m.copy(), m),
        "adam": ({"m": m.copy(), "v": v.copy(), "t": 3}, np.concatenate([m, [3.0], v])),
        "optimistic": ({"previous": prev.copy(), "t": 2}, np.concatenate([prev, [2.0]])),
    }[kind]


@pytest.mark.parametrize("kind", ["sgd", "mirror", "momentum", "adam", "optimistic",
                                  "extragradient"])
def test_flat_state_round_trips_on_every_builtin_optimizer(kind):
    opt = testing.make("optimizer", {"kind": kind, "lr": 0.1})
    theta = np.linspace(-0.5, 0.7, 6)
    grad = np.array([0.3, -1.0, 0.2, 0.0, 2.0, -0.4])
    hand, vector = by_hand(kind, theta)
    np.testing.assert_array_equal(optstate.flat_state(opt, hand), vector)

    state = opt.init_state(theta.copy())
    optstate.set_flat_state(opt, state, vector)
    np.testing.assert_array_equal(optstate.flat_state(opt, state), vector)
    if isinstance(state, dict):
        assert type(state.get("t", 0)) is int  # counters stay integers
    ours = opt.step(theta.copy(), grad, state)
    theirs = opt.step(theta.copy(), grad, hand)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(optstate.flat_state(opt, state),
                                  optstate.flat_state(opt, hand))


def test_momentum_state_set_by_vector_steps_as_the_formula_says():
    opt = testing.make("optimizer", {"kind": "momentum", "lr": 0.5, "beta": 0.5})
    theta = np.array([1.0, 2.0])
    state = opt.init_state(theta)
    optstate.set_flat_state(opt, state, [4.0, -2.0])
    opt.step(theta, np.array([1.0, 1.0]), state)  # v = 0.5 v + g = (3, 0)
    np.testing.assert_array_equal(state, [3.0, 0.0])
    np.testing.assert_array_equal(theta, [-0.5, 2.0])


def test_generic_flattening_order_and_types():
    class Opt:
        name = "any"

    state = {"b": [np.array([[1.0, 2.0], [3.0, 4.0]]), None, 5], "a": {"z": True, "y": 0.5}}
    np.testing.assert_array_equal(optstate.flat_state(Opt(), state),
                                  [0.5, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    optstate.set_flat_state(Opt(), state, [1.5, 0.0, 9.0, 8.0, 7.0, 6.0, 4.6])
    assert state["a"] == {"z": False, "y": 1.5} and state["b"][2] == 5 and state["b"][1] is None
    np.testing.assert_array_equal(state["b"][0], [[9.0, 8.0], [7.0, 6.0]])
    with pytest.raises(ValueError, match="its state has 7 numbers, got a vector of shape"):
        optstate.set_flat_state(Opt(), state, [1.0])


def test_a_state_that_cannot_be_flattened_says_so():
    class Opt:
        name = "odd"

    for state, fragment in (({"rng": object()}, "state['rng'] is object"),
                            (0.5, "its state is the number 0.5, which cannot be set in place"),
                            ((1.0, np.zeros(2)), "state[0] is a number in a tuple")):
        with pytest.raises(PluginError, match=fragment.replace("[", r"\[").replace("(", r"\(")):
            optstate.flat_state(Opt(), state)


def test_an_optimizer_flattening_its_own_state_is_used_and_checked():
    class Packed(RebindingMomentum):
        """Keeps its velocity in an object; flattens it itself."""

        name = "packed"

        def init_state(self, theta):
            return type("Box", (), {"v": np.zeros_like(theta)})()

        def step(self, theta, grad, state):
            state.v *= self.beta
            state.v += grad
            theta -= self.lr * state.v
            return theta

        def state_vector(self, state):
            return state.v

        def load_state_vector(self, state, vector):
            state.v[:] = vector

    opt = Packed()
    testing.check_optimizer(opt)
    state = opt.init_state(np.zeros(3))
    optstate.set_flat_state(opt, state, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(state.v, [1.0, 2.0, 3.0])

    class ReadOnly(RebindingMomentum):
        name = "read_only"
        state_vector = Packed.state_vector

    with pytest.raises(PluginError, match="optimizer 'read_only' defines state_vector but not "
                                          "load_state_vector: define both or neither"):
        optstate.flat_state(ReadOnly(), state)


# distances


class NegativeOnZeroCells:
    """Squared L2, minus 0.1 wherever q has a zero cell: negative only there."""

    name = "negative_on_zeros"

    def value(self, p, q):
        return float(((q - p) ** 2).sum()) - (0.1 if (q == 0).any() else 0.0)

    def grad(self, p, q):
        return 2.0 * (q - p)


def test_a_distance_negative_only_where_q_has_zero_cells_fails_the_check():
    with pytest.raises(AssertionError) as info:
        testing.check_distance(NegativeOnZeroCells())
    message = str(info.value)
    assert message.startswith("NegativeOnZeroCells 'negative_on_zeros': D(p, q) = ")
    assert "where q has zero cells, expected a float >= 0" in message
    assert "no tolerance" in message


def test_a_distance_with_nan_gradient_on_zero_cells_fails_the_check():
    class NanGrad(NegativeOnZeroCells):
        name = "nan_grad"

        def value(self, p, q):
            return float(((q - p) ** 2).sum())

        def grad(self, p, q):
            return np.where(q == 0, np.nan, 2.0 * (q - p))

    with pytest.raises(AssertionError, match=r"where q has zero cells, grad\(p, q\) has NaN"):
        testing.check_distance(NanGrad())


def test_failure_messages_state_their_tolerances():
    class Off(NegativeOnZeroCells):
        name = "off"

        def value(self, p, q):
            return float(((q - p) ** 2).sum()) + 1e-9

    with pytest.raises(AssertionError, match=r"D\(p, p\) = 1e-09 for interior p, expected 0 "
                                             r"\(within 1e-12\)"):
        testing.check_distance(Off())


def test_check_discriminator_names_the_parameter_that_is_off():
    disc = testing.make("discriminator", {"kind": "logistic", "features": "polynomial"})
    original = disc.vjp

    def vjp(psi, g_u):
        out = original(psi, g_u)
        out[2] += 1.0
        return out

    disc.vjp = vjp
    with pytest.raises(AssertionError, match=r"VJP vjp\(psi, g_u\) disagrees with finite "
                                             r"differences at parameter index 2: analytic"):
        testing.check_discriminator(disc)


# plugin modules found by the console script

STDLIB_SHADOW = "raise RuntimeError('the local random.py was imported')\n"

COUNTING = '''
import random  # must be the standard library's, not the random.py beside this file

import gamesim


class Halved:
    """Half the total variation."""

    name = "{name}"

    def value(self, p, q):
        return 0.25 * float(abs(p - q).sum())

    def grad(self, p, q):
        return 0.25 * ((q > p).astype(float) - (q < p).astype(float))


@gamesim.hookimpl
def gamesim_register_distances(register):
    register(Halved)
'''


@pytest.mark.slow
def test_minus_p_finds_a_module_in_the_current_directory(tmp_path):
    (tmp_path / "gs_local_tv.py").write_text(COUNTING.format(name="half_tv"))
    (tmp_path / "random.py").write_text(STDLIB_SHADOW)
    path = scenario(tmp_path, distances='["half_tv", "tv"]')
    result = gamesim_cli(["run", path.name, "-p", "gs_local_tv", "--out", "run", "--no-plots",
                          "--quiet"], cwd=tmp_path, env={"PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr
    header, *rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    columns = header.split(",")
    last = dict(zip(columns, map(float, rows[-1].split(","))))
    assert last["half_tv"] == pytest.approx(0.5 * last["tv"], rel=1e-12)


@pytest.mark.slow
def test_a_scenario_list_finds_modules_beside_the_scenario(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "gs_beside.py").write_text(COUNTING.format(name="beside_tv"))
    (folder / "random.py").write_text(STDLIB_SHADOW)
    package = folder / "gs_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from .impl import *  # noqa: F401,F403\n")
    (package / "impl.py").write_text(COUNTING.format(name="pkg_tv"))
    path = scenario(folder, plugins='plugins = ["gs_beside", "gs_pkg"]',
                    distances='["beside_tv", "pkg_tv"]')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = gamesim_cli(["validate", path], cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: ok")


def test_loading_a_local_module_leaves_sys_path_alone(tmp_path, monkeypatch):
    name = "gs_contract_" + tmp_path.name.replace("-", "_")
    (tmp_path / f"{name}.py").write_text("import gamesim\nLOADED = True\n")
    monkeypatch.chdir(tmp_path)
    before = list(sys.path)
    try:
        plugins.load_modules([name])
        assert sys.modules[name].LOADED and sys.modules[name].__file__ == str(
            tmp_path / f"{name}.py")
        assert sys.path == before
    finally:
        plugins.manager().unregister(name=name)
        sys.modules.pop(name, None)
        plugins._registry = None


@pytest.mark.slow
def test_a_missing_module_names_where_it_was_looked_for(tmp_path):
    path = scenario(tmp_path, plugins='plugins = ["gs_nowhere"]')
    result = gamesim_cli(["validate", path], cwd=tmp_path)
    assert_one_line_error(result, 2, f"{path}: plugins: cannot import plugin module "
                                     f"'gs_nowhere': no gs_nowhere.py or gs_nowhere/__init__.py "
                                     f"in {tmp_path}")


# sys.exit at import

EXITING = "import sys\nsys.exit('this plugin quits on import')\n"


@pytest.mark.slow
def test_a_named_module_calling_sys_exit_is_an_error_naming_it(tmp_path):
    (tmp_path / "gs_quits.py").write_text(EXITING)
    result = gamesim_cli(["validate", scenario(tmp_path), "-p", "gs_quits"], cwd=tmp_path)
    assert_one_line_error(result, 2, "-p: cannot import plugin module 'gs_quits': it called "
                                     "sys.exit('this plugin quits on import')")


def fake_distribution(folder, dist, module, source):
    """An installed distribution ``dist`` whose ``gamesim`` entry point is ``module``."""
    info = folder / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[gamesim]\n{module} = {module}\n")
    (folder / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.mark.slow
def test_an_entry_point_calling_sys_exit_is_listed_as_broken(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    fake_distribution(site, "gamesim-quits", "gs_quits_ep", EXITING)
    env = {"PYTHONPATH": str(site)}
    listed = gamesim_cli(["plugins"], cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "gamesim-quits: cannot load entry point gs_quits_ep = gs_quits_ep: it called " \
           "sys.exit('this plugin quits on import')" in listed.stdout
    result = gamesim_cli(["run", scenario(tmp_path), "--out", "run", "--no-plots", "--quiet"],
                         cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "metrics.csv").exists()


# a name registered twice

TWIN = '''
import gamesim
from gamesim_plugins.distances import TV


class Again(TV):
    """The total variation under a name gamesim already has."""


@gamesim.hookimpl
def gamesim_register_distances(register):
    register(Again)
'''


@pytest.mark.slow
def test_a_name_registered_twice_is_broken_and_refused_where_used(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    fake_distribution(site, "gamesim-twin", "gs_twin", TWIN)
    env = {"PYTHONPATH": str(site)}
    listed = gamesim_cli(["plugins"], cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    broken = parse_plugin_listing(listed.stdout)[BROKEN]
    assert "gamesim-twin:" in broken
    line = next(line.strip() for line in listed.stdout.splitlines() if "twice" in line)
    assert line == ("gamesim-twin: distance 'tv' is registered twice: by plugin 'gamesim "
                    "(gamesim_plugins.distances)' and by plugin 'gamesim-twin'; neither is "
                    "used (choose which distributions' entry points load with "
                    "GAMESIM_LOAD_PLUGINS, or rename one)")

    fine = gamesim_cli(["run", scenario(tmp_path), "--out", "run", "--no-plots", "--quiet"],
                       cwd=tmp_path, env=env)
    assert fine.returncode == 0, fine.stderr
    used = scenario(tmp_path, "tv.toml", distances='["js", "tv"]')
    result = gamesim_cli(["validate", used], cwd=tmp_path, env=env)
    assert_one_line_error(result, 2, f"{used}: metrics.distances[1]: distance 'tv' is "
                                     f"registered twice: by plugin 'gamesim "
                                     f"(gamesim_plugins.distances)' and by plugin "
                                     f"'gamesim-twin'")
    chosen = gamesim_cli(["validate", used], cwd=tmp_path,
                         env={**env, "GAMESIM_LOAD_PLUGINS": ""})
    assert chosen.returncode == 0, chosen.stderr


def test_a_third_registration_is_counted():
    reg = plugins.Registry()
    for origin in ("a", "b", "c"):
        try:
            reg.add("distance", NegativeOnZeroCells, origin)
        except PluginError as err:
            last = str(err)
    assert last.startswith("distance 'negative_on_zeros' is registered 3 times: by plugin 'a' "
                           "and by plugin 'b' and by plugin 'c'")
    assert reg.names("distance") == []
