"""The oracle discriminator: the exact best response to the current generator."""

import gamesim


class Oracle:
    """Plays the objective's exact best response to the current p_g every iteration
    (for minimax, D* = p_d / (p_d + p_g): Goodfellow et al. 2014, Proposition 1)."""

    name = "oracle"
    oracle = True


@gamesim.hookimpl
def gamesim_register_discriminators(register):
    register(Oracle)
