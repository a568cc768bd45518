"""Keep freed memory for reuse rather than page-fault it back every iteration.

An iteration allocates a few arrays of N floats and frees the previous iteration's. From
N of about 16384 (128 KiB arrays) glibc serves them by mmap, or from the heap top and gives
the top back to the system once more than twice the array size is free; either way each
iteration touches fresh pages, a page fault per 4 KiB (measured: 240 faults an iteration at
N = 65536, 45% of its time). Raising glibc's mmap threshold to its maximum (32 MiB) and its
trim threshold to 256 MiB keeps the freed blocks in the heap, where the next iteration
reuses them without a fault. The cost is memory the process keeps after a large run
(at most the trim threshold above its peak heap in use); other allocators (macOS, musl) are
left alone.
"""

import ctypes
import ctypes.util
import functools
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024


@functools.cache  # once per process
def retain_freed_memory():
    """Set glibc's thresholds; whether they are in force."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
