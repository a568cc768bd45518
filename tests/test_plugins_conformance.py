"""Every registered plugin of every kind passes gamesim.testing's conformance checks, built
from its defaults: a new built-in is checked as soon as it registers."""

import os

import pytest

from gamesim import plugins, testing
from gamesim.params import declared

from conftest import SCENARIOS

# The one place that gives a minimal valid table to plugins with required parameters.
REQUIRED = {
    ("target", "mixture"): {"components": [{"kind": "normal", "mean": -1.0},
                                           {"kind": "laplace", "loc": 1.0, "weight": 2.0}]},
    ("target", "samples"): {"path": os.path.join(SCENARIOS, "data", "old-faithful.csv"),
                            "column": "eruption_minutes"},
}


def every_plugin():
    reg = plugins.registry()
    return [(kind, name) for kind in reg.classes for name in reg.names(kind)]


@pytest.mark.parametrize("kind, name", every_plugin(), ids=lambda x: x)
def test_plugin_conforms(kind, name):
    cls = plugins.registry().lookup(kind, name)
    required = [p.name for p in declared(cls) if p.required]
    if required and (kind, name) not in REQUIRED:
        pytest.fail(f"{kind} {name!r} has required parameters {required}: give a minimal "
                    f"table in REQUIRED above")
    grid = testing.GRID
    if (kind, name) == ("target", "samples"):  # Old Faithful durations: 1.6 to 5.1 minutes
        grid = testing.Grid(-1.0, 8.0, 64)
    plugin = testing.make(kind, {"kind": name, **REQUIRED.get((kind, name), {})}, grid)
    testing.check_plugin(kind, plugin, grid)


def test_every_kind_has_plugins_to_check():
    kinds = {kind for kind, _ in every_plugin()}
    assert kinds == {plugins.SINGULAR[k] for k in plugins.KINDS}
