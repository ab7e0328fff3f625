"""The plan of a suite: its cells, trainings and work units, and an estimated time.

``anobench plan SUITE`` (and ``anobench run`` as it starts) takes a suite
as a run does — checked and expanded into its cells by
:func:`anobench.prepare.prepare_run`, cut into work units by
:func:`anobench.units.cut_units` — and estimates how long its cells take on
the device the run would use, from real work timed here and now:

* a detector trained in epochs (one with ``fit_cost``,
  :meth:`anobench.api.Detector.fit_cost`) times a few real training steps at
  its batch size on samples of the data (once per sample shape), in a cohort
  of the size the run uses. A work unit costs set-up + epochs × (training
  steps × step time + validation batches × batch time) + test samples ×
  scoring time, with the epochs between the fewest the schedule allows
  (early stopping: patience + 1) and the most (``max_epochs``): the range.
* any other detector is fitted for real on 256 training samples of the
  first class of the first dataset of each sample shape, then on 4 times
  more (at most all of them) while a fit takes under a second (a second fit
  unless the first took 30 s; a fit under 2 s is timed twice, the quicker
  kept), and scores up to 1,024 test samples. A fit on n samples is taken
  as t·(n/m)^k from the last fit (m samples, t seconds), with k from the last
  two fits clamped to [0, 3] and k ± 0.5 giving the range (k from 1 to 2
  after a single fit); scoring a sample costs from what was timed up to
  that × n/m (models that compare a sample with their training data).
  ``anobench run``'s start estimate leaves these out (it fits no detector
  before its cells: a plugin that crashes or hangs in ``fit`` would end or
  stall the run there, and again at every ``--resume``); their time shows
  in the progress's ETA.

The range is for one job (``--jobs 1``) on the machine as it is loaded now;
splitting data, metrics and writing records are not timed. A model whose
timing fails, exits or takes over two minutes (or ``cell_timeout``) is said
to be not estimated; the rest is planned.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anobench.api import FitCost, LabeledData
from anobench.capabilities import capabilities_of
from anobench.deadline import CellTimeout, deadline
from anobench.drawscore import draw_size, rules_of
from anobench.prepare import PreparedRun, prepare_run
from anobench.protocol import normal_key, test_set_sizes, train_val_split
from anobench.registry import Registry
from anobench.suite import Suite
from anobench.units import (
    Cell, CohortSizeError, ModelGroup, cell_seeds, cut_units, instantiate,
)

#: Training samples of the first timed fit of a detector without ``fit_cost``; each next
#: fit takes 4 times more (at most all of them) while the last took under LADDER_SECONDS.
FIT_START = 256
LADDER_SECONDS = 1.0
#: ... but a second fit is made unless the first took longer than this (k needs two).
SLOW_FIT = 30.0
#: Fits quicker than this are timed twice, and the quicker time kept.
QUICK_FIT = 2.0
#: Test samples scored when timing a detector without ``fit_cost``.
SCORE_ROWS = 1024
#: Seconds the timing of one model may take (or the suite's cell_timeout, if shorter).
TIMING_LIMIT = 120.0
#: Above this many seconds on a CPU, plan and run print a warning.
WARN_CPU_SECONDS = 3600.0


@dataclass(frozen=True)
class ClassSizes:
    """The data one cell of a (dataset, class) sees: training, validation and test samples."""

    n_train: int
    n_val: int
    n_test: int


@dataclass
class ModelPlan:
    """One model of the suite (a detector config group): its share of the work and time."""

    model: str
    labels: str
    cells: int = 0
    trainings: int = 0  # cells trained in epochs
    units: int = 0
    low: float = 0.0
    high: float = 0.0
    how: str = ""
    error: str = ""  # why it could not be estimated ("" when it was)


@dataclass
class Plan:
    """What a run of a suite would do, and how long it is estimated to take."""

    suite: str
    path: str
    device: str
    datasets: int
    classes: int
    repetitions: int
    cells: int
    done: int
    models: list[ModelPlan] = field(default_factory=list)
    load_seconds: float = 0.0  # loading the data (counted in the estimate)
    timing_seconds: float = 0.0  # what the timed steps and fits took
    busy: str = ""  # the machine's load while timing, in words ("" where unknown)

    @property
    def trainings(self) -> int:
        return sum(m.trainings for m in self.models)

    @property
    def units(self) -> int:
        return sum(m.units for m in self.models)

    @property
    def low(self) -> float:
        return self.load_seconds + sum(m.low for m in self.models)

    @property
    def high(self) -> float:
        return self.load_seconds + sum(m.high for m in self.models)

    @property
    def complete(self) -> bool:
        return not any(m.error for m in self.models)


# ------------------------------------------------------------------ timing


@dataclass(frozen=True)
class _Scaled:
    """A detector without ``fit_cost``: real fits timed on ``m`` samples, scaled to ``n``."""

    m: int
    fit_seconds: float
    k: tuple[float, float]
    score_per_row: float
    how: str

    def cell(self, sizes: ClassSizes) -> tuple[float, float]:
        r = sizes.n_train / self.m
        fits = sorted(self.fit_seconds * r ** k for k in self.k)
        score = self.score_per_row * sizes.n_test
        return fits[0] + score, fits[1] + score * max(1.0, r)


def _time_fits(group: ModelGroup, X: np.ndarray, X_val: np.ndarray | None, X_test: np.ndarray,
               device: str | None) -> _Scaled:
    n = len(X)
    rows = X_test[:SCORE_ROWS]

    def fit(m: int, again: bool = True) -> tuple[float, Any]:
        det = instantiate(group, 0, device)
        t0 = time.perf_counter()
        det.fit(X[:m], None if X_val is None else X_val[:max(1, m // 4)])
        seconds = time.perf_counter() - t0
        if again and seconds < QUICK_FIT:  # the less disturbed of two (a busy machine)
            return min(seconds, fit(m, False)[0]), det
        return seconds, det

    fit(min(n, 64), False)[1].score(rows[:16])  # warm-up: imports, first calls
    timed: list[tuple[int, float, Any]] = []
    m = min(n, FIT_START)
    while True:  # up the ladder while fits are quick: small fits hide how a fit grows
        timed.append((m, *fit(m)))
        seconds = timed[-1][1]
        if m >= n or seconds >= (SLOW_FIT if len(timed) < 2 else LADDER_SECONDS):
            break
        m = min(n, m * 4)
    m, f, det = timed[-1]
    t0 = time.perf_counter()
    det.score(rows)
    per_row = (time.perf_counter() - t0) / len(rows)
    sizes = " and ".join(f"{s:,} ({_secs(t)})" for s, t, _ in timed[-2:])
    if len(timed) >= 2 and timed[-2][1] > 0 and f > 0:
        m1, f1 = timed[-2][:2]
        k = min(3.0, max(0.0, math.log(f / f1) / math.log(m / m1)))
        ks = (max(0.0, k - 0.5), min(3.0, k + 0.5))
    else:
        ks = (1.0, 2.0)
    how = (f"fits on {sizes} training samples: a fit on n samples is taken as "
           f"{_secs(f)}·(n/{m:,})^k, k {ks[0]:.1f}–{ks[1]:.1f}; scoring took "
           f"{_secs(per_row * 1e3)} per 1,000 test samples")
    return _Scaled(m, f, ks, per_row, how)


def _unit_seconds(cost: FitCost, sizes: ClassSizes, members: int) -> tuple[float, float]:
    epoch = (math.ceil(sizes.n_train / cost.batch_size) * cost.step_seconds
             + math.ceil(sizes.n_val / cost.batch_size) * cost.eval_seconds)
    score = members * sizes.n_test * cost.score_seconds_per_row
    return (cost.setup_seconds + cost.epochs[0] * epoch + score,
            cost.setup_seconds + cost.epochs[1] * epoch + score)


def _cost_how(cost: FitCost, device: str, n_samples: int | None) -> str:
    cohort = f" for a cohort of {cost.members}" if cost.members > 1 else ""
    draw = f" (posterior draw of L = {n_samples})" if n_samples is not None else ""
    return (f"training steps timed at batch {cost.batch_size}{cohort} on {device}: "
            f"{_secs(cost.step_seconds)} a step, {_secs(cost.eval_seconds)} a validation batch; "
            f"epochs {cost.epochs[0]}–{cost.epochs[1]} (the schedule's fewest and most); scoring "
            f"{_secs(cost.score_seconds_per_row * 1e3)} per 1,000 test samples{draw}")


# ------------------------------------------------------------------ the plan


def class_sizes(suite: Suite, datasets: dict[str, LabeledData]
                ) -> dict[tuple[str, str], tuple[ClassSizes, np.ndarray, np.ndarray | None]]:
    """Per (dataset label, class key): the sizes a cell sees, and its training/validation data."""
    out = {}
    for entry in suite.datasets:
        data = datasets[entry.label]
        for normal in entry.classes or data.classes:
            nk = normal_key(normal)
            X, X_val = train_val_split(data, normal, suite.val_fraction,
                                       cell_seeds(suite.seed, entry.label, nk, 0)["split"])
            normals, anomalies, _ = test_set_sizes(data, normal, entry.anomalies,
                                                   entry.anomaly_ratio)
            sizes = ClassSizes(len(X), 0 if X_val is None else len(X_val), normals + anomalies)
            out[(entry.label, nk)] = (sizes, X, X_val)
    return out


def make_plan(prepared: PreparedRun, cells: list[Cell] | None = None, *, done: int = 0,
              cohort_size: int | None = None, fits: bool = True) -> Plan:
    """The plan of ``cells`` (default: every cell; a run passes those still to run) on the
    prepared run's device, with real work timed now; ``cohort_size`` is ``--cohort-size``.

    ``fits``: time detectors without ``fit_cost`` by fitting them for real
    (``anobench plan``). A run's start estimate does not: there a crashing or
    hanging plugin would end or stall the run before its first cell (and
    again at every ``--resume``); they are left not estimated, and their time
    shows in the progress's ETA as their cells finish.
    """
    start = time.perf_counter()
    suite, datasets = prepared.suite, prepared.datasets
    cells = prepared.cells if cells is None else cells
    plan = Plan(suite.name, suite.path, prepared.device or "cpu", len(suite.datasets),
                prepared.classes, suite.repetitions, len(cells) + done, done)
    models = {g.key: ModelPlan(g.key, ", ".join(dict.fromkeys(c.label for c in g.configs)))
              for g in prepared.groups}
    plan.models = list(models.values())
    sizes = class_sizes(suite, datasets)
    costs: dict[tuple, FitCost | _Scaled | Exception] = {}
    limit = min(TIMING_LIMIT, suite.cell_timeout or TIMING_LIMIT)
    for (label, nk), block in itertools.groupby(cells, key=lambda c: c.block):
        cs, X, X_val = sizes[(label, nk)]
        for unit, problem in cut_units(block, lambda c: c.group, plan.device, X.shape[1:],
                                       cohort_size):
            group = unit[0].group
            n_draw = _draw_samples(group, prepared.registry)
            key = (group.key, X.shape[1:], len(unit), n_draw)  # the first dataset of a shape
            if key not in costs:
                costs[key] = CohortSizeError(problem) if problem else _calibrate(
                    group, X, X_val, datasets[label].X_test, prepared.device, len(unit), n_draw,
                    limit, fits)
            _add_unit(models, unit, costs[key], cs, plan.device, n_draw)
    plan.timing_seconds = time.perf_counter() - start
    plan.busy = _busy()
    return plan


def _add_unit(models: dict[str, ModelPlan], unit: tuple[Cell, ...],
              cost: FitCost | _Scaled | Exception, sizes: ClassSizes, device: str,
              n_draw: int | None) -> None:
    """Count one work unit's cells and time into its models' plans."""
    mp = models[unit[0].group.key]
    mp.units += 1
    low = high = 0.0
    if isinstance(cost, NotFitted):
        mp.error = f"not estimated: {cost}"
    elif isinstance(cost, Exception):
        mp.error = f"not estimated: {type(cost).__name__}: {cost}"
    elif isinstance(cost, FitCost):
        low, high = (x / len(unit) for x in _unit_seconds(cost, sizes, len(unit)))
        mp.how = mp.how or _cost_how(cost, device, n_draw)
    else:
        low, high = cost.cell(sizes)
        mp.how = mp.how or cost.how
    for cell in unit:  # a cohort's time is shared by its members' models
        member = models[cell.group.key]
        member.cells += 1
        if not isinstance(cost, Exception):
            member.trainings += isinstance(cost, FitCost)
            member.low += low
            member.high += high


def _busy() -> str:
    """The 1-minute load average against the cores, which the timings depend on."""
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except (AttributeError, OSError):
        return ""
    return f"load average {load:.1f} on {cores} core(s)"


def _draw_samples(group: ModelGroup, registry: Registry) -> int | None:
    """Posterior samples a cell of ``group`` draws (``None``: it is scored without rules)."""
    rules = rules_of(group.configs, registry)
    return draw_size(group.configs, rules) if rules else None


class NotFitted(Exception):
    """A detector without ``fit_cost`` that a run's start estimate does not fit."""


