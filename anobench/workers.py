"""A pool of worker processes that survives the death of a worker.

:class:`WorkerPool` runs one call at a time in each of ``jobs`` spawned
processes and knows which unit each worker holds. When a worker dies (a
segmentation fault in native code, ``os._exit`` in a plugin, the out-of-memory
killer), the pool reports *that* unit as :class:`WorkerDied` — with the exit
code or signal — starts a fresh worker in its place and goes on; the other
workers are not disturbed. ``concurrent.futures.ProcessPoolExecutor`` cannot do
this: one dead worker breaks the whole pool and fails every unit in flight.

Workers ignore SIGINT, SIGTERM and SIGHUP (the driver decides when they stop,
and stops them with SIGKILL), and end themselves within half a second when the
driver dies, however it dies: no worker outlives its run.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

#: How often a worker checks that its driver is still alive (seconds).
PARENT_POLL_S = 0.5
#: Workers that die before taking their unit, in a row, before the pool gives up.
MAX_START_FAILURES = 3


@dataclass(frozen=True)
class WorkerDied:
    """The result of a unit whose worker process died while running it."""

    reason: str  # e.g. "the worker process was killed by signal 11 (SIGSEGV)"

    def __str__(self) -> str:
        return self.reason


class PoolError(RuntimeError):
    """The pool cannot go on (workers die at start, a unit cannot be sent)."""


def death_reason(exitcode: int | None, what: str = "the worker process") -> str:
    """``exitcode`` of a dead process in words (negative: the signal that killed it)."""
    if exitcode is None:
        return f"{what} ended without an exit status"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        hint = " (out of memory?)" if -exitcode == getattr(signal, "SIGKILL", 9) else ""
        return f"{what} was killed by signal {-exitcode} ({name}){hint}"
    return f"{what} exited with code {exitcode} (os._exit or a crash in native code)"


def _exit_with_parent(parent: int) -> None:
    """End this process (SIGKILL) as soon as the process that started it is gone.

    On Linux the kernel does it (``prctl(PR_SET_PDEATHSIG)``: at once, even while
    a native call holds the GIL); elsewhere, and as a second line, a thread
    polls the parent every :data:`PARENT_POLL_S` seconds.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the thread below
            pass
    if os.getppid() != parent:  # the parent died before this worker got here
        os.kill(os.getpid(), signal.SIGKILL)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="anobench-parent-watch", daemon=True).start()


def _worker_main(conn: Connection, parent: int, init: Callable[..., None] | None,
                 initargs: tuple) -> None:
    """A worker: receive ``(fn, unit)``, acknowledge, send back ``(ok, value)``; ``None`` stops."""
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, signal.SIG_IGN)
    _exit_with_parent(parent)
    if init is not None:
        init(*initargs)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a plugin module this worker lacks
            conn.send(("started", None))
            conn.send(("raised", exc))
            continue
        if msg is None:
            return
        fn, unit = msg
        conn.send(("started", None))
        try:
            out: tuple[str, Any] = ("ok", fn(unit))
        except BaseException as exc:  # noqa: BLE001 - reported to the driver, which raises it
            out = ("raised", exc)
        try:
            conn.send(out)
        except Exception as exc:  # noqa: BLE001 - a result or exception that does not pickle
            conn.send(("raised", RuntimeError(f"the result could not be sent back: "
                                              f"{type(exc).__name__}: {exc}")))


