"""Memory: the limit a run must fit in, and estimates of what a scenario needs.

The estimates are deliberately generous upper bounds, so that a scenario that cannot fit is
refused with a message before any large array is allocated, instead of ending in NumPy's
raw MemoryError or the kernel's out-of-memory killer half-way through a run.
"""

import os
import re

from .errors import GamesimError

VARIABLE = "GAMESIM_MAX_MEMORY"
# the interpreter with NumPy, Numba, Matplotlib and the plugins: about 100-200 MB resident
BASE_BYTES = 256 * 2 ** 20
# N-cell float64 arrays a run holds at once besides its players' own: the grid, p_data, the
# generator's state, the per-iteration temporaries and the distances' work arrays. Peak RSS
# at N = 10^6 minus that at N = 10^5 measured 8 arrays a cell for the ideal game and 20 for
# the direct route with FFT-MMD; 32 leaves room for other distances and optimizers' state.
ARRAYS_PER_CELL = 32
# arrays per cell and unit of width: the MLP keeps up to four H x N activation caches (peak
# RSS measured 3.5 per hidden unit), logistic features build phi, dphi and two temporaries
ARRAYS_PER_UNIT = 4
# a snapshot keeps p_g and D, each copied once more when stacked for snapshots.npz
ARRAYS_PER_SNAPSHOT = 4
# a recorded row is a Python list of floats: 8 bytes a pointer and 24 a float object, plus
# the list's header and growth (tracemalloc measured 45 bytes a value at 8 columns)
BYTES_PER_VALUE = 48
BYTES_PER_ROW = 64

_UNITS = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "t": 10 ** 12,
          "ki": 2 ** 10, "mi": 2 ** 20, "gi": 2 ** 30, "ti": 2 ** 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]i?)?b?\s*", re.IGNORECASE)
CGROUP_FILES = ("/sys/fs/cgroup/memory.max",                      # cgroup v2
                "/sys/fs/cgroup/memory/memory.limit_in_bytes")    # cgroup v1


def parse_size(text):
    """A byte count from ``text``: a plain number or one with a suffix, 512M, 8G, 1.5GiB
    (K, M, G, T powers of 1000; KiB, MiB, GiB, TiB powers of 1024); None if not a size."""
    match = _SIZE.fullmatch(text)
    if not match:
        return None
    size = float(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    return int(size) if size >= 1 else None


def _physical():
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _cgroup(physical):
    """The cgroup's memory limit in bytes, or None where none is set ("max", or a value no
    smaller than physical memory, which is how cgroup v1 spells no limit)."""
    for name in CGROUP_FILES:
        try:
            with open(name) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < physical:
            return int(text)
    return None


def limit():
    """(bytes, description) of the memory a run may use: GAMESIM_MAX_MEMORY if set, else the
    cgroup's limit where one is set, else physical memory."""
    text = os.environ.get(VARIABLE, "").strip()
    if text:
        size = parse_size(text)
        if size is None:
            raise GamesimError(f"{VARIABLE}={text!r}: expected a size in bytes, a plain number "
                               f"or one with a suffix such as 512M, 8G or 1.5GiB")
        return size, VARIABLE
    physical = _physical()
    cgroup = _cgroup(physical)
    if cgroup is not None:
        return cgroup, "the cgroup's memory limit"
    return physical, "physical memory"


def human(size):
    """A byte count for people: 19 GB, 250 MB (powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size / 1e3:.3g} kB"


def grid_bytes(points):
    """The grid's and a run's own N-cell arrays, with the process's fixed share."""
    return BASE_BYTES + 8 * ARRAYS_PER_CELL * points


def player_width(plugin):
    """N-cell arrays a built-in parametrized player holds per cell, from its parameters:
    the MLP's hidden units, the logistic discriminator's features; 0 for others."""
    width = getattr(plugin, "hidden", 0)
    features = getattr(plugin, "features", None)
    if features is not None:
        width += {"polynomial": getattr(plugin, "degree", 0), "rbf": getattr(plugin, "centres", 0),
                  "fourier": 2 * getattr(plugin, "frequencies", 0)}.get(features, 0)
    return ARRAYS_PER_UNIT * width


def player_bytes(plugin, points):
    """What ``player_width`` arrays cost; an MLP generator evaluates on its nodes, not the
    grid."""
    return 8 * player_width(plugin) * getattr(plugin, "nodes", points)


def snapshot_bytes(count, points):
    return 8 * ARRAYS_PER_SNAPSHOT * count * points


def rows_bytes(rows, columns):
    return rows * (BYTES_PER_ROW + BYTES_PER_VALUE * columns)


def check(need, path, key, what, share=1):
    """Refuse ``need`` bytes beyond the limit divided by ``share`` (runs in parallel): a
    GamesimError naming the file, the key, ``what`` needs it, and the limit's source."""
    size, source = limit()
    allowed = size / share
    if need <= allowed:
        return
    hint = "" if source == VARIABLE else f"; set {VARIABLE} to change it"
    share_text = "" if share == 1 else f"{human(allowed)}, the share of one of {share} runs " \
                                       f"at once of "
    raise GamesimError(f"{path}: {key}: {what} need about {human(need)}, more than "
                       f"{share_text}this machine's memory limit of {human(size)} "
                       f"({source}{hint})")
