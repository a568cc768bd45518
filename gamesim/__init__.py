"""gamesim: exact simulations of the GAN minimax game over discretized 1D densities."""

from . import _numba_cache  # noqa: F401  (must run before numba is imported)
from .errors import GamesimError, ParameterError
from .grid import ContinuousTarget, Grid
from .hookspecs import hookimpl
from .params import param

__version__ = "0.1.0"
__all__ = ["ContinuousTarget", "GamesimError", "Grid", "ParameterError", "hookimpl", "param",
           "__version__"]
