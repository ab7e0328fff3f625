"""The ``[report]`` options: declared once, parsed once into a frozen :class:`ReportOptions`.

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
    oracles = false                 # oracle columns (best, worst: they use the test labels)
                                    # in bold, marks, ranks, CD diagrams and verdicts

Column names may omit a grid part: ``"vae"`` also names ``vae[beta=0.5]``
and is matched to the grid point of the column it is compared with.

One parser, :func:`parse_report_options`, reads a suite's ``[report]`` table
(at suite load: names checked against the suite's columns, curves against
its datasets and repetitions) and the flags of ``anobench report`` (each
key's :class:`~anobench.options.spec.Flag`; names checked against the run's
stored columns), so both fail with the same one-line errors and the same
did-you-mean. The suite (the core) reads this module; the report reads it
through :mod:`anobench.report.options`, which adds the defaults taken from
the records.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from anobench.options.spec import Flag, OneOf, OptionSource, Within, option, options_of, parse_table
from anobench.options.tables import METRIC
from anobench.registry import did_you_mean

CORRECTIONS = ("holm", "bonferroni", "none")
_COLUMNS = (("items", {"type": "string", "minLength": 1}),)


@dataclass(frozen=True)
class CurveCell:
    """A cell whose ROC and PR curves are drawn: dataset label, class key, repetition."""

    dataset: str
    normal: str
    repetition: int

    def __str__(self) -> str:
        return f"{self.dataset}/{self.normal}/{self.repetition}"


@dataclass(frozen=True)
class ReportOptions:
    """The ``[report]`` table (and the flags of ``anobench report``)."""

    reference: str | None = option(
        None, "the column the others are tested against: a column significantly better or "
              "worse is marked ▲/▼", str, flag=Flag("--reference", "COLUMN"),
        default_text="the single-sample column of the first (expected, single) pair")
    pairs: tuple[tuple[str, str], ...] | None = option(
        None, "pairs [A, B] of columns: A is tested against B on every class (paired tests)",
        list, flag=Flag("--pair", ("A", "B"), repeat=True, nargs=2),
        default_text="each model's expected-latent column against its single-sample one",
        schema=(("items", {"type": "array", "items": {"type": "string", "minLength": 1},
                           "minItems": 2, "maxItems": 2}),))
    alpha: float = option(0.05, "the significance level", float, Within(0, 0.5, "(]"),
                          flag=Flag("--alpha"))
    correction: str = option("holm", "the correction for testing several columns", str,
                             OneOf(CORRECTIONS, noun="correction"), flag=Flag("--correction"))
    metrics: tuple[str, ...] | None = option(
        None, "the metrics the report shows", list, items=str, item_checks=(METRIC,),
        flag=Flag("--metric", "METRIC", repeat=True), default_text="every stored metric")
    sem_ddof: int = option(1, "SEM = std(ddof) / √n; the authors used 0", int,
                           OneOf((0, 1), text="must be 0 or 1, got {value!r}"),
                           flag=Flag("--sem-ddof"))
    figures: bool = option(True, "draw figures for report.md and report.html "
                                 "(`anobench report --no-figures` skips them once)", bool)
    curves: tuple[CurveCell, ...] = option(
        (), "cells `dataset/class/repetition` (class by label or name) whose ROC and PR curves "
            "are drawn; the suite must run them", list,
        flag=Flag("--curves", "DATASET/CLASS/REP", repeat=True),
        default_text="per dataset, the cell where the columns' AUCs differ most",
        schema=(("items", {"type": "string", "pattern": "^.+/.+/.+$"}),))
    rank_columns: tuple[str, ...] | None = option(
        None, "the columns of the Friedman test and the CD diagram (at least two)", list,
        flag=Flag("--rank-column", "COLUMN", repeat=True), default_text="all but the oracles",
        schema=(("minItems", 2), *_COLUMNS))
    oracles: bool = option(False, "treat oracle columns (best, worst: they choose with the test "
                                  "labels) as columns: bold, marks, ranks, CD diagrams and "
                                  "verdicts; else they are shown as bounds", bool,
                           flag=Flag("--oracles"))


@dataclass(frozen=True)
class RunLayout:
    """What a suite runs (or a run holds), to check ``curves``: dataset labels, repetitions.

    Whether a class is run is known only once the data is loaded
    (:func:`anobench.checks.check_report_curves`).
    """

    datasets: tuple[str, ...]
    repetitions: int | None = None  # None: not known


def suite_source(path: str) -> OptionSource:
    """Options of the ``[report]`` table of suite file ``path``."""
    return OptionSource(f"{path}: report.")


#: Options given on the command line (each key named by its flag), checked against a run.
COMMAND_LINE = OptionSource("", {o.key: o.spec.flag.name for o in options_of(ReportOptions)
                                 if o.spec.flag is not None}, scope="run")


def _check_column(src: OptionSource, where: str, name: Any,
                  columns: Iterable[Any] | None) -> str:
    if not isinstance(name, str) or not name:
        raise src.fail(where, f"expected a column name, got {name!r}")
    if columns is not None:
        known: set[str] = set()
        for c in columns:
            known.update((c.name, c.base_name) if hasattr(c, "base_name") else (str(c),))
        if name not in known:
            raise src.fail(where, f"no column {name!r} in this {src.scope}"
                           f"{did_you_mean(name, known)}; columns: {', '.join(sorted(known))}")
    return name


def parse_curve(src: OptionSource, where: str, spec: Any,
                layout: RunLayout | None) -> CurveCell:
    """``"dataset/class/repetition"`` as a :class:`CurveCell`.

    With a ``layout`` the dataset is the longest known label the spec starts
    with, so labels and class names may hold ``/`` (``fashion-mnist/T-shirt/top/0``);
    the cell must be one the suite runs.
    """
    text = spec if isinstance(spec, str) else ""
    dataset, rest = "", text
    if layout is not None:
        known = sorted((d for d in layout.datasets if text.startswith(f"{d}/")), key=len)
        if known:
            dataset, rest = known[-1], text[len(known[-1]) + 1:]
    parts = rest.rsplit("/", 1 if dataset else 2)
    if len(parts) == 3:
        dataset, parts = parts[0], parts[1:]
        if layout is not None and all(parts) and dataset:
            raise src.fail(where, f"{spec!r}: no dataset {dataset!r} in this {src.scope}"
                           f"{did_you_mean(dataset, layout.datasets)}; datasets: "
                           f"{', '.join(layout.datasets)}")
    if len(parts) != 2 or not all(parts) or not dataset:
        raise src.fail(where, f"expected 'dataset/class/repetition', got {spec!r}")
    normal, rep = parts
    try:
        repetition = int(rep)
    except ValueError:
        raise src.fail(where, f"{spec!r}: the repetition must be an integer, got {rep!r}"
                       ) from None
    reps = layout.repetitions if layout is not None else None
    if repetition < 0 or (reps is not None and repetition >= reps):
        raise src.fail(where, f"{spec!r}: repetition {repetition} is not run; repetitions: "
                       f"0–{reps - 1}" if reps else f"{spec!r}: repetition must be >= 0")
    return CurveCell(dataset, normal, repetition)


def parse_report_options(table: Any, source: OptionSource | str = "suite", *,
                         base: ReportOptions | None = None,
                         columns: Iterable[Any] | None = None,
                         metrics: Iterable[str] | None = None,
                         layout: RunLayout | None = None) -> ReportOptions:
    """Validate ``[report]`` keys and return ``base`` with them applied.

    Parameters
    ----------
    table : dict or None
        The ``[report]`` table (or the command-line overrides, same keys).
    source : OptionSource or str
        Where the keys come from (a suite path is turned into
        :func:`suite_source`); names the key or flag in errors.
    base : ReportOptions, optional
        The options the keys override (default: the defaults).
    columns : iterable of Column or str, optional
        Known columns; column names are checked against them (skipped if None).
    metrics : iterable of str, optional
        The metrics the suite computes (or the run stored); ``metrics`` must
        name some of them (skipped if None).
    layout : RunLayout, optional
        What the suite runs; ``curves`` are checked against it (skipped if None).

    Raises
    ------
    SuiteError
        One line naming the file and key (or the flag) and the problem.
    """
    src = suite_source(source) if isinstance(source, str) else source
    base = base or ReportOptions()
    if table is None:
        return base
    if not isinstance(table, dict):
        raise src.fail(src.prefix.rstrip(". ") or "report", "must be a table ([report])")
    columns = list(columns) if columns is not None else None
    kw = parse_table(ReportOptions, table, src)  # types, alpha, correction, sem_ddof, metrics
    if "reference" in kw:
        kw["reference"] = _check_column(src, src.at("reference"), kw["reference"], columns)
    if "pairs" in kw:
        kw["pairs"] = _pairs(src, kw["pairs"], columns)
    if "metrics" in kw:
        kw["metrics"] = _computed(src, kw["metrics"], metrics)
    if "curves" in kw:
        kw["curves"] = tuple(dict.fromkeys(parse_curve(src, src.at("curves", i), c, layout)
                                           for i, c in enumerate(kw["curves"])))
    if "rank_columns" in kw:
        cols = [_check_column(src, src.at("rank_columns", i), c, columns)
                for i, c in enumerate(kw["rank_columns"])]
        if len(set(cols)) < 2:
            raise src.fail(src.at("rank_columns"), "needs at least two columns")
        kw["rank_columns"] = tuple(dict.fromkeys(cols))
    return dataclasses.replace(base, **kw)


def _pairs(src: OptionSource, value: list[Any], columns: list[Any] | None
           ) -> tuple[tuple[str, str], ...]:
    pairs = []
    for i, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise src.fail(src.at("pairs", i), f"expected a pair of columns [A, B], got {pair!r}")
        a = _check_column(src, src.at("pairs", i, 0), pair[0], columns)
        b = _check_column(src, src.at("pairs", i, 1), pair[1], columns)
        if a == b:
            raise src.fail(src.at("pairs", i), f"compares column {a!r} with itself")
        pairs.append((a, b))
    return tuple(pairs)


def _computed(src: OptionSource, names: list[str], metrics: Iterable[str] | None
              ) -> tuple[str, ...]:
    """The report's metrics, each one the suite computes (or the run stored)."""
    known = list(metrics) if metrics is not None else None
    for i, m in enumerate(names):
        if known is not None and m not in known:
            raise src.fail(src.at("metrics", i), f"metric {m!r} is not in this {src.scope}; "
                           f"{'stored' if src.scope == 'run' else 'computed'}: "
                           f"{', '.join(known) or 'none'}")
    return tuple(dict.fromkeys(names))
