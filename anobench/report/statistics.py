"""Statistical tests of result tables — numbers only; the words are in :mod:`.render`.

The tests on arrays (Wilcoxon, Holm, Friedman, Nemenyi) are in
:mod:`.stattests` and re-exported here. Tests on tables:

* :func:`table_tests` — every column against the reference column (same
  grid point): per class on the repetitions, on the ``mean`` row across
  classes; Holm families per column over its classes, and over the columns
  for the mean row. A decision is two-directional: ``"better"`` or
  ``"worse"`` (the table's ▲ and ▼). Columns holding the same scores (same
  model, rule, measure) are tested once and counted once in a family;
  oracle columns (rules that choose with the test labels) are bounds, not
  tested unless asked (``oracles=True``).
* :func:`pair_tests` — columns A and B per class, per dataset across classes,
  and across every (dataset, class) block.
* :func:`rank_tests` — Friedman and Nemenyi over (dataset, class) blocks of
  class means; columns with the same scores are ranked once; oracles are
  left out unless asked.

Per class, a pair of columns that are each identical over the repetitions
(deterministic detectors on a fixed test set) is not tested
(:func:`~.stattests.repetition_comparison`).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

from anobench.column import Column, GridPoint
from anobench.report.stattests import (  # noqa: F401 - re-exported: the tests on arrays
    BETTER,
    BOOT_SEED,
    EXACT_MAX,
    N_BOOT,
    PERMUTATION_MAX,
    TIE_TOL,
    WORSE,
    FriedmanResult,
    PairedResult,
    adjust,
    average_ranks,
    bootstrap_median_ci,
    cd_groups,
    constant,
    friedman,
    min_pairs,
    nemenyi_cd,
    nemenyi_pvalues,
    nemenyi_q,
    paired_comparison,
    rank_biserial,
    repetition_comparison,
    smallest_corrected_p,
    wilcoxon_signed_rank,
)
from anobench.report.tables import MEAN_ROW, Table, metric_order

# ------------------------------------------------------------------ tests on tables

def reference_for(column: Column, reference: str | None, table: Table) -> Column | None:
    """The column ``column`` is tested against: ``reference`` at its grid point, or by name."""
    if not reference:
        return None
    for cand in table.columns:  # the reference at the same grid point
        if cand.base_name == reference and cand.grid == column.grid and cand != column:
            return cand
    for cand in table.columns:
        if cand.name == reference and cand != column:
            return cand
    return None


@dataclass
class TableTests:
    """Every column of one table against its reference column."""

    table: Table
    alpha: float
    correction: str
    reference: dict[Column, Column] = field(default_factory=dict)  # column -> its reference
    same_as_reference: set[Column] = field(default_factory=set)  # same scores: not tested
    cells: dict[tuple[str, Column], PairedResult] = field(default_factory=dict)
    p_adj: dict[tuple[str, Column], float | None] = field(default_factory=dict)
    #: (row, column) -> "better" or "worse": significant at alpha after correction
    marks: dict[tuple[str, Column], str] = field(default_factory=dict)
    mean_family: int = 0  # tests in the mean row's correction family (one per set of same scores)
    class_family: dict[Column, int] = field(default_factory=dict)  # classes tested, per column
    bounds: tuple[Column, ...] = ()  # oracle columns left untested (bounds, not detectors)

    def decision(self, row: str, column: Column) -> str | None:
        """``"better"``, ``"worse"`` or None for one cell of the table."""
        return self.marks.get((row, column))


def table_tests(table: Table, reference: str | None, *, alpha: float = 0.05,
                correction: str = "holm", oracles: bool = False) -> TableTests:
    """Test every column of ``table`` against the reference column.

    A cell is marked ``"better"`` or ``"worse"`` when its corrected p < alpha.
    Oracle columns are tested only with ``oracles`` (else they are bounds).
    """
    out = TableTests(table, alpha, correction)
    _assign_references(out, table, reference, oracles)
    # one test per set of identical scores: the first column of each set is tested
    first_tested: dict[tuple[Column, Column], Column] = {}
    for col, ref in out.reference.items():
        first_tested.setdefault((table.first_of(col), table.first_of(ref)), col)
    tested = list(first_tested.values())
    for col in tested:
        _test_per_class(out, table, col, alpha, correction)
    _test_class_means(out, table, tested, alpha, correction)
    for col, ref in out.reference.items():  # same scores as a tested column: its results
        src = first_tested[(table.first_of(col), table.first_of(ref))]
        if src != col:
            _copy_results(out, src, col)
    for key, res in out.cells.items():
        direction = res.direction(alpha, out.p_adj[key])
        if direction:
            out.marks[key] = direction
    return out


def _assign_references(out: TableTests, table: Table, reference: str | None,
                       oracles: bool) -> None:
    """Each column's reference, or why it is not tested (a bound, the reference's own scores)."""
    for col in table.columns:
        ref = reference_for(col, reference, table)
        if ref is None:
            continue
        if col.oracle and not oracles and not ref.oracle:
            out.bounds += (col,)
        elif table.first_of(col) == table.first_of(ref):
            out.same_as_reference.add(col)  # the reference's own scores: nothing to test
        else:
            out.reference[col] = ref


def _test_per_class(out: TableTests, table: Table, col: Column, alpha: float,
                    correction: str) -> None:
    """Paired repetitions of ``col`` and its reference in every row, corrected over the rows."""
    ref = out.reference[col]
    rows = []
    for row in table.rows:
        a, b = table.paired(row, col, ref)
        if len(a):
            out.cells[(row, col)] = repetition_comparison(a, b, alpha=alpha)
            rows.append(row)
    adj = adjust([out.cells[(row, col)].p for row in rows], correction)
    out.p_adj.update({(row, col): p for row, p in zip(rows, adj)})
    out.class_family[col] = sum(p is not None for p in adj)


def _test_class_means(out: TableTests, table: Table, tested: list[Column], alpha: float,
                      correction: str) -> None:
    """The mean row: class means paired, for columns with every class, corrected over columns."""
    mean_cols = []
    for col in tested:
        ma, mb = table.class_means(col), table.class_means(out.reference[col])
        common = [row for row in table.rows if row in ma and row in mb]
        if len(common) == len(table.rows):
            out.cells[(MEAN_ROW, col)] = paired_comparison(
                np.array([ma[r] for r in common]), np.array([mb[r] for r in common]), alpha=alpha)
            mean_cols.append(col)
    adj = adjust([out.cells[(MEAN_ROW, c)].p for c in mean_cols], correction)
    out.p_adj.update({(MEAN_ROW, c): p for c, p in zip(mean_cols, adj)})
    out.mean_family = sum(p is not None for p in adj)


def _copy_results(out: TableTests, src: Column, col: Column) -> None:
    """``col`` has the scores of the tested ``src``: it gets ``src``'s results."""
    out.class_family[col] = out.class_family[src]
    for (row, c), res in list(out.cells.items()):
        if c == src:
            out.cells[(row, col)] = res
            out.p_adj[(row, col)] = out.p_adj[(row, c)]