def _calibrate(group: ModelGroup, X: np.ndarray, X_val: np.ndarray | None, X_test: np.ndarray,
               device: str | None, members: int, n_draw: int | None, limit: float,
               fits: bool = True) -> FitCost | _Scaled | Exception:
    """Time one model; a plugin that fails, exits or runs past ``limit`` s is not estimated."""
    fit_cost = group.cls.fit_cost if capabilities_of(group.cls).fit_cost else None
    training = logging.getLogger("anobench.training")
    level = training.level
    training.setLevel(logging.WARNING)  # no progress lines of the timed fits
    try:
        with deadline(limit):
            if fit_cost is not None:
                cost = fit_cost(dict(group.params), X[:2048], device=device or "cpu",
                                members=members, n_samples=n_draw)
                if cost is not None:
                    return cost
            if not fits:
                return NotFitted("it has no fit_cost, and a run does not fit a detector before "
                                 "its cells (anobench plan does); its time shows in the ETA")
            return _time_fits(group, X, X_val, X_test, device)
    except CellTimeout:
        return TimeoutError(f"timing it took longer than {limit:g} s")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plugin failed: say so, plan the rest
        return exc if isinstance(exc, Exception) else RuntimeError(f"SystemExit({exc.code})")
    finally:
        training.setLevel(level)


