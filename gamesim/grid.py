"""The grid: N cells on [lower, upper]; distributions on it are vectors of cell masses."""

import dataclasses
import functools

import numpy as np


@dataclasses.dataclass(frozen=True)
class Grid:
    """N equal cells on [lower, upper]; cell i has centre lower + (i + 1/2) h."""

    lower: float
    upper: float
    points: int

    @property
    def h(self):
        return (self.upper - self.lower) / self.points

    @functools.cached_property
    def x(self):
        """Cell centres."""
        x = self.lower + (np.arange(self.points) + 0.5) * self.h
        x.flags.writeable = False
        return x

    @functools.cached_property
    def edges(self):
        """The N + 1 cell edges, lower and upper included exactly."""
        e = np.linspace(self.lower, self.upper, self.points + 1)
        e.flags.writeable = False
        return e


class ContinuousTarget:
    """Mixin for families with a CDF: masses are exact cell integrals.

    A subclass defines ``cdf(x)`` and ``sf(x)`` (numpy-vectorized). Cells left of the median
    use differences of the CDF, cells right of it differences of the survival function, so a
    tail cell whose mass is representable never rounds to 0.
    """

    def masses(self, grid):
        edges = grid.edges
        cdf = self.cdf(edges)
        sf = self.sf(edges)
        left = np.diff(cdf)
        right = -np.diff(sf)
        use_sf = cdf[:-1] >= 0.5
        m = np.where(use_sf, right, left)
        m = np.maximum(m, 0.0)
        inside = m.sum()
        outside = float(cdf[0] + sf[-1])
        if not inside > 0:
            return m, 1.0
        return m / inside, outside