@dataclass(frozen=True)
class PairRow:
    """One paired comparison of columns A and B."""

    dataset: str  # "all" for the pooled row
    row: str  # class key, or "all classes"
    mean_a: float
    mean_b: float
    result: PairedResult
    p_adj: float | None
    unit: str  # what was paired: "repetitions" or "class means"


@dataclass
class PairSection:
    """Columns A and B (names as asked) at one grid point, in one metric and measure."""

    a: str
    b: str
    metric: str
    measure: str | None
    grid: GridPoint  # () when none
    rows: list[PairRow] = field(default_factory=list)


def _grid_sort(grid: GridPoint) -> tuple:
    return tuple((0, float(v), "") if isinstance(v, (int, float)) else (1, 0.0, str(v))
                 for _, v in grid)


def pair_tests(tables: list[Table], a: str, b: str, *, alpha: float = 0.05,
               correction: str = "holm") -> list[PairSection]:
    """Columns ``a`` vs ``b`` in every table with both, per grid point."""
    sections: dict[tuple, PairSection] = {}
    blocks: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for t in tables:
        ca = {c.grid: c for c in t.columns if c.matches(a)}
        cb = {c.grid: c for c in t.columns if c.matches(b)}
        for grid in sorted(set(ca) & set(cb), key=_grid_sort):
            key = (t.metric, t.measure, grid)
            sec = sections.setdefault(key, PairSection(a, b, t.metric, t.measure, grid))
            col_a, col_b = ca[grid], cb[grid]
            class_rows = []
            for row in t.rows:
                va, vb = t.paired(row, col_a, col_b)
                if len(va):
                    class_rows.append(PairRow(t.dataset, t.row_label(row), float(va.mean()),
                                              float(vb.mean()),
                                              repetition_comparison(va, vb, alpha=alpha), None,
                                              "repetitions"))
            adj = adjust([r.result.p for r in class_rows], correction)
            sec.rows.extend(replace(r, p_adj=p) for r, p in zip(class_rows, adj))
            ma, mb = t.class_means(col_a), t.class_means(col_b)
            common = [r for r in t.rows if r in ma and r in mb]
            if common:
                xa, xb = np.array([ma[r] for r in common]), np.array([mb[r] for r in common])
                res = paired_comparison(xa, xb, alpha=alpha)
                sec.rows.append(PairRow(t.dataset, "all classes", float(xa.mean()),
                                        float(xb.mean()), res, res.p, "class means"))
                blocks[key].extend(zip(xa, xb))
    for key, sec in sections.items():
        if len({r.dataset for r in sec.rows}) > 1:
            xa, xb = (np.array(v) for v in zip(*blocks[key]))
            res = paired_comparison(xa, xb, alpha=alpha)
            sec.rows.append(PairRow("all", "all classes", float(xa.mean()), float(xb.mean()),
                                    res, res.p, "class means"))
    return sorted(sections.values(), key=lambda s: (metric_order(s.metric), s.measure or "",
                                                    _grid_sort(s.grid)))


