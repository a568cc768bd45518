"""Plugin manager: built-ins, the ``gamesim`` entry-point group and modules named at run time.

Built-in plugins register through the same hooks as third-party ones. Loading happens once per
process; the registry it fills is what the engine consults while a run is set up, never inside
the iteration loop.

A broken plugin is contained: an entry point that fails to import (an exception or
``sys.exit`` at import), a register hook that raises, or a registered class that is not a valid
plugin of its kind is recorded with the plugin's origin (see :func:`broken`, listed by
``gamesim plugins``), and scenarios that do not use it still run. A name that two plugins
register for one kind is recorded the same way, naming both, and is usable by neither: a
scenario that uses it is an error, since its results would be ambiguous.

Modules named by ``-p`` or a scenario's ``plugins`` list are looked up by :func:`load_modules`:
one already imported, else in the scenario file's folder and the current directory (without
putting those folders on ``sys.path``), else among the installed modules.

Environment: ``GAMESIM_LOAD_PLUGINS`` (comma list of the distributions whose entry points are
loaded; empty: none) and ``GAMESIM_TRACE_PLUGINS`` (print each plugin load and hook call on
stderr).
"""

import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys

import pluggy

from . import hookspecs, protocols
from .errors import GamesimError, PluginError, PluginRunError, did_you_mean, located
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

# What a class must define to be a plugin of each kind (gamesim/protocols.py): every name in a
# tuple, and for a set, at least one of its names.
PROTOCOLS = {kind: set(p.one_of) if p.one_of else protocols.required_names(kind)
             for kind, p in protocols.PROTOCOLS.items()}


# What a plugin's failure at import or in a hook may raise; KeyboardInterrupt passes through.
FAILURES = (Exception, SystemExit)


def failure(err):
    """A plugin's exception as a phrase for an error message."""
    if isinstance(err, SystemExit):
        return f"it called sys.exit({err.code!r})"
    return f"{type(err).__name__}: {err}"


def protocol_problem(kind, cls):
    """Why ``cls`` is not a valid ``kind`` plugin (a sentence), or None if it is one."""
    if not isinstance(cls, type):
        return f"registered {cls!r}, which is not a class (register the class, not an instance)"
    return protocols.problem(kind, cls)


class Registry:
    """Plugin classes by kind and name, with the plugin (module or distribution) that gave each."""

    def __init__(self):
        self.classes = {singular: {} for singular in SINGULAR.values()}
        self.origins = {singular: {} for singular in SINGULAR.values()}
        self.clashes = {singular: {} for singular in SINGULAR.values()}  # name -> its origins
        self.broken = []  # (origin, error) of plugins whose registrations were refused

    def add(self, kind, cls, origin):
        """Register ``cls``; a PluginError if it is invalid or its name is taken (the name is
        then withdrawn: neither plugin is used under it)."""
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {origin!r} registered a {kind} without a string 'name' "
                              f"attribute: {cls!r}")
        try:
            declared(cls)
        except TypeError as err:
            raise PluginError(f"plugin {origin!r}, {kind} {name!r}: {err}") from None
        clash = self.clashes.setdefault(kind, {})
        if name in self.classes[kind] or name in clash:
            origins = clash.setdefault(name, [self.origins[kind].pop(name, None)])
            origins.append(origin)
            self.classes[kind].pop(name, None)
            raise PluginError(self.clash(kind, name))
        self.classes[kind][name] = cls
        self.origins[kind][name] = origin

    def clash(self, kind, name):
        """The message for a name that several plugins registered for ``kind``."""
        origins = self.clashes[kind][name]
        times = "twice" if len(origins) == 2 else f"{len(origins)} times"
        by = " and by ".join(f"plugin {o!r}" for o in origins)
        return (f"{kind} {name!r} is registered {times}: by {by}; neither is used (choose "
                f"which distributions' entry points load with GAMESIM_LOAD_PLUGINS, or rename "
                f"one)")

    def names(self, kind):
        return sorted(self.classes[kind])

    def lookup(self, kind, name, where="", key=""):
        try:
            return self.classes[kind][name]
        except (KeyError, TypeError):
            if isinstance(name, str) and name in self.clashes.get(kind, {}):
                raise GamesimError(located(where, key, self.clash(kind, name))) from None
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
        except FAILURES as err:  # a broken plugin must not stop scenarios that do not use it
            _load_failures.append((origin, f"cannot load entry point {ep.name} = {ep.value}: "
                                           f"{failure(err)}"))
            continue
        _origins[plugin] = origin


