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
  raising, so an exception out of ``fn`` (or a dead worker) is a failure of
  the executor itself: ``map`` raises it and the run stops, with the
  finished cells stored (``--resume`` continues).
* ``jobs`` is how many units may run at once (``--jobs``).
* ``devices`` lists CUDA device indices to share out among workers (several
  GPUs); empty on CPU or with one GPU. A worker bound to one device sees it
  as ``cuda`` (``CUDA_VISIBLE_DEVICES``), so units keep saying ``"cuda"``.

Register one with the ``anobench_register_executors`` hook::

    @hookimpl
    def anobench_register_executors(registry):
        registry.add_executor("my-executor", MyExecutor)

Built in: ``local`` (in this process, one unit after another) and
``processes`` (``jobs`` worker processes of this machine, started with
*spawn*, each limited to ``cores // jobs`` threads).
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, ClassVar

from anobench.errors import AnobenchError


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

    def map(self, fn, units):
        for unit in units:
            yield unit, fn(unit)


def _worker_init(slots: Any, devices: tuple[str, ...], threads: int,
                 log_level: int | None = None) -> None:
    """Bind a fresh worker to a device slot and a thread budget (before torch starts)."""
    if log_level is not None:  # the driver logs (e.g. training progress): so do workers
        logging.basicConfig(level=log_level, format="%(message)s", stream=sys.stderr)
    slot = slots.get()
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
    At most ``2·jobs`` units are in flight, so the runner builds unit data
    only shortly before it is needed.
    """

    name = "processes"

    def __init__(self, *, jobs: int = 1, devices: Sequence[str] = ()) -> None:
        super().__init__(jobs=jobs, devices=devices)
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        ctx = mp.get_context("spawn")
        slots = ctx.Queue()
        for k in range(self.jobs):
            slots.put(k)
        threads = max(1, available_cores() // self.jobs)
        root = logging.getLogger()
        level = root.getEffectiveLevel() if root.handlers else None
        self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx,
                                         initializer=_worker_init,
                                         initargs=(slots, self.devices, threads, level))
        return self._pool

    def map(self, fn, units):
        pool = self._pool or self._start()
        pending: dict[Future, Any] = {}
        source = iter(units)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * self.jobs:
                try:
                    unit = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pending[pool.submit(fn, unit)] = unit
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                unit = pending.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:
                    raise ExecutorError(f"executor 'processes': a worker failed: "
                                        f"{type(exc).__name__}: {exc}") from exc
                yield unit, result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None and self._pool is not None:
            # interrupted or failed: do not wait for units still running
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.terminate()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.close()


#: The executors anobench itself provides (registered before any plugin's).
BUILTIN_EXECUTORS: dict[str, type[Executor]] = {
    LocalExecutor.name: LocalExecutor,
    ProcessExecutor.name: ProcessExecutor,
}
