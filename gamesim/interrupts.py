"""SIGINT, SIGTERM and SIGHUP as one exception, raised where the main thread is, so the code
that is writing a run directory removes its temporary folder on the way out.

Only the command line installs the handlers (a library leaves a program's signals alone).
``deferred()`` holds a signal back over a few statements that must not be cut in two, such as
renaming a finished run directory into place: the signal is raised when the block ends.
"""

import contextlib
import os
import signal
import sys
import threading
import time

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """The process received one of SIGNALS; the exit status is 128 + its number."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_status = 128 + signum


_held = []      # a signal received inside deferred(), raised when the block ends
_deferring = 0  # nesting depth of deferred() blocks
_received = None  # the first signal received


def _handler(signum, frame):
    global _received
    if _received is not None:  # the first is being handled: cleaning up must not be cut short
        return
    _received = signum
    if _deferring:
        _held.append(signum)
        return
    raise Interrupted(signum)


def _unraisable(info, default=sys.unraisablehook):
    # raised inside a callback whose exceptions Python ignores (a weakref callback during an
    # import, a __del__): held, and raised by the next check() instead of printed
    if isinstance(info.exc_value, Interrupted):
        _held.append(info.exc_value.signum)
    else:
        default(info)


def install():
    """Route SIGINT, SIGTERM and SIGHUP to :class:`Interrupted` (main thread only)."""
    global _received
    _received = None
    _held.clear()
    sys.unraisablehook = _unraisable
    for signum in SIGNALS:
        signal.signal(signum, _handler)


def received():
    """The number of the first signal received since :func:`install`, or None."""
    return _received


def check():
    """Raise a signal that was received but could not be raised where it arrived."""
    if _held and not _deferring:
        raise Interrupted(_held.pop())


@contextlib.contextmanager
def deferred():
    """Hold back a signal until the block has finished; then raise it."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _held:
            raise Interrupted(_held.pop())


def worker_setup():
    """In a worker process of a sweep: die quietly on SIGTERM (the parent terminates its
    workers that way), leave SIGINT and SIGHUP to the parent, and exit when the parent is gone
    (a killed parent cannot terminate them, and a worker waiting for work would wait for ever).
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for signum in SIGNALS:
        if signum != signal.SIGTERM:
            signal.signal(signum, signal.SIG_IGN)
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="gamesim-parent-watch").start()
