"""Executors: where the runner's work units run.

The runner cuts a suite into *work units* — one cell, or a cohort of cells
that train together — and hands them to an executor. The executor calls a
function on each unit, possibly in other processes or on other machines, and
yields the results back to the driver as they finish. Only the driver writes
the result store; an executor never touches it.

The interface (all an executor plugin implements)::

    class MyExecutor(Executor):
        name = "my-executor"

        def __init__(self, *, jobs: int = 1, devices: Sequence[str] = ()) -> None: ...

        def map(self, fn, units):
            # call fn(unit) for every unit of the iterable (consume it lazily:
            # the runner builds units, with their data, as they are asked
            # for), and yield (unit, fn(unit)) pairs in any order
            ...

        def close(self) -> None: ...    # optional: release workers

* ``fn`` is a module-level function and ``units`` are picklable; results are
  picklable too. ``fn`` records a failing plugin in its result rather than
  raising, so an exception out of ``fn`` is a failure of the executor
  itself: ``map`` raises it and the run stops, with the finished cells
  stored (``--resume`` continues).
* A worker that dies while running a unit (a crash in native code,
  ``os._exit``, a signal) is the unit's failure, not the executor's: ``map``
  yields ``(unit, WorkerDied("... killed by signal 11 (SIGSEGV)"))`` in place
  of the result, and the runner records the unit's cells as failed. An
  executor that cannot tell may raise instead (the run stops, resumable).
* ``jobs`` is how many units may run at once (``--jobs``).
* ``devices`` lists CUDA device indices to share out among workers (several
  GPUs); empty on CPU or with one GPU. A worker bound to one device sees it
  as ``cuda`` (``CUDA_VISIBLE_DEVICES``), so units keep saying ``"cuda"``.

Register one with the ``anobench_register_executors`` hook::

    @hookimpl
    def anobench_register_executors(registry):
        registry.add_executor("my-executor", MyExecutor)

Built in: ``local`` (in this process, one unit after another; a crash there
ends the run, see :mod:`anobench.crashguard`) and ``processes`` (``jobs``
worker processes of this machine, started with *spawn*, each limited to
``cores // jobs`` threads; a dead worker is replaced).
"""
from __future__ import annotations

import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar

from anobench.errors import AnobenchError
from anobench.workers import PoolError, WorkerPool
from anobench.workers import WorkerDied as WorkerDied  # for executor plugins


class ExecutorError(AnobenchError):
    """An executor failed (a worker died or the work function raised)."""

    exit_code = 1


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def positive_or_auto(flag: str, value: str | int) -> int | None:
    """A command-line count: a positive integer, or ``None`` for ``"auto"``."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return None
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise AnobenchError(f"{flag}: expected a positive integer or 'auto', got {value!r}")
    return count


#: Most work units run at once (``--jobs``): more would only queue up behind the cores
#: (and a huge count stalled ``processes`` at exit).
MAX_JOBS = 1024


def check_jobs(jobs: int) -> int:
    """``jobs`` if it is in ``[1, MAX_JOBS]``; else :class:`AnobenchError` naming ``--jobs``."""
    if not 1 <= jobs <= MAX_JOBS:
        raise AnobenchError(f"--jobs: at most {MAX_JOBS} work units at once (and at least 1), "
                            f"got {jobs}")
    return jobs


def parse_jobs(value: str | int) -> int:
    """``--jobs``: a positive integer up to :data:`MAX_JOBS`, or ``"auto"`` (the cores)."""
    jobs = positive_or_auto("--jobs", value)
    return min(available_cores(), MAX_JOBS) if jobs is None else check_jobs(jobs)


class Executor:
    """Base class of executors (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    #: units run in the driver's own process (a crash there ends the run)
    in_process: ClassVar[bool] = False

    def __init__(self, *, jobs: int = 1, devices: Sequence[str] = ()) -> None:
        self.jobs = check_jobs(int(jobs))
        self.devices = tuple(str(d) for d in devices)

    def map(self, fn: Callable[[Any], Any], units: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(unit, fn(unit))`` for every unit, in any order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (called once the run is over, also after an error)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """Run every unit in this process, one after another (jobs is ignored)."""

    name = "local"
    in_process = True

    def map(self, fn, units):
        for unit in units:
            yield unit, fn(unit)


def _worker_init(slot: int, devices: tuple[str, ...], threads: int,
                 log_level: int | None = None) -> None:
    """Bind a fresh worker to a device slot and a thread budget (before torch starts)."""
    if log_level is not None:  # the driver logs (e.g. training progress): so do workers
        logging.basicConfig(level=log_level, format="%(message)s", stream=sys.stderr)
    if devices:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[slot % len(devices)]
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["ANOBENCH_WORKER"] = str(slot)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass
    if "torch" in sys.modules:  # otherwise torch reads OMP_NUM_THREADS when it starts
        sys.modules["torch"].set_num_threads(threads)


class ProcessExecutor(Executor):
    """Run units in jobs worker processes of this machine (spawned).

    Workers are started with *spawn* (safe with CUDA and with torch's thread
    pools), each limited to ``max(1, cores // jobs)`` threads; with several
    CUDA devices, worker ``k`` sees device ``devices[k % len(devices)]`` only.
    At most ``2·jobs`` units are taken from the iterable ahead of their results,
    so the runner builds unit data only shortly before it is needed. A worker
    that dies (a crash in native code, ``os._exit``, a signal) yields its unit
    with a :class:`~anobench.workers.WorkerDied` and is replaced
    (:class:`~anobench.workers.WorkerPool`); no worker outlives the run.
    """

    name = "processes"

    def __init__(self, *, jobs: int = 1, devices: Sequence[str] = ()) -> None:
        super().__init__(jobs=jobs, devices=devices)
        self._pool: WorkerPool | None = None

    def _start(self) -> WorkerPool:
        threads = max(1, available_cores() // self.jobs)
        root = logging.getLogger()
        level = root.getEffectiveLevel() if root.handlers else None
        self._pool = WorkerPool(self.jobs, _worker_init, (self.devices, threads, level))
        return self._pool

    def map(self, fn, units):
        pool = self._pool or self._start()
        ahead: deque[Any] = deque()  # taken from the iterable, not yet handed to a worker
        source = iter(units)
        exhausted = False
        while True:
            while not exhausted and len(ahead) + pool.busy < 2 * self.jobs:
                try:
                    ahead.append(next(source))
                except StopIteration:
                    exhausted = True
            try:
                while pool.idle and (pool.resend or ahead):
                    pool.submit(fn, pool.resend.popleft() if pool.resend else ahead.popleft())
                if not pool.busy:
                    return
                done = pool.results()
            except PoolError as exc:
                raise ExecutorError(f"executor 'processes': {exc}") from exc
            for unit, kind, value in done:
                if kind == "raised":
                    raise ExecutorError(f"executor 'processes': a worker failed: "
                                        f"{type(value).__name__}: {value}") from value
                yield unit, value

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __exit__(self, exc_type: object = None, *rest: object) -> None:
        if exc_type is not None and self._pool is not None:
            # interrupted or failed: do not wait for units still running
            self._pool.close(kill=True)
            self._pool = None
        self.close()


#: The executors anobench itself provides (registered before any plugin's).
BUILTIN_EXECUTORS: dict[str, type[Executor]] = {
    LocalExecutor.name: LocalExecutor,
    ProcessExecutor.name: ProcessExecutor,
}
