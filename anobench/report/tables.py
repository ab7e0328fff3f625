"""Result tables: stored records grouped into one table per dataset, metric and measure.

A :class:`Table` holds, for every normal class (row) and :class:`Column`,
the values over repetitions — numbers only; the report's text is made in
:mod:`anobench.report.render`. This module owns how records are grouped (by
their fields, never by a column's name), the order of datasets (the suite's),
classes (numeric) and columns (the suite's), which columns hold the same
scores (same model, scoring rule, measure and posterior samples, e.g.
``ed-vae`` and ``vae:expected`` of one model), means and SEMs.

Columns without a measure (detectors without a posterior) appear in every
measure's table.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anobench.column import Column
from anobench.metrics import LABELS

MEAN_ROW = "mean"


@dataclass(frozen=True)
class Table:
    """Values of one dataset, metric and measure: rows = classes, columns = :class:`Column`."""

    dataset: str
    metric: str
    measure: str | None
    columns: tuple[Column, ...]
    rows: tuple[str, ...]  # class keys; the mean row is added by the report
    values: dict[tuple[str, Column], np.ndarray]  # (row, column) -> values over repetitions
    repetitions: dict[tuple[str, Column], np.ndarray] = field(default_factory=dict)  # their ids
    test_sizes: dict[str, set[tuple[int, int]]] = field(default_factory=dict)  # row -> (normals, anomalies)
    #: column -> the first column of the table with the same scores (itself when it is the first)
    same_scores: dict[Column, Column] = field(default_factory=dict)
    row_names: dict[str, str] = field(default_factory=dict)  # row -> class name shown

    def row_label(self, row: str) -> str:
        """What the table shows for a row: the class name, else the class key."""
        return self.row_names.get(row, row)

    def paired(self, row: str, a: Column, b: Column) -> tuple[np.ndarray, np.ndarray]:
        """Values of columns ``a`` and ``b`` in one row, paired by repetition."""
        if (row, a) not in self.values or (row, b) not in self.values:
            return np.array([]), np.array([])
        ra, rb = self.repetitions[(row, a)], self.repetitions[(row, b)]
        common = np.intersect1d(ra, rb)
        va = dict(zip(ra.tolist(), self.values[(row, a)]))
        vb = dict(zip(rb.tolist(), self.values[(row, b)]))
        return (np.array([va[r] for r in common.tolist()]),
                np.array([vb[r] for r in common.tolist()]))

    def class_means(self, column: Column) -> dict[str, float]:
        """Mean over repetitions per class of one column (classes with values only)."""
        return {row: float(np.mean(self.values[(row, column)])) for row in self.rows
                if len(self.values.get((row, column), ()))}

    def first_of(self, column: Column) -> Column:
        """The first column of the table with the same scores as ``column``."""
        return self.same_scores.get(column, column)

    def named(self, name: str) -> list[Column]:
        """Columns called ``name``, or ``name`` at any grid point when it has no grid part."""
        exact = [c for c in self.columns if c.name == name]
        return exact or [c for c in self.columns if c.base_name == name]


def class_sort_key(key: str) -> tuple:
    """Order of class keys: numbers numerically, then names (``3+5`` by its parts)."""
    parts = key.split("+")
    return tuple((0, int(p)) if p.lstrip("-").isdigit() else (1, p) for p in parts)


def metric_order(metric: str) -> int:
    return list(LABELS).index(metric) if metric in LABELS else 99


def metric_label(metric: str) -> str:
    """How a metric is named in the report (``AUC``, ``PR-AUC``, ``AP``)."""
    return LABELS.get(metric, metric)


def _scores_key(record: dict[str, Any]) -> tuple | None:
    """What makes two columns' scores identical: one model, rule, measure and samples read.

    ``None`` (never identical to another column) when the record has no model.
    Records written before ``samples`` was stored count as reading the same samples.
    """
    if not record.get("model"):
        return None
    return (record["model"], record.get("rule"), record.get("measure"), record.get("samples"))


def _position(order: Sequence[str], seen: list[str]) -> dict[str, int]:
    """Index of each name: first the given order, then the order seen."""
    out = {name: i for i, name in enumerate(order)}
    for name in seen:
        out.setdefault(name, len(out))
    return out


def build_tables(records: Iterable[dict[str, Any]], *, datasets: Sequence[str] = (),
                 columns: Sequence[str] = ()) -> list[Table]:
    """Group result records into tables.

    Parameters
    ----------
    records : iterable of dict
        Stored records; only ``kind = "result"`` ones are used.
    datasets : sequence of str
        Dataset labels in suite order (tables follow it); datasets not named
        follow in the order of their first record.
    columns : sequence of str
        Column names in suite order; columns not named follow in the order of
        their first record.
    """
    recs = [r for r in records if r.get("kind", "result") == "result"]
    cells: dict[tuple, dict[tuple[str, Column], dict[int, float]]] = defaultdict(
        lambda: defaultdict(dict))
    seen_cols: dict[tuple, list[Column]] = defaultdict(list)
    measures: dict[tuple, set] = defaultdict(set)
    sizes: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    keys: dict[tuple, dict[Column, tuple | None]] = defaultdict(dict)
    seen_datasets: list[str] = []
    names: dict[str, dict[str, str]] = defaultdict(dict)
    for r in recs:
        if r.get("class_name"):
            names[r["dataset"]][r["normal"]] = r["class_name"]
        measures[(r["dataset"], r["metric"])].add(r.get("measure"))
        if r["dataset"] not in seen_datasets:
            seen_datasets.append(r["dataset"])
        if "n_test" in r and "n_anomalies" in r:
            n_anom = int(r["n_anomalies"])
            sizes[r["dataset"]][r["normal"]].add((int(r["n_test"]) - n_anom, n_anom))
    for r in recs:
        col = Column.from_record(r)
        latent = sorted(m for m in measures[(r["dataset"], r["metric"])] if m) or [None]
        for measure in (latent if r.get("measure") is None else [r["measure"]]):
            key = (r["dataset"], r["metric"], measure)
            if col not in keys[key]:
                seen_cols[key].append(col)
                keys[key][col] = _scores_key(r)
            cells[key][(r["normal"], col)][int(r["repetition"])] = float(r["value"])
    tables = []
    for key, by_cell in cells.items():
        column_pos = _position(columns, [c.name for c in seen_cols[key]])
        cols = sorted(seen_cols[key], key=lambda c: column_pos[c.name])
        rows = sorted({row for row, _ in by_cell}, key=class_sort_key)
        values = {k: np.array([v for _, v in sorted(d.items())]) for k, d in by_cell.items()}
        reps = {k: np.array(sorted(d)) for k, d in by_cell.items()}
        first: dict[tuple, Column] = {}
        same = {}
        for c in cols:
            k = keys[key][c]
            same[c] = c if k is None else first.setdefault(k, c)
        tables.append(Table(key[0], key[1], key[2], tuple(cols), tuple(rows), values, reps,
                            {row: sizes[key[0]][row] for row in rows if row in sizes[key[0]]},
                            same,
                            {row: names[key[0]][row] for row in rows if row in names[key[0]]}))
    dataset_pos = _position(datasets, seen_datasets)
    tables.sort(key=lambda t: (dataset_pos[t.dataset], metric_order(t.metric), t.measure or ""))
    return tables


def sem(values: np.ndarray, ddof: int = 1) -> float:
    """Standard error of the mean, ``std(ddof) / sqrt(n)``; NaN with fewer than two values."""
    n = len(values)
    if n < 2:
        return float("nan")
    return float(np.std(values, ddof=ddof) / math.sqrt(n))


def repetition_counts(table: Table) -> tuple[int, int]:
    """Fewest and most repetitions of any cell of the table."""
    counts = [len(v) for v in table.values.values()]
    return min(counts), max(counts)


def deterministic_columns(table: Table) -> list[Column]:
    """Columns with one value in all repetitions of every class (at least one class with two).

    A deterministic detector on a test set the repetitions do not change
    (``anomalies = "all"``): its SEM is 0 and its repetitions are not samples.
    """
    out = []
    for col in table.columns:
        runs = [table.values[(row, col)] for row in table.rows if (row, col) in table.values]
        many = [v for v in runs if len(v) > 1]
        if many and all(float(np.ptp(v)) <= 1e-12 * max(1.0, float(np.max(np.abs(v))))
                        for v in many):
            out.append(col)
    return out


def incomplete_cells(table: Table, planned: int | None) -> dict[tuple[str, Column], int]:
    """(row, column) -> repetitions stored, where fewer than ``planned`` (None: not known)."""
    if planned is None:
        return {}
    counts = {(row, col): len(table.values.get((row, col), ()))
              for row in table.rows for col in table.columns}
    return {key: n for key, n in counts.items() if n < planned}