class _Worker:
    def __init__(self, ctx: Any, slot: int, init: Callable[..., None] | None,
                 initargs: tuple) -> None:
        self.slot = slot
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, name=f"anobench-worker-{slot}",
                                args=(child, os.getpid(), init, (slot, *initargs)))
        self.proc.start()
        child.close()
        self.unit: Any = None
        self.busy = False  # holds a unit
        self.started = False  # the worker acknowledged its unit (the unit runs)

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the worker to finish; kill it if it does not within ``timeout``."""
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class WorkerPool:
    """``jobs`` spawned worker processes, one unit at a time each; dead workers replaced.

    ``init(slot, *initargs)`` runs first in every worker (slot: 0 … jobs-1; a
    worker started in place of a dead one takes its slot). Use :meth:`submit`
    while :attr:`idle`, then :meth:`results`; units in :attr:`resend` (their
    worker died before starting them) must be submitted again.
    """

    def __init__(self, jobs: int, init: Callable[..., None] | None = None,
                 initargs: tuple = ()) -> None:
        self._ctx = mp.get_context("spawn")
        self._init, self._initargs = init, initargs
        self.workers = [_Worker(self._ctx, k, init, initargs) for k in range(jobs)]
        self.resend: deque[Any] = deque()
        self._start_failures = 0

    @property
    def idle(self) -> int:
        return sum(not w.busy for w in self.workers)

    @property
    def busy(self) -> int:
        return len(self.workers) - self.idle

    def _replace(self, w: _Worker) -> _Worker:
        w.kill()
        new = _Worker(self._ctx, w.slot, self._init, self._initargs)
        self.workers[self.workers.index(w)] = new
        return new

    def _started_badly(self, code: int | None) -> None:
        self._start_failures += 1
        if self._start_failures >= MAX_START_FAILURES:
            raise PoolError(f"workers die before taking any work ({death_reason(code)})")

    def submit(self, fn: Callable[[Any], Any], unit: Any) -> None:
        """Hand ``unit`` to an idle worker (there must be one)."""
        w = next(w for w in self.workers if not w.busy)
        try:
            payload = pickle.dumps((fn, unit), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - a bug of the caller
            raise PoolError(f"a unit cannot be sent to a worker: {type(exc).__name__}: "
                            f"{exc}") from exc
        while True:
            try:
                w.conn.send_bytes(payload)
                w.unit, w.busy, w.started = unit, True, False
                return
            except OSError:  # the idle worker is gone: start another
                w.proc.join(1)
                self._started_badly(w.proc.exitcode)
                w = self._replace(w)

    def results(self) -> list[tuple[Any, str, Any]]:
        """Wait until some worker finishes or dies; ``(unit, kind, value)`` for each.

        ``kind`` is ``"ok"`` (value: the result), ``"raised"`` (value: the
        exception the function raised) or ``"died"`` (value: :class:`WorkerDied`).
        A worker that dies before acknowledging its unit is replaced and the
        unit put in :attr:`resend` (it did not run).
        """
        by_handle: dict[Any, _Worker] = {}
        for w in self.workers:
            if w.busy:
                by_handle[w.conn] = w
                by_handle[w.proc.sentinel] = w
        out: list[tuple[Any, str, Any]] = []
        for handle in wait(list(by_handle)) if by_handle else ():
            w = by_handle[handle]
            if not w.busy or w not in self.workers:
                continue  # seen through its other handle
            try:
                msg = w.conn.recv() if w.conn.poll() else None
            except (EOFError, OSError):
                msg = None
            if msg is not None and msg[0] == "started":
                w.started = True
                self._start_failures = 0
            elif msg is not None:
                unit, w.unit, w.busy = w.unit, None, False
                out.append((unit, msg[0], msg[1]))
            else:  # the process ended, or its pipe closed as it ends
                out.extend(self._dead(w))
        return out

    def _dead(self, w: _Worker) -> list[tuple[Any, str, Any]]:
        w.proc.join(5)
        unit, started, code = w.unit, w.started, w.proc.exitcode
        w.unit, w.busy = None, False
        self._replace(w)
        if started:
            return [(unit, "died", WorkerDied(death_reason(code)))]
        self._started_badly(code)
        self.resend.append(unit)
        return []

    def close(self, *, kill: bool = False) -> None:
        """Stop every worker (``kill``: at once, without waiting for their units)."""
        for w in self.workers:
            if kill:
                w.kill()
            else:
                w.stop()
        self.workers = []
