"""One writer per run directory: an exclusive lock on ``<run_dir>/.lock``.

Two ``anobench run --resume`` of one run at once would both run the cells
still to do and store them twice; the second one is refused with a message
naming the process holding the run.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from anobench.confine import confined
from anobench.errors import AnobenchError

LOCK = ".lock"


class RunLock:
    """One writer per run directory: an exclusive ``flock`` on ``<run_dir>/.lock``.

    The file holds the writer's pid, host and start time for the message a
    second writer gets. The kernel drops the lock when its process dies, so a
    lock file left by a killed run is stale and simply taken over.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        confined(self.path.parent, self.path)
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise AnobenchError(f"{self.path}: cannot create the run's lock file: "
                                    f"{exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_lock(fd)
                os.close(fd)
                raise AnobenchError(
                    f"{self.path.parent}: another anobench process ({holder}) is writing this "
                    "run; wait for it to finish (or stop it) and try again") from None
            except OSError:  # no flock on this file system: fall back to the pid in the file
                holder = _read_lock(fd)
                pid, host = _lock_owner(fd)
                if pid and host == socket.gethostname() and pid != os.getpid() and _alive(pid):
                    os.close(fd)
                    raise AnobenchError(f"{self.path.parent}: another anobench process ({holder}) "
                                        "is writing this run; wait for it to finish") from None
            try:  # the file may have been removed by a writer finishing meanwhile: retry
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                      "since": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode(), 0)
            self.fd = fd
            return self
        raise AnobenchError(f"{self.path}: cannot take the run's lock (it keeps changing)")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it
        except OSError:
            pass
        os.close(self.fd)  # drops the flock
        self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_owner(fd: int) -> tuple[int | None, str | None]:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return int(info.get("pid")), str(info.get("host"))
    except (ValueError, TypeError, AttributeError, OSError):
        return None, None


def _read_lock(fd: int) -> str:
    pid, host = _lock_owner(fd)
    return f"pid {pid} on {host}" if pid else "pid unknown"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
