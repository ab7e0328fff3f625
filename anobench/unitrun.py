"""Run one work unit where an executor puts it: fit its models, score each cell.

:func:`execute_unit` is the function executors call on every unit
(:mod:`anobench.executors`): it fits the unit's models through the one fit
path (:func:`anobench.fitting.fit_unit`; a single cell is a unit of one),
scores each fitted model as its cell (:func:`run_cell`) and returns one
:class:`CellOutcome` per cell — records and timings, or an error that names
the plugin. Nothing here writes the store; the driver does
(:mod:`anobench.runner`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from anobench.capabilities import capabilities_of
from anobench.deadline import CellTimeout, deadline
from anobench.drawscore import Scored, draw_size, result_records, rules_of, score_draw
from anobench.fitting import Fitted, fit_unit
from anobench.metrics import check_scores
from anobench.modelstore import KeptModel, can_keep, class_path, export_state
from anobench.posterior import draw_stats
from anobench.registry import Registry
from anobench.store import encode_block, jsonable
from anobench.suite import Suite
from anobench.units import CellTask, Unit, instance_params


@dataclass(frozen=True)
class Timings:
    """Wall seconds of one cell's fit (its share of a cohort's) and of its scoring."""

    fit_seconds: float
    score_seconds: float


@dataclass(frozen=True)
class CellResult:
    """What scoring one fitted cell produced, ready for the store."""

    records: list[dict]  # result records, without the cell's fields
    timings: Timings
    info: dict[str, Any]  # the detector's fit_info() (and its cohort's size)
    scores: list[tuple[str, str | None, np.ndarray]]  # (column, measure, scores) per column
    posterior: dict[str, Any] | None = None  # statistics of the posterior draw
    kept: KeptModel | None = None  # the trained model, when the run keeps models

    def marker(self) -> dict[str, Any]:
        """The fields of the cell's end marker (after the cell's own)."""
        extra = {"posterior": self.posterior} if self.posterior else {}
        return dict(status="ok", fit_seconds=self.timings.fit_seconds,
                    score_seconds=self.timings.score_seconds, fit_info=self.info, **extra)


@dataclass
class CellOutcome:
    """What running one cell produced: its result, or an error message."""

    cid: str
    result: CellResult | None = None
    error: str | None = None


def run_cell(task: CellTask, fitted: Fitted, registry: Registry, suite: Suite,
             device: str | None) -> CellResult:
    """Score the fitted model of one cell on its test set: every column; raise on failure."""
    det, group, split = fitted.detector, task.group, task.split
    info = jsonable(dict(det.fit_info()), "fit_info()") if capabilities_of(type(det)).fit_info \
        else {}
    if fitted.cohort_size > 1:
        info.setdefault("cohort_size", fitted.cohort_size)
    posterior = None
    t1 = time.perf_counter()
    rules = rules_of(group.configs, registry)
    if not rules:
        scores = check_scores(det.score(split.X_test), len(split.y_test))
        results = [Scored(col, cfg, scores) for cfg in group.configs for col in cfg.columns]
    else:
        full_draw = det.posterior_draw(split.X_test, n_samples=draw_size(group.configs, rules),
                                       seed=task.seeds["draw"])
        results = score_draw(full_draw, group.configs, rules, split.y_test, suite.metrics)
        posterior = draw_stats(full_draw, split.y_test)
    timings = Timings(fitted.fit_seconds, time.perf_counter() - t1)
    records = result_records(results, split.y_test, suite.metrics, timings.fit_seconds,
                             timings.score_seconds, info)
    kept = None
    if suite.keep_models and can_keep(type(det)):
        kept = KeptModel(task.cid, group.name, class_path(group.cls),
                         instance_params(group, task.seeds["model"], device), task.seeds,
                         split.X_train.shape[1:], group.key, export_state(det))
    return CellResult(records, timings, info,
                      [(r.column.name, r.column.measure, r.scores) for r in results],
                      posterior, kept)


def execute_unit(unit: Unit) -> list[CellOutcome]:
    """Run every cell of ``unit``; a failing plugin becomes that cell's error.

    The unit's models are fitted together (:func:`anobench.fitting.fit_unit`),
    then each is scored as its cell, within what is left of its
    ``cell_timeout`` (a cohort's members each have a whole one to score).
    """
    if unit.problem is not None:
        return [_failed(unit, t, unit.problem) for t in unit.tasks]
    limit = unit.suite.cell_timeout
    out = []
    for task, fit in zip(unit.tasks, fit_unit(unit)):
        try:
            if isinstance(fit, BaseException):
                raise fit
            left = limit - fit.fit_seconds if limit and fit.cohort_size == 1 else limit
            with deadline(max(left, 1e-3) if limit else 0, f"the cell ran longer than "
                                                           f"cell_timeout = {limit:g} s and was "
                                                           "stopped"):
                result = run_cell(task, fit, unit.registry, unit.suite, unit.device)
            # refuse here what the store could not encode (the driver encodes it again)
            encode_block(task.cid, result.records, result.marker(), None)
        except (Exception, SystemExit, CellTimeout) as exc:  # noqa: BLE001 - a plugin failed
            out.append(_failed(unit, task, f"{type(exc).__name__}: {exc}"))
            continue
        out.append(CellOutcome(task.cid, result))
    return out


def died_outcomes(unit: Unit, reason: str) -> list[CellOutcome]:
    """Failed outcomes for the cells of a unit whose worker process died running it."""
    n = len(unit.tasks)
    cohort = f" (in a cohort of {n} cells trained together)" if n > 1 else ""
    return [_failed(unit, t, f"WorkerDied: {reason} while running cell {t.cid}{cohort}")
            for t in unit.tasks]


def _failed(unit: Unit, task: CellTask, error: str) -> CellOutcome:
    plugin = unit.registry.detectors[task.group.name].plugin
    return CellOutcome(task.cid, error=f"detector {task.group.name!r} (plugin {plugin!r}): {error}")
