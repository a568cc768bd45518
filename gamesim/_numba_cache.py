"""Keep an unwritable Numba cache location from crashing a run.

Numba raises at import of a ``cache=True`` kernel when NUMBA_CACHE_DIR is set but cannot be
written. Then we point it at a private temporary folder instead: kernels compile once per
process but the run goes on (the warning says why it is slower).
"""

import importlib.util
import os
import sys
import tempfile


def _writable(path):
    """Whether ``path`` could be written: it, or its nearest existing ancestor, takes a file.

    Nothing is created but a temporary file, removed at once.
    """
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    try:
        with tempfile.TemporaryFile(dir=path):
            return True
    except OSError:
        return False


def _default_locations():
    """Where Numba caches without NUMBA_CACHE_DIR: beside the kernels' sources (found without
    importing them), else the user's cache folder."""
    spec = importlib.util.find_spec("gamesim_plugins")
    if spec is not None and spec.submodule_search_locations:
        yield os.path.join(list(spec.submodule_search_locations)[0], "__pycache__")
    yield os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "numba")


_configured = os.environ.get("NUMBA_CACHE_DIR")
if (not _writable(_configured)) if _configured else not any(map(_writable, _default_locations())):
    fallback = os.path.join(tempfile.gettempdir(), f"gamesim-numba-cache-{os.getuid()}")
    os.environ["NUMBA_CACHE_DIR"] = fallback
    print(f"gamesim: warning: the Numba cache location is not writable; caching compiled "
          f"kernels in {fallback!r} instead", file=sys.stderr)
    if "numba" in sys.modules:
        import numba.core.config
        numba.core.config.reload_config()
