"""Scenario files: TOML loading, --set overrides, validation and the resolved scenario.

Everything a user can get wrong is checked here, before any simulation or any file is
written; errors name the file, the dotted key, the bad value and what is allowed.
"""

import dataclasses
import os
import re
import stat
import tomllib

import numpy as np

from . import checks, memory, plugins as plugin_manager
from .errors import GamesimError, did_you_mean, located
from .grid import Grid
from .params import build, fill, param

PLOT_KINDS = ("convergence", "densities", "parameters", "phase", "transform", "animation")
DEFAULT_PLOTS = ["convergence", "densities", "parameters", "phase", "transform"]
FALLBACK_OPTIMIZER = {"kind": "sgd", "lr": 0.01}


class _Top:
    name: str = param("", help="run name; default the file's stem")
    description: str = param("", help="one line saying what to look at")
    seed: int = param(0, ge=0, help="seed of the random streams (parameter initialization)")
    iterations: int = param(1000, ge=0, help="number of iterations (generator steps)")
    record_every: int = param(10, ge=1, help="record metrics every this many iterations")
    plugins: list[str] = param([], help="extra plugin modules to import")


class _Stop:
    metric: str = param(help="a recorded metric: value, a distance, d_max_dev or mass_outside")
    below: float = param(help="stop (status 'converged') once the metric is below this")


class _Grid:
    lower: float = param(-8.0, help="left edge")
    upper: float = param(8.0, help="right edge")
    points: int = param(512, ge=2, help="number of cells N")

    def validate(self):
        if not self.upper > self.lower:
            from .errors import ParameterError
            raise ParameterError("upper", f"got {self.upper!r}, expected a number > lower "
                                          f"({self.lower!r})")


class _Game:
    mode: str = param("adversarial", choices=("adversarial", "direct"),
                      help="adversarial (GAN game) or direct (descend a distance)")
    objective: str = param("minimax", help="objective plugin (adversarial mode)")
    schedule: str = param("alternating", choices=("alternating", "simultaneous"),
                          help="order of the players' steps with a parametrized discriminator")
    distance: dict = param(None, plugin="distance", help="the generator's loss in direct mode")
    estimator: str = param("exact", choices=("exact", "sampled"),
                           help="exact: expectations as sums over the grid; sampled: from "
                                "minibatches of data and noise (see README, Sampled training)")
    batch: int = param(64, ge=1, help="batch size of data and noise (sampled)")
    data_batch: int = param(None, ge=1, help="data batch size (sampled); default batch")
    noise_batch: int = param(None, ge=1, help="noise batch size (sampled); default batch")
    statistic: str = param("unbiased", choices=("unbiased", "biased"),
                           help="sample MMD^2 and energy distance: U-statistic (unbiased) or "
                                "V-statistic (biased) (sampled direct mode)")
    jitter: bool = param(False, help="spread each data point drawn at a cell centre uniformly "
                                     "over its cell (sampled; shifts expectations by O(h^2))")


SAMPLED_KEYS = ("batch", "data_batch", "noise_batch", "statistic", "jitter")


@dataclasses.dataclass(frozen=True)
class Sampling:
    """The settings of sampled training (``[game] estimator = "sampled"``)."""

    data_batch: int
    noise_batch: int
    unbiased: bool
    jitter: bool


class _Metrics:
    distances: list[str] = param(["js", "kl", "w1", "tv"], help="distances recorded every row")


class _Output:
    plots: list[str] = param(DEFAULT_PLOTS, choices=PLOT_KINDS,
                             help="figures to draw, each where it applies to the run")
    format: str = param("png", choices=("png", "svg", "pdf"), help="file format of the figures")


@dataclasses.dataclass
class Scenario:
    """A validated scenario: plugin instances built, every default filled in ``resolved``."""

    path: str
    name: str
    description: str
    seed: int
    iterations: int
    record_every: int
    stop: tuple | None
    grid: Grid
    target: object
    p_data: np.ndarray
    target_outside: float
    generator: object
    generator_optimizer: object
    discriminator: object | None
    discriminator_optimizer: object | None
    steps: int
    mode: str
    objective: object | None
    schedule: str
    distance: object | None
    distances: dict
    plots: list
    plot_format: str
    snapshots: list
    resolved: dict
    regularizer: object | None = None
    estimator: str = "exact"
    sampling: Sampling | None = None


MAX_FILE_BYTES = 4 * 2 ** 20  # a scenario is a page of settings; more is a wrong file
MAX_DEPTH = 64  # levels of tables and arrays


