"""Which figures a run gets, drawn from its tables, records and stored scores.

* CD diagram per metric and measure (when a Friedman test is possible);
* scoring rules of one model per class (mean ± SEM) when a model was scored
  with two or more rules and has no grid (one column per rule);
* metric against a grid parameter per class for each pair of columns that
  has grid points (e.g. ``ed-vae`` vs ``vae`` over β), with the differences;
* ROC and PR curves of the cells named in ``[report] curves`` (default: the
  first class, repetition 0, of every dataset).

Figures go to ``<run_dir>/figures/``; each is returned as a :class:`Fig`.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anobench import plots, stats
from anobench.errors import AnobenchError
from anobench.metrics import LABELS
from anobench.report import Table, sem
from anobench.reportcfg import ReportOptions, base_column, grid_part
from anobench.scores import find_cell_scores, safe_cell_id
from anobench.significance import PairSection, RankSection

FIG_DIR = "figures"
FIG_METRICS = ("roc_auc", "pr_auc")
RULE_ORDER = ("expected", "single", "multi", "min", "max", "best", "worst", "iwae")
MAX_CURVES = 10


@dataclass(frozen=True)
class Fig:
    png: Path
    svg: Path
    caption: str
    kind: str  # cd | rules | sweep | curves


def _stem(run_dir: Path, *parts: str) -> Path:
    return Path(run_dir) / FIG_DIR / safe_cell_id("-".join(p for p in parts if p))


def _measure_txt(measure: str | None) -> str:
    return f", measure {measure}" if measure else ""


def cd_figures(run_dir: Path, sections: list[RankSection]) -> list[Fig]:
    out = []
    for s in sections:
        r = s.result
        if r.p is None or r.cd is None:
            continue
        groups = stats.cd_groups(r.avg_ranks, r.cd)
        label = LABELS.get(s.metric, s.metric)
        png, svg = plots.cd_diagram(list(s.columns), r.avg_ranks, r.cd, groups,
                                    _stem(run_dir, "cd", s.metric, s.measure or ""),
                                    title=f"{label}{_measure_txt(s.measure)}: average ranks")
        out.append(Fig(png, svg, f"Critical-difference diagram, {label}{_measure_txt(s.measure)}: "
                       f"average ranks over {r.n} (dataset, class) blocks (1 = best); columns "
                       f"joined by a bar are not significantly different (Nemenyi, "
                       f"α = {r.alpha:g}, CD = {r.cd:.2f}); Friedman p = {r.p:.3g}.", "cd"))
    return out


def _rule_key(rule: str | None) -> tuple:
    return (RULE_ORDER.index(rule), "") if rule in RULE_ORDER else (len(RULE_ORDER), rule or "")


def rule_figures(run_dir: Path, tables: list[Table], records: list[dict[str, Any]],
                 sem_ddof: int) -> list[Fig]:
    """Per class mean ± SEM of the rules of each model without a grid."""
    model_cols: dict[str, dict[str, str]] = defaultdict(dict)  # model -> column -> rule
    model_det: dict[str, str] = {}
    for r in records:
        if r.get("rule") and r.get("model") and not r.get("grid"):
            model_cols[r["model"]].setdefault(r["column"], r["rule"])
            model_det.setdefault(r["model"], str(r.get("detector") or r["column"]))
    out = []
    for t in tables:
        if t.metric not in FIG_METRICS:
            continue
        for model, cols in model_cols.items():
            first: dict[str, str] = {}  # one column per rule: same model + rule = same scores
            for c in cols:
                if c in t.columns:
                    first.setdefault(cols[c], c)
            names = sorted(first.values(), key=lambda c: _rule_key(cols[c]))
            if len(names) < 2:
                continue
            rows = [row for row in t.rows if all((row, c) in t.values for c in names)]
            if not rows:
                continue
            mean = np.array([[np.mean(t.values[(row, c)]) for c in names] for row in rows])
            err = np.array([[sem(t.values[(row, c)], sem_ddof) for c in names] for row in rows])
            label = LABELS.get(t.metric, t.metric)
            model_name = model_det[model]
            ticks = [cols[c] for c in names]  # one column per rule: the rule names it
            listing = ", ".join(f"{cols[c]} = {c}" for c in names)
            png, svg = plots.rules_per_class(
                rows, ticks, mean, err,
                _stem(run_dir, "rules", t.dataset, model_name, t.metric, t.measure or ""),
                ylabel=label, title=f"{t.dataset}: {label}{_measure_txt(t.measure)}, scoring "
                                    f"rules of {model_name}")
            out.append(Fig(png, svg, f"{t.dataset}: {label} per class of the scoring rules of "
                           f"one trained {model_name} (mean ± SEM over repetitions, "
                           f"SEM ddof={sem_ddof}){_measure_txt(t.measure)}; columns: {listing}.",
                           "rules"))
    return out


_NUM = re.compile(r"^\[([A-Za-z_][\w.]*)=([-+0-9.eE]+)\]$")


def sweep_figures(run_dir: Path, tables: list[Table], pairs: list[list[PairSection]]
                  ) -> list[Fig]:
    """Metric against a single numeric grid parameter, per class, for each pair."""
    out = []
    for sections in pairs:
        grids = {s.grid for s in sections}
        parsed = {g: _NUM.match(g) for g in grids}
        if len(grids) < 2 or not all(parsed.values()):
            continue
        params = {m.group(1) for m in parsed.values()}
        if len(params) != 1:
            continue
        param = params.pop()
        a, b = sections[0].a, sections[0].b
        for t in tables:
            if t.metric not in FIG_METRICS:
                continue
            points = sorted((float(parsed[g].group(2)), g) for g in grids
                            if _col(t, a, g) and _col(t, b, g))
            xs = [x for x, _ in points]
            if len(xs) < 2:
                continue
            A = np.full((len(t.rows), len(xs)), np.nan)
            B = np.full_like(A, np.nan)
            for j, (_, g) in enumerate(points):
                ca = _col(t, a, g)
                cb = _col(t, b, g)
                for i, row in enumerate(t.rows):
                    if ca and (row, ca) in t.values:
                        A[i, j] = np.mean(t.values[(row, ca)])
                    if cb and (row, cb) in t.values:
                        B[i, j] = np.mean(t.values[(row, cb)])
            if np.isnan(A).all() or np.isnan(B).all():
                continue
            label = LABELS.get(t.metric, t.metric)
            png, svg = plots.grid_sweep(
                list(t.rows), xs, A, B,
                _stem(run_dir, "sweep", t.dataset, a, b, param, t.metric, t.measure or ""),
                labels=(a, b), xlabel=param, ylabel=label,
                title=f"{t.dataset}: {label}{_measure_txt(t.measure)} against {param}")
            out.append(Fig(png, svg, f"{t.dataset}: {label} against {param} per class "
                           f"(mean over repetitions) of {a} and {b}; the row below each row of "
                           f"classes is the difference {a} − {b} (×100)"
                           f"{_measure_txt(t.measure)}.", "sweep"))
    return out


def _col(t: Table, base: str, grid: str) -> str | None:
    for c in t.columns:
        if grid_part(c) == grid and base_column(c) == base_column(base):
            return c
    return None


def curve_figures(run_dir: Path, tables: list[Table], options: ReportOptions) -> list[Fig]:
    """ROC and PR curves of chosen cells (dataset/class/repetition)."""
    wanted = list(options.curves)
    if not wanted:
        seen = set()
        for t in tables:
            if t.dataset not in seen and t.rows:
                seen.add(t.dataset)
                wanted.append(f"{t.dataset}/{t.rows[0]}/0")
    out = []
    for spec in wanted:
        dataset, normal, rep = spec.split("/")
        try:
            rep_i = int(rep)
        except ValueError:
            raise AnobenchError(f"[report] curves: {spec!r}: repetition must be an integer"
                                ) from None
        cells = find_cell_scores(run_dir, dataset, normal, rep_i)
        if not cells:
            if options.curves:
                raise AnobenchError(f"{run_dir}: no stored scores for cell {spec!r} "
                                    f"(scores/ holds the cells of runs made with this version)")
            continue
        labels = cells[0].labels
        measures = [m for c in cells for (_, m) in c.scores if m]
        measure = measures[0] if measures else None  # one measure: fewer, comparable curves
        curves: dict[str, np.ndarray] = {}
        for c in cells:
            if len(c.labels) != len(labels) or not np.array_equal(c.labels, labels):
                continue
            for (col, m), s in c.scores.items():
                if m in (None, measure) and not any(np.array_equal(s, v) for v in curves.values()):
                    curves[col] = s  # identical scores (e.g. vae and vae:single) drawn once
        shown = dict(list(curves.items())[:MAX_CURVES])
        png, svg = plots.roc_pr_curves(labels, shown, _stem(run_dir, "curves", spec),
                                       title=f"{dataset}, normal class {normal}, "
                                             f"repetition {rep_i}")
        more = f" (first {MAX_CURVES} of {len(curves)} columns)" if len(curves) > len(shown) else ""
        mtxt = f", measure {measure}" if len(set(measures)) > 1 else ""
        out.append(Fig(png, svg, f"ROC and precision–recall curves, {dataset}, normal class "
                       f"{normal}, repetition {rep_i}{mtxt}: {int(labels.sum())} anomalies of "
                       f"{len(labels)} test samples{more}; columns with identical scores "
                       "drawn once.", "curves"))
    return out
