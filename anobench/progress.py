"""The progress of a run: a live bar on a terminal, one line per cell elsewhere.

On a terminal, :class:`Progress` shows a tqdm bar (cells stored of those to
run, elapsed time, ETA); each cell's line and every message is written above
it, and so are log lines (the trainers' progress), so the bar stays whole.
Anywhere else (a pipe, a file, CI) it writes the line log: one line per
stored cell, ``[k/total] ... | elapsed H:MM:SS ETA H:MM:SS``.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import time
from types import TracebackType
from typing import Any, TextIO

from anobench.escape import TerminalStream, terminal


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or closed
        return False


def clock(seconds: float) -> str:
    """``H:MM:SS``."""
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """Cells stored out of ``total``; use as a context manager (it closes the bar).

    ``bar``: draw a live bar (default: when ``stream`` is a terminal).
    Every text goes through :func:`anobench.escape.terminal` (labels and
    class names are user text).
    """

    def __init__(self, stream: TextIO, total: int, *, bar: bool | None = None) -> None:
        self.stream = stream
        self.out = TerminalStream(stream)
        self.total = total
        self.stored = 0
        self.failed = 0
        self.start = time.perf_counter()
        self._bar: Any = None
        self._logs = contextlib.ExitStack()
        if bar if bar is not None else is_terminal(stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=stream, unit="cell", desc="cells",
                             dynamic_ncols=True, leave=True)
            self._logs.enter_context(_logs_above(self._bar))

    def note(self, text: str) -> None:
        """A message line (above the bar on a terminal)."""
        if self._bar is not None:
            self._bar.write(terminal(text), file=self.stream)
        else:
            print(text, file=self.out, flush=True)

    def cell(self, text: str, failed: bool = False) -> None:
        """One cell stored: ``[k/total] text``, with elapsed time and ETA in the line log."""
        self.stored += 1
        self.failed += failed
        line = f"[{self.stored}/{self.total}] {text}"
        if self._bar is not None:
            self._bar.write(terminal(line), file=self.stream)
            self._bar.update(1)
            return
        if not failed:
            elapsed = time.perf_counter() - self.start
            eta = elapsed / self.stored * (self.total - self.stored)
            line += f" | elapsed {clock(elapsed)} ETA {clock(eta)}"
        print(line, file=self.out, flush=True)

    def close(self) -> None:
        self._logs.close()
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@contextlib.contextmanager
def _logs_above(bar: Any) -> Any:
    """Log lines to the console go above the bar while it is shown (when logging has a
    console handler; none is added)."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    console = [h for h in logging.root.handlers if isinstance(h, logging.StreamHandler)
               and h.stream in (sys.stdout, sys.stderr)]
    if not console:
        yield
        return
    with logging_redirect_tqdm(tqdm_class=type(bar)):
        yield
