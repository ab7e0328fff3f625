"""What a parallel run does with its workers, measured in the workers.

The jobs guard runs a suite through :func:`anobench.runner.run_suite` with an
executor whose units are wrapped by :func:`timed_call`: each unit appends
(pid, start, end, CPU seconds) to a file, start/end on the system-wide
monotonic clock. From those intervals:

* :func:`overlap` — while every worker had work (from the last worker's
  first unit to the first worker's last), the fraction of the time every
  worker ran a unit. It falls when the driver starves the workers (units
  built or handed out too slowly, results awaited one by one, a lock), and
  does not move when another process keeps a core busy: both workers then
  run slower but still at the same time.
* CPU seconds per unit once a process is warm (its first unit pays imports
  and first-call costs, reported apart), compared between ``--jobs 2`` and
  ``--jobs 1``: it rises when workers oversubscribe the cores (too many
  threads) or repeat work, which the code controls, unlike wall time.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from _slowdown import apply_from_env

from anobench.executors import LocalExecutor, ProcessExecutor

apply_from_env()  # in a worker process: the worker-side slowdowns of the failure tests


def timed_call(fn: Callable[[Any], Any], log_dir: str, unit: Any) -> Any:
    """Run ``fn(unit)`` and append ``pid start end cpu_seconds`` to ``log_dir/<pid>``."""
    t0, c0 = time.monotonic(), time.process_time()
    result = fn(unit)
    t1, c1 = time.monotonic(), time.process_time()
    with open(Path(log_dir) / str(os.getpid()), "a") as fh:
        fh.write(f"{os.getpid()} {t0!r} {t1!r} {c1 - c0!r}\n")
    return result


class _Timed:
    log_dir: str

    def map(self, fn, units):  # type: ignore[no-untyped-def]
        return super().map(partial(timed_call, fn, self.log_dir), units)  # type: ignore[misc]


class TimedLocal(_Timed, LocalExecutor):
    def __init__(self, log_dir: Path, **kw: Any) -> None:
        super().__init__(**kw)
        self.log_dir = str(log_dir)


class TimedProcesses(_Timed, ProcessExecutor):
    def __init__(self, log_dir: Path, **kw: Any) -> None:
        super().__init__(**kw)
        self.log_dir = str(log_dir)


def read_intervals(log_dir: Path) -> list[tuple[int, float, float, float]]:
    rows = []
    for path in Path(log_dir).iterdir():
        for line in path.read_text().splitlines():
            pid, t0, t1, cpu = line.split()
            rows.append((int(pid), float(t0), float(t1), float(cpu)))
    return rows


def overlap(rows: list[tuple[int, float, float, float]], workers: int) -> float:
    """While every worker had work to do, the share of the time all of them ran a unit.

    The window runs from the moment the last worker started its first unit to the moment
    the first worker finished its last one: outside it, the workers' start-up (spawn,
    imports) and the uneven tail of the last units show, which are not the driver's doing.
    Inside it, a gap means a worker waited for the driver to hand out a unit. No window
    (one worker finished before another started) gives 0.
    """
    per: dict[int, list[tuple[float, float]]] = {}
    for pid, t0, t1, _ in rows:
        per.setdefault(pid, []).append((t0, t1))
    if len(per) < workers:
        return 0.0
    start = max(min(t0 for t0, _ in iv) for iv in per.values())
    end = min(max(t1 for _, t1 in iv) for iv in per.values())
    if end <= start:
        return 0.0
    events = sorted([(max(t0, start), 1) for _, t0, t1, _ in rows if t1 > start and t0 < end]
                    + [(min(t1, end), -1) for _, t0, t1, _ in rows if t1 > start and t0 < end])
    busy_all, running, last = 0.0, 0, start
    for t, step in events:
        if running >= workers:
            busy_all += t - last
        running += step
        last = t
    return busy_all / (end - start)


def warm(rows: list[tuple[int, float, float, float]]) -> list[tuple[int, float, float, float]]:
    """The units after each process's first (which pays the process's imports and warm-up)."""
    first: dict[int, float] = {}
    for pid, t0, _, _ in rows:
        first[pid] = min(first.get(pid, t0), t0)
    return [r for r in rows if r[1] != first[r[0]]]


def cpu_per_unit(rows: list[tuple[int, float, float, float]]) -> float:
    """Mean CPU seconds of a unit."""
    return sum(r[3] for r in rows) / len(rows)
