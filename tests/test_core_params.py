"""Parameter declarations: one declaration drives validation, defaults, nesting and messages."""

import math
import os
import pathlib

import pytest

import gamesim
from gamesim.errors import GamesimError, ParameterError, did_you_mean, located
from gamesim.params import build, declared, fill
from gamesim.plugins import Registry


class Widget:
    """A test plugin with one parameter of each supported type."""

    name = "widget"
    rate: float = gamesim.param(0.5, gt=0, le=1, help="a rate in (0, 1]")
    count: int = gamesim.param(3, ge=1, help="a count")
    flag: bool = gamesim.param(False, help="a switch")
    mode: str = gamesim.param("fast", choices=("fast", "slow", "exact"), help="a mode")
    widths: list[float] = gamesim.param([1.0], gt=0, help="widths")
    tags: list[str] = gamesim.param([], choices=("red", "green"), help="tags")
    data: pathlib.Path = gamesim.param(None, help="a data file")


class Needs:
    name = "needs"
    level: float = gamesim.param(help="required")
    low: float = gamesim.param(0.0)
    high: float = gamesim.param(1.0)

    def validate(self):
        if not self.high > self.low:
            raise ParameterError("high", f"got {self.high!r}, expected a number > low")


class Child(Needs):
    name = "child"
    extra: int = gamesim.param(7, lt=10)


class Box:
    name = "box"
    inner: dict = gamesim.param(None, plugin="widget_kind", help="one nested widget")
    parts: list[dict] = gamesim.param(help="nested widgets", plugin="widget_kind",
                                      keys=("weight",))


@pytest.fixture
def registry():
    reg = Registry()
    reg.classes["widget_kind"], reg.origins["widget_kind"] = {}, {}
    reg.add("widget_kind", Widget, "test")
    reg.add("widget_kind", Needs, "test")
    return reg


def filled(spec, cls=Widget, where="s.toml", key="w"):
    instance = cls()
    resolved = fill(instance, spec, None, where, key, f"widget {cls.name!r}")
    return instance, resolved


def error(spec, cls=Widget, **kw):
    with pytest.raises(GamesimError) as info:
        filled(spec, cls, **kw)
    return str(info.value)


def test_declared_lists_parameters_in_order_with_types():
    params = declared(Widget)
    assert [p.name for p in params] == ["rate", "count", "flag", "mode", "widths", "tags", "data"]
    assert [p.type for p in params] == ["float", "int", "bool", "str", "float list", "str list",
                                        "path"]
    assert params[0].default == 0.5 and params[0].gt == 0 and params[0].le == 1
    assert params[3].choices == ("fast", "slow", "exact")


def test_declared_includes_inherited_parameters():
    assert [p.name for p in declared(Child)] == ["level", "low", "high", "extra"]


def test_unsupported_annotation_is_refused():
    class Bad:
        name = "bad"
        shape: tuple = gamesim.param((1, 2))

    with pytest.raises(TypeError, match="shape"):
        declared(Bad)


def test_defaults_fill_the_instance_and_the_resolved_table():
    w, resolved = filled({})
    assert (w.rate, w.count, w.flag, w.mode, w.widths, w.tags, w.data) == \
        (0.5, 3, False, "fast", [1.0], [], None)
    assert resolved == {"rate": 0.5, "count": 3, "flag": False, "mode": "fast", "widths": [1.0],
                        "tags": []}
    assert w.config is resolved


def test_given_values_are_converted():
    w, resolved = filled({"rate": 1, "count": 4, "flag": True, "mode": "slow", "widths": 2,
                          "tags": ["red"]})
    assert isinstance(w.rate, float) and w.rate == 1.0 and resolved["rate"] == 1.0
    assert isinstance(resolved["rate"], float)
    assert w.widths == [2.0] and resolved["widths"] == [2.0]  # a number is a one-element list
    assert (w.count, w.flag, w.mode, w.tags) == (4, True, "slow", ["red"])


def test_default_mutable_values_are_not_shared_between_instances():
    a, _ = filled({})
    a.widths.append(9.0)
    b, _ = filled({})
    assert b.widths == [1.0]


