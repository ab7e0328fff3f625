"""Score one posterior draw with the scoring rules of a cell's suite entries.

Every rule of a latent model is a reduction of one draw
(:meth:`anobench.api.LatentDetector.posterior_draw`), so all its columns are
paired. The runner (:func:`anobench.unitrun.run_cell`) and ``anobench rescore``
(:mod:`anobench.rescore`) both score through :func:`score_draw` and turn the
scored columns into records with :func:`result_records`.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from anobench.column import Column
from anobench.metrics import candidate_metrics, check_scores, compute_metrics, oracle_pick
from anobench.registry import Registry
from anobench.suite import DetectorConfig


@dataclass(frozen=True)
class Oracle:
    """An oracle rule's pick: per metric the chosen candidate and its value."""

    scores: np.ndarray  # the candidate chosen for the suite's first metric
    values: dict[str, float]
    picked: dict[str, int]


@dataclass(frozen=True)
class Scored:
    """One column of a cell scored: its score vector and, for an oracle, its pick."""

    column: Column
    cfg: DetectorConfig
    scores: np.ndarray
    samples: int | None = None  # posterior samples the rule read (None: scored without rules)
    oracle: Oracle | None = None

    @property
    def fields(self) -> dict[str, Any]:
        """Record fields of the scoring beyond the column's."""
        return {} if self.samples is None else {"samples": self.samples}


def rules_of(configs: Iterable[DetectorConfig], registry: Registry) -> dict[str, Any]:
    """The scoring rule objects ``configs`` score with (empty: they score without rules)."""
    return {r: registry.rules[r].rule for cfg in configs for r in cfg.rules}


def draw_size(configs: Iterable[DetectorConfig], rules: dict[str, Any]) -> int:
    """Posterior samples one draw needs for every entry of ``configs`` (the most one reads)."""
    return max(samples_read(cfg, rules) for cfg in configs)


def samples_read(cfg: DetectorConfig, rules: dict[str, Any]) -> int:
    """Posterior samples the rules of one suite entry read (at most its ``n_samples``)."""
    need = 0
    for rname in cfg.rules:
        rule = rules[rname]
        cap = getattr(rule, "max_samples", None)
        need = max(need, cfg.n_samples if cap is None else min(cfg.n_samples, cap),
                   min(cfg.n_samples, getattr(rule, "min_samples", 1)))
    return need


def oracle_scores(rule: Any, draw: Any, measure: str, y: np.ndarray, metrics: tuple[str, ...],
                  cache: dict[str, dict[str, np.ndarray]] | None = None) -> Oracle:
    """Score an oracle rule: every metric of every candidate, the chosen one per metric.

    The stored score vector (``scores/*.npz``) is the candidate chosen for the
    first metric of the suite. ``cache`` (per cell) shares the metric values
    of identical candidate sets, e.g. between ``best`` and ``worst``.
    """
    n = len(y)
    cands = np.asarray(rule.candidates(draw, measure))
    if cands.ndim != 2 or len(cands) < 1 or cands.shape[1] != n:
        raise ValueError(f"candidates have shape {cands.shape}, expected (K, {n}) with K >= 1")
    rows = np.stack([check_scores(row, n) for row in cands])
    key = hashlib.sha256(rows.tobytes()).hexdigest()
    cache = {} if cache is None else cache
    if key not in cache:
        cache[key] = candidate_metrics(y, rows, metrics)
    _, picked = oracle_pick(cache[key], rule.choose)
    # the value shown is the chosen candidate's metric as every other column computes it
    values = {m: compute_metrics(y, rows[picked[m]], (m,))[m] for m in metrics}
    return Oracle(rows[picked[metrics[0]]], values, picked)


def score_draw(full_draw, configs, rules: dict[str, Any], y: np.ndarray,
               metrics: tuple[str, ...]) -> list[Scored]:
    """Score every column of ``configs`` on one posterior draw (each entry sees its own L)."""
    n = len(y)
    results = []
    oracle_cache: dict[str, dict[str, np.ndarray]] = {}
    for cfg in configs:
        draw = full_draw.head(cfg.n_samples)
        for col in cfg.columns:
            rule = rules[col.rule]
            oracle = None
            try:
                if getattr(rule, "oracle", False):
                    oracle = oracle_scores(rule, draw, col.measure, y, metrics, oracle_cache)
                    scores = oracle.scores
                else:
                    scores = check_scores(rule.reduce(draw, col.measure), n)
            except ValueError as exc:
                raise ValueError(f"scoring rule {col.rule!r} ({col.measure}): {exc}") from exc
            cap = getattr(rule, "max_samples", None)  # samples the rule read
            samples = cfg.n_samples if cap is None else min(cfg.n_samples, cap)
            results.append(Scored(col, cfg, scores, samples, oracle))
    return results


def result_records(results: list[Scored], y: np.ndarray, metrics: tuple[str, ...], fit_s: float,
                   score_s: float, info: dict[str, Any]) -> list[dict]:
    """The result records of scored columns: one per column and metric (no cell fields)."""
    records: list[dict] = []
    for res in results:
        values = res.oracle.values if res.oracle else compute_metrics(y, res.scores, metrics)
        for metric, value in values.items():
            records.append(dict(
                kind="result", **res.column.record_fields(), **res.fields,
                detector=res.cfg.name, params=res.cfg.params, metric=metric, value=value,
                fit_seconds=round(fit_s, 4), score_seconds=round(score_s, 4), fit_info=info,
            ))
            if res.oracle:
                records[-1].update(oracle=True, oracle_candidate=res.oracle.picked[metric])
    return records
