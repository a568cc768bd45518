"""Scenario files: TOML loading, --set overrides, validation and the resolved scenario.

Everything a user can get wrong is checked here, before any simulation or any file is
written; errors name the file, the dotted key, the bad value and what is allowed.
"""

import dataclasses
import math
import os
import re
import stat
import tomllib

import numpy as np
import tomli_w

from . import checks, defaults, memory, plugins as plugin_manager, protocols
from .columns import metric_columns
from .errors import GamesimError, ParameterError, did_you_mean, located
from .grid import Grid
from .params import build, declared, fill, param

PLOT_KINDS = ("convergence", "densities", "parameters", "phase", "transform", "animation",
              "eigenvalues")
DEFAULT_PLOTS = ["convergence", "densities", "parameters", "phase", "transform"]


class _Top:
    name: str = param("", help="run name; default the file's stem")
    description: str = param("", help="one line saying what to look at")
    seed: int = param(0, ge=0, help="seed of the random streams (parameter initialization)")
    iterations: int = param(1000, ge=0, help="number of iterations (generator steps)")
    record_every: int = param(10, ge=1, help="record metrics every this many iterations")
    plugins: list[str] = param([], help="extra plugin modules to import")


class _Stop:
    metric: str = param(help="a recorded metric: value, a distance, d_max_dev, d_mean_dev or mass_outside")
    below: float = param(help="stop (status 'converged') once the metric is below this")


class GridSection:
    """The [grid] table's parameters (also what gamesim.plugin checks a grid tuple with)."""

    lower: float = param(-8.0, help="left edge")
    upper: float = param(8.0, help="right edge")
    points: int = param(512, ge=2, help="number of cells N")

    def validate(self):
        if not self.upper > self.lower:
            raise ParameterError("upper", f"got {self.upper!r}, expected a number > lower "
                                          f"({self.lower!r})")


class _Game:
    mode: str = param("adversarial", choices=("adversarial", "direct"),
                      help="adversarial (GAN game) or direct (descend a distance)")
    objective: str = param(defaults.OBJECTIVE, help="objective plugin (adversarial mode)")
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
    consensus: float = param(0.0, ge=0, help="consensus optimization's gamma (Mescheder et al. "
                                             "2017): both players step along v - gamma J^T v; "
                                             "0: off")


class InstanceNoise:
    """``[game] instance_noise``: D sees p_data and p_g convolved with N(0, std^2)."""

    std: float = param(gt=0, help="the noise's standard deviation at the first iteration")
    final_std: float = param(None, ge=0, help="annealed linearly to this standard deviation at "
                                              "the last iteration (default: std, no annealing)")

    def std_at(self, iteration, iterations):
        """The standard deviation D sees at ``iteration`` of a run of ``iterations``."""
        if self.final_std is None or iterations == 0:
            return self.std
        t = min(max(iteration / iterations, 0.0), 1.0)
        return self.std + t * (self.final_std - self.std)


class _Analysis:
    stability: str = param(None, help="where to analyse the game's local stability: 'end', "
                                      "'start', 'snapshots', or a table {theta = [...], psi = "
                                      "[...]} of given parameters")


STABILITY_AT = ("end", "start", "snapshots")


SAMPLED_KEYS = ("batch", "data_batch", "noise_batch", "statistic", "jitter")


@dataclasses.dataclass(frozen=True)
class Sampling:
    """The settings of sampled training (``[game] estimator = "sampled"``)."""

    data_batch: int
    noise_batch: int
    unbiased: bool
    jitter: bool


class _Metrics:
    distances: list[str] = param(list(defaults.DISTANCES), help="distances recorded every row")


class _Output:
    plots: list[str] = param(DEFAULT_PLOTS, choices=PLOT_KINDS,
                             help="figures to draw, each where it applies to the run")
    format: str = param("png", choices=("png", "svg", "pdf"), help="file format of the figures")
    shared_y: bool = param(True, help="the densities panels share one density scale (false: "
                                      "each panel its own, for a run whose peaks change a lot)")


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
    snapshot_count: int | None = None  # [output] snapshots given as a count (None: a list)
    warnings: list = dataclasses.field(default_factory=list)  # found while loading
    overrides: list = dataclasses.field(default_factory=list)  # "key=value", as applied
    consensus: float = 0.0  # [game] consensus: gamma, 0 for plain gradient play
    instance_noise: InstanceNoise | None = None
    # [analysis] stability: None, one of STABILITY_AT, or {"theta": array, "psi": array|None}
    stability: object = None


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