def read_toml(path):
    """Parse a TOML file; a missing, unreadable, special (FIFO, device), oversize, binary,
    malformed or too deeply nested file is a GamesimError."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise GamesimError(f"{path}: no such file") from None
    except OSError as err:
        raise GamesimError(f"{path}: cannot read: {err.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise GamesimError(f"{path}: is a directory, expected a scenario file (.toml)")
    # checked before opening: a FIFO would block and a device such as /dev/zero never ends
    if not stat.S_ISREG(info.st_mode):
        raise GamesimError(f"{path}: not a regular file (expected a scenario file (.toml))")
    if info.st_size > MAX_FILE_BYTES:
        raise GamesimError(f"{path}: {info.st_size} bytes, more than a scenario file may have "
                           f"({MAX_FILE_BYTES // 2 ** 20} MiB)")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise GamesimError(f"{path}: cannot read: {err.strerror}") from None
    try:
        text = raw.decode("utf-8")
        if "\x00" in text:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "NUL byte")
    except UnicodeDecodeError:
        raise GamesimError(f"{path}: not a text file (expected a UTF-8 TOML scenario)") from None
    too_deep = GamesimError(f"{path}: nested too deep: more than {MAX_DEPTH} levels of tables "
                            f"and arrays")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise GamesimError(f"{path}: TOML syntax error: {err}") from None
    except RecursionError:
        raise too_deep from None
    if _depth(data) > MAX_DEPTH:
        raise too_deep
    return data


def _depth(value):
    """Levels of nested tables and arrays in ``value``, counted without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            deepest = max(deepest, level)
            continue
        stack.extend((v, level + 1) for v in value)
        deepest = max(deepest, level + 1)
    return deepest


def apply_overrides(data, overrides, path):
    """Apply overrides: ``dotted.key=VALUE`` strings (``--set``; VALUE is parsed as TOML, else
    taken as a string) or ``(dotted.key, value)`` pairs (a sweep point)."""
    for item in overrides:
        if isinstance(item, tuple):
            key, value = item
        else:
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise GamesimError(f"--set {item!r}: expected KEY=VALUE, e.g. "
                                   "generator.optimizer.lr=0.5")
            try:
                value = tomllib.loads(f"v = {text.strip()}")["v"]
            except tomllib.TOMLDecodeError:
                value = text.strip()
        table = data
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise GamesimError(located(path, ".".join(parts[:i + 1]),
                                           f"--set {item!r}: not a table, cannot set a key in it"))
        table[parts[-1]] = value
    return data


SECTIONS = ("name", "description", "seed", "iterations", "record_every", "stop", "plugins",
            "grid", "target", "generator", "discriminator", "game", "metrics", "output", "sweep")


def _table(data, key, path, required=False):
    value = data.get(key, None)
    if value is None:
        if required:
            raise GamesimError(located(path, key, "missing; expected a table"))
        return {}
    if not isinstance(value, dict):
        raise GamesimError(located(path, key, f"got {value!r}, expected a table"))
    return value


# the players' recorded parameters and gradient norms: a few named numbers each (a large
# model records its norm)
PARAMETER_COLUMNS = 16
NAME_CHARACTERS = "ASCII letters, digits, '.', '_' and '-'"
MAX_NAME = 100


def run_name(data, path):
    """The run's name from a scenario's TOML table (overrides applied): its ``name``, which
    names the run's folder and so must be a plain name (no path), or by default the file's
    stem with every other character replaced by '-'."""
    name = data.get("name")
    if name is None or name == "":
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", os.path.splitext(os.path.basename(path))[0])
        stem = stem[:MAX_NAME]
        return "scenario" if stem in ("", ".", "..") else stem
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name) or \
            name in (".", "..") or len(name) > MAX_NAME:
        raise GamesimError(located(path, "name", f"got {name!r:.120}, expected a plain name: "
                                                 f"{NAME_CHARACTERS}, at most {MAX_NAME} "
                                                 f"characters, not '.' or '..' (it names the "
                                                 f"run's folder)"))
    return name


