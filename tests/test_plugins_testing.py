"""gamesim.testing has teeth: each check fails, naming the plugin and the property, on a plugin
with one deliberate mistake (a built-in, built by ``make``, with one method replaced)."""

import re

import numpy as np
import pytest

from gamesim import testing


def broken(kind, spec, method, replacement):
    """A ``kind`` plugin built from ``spec`` whose ``method`` is ``replacement(plugin, *args)``,
    the original available as ``plugin.original``."""
    plugin = testing.make(kind, spec)
    original = getattr(plugin, method)
    cls = type(plugin)
    sub = type(f"Broken{cls.__name__}", (cls,), {
        method: lambda self, *args: replacement(original, *args)})
    plugin.__class__ = sub
    return plugin


CASES = [
    ("target", {"kind": "normal"}, "masses", lambda f, g: (2 * f(g)[0], f(g)[1]), "sums to"),
    ("distance", {"kind": "w1"}, "grad", lambda f, p, q: -f(p, q), "directional derivative"),
    ("distance", {"kind": "kl"}, "value", lambda f, p, q: f(p, q) + 0.1, "D(p, p)"),
    ("distance", {"kind": "tv"}, "grad", lambda f, p, q: f(p, q)[:-1], "grad(p, q) must be"),
    ("generator", {"kind": "location_scale"}, "vjp", lambda f, t, g: 1.01 * f(t, g), "VJP"),
    ("generator", {"kind": "quantile"}, "forward",
     lambda f, t: (f(t)[0] * 1.001, f(t)[1]), "sums to"),
    ("discriminator", {"kind": "mlp"}, "vjp", lambda f, s, g: f(s, g[::-1]), "VJP"),
    ("discriminator", {"kind": "logistic", "features": "rbf"}, "dudx",
     lambda f, s: 2.0 * f(s), "differs"),
    ("objective", {"kind": "minimax"}, "discriminator_grad",
     lambda f, a, b, u: -f(a, b, u), "discriminator_grad"),
    ("objective", {"kind": "least_squares"}, "oracle",
     lambda f, a, b: 0.9 * f(a, b), "not a best response"),
    ("optimizer", {"kind": "sgd", "lr": 0.1}, "step",
     lambda f, x, g, s: f(x, -g, s), "did not descend"),
    ("optimizer", {"kind": "extragradient"}, "lookahead",
     lambda f, x, g, s: np.subtract(x, 0.01 * g, out=x), "lookahead"),
    ("regularizer", {"kind": "r1"}, "penalty",
     lambda f, d, s, a, b: (f(d, s, a, b)[0], 2 * f(d, s, a, b)[1]), "penalty gradient"),
    ("regularizer", {"kind": "clip"}, "project", lambda f, s: 0.5 * f(s), "idempotent"),
]


@pytest.mark.parametrize("kind, spec, method, replacement, message", CASES,
                         ids=[f"{c[0]}-{c[1]['kind']}-{c[2]}" for c in CASES])
def test_check_fails_on_a_broken_plugin(kind, spec, method, replacement, message):
    plugin = broken(kind, spec, method, replacement)
    with pytest.raises(AssertionError, match=re.escape(message)) as info:
        testing.check_plugin(kind, plugin)
    assert repr(spec["kind"]) in str(info.value)  # the message names the plugin


def test_make_fills_defaults_and_sets_up():
    mmd = testing.make("distance", {"kind": "mmd", "bandwidth": 0.5})
    assert mmd.kernel == "gaussian" and mmd.bandwidth == [0.5] and mmd.c.size == 64