def apply_overrides(data, overrides, path, applied=None):
    """Apply overrides: ``dotted.key=VALUE`` strings (``--set``; VALUE is parsed as TOML, else
    taken as a string) or ``(dotted.key, value)`` pairs (a sweep point). Each is appended to
    the list ``applied``, if given, as ``(key, "key=value")``: a string as given, a pair with
    its value in TOML."""
    for item in overrides:
        if isinstance(item, tuple):
            key, value = item
            given = f"{key}={toml_value(value)}"
        else:
            key, sep, text = item.partition("=")
            key, given = key.strip(), item
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
        if applied is not None:
            applied.append((key, given))
    return data


def toml_value(value):
    """``value`` written as a TOML value on one line (tables inline), as ``--set`` takes it."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) \
            + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, np.generic):
        value = value.item()
    try:
        return tomli_w.dumps({"v": value}).partition("=")[2].strip()
    except TypeError:  # not a TOML value (None, an object given in Python): as Python shows it
        return repr(value)


def _toml_key(key):
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else tomli_w.dumps({key: 0})[:-5]


SECTIONS = ("name", "description", "seed", "iterations", "record_every", "stop", "plugins",
            "grid", "target", "generator", "discriminator", "game", "metrics", "output", "sweep",
            "analysis")


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


class _Loading:
    """One scenario file being loaded: its table, the registry, what is resolved so far and
    the memory the scenario needs so far (checked against its share as each part is known)."""

    def __init__(self, path, data, memory_share, base, overridden):
        self.path, self.data, self.share, self.base = path, data, memory_share, base
        self.overridden = overridden  # the dotted keys --set (or a sweep point) gave
        self.resolved, self.registry, self.need, self.warnings = {}, None, 0, []

    def table(self, key, required=False):
        return _table(self.data, key, self.path, required)

    def fill(self, section, key, what, reserved=()):
        """Set a section object's parameters from the table ``key`` (its ``reserved`` keys left
        to the caller); its resolved table."""
        self.resolved[key] = fill(section, self.table(key), self.registry, self.path, key, what,
                                  reserved, base=self.base)
        return section

    def build(self, kind, spec, key, grid=None, reserved=()):
        """A plugin built from ``spec`` (set up on ``grid`` if given) and its resolved table."""
        self.check_kind_change(kind, spec, key, reserved)
        plugin, resolved = build(self.registry, kind, spec, self.path, key, reserved,
                                 self.base)
        if grid is not None:
            _setup(plugin, grid)
        return plugin, resolved

    def check_kind_change(self, kind, spec, key, reserved=()):
        """Refuse a plugin table whose ``kind`` an override changed while keys of the old kind
        stayed, saying how to replace the whole table (the usual unknown-key message would
        not tell why the key is there)."""
        if f"{key}.kind" not in self.overridden or not isinstance(spec, dict):
            return
        cls = self.registry.lookup(kind, spec["kind"], self.path, f"{key}.kind")
        names = [p.name for p in declared(cls)]
        left = [k for k in spec if k not in ("kind", *names, *reserved)]
        if not left:
            return
        form = ", ".join([f"kind={toml_value(cls.name)}"] + [
            f"{p.name}={'...' if p.required else toml_value(p.default)}"
            for p in declared(cls) if p.default is not None])
        raise self.error(f"{key}.{left[0]}",
                         f"unknown key for {kind} {cls.name!r} (the table's kind was changed "
                         f"by --set {key}.kind; its other keys stayed); to change a kind, "
                         f"replace the whole table: --set '{key}={{{form}}}'")

    def check_memory(self, more, key, what):
        """Add ``more`` bytes to what the scenario needs; refuse it if that exceeds its share."""
        self.need += more
        memory.check(self.need, self.path, key, what, self.share)

    def error(self, key, message):
        return GamesimError(located(self.path, key, message))


def load(path, overrides=(), extra_plugins=(), memory_share=1, data=None, base=None):
    """Read, override and validate a scenario file; return a :class:`Scenario`.

    ``memory_share``: how many runs share the machine's memory (a sweep's parallel points);
    a scenario that would need more than its share of the limit is refused. ``data``: the
    scenario's table given directly (``path`` is then only what messages name), its relative
    paths resolved against ``base`` (default: the current folder).
    """
    path = os.fspath(path)
    if data is None:
        data, base = read_toml(path), None
    else:
        base = base or os.getcwd()
    applied = []
    data = apply_overrides(data, overrides, path, applied)
    ld = _Loading(path, data, memory_share, base, {key for key, _ in applied})
    top = _top_level(ld, extra_plugins)
    grid = _grid(ld)
    fields = dict(path=path, name=ld.resolved["name"], description=top.description,
                  seed=top.seed, iterations=top.iterations, record_every=top.record_every,
                  grid=grid, resolved=ld.resolved, warnings=ld.warnings,
                  overrides=[given for _, given in applied], **_target(ld, grid))
    ld.check_kind_change("distance", ld.table("game").get("distance"), "game.distance")
    game = ld.fill(_Game(), "game", "[game]", reserved=("instance_noise",))
    fields.update(mode=game.mode, schedule=game.schedule, estimator=game.estimator,
                  **_generator(ld, grid))
    fields.update(_direct(ld, game, grid) if game.mode == "direct" else
                  _adversarial(ld, game, grid, fields["generator"]))
    fields["sampling"] = _sampling(ld, game, fields)
    fields.update(_game_methods(ld, game, fields))
    fields["distances"] = _distances(ld, grid)
    columns = metric_columns(fields["objective"], fields["distances"])
    fields["stop"] = _stop(ld, columns)
    fields.update(_output(ld, top, len(columns) + 2, grid.points, fields))
    fields["stability"] = _stability(ld, fields)
    return checks.check_scenario(Scenario(**fields))  # plugins' shapes, once, naming a faulty one


def _top_level(ld, extra_plugins):
    """The top-level keys checked and filled, the run's name, and the plugin modules loaded."""
    for key in ld.data:
        if key not in SECTIONS:
            raise ld.error(key, f"unknown key{did_you_mean(key, SECTIONS)}; allowed: "
                                f"{', '.join(SECTIONS)}")
    top = _Top()
    ld.resolved.update(fill(top, {k: ld.data[k] for k in _Top.__dict__ if k in ld.data}, None,
                            ld.path, "", "a scenario"))
    ld.resolved["name"] = run_name(ld.data, ld.path)
    plugin_manager.load_modules(extra_plugins, ld.path)  # -p: also beside the scenario file
    plugin_manager.load_modules(top.plugins, ld.path, "plugins")
    ld.registry = plugin_manager.registry()
    return top


