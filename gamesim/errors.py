"""One error family for everything a user can get wrong: exit status 2, no traceback (1 for
a plugin that fails during a run)."""

import difflib


class GamesimError(Exception):
    """A problem with the user's input: scenario file, plugin parameter, data file or usage."""

    exit_status = 2


class ParameterError(GamesimError):
    """A plugin parameter is invalid; raised by plugins' ``validate`` with the parameter's key.

    The framework prefixes the file and the dotted key of the plugin's table.
    """

    def __init__(self, key, message):
        super().__init__(message)
        self.key = key
        self.message = message


class PluginError(GamesimError):
    """A plugin could not be loaded or registered something invalid."""


class PluginRunError(PluginError):
    """A plugin raised while a run was under way: a fault in the plugin, not in the user's
    input, so the exit status is 1. The message names the plugin, its method and the iteration.
    """

    exit_status = 1


class RunDirectoryError(GamesimError):
    """A run directory given to ``plot`` or ``compare`` is missing, empty or not a gamesim run."""


def did_you_mean(word, choices):
    """Return ' (did you mean 'x'?)' for a near-miss among ``choices``, else ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def located(where, key, message):
    """Format a message naming the file and the dotted key: ``file: key: message``."""
    prefix = f"{where}: " if where else ""
    return f"{prefix}{key}: {message}" if key else f"{prefix}{message}"
