"""Plugin manager: built-ins, the ``gamesim`` entry-point group and modules named at run time.

Built-in plugins register through the same hooks as third-party ones. Loading happens once per
process; the registry it fills is what the engine consults while a run is set up, never inside
the iteration loop.

A broken plugin is contained: an entry point that fails to import, a register hook that
raises, or a registered class that is not a valid plugin of its kind is recorded with the
plugin's origin (see :func:`broken`, listed by ``gamesim plugins``), and scenarios that do not
use it still run. Two plugins registering one name stay an error: results must be unambiguous.

Environment: ``GAMESIM_LOAD_PLUGINS`` (comma list of the distributions whose entry points are
loaded; empty: none) and ``GAMESIM_TRACE_PLUGINS`` (print each plugin load and hook call on
stderr).
"""

import importlib
import importlib.metadata
import os
import re
import sys

import pluggy

from . import hookspecs
from .errors import GamesimError, PluginError, did_you_mean, located
from .params import declared

KINDS = ("targets", "generators", "discriminators", "objectives", "distances", "optimizers",
         "regularizers")
DEFAULT_PLUGINS = (
    "gamesim_plugins.targets",
    "gamesim_plugins.data",
    "gamesim_plugins.generators",
    "gamesim_plugins.discriminators",
    "gamesim_plugins.objectives",
    "gamesim_plugins.distances",
    "gamesim_plugins.cdf_distances",
    "gamesim_plugins.kernel_distances",
    "gamesim_plugins.optimizers",
    "gamesim_plugins.transforms",
    "gamesim_plugins.regularizers",
)
SINGULAR = {k: k[:-1] for k in KINDS}

# What a class must define to be a plugin of each kind (docs/plugins.md, "Protocols"): every
# name in a tuple, and for a set, at least one of its names.
PROTOCOLS = {
    "target": ("masses",),
    "generator": ("init_params", "forward", "vjp"),
    "discriminator": ("init_params", "forward", "vjp"),
    "objective": ("output", "oracle", "value", "discriminator_grad", "generator_grad"),
    "distance": ("value", "grad"),
    "optimizer": ("init_state", "step"),
    "regularizer": {"penalty", "project"},
}


class DuplicateError(PluginError):
    """Two plugins registered the same name for one kind: results would be ambiguous."""


def protocol_problem(kind, cls):
    """Why ``cls`` is not a valid ``kind`` plugin (a sentence), or None if it is one."""
    if not isinstance(cls, type):
        return f"registered {cls!r}, which is not a class (register the class, not an instance)"
    if kind == "discriminator" and getattr(cls, "oracle", False):
        return None
    needed = PROTOCOLS[kind]
    if isinstance(needed, set):
        if not any(hasattr(cls, n) for n in needed):
            return f"defines none of {', '.join(sorted(needed))}: a {kind} needs one of them"
        return None
    missing = [n for n in needed if not hasattr(cls, n)]
    if missing:
        extra = " (or oracle = True)" if kind == "discriminator" else ""
        return f"lacks {', '.join(missing)}: a {kind} defines {', '.join(needed)}{extra}"
    return None


class Registry:
    """Plugin classes by kind and name, with the plugin (module or distribution) that gave each."""

    def __init__(self):
        self.classes = {singular: {} for singular in SINGULAR.values()}
        self.origins = {singular: {} for singular in SINGULAR.values()}
        self.broken = []  # (origin, error) of plugins whose registrations were refused

    def add(self, kind, cls, origin):
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {origin!r} registered a {kind} without a string 'name' "
                              f"attribute: {cls!r}")
        if name in self.classes[kind]:
            raise DuplicateError(f"{kind} {name!r} is registered twice: by plugin "
                                 f"{self.origins[kind][name]!r} and by plugin {origin!r}")
        try:
            declared(cls)
        except TypeError as err:
            raise PluginError(f"plugin {origin!r}, {kind} {name!r}: {err}") from None
        self.classes[kind][name] = cls
        self.origins[kind][name] = origin

    def names(self, kind):
        return sorted(self.classes[kind])

    def lookup(self, kind, name, where="", key=""):
        try:
            return self.classes[kind][name]
        except (KeyError, TypeError):
            known = self.names(kind)
            note = "".join(f"; note: plugin {origin!r} is broken: {error}"
                           for origin, error in self.broken)
            raise GamesimError(located(where, key, f"unknown {kind} {name!r}"
                                       f"{did_you_mean(name, known)}; available: "
                                       f"{', '.join(known) or 'none'}{note}")) from None


_manager = None
_registry = None
_origins = {}       # plugin object -> the name users know it by
_load_failures = []  # (origin, error) of entry points that failed to load


def _trace(message):
    if os.environ.get("GAMESIM_TRACE_PLUGINS"):
        print(f"gamesim: {message}", file=sys.stderr)


def manager():
    """The process-wide plugin manager, with built-ins and entry points loaded once.

    GAMESIM_LOAD_PLUGINS, if set, is a comma list of the distributions whose entry points are
    loaded (empty: none, only the built-ins). An entry point that fails to import is recorded
    (see :func:`broken`) instead of stopping every run.
    """
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager("gamesim")
        pm.add_hookspecs(hookspecs)
        for name in DEFAULT_PLUGINS:
            module = importlib.import_module(name)
            pm.register(module, name=name)
            _origins[module] = f"gamesim ({name})"
        _load_entry_points(pm)
        _manager = pm
    return _manager