def _grid(ld):
    section = ld.fill(GridSection(), "grid", "[grid]")
    # before any array is built: a grid too large for memory is bad input, not a MemoryError
    ld.check_memory(memory.grid_bytes(section.points), "grid.points",
                    f"{section.points} cells")
    return Grid(section.lower, section.upper, section.points)


def _target(ld, grid):
    target, ld.resolved["target"] = ld.build("target", ld.table("target", True), "target", grid)
    p_data, target_outside = target.masses(grid)
    if not p_data.sum() > 0:
        raise ld.error("target", f"has no mass on the grid [{grid.lower}, {grid.upper}]: all "
                                 f"of it lies outside; widen [grid] or move the target onto it")
    return dict(target=target, p_data=p_data, target_outside=target_outside)


def _generator(ld, grid):
    """The generator and its optimizer (its class's default_optimizer unless the table names
    one); a mass-logit step needs mass logits."""
    generator, resolved = ld.build("generator", ld.table("generator", True), "generator", grid,
                                   reserved=("optimizer",))
    ld.resolved["generator"] = resolved
    default = protocols.capability(generator, "default_optimizer") or defaults.OPTIMIZER
    optimizer, resolved["optimizer"] = ld.build(
        "optimizer", _with_default_kind(resolved.get("optimizer"), default),
        "generator.optimizer")
    if protocols.has(optimizer, "requires_logit_params") and \
            not protocols.has(generator, "logit_params"):
        raise ld.error("generator.optimizer.kind",
                       f"{optimizer.name!r} steps mass logits and needs a generator whose "
                       f"parameters are mass logits (such as 'density'); generator "
                       f"{generator.name!r} is not")
    return dict(generator=generator, generator_optimizer=optimizer)


