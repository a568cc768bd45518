"""Plugin parameters: declared once on the class, read by validation, defaults and listings.

A plugin declares each parameter as an annotated class attribute::

    std: float = gamesim.param(1.0, gt=0, help="standard deviation")

Supported annotations: ``float``, ``int``, ``bool``, ``str`` (optionally with ``choices``),
``list[float]`` (a single number is accepted as a one-element list), ``list[str]``,
``pathlib.Path`` (a file named relative to the scenario file's folder; the resolved scenario
holds the absolute path, so a run directory's scenario.toml runs again from anywhere), and
``dict`` or ``list[dict]`` with ``plugin=KIND`` for nested plugin tables such as a mixture's
components.
"""

import dataclasses
import functools
import math
import os
import pathlib
import typing

from . import protocols
from .errors import GamesimError, ParameterError, did_you_mean, located

MISSING = object()
_TYPES = {float: "float", int: "int", bool: "bool", str: "str", list[float]: "float list",
          list[str]: "str list", dict: "table", list[dict]: "table list", pathlib.Path: "path"}


@dataclasses.dataclass(frozen=True)
class Param:
    default: typing.Any = MISSING
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    choices: tuple | None = None
    help: str = ""
    plugin: str | None = None
    keys: tuple = ()
    name: str = ""
    type: str = ""

    @property
    def required(self):
        return self.default is MISSING

    def allowed(self):
        """Human-readable statement of the allowed values, e.g. 'a float > 0'."""
        if self.plugin:
            many = "a list of tables" if self.type == "table list" else "a table"
            return f"{many} naming a {self.plugin} plugin by 'kind'"
        if self.choices:
            listed = ", ".join(repr(c) for c in self.choices)
            return f"a list of strings, each one of {listed}" if self.type == "str list" \
                else f"one of {listed}"
        bounds = [f"{op} {v:g}" for op, v in
                  ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le)) if v is not None]
        noun = {"float": "a number", "int": "an integer", "bool": "true or false",
                "str": "a string", "float list": "a number or a list of numbers",
                "str list": "a list of strings",
                "path": "a file path (relative to the scenario file's folder)"}[self.type]
        return noun + (" " + " and ".join(bounds) if bounds else "")

    def describe(self):
        default = ("required" if self.required else "optional" if self.default is None
                   else f"default {self.default!r}")
        return f"{self.name} ({self.allowed()}; {default}): {self.help}"


def param(default=MISSING, *, gt=None, ge=None, lt=None, le=None, choices=None, help="",
          plugin=None, keys=()):
    """Declare a plugin parameter (use as a class attribute with a type annotation).

    ``plugin`` makes it a nested table naming a plugin of that kind; ``keys`` are extra keys
    such a table may carry for the parent to read from the nested instance's ``config``
    (a mixture component's ``weight``).
    """
    return Param(default, gt, ge, lt, le, tuple(choices) if choices else None, help, plugin,
                 tuple(keys))


@functools.cache  # a sweep validates every point: the type hints are read once a class
def declared(cls):
    """The parameters a plugin class declares, in definition order, with name and type set
    (a tuple: shared by every caller)."""
    hints = typing.get_type_hints(cls)
    found = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Param):
                found[name] = value
    params = []
    for name, p in found.items():
        annotation = hints.get(name, type(p.default) if p.default is not MISSING else float)
        kind = _TYPES.get(annotation)
        if kind is None:
            raise TypeError(f"{cls.__name__}.{name}: unsupported parameter type {annotation!r}")
        params.append(dataclasses.replace(p, name=name, type=kind))
    return tuple(params)


