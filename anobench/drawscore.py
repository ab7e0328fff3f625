"""Score one posterior draw with the scoring rules of a cell's suite entries.

Every rule of a latent model is a reduction of one draw
(:meth:`anobench.api.LatentDetector.posterior_draw`), so all its columns are
paired. The runner (:func:`anobench.runner.run_cell`) and ``anobench rescore``
(:mod:`anobench.rescore`) both score through :func:`score_draw`.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from anobench.metrics import candidate_metrics, check_scores, compute_metrics, oracle_pick
from anobench.suite import DetectorConfig


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
                  cache: dict[str, dict[str, np.ndarray]] | None = None) -> dict[str, Any]:
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
    return dict(scores=rows[picked[metrics[0]]], values=values, picked=picked)


def score_draw(full_draw, configs, rules: dict[str, Any], y: np.ndarray,
               metrics: tuple[str, ...]) -> list[dict]:
    """Score every column of ``configs`` on one posterior draw (each entry sees its own L).

    Returns one dict per column: ``column``, ``cfg``, ``fields`` (the samples
    read), ``scores`` and, for oracles, ``values`` and ``picked``.
    """
    n = len(y)
    results = []
    oracle_cache: dict[str, dict[str, np.ndarray]] = {}
    for cfg in configs:
        draw = full_draw.head(cfg.n_samples)
        for col in cfg.columns:
            rule = rules[col.rule]
            try:
                if getattr(rule, "oracle", False):
                    scored = oracle_scores(rule, draw, col.measure, y, metrics, oracle_cache)
                else:
                    scored = dict(scores=check_scores(rule.reduce(draw, col.measure), n))
            except ValueError as exc:
                raise ValueError(f"scoring rule {col.rule!r} ({col.measure}): {exc}") from exc
            cap = getattr(rule, "max_samples", None)  # samples the rule read
            samples = cfg.n_samples if cap is None else min(cfg.n_samples, cap)
            results.append(dict(column=col, cfg=cfg, fields={"samples": samples}, **scored))
    return results