@pytest.mark.parametrize("spec,fragment", [
    ({"rate": 0}, "a number > 0 and <= 1"),
    ({"rate": 0.0}, "> 0"),
    ({"rate": 1.0000001}, "<= 1"),
    ({"rate": -1}, "got -1"),
    ({"rate": "0.5"}, "got '0.5'"),
    ({"rate": True}, "got True"),
    ({"rate": math.nan}, "got nan"),
    ({"rate": math.inf}, "got inf"),
    ({"count": 0}, "an integer >= 1"),
    ({"count": 2.0}, "got 2.0"),
    ({"count": 1.5}, "got 1.5"),
    ({"count": False}, "got False"),
    ({"flag": 1}, "true or false"),
    ({"flag": "yes"}, "true or false"),
    ({"mode": 3}, "got 3"),
    ({"widths": []}, "a number or a list of numbers > 0"),
    ({"widths": [1.0, -2.0]}, "> 0"),
    ({"widths": ["a"]}, "got ['a']"),
    ({"tags": "red"}, "a list of strings"),
    ({"tags": [1]}, "a list of strings"),
    ({"data": 3}, "a file path"),
    ({"data": ""}, "a file path"),
])
def test_invalid_values_name_file_key_value_and_what_is_allowed(spec, fragment):
    message = error(spec)
    key = next(iter(spec))
    assert message.startswith(f"s.toml: w.{key}: ")
    assert fragment in message


def test_bounds_are_inclusive_or_exclusive_as_declared():
    assert filled({"rate": 1.0})[0].rate == 1.0  # le=1 includes 1
    assert filled({"count": 1})[0].count == 1  # ge=1 includes 1
    assert filled({"extra": 9, "level": 0.0}, Child)[0].extra == 9
    assert "< 10" in error({"extra": 10, "level": 0.0}, Child)
    assert filled({"rate": 5e-324})[0].rate == 5e-324


def test_choice_with_did_you_mean():
    message = error({"mode": "slwo"})
    assert "w.mode" in message and "'slwo'" in message
    assert "did you mean 'slow'?" in message
    assert "'fast', 'slow', 'exact'" in message
    message = error({"tags": ["gren"]})
    assert "did you mean 'green'?" in message and "w.tags" in message


def test_unknown_key_with_did_you_mean_and_allowed_keys():
    message = error({"rat": 0.1})
    assert message.startswith("s.toml: w.rat: unknown key for widget 'widget'")
    assert "did you mean 'rate'?" in message
    assert "allowed: rate, count, flag, mode, widths, tags, data" in message
    message = error({"zzzz": 1})
    assert "did you mean" not in message and "w.zzzz" in message


def test_unknown_key_at_top_level_has_no_leading_dot():
    message = error({"rat": 0.1}, key="")
    assert message.startswith("s.toml: rat: ")


def test_required_parameter_missing():
    message = error({}, Needs)
    assert message == "s.toml: w.level: missing; expected a number"


def test_validate_errors_are_prefixed_with_file_and_key():
    message = error({"level": 1.0, "low": 2.0, "high": 1.0}, Needs)
    assert message == "s.toml: w.high: got 1.0, expected a number > low"


def test_path_is_resolved_against_the_scenario_folder(tmp_path):
    where = tmp_path / "sub" / "s.toml"
    w, resolved = filled({"data": "../data/x.csv"}, where=str(where))
    assert w.data == pathlib.Path(tmp_path / "data" / "x.csv")
    assert resolved["data"] == os.path.join(str(tmp_path), "data", "x.csv")
    w, _ = filled({"data": "/abs/y.npy"}, where=str(where))
    assert w.data == pathlib.Path("/abs/y.npy")


def test_nested_plugin_tables(registry):
    box = Box()
    resolved = fill(box, {"parts": [{"kind": "widget", "rate": 0.25, "weight": 2.0},
                                    {"kind": "needs", "level": 3}]},
                    registry, "s.toml", "b", "box")
    assert box.inner is None and "inner" not in resolved
    assert isinstance(box.parts[0], Widget) and box.parts[0].rate == 0.25
    assert box.parts[0].config == resolved["parts"][0]
    assert resolved["parts"][0]["weight"] == 2.0 and resolved["parts"][0]["kind"] == "widget"
    assert resolved["parts"][0]["count"] == 3  # nested defaults are filled in too
    assert resolved["parts"][1] == {"kind": "needs", "level": 3.0, "low": 0.0, "high": 1.0}


def test_nested_plugin_by_name_only(registry):
    box = Box()
    fill(box, {"inner": "widget", "parts": [{"kind": "widget"}]}, registry, "s.toml", "b", "box")
    assert isinstance(box.inner, Widget) and box.inner.config["kind"] == "widget"
    instance, resolved = build(registry, "widget_kind", "widget", "s.toml", "x")
    assert isinstance(instance, Widget) and resolved["kind"] == "widget" and resolved["count"] == 3
    with pytest.raises(GamesimError, match="s.toml: x.level: missing"):
        build(registry, "widget_kind", {"kind": "needs"}, "s.toml", "x")


