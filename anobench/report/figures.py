"""Figures of a report, drawn with matplotlib (headless: no pyplot, Agg canvas).

Which figures a run gets, from its tables, test results and stored scores:

* :func:`cd_figures` — a critical-difference diagram (Demšar 2006) per metric
  and measure with a Friedman test: average ranks, groups that the Nemenyi
  test does not separate joined;
* :func:`rule_figures` — per class mean ± SEM of the scoring rules of one
  model without a grid (the paper's Figures 2–3);
* :func:`sweep_figures` — a metric against a numeric grid parameter (e.g. β)
  per class for each pair of columns, with the differences A − B (the
  paper's Figures 4–7);
* :func:`curve_figures` — ROC and precision–recall curves of chosen cells
  (default: the first class, repetition 0, of every dataset).

Each figure is written as ``<run_dir>/figures/<name>.png`` and ``.svg`` and
returned as a :class:`Fig` with the facts its caption states; the caption's
words are written by :mod:`anobench.report.render_stats`. This module owns
what is drawn from which results; the drawing itself, on plain numbers, is
:mod:`anobench.report.plots`.
"""
from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from anobench.column import Column, GridPoint
from anobench.confine import confined
from anobench.errors import AnobenchError
from anobench.report.options import CurveCell
from anobench.report.plots import (
    cd_diagram, grid_sweep, roc_pr_curves, rules_per_class,
)
from anobench.report.statistics import PairSection, RankSection, cd_groups
from anobench.report.tables import Table, metric_label, sem
from anobench.scores import find_cell_scores

FIG_DIR = "figures"
FIG_METRICS = ("roc_auc", "pr_auc")
RULE_ORDER = ("expected", "single", "multi", "min", "max", "best", "worst", "iwae")
MAX_CURVES = 10


@dataclass(frozen=True)
class Fig:
    """A drawn figure: its files and the facts its caption states."""

    kind: str  # cd | rules | sweep | curves
    png: Path
    svg: Path
    facts: dict[str, Any] = field(default_factory=dict)


def figure_name(*parts: str) -> str:
    """A readable file name: parts joined by ``-``, other characters than letters, digits
    and ``._+=-`` replaced by ``-``; a name that needed a replacement ends in a short hash
    of the original, so that distinct names stay distinct (``cd-roc_auc-elbo``)."""
    text = "-".join(p for p in parts if p)
    clean = _UNSAFE.sub("-", text).strip("-.") or "figure"
    if clean != text:
        clean += "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]
    return clean


_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


def _stem(run_dir: Path, *parts: str) -> Path:
    folder = confined(run_dir, Path(run_dir) / FIG_DIR)
    return folder / figure_name(*parts)


def _title(metric: str, measure: str | None) -> str:
    return metric_label(metric) + (f", measure {measure}" if measure else "")


def cd_figures(run_dir: Path, sections: list[RankSection]) -> list[Fig]:
    """One critical-difference diagram per rank section with a Friedman test."""
    out = []
    for s in sections:
        r = s.result
        if r.p is None or r.cd is None:
            continue
        png, svg = cd_diagram([c.name for c in s.columns], r.avg_ranks, r.cd,
                              cd_groups(r.avg_ranks, r.cd),
                              _stem(run_dir, "cd", s.metric, s.measure or ""),
                              title=f"{_title(s.metric, s.measure)}: average ranks")
        out.append(Fig("cd", png, svg, dict(metric=s.metric, measure=s.measure, n=r.n,
                                            alpha=r.alpha, cd=r.cd, p=r.p)))
    return out


def _rule_key(rule: str | None) -> tuple:
    return (RULE_ORDER.index(rule), "") if rule in RULE_ORDER else (len(RULE_ORDER), rule or "")


