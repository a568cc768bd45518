"""Target distributions: normal, uniform, Laplace and mixtures, by exact cell integrals."""

import math

import numpy as np
from numba import njit

import gamesim
from gamesim.grid import ContinuousTarget


@njit(cache=True)
def _normal_tails(z, out_cdf, out_sf):
    for i in range(z.size):
        out_cdf[i] = 0.5 * math.erfc(-z[i] / math.sqrt(2.0))
        out_sf[i] = 0.5 * math.erfc(z[i] / math.sqrt(2.0))


class Normal(ContinuousTarget):
    """Normal distribution N(mean, std^2)."""

    name = "normal"
    mean: float = gamesim.param(0.0, help="mean")
    std: float = gamesim.param(1.0, gt=0, help="standard deviation")

    def _tails(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        cdf, sf = np.empty_like(z), np.empty_like(z)
        _normal_tails(z.ravel(), cdf.ravel(), sf.ravel())
        return cdf, sf

    def cdf(self, x):
        return self._tails(x)[0]

    def sf(self, x):
        return self._tails(x)[1]


class Uniform(ContinuousTarget):
    """Uniform distribution on [lower, upper]."""

    name = "uniform"
    lower: float = gamesim.param(-1.0, help="left end of the support")
    upper: float = gamesim.param(1.0, help="right end of the support")

    def validate(self):
        if not self.upper > self.lower:
            raise gamesim.ParameterError("upper", f"got {self.upper!r}, expected a number > "
                                                  f"lower ({self.lower!r})")

    def cdf(self, x):
        return np.clip((np.asarray(x, dtype=np.float64) - self.lower) / (self.upper - self.lower),
                       0.0, 1.0)

    def sf(self, x):
        return np.clip((self.upper - np.asarray(x, dtype=np.float64)) / (self.upper - self.lower),
                       0.0, 1.0)


class Laplace(ContinuousTarget):
    """Laplace distribution with density exp(-|x - loc| / scale) / (2 scale)."""

    name = "laplace"
    loc: float = gamesim.param(0.0, help="location (mean and median)")
    scale: float = gamesim.param(1.0, gt=0, help="scale b; the standard deviation is b sqrt(2)")

    def cdf(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.loc) / self.scale
        return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0.0)), 1.0 - 0.5 * np.exp(-np.maximum(z, 0.0)))

    def sf(self, x):
        return self.cdf(2.0 * self.loc - np.asarray(x, dtype=np.float64))


class Mixture:
    """Mixture of other targets; each component table carries a ``weight`` (normalized)."""

    name = "mixture"
    components: list[dict] = gamesim.param(
        help="component tables, each naming a target by kind, with an optional weight "
             "(default 1; weights are normalized)", plugin="target", keys=("weight",))

    def validate(self):
        for i, c in enumerate(self.components):
            w = c.config.get("weight", 1.0)
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0 or not math.isfinite(w):
                raise gamesim.ParameterError(f"components[{i}].weight",
                                             f"got {w!r}, expected a number > 0")
        self.weights = np.array([c.config.get("weight", 1.0) for c in self.components], float)
        self.weights /= self.weights.sum()

    def masses(self, grid):
        total = np.zeros(grid.points)
        outside = 0.0
        for w, c in zip(self.weights, self.components):
            m, out = c.masses(grid)
            # components report masses renormalized on the grid; undo that to mix exactly
            total += w * (1.0 - out) * m
            outside += w * out
        inside = total.sum()
        return (total / inside, outside) if inside > 0 else (total, 1.0)


class Point:
    """A point mass at ``at``, deposited by cloud-in-cell like the ``point`` generator (on a
    cell centre it is one cell): the Dirac-GAN's data (Mescheder, Geiger, Nowozin 2018)."""

    name = "point"
    at: float = gamesim.param(0.0, help="position of the point mass")

    def masses(self, grid):
        from .transforms import deposit
        p, outside = deposit([self.at, self.at], grid)
        # the deposit puts a point beyond the grid into an edge cell, as a generator's must be
        # (it keeps its gradient); data outside the grid is no mass on it
        return (np.zeros(grid.points), 1.0) if outside > 0 else (p, outside)


@gamesim.hookimpl
def gamesim_register_targets(register):
    for cls in (Normal, Uniform, Laplace, Mixture, Point):
        register(cls)
