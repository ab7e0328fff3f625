"""Verdicts: which deployable column is best, by how much, and is it significantly better.

Numbers only (the sentences are in :mod:`.prose`). Per dataset, metric and
measure — and over all datasets together when there are several — the
deployable columns (oracles left out unless asked; one column per set of
identical scores) are ordered by their mean over the classes every one of
them has; the best is compared with the runner-up:

* per class, on the repetitions paired by repetition (two-sided Wilcoxon
  signed-rank, no test when both are deterministic), Holm (or the report's
  correction) over the group's classes;
* across classes, on the class means paired by class, when the group has
  at least :func:`~.stattests.min_pairs` classes.

:attr:`Verdict.significant` is the across-class decision when that test ran,
else whether every class is significantly better after correction; None when
no test could run (then there is no verdict, and :attr:`Verdict.reason` or
the untested results say why).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import partial

import numpy as np

from anobench.column import Column
from anobench.report.statistics import (
    BETTER,
    PairedResult,
    adjust,
    constant,
    paired_comparison,
    repetition_comparison,
)
from anobench.report.tables import Table

ALL_DATASETS = "all datasets"
#: Why a group has no best/runner-up pair.
ONE_COLUMN, NO_COMMON_CLASS = "one column", "no common class"


@dataclass(frozen=True)
class ClassTest:
    """Best against runner-up in one class: repetitions paired by repetition."""

    dataset: str
    row: str  # the class as shown
    result: PairedResult
    p_adj: float | None


@dataclass(frozen=True)
class Verdict:
    """Best deployable column against the runner-up in one group, metric and measure."""

    dataset: str  # a dataset label, or ALL_DATASETS
    metric: str
    measure: str | None
    alpha: float
    correction: str
    ranking: tuple[tuple[Column, float], ...]  # (column, mean over the blocks), best first
    blocks: int  # (dataset, class) blocks the means and tests use
    per_class: tuple[ClassTest, ...] = ()
    across: PairedResult | None = None  # class means paired by class (several blocks)
    incomplete: bool = False  # fewer repetitions or classes than planned in the compared cells
    deterministic: tuple[Column, ...] = ()  # best/runner-up with one value in every repetition
    reason: str = ""  # ONE_COLUMN or NO_COMMON_CLASS: no comparison at all

    @property
    def best(self) -> Column | None:
        return self.ranking[0][0] if self.ranking else None

    @property
    def runner_up(self) -> Column | None:
        return self.ranking[1][0] if len(self.ranking) > 1 else None

    @property
    def margin(self) -> float:
        """Best mean minus runner-up mean (0 without a runner-up)."""
        return self.ranking[0][1] - self.ranking[1][1] if len(self.ranking) > 1 else 0.0

    @property
    def tested_classes(self) -> list[ClassTest]:
        return [c for c in self.per_class if c.p_adj is not None]

    def class_directions(self) -> list[str | None]:
        return [c.result.direction(self.alpha, c.p_adj) for c in self.per_class]

    @property
    def significant(self) -> bool | None:
        """Best significantly better than the runner-up; None: no test could decide."""
        if self.reason:
            return None
        if self.across is not None and self.across.tested:
            return self.across.direction(self.alpha) == BETTER
        tested = self.tested_classes
        if not tested:
            return None
        return len(tested) == len(self.per_class) and all(
            d == BETTER for d in self.class_directions())


def _candidates(table: Table, oracles: bool) -> list[Column]:
    """Deployable columns, one per set of identical scores (the first of each set)."""
    return [c for c in table.columns if (oracles or not c.oracle) and table.first_of(c) == c]


def group_verdict(dataset: str, tables: list[Table], *, alpha: float, correction: str,
                  oracles: bool = False, planned: int | None = None) -> Verdict:
    """The verdict over the (dataset, class) blocks of ``tables`` (one metric and measure)."""
    first = tables[0]
    cols = _candidates(first, oracles)
    for t in tables[1:]:
        cols = [c for c in cols if c in t.columns]
    base = partial(Verdict, dataset, first.metric, first.measure, alpha, correction)
    blocks = [(t, row) for t in tables for row in t.rows
              if all((row, c) in t.values for c in cols)]
    if len(cols) < 2:
        means = [(c, float(np.mean([np.mean(t.values[(r, c)]) for t, r in blocks])))
                 for c in cols] if blocks else []
        return base(ranking=tuple(means), blocks=len(blocks), reason=ONE_COLUMN)
    if not blocks:
        return base(ranking=(), blocks=0, reason=NO_COMMON_CLASS)
    class_means = {c: np.array([float(np.mean(t.values[(row, c)])) for t, row in blocks])
                   for c in cols}
    ranking = sorted(((c, float(v.mean())) for c, v in class_means.items()),
                     key=lambda cv: -cv[1])  # stable: ties keep the suite's order
    best, runner = ranking[0][0], ranking[1][0]
    results = []
    for t, row in blocks:
        a, b = t.paired(row, best, runner)
        results.append((t.dataset, t.row_label(row), repetition_comparison(a, b, alpha=alpha)))
    adj = adjust([r.p for _, _, r in results], correction)
    per_class = tuple(ClassTest(d, row, r, p) for (d, row, r), p in zip(results, adj))
    across = (paired_comparison(class_means[best], class_means[runner], alpha=alpha)
              if len(blocks) > 1 else None)
    short = planned is not None and any(
        len(t.values[(row, c)]) < planned for t, row in blocks for c in (best, runner))
    missing = sum(len(t.rows) for t in tables) > len(blocks)
    fixed = tuple(c for c in (best, runner)
                  if all(constant(t.values[(row, c)]) or len(t.values[(row, c)]) < 2
                         for t, row in blocks)
                  and any(len(t.values[(row, c)]) > 1 for t, row in blocks))
    return base(ranking=tuple(ranking), blocks=len(blocks), per_class=per_class, across=across,
                incomplete=short or missing, deterministic=fixed)


def verdicts(tables: list[Table], *, alpha: float = 0.05, correction: str = "holm",
             oracles: bool = False, planned: int | None = None) -> list[Verdict]:
    """One verdict per dataset, metric and measure; and over all datasets when several."""
    groups: dict[tuple, list[Table]] = defaultdict(list)
    for t in tables:
        groups[(t.metric, t.measure)].append(t)
    out = []
    verdict = partial(group_verdict, alpha=alpha, correction=correction, oracles=oracles,
                      planned=planned)
    for ts in groups.values():
        out += [verdict(t.dataset, [t]) for t in ts]
        if len(ts) > 1:
            out.append(verdict(ALL_DATASETS, ts))
    order: dict[str, int] = {}
    for t in tables:
        order.setdefault(t.dataset, len(order))
    order[ALL_DATASETS] = len(order)
    return sorted(out, key=lambda v: order[v.dataset])  # stable: metrics in table order
