"""Mean ± SEM tables from stored records (the paper's Tables 1–3 layout).

One table per dataset, metric and measure: rows are normal classes plus a
``mean`` row (mean over classes of the class means), columns are detector
columns, cells are ``mean ± SEM`` over repetitions ×100 with one decimal; the
best value per row is bold. SEM = sample standard deviation (ddof=1) /
sqrt(n) by default (the authors used ddof=0; ``sem_ddof = 0`` reproduces it).
Columns without a measure (non-latent detectors) appear in every measure's
table. Values significantly better than the reference column carry a dagger
(see :mod:`anobench.significance`).
"""
from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tabulate import tabulate

from anobench.metrics import LABELS

FORMATS = {"markdown": "github", "latex": "latex_raw", "plain": "simple", "html": "unsafehtml"}
DAGGER = "†"
MEAN_ROW = "mean"


@dataclass(frozen=True)
class Cell:
    """A table cell: text, bold or not, and a significance mark."""

    text: str
    bold: bool = False
    mark: str = ""


def markup(cell: Cell | str, fmt: str) -> str:
    """A cell as text in one output format."""
    if isinstance(cell, str):
        cell = Cell(cell)
    text, mark = cell.text, cell.mark
    if fmt == "latex":
        text, mark = latex_escape(text), latex_escape(mark)
        return (f"\\textbf{{{text}}}" if cell.bold else text) + mark
    if fmt == "html":
        text = html.escape(text)
        mark = f"<sup>{html.escape(mark)}</sup>" if mark else ""
        return (f"<b>{text}</b>" if cell.bold else text) + mark
    if fmt == "markdown":
        return (f"**{text}**" if cell.bold else text) + mark
    return text + ("*" if cell.bold else "") + mark