_NO_DISCRIMINATOR = dict(discriminator=None, discriminator_optimizer=None, objective=None,
                         regularizer=None, steps=1)


def _direct(ld, game, grid):
    """Direct mode: the generator descends ``[game] distance``; no discriminator plays."""
    if "discriminator" in ld.data:
        raise ld.error("discriminator", "not allowed in direct mode: the generator descends "
                                        "[game] distance itself and no discriminator plays; "
                                        "remove the table or set game.mode = 'adversarial'")
    if game.distance is None:
        raise ld.error("game.distance", "missing; direct mode needs a distance table, e.g. "
                                        "distance = { kind = 'w1' }; available: "
                                        + ", ".join(ld.registry.names("distance")))
    for key in ("objective", "schedule"):
        if key in ld.table("game"):
            raise ld.error(f"game.{key}", "not used in direct mode: the generator descends "
                                          "game.distance and no discriminator plays")
    _setup(game.distance, grid)
    del ld.resolved["game"]["objective"], ld.resolved["game"]["schedule"]
    return dict(_NO_DISCRIMINATOR, distance=game.distance)


def _adversarial(ld, game, grid, generator):
    """The adversarial game: the objective, the discriminator and, for a parametrized one,
    how it trains."""
    if game.distance is not None:
        raise ld.error("game.distance", "only used in direct mode (game.mode = 'direct'); the "
                                        "adversarial game's loss is game.objective")
    objective_cls = ld.registry.lookup("objective", game.objective, ld.path, "game.objective")
    objective, _ = ld.build("objective", {"kind": objective_cls.name}, "game.objective", grid)
    spec = ld.table("discriminator") or defaults.DISCRIMINATOR
    discriminator, ld.resolved["discriminator"] = ld.build(
        "discriminator", spec, "discriminator", reserved=("optimizer", "steps", "regularizer"))
    # the players' per-cell arrays, checked before the discriminator's set-up builds its
    # features
    points = grid.points
    ld.check_memory(sum(memory.player_bytes(p, points) for p in (generator, discriminator)),
                    "discriminator", f"{points} cells with generator {generator.name!r} and "
                                     f"discriminator {discriminator.name!r}")
    _setup(discriminator, grid)
    players = dict(objective=objective, discriminator=discriminator, distance=None)
    if protocols.has(discriminator, "oracle"):
        for key in ("optimizer", "steps", "regularizer"):
            if key in spec:
                raise ld.error(f"discriminator.{key}",
                               "the oracle discriminator has no parameters: it plays the exact "
                               "best response every iteration")
        return dict(players, discriminator_optimizer=None, regularizer=None, steps=1)
    return dict(players, **_discriminator_training(ld, game, grid, spec, discriminator))


def _discriminator_training(ld, game, grid, spec, discriminator):
    """A parametrized discriminator's steps per generator step, optimizer and regularizer."""
    resolved = ld.resolved["discriminator"]
    steps = spec.get("steps", 1)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ld.error("discriminator.steps", f"got {steps!r}, expected an integer >= 1")
    if steps > 1 and game.schedule == "simultaneous":
        raise ld.error("discriminator.steps", "several discriminator steps per generator step "
                                              "need game.schedule = 'alternating'")
    resolved["steps"] = steps
    optimizer, resolved["optimizer"] = ld.build(
        "optimizer", _with_default_kind(spec.get("optimizer"), defaults.OPTIMIZER),
        "discriminator.optimizer")
    if protocols.has(optimizer, "requires_logit_params"):
        raise ld.error("discriminator.optimizer.kind", f"{optimizer.name!r} needs mass logits; "
                                                       "a discriminator's parameters are not")
    regularizer = None
    if "regularizer" in spec:
        regularizer, resolved["regularizer"] = ld.build(
            "regularizer", spec["regularizer"], "discriminator.regularizer", grid)
        if protocols.has(regularizer, "needs_dudx") and \
                not protocols.has(discriminator, "dudx"):
            raise ld.error("discriminator.regularizer.kind",
                           f"{regularizer.name!r} penalizes du/dx, which discriminator "
                           f"{discriminator.name!r} does not provide")
    return dict(discriminator_optimizer=optimizer, regularizer=regularizer, steps=steps)


