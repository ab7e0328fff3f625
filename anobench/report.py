"""Mean ± SEM tables from stored records (the paper's Tables 1–3 layout).

One table per dataset, metric and measure: rows are normal classes plus a
``mean`` row (mean over classes of the class means), columns are detector
columns, cells are ``mean ± SEM`` over repetitions ×100 with one decimal; the
best value per row is marked. SEM = sample standard deviation (ddof=1) /
sqrt(n) by default (the authors used ddof=0; ``sem_ddof = 0`` reproduces it).
Columns without a measure (non-latent detectors) appear in every measure's table.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
from tabulate import tabulate

from anobench.metrics import LABELS

FORMATS = {"markdown": "github", "latex": "latex_raw", "plain": "simple"}


@dataclass(frozen=True)
class Table:
    dataset: str
    metric: str
    measure: str | None
    columns: tuple[str, ...]
    rows: tuple[str, ...]  # class keys; the mean row is added when rendering
    values: dict[tuple[str, str], np.ndarray]  # (row, column) -> values over repetitions

    @property
    def title(self) -> str:
        label = LABELS.get(self.metric, self.metric)
        suffix = f", measure: {self.measure}" if self.measure else ""
        return f"{self.dataset}: {label}{suffix}"


def _class_sort_key(key: str) -> tuple:
    parts = key.split("+")
    return tuple((0, int(p)) if p.lstrip("-").isdigit() else (1, p) for p in parts)


def build_tables(records: Iterable[dict[str, Any]]) -> list[Table]:
    """Group result records into tables."""
    recs = [r for r in records if r.get("kind", "result") == "result"]
    by_key: dict[tuple, dict[tuple[str, str], list[tuple[int, float]]]] = defaultdict(
        lambda: defaultdict(list))
    order: dict[tuple, list[str]] = defaultdict(list)
    measures: dict[tuple, set] = defaultdict(set)
    for r in recs:
        measures[(r["dataset"], r["metric"])].add(r.get("measure"))
    tables = []
    for (dataset, metric), ms in measures.items():
        latent = sorted(m for m in ms if m) or [None]
        for measure in latent:
            key = (dataset, metric, measure)
            for r in recs:
                if r["dataset"] != dataset or r["metric"] != metric:
                    continue
                if r.get("measure") not in (None, measure):
                    continue
                col = r["column"]
                if col not in order[key]:
                    order[key].append(col)
                by_key[key][(r["normal"], col)].append((r["repetition"], r["value"]))
    for key, cells in by_key.items():
        rows = sorted({row for row, _ in cells}, key=_class_sort_key)
        values = {k: np.array([v for _, v in sorted(vs)]) for k, vs in cells.items()}
        tables.append(Table(key[0], key[1], key[2], tuple(order[key]), tuple(rows), values))
    tables.sort(key=lambda t: (t.dataset, list(LABELS).index(t.metric) if t.metric in LABELS
                               else 99, t.measure or ""))
    return tables


def sem(values: np.ndarray, ddof: int = 1) -> float:
    n = len(values)
    if n < 2:
        return float("nan")
    return float(np.std(values, ddof=ddof) / math.sqrt(n))


def _bold(text: str, fmt: str) -> str:
    return {"markdown": f"**{text}**", "latex": f"\\textbf{{{text}}}"}.get(fmt, f"{text}*")


def render_table(table: Table, fmt: str = "markdown", sem_ddof: int = 1) -> str:
    pm = "$\\pm$" if fmt == "latex" else "±"
    body = []
    col_means: dict[str, list[float]] = defaultdict(list)
    for row in table.rows:
        means = {}
        for col in table.columns:
            vals = table.values.get((row, col))
            if vals is not None and len(vals):
                means[col] = float(np.mean(vals))
                col_means[col].append(means[col])
        best = max(means.values()) if means else None
        cells = [row]
        for col in table.columns:
            vals = table.values.get((row, col))
            if vals is None or not len(vals):
                cells.append("–")
                continue
            s = sem(vals, sem_ddof)
            text = f"{100 * means[col]:.1f}" + ("" if math.isnan(s) else f"{pm}{100 * s:.1f}")
            cells.append(_bold(text, fmt) if round(100 * means[col], 1) == round(100 * best, 1)
                         else text)
        body.append(cells)
    full = {c: float(np.mean(v)) for c, v in col_means.items() if len(v) == len(table.rows)}
    best = max(full.values()) if full else None
    mean_row = ["mean"]
    for col in table.columns:
        if col not in full:
            mean_row.append("–")
            continue
        text = f"{100 * full[col]:.1f}"
        mean_row.append(_bold(text, fmt) if round(100 * full[col], 1) == round(100 * best, 1)
                        else text)
    body.append(mean_row)
    return tabulate(body, headers=["class", *table.columns], tablefmt=FORMATS[fmt],
                    disable_numparse=True)


def n_repetitions(table: Table) -> str:
    counts = sorted({len(v) for v in table.values.values()})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def render_report(records: list[dict[str, Any]], fmt: str = "markdown", sem_ddof: int = 1,
                  metrics: Iterable[str] | None = None) -> str:
    """All tables of a run as one text document."""
    tables = [t for t in build_tables(records) if metrics is None or t.metric in set(metrics)]
    if not tables:
        return "(no results stored yet)\n"
    parts = []
    for t in tables:
        note = (f"mean ± SEM over {n_repetitions(t)} repetitions, ×100; SEM = std "
                f"(ddof={sem_ddof}) / √n; best per row marked; mean row = mean over classes.")
        if fmt == "latex":
            parts.append(f"% {t.title}\n% {note}\n{render_table(t, fmt, sem_ddof)}\n")
        elif fmt == "markdown":
            parts.append(f"### {t.title}\n\n{render_table(t, fmt, sem_ddof)}\n\n_{note}_\n")
        else:
            parts.append(f"{t.title}\n{render_table(t, fmt, sem_ddof)}\n{note}\n")
    return "\n".join(parts)
