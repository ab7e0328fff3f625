"""One writer per run directory: an exclusive lock on ``<run_dir>/.lock`` (``filelock``).

Two ``anobench run --resume`` of one run at once would both run the cells
still to do and store them twice; the second one is refused with one line
naming the process holding the run. The lock is ``filelock``'s (``flock``
where the file system has it, its own marker file where not), so the kernel
drops it when its process dies: a lock file left by a killed run is stale
and simply taken over. Who holds the lock (pid, host, since when) is kept
beside it in ``.lock.holder``, written while holding the lock, for the
message a second writer gets.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from filelock import FileLock, Timeout

from anobench.confine import confined
from anobench.errors import AnobenchError

LOCK = ".lock"
HOLDER = ".lock.holder"
#: Locks held now: a lock is held until released, even when nobody keeps its RunLock
#: (``filelock`` releases a lock its object is collected with).
_HELD: set[RunLock] = set()


class RunLock:
    """One writer per run directory (a non-blocking exclusive lock)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK
        self.holder = Path(run_dir) / HOLDER
        self._lock: FileLock | None = None

    def acquire(self) -> RunLock:
        run_dir = self.path.parent
        confined(run_dir, self.path)  # a planted link would be locked (and removed) through
        confined(run_dir, self.holder)
        lock = FileLock(str(self.path), timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise AnobenchError(
                f"{run_dir}: another anobench process ({_holder(self.holder)}) is writing this "
                "run; wait for it to finish (or stop it) and try again") from None
        except (OSError, NotImplementedError) as exc:  # filelock 3 without flock: the latter
            raise AnobenchError(f"{self.path}: cannot take the run's lock: "
                                f"{getattr(exc, 'strerror', None) or exc}") from None
        self._lock = lock
        _HELD.add(self)
        try:
            self.holder.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                               "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        except OSError:  # the note is for a second writer's message only
            pass
        return self

    def release(self) -> None:
        if self._lock is None:
            return
        for path in (self.holder, self.path):  # while still holding it
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
        self._lock.release()
        self._lock = None
        _HELD.discard(self)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(path: Path) -> str:
    """``pid 123 on host`` from the holder's note, or ``pid unknown``."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {int(info['pid'])} on {info['host']}"
    except (OSError, ValueError, TypeError, KeyError):
        return "pid unknown"
