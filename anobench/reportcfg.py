"""The ``[report]`` table of a suite: options, validation and defaults.

Keys (all optional)::

    [report]
    reference = "vae"               # column the others are tested against (dagger marks)
    pairs = [["ed-vae", "vae"]]     # [A, B]: paired tests of A against B
    alpha = 0.05                    # significance level, in (0, 0.5]
    correction = "holm"             # holm | bonferroni | none
    metrics = ["roc_auc", "pr_auc"] # metrics in the report (default: all stored)
    sem_ddof = 1                    # SEM = std(ddof) / sqrt(n); the authors used 0
    figures = true                  # draw figures for report.md / report.html
    curves = ["mnist/0/0"]          # cells (dataset/class/repetition) for ROC and PR curves
    rank_columns = ["pca", "vae"]   # columns of the Friedman test / CD diagram (default: all)

Column names may omit a grid part: ``"vae"`` also names ``vae[beta=0.5]``
and is matched to the grid point of the column it is compared with.

Defaults, from the stored records: every model scored with both the
``expected`` and the ``single`` rule gives a pair (ED-VAE against the VAE;
e.g. ``ed-vae`` vs ``vae`` or ``vae:expected`` vs ``vae:single``), and the
reference is the ``single`` column of the first such pair.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from anobench.errors import SuiteError
from anobench.metrics import METRICS
from anobench.registry import did_you_mean

REPORT_KEYS = {
    "reference": str, "pairs": list, "alpha": float, "correction": str, "metrics": list,
    "sem_ddof": int, "figures": bool, "curves": list, "rank_columns": list,
}
CORRECTIONS = ("holm", "bonferroni", "none")
_GRID = re.compile(r"\[[^\]]*\]")


@dataclass(frozen=True)
class ReportOptions:
    reference: str | None = None  # None: the default
    pairs: tuple[tuple[str, str], ...] | None = None  # None: the defaults
    alpha: float = 0.05
    correction: str = "holm"
    metrics: tuple[str, ...] | None = None
    sem_ddof: int = 1
    figures: bool = True
    curves: tuple[str, ...] = ()
    rank_columns: tuple[str, ...] | None = None


def base_column(column: str) -> str:
    """The column without its grid part: ``vae[beta=0.5]:single`` -> ``vae:single``."""
    return _GRID.sub("", column)


def grid_part(column: str) -> str:
    """The grid part of a column, e.g. ``[beta=0.5]``, or ``""``."""
    m = _GRID.search(column)
    return m.group(0) if m else ""


def with_grid(name: str, grid: str) -> str:
    """Insert a grid part into a base column name (before any ``:rule``)."""
    if not grid or grid_part(name):
        return name
    label, sep, rule = name.partition(":")
    return f"{label}{grid}{sep}{rule}"


def suite_columns(detectors: Iterable[Any]) -> list[str]:
    """Table columns a suite's detector configs produce (as the runner names them)."""
    out = []
    for cfg in detectors:
        if cfg.explicit_rules:
            out.extend(f"{cfg.column}:{r}" for r in cfg.rules)
        else:
            out.append(cfg.column)
    return out


def _fail(path: str, where: str, msg: str) -> SuiteError:
    return SuiteError(f"{path}: {where}: {msg}")


def _column(path: str, where: str, name: Any, columns: list[str] | None) -> str:
    if not isinstance(name, str) or not name:
        raise _fail(path, where, f"expected a column name, got {name!r}")
    if columns is not None:
        known = set(columns) | {base_column(c) for c in columns}
        if name not in known:
            raise _fail(path, where, f"no column {name!r} in this suite"
                        f"{did_you_mean(name, known)}; columns: {', '.join(sorted(known))}")
    return name