def _sampling(ld, game, players):
    """The :class:`Sampling` settings, every player checked to train from samples (None in
    exact mode, where the sampled-only keys are errors and left out of the resolved
    scenario)."""
    table, resolved = ld.table("game"), ld.resolved["game"]
    direct = game.mode == "direct"
    if game.estimator == "exact":
        for key in SAMPLED_KEYS:
            if key in table:
                raise ld.error(f"game.{key}", "only used with game.estimator = 'sampled'")
            resolved.pop(key, None)
        return None
    if not direct and "statistic" in table:
        raise ld.error("game.statistic", "only used in direct mode: it selects the sample "
                                         "MMD^2 or energy distance estimator")
    if not direct:
        resolved.pop("statistic")
    _check_sampled_players(ld, direct, players)
    sizes = {"data_batch": game.data_batch or game.batch,
             "noise_batch": game.noise_batch or game.batch}
    for key, size in sizes.items():
        if direct and size < 2:
            raise ld.error(f"game.{key}" if key in table else "game.batch",
                           f"got {size}, expected at least 2: a sample distance needs two "
                           "points on each side")
        resolved[key] = size
    return Sampling(sizes["data_batch"], sizes["noise_batch"], game.statistic == "unbiased",
                    game.jitter)


def _game_methods(ld, game, players):
    """Consensus optimization and instance noise, each refused where it has no meaning."""
    table, resolved = ld.table("game"), ld.resolved["game"]
    needs = {"consensus": game.consensus > 0, "instance_noise": "instance_noise" in table}
    for key in (k for k, on in needs.items() if on):
        if game.mode == "direct":
            raise ld.error(f"game.{key}", "only used in the adversarial game (game.mode = "
                                          "'adversarial'): direct mode has no discriminator")
        if game.estimator != "exact":
            raise ld.error(f"game.{key}", "only used with game.estimator = 'exact': it is "
                                          "computed from the grid densities")
    if needs["consensus"] and protocols.has(players["generator_optimizer"],
                                            "requires_logit_params"):
        raise ld.error("game.consensus", f"consensus steps along the players' parameter "
                                         f"gradients; generator optimizer "
                                         f"{players['generator_optimizer'].name!r} steps mass "
                                         f"logits by dL/dp instead: use 'sgd' or another "
                                         f"gradient optimizer")
    noise = None
    if needs["instance_noise"]:
        spec = table["instance_noise"]
        if not isinstance(spec, dict):
            raise ld.error("game.instance_noise", f"got {spec!r}, expected a table such as "
                                                  f"{{ std = 0.5 }} or {{ std = 0.5, "
                                                  f"final_std = 0.0 }}")
        noise = InstanceNoise()
        resolved["instance_noise"] = fill(noise, spec, None, ld.path, "game.instance_noise",
                                          "[game] instance_noise")
    return dict(consensus=game.consensus, instance_noise=noise)


