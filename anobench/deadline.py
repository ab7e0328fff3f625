"""A time limit for one cell: ``[suite] cell_timeout`` (seconds, 0 = none).

The limit is a real-time timer (``SIGALRM``) that raises :class:`CellTimeout`
in the code running the cell, so the runner records the cell as failed and
goes on. Python code is interrupted at once; a plugin blocked inside native
code (a long torch or BLAS call) is interrupted when that call returns. The
timer needs the main thread of a POSIX process; elsewhere the limit is not
enforced and a warning says so once.
"""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("anobench.deadline")
_warned = False


class CellTimeout(BaseException):
    """A cell ran past ``cell_timeout`` (a BaseException, so plugins' ``except Exception``
    cannot swallow it)."""


@contextmanager
def deadline(seconds: float, what: str = "") -> Iterator[None]:
    """Raise :class:`CellTimeout` in the body if it runs longer than ``seconds`` (0: no limit).

    ``what`` replaces the message (default: the cell ran longer than cell_timeout).
    """
    global _warned
    if not seconds:
        yield
        return
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal,
                                                                                 "setitimer"):
        if not _warned:
            log.warning("cell_timeout = %g s is not enforced here (needs the main thread of a "
                        "POSIX process)", seconds)
            _warned = True
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise CellTimeout(what or f"the cell ran longer than cell_timeout = {seconds:g} s and "
                                  "was stopped")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