def _normalized(name):
    """A distribution name as PEP 503 compares them: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _load_entry_points(pm):
    wanted = os.environ.get("GAMESIM_LOAD_PLUGINS")
    if wanted is not None:
        wanted = {_normalized(n.strip()) for n in wanted.split(",") if n.strip()}
    for ep in importlib.metadata.entry_points(group="gamesim"):
        origin = ep.dist.name if getattr(ep, "dist", None) is not None else ep.value
        if wanted is not None and _normalized(origin) not in wanted:
            _trace(f"skipping entry point {ep.name} = {ep.value} from {origin} "
                   f"(not in GAMESIM_LOAD_PLUGINS)")
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        _trace(f"loading entry point {ep.name} = {ep.value} from {origin}")
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as err:  # a broken plugin must not stop scenarios that do not use it
            _load_failures.append((origin, f"cannot load entry point {ep.name} = {ep.value}: "
                                           f"{type(err).__name__}: {err}"))
            continue
        _origins[plugin] = origin


def broken():
    """(origin, error) for each plugin that failed to load or registered something invalid."""
    return list(registry().broken)


def load_modules(names, where="", key="-p"):
    """Import and register plugin modules named by ``-p`` or (``key="plugins"``) a scenario.

    A module asked for by name that cannot be imported or registered is an error naming it.
    """
    global _registry
    pm = manager()
    for name in names:
        if pm.get_plugin(name) is not None:
            continue
        _trace(f"loading plugin module {name}")
        try:
            module = importlib.import_module(name)
            if pm.is_registered(module):  # already loaded, e.g. as an installed entry point
                continue
            pm.register(module, name=name)
        except Exception as err:
            detail = str(err) if isinstance(err, ImportError) else f"{type(err).__name__}: {err}"
            raise GamesimError(located(where if key != "-p" else "", key,
                                       f"cannot import plugin module {name!r}: "
                                       f"{detail}")) from err
        _origins[module] = name
        _registry = None


def origin_of(plugin):
    """The name users know a registered plugin object (module) by."""
    return _origins.get(plugin, getattr(plugin, "__name__", repr(plugin)))


def registry():
    """The registry filled by every loaded plugin's register hooks (built once, then cached).

    Each implementation is called on its own so that every registered class is known with
    the plugin that registered it, and a failing one is recorded rather than fatal.
    """
    global _registry
    if _registry is None:
        pm = manager()
        reg = Registry()
        reg.broken.extend(_load_failures)
        for kind in KINDS:
            hook = getattr(pm.hook, f"gamesim_register_{kind}")
            for impl in hook.get_hookimpls():
                origin = _origins.get(impl.plugin, impl.plugin_name)
                _trace(f"{hook.name}(register) from {origin}")

                def register(cls, _kind=SINGULAR[kind], _origin=origin):
                    name = getattr(cls, "name", None)
                    if isinstance(name, str) and name in reg.classes[_kind]:
                        reg.add(_kind, cls, _origin)  # a DuplicateError naming both plugins
                    problem = protocol_problem(_kind, cls)
                    if problem is not None:
                        what = f"{_kind} {name!r}" if isinstance(name, str) else f"a {_kind}"
                        reg.broken.append((_origin, f"{what}: {problem}"))
                        return
                    try:
                        reg.add(_kind, cls, _origin)
                    except DuplicateError:
                        raise
                    except PluginError as err:
                        reg.broken.append((_origin, str(err)))
                    else:
                        _trace(f"  registered {_kind} {cls.name!r}")

                try:
                    impl.function(register=register)
                except DuplicateError:
                    raise
                except Exception as err:
                    reg.broken.append((origin, f"{hook.name} failed: {type(err).__name__}: {err}"))
        _registry = reg
    return _registry


OBSERVER_HOOKS = ("gamesim_run_start", "gamesim_record", "gamesim_run_end")


def _observer(hook_name, impl, origin):
    """A plain function calling one observer implementation with the arguments it declares;
    an exception it raises becomes a PluginError naming the plugin and the hook."""
    function, argnames = impl.function, impl.argnames

    def call(scenario=None, state=None, result=None, directory=None):
        given = {"scenario": scenario, "state": state, "result": result, "directory": directory}
        try:
            value = function(**{name: given[name] for name in argnames})
        except GamesimError:
            raise
        except Exception as err:
            raise PluginError(f"plugin {origin!r}: {hook_name} failed: "
                              f"{type(err).__name__}: {err}") from err
        if hook_name == "gamesim_record" and value is not None and not (
                isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            raise PluginError(f"plugin {origin!r}: gamesim_record returned {value!r}, expected "
                              f"None or a dict of metric name -> number")
        return value

    call.plugin = origin
    return call


def observers():
    """The observer hooks' implementations as plain functions, collected once at set-up so the
    iteration loop calls them without consulting pluggy (in registration order). Each accepts
    the hook's arguments by keyword and names its plugin when it fails."""
    pm = manager()
    found = {}
    for name in OBSERVER_HOOKS:
        impls = reversed(getattr(pm.hook, name).get_hookimpls())
        found[name] = [_observer(name, impl, _origins.get(impl.plugin, impl.plugin_name))
                       for impl in impls]
        for impl in found[name]:
            _trace(f"{name} observer from {impl.plugin}")
    return found