def parse_report_options(table: Any, path: str = "suite",
                         columns: list[str] | None = None) -> ReportOptions:
    """Validate a ``[report]`` table; raise :class:`SuiteError` naming the key.

    ``columns``: the suite's columns, to check the names used (skipped if None).
    """
    if table is None:
        return ReportOptions()
    if not isinstance(table, dict):
        raise _fail(path, "report", "must be a table ([report])")
    for key, value in table.items():
        if key not in REPORT_KEYS:
            raise _fail(path, f"report.{key}", f"unknown key{did_you_mean(key, REPORT_KEYS)}; "
                        f"allowed: {', '.join(sorted(REPORT_KEYS))}")
        want = REPORT_KEYS[key]
        ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            kind = {str: "a string", list: "a list", float: "a number", int: "an integer",
                    bool: "true or false"}[want]
            raise _fail(path, f"report.{key}", f"expected {kind}, got {value!r}")
    kw: dict[str, Any] = {}
    if "reference" in table:
        kw["reference"] = _column(path, "report.reference", table["reference"], columns)
    if "pairs" in table:
        pairs = []
        for i, pair in enumerate(table["pairs"]):
            where = f"report.pairs[{i}]"
            if not isinstance(pair, list) or len(pair) != 2:
                raise _fail(path, where, f"expected a pair of columns [A, B], got {pair!r}")
            a = _column(path, f"{where}[0]", pair[0], columns)
            b = _column(path, f"{where}[1]", pair[1], columns)
            if a == b:
                raise _fail(path, where, f"compares column {a!r} with itself")
            pairs.append((a, b))
        kw["pairs"] = tuple(pairs)
    if "alpha" in table:
        alpha = float(table["alpha"])
        if not 0.0 < alpha <= 0.5:
            raise _fail(path, "report.alpha", f"must be in (0, 0.5], got {alpha}")
        kw["alpha"] = alpha
    if "correction" in table:
        c = table["correction"]
        if c not in CORRECTIONS:
            raise _fail(path, "report.correction", f"unknown correction {c!r}"
                        f"{did_you_mean(c, CORRECTIONS)}; known: {', '.join(CORRECTIONS)}")
        kw["correction"] = c
    if "metrics" in table:
        for i, m in enumerate(table["metrics"]):
            if m not in METRICS:
                raise _fail(path, f"report.metrics[{i}]", f"unknown metric {m!r}"
                            f"{did_you_mean(m, METRICS)}; known: {', '.join(METRICS)}")
        kw["metrics"] = tuple(table["metrics"])
    if "sem_ddof" in table:
        if table["sem_ddof"] not in (0, 1):
            raise _fail(path, "report.sem_ddof", f"must be 0 or 1, got {table['sem_ddof']!r}")
        kw["sem_ddof"] = table["sem_ddof"]
    if "figures" in table:
        kw["figures"] = table["figures"]
    if "curves" in table:
        for i, c in enumerate(table["curves"]):
            if not isinstance(c, str) or c.count("/") != 2:
                raise _fail(path, f"report.curves[{i}]",
                            f"expected 'dataset/class/repetition', got {c!r}")
        kw["curves"] = tuple(table["curves"])
    if "rank_columns" in table:
        cols = [_column(path, f"report.rank_columns[{i}]", c, columns)
                for i, c in enumerate(table["rank_columns"])]
        if len(cols) < 2:
            raise _fail(path, "report.rank_columns", "needs at least two columns")
        kw["rank_columns"] = tuple(cols)
    return ReportOptions(**kw)


def default_pairs(records: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(expected, single) column pairs of models scored with both rules, in record order.

    Grid points collapse to their base names (``vae[beta=0.5]`` -> ``vae``). Records
    without ``model``/``rule`` fields fall back to the names: ``ed-vae`` with ``vae``,
    ``X:expected`` with ``X:single``.
    """
    by_model: dict[str, dict[str, str]] = {}
    for r in records:
        if r.get("rule") in ("expected", "single") and r.get("model"):
            by_model.setdefault(r["model"], {}).setdefault(r["rule"], base_column(r["column"]))
    pairs: list[tuple[str, str]] = []
    for rules in by_model.values():
        if "expected" in rules and "single" in rules:
            pair = (rules["expected"], rules["single"])
            if pair not in pairs and pair[0] != pair[1]:
                pairs.append(pair)
    if not pairs:  # records without model/rule fields: go by the column names
        bases = {base_column(r["column"]) for r in records if "column" in r}
        if {"ed-vae", "vae"} <= bases:
            pairs.append(("ed-vae", "vae"))
        for b in sorted(bases):
            if b.endswith(":expected") and f"{b[:-len('expected')]}single" in bases:
                pairs.append((b, f"{b[:-len('expected')]}single"))
    return pairs


def resolve(options: ReportOptions, records: list[dict[str, Any]]
            ) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The reference column and the pairs to test for a run's records."""
    pairs = options.pairs if options.pairs is not None else tuple(default_pairs(records))
    reference = options.reference
    if reference is None and pairs:
        reference = pairs[0][1]
    return reference, tuple(pairs)


def check_columns(names: Iterable[str], columns: Iterable[str], what: str) -> None:
    """Raise a one-line error for a name that matches no stored column."""
    columns = list(columns)
    known = set(columns) | {base_column(c) for c in columns}
    for name in names:
        if name not in known:
            raise SuiteError(f"{what}: no column {name!r} in this run"
                             f"{did_you_mean(name, known)}; columns: {', '.join(sorted(known))}")
