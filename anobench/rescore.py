"""``anobench rescore``: score a finished run's kept models with more scoring rules.

A run made with ``keep_models`` holds each trained model
(:mod:`anobench.modelstore`). Rescoring rebuilds every finished cell of a
latent detector from its model, rebuilds the cell's test set from the run's
suite text and seeds (the same split and anomaly draw), draws the posterior
with the cell's draw seed (the first samples of a draw do not depend on how
many are drawn, so the new rules see the very samples the run's rules saw)
and scores the new rules as the runner would (:func:`anobench.drawscore.score_draw`).

Nothing stored changes: each cell gets a new block holding its stored
records unchanged (the same JSON values) followed by the new ones; the store
reads a cell's last whole block, so the old block is superseded, not
rewritten. The cell's scores file gains rows for the new columns, its other
rows written back as they were. The new columns go to the end of the run's
column order, and ``meta.json`` notes the rescore. Running a rescore again
scores only the cells that lack its columns (an interrupted rescore, or
cells a later ``--resume`` ran); when every cell holds them it is refused.
"""
from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from anobench.api import missing_draw_fields
from anobench.column import Column, grid_point
from anobench.drawscore import draw_size, result_records, score_draw
from anobench.errors import AnobenchError
from anobench.modelstore import MODELS_DIR, load_model, model_path, restore_detector
from anobench.posterior import draw_stats
from anobench.registry import Registry, did_you_mean
from anobench.prepare import prepare_run
from anobench.scores import load_scores, save_scores, scores_path
from anobench.store import (
    STORE_FORMAT, Block, RunWriter, encode_block, load_store, read_meta, run_identity, write_meta,
)
from anobench.limits import MAX_SAMPLES
from anobench.suite import DetectorConfig, Suite, parse_suite
from anobench.units import CellTask, ModelGroup, cell_tasks, model_groups

#: Keys every stored line carries that a new block sets anew.
_STAMP = ("cell", "block", "run")
_MARKER_STAMP = ("kind", "cell", "lines", "block", "run")


@dataclass(frozen=True)
class RescoreResult:
    """What one rescore did."""

    run_dir: Path
    columns: tuple[str, ...]  # the new columns
    cells: int  # cells scored now
    skipped: int  # cells that already held the new columns (an interrupted rescore)
    seconds: float  # wall time of the rescore (loading data and models included)
    fit_seconds: float  # the stored training time of the cells scored now


