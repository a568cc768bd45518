"""Plugin manager: built-ins, the ``gamesim`` entry-point group and modules named at run time.

Built-in plugins register through the same hooks as third-party ones. Loading happens once per
process; the registry it fills is what the engine consults while a run is set up, never inside
the iteration loop.
"""

import importlib
import importlib.metadata
import os
import sys

import pluggy

from . import hookspecs
from .errors import GamesimError, PluginError, did_you_mean, located
from .params import declared

KINDS = ("targets", "generators", "discriminators", "objectives", "distances", "optimizers",
         "regularizers")
DEFAULT_PLUGINS = (
    "gamesim_plugins.targets",
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


class DuplicateError(PluginError):
    """Two plugins registered the same name for one kind: results would be ambiguous."""


class Registry:
    """Plugin classes by kind and name, with the plugin (module or distribution) that gave each."""

    def __init__(self):
        self.classes = {singular: {} for singular in SINGULAR.values()}
        self.origins = {singular: {} for singular in SINGULAR.values()}

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
            raise GamesimError(located(where, key, f"unknown {kind} {name!r}"
                                       f"{did_you_mean(name, known)}; available: "
                                       f"{', '.join(known) or 'none'}")) from None


_manager = None
_registry = None
_origins = {}  # plugin object -> the name users know it by
_broken = []   # (origin, error) of plugins that failed to load or register


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


def _load_entry_points(pm):
    wanted = os.environ.get("GAMESIM_LOAD_PLUGINS")
    wanted = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
    trace = bool(os.environ.get("GAMESIM_TRACE_PLUGINS"))
    for ep in importlib.metadata.entry_points(group="gamesim"):
        origin = ep.dist.name if ep.dist is not None else ep.value
        if wanted is not None and origin not in wanted or pm.get_plugin(ep.name) is not None:
            continue
        if trace:
            print(f"gamesim: loading entry point {ep.name} = {ep.value} from {origin}",
                  file=sys.stderr)
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as err:  # a broken plugin must not stop scenarios that do not use it
            _broken.append((origin, f"cannot load entry point {ep.value!r}: "
                                    f"{type(err).__name__}: {err}"))
            continue
        _origins[plugin] = origin


def broken():
    """(origin, error) for each plugin that failed to load or registered something invalid."""
    registry()
    return list(_broken)


def load_modules(names, where="", key="-p"):
    """Import and register plugin modules named by ``-p`` or (``key="plugins"``) a scenario."""
    global _registry
    pm = manager()
    for name in names:
        if pm.get_plugin(name) is not None:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as err:
            raise GamesimError(located(where if key != "-p" else "", key,
                                       f"cannot import plugin module {name!r}: {err}")) from None
        pm.register(module, name=name)
        _origins[module] = name
        _registry = None


def registry():
    """The registry filled by every loaded plugin's register hooks (built once, then cached).

    Each implementation is called on its own so that every registered class is known with
    the plugin that registered it.
    """
    global _registry
    if _registry is None:
        pm = manager()
        trace = bool(os.environ.get("GAMESIM_TRACE_PLUGINS"))
        reg = Registry()
        _broken[:] = [b for b in _broken if b[1].startswith("cannot load")]
        for kind in KINDS:
            hook = getattr(pm.hook, f"gamesim_register_{kind}")
            for impl in hook.get_hookimpls():
                origin = _origins.get(impl.plugin, impl.plugin_name)
                if trace:
                    print(f"gamesim: {hook.name} from {origin}", file=sys.stderr)

                def register(cls, _kind=SINGULAR[kind], _origin=origin):
                    try:
                        reg.add(_kind, cls, _origin)
                    except DuplicateError:
                        raise
                    except PluginError as err:
                        _broken.append((_origin, str(err)))

                try:
                    impl.function(register=register)
                except DuplicateError:
                    raise
                except Exception as err:
                    _broken.append((origin, f"{hook.name} failed: {type(err).__name__}: {err}"))
        _registry = reg
    return _registry


OBSERVER_HOOKS = ("gamesim_run_start", "gamesim_record", "gamesim_run_end")


def observers():
    """The observer hooks' implementations as plain functions, collected once at set-up so the
    iteration loop calls them without consulting pluggy."""
    pm = manager()
    return {name: [impl.function for impl in reversed(getattr(pm.hook, name).get_hookimpls())]
            for name in OBSERVER_HOOKS}
