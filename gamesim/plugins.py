"""Plugin manager: built-ins, the ``gamesim`` entry-point group and modules named at run time.

Built-in plugins register through the same hooks as third-party ones. Loading happens once per
process; the registry it fills is what the engine consults while a run is set up, never inside
the iteration loop.
"""

import importlib
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
    "gamesim_plugins.optimizers",
)
SINGULAR = {k: k[:-1] for k in KINDS}


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
            raise PluginError(f"{kind} {name!r} is registered twice: by plugin "
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


def manager():
    """The process-wide plugin manager, with built-ins and entry points loaded once."""
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager("gamesim")
        pm.add_hookspecs(hookspecs)
        for name in DEFAULT_PLUGINS:
            pm.register(importlib.import_module(name), name=name)
        pm.load_setuptools_entrypoints("gamesim")
        _manager = pm
    return _manager


def load_modules(names, where=""):
    """Import and register plugin modules named by a scenario's ``plugins`` list or ``-p``."""
    global _registry
    pm = manager()
    for name in names:
        if pm.get_plugin(name) is not None:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as err:
            raise GamesimError(located(where, "plugins", f"cannot import plugin module {name!r}: "
                                                         f"{err}")) from None
        pm.register(module, name=name)
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
        for kind in KINDS:
            hook = getattr(pm.hook, f"gamesim_register_{kind}")
            for impl in hook.get_hookimpls():
                origin = _origin(pm, impl.plugin)
                if trace:
                    print(f"gamesim: {hook.name} from {origin}", file=sys.stderr)
                impl.function(register=lambda cls, _k=SINGULAR[kind], _o=origin: reg.add(_k, cls, _o))
        _registry = reg
    return _registry


def _origin(pm, plugin):
    """The name users know a plugin by: its distribution for entry points, 'gamesim' for the
    built-ins, else its module."""
    for plugin_obj, dist in pm.list_plugin_distinfo():
        if plugin_obj is plugin:
            return dist.project_name if hasattr(dist, "project_name") else dist.metadata["name"]
    name = pm.get_name(plugin)
    return f"gamesim ({name})" if name in DEFAULT_PLUGINS else name
