"""Which plugin an exception raised during a run came from: the one-line
:class:`PluginRunError` naming it, its method and the iteration."""

from .errors import GamesimError, PluginRunError


def _plugins_of(sc):
    """Every plugin instance the scenario plays with: id -> (kind, instance)."""
    found = [("target", sc.target), ("generator", sc.generator),
             ("optimizer", sc.generator_optimizer), ("discriminator", sc.discriminator),
             ("optimizer", sc.discriminator_optimizer), ("regularizer", sc.regularizer),
             ("objective", sc.objective), ("distance", sc.distance),
             *(("distance", d) for d in sc.distances.values())]
    return {id(plugin): (kind, plugin) for kind, plugin in found if plugin is not None}


def plugin_failure(sc, err, iteration):
    """The :class:`PluginRunError` for ``err``, raised at ``iteration`` of a run of ``sc``, if
    a plugin raised it: in one of its methods (the innermost on the traceback: the method's
    ``self`` is one of the scenario's plugins), or in an observer hook (a PluginRunError
    already naming the plugin). None for an exception of gamesim's own code, or a
    GamesimError."""
    if isinstance(err, GamesimError):
        if type(err) is PluginRunError:
            return PluginRunError(f"{err} at iteration {iteration}")
        return None
    plugins, found = _plugins_of(sc), None
    tb = err.__traceback__
    while tb is not None:  # walked only once the run has failed: the loop pays nothing
        code = tb.tb_frame.f_code
        if code.co_argcount and code.co_varnames[0] == "self":
            owner = plugins.get(id(tb.tb_frame.f_locals.get("self")))
            if owner is not None:
                found = owner, code
        tb = tb.tb_next
    if found is None:
        return None
    (kind, plugin), code = found
    from . import plugins as plugin_manager

    origin = plugin_manager.registry().origins[kind].get(plugin.name)
    where = f"{kind} {plugin.name!r}" + (f" (plugin {origin!r})" if origin else "")
    detail = " ".join(str(err).split())  # one line, whatever the plugin's message
    raised = type(err).__name__ + (f": {detail}" if detail else "")
    args = ", ".join(code.co_varnames[1:code.co_argcount])
    return PluginRunError(f"{where}: {code.co_name}({args}) raised {raised} at iteration "
                          f"{iteration}")


def reraise(sc, err, iteration):
    """Raise ``err`` as :func:`plugin_failure` relabels it, or as it is."""
    relabelled = plugin_failure(sc, err, iteration)
    if relabelled is None:
        raise err
    raise relabelled from err