def rule_figures(run_dir: Path, tables: list[Table], records: list[dict[str, Any]],
                 sem_ddof: int) -> list[Fig]:
    """Per class mean ± SEM of the rules of each model without a grid."""
    model_cols: dict[str, list[Column]] = defaultdict(list)
    model_det: dict[str, str] = {}
    for r in records:
        if r.get("rule") and r.get("model") and not r.get("grid"):
            col = Column.from_record(r)
            if col not in model_cols[r["model"]]:
                model_cols[r["model"]].append(col)
            model_det.setdefault(r["model"], str(r.get("detector") or col.label))
    out = []
    for t in tables:
        if t.metric not in FIG_METRICS:
            continue
        for model, cols in model_cols.items():
            first: dict[str, Column] = {}  # one column per rule: same model + rule = same scores
            for c in cols:
                if c in t.columns:
                    first.setdefault(c.rule or "", c)
            shown = sorted(first.values(), key=lambda c: _rule_key(c.rule))
            if len(shown) < 2:
                continue
            rows = [row for row in t.rows if all((row, c) in t.values for c in shown)]
            if not rows:
                continue
            mean = np.array([[np.mean(t.values[(row, c)]) for c in shown] for row in rows])
            err = np.array([[sem(t.values[(row, c)], sem_ddof) for c in shown] for row in rows])
            detector = model_det[model]
            png, svg = rules_per_class(
                rows, [c.rule or "" for c in shown], mean, err,
                _stem(run_dir, "rules", t.dataset, detector, t.metric, t.measure or ""),
                ylabel=metric_label(t.metric),
                title=f"{t.dataset}: {_title(t.metric, t.measure)}, scoring rules of {detector}")
            out.append(Fig("rules", png, svg, dict(
                dataset=t.dataset, metric=t.metric, measure=t.measure, detector=detector,
                sem_ddof=sem_ddof, columns=[(c.rule, c.name) for c in shown])))
    return out


def _numeric_parameter(grids: set[GridPoint]) -> str | None:
    """The one numeric parameter that makes up every grid point, or None."""
    if any(len(g) != 1 for g in grids):
        return None
    names = {g[0][0] for g in grids}
    numeric = all(isinstance(g[0][1], (int, float)) and not isinstance(g[0][1], bool)
                  for g in grids)
    return names.pop() if len(names) == 1 and numeric else None


def _at(t: Table, name: str, grid: GridPoint) -> Column | None:
    return next((c for c in t.columns if c.grid == grid and c.matches(name)), None)


def sweep_figures(run_dir: Path, tables: list[Table], pairs: list[list[PairSection]]
                  ) -> list[Fig]:
    """Metric against a single numeric grid parameter, per class, for each pair."""
    out = []
    for sections in pairs:
        grids = {s.grid for s in sections}
        param = _numeric_parameter(grids) if len(grids) > 1 else None
        if param is None:
            continue
        a, b = sections[0].a, sections[0].b
        for t in tables:
            if t.metric not in FIG_METRICS:
                continue
            points = sorted((float(g[0][1]), g) for g in grids if _at(t, a, g) and _at(t, b, g))
            xs = [x for x, _ in points]
            if len(xs) < 2:
                continue
            A = np.full((len(t.rows), len(xs)), np.nan)
            B = np.full_like(A, np.nan)
            for j, (_, g) in enumerate(points):
                ca, cb = _at(t, a, g), _at(t, b, g)
                assert ca is not None and cb is not None  # points has only grids with both
                for i, row in enumerate(t.rows):
                    if (row, ca) in t.values:
                        A[i, j] = np.mean(t.values[(row, ca)])
                    if (row, cb) in t.values:
                        B[i, j] = np.mean(t.values[(row, cb)])
            if np.isnan(A).all() or np.isnan(B).all():
                continue
            png, svg = grid_sweep(
                list(t.rows), xs, A, B,
                _stem(run_dir, "sweep", t.dataset, a, b, param, t.metric, t.measure or ""),
                labels=(a, b), xlabel=param, ylabel=metric_label(t.metric),
                title=f"{t.dataset}: {_title(t.metric, t.measure)} against {param}")
            out.append(Fig("sweep", png, svg, dict(dataset=t.dataset, metric=t.metric,
                                                   measure=t.measure, parameter=param, a=a, b=b)))
    return out