# ------------------------------------------------------------------ words


def duration(seconds: float) -> str:
    """A duration in the unit a reader wants: s, min, h or days."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def span(low: float, high: float) -> str:
    """``low``–``high`` as one range (one unit when both share it)."""
    a, b = duration(low), duration(high)
    if a == b:
        return a
    ua, ub = a.split(" ", 1)[1], b.split(" ", 1)[1]
    return f"{a.split(' ')[0]}–{b}" if ua == ub else f"{a} – {b}"


def _secs(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _term(text: str) -> str:
    """A user-supplied string safe to print on a terminal (control characters escaped)."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))


def estimate_line(plan: Plan, jobs: int = 1) -> str:
    """The estimate in one line (what ``run`` prints as it starts)."""
    todo = plan.cells - plan.done
    unknown = [m for m in plan.models if m.error]
    if todo and not any(m.units and not m.error for m in plan.models):
        return (f"no estimated time for {todo} cell(s) on {plan.device}: "
                f"{', '.join(_term(m.model) for m in unknown)} not estimated (see anobench "
                "plan); the ETA follows as cells finish")
    part = (f"; {', '.join(_term(m.model) for m in unknown)} not estimated (see anobench plan)"
            if unknown else "")
    shared = (f"; {jobs} jobs share it: from {duration(plan.low / jobs)} at best"
              if jobs > 1 else "")
    busy = f", {plan.busy}" if plan.busy else ""
    return (f"estimated time for {todo} cell(s) on {plan.device}: {span(plan.low, plan.high)} "
            f"(one job{shared}; real training steps and fits timed here now{busy} × the "
            f"schedule's fewest and most epochs{part})")


