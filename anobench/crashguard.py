"""Crash guard of in-process runs: which cells were running when the process died.

The ``local`` executor runs plugins in anobench's own process, so a crash in
native code (SIGSEGV), ``os._exit`` in a plugin or a kill ends the whole run
without Python getting a word in. Before each unit runs, the runner writes
``<run_dir>/.running.json`` (the unit's cells and the process id) and removes
it when the run ends in Python (finished, an error, Ctrl-C, SIGTERM). A marker
that ``--resume`` finds (it holds the run lock, so the old process is gone)
therefore names the cells that were running when the process died; its cells
already stored are ignored. ``--resume`` runs those cells first, in a separate
worker process (:class:`~anobench.executors.ProcessExecutor`, one job): a cell
that crashes again is recorded as failed with the signal or exit code, and the
resumed run goes on.

With ``watch`` (the command line), a watcher process — a few lines of Python
blocked on a pipe from the run — prints one line naming the cells and the
resume command when the run dies this way.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from anobench.atomic import write_atomic
from anobench.errors import AnobenchError

MARKER = ".running.json"

#: The watcher: EOF on stdin without "done" first means the run died.
_WATCHER = r"""
import json, os, signal, sys
for name in ("SIGINT", "SIGTERM", "SIGHUP"):
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
if sys.stdin.buffer.read() == b"done":
    sys.exit(0)
marker, pid, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    with open(marker, encoding="utf-8") as fh:
        info = json.load(fh)
except (OSError, ValueError):
    info = {}
what = info.get("what") if info.get("pid") == pid else None
where = f" while running {what}" if what else ""
sys.stderr.write(f"anobench: the run (pid {pid}) died{where}; finished cells are stored. "
                 f"Resume with (it runs that cell first in a separate process and records it "
                 f"as failed if it crashes again):\n  {resume}\n")
"""


def describe(cells: list[tuple[str, str]]) -> str:
    """``cell digits/0/0/pca-1a2b (detector 'pca')``, or a count for a cohort."""
    cid, det = cells[0]
    more = f" and {len(cells) - 1} more cell(s) of its cohort" if len(cells) > 1 else ""
    return f"cell {cid} (detector {det!r}){more}"


class CrashGuard:
    """Writes the marker of the unit in progress; optionally starts the watcher."""

    def __init__(self, run_dir: Path, resume_command: str, watch: bool = False) -> None:
        self.path = Path(run_dir) / MARKER
        self._watcher: subprocess.Popen | None = None
        if watch:
            try:
                self._watcher = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _WATCHER, str(self.path),
                     str(os.getpid()), resume_command],
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
            except OSError:  # no watcher: only the message at death is lost
                self._watcher = None

    def track(self, units: Iterable[Any]) -> Iterator[Any]:
        """Yield ``units``, writing each one's marker just before it is handed out."""
        for unit in units:
            self.mark([(t.cid, t.group.name) for t in unit.tasks])
            yield unit

    def mark(self, cells: list[tuple[str, str]]) -> None:
        info = {"pid": os.getpid(), "cells": [c for c, _ in cells], "what": describe(cells)}
        try:
            write_atomic(self.path, json.dumps(info))
        except AnobenchError:  # the guard is a help, never a reason to stop a run
            pass

    def clear(self) -> None:
        """The unit's cells are stored: no cell runs now."""
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        """The run ended in Python: remove the marker, tell the watcher all is well."""
        self.path.unlink(missing_ok=True)
        if self._watcher is not None:
            try:
                self._watcher.communicate(b"done", timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._watcher.kill()
                self._watcher.wait()
            self._watcher = None

    def __enter__(self) -> CrashGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def take_marker(run_dir: Path) -> list[str]:
    """The cells a dead in-process run was running (the marker is removed); ``[]`` if none.

    Call it holding the run lock (:class:`anobench.runlock.RunLock`).
    """
    path = Path(run_dir) / MARKER
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".part").unlink(missing_ok=True)
    cells = info.get("cells") if isinstance(info, dict) else None
    return [c for c in cells if isinstance(c, str)] if isinstance(cells, list) else []