def load(path, overrides=(), extra_plugins=(), memory_share=1):
    """Read, override and validate a scenario file; return a :class:`Scenario`.

    ``memory_share``: how many runs share the machine's memory (a sweep's parallel points);
    a scenario that would need more than its share of the limit is refused.
    """
    path = os.fspath(path)
    data = apply_overrides(read_toml(path), overrides, path)
    for key in data:
        if key not in SECTIONS:
            raise GamesimError(located(path, key, f"unknown key{did_you_mean(key, SECTIONS)}; "
                                                  f"allowed: {', '.join(SECTIONS)}"))
    top = _Top()
    resolved = fill(top, {k: data[k] for k in _Top.__dict__ if k in data}, None, path, "",
                    "a scenario")
    resolved["name"] = run_name(data, path)
    plugin_manager.load_modules(extra_plugins, path)  # -p: also beside the scenario file
    plugin_manager.load_modules(top.plugins, path, "plugins")
    registry = plugin_manager.registry()

    grid_section = _Grid()
    resolved["grid"] = fill(grid_section, _table(data, "grid", path), registry, path, "grid",
                            "[grid]")
    points = grid_section.points
    # before any array is built: a grid too large for memory is bad input, not a MemoryError
    need = memory.grid_bytes(points)
    memory.check(need, path, "grid.points", f"{points} cells", memory_share)
    grid = Grid(grid_section.lower, grid_section.upper, points)

    target, resolved["target"] = build(registry, "target", _table(data, "target", path, True),
                                       path, "target")
    _setup(target, grid)
    p_data, target_outside = target.masses(grid)
    if not p_data.sum() > 0:
        raise GamesimError(located(path, "target", f"has no mass on the grid "
                                                   f"[{grid.lower}, {grid.upper}]: all of it "
                                                   f"lies outside; widen [grid] or move the "
                                                   f"target onto it"))

    game = _Game()
    resolved["game"] = fill(game, _table(data, "game", path), registry, path, "game", "[game]")
    generator, resolved["generator"] = build(registry, "generator",
                                             _table(data, "generator", path, True), path,
                                             "generator", reserved=("optimizer",))
    _setup(generator, grid)
    gen_opt_spec = _with_default_kind(
        resolved["generator"].get("optimizer"),
        getattr(generator, "default_optimizer", FALLBACK_OPTIMIZER))
    generator_optimizer, resolved["generator"]["optimizer"] = build(
        registry, "optimizer", gen_opt_spec, path, "generator.optimizer")
    if getattr(generator_optimizer, "requires_logit_params", False) and \
            not getattr(generator, "logit_params", False):
        raise GamesimError(located(path, "generator.optimizer.kind",
                                   f"{generator_optimizer.name!r} steps mass logits and needs a "
                                   f"generator whose parameters are mass logits (such as "
                                   f"'density'); generator {generator.name!r} is not"))

    discriminator = discriminator_optimizer = objective = distance = regularizer = None
    steps = 1
    if game.mode == "direct":
        if "discriminator" in data:
            raise GamesimError(located(path, "discriminator",
                                       "not allowed in direct mode: the generator descends "
                                       "[game] distance itself and no discriminator plays; "
                                       "remove the table or set game.mode = 'adversarial'"))
        if game.distance is None:
            raise GamesimError(located(path, "game.distance",
                                       "missing; direct mode needs a distance table, e.g. "
                                       "distance = { kind = 'w1' }; available: "
                                       + ", ".join(registry.names("distance"))))
        for key in ("objective", "schedule"):
            if key in _table(data, "game", path):
                raise GamesimError(located(path, f"game.{key}",
                                           "not used in direct mode: the generator descends "
                                           "game.distance and no discriminator plays"))
        distance = game.distance
        _setup(distance, grid)
        del resolved["game"]["objective"], resolved["game"]["schedule"]
    else:
        if game.distance is not None:
            raise GamesimError(located(path, "game.distance",
                                       "only used in direct mode (game.mode = 'direct'); the "
                                       "adversarial game's loss is game.objective"))
        objective_cls = registry.lookup("objective", game.objective, path, "game.objective")
        objective, _ = build(registry, "objective", {"kind": objective_cls.name}, path,
                             "game.objective")
        _setup(objective, grid)
        disc_spec = _table(data, "discriminator", path) or {"kind": "oracle"}
        discriminator, resolved["discriminator"] = build(
            registry, "discriminator", disc_spec, path, "discriminator",
            reserved=("optimizer", "steps", "regularizer"))
        # the players' per-cell arrays, checked before the discriminator's set-up builds its
        # features
        need += sum(memory.player_bytes(p, points) for p in (generator, discriminator))
        memory.check(need, path, "discriminator", f"{points} cells with generator "
                                                  f"{generator.name!r} and discriminator "
                                                  f"{discriminator.name!r}", memory_share)
        _setup(discriminator, grid)
        if getattr(discriminator, "oracle", False):
            for key in ("optimizer", "steps", "regularizer"):
                if key in disc_spec:
                    raise GamesimError(located(path, f"discriminator.{key}",
                                               "the oracle discriminator has no parameters: "
                                               "it plays the exact best response every iteration"))
        else:
            steps = disc_spec.get("steps", 1)
            if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
                raise GamesimError(located(path, "discriminator.steps",
                                           f"got {steps!r}, expected an integer >= 1"))
            if steps > 1 and game.schedule == "simultaneous":
                raise GamesimError(located(path, "discriminator.steps",
                                           "several discriminator steps per generator step need "
                                           "game.schedule = 'alternating'"))
            resolved["discriminator"]["steps"] = steps
            discriminator_optimizer, resolved["discriminator"]["optimizer"] = build(
                registry, "optimizer",
                _with_default_kind(disc_spec.get("optimizer"), FALLBACK_OPTIMIZER), path,
                "discriminator.optimizer")
            if getattr(discriminator_optimizer, "requires_logit_params", False):
                raise GamesimError(located(path, "discriminator.optimizer.kind",
                                           f"{discriminator_optimizer.name!r} needs mass logits; "
                                           "a discriminator's parameters are not"))
            if "regularizer" in disc_spec:
                regularizer, resolved["discriminator"]["regularizer"] = build(
                    registry, "regularizer", disc_spec["regularizer"], path,
                    "discriminator.regularizer")
                _setup(regularizer, grid)
                if getattr(regularizer, "needs_dudx", False) and \
                        not hasattr(discriminator, "dudx"):
                    raise GamesimError(located(path, "discriminator.regularizer.kind",
                                               f"{regularizer.name!r} penalizes du/dx, which "
                                               f"discriminator {discriminator.name!r} does not "
                                               "provide"))

    sampling = _sampling(game, _table(data, "game", path), resolved["game"], generator,
                         discriminator, objective, distance, regularizer, path)

    metrics = _Metrics()
    resolved["metrics"] = fill(metrics, _table(data, "metrics", path), registry, path, "metrics",
                               "[metrics]")
    distances = {}
    for i, name in enumerate(metrics.distances):
        distances[name], _ = build(registry, "distance", name, path, f"metrics.distances[{i}]")
        _setup(distances[name], grid)

    columns = ["value", *distances, "mass_outside"]
    if objective is not None and objective.output != "critic":
        columns.append("d_max_dev")
    stop = None
    if "stop" in data:
        stop_section = _Stop()
        resolved["stop"] = fill(stop_section, _table(data, "stop", path), registry, path, "stop",
                                "[stop]")
        if stop_section.metric not in columns:
            raise GamesimError(located(path, "stop.metric",
                                       f"got {stop_section.metric!r}"
                                       f"{did_you_mean(stop_section.metric, columns)}, expected "
                                       f"a recorded metric: {', '.join(columns)} (add distances "
                                       f"to [metrics] distances to stop on them)"))
        stop = (stop_section.metric, stop_section.below)

    output_table = dict(_table(data, "output", path))
    snapshots_spec = output_table.pop("snapshots", 4)
    output = _Output()
    resolved["output"] = fill(output, output_table, registry, path, "output", "[output]")
    resolved["output"]["snapshots"] = snapshots_spec
    if discriminator is None:
        need += memory.player_bytes(generator, points)
    _check_output_memory(need, snapshots_spec, top, len(columns) + 2, points, path,
                         memory_share)
    snapshots = _snapshot_iterations(snapshots_spec, top.iterations, path)

    scen = Scenario(path, resolved["name"], top.description, top.seed, top.iterations,
                    top.record_every, stop, grid, target, p_data, target_outside, generator,
                    generator_optimizer, discriminator, discriminator_optimizer, steps, game.mode,
                    objective, game.schedule, distance, distances, output.plots, output.format,
                    snapshots, resolved, regularizer, game.estimator, sampling)
    return checks.check_scenario(scen)  # plugins' shapes, once, naming a faulty plugin


