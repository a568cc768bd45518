"""The example plugin's own tests: gamesim's conformance checks, and one number each."""

import math

import numpy as np

from gamesim import testing


def test_bhattacharyya_conforms():
    testing.check_distance(testing.make("distance", {"kind": "bhattacharyya"},
                                        modules=["gamesim_example"]))


def test_bhattacharyya_of_two_cells():
    d = testing.make("distance", {"kind": "bhattacharyya"}, modules=["gamesim_example"])
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    assert math.isclose(d.value(p, q), -math.log(math.sqrt(0.45) + math.sqrt(0.05)))
    assert d.value(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == math.inf


def test_triangle_conforms_and_has_its_mean():
    target = testing.make("target", {"kind": "triangle", "mode": 0.5, "half_width": 1.5},
                          modules=["gamesim_example"])
    testing.check_target(target)
    p, outside = target.masses(testing.GRID)
    assert outside == 0.0
    assert math.isclose(float(p @ testing.GRID.x), 0.5, abs_tol=1e-12)
