"""Significance tests on result tables: marks, paired comparisons, ranks.

Ties the pure tests of :mod:`anobench.stats` to :class:`anobench.report.Table`:

* :func:`table_tests` — each column against the reference column (same grid
  point), per class on the repetitions (paired by repetition) and on the
  ``mean`` row across classes (paired by class); two-sided Wilcoxon
  signed-rank; p-values corrected per column over its classes, and over the
  columns for the ``mean`` row. A value is marked where the corrected
  p < alpha and the column is the better one.
* :func:`pair_tests` — one pair of columns [A, B] in every table holding
  both: per class, per dataset across classes, and across all (dataset,
  class) blocks.
* :func:`rank_tests` — Friedman over (dataset, class) blocks of class means,
  average ranks and the Nemenyi critical difference, per metric and measure.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from anobench import stats
from anobench.report import DAGGER, MEAN_ROW, Table, metric_order, n_repetitions
from anobench.reportcfg import base_column, grid_part, with_grid


def reference_for(column: str, reference: str | None, columns: tuple[str, ...]) -> str | None:
    """The reference column a column is tested against (same grid point), or None."""
    if not reference:
        return None
    for cand in (with_grid(reference, grid_part(column)), reference):
        if cand in columns and cand != column:
            return cand
    return None


def _test_label(results: list[stats.PairedResult]) -> str:
    methods = sorted({r.method for r in results if r.tested and r.method in ("exact", "normal")})
    return f" ({'/'.join(methods)} p), " if methods else ", "


@dataclass
class TableTests:
    """Every column of one table against its reference column."""

    table: Table
    reference: dict[str, str]  # column -> reference column
    alpha: float
    correction: str
    cells: dict[tuple[str, str], stats.PairedResult] = field(default_factory=dict)
    p_adj: dict[tuple[str, str], float | None] = field(default_factory=dict)
    marks: set[tuple[str, str]] = field(default_factory=set)

    def footnote(self, sem_ddof: int = 1) -> str:
        t = self.table
        sem_txt = (f"mean ± SEM over {n_repetitions(t)} repetition(s), ×100; SEM = std "
                   f"(ddof={sem_ddof}) / √n; bold = best per row; mean row = mean over classes.")
        if not self.reference:
            return sem_txt + " No reference column: no significance marks."
        refs = sorted(set(self.reference.values()))
        if len(refs) > 2:  # grid points: name the base column once
            refs = [f"{b} (at the same grid point)" for b in sorted({base_column(r) for r in refs})]
        class_res = [r for (row, _), r in self.cells.items() if row != MEAN_ROW]
        mean_res = [r for (row, _), r in self.cells.items() if row == MEAN_ROW]
        corr = stats.CORRECTIONS[self.correction]
        n_cls = sorted({r.n for r in class_res}) or [0]
        n_txt = str(n_cls[0]) if len(n_cls) == 1 else f"{n_cls[0]}–{n_cls[-1]}"
        need = stats.min_pairs(self.alpha)
        parts = [sem_txt, (f"{DAGGER} significantly better than the reference "
                           f"{', '.join(refs)}: two-sided Wilcoxon signed-rank test"
                           f"{_test_label(class_res + mean_res)}α = {self.alpha:g}, "
                           f"{corr}.")]
        if class_res and not any(r.tested for r in class_res):
            parts.append(f"Classes: n = {n_txt} paired repetition(s), too few for a test "
                         f"(needs n ≥ {need} at α = {self.alpha:g}): no marks per class.")
        elif class_res:
            parts.append(f"Classes: n = {n_txt} repetitions paired by repetition, corrected "
                         f"over the {len(t.rows)} classes of each column.")
            floor = stats.smallest_corrected_p(n_cls[-1], len(t.rows), self.correction)
            if floor >= self.alpha and self.correction != "none":
                parts.append(f"With n = {n_cls[-1]} and {len(t.rows)} classes the smallest "
                             f"attainable corrected p is {floor:.3g} ≥ α, so no class can be "
                             "marked; see the uncorrected p of the paired tests.")
        if mean_res:
            n_mean = mean_res[0].n
            if not any(r.tested for r in mean_res):
                parts.append(f"Mean row: n = {n_mean} class means, too few for a test "
                             f"(needs n ≥ {need}).")
            else:
                parts.append(f"Mean row: class means paired by class (n = {n_mean}), corrected "
                             f"over the {len(mean_res)} columns.")
        return " ".join(parts)


def table_tests(table: Table, reference: str | None, *, alpha: float = 0.05,
                correction: str = "holm") -> TableTests:
    """Test every column of ``table`` against the reference column."""
    refs = {c: r for c in table.columns
            if (r := reference_for(c, reference, table.columns)) is not None}
    out = TableTests(table, refs, alpha, correction)
    for col, ref in refs.items():
        rows = []
        for row in table.rows:
            a, b = table.paired(row, col, ref)
            if len(a):
                out.cells[(row, col)] = stats.paired_comparison(a, b, alpha=alpha)
                rows.append(row)
        adj = stats.adjust([out.cells[(row, col)].p for row in rows], correction)
        out.p_adj.update({(row, col): p for row, p in zip(rows, adj)})
    mean_cols = []
    for col, ref in refs.items():
        ma, mb = table.class_means(col), table.class_means(ref)
        common = [row for row in table.rows if row in ma and row in mb]
        if len(common) == len(table.rows):
            out.cells[(MEAN_ROW, col)] = stats.paired_comparison(
                np.array([ma[r] for r in common]), np.array([mb[r] for r in common]), alpha=alpha)
            mean_cols.append(col)
    adj = stats.adjust([out.cells[(MEAN_ROW, c)].p for c in mean_cols], correction)
    out.p_adj.update({(MEAN_ROW, c): p for c, p in zip(mean_cols, adj)})
    out.marks = {key for key, res in out.cells.items() if res.better(alpha, out.p_adj[key])}
    return out


@dataclass(frozen=True)
class PairRow:
    """One paired comparison of columns A and B."""

    dataset: str  # "all" for the pooled row
    row: str  # class key, or "all classes"
    a: str
    b: str
    mean_a: float
    mean_b: float
    result: stats.PairedResult
    p_adj: float | None
    unit: str  # what was paired: "repetitions" or "class means"


@dataclass
class PairSection:
    a: str  # base names as asked
    b: str
    metric: str
    measure: str | None
    grid: str  # grid point, "" when none
    rows: list[PairRow] = field(default_factory=list)


def _columns_for(base: str, table: Table) -> dict[str, str]:
    """grid part -> column of ``table`` matching a (base) column name."""
    out = {}
    for c in table.columns:
        if c == base or (base_column(c) == base and not grid_part(base)):
            out[grid_part(c)] = c
    return out


def pair_tests(tables: list[Table], a: str, b: str, *, alpha: float = 0.05,
               correction: str = "holm") -> list[PairSection]:
    """Columns ``a`` vs ``b`` in every table with both, per grid point."""
    sections: dict[tuple, PairSection] = {}
    blocks: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for t in tables:
        ca, cb = _columns_for(a, t), _columns_for(b, t)
        for grid in sorted(set(ca) & set(cb)):
            key = (t.metric, t.measure, grid)
            sec = sections.setdefault(key, PairSection(a, b, t.metric, t.measure, grid))
            col_a, col_b = ca[grid], cb[grid]
            class_rows = []
            for row in t.rows:
                va, vb = t.paired(row, col_a, col_b)
                if len(va):
                    class_rows.append(PairRow(t.dataset, t.row_label(row), col_a, col_b, float(va.mean()),
                                              float(vb.mean()), stats.paired_comparison(
                                                  va, vb, alpha=alpha), None, "repetitions"))
            adj = stats.adjust([r.result.p for r in class_rows], correction)
            sec.rows.extend(PairRow(**{**r.__dict__, "p_adj": p}) for r, p in zip(class_rows, adj))
            ma, mb = t.class_means(col_a), t.class_means(col_b)
            common = [r for r in t.rows if r in ma and r in mb]
            if common:
                xa, xb = np.array([ma[r] for r in common]), np.array([mb[r] for r in common])
                res = stats.paired_comparison(xa, xb, alpha=alpha)
                sec.rows.append(PairRow(t.dataset, "all classes", col_a, col_b, float(xa.mean()),
                                        float(xb.mean()), res, res.p, "class means"))
                blocks[key].extend(zip(xa, xb))
    for key, sec in sections.items():
        if len({r.dataset for r in sec.rows}) > 1:
            xa, xb = (np.array(v) for v in zip(*blocks[key]))
            res = stats.paired_comparison(xa, xb, alpha=alpha)
            sec.rows.append(PairRow("all", "all classes", a, b, float(xa.mean()),
                                    float(xb.mean()), res, res.p, "class means"))
    return sorted(sections.values(), key=lambda s: (metric_order(s.metric), s.measure or "",
                                                    _grid_sort(s.grid)))


def _grid_sort(grid: str) -> tuple:
    vals = []
    for part in grid.strip("[]").split(","):
        _, _, v = part.partition("=")
        try:
            vals.append((0, float(v), ""))
        except ValueError:
            vals.append((1, 0.0, v))
    return tuple(vals)


@dataclass(frozen=True)
class RankSection:
    metric: str
    measure: str | None
    columns: tuple[str, ...]
    blocks: tuple[str, ...]  # "dataset/class"
    result: stats.FriedmanResult
    nemenyi_p: np.ndarray | None


def rank_tests(tables: list[Table], *, alpha: float = 0.05,
               columns: tuple[str, ...] | None = None) -> list[RankSection]:
    """Friedman + Nemenyi over (dataset, class) blocks of class means, per metric/measure."""
    groups: dict[tuple, list[Table]] = defaultdict(list)
    for t in tables:
        groups[(t.metric, t.measure)].append(t)
    out = []
    for (metric, measure), ts in groups.items():
        cols = [c for c in ts[0].columns
                if columns is None or c in columns or base_column(c) in columns]
        for t in ts[1:]:
            cols = [c for c in cols if c in t.columns]
        block_names, rows = [], []
        for t in ts:
            means = {c: t.class_means(c) for c in cols}
            for row in t.rows:
                if all(row in means[c] for c in cols):
                    block_names.append(f"{t.dataset}/{row}")
                    rows.append([means[c][row] for c in cols])
        if len(cols) < 2 or not rows:
            continue
        res = stats.friedman(np.array(rows), alpha=alpha)
        nem = stats.nemenyi_pvalues(res.avg_ranks, res.n) if res.p is not None else None
        out.append(RankSection(metric, measure, tuple(cols), tuple(block_names), res, nem))
    return sorted(out, key=lambda s: (metric_order(s.metric), s.measure or ""))