def _sampling(game, game_table, resolved_game, generator, discriminator, objective, distance,
              regularizer, path):
    """Check that every player can be trained from samples; the :class:`Sampling` settings
    (None in exact mode, where the sampled-only keys are errors and left out of the resolved
    scenario)."""
    direct = game.mode == "direct"
    if game.estimator == "exact":
        for key in SAMPLED_KEYS:
            if key in game_table:
                raise GamesimError(located(path, f"game.{key}", "only used with "
                                                                "game.estimator = 'sampled'"))
            resolved_game.pop(key, None)
        return None
    if not direct and "statistic" in game_table:
        raise GamesimError(located(path, "game.statistic",
                                   "only used in direct mode: it selects the sample MMD^2 or "
                                   "energy distance estimator"))
    if not direct:
        resolved_game.pop("statistic")

    if getattr(generator, "logit_params", False):
        raise GamesimError(located(path, "generator.kind",
                                   f"{generator.name!r} is exact-only: its parameters are the "
                                   "grid's cell masses, with no noise to push through it, so "
                                   "sampled mode has nothing to sample; use a transform "
                                   "generator (location_scale, quantile, mlp, point) or "
                                   "game.estimator = 'exact'"))
    _require(path, "generator.kind", "generator", generator, ("sample", "sample_vjp"))
    if direct:
        _require(path, "game.distance.kind", "distance", distance, ("sample_value_grad",))
    else:
        if getattr(discriminator, "oracle", False):
            raise GamesimError(located(path, "discriminator.kind",
                                       "'oracle' is exact-only: its best response needs the "
                                       "exact densities p_d and p_g on the grid, which a "
                                       "minibatch does not give; use a parametrized "
                                       "discriminator (logistic, mlp) or game.estimator = "
                                       "'exact'"))
        _require(path, "discriminator.kind", "discriminator", discriminator,
                 ("forward_at", "vjp_at", "dudx_at"))
        _require(path, "game.objective", "objective", objective,
                 ("discriminator_terms", "generator_terms"))
        if regularizer is not None and hasattr(regularizer, "penalty"):
            raise GamesimError(located(path, "discriminator.regularizer.kind",
                                       f"{regularizer.name!r} has no sampled form yet (its "
                                       "penalty is computed on the grid); sampled mode takes "
                                       "'clip' or no regularizer"))
    sizes = {"data_batch": game.data_batch or game.batch,
             "noise_batch": game.noise_batch or game.batch}
    for key, size in sizes.items():
        if direct and size < 2:
            raise GamesimError(located(path, f"game.{key}" if key in game_table else "game.batch",
                                       f"got {size}, expected at least 2: a sample distance "
                                       "needs two points on each side"))
        resolved_game[key] = size
    return Sampling(sizes["data_batch"], sizes["noise_batch"], game.statistic == "unbiased",
                    game.jitter)