def _stability(ld, fields):
    """``[analysis] stability``: None, one of STABILITY_AT, or given parameters as arrays of
    the players' sizes."""
    table = ld.table("analysis")
    ld.resolved["analysis"] = fill(_Analysis(), {k: v for k, v in table.items()
                                                 if k != "stability"},
                                   None, ld.path, "analysis", "[analysis]")
    if "stability" not in table:
        return None
    spec = table["stability"]
    if fields["mode"] == "direct":
        raise ld.error("analysis.stability", "only for the adversarial game: direct mode has "
                                             "no discriminator to analyse against")
    ld.resolved["analysis"]["stability"] = spec
    if isinstance(spec, str):
        if spec not in STABILITY_AT:
            raise ld.error("analysis.stability", f"got {spec!r}{did_you_mean(spec, STABILITY_AT)}"
                                                 f", expected one of "
                                                 f"{', '.join(map(repr, STABILITY_AT))} or a "
                                                 f"table {{ theta = [...], psi = [...] }}")
        return spec
    if not isinstance(spec, dict):
        raise ld.error("analysis.stability", f"got {spec!r:.60}, expected one of "
                                             f"{', '.join(map(repr, STABILITY_AT))} or a table "
                                             f"{{ theta = [...], psi = [...] }}")
    rng = np.random.default_rng(0)
    sizes = {"theta": np.asarray(fields["generator"].init_params(rng)).size}
    disc = fields["discriminator"]
    if disc is not None and not protocols.has(disc, "oracle"):
        sizes["psi"] = np.asarray(disc.init_params(rng)).size
    at = {"psi": None}
    for key in spec:
        if key not in sizes:
            raise ld.error(f"analysis.stability.{key}",
                           f"unknown key; allowed: {', '.join(sizes)}"
                           + ("" if "psi" in sizes else " (the oracle has no parameters)"))
    for key, size in sizes.items():
        value = spec.get(key)
        numbers = value if isinstance(value, list) else None
        if numbers is None or len(numbers) != size or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                for v in numbers):
            raise ld.error(f"analysis.stability.{key}",
                           f"{'missing' if value is None else f'got {value!r:.60}'}; expected "
                           f"a list of {size} finite numbers (the "
                           f"{'generator' if key == 'theta' else 'discriminator'}'s parameters)")
        at[key] = np.array(numbers, dtype=np.float64)
    return at


def _check_sampled_players(ld, direct, players):
    """Refuse a player that cannot be trained from samples, naming what it lacks."""
    generator, discriminator = players["generator"], players["discriminator"]
    objective, regularizer = players["objective"], players["regularizer"]
    if protocols.has(generator, "logit_params"):
        raise ld.error("generator.kind", f"{generator.name!r} is exact-only: its parameters are "
                                         "the grid's cell masses, with no noise to push "
                                         "through it, so sampled mode has nothing to sample; "
                                         "use a transform generator (location_scale, quantile, "
                                         "mlp, point) or game.estimator = 'exact'")
    _require(ld, "generator.kind", "generator", generator, ("sample", "sample_vjp"))
    if direct:
        _require(ld, "game.distance.kind", "distance", players["distance"],
                 ("sample_value_grad",))
        return
    if protocols.has(discriminator, "oracle"):
        raise ld.error("discriminator.kind", "'oracle' is exact-only: its best response needs "
                                             "the exact densities p_d and p_g on the grid, "
                                             "which a minibatch does not give; use a "
                                             "parametrized discriminator (logistic, mlp) or "
                                             "game.estimator = 'exact'")
    _require(ld, "discriminator.kind", "discriminator", discriminator,
             ("forward_at", "vjp_at", "dudx_at"))
    _require(ld, "game.objective", "objective", objective,
             ("discriminator_terms", "generator_terms"))
    if regularizer is not None and protocols.has(regularizer, "penalty"):
        raise ld.error("discriminator.regularizer.kind",
                       f"{regularizer.name!r} has no sampled form yet (its penalty is computed "
                       "on the grid); sampled mode takes 'clip' or no regularizer")


def _require(ld, key, kind, plugin, methods):
    """A sampled scenario needs these methods of the plugin: an error naming what it lacks."""
    missing = [m for m in methods if not protocols.has(plugin, m)]
    if missing:
        raise ld.error(key, f"{kind} {plugin.name!r} cannot be used with game.estimator = "
                            f"'sampled': it lacks {', '.join(missing)} (see README, Sampled "
                            f"training)")


def _distances(ld, grid):
    """The recorded distances by name, each set up on the grid."""
    metrics = ld.fill(_Metrics(), "metrics", "[metrics]")
    return {name: ld.build("distance", name, f"metrics.distances[{i}]", grid)[0]
            for i, name in enumerate(metrics.distances)}


