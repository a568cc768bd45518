"""Hook specifications: one ``register`` callback hook per kind of plugin.

Each hook receives ``register``, a function taking a plugin class; the class declares its
``name`` and its parameters (see :func:`gamesim.param`). Registering a name that another
plugin already registered for the same kind is an error naming both plugins.
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
