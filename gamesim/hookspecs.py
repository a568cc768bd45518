"""Hook specifications: one ``register`` callback hook per kind of plugin, and observers.

Each register hook receives ``register``, a function taking a plugin class; the class declares
its ``name`` and its parameters (see :func:`gamesim.param`). A class that is not a valid
plugin of the kind, or a name that another plugin already registered for the same kind, is
reported as a broken plugin (a clash names both plugins, and neither is used under that
name). The observer hooks (run start, each recorded row, run end) let a plugin add metrics,
files or plots. gamesim/protocols.py declares what each kind's class defines; docs/plugins.md
is the full reference: protocols, arguments, return contracts and examples.
"""

import pluggy

hookspec = pluggy.HookspecMarker("gamesim")
hookimpl = pluggy.HookimplMarker("gamesim")


@hookspec
def gamesim_register_targets(register):
    """Register target distributions (protocol: :class:`gamesim.protocols.Target`)."""


@hookspec
def gamesim_register_generators(register):
    """Register generators (protocol: :class:`gamesim.protocols.Generator`)."""


@hookspec
def gamesim_register_discriminators(register):
    """Register discriminators (protocol: :class:`gamesim.protocols.Discriminator`)."""


@hookspec
def gamesim_register_objectives(register):
    """Register objectives (protocol: :class:`gamesim.protocols.Objective`)."""


@hookspec
def gamesim_register_distances(register):
    """Register distances (protocol: :class:`gamesim.protocols.Distance`)."""


@hookspec
def gamesim_register_optimizers(register):
    """Register optimizers (protocol: :class:`gamesim.protocols.Optimizer`)."""


@hookspec
def gamesim_register_regularizers(register):
    """Register discriminator regularizers (protocol: :class:`gamesim.protocols.Regularizer`)."""


@hookspec
def gamesim_run_start(scenario):
    """Called once before the first iteration.

    :param scenario: the validated :class:`gamesim.scenario.Scenario`.
    :return: nothing.
    """


@hookspec
def gamesim_record(scenario, state):
    """Called at every recorded row.

    :param scenario: the validated :class:`gamesim.scenario.Scenario`.
    :param state: has ``iteration``, ``p_data``, ``p_gen`` (masses), ``u`` (the
        discriminator's raw outputs, or None in direct mode), ``theta`` and ``psi`` (parameters,
        ``psi`` None without a parametrized discriminator). The arrays are the engine's own:
        read, do not modify.
    :return: None or a dict of extra metrics ``{name: float}``. Every row must return the same
        names; they become metrics.csv columns after the built-in ones.
    """


@hookspec
def gamesim_run_end(scenario, result, directory):
    """Called when a run directory is written, after its data files and plots, before it is
    renamed into place: write extra output files or plots into ``directory``.

    :param scenario: the validated :class:`gamesim.scenario.Scenario`.
    :param result: the engine's :class:`gamesim.engine.Result`.
    :param directory: the path of the (temporary) run directory being written.
    :return: nothing.
    """