def broken():
    """(origin, error) for each plugin that failed to load or registered something invalid."""
    return list(registry().broken)


def load_modules(names, where="", key="-p"):
    """Import and register plugin modules named by ``-p`` or (``key="plugins"``) a scenario.

    ``where`` is the scenario file, if any. Each name is looked up, first match wins:

    1. a module already imported under that name (an installed plugin's entry point imports
       its module first; a module named twice is loaded once);
    2. ``NAME.py`` or ``NAME/__init__.py`` in the folder of ``where``, then in the current
       directory: only that module is loaded (registered in ``sys.modules`` under NAME), the
       folders are not put on ``sys.path``, so files beside it shadow nothing;
    3. an installed module, imported as usual.

    A module asked for by name that cannot be imported or registered (an exception or
    ``sys.exit`` at import) is an error naming it.
    """
    global _registry
    pm = manager()
    for name in names:
        if pm.get_plugin(name) is not None:
            continue
        _trace(f"loading plugin module {name}")
        try:
            module = _import(name, where)
            if pm.is_registered(module):  # already loaded, e.g. as an installed entry point
                continue
            pm.register(module, name=name)
        except FAILURES as err:
            detail = str(err) if isinstance(err, ImportError) else failure(err)
            raise GamesimError(located(where if key != "-p" else "", key,
                                       f"cannot import plugin module {name!r}: "
                                       f"{detail}")) from err
        _origins[module] = name
        _registry = None


def _import(name, where):
    """The module ``name`` found as :func:`load_modules` says."""
    if name in sys.modules:
        return sys.modules[name]
    folders = [os.path.dirname(os.path.abspath(where))] if where else []
    folders = list(dict.fromkeys([*folders, os.getcwd()]))
    if "." not in name:  # a dotted name is a submodule: only an installed package has it
        for folder in folders:
            if os.path.isfile(os.path.join(folder, f"{name}.py")):
                return _exec_file(name, os.path.join(folder, f"{name}.py"), None)
            if os.path.isfile(os.path.join(folder, name, "__init__.py")):
                return _exec_file(name, os.path.join(folder, name, "__init__.py"),
                                  [os.path.join(folder, name)])
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:
            raise
        raise ModuleNotFoundError(f"no {name}.py or {name}/__init__.py in "
                                  f"{' or '.join(folders)}, and no installed module of that "
                                  f"name", name=name) from None


def _exec_file(name, path, package):
    """Import the file ``path`` as the module (or package) ``name``."""
    _trace(f"  from {path}")
    spec = importlib.util.spec_from_file_location(name, path,
                                                  submodule_search_locations=package)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: its own imports and pickle look it up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


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
                    problem = protocol_problem(_kind, cls)
                    if problem is not None:
                        name = getattr(cls, "name", None)
                        what = f"{_kind} {name!r}" if isinstance(name, str) else f"a {_kind}"
                        reg.broken.append((_origin, f"{what}: {problem}"))
                        return
                    try:
                        reg.add(_kind, cls, _origin)
                    except PluginError as err:
                        reg.broken.append((_origin, str(err)))
                    else:
                        _trace(f"  registered {_kind} {cls.name!r}")

                try:
                    impl.function(register=register)
                except FAILURES as err:
                    reg.broken.append((origin, f"{hook.name} failed: {failure(err)}"))
        _registry = reg
    return _registry


OBSERVER_HOOKS = ("gamesim_run_start", "gamesim_record", "gamesim_run_end")


def _observer(hook_name, impl, origin):
    """A plain function calling one observer implementation with the arguments it declares;
    an exception it raises becomes a PluginRunError naming the plugin and the hook (exit
    status 1: observers are called during a run)."""
    function, argnames = impl.function, impl.argnames

    def call(scenario=None, state=None, result=None, directory=None):
        given = {"scenario": scenario, "state": state, "result": result, "directory": directory}
        try:
            value = function(**{name: given[name] for name in argnames})
        except GamesimError:
            raise
        except FAILURES as err:
            raise PluginRunError(f"plugin {origin!r}: {hook_name} failed: "
                                 f"{failure(err)}") from err
        if hook_name == "gamesim_record" and value is not None and not (
                isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            raise PluginRunError(f"plugin {origin!r}: gamesim_record returned {value!r}, "
                                 f"expected None or a dict of metric name -> number")
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