_LATEX = {
    "\\": "\\textbackslash{}", "±": "$\\pm$", "×": "$\\times$", "√": "$\\surd$",
    "α": "$\\alpha$", "χ": "$\\chi$", "²": "$^2$", "†": "$^\\dagger$", "≥": "$\\geq$",
    "≤": "$\\leq$", "–": "--", "−": "$-$", "Δ": "$\\Delta$", "_": "\\_", "%": "\\%",
    "&": "\\&", "#": "\\#", "^": "\\^{}", "{": "\\{", "}": "\\}", "$": "\\$", "~": "\\~{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and spell the report's Unicode symbols in LaTeX."""
    parts = text.split("√n")
    return "$\\sqrt{n}$".join("".join(_LATEX.get(ch, ch) for ch in part) for part in parts)


def render_grid(headers: list, rows: list[list], fmt: str) -> str:
    """Render header and rows of :class:`Cell` or str with tabulate."""
    align = ("left",) + ("right",) * (len(headers) - 1)
    return tabulate([[markup(c, fmt) for c in row] for row in rows],
                    headers=[markup(h, fmt) for h in headers], tablefmt=FORMATS[fmt],
                    disable_numparse=True, colalign=align)


@dataclass(frozen=True)
class Table:
    dataset: str
    metric: str
    measure: str | None
    columns: tuple[str, ...]
    rows: tuple[str, ...]  # class keys; the mean row is added when rendering
    values: dict[tuple[str, str], np.ndarray]  # (row, column) -> values over repetitions
    repetitions: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # their ids
    test_sizes: dict[str, set[tuple[int, int]]] = field(default_factory=dict)  # row -> (normals, anomalies)
    row_names: dict[str, str] = field(default_factory=dict)  # row -> class name shown

    def row_label(self, row: str) -> str:
        """What the table shows for a row: the class name, else the class key."""
        return self.row_names.get(row, row)

    @property
    def title(self) -> str:
        label = LABELS.get(self.metric, self.metric)
        suffix = f", measure: {self.measure}" if self.measure else ""
        return f"{self.dataset}: {label}{suffix}"

    def paired(self, row: str, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
        """Values of columns ``a`` and ``b`` in one row, paired by repetition."""
        if (row, a) not in self.values or (row, b) not in self.values:
            return np.array([]), np.array([])
        ra, rb = self.repetitions[(row, a)], self.repetitions[(row, b)]
        common = np.intersect1d(ra, rb)
        va = dict(zip(ra.tolist(), self.values[(row, a)]))
        vb = dict(zip(rb.tolist(), self.values[(row, b)]))
        return (np.array([va[r] for r in common.tolist()]),
                np.array([vb[r] for r in common.tolist()]))

    def class_means(self, column: str) -> dict[str, float]:
        return {row: float(np.mean(self.values[(row, column)])) for row in self.rows
                if len(self.values.get((row, column), ()))}


def class_sort_key(key: str) -> tuple:
    parts = key.split("+")
    return tuple((0, int(p)) if p.lstrip("-").isdigit() else (1, p) for p in parts)


def metric_order(metric: str) -> int:
    return list(LABELS).index(metric) if metric in LABELS else 99


def build_tables(records: Iterable[dict[str, Any]]) -> list[Table]:
    """Group result records into tables."""
    recs = [r for r in records if r.get("kind", "result") == "result"]
    by_key: dict[tuple, dict[tuple[str, str], dict[int, float]]] = defaultdict(
        lambda: defaultdict(dict))
    order: dict[tuple, list[str]] = defaultdict(list)
    measures: dict[tuple, set] = defaultdict(set)
    sizes: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    names: dict[str, dict[str, str]] = defaultdict(dict)
    for r in recs:
        if r.get("class_name"):
            names[r["dataset"]][r["normal"]] = r["class_name"]
        measures[(r["dataset"], r["metric"])].add(r.get("measure"))
        if "n_test" in r and "n_anomalies" in r:
            n_anom = int(r["n_anomalies"])
            sizes[r["dataset"]][r["normal"]].add((int(r["n_test"]) - n_anom, n_anom))
    for r in recs:
        ms = measures[(r["dataset"], r["metric"])]
        latent = sorted(m for m in ms if m) or [None]
        targets = latent if r.get("measure") is None else [r["measure"]]
        for measure in targets:
            key = (r["dataset"], r["metric"], measure)
            if r["column"] not in order[key]:
                order[key].append(r["column"])
            by_key[key][(r["normal"], r["column"])][int(r["repetition"])] = float(r["value"])
    tables = []
    for key, cells in by_key.items():
        rows = sorted({row for row, _ in cells}, key=class_sort_key)
        values = {k: np.array([v for _, v in sorted(d.items())]) for k, d in cells.items()}
        reps = {k: np.array(sorted(d)) for k, d in cells.items()}
        tables.append(Table(key[0], key[1], key[2], tuple(order[key]), tuple(rows), values, reps,
                            {row: sizes[key[0]][row] for row in rows if row in sizes[key[0]]},
                            {row: names[key[0]][row] for row in rows if row in names[key[0]]}))
    tables.sort(key=lambda t: (t.dataset, metric_order(t.metric), t.measure or ""))
    return tables


def sem(values: np.ndarray, ddof: int = 1) -> float:
    n = len(values)
    if n < 2:
        return float("nan")
    return float(np.std(values, ddof=ddof) / math.sqrt(n))


def table_cells(table: Table, sem_ddof: int = 1, marks: Iterable[tuple[str, str]] = ()
                ) -> tuple[list[str], list[list[Cell]]]:
    """Header and rows of :class:`Cell`; ``marks`` = (row, column) pairs that get a dagger."""
    marks = set(marks)
    body: list[list[Cell]] = []
    col_means: dict[str, list[float]] = defaultdict(list)
    for row in table.rows:
        means = {}
        for col in table.columns:
            vals = table.values.get((row, col))
            if vals is not None and len(vals):
                means[col] = float(np.mean(vals))
                col_means[col].append(means[col])
        best = round(100 * max(means.values()), 1) if means else None
        cells = [Cell(table.row_label(row))]
        for col in table.columns:
            vals = table.values.get((row, col))
            if vals is None or not len(vals):
                cells.append(Cell("–"))
                continue
            s = sem(vals, sem_ddof)
            text = f"{100 * means[col]:.1f}" + ("" if math.isnan(s) else f"±{100 * s:.1f}")
            cells.append(Cell(text, round(100 * means[col], 1) == best,
                              DAGGER if (row, col) in marks else ""))
        body.append(cells)
    full = {c: float(np.mean(v)) for c, v in col_means.items() if len(v) == len(table.rows)}
    best = round(100 * max(full.values()), 1) if full else None
    mean_row = [Cell(MEAN_ROW)]
    for col in table.columns:
        if col not in full:
            mean_row.append(Cell("–"))
            continue
        mean_row.append(Cell(f"{100 * full[col]:.1f}", round(100 * full[col], 1) == best,
                             DAGGER if (MEAN_ROW, col) in marks else ""))
    body.append(mean_row)
    return ["class", *table.columns], body


def test_set_note(table: Table) -> str:
    """The test-set sizes of a table's classes, e.g. ``Test set: 107 normals / 3 anomalies.``"""
    if not table.test_sizes:
        return ""

    def text(sizes: set[tuple[int, int]]) -> str:
        return ", ".join(f"{n}/{a}" for n, a in sorted(sizes))

    kinds = {frozenset(v) for v in table.test_sizes.values()}
    if len(kinds) == 1:
        (n, a), *more = sorted(next(iter(kinds)))
        if not more:
            return f"Test set: {n} normals / {a} anomalies."
    parts = [f"{table.row_label(row)}: {text(table.test_sizes[row])}" for row in table.rows
             if row in table.test_sizes]
    return f"Test sets (normals/anomalies) per class: {'; '.join(parts)}."


def render_table(table: Table, fmt: str = "markdown", sem_ddof: int = 1,
                 marks: Iterable[tuple[str, str]] = ()) -> str:
    headers, rows = table_cells(table, sem_ddof, marks)
    return render_grid(headers, rows, fmt)


def n_repetitions(table: Table) -> str:
    counts = sorted({len(v) for v in table.values.values()})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def render_report(records: list[dict[str, Any]], fmt: str = "markdown",
                  sem_ddof: int | None = None, metrics: Iterable[str] | None = None,
                  options: Any = None) -> str:
    """All tables of a run as one text document, with significance marks.

    ``options``: :class:`anobench.reportcfg.ReportOptions` (default: defaults);
    ``sem_ddof`` and ``metrics`` override it.
    """
    from anobench.reportcfg import ReportOptions, resolve
    from anobench.significance import table_tests

    options = options or ReportOptions()
    sem_ddof = options.sem_ddof if sem_ddof is None else sem_ddof
    wanted = set(metrics) if metrics is not None else (
        set(options.metrics) if options.metrics else None)
    tables = [t for t in build_tables(records) if wanted is None or t.metric in wanted]
    if not tables:
        return "(no results stored yet)\n"
    reference, _ = resolve(options, records)
    parts = []
    for t in tables:
        tests = table_tests(t, reference, alpha=options.alpha, correction=options.correction)
        note = " ".join(filter(None, [tests.footnote(sem_ddof), test_set_note(t)]))
        body = render_table(t, fmt, sem_ddof, tests.marks)
        if fmt == "latex":
            parts.append(f"% {t.title}\n{body}\n% {note}\n")
        elif fmt == "markdown":
            parts.append(f"### {t.title}\n\n{body}\n\n_{note}_\n")
        else:
            parts.append(f"{t.title}\n{body}\n{note}\n")
    return "\n".join(parts)