def _check_number(p, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if p.type == "int" and not isinstance(value, int):
        return None
    value = int(value) if p.type == "int" else float(value)
    if not math.isfinite(value):
        return None
    for bound, ok in ((p.gt, lambda b: value > b), (p.ge, lambda b: value >= b),
                      (p.lt, lambda b: value < b), (p.le, lambda b: value <= b)):
        if bound is not None and not ok(bound):
            return None
    return value


def _convert(p, value, registry, where, key, base=None):
    """Check ``value`` against ``p``; return (python value, resolved TOML value). A relative
    path resolves against ``base``, by default the folder of the file ``where``."""
    def bad():
        return GamesimError(located(where, key, f"got {value!r}, expected {p.allowed()}"))

    if p.type in ("float", "int"):
        checked = _check_number(p, value)
        if checked is None:
            raise bad()
        return checked, checked
    if p.type == "float list":
        items = value if isinstance(value, list) else [value]
        checked = [_check_number(dataclasses.replace(p, type="float"), v) for v in items]
        if not items or any(c is None for c in checked):
            raise bad()
        return checked, checked
    if p.type == "str list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad()
        for v in value:
            if p.choices and v not in p.choices:
                raise GamesimError(located(where, key, f"got {v!r}{did_you_mean(v, p.choices)}, "
                                                       f"expected items from {', '.join(p.choices)}"))
        return list(value), list(value)
    if p.type == "path":
        if not isinstance(value, str) or not value:
            raise bad()
        if base is None:
            base = os.path.dirname(os.path.abspath(where)) if where else os.getcwd()
        full = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
        return pathlib.Path(full), full
    if p.type == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value, value
    if p.type == "str":
        if not isinstance(value, str):
            raise bad()
        if p.choices and value not in p.choices:
            raise GamesimError(located(where, key, f"got {value!r}{did_you_mean(value, p.choices)}, "
                                                   f"expected {p.allowed()}"))
        return value, value
    if p.type == "table":
        return build(registry, p.plugin, value, where, key, p.keys, base)
    if not isinstance(value, list) or not value:
        raise bad()
    built = [build(registry, p.plugin, v, where, f"{key}[{i}]", p.keys, base)
             for i, v in enumerate(value)]
    return [b[0] for b in built], [b[1] for b in built]


def build(registry, kind, spec, where, key, reserved=(), base=None):
    """Instantiate the ``kind`` plugin a scenario table names; return (instance, resolved table).

    ``spec`` is a table with a ``kind`` key (or just the plugin's name). Keys listed in
    ``reserved`` belong to the caller: they are copied into the resolved table unchecked.
    Errors name ``where`` (the file) and the dotted ``key``; ``base`` as in :func:`fill`.
    """
    kind_key = key if isinstance(spec, str) else f"{key}.kind"
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict):
        raise GamesimError(located(where, key, f"got {spec!r}, expected a table with a 'kind' "
                                               f"naming a {kind} plugin"))
    if "kind" not in spec:
        raise GamesimError(located(where, f"{key}.kind", f"missing; expected one of "
                                                         f"{', '.join(registry.names(kind))}"))
    cls = registry.lookup(kind, spec["kind"], where, kind_key)
    instance = cls()
    resolved = {"kind": cls.name, **{k: spec[k] for k in reserved if k in spec}}
    fill(instance, {k: v for k, v in spec.items() if k != "kind"}, registry, where, key,
         f"{kind} {cls.name!r}", reserved, resolved, base)
    return instance, resolved


def fill(instance, spec, registry, where, key, what, reserved=(), resolved=None, base=None):
    """Set ``instance``'s declared parameters from ``spec``; return the resolved table.

    Unknown keys (other than ``reserved``) and invalid values raise errors naming ``where``
    and the dotted key; ``instance.validate()``, if defined, checks the parameters together.
    Relative paths resolve against ``base``, by default the folder of the file ``where``.
    """
    resolved = {} if resolved is None else resolved
    params = declared(type(instance))
    names = [p.name for p in params]
    for extra in spec:
        if extra not in names and extra not in reserved:
            allowed = ", ".join(names + list(reserved)) or "none"
            raise GamesimError(located(
                where, f"{key}.{extra}" if key else extra,
                f"unknown key for {what}{did_you_mean(extra, names + list(reserved))}; "
                f"allowed: {allowed}"))
    for p in params:
        pkey = f"{key}.{p.name}" if key else p.name
        if p.name in spec:
            value, resolved[p.name] = _convert(p, spec[p.name], registry, where, pkey, base)
        elif p.required:
            raise GamesimError(located(where, pkey, f"missing; expected {p.allowed()}"))
        elif p.default is None:
            value = None  # an optional table left out: the plugin documents what it does then
        else:
            value, resolved[p.name] = _convert(p, p.default, registry, where, pkey, base)
        setattr(instance, p.name, value)
    if protocols.has(instance, "validate"):
        try:
            instance.validate()
        except ParameterError as err:
            raise GamesimError(located(where, f"{key}.{err.key}" if key else err.key,
                                       err.message)) from None
    instance.config = resolved
    return resolved