def cpu_warning(plan: Plan) -> str | None:
    """One line when the estimate runs past an hour on a CPU (``None`` otherwise)."""
    if plan.device != "cpu" or plan.high <= WARN_CPU_SECONDS:
        return None
    return (f"warning: up to {duration(plan.high)} on the CPU (no CUDA device used): consider a "
            "GPU (--device cuda), fewer classes, repetitions or epochs, or --jobs")


def plan_text(plan: Plan) -> str:
    """The plan for a terminal: counts, a table per model, the estimate and how it was made."""
    from tabulate import tabulate

    done = f" ({plan.done} done earlier)" if plan.done else ""
    lines = [
        f"{_term(plan.path)}: suite {_term(plan.suite)!r}: {plan.cells} cells{done} = "
        f"{plan.classes} normal class(es) of {plan.datasets} dataset(s) × {plan.repetitions} "
        f"repetition(s) × {len(plan.models)} model(s); {plan.trainings} trained in epochs; "
        f"{plan.units} work unit(s); device {plan.device}", ""]
    rows = [[_term(m.model), _term(m.labels), m.cells, m.trainings, m.units,
             "?" if m.error else span(m.low, m.high)] for m in plan.models]
    lines.append(tabulate(rows, headers=["model", "suite entries", "cells", "trained", "units",
                                         "estimate"], tablefmt="simple", disable_numparse=True))
    lines += ["", estimate_line(plan), "how:"]
    lines += [f"  {_term(m.model)}: {_term(m.error or m.how)}" for m in plan.models]
    lines.append(f"  loading the data took {_secs(plan.load_seconds)} (counted); timing took "
                 f"{_secs(plan.timing_seconds)} (not counted); not timed: splits, metrics, "
                 "records")
    warn = cpu_warning(plan)
    if warn:
        lines.append(warn)
    return "\n".join(lines)


def plan_suite(suite: Suite | str | Path, registry: Registry, *, data_dir: Any = None,
               device: str | None = None, cohort_size: int | None = None) -> Plan:
    """Prepare a suite as ``validate`` and ``run`` do and plan it on the run's device
    (``anobench plan``)."""
    prepared = prepare_run(suite, registry, data_dir, device=device)
    plan = make_plan(prepared, cohort_size=cohort_size)
    plan.load_seconds = prepared.load_seconds
    return plan
