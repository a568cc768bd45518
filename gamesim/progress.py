"""A one-line progress bar on stderr (tqdm's), shared by the command line and the Python API."""

import shutil
import sys

from tqdm import tqdm

from . import interrupts

DELAY = 1.0  # seconds: a short run shows no bar at all


class Progress:
    """Called with the count of ``unit`` done (the engine's iteration, a sweep's points);
    draws the bar with its rate and time left on stderr once the work has lasted about a
    second, if ``enabled``, and erases it on :meth:`close`. Every call also raises a signal
    the command line held back (see :mod:`gamesim.interrupts`)."""

    def __init__(self, total, enabled, unit="it"):
        # tqdm draws nothing on a terminal of unknown size (0 x 0, as under `script`);
        # shutil falls back to 80 x 24
        size = shutil.get_terminal_size()
        self.bar = tqdm(total=total, disable=not enabled, delay=DELAY, leave=False, unit=unit,
                        file=sys.stderr, ncols=size.columns, nrows=size.lines)

    def __call__(self, done):
        interrupts.check()
        self.bar.update(done - self.bar.n)

    def close(self):
        self.bar.close()
