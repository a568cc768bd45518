"""The grid: N equal cells on [lower, upper], centres lower + (i + 1/2) h."""

import dataclasses

import numpy as np
import pytest

from gamesim.grid import Grid


def test_cells_centres_and_edges():
    g = Grid(-8.0, 8.0, 512)
    assert g.h == 16 / 512
    assert g.x.shape == (512,) and g.edges.shape == (513,)
    assert g.x[0] == -8.0 + g.h / 2 and g.x[-1] == 8.0 - g.h / 2
    np.testing.assert_allclose(g.x, -8.0 + (np.arange(512) + 0.5) * g.h, rtol=0, atol=1e-15)
    assert g.edges[0] == -8.0 and g.edges[-1] == 8.0  # exactly, no rounding drift
    np.testing.assert_allclose(np.diff(g.edges), g.h, rtol=1e-12)
    np.testing.assert_allclose(0.5 * (g.edges[:-1] + g.edges[1:]), g.x, rtol=0, atol=1e-14)


def test_awkward_bounds_keep_exact_ends():
    g = Grid(-0.1, 0.7, 3)
    assert g.edges[0] == -0.1 and g.edges[-1] == 0.7
    assert g.h == pytest.approx(0.8 / 3, rel=1e-15)


def test_grid_is_immutable_and_its_arrays_read_only():
    g = Grid(0.0, 1.0, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.points = 5
    with pytest.raises(ValueError):
        g.x[0] = 3.0
    with pytest.raises(ValueError):
        g.edges[0] = 3.0
    assert g.x is g.x  # computed once
    assert Grid(0.0, 1.0, 4) == g and hash(Grid(0.0, 1.0, 4)) == hash(g)
