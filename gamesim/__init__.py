"""gamesim: exact simulations of the GAN minimax game over discretized 1D densities.

The Python API (``load``, ``run``, ``load_run``, ``run_sweep``, ``compare``, ``plugin``,
``analyze``, ``analyze_run``, ``reproduce``, ``Run``; see docs/api.md) is imported on first
use, so ``import gamesim`` stays light: no Numba, no Matplotlib.
"""

import importlib

from . import _numba_cache  # noqa: F401  (must run before numba is imported)
from .errors import GamesimError, ParameterError, PluginRunError
from .grid import ContinuousTarget, Grid
from .hookspecs import hookimpl
from .params import param

__version__ = "0.1.0"

_LAZY = {"load": "api", "run": "api", "load_run": "api", "run_sweep": "api",
         "compare": "api", "plugin": "api", "analyze": "api", "analyze_run": "api",
         "reproduce": "api", "Run": "runs"}

__all__ = ["ContinuousTarget", "GamesimError", "Grid", "ParameterError", "PluginRunError",
           "hookimpl", "param", "__version__", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'gamesim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
