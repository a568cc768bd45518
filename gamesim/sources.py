"""Where a scenario comes from (a file or a dict given in Python) and overrides as the API
takes them: shared by the API and the sweep's workers."""

import copy
import dataclasses
import os

from .errors import GamesimError

DICT_WHERE = "<dict>"  # what messages name for a scenario given as a dict
DICT_NAME = "scenario"  # a dict scenario's default name, as a file's is its stem


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a scenario comes from: a file (``path``), or a table given in Python (``data``)
    whose relative paths resolve against ``base``, the folder current when it was given.
    Picklable: a sweep's workers load their points from it."""

    path: str | None = None
    data: dict | None = None
    base: str | None = None

    @property
    def where(self):
        return self.path if self.path is not None else DICT_WHERE

    def table(self, overrides=()):
        """The scenario table with ``overrides`` applied (a fresh copy on every call)."""
        from . import scenario

        data = scenario.read_toml(self.path) if self.path is not None else \
            copy.deepcopy(self.data)
        return scenario.apply_overrides(data, overrides, self.where)

    def load(self, overrides=(), plugins=(), memory_share=1):
        """The validated :class:`~gamesim.scenario.Scenario`."""
        from . import scenario

        if self.path is not None:
            return scenario.load(self.path, overrides, plugins, memory_share=memory_share)
        return scenario.load(DICT_WHERE, overrides, plugins, memory_share=memory_share,
                             data=copy.deepcopy(self.data), base=self.base)


def source_of(source):
    """A :class:`Source` from a scenario file's path or a dict with a scenario file's keys."""
    if isinstance(source, Source):
        return source
    if isinstance(source, dict):
        data = dict(source)
        if data.get("name") in (None, ""):
            data["name"] = DICT_NAME
        return Source(data=data, base=os.getcwd())
    if isinstance(source, (str, os.PathLike)):
        return Source(path=os.fspath(source))
    raise GamesimError(f"source: got {type(source).__name__} {source!r:.80}, expected a "
                       "scenario file's path or a dict with a scenario file's keys")


def overrides_of(overrides):
    """``overrides`` as scenario.apply_overrides takes them: a dict of dotted keys to Python
    values, or a list of ``KEY=VALUE`` strings whose values are TOML (as ``--set``)."""
    if overrides is None:
        return []
    if isinstance(overrides, dict):
        return list(overrides.items())
    if isinstance(overrides, (list, tuple)) and all(isinstance(o, str) for o in overrides):
        return list(overrides)
    raise GamesimError(f"overrides: got {overrides!r:.80}, expected a dict of dotted keys to "
                       "values, e.g. {'generator.optimizer.lr': 0.5}")