@pytest.mark.parametrize("spec,fragment", [
    ({"parts": [{"kind": "widget", "rate": 2.0}]}, "s.toml: b.parts[0].rate: got 2.0"),
    ({"parts": [{"kind": "widget"}, {"kind": "needs"}]}, "s.toml: b.parts[1].level: missing"),
    ({"parts": [{"kind": "widgit"}]}, "b.parts[0].kind: unknown widget_kind 'widgit' "
                                      "(did you mean 'widget'?); available: needs, widget"),
    ({"parts": [{"rate": 0.1}]}, "b.parts[0].kind: missing; expected one of needs, widget"),
    ({"parts": [{"kind": "widget", "wieght": 1}]}, "(did you mean 'weight'?)"),
    ({"parts": [{"kind": "needs", "weight": 1, "weigth": 1}]}, "b.parts[0].weigth"),
    ({"parts": []}, "b.parts: got [], expected a list of tables naming a widget_kind plugin"),
    ({"parts": {"kind": "widget"}}, "b.parts: got {'kind': 'widget'}, expected a list"),
    ({"parts": [3]}, "b.parts[0]: got 3, expected a table with a 'kind'"),
    ({"parts": [{"kind": "widget"}], "inner": {"kind": "needs", "level": 1, "low": 5}},
     "b.inner.high: got 1.0, expected a number > low"),
])
def test_nested_errors_name_the_full_dotted_key(registry, spec, fragment):
    with pytest.raises(GamesimError) as info:
        fill(Box(), spec, registry, "s.toml", "b", "box")
    assert fragment in str(info.value)


def test_describe_and_allowed_read_the_declaration():
    params = {p.name: p for p in declared(Widget)}
    assert params["rate"].allowed() == "a number > 0 and <= 1"
    assert params["rate"].describe() == "rate (a number > 0 and <= 1; default 0.5): a rate in (0, 1]"
    assert params["count"].describe() == "count (an integer >= 1; default 3): a count"
    assert params["data"].describe().startswith("data (a file path")
    assert "optional" in params["data"].describe()
    assert declared(Needs)[0].describe() == "level (a number; required): required"
    assert "a list of tables naming a widget_kind plugin" in declared(Box)[1].allowed()


def test_registry_refuses_duplicates_naming_both_plugins():
    reg = Registry()
    reg.add("target", Widget, "first-plugin")
    with pytest.raises(GamesimError) as info:
        reg.add("target", Widget, "second-plugin")
    assert "'first-plugin'" in str(info.value) and "'second-plugin'" in str(info.value)
    assert "'widget'" in str(info.value)


def test_registry_refuses_a_class_without_name_or_with_bad_parameters():
    class NoName:
        pass

    class BadParam:
        name = "bad"
        x: complex = gamesim.param(1j)

    reg = Registry()
    with pytest.raises(GamesimError, match="'name'"):
        reg.add("target", NoName, "p")
    with pytest.raises(GamesimError, match="bad"):
        reg.add("target", BadParam, "p")
    assert reg.names("target") == []


def test_registry_lookup_suggests_near_misses():
    reg = Registry()
    reg.add("target", Widget, "p")
    with pytest.raises(GamesimError) as info:
        reg.lookup("target", "widgte", "f.toml", "target.kind")
    assert str(info.value) == ("f.toml: target.kind: unknown target 'widgte' (did you mean "
                               "'widget'?); available: widget")
    with pytest.raises(GamesimError, match="unknown target 3"):
        reg.lookup("target", 3, "f.toml", "target.kind")  # a non-string name is no crash


def test_did_you_mean_and_located():
    assert did_you_mean("normall", ["normal", "uniform"]) == " (did you mean 'normal'?)"
    assert did_you_mean("xyz", ["normal", "uniform"]) == ""
    assert located("f.toml", "a.b", "bad") == "f.toml: a.b: bad"
    assert located("", "a.b", "bad") == "a.b: bad"
    assert located("f.toml", "", "bad") == "f.toml: bad"


def test_errors_form_one_family_with_exit_status_2():
    from gamesim.errors import PluginError, RunDirectoryError
    for cls in (ParameterError, PluginError, RunDirectoryError):
        assert issubclass(cls, GamesimError)
    assert GamesimError.exit_status == 2
    err = ParameterError("k", "msg")
    assert (err.key, err.message, str(err)) == ("k", "msg", "msg")