@dataclass(frozen=True)
class RankSection:
    """Friedman and Nemenyi over (dataset, class) blocks, one metric and measure."""

    metric: str
    measure: str | None
    columns: tuple[Column, ...]  # ranked: one column per set of identical scores
    blocks: tuple[str, ...]  # "dataset/class"
    result: FriedmanResult
    nemenyi_p: np.ndarray | None
    same_scores: dict[Column, tuple[Column, ...]]  # ranked column -> the others with its scores


def rank_tests(tables: list[Table], *, alpha: float = 0.05,
               columns: tuple[str, ...] | None = None, oracles: bool = False
               ) -> list[RankSection]:
    """Friedman + Nemenyi over (dataset, class) blocks of class means, per metric/measure.

    Oracle columns are left out unless ``oracles`` or named in ``columns``.
    """
    groups: dict[tuple, list[Table]] = defaultdict(list)
    for t in tables:
        groups[(t.metric, t.measure)].append(t)
    out = []
    for (metric, measure), ts in groups.items():
        first = ts[0]
        cols = [c for c in first.columns
                if (any(c.matches(name) for name in columns) if columns is not None
                    else oracles or not c.oracle)]
        for t in ts[1:]:
            cols = [c for c in cols if c in t.columns]
        by_scores: dict[Column, list[Column]] = {}  # one ranked column per set of same scores
        for c in cols:
            by_scores.setdefault(first.first_of(c), []).append(c)
        ranked = [same[0] for same in by_scores.values()]
        twins = {same[0]: tuple(same[1:]) for same in by_scores.values()}
        block_names, rows = [], []
        for t in ts:
            means = {c: t.class_means(c) for c in ranked}
            for row in t.rows:
                if all(row in means[c] for c in ranked):
                    block_names.append(f"{t.dataset}/{row}")
                    rows.append([means[c][row] for c in ranked])
        if len(ranked) < 2 or not rows:
            continue
        res = friedman(np.array(rows), alpha=alpha)
        nem = nemenyi_pvalues(res.avg_ranks, res.n) if res.p is not None else None
        out.append(RankSection(metric, measure, tuple(ranked), tuple(block_names), res, nem,
                               {c: v for c, v in twins.items() if v}))
    return sorted(out, key=lambda s: (metric_order(s.metric), s.measure or ""))
