"""The former name of :mod:`gamesim.vecmath`, kept for compatibility: plugins written against
earlier versions import ``filled`` and the kernels from here. New code imports
:mod:`gamesim.vecmath`.

The module was never compiled with fast-math flags (its results are the same bits on every
machine); ``exp1`` and ``log1`` are the old names of :func:`gamesim.vecmath.vexp` and
:func:`gamesim.vecmath.vlog` (exp and log of one float64, not ``expm1``/``log1p``).
"""

from .vecmath import (_bits, _from_bits, exp_into, filled, log_into, max_of, sum_of, vexp,
                      vlog)

exp1, log1 = vexp, vlog

__all__ = ["_bits", "_from_bits", "exp_into", "exp1", "filled", "log_into", "log1", "max_of",
           "sum_of", "vexp", "vlog"]