def informative_curves(tables: list[Table], *, oracles: bool = False
                       ) -> dict[CurveCell, dict[str, Any]]:
    """Per dataset, the cell whose curves say most, and why (facts for the caption).

    In the dataset's first ROC AUC table (else its first table): the
    (class, repetition) where the deployable columns' values differ most
    (``spread``: lowest and highest); with one column, the cell where it
    scores lowest (``lowest``). Never a cell where every column is perfect
    unless every cell is.
    """
    out: dict[CurveCell, dict[str, Any]] = {}
    by_dataset: dict[str, Table] = {}
    for t in tables:
        if t.dataset not in by_dataset or (t.metric == "roc_auc"
                                           and by_dataset[t.dataset].metric != "roc_auc"):
            by_dataset[t.dataset] = t
    for t in by_dataset.values():
        cols = [c for c in t.columns if (oracles or not c.oracle) and t.first_of(c) == c]
        best: tuple[float, CurveCell, tuple[float, float]] | None = None
        for row in t.rows:
            per_rep: dict[int, list[float]] = defaultdict(list)
            for c in cols:
                for rep, v in zip(t.repetitions.get((row, c), ()), t.values.get((row, c), ())):
                    per_rep[int(rep)].append(float(v))
            for rep, vals in sorted(per_rep.items()):
                score = max(vals) - min(vals) if len(cols) > 1 else 1.0 - min(vals)
                if len(cols) > 1 and len(vals) < 2:
                    continue
                if best is None or score > best[0]:
                    best = (score, CurveCell(t.dataset, row, rep), (min(vals), max(vals)))
        if best is not None:
            out[best[1]] = {"why": "spread" if len(cols) > 1 else "lowest", "range": best[2],
                            "by": t.metric}
    return out


def curve_cell_of_row(cell: CurveCell, tables: list[Table]) -> CurveCell:
    """A curve cell whose class is given by the name a table shows, with its class key."""
    for t in tables:
        if t.dataset == cell.dataset and cell.normal not in t.rows:
            for row in t.rows:
                if t.row_label(row) == cell.normal:
                    return replace(cell, normal=row)
    return cell


def curve_figures(run_dir: Path, cells: Sequence[CurveCell], *, required: bool,
                  chosen: dict[CurveCell, dict[str, Any]] | None = None
                  ) -> tuple[list[Fig], list[CurveCell]]:
    """ROC and PR curves of ``cells``, and the cells without stored scores.

    A cell without stored scores is an error if ``required`` (asked for on
    the command line), else it is returned among the missing ones.
    ``chosen``: why a cell was picked by default (:func:`informative_curves`).
    """
    out, missing = [], []
    for cell in cells:
        stored = find_cell_scores(run_dir, cell.dataset, cell.normal, cell.repetition)
        if not stored:
            if required:
                raise AnobenchError(f"{run_dir}: no stored scores for cell '{cell}' "
                                    f"(scores/ holds the cells of runs made with this version)")
            missing.append(cell)
            continue
        labels = stored[0].labels
        measures = [m for c in stored for (_, m) in c.scores if m]
        measure = measures[0] if measures else None  # one measure: fewer, comparable curves
        curves: dict[str, np.ndarray] = {}
        for c in stored:
            if len(c.labels) != len(labels) or not np.array_equal(c.labels, labels):
                continue
            for (col, m), s in c.scores.items():
                if m in (None, measure) and not any(np.array_equal(s, v) for v in curves.values()):
                    curves[col] = s  # identical scores (e.g. vae and vae:single) drawn once
        shown = dict(list(curves.items())[:MAX_CURVES])
        png, svg = roc_pr_curves(labels, shown, _stem(run_dir, "curves", cell.dataset,
                                                      cell.normal, str(cell.repetition)),
                                 title=f"{cell.dataset}, normal class {cell.normal}, "
                                       f"repetition {cell.repetition}")
        out.append(Fig("curves", png, svg, dict(
            cell=cell, measure=measure if len(set(measures)) > 1 else None,
            anomalies=int(labels.sum()), n=len(labels), shown=len(shown), columns=len(curves),
            chosen=(chosen or {}).get(cell))))
    return out, missing


