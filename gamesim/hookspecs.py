"""Hook specifications: one ``register`` callback hook per kind of plugin, and observers.

Each register hook receives ``register``, a function taking a plugin class; the class declares
its ``name`` and its parameters (see :func:`gamesim.param`). Registering a name that another
plugin already registered for the same kind is an error naming both plugins. The observer
hooks (run start, each recorded row, run end) let a plugin add metrics, files or plots.
"""

import pluggy

hookspec = pluggy.HookspecMarker("gamesim")
hookimpl = pluggy.HookimplMarker("gamesim")


@hookspec
def gamesim_register_targets(register):
    """Register target distributions: classes with ``masses(grid) -> (p, mass_outside)``."""


@hookspec
def gamesim_register_generators(register):
    """Register generators: ``init_params``, ``forward(theta) -> (p, mass_outside)``, ``vjp``."""


@hookspec
def gamesim_register_discriminators(register):
    """Register discriminators: ``init_params``, ``forward(psi) -> u``, ``vjp``, or ``oracle = True``."""


@hookspec
def gamesim_register_objectives(register):
    """Register objectives: the players' losses, their gradients and the oracle best response."""


@hookspec
def gamesim_register_distances(register):
    """Register distances: ``value(p, q) -> float`` and ``grad(p, q)`` with respect to ``q``."""


@hookspec
def gamesim_register_optimizers(register):
    """Register optimizers: ``init_state(theta)`` and ``step(theta, grad, state) -> theta``."""


@hookspec
def gamesim_register_regularizers(register):
    """Register discriminator regularizers: ``penalty(...) -> (value, grad_psi)``."""


@hookspec
def gamesim_run_start(scenario):
    """Called once before the first iteration, with the validated :class:`gamesim.scenario.Scenario`."""


@hookspec
def gamesim_record(scenario, state):
    """Called at every recorded row; may return a dict of extra metrics ``{name: float}``.

    ``state`` has ``iteration``, ``p_data``, ``p_gen`` (masses), ``u`` (the discriminator's raw
    outputs, or None in direct mode), ``theta`` and ``psi`` (parameters, ``psi`` None without a
    parametrized discriminator). The arrays are the engine's own: read, do not modify. Every
    row must return the same names; they become metrics.csv columns after the built-in ones.
    """


@hookspec
def gamesim_run_end(scenario, result, directory):
    """Called after the run's data files are written into ``directory``, before it is renamed
    into place: write extra output files or plots there. ``result`` is the engine's
    :class:`gamesim.engine.Result`."""