def _stop(ld, columns):
    """``(metric, below)`` from the optional [stop] table, the metric one of ``columns``;
    ``stop = false`` (as ``--set stop=false`` removes a file's table) means no stop rule."""
    if ld.data.get("stop", False) is False:
        return None
    if not isinstance(ld.data["stop"], dict):
        raise ld.error("stop", f"got {ld.data['stop']!r}, expected a table (metric, below) or "
                               f"false for no stop rule")
    section = ld.fill(_Stop(), "stop", "[stop]")
    if section.metric not in columns:
        raise ld.error("stop.metric", f"got {section.metric!r}"
                                      f"{did_you_mean(section.metric, columns)}, expected a "
                                      f"recorded metric: {', '.join(columns)} (add distances "
                                      f"to [metrics] distances to stop on them)")
    return section.metric, section.below


def _output(ld, top, columns, points, players):
    """The [output] table: plots, their format and the snapshot iterations, once the
    snapshots and the recorded rows are known to fit in memory."""
    table = dict(ld.table("output"))
    snapshots = table.pop("snapshots", 4)
    output = _Output()
    ld.resolved["output"] = fill(output, table, ld.registry, ld.path, "output", "[output]")
    ld.resolved["output"]["snapshots"] = snapshots
    if players["discriminator"] is None:
        ld.need += memory.player_bytes(players["generator"], points)
    _check_output_memory(ld, snapshots, top, columns, points)
    count = snapshots if isinstance(snapshots, int) and not isinstance(snapshots, bool) \
        else None
    iterations = _snapshot_iterations(snapshots, top.iterations, ld.path)
    if count is None:
        past = [t for t in iterations if t > top.iterations]
        if past:
            # a shortened run (--set iterations=10) keeps the snapshots it reaches
            ld.warnings.append(f"output.snapshots: {', '.join(map(str, past))} "
                               f"{'is' if len(past) == 1 else 'are'} past iterations = "
                               f"{top.iterations}: left out")
            iterations = [t for t in iterations if t <= top.iterations] or [0, top.iterations]
        ld.resolved["output"]["snapshots"] = iterations  # the run's scenario.toml runs as is
    return dict(plots=output.plots, plot_format=output.format, snapshot_count=count,
                snapshots=iterations)


def _with_default_kind(spec, default):
    """An optimizer table: the default if absent; one without 'kind' (such as a swept or --set
    learning rate) keeps the default's kind."""
    if spec is None:
        return default
    if isinstance(spec, dict) and "kind" not in spec:
        return {"kind": default["kind"], **spec}
    return spec


def _setup(plugin, grid):
    if protocols.has(plugin, "setup"):
        plugin.setup(grid)


def _check_output_memory(ld, snapshots_spec, top, columns, points):
    """Refuse snapshots or recorded rows that would not fit in memory beside what the
    scenario needs so far, before the snapshot iterations are listed. ``columns``: the
    metrics' columns, without the players' parameters."""
    asked = len(snapshots_spec) if isinstance(snapshots_spec, list) else snapshots_spec
    if not isinstance(asked, int):
        asked = 1  # not a count nor a list: _snapshot_iterations refuses it next
    held = max(asked, 1)
    if not isinstance(snapshots_spec, list):
        # a count is held at most three times over, with the last state, while a run that may
        # stop early thins its snapshots (gamesim/recorder.py)
        held = 3 * held + 2
    held = min(held, top.iterations + 1)
    ld.check_memory(memory.snapshot_bytes(held, points), "output.snapshots",
                    f"{asked} snapshots of {points} cells")
    rows = top.iterations // top.record_every + 2
    ld.check_memory(memory.rows_bytes(rows, columns + PARAMETER_COLUMNS), "record_every",
                    f"{rows} recorded rows (iterations {top.iterations} / record_every "
                    f"{top.record_every})")


def _snapshot_iterations(spec, iterations, path):
    """``snapshots``: a count of evenly spaced iterations, or a list of iterations >= 0
    (sorted, each once; those past ``iterations`` are the caller's to leave out)."""
    if isinstance(spec, int) and not isinstance(spec, bool) and spec >= 1:
        # more than iterations + 1 evenly spaced iterations round to every iteration
        return sorted({int(round(t)) for t in np.linspace(0, iterations,
                                                           min(spec, iterations + 1))})
    if isinstance(spec, list) and spec and all(
            isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in spec):
        return sorted(set(spec))
    raise GamesimError(located(path, "output.snapshots",
                               f"got {spec!r}, expected a count >= 1 or a list of iterations "
                               f">= 0 (those past iterations = {iterations} are left out)"))