def _require(path, key, kind, plugin, methods):
    """A sampled scenario needs these methods of the plugin: an error naming what it lacks."""
    missing = [m for m in methods if not hasattr(plugin, m)]
    if missing:
        raise GamesimError(located(path, key, f"{kind} {plugin.name!r} cannot be used with "
                                              f"game.estimator = 'sampled': it lacks "
                                              f"{', '.join(missing)} (see README, Sampled "
                                              f"training)"))


def _with_default_kind(spec, default):
    """An optimizer table: the default if absent; one without 'kind' (such as a swept or --set
    learning rate) keeps the default's kind."""
    if spec is None:
        return default
    if isinstance(spec, dict) and "kind" not in spec:
        return {"kind": default["kind"], **spec}
    return spec


def _setup(plugin, grid):
    if hasattr(plugin, "setup"):
        plugin.setup(grid)


def _check_output_memory(need, snapshots_spec, top, columns, points, path, share):
    """Refuse snapshots or recorded rows that would not fit in memory beside ``need`` bytes,
    before the snapshot iterations are listed. ``columns``: the metrics' columns, without the
    players' parameters."""
    count = len(snapshots_spec) if isinstance(snapshots_spec, list) else snapshots_spec
    count = min(max(count, 1), top.iterations + 1) if isinstance(count, int) else 1
    need += memory.snapshot_bytes(count, points)
    memory.check(need, path, "output.snapshots", f"{count} snapshots of {points} cells",
                 share)
    rows = top.iterations // top.record_every + 2
    need += memory.rows_bytes(rows, columns + PARAMETER_COLUMNS)
    memory.check(need, path, "record_every", f"{rows} recorded rows (iterations "
                                             f"{top.iterations} / record_every "
                                             f"{top.record_every})", share)


def _snapshot_iterations(spec, iterations, path):
    """``snapshots``: a count of evenly spaced iterations, or a list of iterations."""
    if isinstance(spec, int) and not isinstance(spec, bool) and spec >= 1:
        # more than iterations + 1 evenly spaced iterations round to every iteration
        return sorted({int(round(t)) for t in np.linspace(0, iterations,
                                                           min(spec, iterations + 1))})
    if isinstance(spec, list) and spec and all(
            isinstance(t, int) and not isinstance(t, bool) and 0 <= t <= iterations for t in spec):
        return sorted(set(spec))
    raise GamesimError(located(path, "output.snapshots",
                               f"got {spec!r}, expected a count >= 1 or a list of iterations "
                               f"between 0 and {iterations}"))