def rescore_run(run_dir: Path, rule_names: list[str], registry: Registry, *,
                n_samples: int | None = None, data_dir: str | Path | None = None,
                device: str | None = None, stream: TextIO | None = None) -> RescoreResult:
    """Score the kept models of ``run_dir`` with ``rule_names``; see the module docstring.

    Raises :class:`AnobenchError` (one line) when the models were not kept, a
    rule is unknown, already scored or cannot be served by a detector, or
    another process writes the run.
    """
    out = stream or sys.stderr
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    rules = _check_rules(rule_names, registry, n_samples)
    if not isinstance(meta.get("suite_text"), str):
        raise AnobenchError(f"{run_dir}: meta.json holds no suite text; cannot rebuild the run")
    suite = parse_suite(meta["suite_text"], str(meta.get("suite_path", run_dir / "suite.toml")),
                        registry)
    ident = (meta.get("run_identity") or run_identity(suite.sha256, suite.seed)) \
        if meta.get("store_format") == STORE_FORMAT else None
    with RunWriter(run_dir, ident) as writer:  # refuses a run another process writes
        store = load_store(run_dir)
        for note in store.notes():
            print(f"anobench: {note}", file=out, flush=True)
        groups = model_groups(suite, registry)
        plans = _plan(run_dir, meta, suite, groups, rules, registry, n_samples)
        names = {key: {c.name for cfg in p for c in cfg.columns} for key, p in plans.items()}
        cids = [cid for cid, b in store.blocks.items() if b.status == "ok"
                and b.marker.get("model") in plans
                and not names[b.marker["model"]] <= {r.get("column") for r in b.records}]
        _already_done(run_dir, store, plans, names, cids)
        _check_models_kept(run_dir, meta, cids)
        prepared = prepare_run(suite, registry, data_dir, device=device)
        suite, datasets, dev = prepared.suite, prepared.datasets, prepared.device
        wanted = set(cids)
        todo = [c for c in prepared.cells if c.cid in wanted]
        new_names = tuple(dict.fromkeys(c.name for p in plans.values() for cfg in p
                                        for c in cfg.columns))
        n_done = 0
        fit_s = 0.0
        for _, block in itertools.groupby(todo, key=lambda c: c.block):
            for task in cell_tasks(list(block), datasets, suite):
                stored = store.blocks[task.cid]
                have = {r.get("column") for r in stored.records}
                new_cfgs = tuple(cfg for cfg in plans[task.group.key]
                                 if not {c.name for c in cfg.columns} <= have)
                t1 = time.perf_counter()
                data = _rescore_cell(run_dir, task, stored, new_cfgs, rules, registry, suite, dev)
                save_scores(run_dir, task.cid, task.split.y_test, data.scores)
                writer.write(encode_block(task.cid, data.records, data.marker, writer.run))
                n_done += 1
                fit_s += float(stored.marker.get("fit_seconds") or 0.0)
                print(f"[{n_done}/{len(todo)}] {task.cid}: {len(data.new)} new "
                      f"record(s) in {time.perf_counter() - t1:.1f}s", file=out, flush=True)
        seconds = time.perf_counter() - t0
        meta = read_meta(run_dir)
        meta["columns"] = list(dict.fromkeys([*meta.get("columns", ()), *new_names]))
        meta.setdefault("rescored", []).append({
            "rules": list(rule_names), "n_samples": n_samples, "columns": list(new_names),
            "cells": n_done, "seconds": round(seconds, 2),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S")})
        write_meta(run_dir, meta)
    skipped = sum(1 for b in store.blocks.values() if b.status == "ok"
                  and b.marker.get("model") in plans) - n_done
    return RescoreResult(run_dir, new_names, n_done, skipped, seconds, fit_s)


def _check_rules(names: list[str], registry: Registry, n_samples: int | None) -> list[str]:
    if not names:
        raise AnobenchError("anobench rescore: give at least one --rule")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise AnobenchError(f"--rule {name!r} is given twice")
        seen.add(name)
        if name not in registry.rules:
            raise AnobenchError(f"--rule: unknown scoring rule {name!r}"
                                f"{did_you_mean(name, registry.rules)}; known: "
                                f"{', '.join(sorted(registry.rules))}")
    if n_samples is not None and not 1 <= n_samples <= MAX_SAMPLES:
        raise AnobenchError(f"--n-samples: must be in [1, {MAX_SAMPLES}], got {n_samples}")
    return list(names)


def _plan(run_dir: Path, meta: dict[str, Any], suite: Suite, groups: list[ModelGroup],
          rules: list[str], registry: Registry, n_samples: int | None
          ) -> dict[str, tuple[DetectorConfig, ...]]:
    """Per latent model group, the suite entry point that gets the new columns.

    The new columns belong to the group's first suite entry (``vae``, not
    also ``ed-vae``, which shares its model): its label and grid point, the
    measures of that entry the rule has, its ``n_samples`` (or ``--n-samples``).
    """
    latent = [g for g in groups if any(cfg.rules for cfg in g.configs)]
    if not latent:
        raise AnobenchError(f"{run_dir}: the run has no latent-variable detector; scoring "
                            "rules apply only to those")
    existing = {c.name for g in groups for cfg in g.configs for c in cfg.columns}
    plans: dict[str, tuple[DetectorConfig, ...]] = {}
    for g in latent:
        cfg = g.configs[0]
        n = cfg.n_samples if n_samples is None else n_samples
        configs = []
        for name in rules:
            rule = registry.rules[name].rule
            scored = [c.name for c2 in g.configs for c in c2.columns if c.rule == name]
            if scored:
                raise AnobenchError(f"{run_dir}: scoring rule {name!r} is already scored in this "
                                    f"run (column {scored[0]!r}); rescore adds new rules only")
            what = f"scoring rule {name!r} (plugin {registry.rules[name].plugin!r})"
            missing = missing_draw_fields(rule, g.cls)
            if missing:
                raise AnobenchError(f"{run_dir}: {what} needs the posterior draw's "
                                    f"{', '.join(missing)}, which detector {g.name!r} does not "
                                    "provide")
            measures = [m for m in cfg.measures if m in rule.measures]
            if not measures:
                raise AnobenchError(f"{run_dir}: {what} supports measures {list(rule.measures)}, "
                                    f"none of {list(cfg.measures)} (detector {cfg.point!r})")
            if n < getattr(rule, "min_samples", 1):
                raise AnobenchError(f"{run_dir}: {what} needs at least {rule.min_samples} "
                                    f"posterior samples, the run drew {n} (give --n-samples)")
            cols = tuple(Column(cfg.label, grid_point(cfg.grid_params), name, m, True,
                                bool(getattr(rule, "oracle", False))) for m in measures)
            clash = [c.name for c in cols if c.name in existing]
            if clash:
                raise AnobenchError(f"{run_dir}: column {clash[0]!r} exists in this run "
                                    "already; rescore adds new columns only")
            configs.append(replace(cfg, rules=(name,), columns=cols, n_samples=n))
        plans[g.key] = tuple(configs)
    return plans


def _already_done(run_dir: Path, store: Any, plans: dict[str, Any], names: dict[str, set[str]],
                  pending: list[str]) -> None:
    """Refuse a rescore whose columns every finished cell holds already."""
    if pending:
        return
    held = [b for b in store.blocks.values() if b.status == "ok"
            and b.marker.get("model") in plans]
    if held:
        column = sorted(names[held[0].marker["model"]])[0]
        raise AnobenchError(f"{run_dir}: already scored in this run: every finished cell holds "
                            f"column {column!r} (an earlier rescore); rescore adds new rules only")


def _check_models_kept(run_dir: Path, meta: dict[str, Any], cells: list[str]) -> None:
    if not cells:
        raise AnobenchError(f"{run_dir}: no finished cell of a latent-variable detector to "
                            "rescore")
    missing = [c for c in cells if not model_path(run_dir, c).is_file()]
    if not missing:
        return
    why = ("the run was made without keep_models" if not meta.get("keep_models") else
           f"{len(missing)} of {len(cells)} finished cells have no model file")
    raise AnobenchError(f"{run_dir}: models not kept ({why}; first: {missing[0]!r}); rescore "
                        f"needs {run_dir / MODELS_DIR}/: run the suite with [suite] keep_models "
                        "= true or anobench run --keep-models")


@dataclass(frozen=True)
class CellRescore:
    """One cell's new block and scores."""

    records: list[dict]  # the stored records unchanged, then the new ones
    marker: dict[str, Any]
    scores: list[tuple[str, str | None, np.ndarray]]  # every row of the scores file
    new: list[dict]  # the new records


def _rescore_cell(run_dir: Path, task: CellTask, stored: Block,
                  configs: tuple[DetectorConfig, ...], rules: list[str], registry: Registry,
                  suite: Suite, device: str | None) -> CellRescore:
    """Rebuild a cell's model and test set, score the new columns, keep the stored ones."""
    kept = load_model(model_path(run_dir, task.cid))
    if kept.cell != task.cid or kept.model != task.group.key or kept.seeds != task.seeds:
        raise AnobenchError(f"{model_path(run_dir, task.cid)}: the model file is not this "
                            f"cell's (cell {kept.cell!r}, seeds {kept.seeds})")
    first = next((r for r in stored.records if r.get("kind") == "result"), {})
    for key in ("n_test", "n_anomalies", "seed"):
        if key in first and first[key] != task.base[key]:
            raise AnobenchError(f"{run_dir}: cell {task.cid!r}: the rebuilt test set differs from "
                                f"the run's ({key} {task.base[key]} vs {first[key]} stored): "
                                "is --data-dir the data the run used?")
    old_scores = _stored_scores(run_dir, task.cid, task.split.y_test)
    det = restore_detector(kept, registry.detectors[kept.detector].cls, device)
    rule_objs = {r: registry.rules[r].rule for r in rules}
    t0 = time.perf_counter()
    n_draw = draw_size(configs, rule_objs)
    try:
        draw = det.posterior_draw(task.split.X_test, n_samples=n_draw, seed=task.seeds["draw"])
        results = score_draw(draw, configs, rule_objs, task.split.y_test, suite.metrics)
    except AnobenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin failed: one line, nothing written
        raise AnobenchError(f"{run_dir}: cell {task.cid!r}, detector {kept.detector!r}: "
                            f"{type(exc).__name__}: {exc}; nothing was written for this "
                            "cell") from None
    score_s = time.perf_counter() - t0
    new = [dict(task.base, **r, rescored=True) for r in result_records(
        results, task.split.y_test, suite.metrics, float(first.get("fit_seconds", 0.0)),
        score_s, first.get("fit_info", {}))]
    old = [{k: v for k, v in r.items() if k not in _STAMP} for r in stored.records]
    marker = {k: v for k, v in stored.marker.items() if k not in _MARKER_STAMP}
    if "posterior" not in marker:
        stats = draw_stats(draw, task.split.y_test)
        if stats:
            marker["posterior"] = stats
    marker["rescored"] = list(dict.fromkeys([*marker.get("rescored", ()),
                                             *(c.name for cfg in configs for c in cfg.columns)]))
    names = {r.column.name for r in results}
    rows = [e for e in old_scores if e[0] not in names]
    rows += [(r.column.name, r.column.measure, r.scores) for r in results]
    return CellRescore(old + [{k: v for k, v in r.items() if k != "cell"} for r in new],
                       marker, rows, new)


def _stored_scores(run_dir: Path, cid: str, y: np.ndarray
                   ) -> list[tuple[str, str | None, np.ndarray]]:
    """The rows of a cell's scores file (checked against the rebuilt labels), or none."""
    path = scores_path(run_dir, cid)
    if not path.is_file():
        return []
    cs = load_scores(path)
    if len(cs.labels) != len(y) or not np.array_equal(cs.labels, np.asarray(y)):
        raise AnobenchError(f"{path}: the stored test labels differ from the rebuilt test set: "
                            "is --data-dir the data the run used?")
    return [(col, meas, scores) for (col, meas), scores in cs.scores.items()]
