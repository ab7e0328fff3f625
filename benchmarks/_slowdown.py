"""Test-only slowdowns that prove each speed guard can fail.

``ANOBENCH_BENCH_SLOWDOWN="SITE=SECONDS[,SITE=SECONDS...]"`` patches the code
path a guard measures, at the place that path calls it, so that the guard
must fail (``tests/test_guard_failures.py`` runs the bench so and checks the
failure names the guard). Sites:

Each site spends the given seconds of CPU time (a busy loop: the guards
compare CPU time), except ``jobs-dispatch``, which waits (the overlap guard
measures the workers' idle time).

``trainer``
    every loss evaluation of the single-model trainer burns
    (:meth:`anobench.torchstack.training.Objective.__call__`, which
    :func:`~anobench.torchstack.training.fit_model` calls and the cohort path does not);
``cohort``
    every stacked loss evaluation of a cohort burns
    (``anobench.torchstack.cohort._LossModule.forward``, called under ``vmap`` only);
``rules``
    every scoring rule's ``reduce`` burns (once per column and measure);
``runner``
    the runner burns each time it stores a cell (``anobench.runner._store``);
``jobs-dispatch``
    the processes executor waits before taking each unit from the runner, so
    its workers starve (``ProcessExecutor.map``);
``jobs-cpu``
    inside worker processes only, every unit burns that much CPU time before
    it runs (``anobench.unitrun.execute_unit`` as the workers import it).

A bare number (``ANOBENCH_BENCH_SLOWDOWN=2``) means ``trainer=2``, as before.
Nothing here is imported by anobench itself.
"""
from __future__ import annotations

import functools
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

ENV = "ANOBENCH_BENCH_SLOWDOWN"
SITES = ("trainer", "cohort", "rules", "runner", "jobs-dispatch", "jobs-cpu")

_applied: set[str] = set()


def parse(text: str | None) -> dict[str, float]:
    """``"trainer=2,rules=0.1"`` -> ``{"trainer": 2.0, "rules": 0.1}``; a bare number is trainer."""
    text = (text or "").strip()
    if not text:
        return {}
    out: dict[str, float] = {}
    for part in text.split(","):
        site, sep, value = part.strip().rpartition("=")
        site = site if sep else "trainer"
        if site not in SITES:
            raise ValueError(f"{ENV}: unknown site {site!r}; known: {', '.join(SITES)}")
        out[site] = float(value)
    return out


def _sleepy(fn: Callable[..., Any], delay: float) -> Callable[..., Any]:
    """``fn`` spending ``delay`` seconds of CPU first (the guards compare CPU time)."""
    @functools.wraps(fn)
    def slowed(*args: Any, **kwargs: Any) -> Any:
        _burn(delay)
        return fn(*args, **kwargs)

    slowed.__wrapped_by_slowdown__ = True  # type: ignore[attr-defined]
    return slowed


def _burn(seconds: float) -> None:
    """Spend ``seconds`` of this process's CPU time (a busy loop, not a sleep)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def _patch(owner: Any, name: str, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    setattr(owner, name, wrapper(getattr(owner, name)))


def _slow_units(map_fn: Callable[..., Iterator[Any]], delay: float) -> Callable[..., Iterator[Any]]:
    @functools.wraps(map_fn)
    def slowed(self: Any, fn: Callable[[Any], Any], units: Any) -> Iterator[Any]:
        def trickle(it: Any) -> Iterator[Any]:
            for unit in it:
                time.sleep(delay)
                yield unit

        return map_fn(self, fn, trickle(units))

    return slowed


def _burning(fn: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    @functools.wraps(fn)
    def burning(*args: Any, **kwargs: Any) -> Any:
        _burn(seconds)
        return fn(*args, **kwargs)

    return burning


def _slow_trainer(delay: float) -> None:
    from anobench.torchstack.training import Objective

    _patch(Objective, "__call__", lambda f: _sleepy(f, delay))


def _slow_cohort(delay: float) -> None:
    from anobench.torchstack import cohort

    _patch(cohort._LossModule, "forward", lambda f: _sleepy(f, delay))


def _slow_rules(delay: float) -> None:
    from anobench.manager import load_registry

    for spec in load_registry().rules.values():
        owner = next(k for k in type(spec.rule).__mro__ if "reduce" in vars(k))
        if not getattr(owner.reduce, "__wrapped_by_slowdown__", False):
            _patch(owner, "reduce", lambda f: _sleepy(f, delay))


def _slow_runner(delay: float) -> None:
    from anobench import runner

    _patch(runner, "_store", lambda f: _sleepy(f, delay))


def _slow_dispatch(delay: float) -> None:
    from anobench.executors import ProcessExecutor

    _patch(ProcessExecutor, "map", lambda f: _slow_units(f, delay))


def _burning_workers(delay: float) -> None:
    from anobench import unitrun

    _patch(unitrun, "execute_unit", lambda f: _burning(f, delay))


#: site -> (applies in worker processes rather than in the driver, the patch)
_PATCHES: dict[str, tuple[bool, Callable[[float], None]]] = {
    "trainer": (False, _slow_trainer),
    "cohort": (False, _slow_cohort),
    "rules": (False, _slow_rules),
    "runner": (False, _slow_runner),
    "jobs-dispatch": (False, _slow_dispatch),
    "jobs-cpu": (True, _burning_workers),
}
assert tuple(_PATCHES) == SITES


def apply_from_env() -> dict[str, float]:
    """Apply the sites named in the environment (once per process); return them.

    A site applies either in the driver (the process running the bench) or only inside
    worker processes (``jobs-cpu``), never both, so the two sides of a guard differ.
    """
    sites = parse(os.environ.get(ENV))
    in_worker = mp.parent_process() is not None
    for site, delay in sites.items():
        worker_side, patch = _PATCHES[site]
        if site not in _applied and delay > 0 and worker_side == in_worker:
            patch(delay)
            _applied.add(site)
    return sites
