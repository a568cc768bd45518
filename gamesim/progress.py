"""A one-line progress bar on stderr, shared by the command line and the Python API."""

import sys
import time

from . import interrupts

DELAY = 1.0  # seconds: a short run shows no bar at all


class Progress:
    """Called by the engine with each iteration it reaches; draws ``[####    ] it/total`` on
    stderr once the run has lasted about a second, if ``enabled``. Every call also raises a
    signal the command line held back (see :mod:`gamesim.interrupts`)."""

    def __init__(self, total, enabled):
        self.total, self.enabled = max(total, 1), enabled
        self.start = time.perf_counter()
        self.shown = False

    def __call__(self, it):
        interrupts.check()
        if not self.enabled or time.perf_counter() - self.start < DELAY:
            return
        bar = "#" * int(30 * it / self.total)
        sys.stderr.write(f"\r[{bar:<30}] {it}/{self.total}")
        sys.stderr.flush()
        self.shown = True

    def close(self):
        if self.shown:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()
