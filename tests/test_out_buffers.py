"""The ``out=`` capability (``out_methods``, docs/plugins.md, "Protocols"): each built-in's
out= form against its allocating form, bit for bit; the engine's buffers, passed only to the
plugins that declare them and rewritten only once nothing holds them; whole runs with and
without buffers, bit for bit."""

import dataclasses
import math

import numpy as np
import pytest

from gamesim import api, engine, exact, plugins, protocols, testing
from gamesim.grid import Grid
from gamesim_plugins.generators import Density
from gamesim_plugins.objectives import Minimax, Nonsaturating

GRID = Grid(-4.0, 4.0, 257)
REGISTRY = plugins.registry()


@pytest.fixture(autouse=True)
def buffers_on_every_grid(monkeypatch):
    """The engine uses its buffers from exact.BUFFERED_CELLS cells on; here on every grid."""
    monkeypatch.setattr(exact, "BUFFERED_CELLS", 0)
WITH_OUT = [(kind, name) for kind in ("generator", "objective", "distance")
            for name, cls in sorted(REGISTRY.classes[kind].items())
            if protocols.capability(cls, "out_methods")]


def _arguments(kind, method, rng):
    """Arguments of ``method`` for a test: masses with zero cells, logits with -inf ones."""
    n = GRID.points
    p_d, p_g = testing.random_masses(rng, n, zeros=20), testing.random_masses(rng, n, zeros=20)
    if kind == "generator":
        theta = rng.normal(0.0, 3.0, n)
        theta[:7] = -math.inf
        return (theta,)
    if method == "oracle_log":
        with np.errstate(divide="ignore"):
            return p_d, p_g, np.log(p_g)
    return p_d, p_g


def _outs(result):
    """The arrays of a method's result, in order (the numbers left out)."""
    items = result if isinstance(result, tuple) else (result,)
    return tuple(x for x in items if isinstance(x, np.ndarray))


def test_the_built_ins_with_out_are_the_expected_ones():
    assert ("generator", "density") in WITH_OUT and ("objective", "minimax") in WITH_OUT
    assert {name for kind, name in WITH_OUT if kind == "distance"} == \
        {"js", "kl", "reverse_kl", "tv", "hellinger", "chi2", "w1", "w2", "energy", "cramer",
         "ks", "mmd"}
    assert len(WITH_OUT) == 18


@pytest.mark.parametrize("kind,name", WITH_OUT)
def test_out_form_equals_the_allocating_form_and_returns_the_buffer(kind, name):
    specs = [{"kind": name}]
    if name == "mmd":  # both routes of K v
        specs = [{"kind": name, "method": m, "bandwidth": [0.1, 0.5]} for m in ("fft", "direct")]
    for spec in specs:
        plugin = testing.make(kind, spec, GRID)
        for method in protocols.capability(plugin, "out_methods"):
            assert protocols.fills(plugin, method)
            for seed in range(3):
                args = _arguments(kind, method, np.random.default_rng(seed))
                plain = getattr(plugin, method)(*args)
                arrays = _outs(plain)
                buffers = tuple(np.full(a.shape, np.nan) for a in arrays)
                got = getattr(plugin, method)(*args, out=buffers if len(buffers) > 1 else buffers[0])
                assert all(g is b for g, b in zip(_outs(got), buffers)), (name, method)
                assert all(np.array_equal(a, g, equal_nan=True) for a, g in zip(arrays, buffers))
                if isinstance(plain, tuple):  # the numbers too (mass_outside)
                    assert [x for x in plain if not isinstance(x, np.ndarray)] == \
                        [x for x in got if not isinstance(x, np.ndarray)]


def test_w2_writes_zeros_into_out_at_equal_masses():
    w2 = testing.make("distance", {"kind": "w2"}, GRID)
    p = testing.random_masses(np.random.default_rng(0), GRID.points)
    out = np.full(GRID.points, np.nan)
    assert w2.grad(p, p, out=out) is out and not np.any(out)


def test_fills_reads_the_declaration_and_refuses_a_redefined_method():
    class Plain:  # a third-party objective written before the capability
        def oracle(self, p_d, p_g):
            return p_d - p_g

    class OwnOracle(Minimax):  # redefines oracle without out=
        def oracle(self, p_d, p_g):
            return super().oracle(p_d, p_g)

    assert protocols.capability(Plain, "out_methods") is None
    assert not protocols.fills(Plain, "oracle")
    assert protocols.fills(Nonsaturating, "oracle") and protocols.fills(Minimax, "oracle_log")
    assert not protocols.fills(OwnOracle, "oracle") and protocols.fills(OwnOracle, "oracle_log")
    assert not protocols.fills(Minimax, "generator_grad")  # not listed: it allocates


def test_buffers_rewrite_an_array_only_once_nothing_holds_it():
    buffers = exact.Buffers(5)
    first = buffers.take("p_g")
    view = first[1:3]
    assert buffers.take("p_g") is not first  # held here (and through the view)
    del first, view
    spares = buffers.spares["p_g"]
    assert len(spares) == 2 and buffers.take("p_g") is spares[0]
    held = [buffers.take("u") for _ in range(5)]  # none is free: new ones, three kept
    assert len({id(a) for a in held}) == 5 and len(buffers.spares["u"]) == 3


