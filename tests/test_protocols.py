"""gamesim.protocols: the declared members, the capability helpers, the registry's shape check
derived from them, and docs/plugins.md naming every member of every kind."""

import pathlib
import re

import numpy as np
import pytest

from gamesim import plugins, protocols, testing

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
SECTIONS = {"target": "Target", "generator": "Generator", "discriminator": "Discriminator",
            "objective": "Objective", "distance": "Distance", "optimizer": "Optimizer",
            "regularizer": "Regularizer"}


def _section(text, heading, level="###"):
    """The text under a Markdown heading, up to the next heading of its level or above."""
    start = text.index(f"\n{level} {heading}\n")
    stop = re.search(rf"\n#{{2,{len(level)}}} ", text[start + 1:])
    return text[start:start + 1 + stop.start()] if stop else text[start:]


def test_every_kind_has_a_protocol():
    assert set(protocols.PROTOCOLS) == set(plugins.SINGULAR.values())


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_every_member_is_documented_in_code(kind):
    for name, member in protocols.members(kind).items():
        assert member.__doc__, f"{kind}.{name} has no docstring"


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_docs_name_every_member_of_every_kind(kind):
    """A member of the kind itself is in its section of docs/plugins.md ("### Target", ...);
    one every kind shares (validate, setup) is in the Protocols introduction."""
    text = DOCS.read_text()
    protocol = _section(text, "Protocols", "##")
    introduction = protocol[:protocol.index("\n### ")]
    own = _section(text, SECTIONS[kind])
    for name in protocols.members(kind):
        shared = name not in vars(protocols.PROTOCOLS[kind])
        where = introduction if shared else own
        assert re.search(rf"`{name}\b", where), \
            f"docs/plugins.md does not name {kind} member {name!r} " \
            f"{'in the Protocols introduction' if shared else f'under ### {SECTIONS[kind]}'}"


def test_required_lists_follow_from_the_protocols():
    assert plugins.PROTOCOLS["generator"] == ("init_params", "forward", "vjp")
    assert plugins.PROTOCOLS["objective"] == ("output", "value", "discriminator_grad",
                                              "generator_grad", "oracle")
    assert plugins.PROTOCOLS["regularizer"] == {"penalty", "project"}
    assert "setup" not in protocols.members("optimizer")
    assert "dudx" in protocols.optional_names("discriminator")


def test_a_name_optional_in_several_kinds_has_one_default():
    assert protocols.DEFAULTS["setup"] is None
    assert protocols.DEFAULTS["logit_params"] is False
    assert protocols.DEFAULTS["oracle"] is False  # the discriminator's flag
    assert "forward" not in protocols.DEFAULTS  # required: no default


class _Plain:
    name = "plain"

    def masses(self, grid):
        return np.full(grid.points, 1.0 / grid.points), 0.0


class _Inheriting(protocols.Target):
    name = "inheriting"

    def masses(self, grid):
        return np.full(grid.points, 1.0 / grid.points), 0.0


class _NoMasses(protocols.Target):
    name = "no_masses"


@pytest.mark.parametrize("cls", [_Plain, _Inheriting])
def test_duck_typed_and_inheriting_plugins_read_alike(cls):
    plugin = cls()
    assert plugins.protocol_problem("target", cls) is None
    assert not hasattr(plugin, "draw") and not hasattr(plugin, "setup")
    assert protocols.capability(plugin, "draw") is None
    assert not protocols.has(plugin, "setup")
    assert protocols.capability(cls, "draw") is None
    testing.check_target(plugin)


def test_an_inherited_declaration_is_not_a_definition():
    assert plugins.protocol_problem("target", _NoMasses) == \
        "lacks masses: a target defines masses"
    with pytest.raises(AttributeError, match="masses"):
        _NoMasses().masses
    with pytest.raises(AssertionError, match="lacks masses"):
        testing.check_target(_NoMasses())


def test_capability_reads_values_and_defaults():
    class Flagged:
        logit_params = True
        default_optimizer = {"kind": "adam"}
        transform = None  # opting out
        equilibrium = 0.0

    assert protocols.capability(Flagged(), "default_optimizer") == {"kind": "adam"}
    assert protocols.has(Flagged(), "logit_params")
    assert not protocols.has(Flagged(), "transform")
    assert protocols.has(Flagged(), "equilibrium")  # 0.0 is a value, not an absence
    assert not protocols.has(Flagged(), "requires_logit_params")
    with pytest.raises(KeyError):
        protocols.capability(Flagged(), "no_such_capability")


def test_shape_check_messages():
    class Oracle:
        name = "oracle"
        oracle = True

    class Half:
        name = "half"

        def init_params(self, rng):
            return np.zeros(1)

    class Nothing:
        name = "nothing"

    assert plugins.protocol_problem("discriminator", Oracle) is None
    assert plugins.protocol_problem("discriminator", Half) == (
        "lacks forward, vjp: a discriminator defines init_params, forward, vjp "
        "(or oracle = True)")
    assert plugins.protocol_problem("regularizer", Nothing) == (
        "defines none of penalty, project: a regularizer needs one of them")
    assert "not a class" in plugins.protocol_problem("target", _Plain())


def test_member_signatures():
    members = protocols.members("optimizer")
    assert members["step"].signature == "step(theta, grad, state)"
    assert members["requires_logit_params"].signature == "requires_logit_params"