IDEAL = {
    "name": "buffers", "iterations": 12, "record_every": 1,
    "grid": {"lower": -6.0, "upper": 6.0, "points": 301},
    "target": {"kind": "mixture", "components": [
        {"kind": "normal", "mean": -2.0, "std": 0.5, "weight": 0.3},
        {"kind": "normal", "mean": 1.5, "std": 1.0, "weight": 0.7}]},
    "generator": {"kind": "density", "init": {"kind": "normal", "mean": 0.0, "std": 3.0},
                  "optimizer": {"kind": "mirror", "lr": 0.5}},
    "discriminator": {"kind": "oracle"},
    "game": {"mode": "adversarial", "objective": "minimax"},
    "output": {"snapshots": 4},
}


def _scenario(changes=None):
    """IDEAL with ``changes`` to its top-level tables (None: the table left out), loaded."""
    table = {**IDEAL, **(changes or {})}
    return api.load({k: v for k, v in table.items() if v is not None})


def _same(a, b):
    assert a.status == b.status and a.columns == b.columns
    assert np.array_equal(np.array(a.rows, float), np.array(b.rows, float), equal_nan=True)
    assert a.snapshot_iterations == b.snapshot_iterations
    for x, y in zip(a.snapshot_p_gen + a.snapshot_d, b.snapshot_p_gen + b.snapshot_d):
        assert (x is None and y is None) or np.array_equal(x, y, equal_nan=True)


CASES = {
    "ideal": {},
    "nonsaturating": {"game": {"mode": "adversarial", "objective": "nonsaturating"}},
    "hinge-sgd": {"game": {"mode": "adversarial", "objective": "hinge"},
                  "generator": {**IDEAL["generator"], "optimizer": {"kind": "sgd", "lr": 0.5}}},
    "least-squares-extragradient": {
        "game": {"mode": "adversarial", "objective": "least_squares"},
        "generator": {**IDEAL["generator"], "optimizer": {"kind": "extragradient", "lr": 2.0}}},
    "noise": {"game": {"mode": "adversarial", "objective": "wasserstein",
                       "instance_noise": {"std": 0.3}}},
    "direct-mmd": {"discriminator": None, "game": {"mode": "direct", "distance": {
        "kind": "mmd", "bandwidth": [0.1, 0.5, 2.0], "method": "fft"}}},
    "direct-w2": {"discriminator": None, "game": {"mode": "direct", "distance": "w2"}},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_run_with_buffers_equals_one_without(case, monkeypatch):
    sc = _scenario(CASES[case])
    with_buffers = engine.run(sc)
    players = exact.Exact(sc)
    assert players.out_forward or players.out_forward_log  # buffers were in use
    monkeypatch.setattr(exact, "fills", lambda plugin, method: False)
    assert not exact.Exact(sc).out_forward
    _same(with_buffers, engine.run(sc))
    assert with_buffers.status == "completed" and len(with_buffers.rows) == 13


class Counting(Density):
    """The density generator, recording the ids of the out= buffers the engine passes (not
    the buffers: that would hold them). Its own forward_log takes out=: it says so again."""

    out_methods = Density.out_methods

    def forward_log(self, theta, out=None):
        self.seen.append(None if out is None else tuple(map(id, out)))
        return super().forward_log(theta, out=out)


class Legacy(Density):
    """A generator written before the capability: its own forward methods take no out=."""

    out_methods = None

    def forward(self, theta):
        return super().forward(theta)

    def forward_log(self, theta):
        return super().forward_log(theta)


def _with_generator(sc, cls):
    generator = cls()
    generator.__dict__.update(sc.generator.__dict__)
    generator.seen = []
    return dataclasses.replace(sc, generator=generator)


def test_the_engine_passes_two_alternating_buffers_to_a_plugin_that_declares_them():
    sc = _with_generator(_scenario(), Counting)
    result = engine.run(sc)
    seen = sc.generator.seen
    assert len(seen) == 13 and all(isinstance(out, tuple) and len(out) == 2 for out in seen)
    masses = {out[0] for out in seen}
    logs = {out[1] for out in seen}
    # the last point is still held when the next one is computed; the log-masses are not
    assert len(masses) == 2 and len(logs) == 1
    assert all(seen[i][0] == seen[i + 2][0] for i in range(11))
    _same(result, engine.run(_scenario()))


def test_no_buffers_below_the_grid_size_where_they_pay(monkeypatch):
    monkeypatch.setattr(exact, "BUFFERED_CELLS", IDEAL["grid"]["points"] + 1)
    sc = _with_generator(_scenario(), Counting)
    result = engine.run(sc)
    assert sc.generator.seen == [None] * 13
    _same(result, engine.run(_scenario()))


def test_a_generator_without_the_capability_is_called_without_out():
    sc = _with_generator(_scenario(), Legacy)
    assert not protocols.fills(sc.generator, "forward_log")
    _same(engine.run(sc), engine.run(_scenario()))  # a call with out= would raise TypeError


def test_a_point_keeps_its_masses_while_later_points_are_computed():
    sc = _scenario()
    players = exact.Exact(sc)
    rng = np.random.default_rng(5)
    thetas = [rng.normal(0.0, 2.0, IDEAL["grid"]["points"]) for _ in range(4)]
    kept = [players.point(t, None).grid() for t in thetas[:2]]
    copies = [(p.copy(), u.copy()) for p, _, u in kept]
    for t in thetas[2:]:
        players.point(t, None).grid()  # dropped at once: its buffers are free again
    for (p_g, _, u), (p_copy, u_copy) in zip(kept, copies):
        assert np.array_equal(p_g, p_copy) and np.array_equal(u, u_copy)
    assert np.array_equal(kept[1][0], sc.generator.forward(thetas[1])[0])
