"""The ``[report]`` options: parsed once into a frozen :class:`ReportOptions`.

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
its datasets and repetitions) and the overrides given to
``anobench report`` (names checked against the run's stored columns), so both
fail with the same one-line errors and the same did-you-mean. This module
owns the options, their validation and their defaults: the reference and
the pairs default to each model's ``expected`` and ``single`` columns.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from anobench.column import Column
from anobench.errors import AnobenchError, SuiteError
from anobench.metrics import LABELS, METRICS
from anobench.registry import did_you_mean

REPORT_KEYS = {
    "reference": str, "pairs": list, "alpha": float, "correction": str, "metrics": list,
    "sem_ddof": int, "figures": bool, "curves": list, "rank_columns": list, "oracles": bool,
}
CORRECTIONS = ("holm", "bonferroni", "none")
#: The command-line flag of each key (``anobench report``).
CLI_FLAGS = {"reference": "--reference", "pairs": "--pair", "alpha": "--alpha",
             "metrics": "--metric", "sem_ddof": "--sem-ddof", "curves": "--curves",
             "figures": "--no-figures", "correction": "--correction",
             "rank_columns": "--rank-columns", "oracles": "--oracles"}


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
    reference: str | None = None  # None: the default (single rule of the first ED pair)
    pairs: tuple[tuple[str, str], ...] | None = None  # None: the defaults
    alpha: float = 0.05
    correction: str = "holm"
    metrics: tuple[str, ...] | None = None  # None: every stored metric
    sem_ddof: int = 1
    figures: bool = True
    curves: tuple[CurveCell, ...] = ()  # (): per dataset, the cell whose columns differ most
    rank_columns: tuple[str, ...] | None = None  # None: every column but the oracles
    oracles: bool = False  # oracles are bounds: out of bold, marks, ranks and verdicts


@dataclass(frozen=True)
class RunLayout:
    """What a suite runs (or a run holds), to check ``curves``: dataset labels, repetitions.

    Whether a class is run is known only once the data is loaded
    (:func:`anobench.checks.check_report_curves`).
    """

    datasets: tuple[str, ...]
    repetitions: int | None = None  # None: not known


@dataclass(frozen=True)
class OptionSource:
    """Where options come from, for the error messages.

    ``prefix`` is prepended to a key (``suites/x.toml: report.``); with
    ``flags`` (the command line) a key is named by its flag instead.
    """

    prefix: str
    flags: Mapping[str, str] | None = None
    scope: str = "suite"  # where column names are looked up: "suite" or "run"

    def at(self, key: str, *index: int) -> str:
        if self.flags is not None:
            return self.flags.get(key, key)
        return self.prefix + key + "".join(f"[{i}]" for i in index)


def suite_source(path: str) -> OptionSource:
    """Options of the ``[report]`` table of suite file ``path``."""
    return OptionSource(f"{path}: report.")


#: Options given on the command line, checked against a stored run.
COMMAND_LINE = OptionSource("", CLI_FLAGS, scope="run")


def _fail(where: str, msg: str) -> SuiteError:
    return SuiteError(f"{where}: {msg}")


def _check_column(src: OptionSource, where: str, name: Any,
                  columns: Iterable[Any] | None) -> str:
    if not isinstance(name, str) or not name:
        raise _fail(where, f"expected a column name, got {name!r}")
    if columns is not None:
        known: set[str] = set()
        for c in columns:
            known.update((c.name, c.base_name) if hasattr(c, "base_name") else (str(c),))
        if name not in known:
            raise _fail(where, f"no column {name!r} in this {src.scope}"
                        f"{did_you_mean(name, known)}; columns: {', '.join(sorted(known))}")
    return name


def _metric_hint(name: str) -> str:
    """Did-you-mean for a metric, also by its label (``auc`` -> ``roc_auc``)."""
    for metric, label in LABELS.items():
        if metric in METRICS and name.lower() == label.lower():
            return f" (did you mean {metric!r}?)"
    return did_you_mean(name, METRICS)


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
            raise _fail(where, f"{spec!r}: no dataset {dataset!r} in this {src.scope}"
                        f"{did_you_mean(dataset, layout.datasets)}; datasets: "
                        f"{', '.join(layout.datasets)}")
    if len(parts) != 2 or not all(parts) or not dataset:
        raise _fail(where, f"expected 'dataset/class/repetition', got {spec!r}")
    normal, rep = parts
    try:
        repetition = int(rep)
    except ValueError:
        raise _fail(where, f"{spec!r}: the repetition must be an integer, got {rep!r}") from None
    reps = layout.repetitions if layout is not None else None
    if repetition < 0 or (reps is not None and repetition >= reps):
        raise _fail(where, f"{spec!r}: repetition {repetition} is not run; repetitions: "
                    f"0–{reps - 1}" if reps else f"{spec!r}: repetition must be >= 0")
    return CurveCell(dataset, normal, repetition)


def _check_types(src: OptionSource, table: dict[str, Any]) -> None:
    for key, value in table.items():
        if key not in REPORT_KEYS:
            raise _fail(src.at(key), f"unknown key{did_you_mean(key, REPORT_KEYS)}; "
                        f"allowed: {', '.join(sorted(REPORT_KEYS))}")
        want = REPORT_KEYS[key]
        ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            kind = {str: "a string", list: "a list", float: "a number", int: "an integer",
                    bool: "true or false"}[want]
            raise _fail(src.at(key), f"expected {kind}, got {value!r}")


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
        raise _fail(src.prefix.rstrip(". ") or "report", "must be a table ([report])")
    columns = list(columns) if columns is not None else None
    _check_types(src, table)
    kw: dict[str, Any] = {}
    if "reference" in table:
        kw["reference"] = _check_column(src, src.at("reference"), table["reference"], columns)
    if "pairs" in table:
        pairs = []
        for i, pair in enumerate(table["pairs"]):
            where = src.at("pairs", i)
            if not isinstance(pair, list) or len(pair) != 2:
                raise _fail(where, f"expected a pair of columns [A, B], got {pair!r}")
            a = _check_column(src, src.at("pairs", i, 0), pair[0], columns)
            b = _check_column(src, src.at("pairs", i, 1), pair[1], columns)
            if a == b:
                raise _fail(where, f"compares column {a!r} with itself")
            pairs.append((a, b))
        kw["pairs"] = tuple(pairs)
    if "alpha" in table:
        alpha = float(table["alpha"])
        if not 0.0 < alpha <= 0.5:
            raise _fail(src.at("alpha"), f"must be in (0, 0.5], got {alpha:g}")
        kw["alpha"] = alpha
    if "correction" in table:
        c = table["correction"]
        if c not in CORRECTIONS:
            raise _fail(src.at("correction"), f"unknown correction {c!r}"
                        f"{did_you_mean(c, CORRECTIONS)}; known: {', '.join(CORRECTIONS)}")
        kw["correction"] = c
    if "metrics" in table:
        known = list(metrics) if metrics is not None else None
        for i, m in enumerate(table["metrics"]):
            if m not in METRICS:
                raise _fail(src.at("metrics", i), f"unknown metric {m!r}{_metric_hint(str(m))}; "
                            f"known: {', '.join(METRICS)}")
            if known is not None and m not in known:
                raise _fail(src.at("metrics", i), f"metric {m!r} is not in this {src.scope}; "
                            f"{'stored' if src.scope == 'run' else 'computed'}: "
                            f"{', '.join(known) or 'none'}")
        kw["metrics"] = tuple(dict.fromkeys(table["metrics"]))
    if "sem_ddof" in table:
        if table["sem_ddof"] not in (0, 1):
            raise _fail(src.at("sem_ddof"), f"must be 0 or 1, got {table['sem_ddof']!r}")
        kw["sem_ddof"] = table["sem_ddof"]
    if "figures" in table:
        kw["figures"] = table["figures"]
    if "oracles" in table:
        kw["oracles"] = table["oracles"]
    if "curves" in table:
        kw["curves"] = tuple(dict.fromkeys(parse_curve(src, src.at("curves", i), c, layout)
                                           for i, c in enumerate(table["curves"])))
    if "rank_columns" in table:
        cols = [_check_column(src, src.at("rank_columns", i), c, columns)
                for i, c in enumerate(table["rank_columns"])]
        if len(set(cols)) < 2:
            raise _fail(src.at("rank_columns"), "needs at least two columns")
        kw["rank_columns"] = tuple(dict.fromkeys(cols))
    return dataclasses.replace(base, **kw)


def run_options(run_dir: Path, meta: dict[str, Any], columns: list[Column],
                metrics: list[str] | None = None) -> ReportOptions:
    """The ``[report]`` options of the suite text stored in ``meta.json``, checked against the run."""
    text = meta.get("suite_text", "")
    try:
        doc = tomllib.loads(text) if text else {}
    except tomllib.TOMLDecodeError as exc:
        raise AnobenchError(f"{run_dir}/meta.json: stored suite text is not TOML: {exc}") from None
    source = OptionSource(f"{run_dir}/meta.json (suite {meta.get('suite_path', '?')}): report.",
                          scope="run")
    # the datasets the suite was checked against at load (runs made before they were stored:
    # curves were written with exactly two '/')
    layout = RunLayout(tuple(meta["datasets"])) if meta.get("datasets") else None
    return parse_report_options(doc.get("report"), source, columns=columns, metrics=metrics,
                                layout=layout)


def default_pairs(records: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(expected, single) column pairs of every model scored with both rules, in record order.

    Grid points collapse to the names without a grid part (``vae[beta=0.5]`` -> ``vae``).
    """
    by_model: dict[str, dict[str, str]] = {}
    for r in records:
        if r.get("rule") in ("expected", "single") and r.get("model"):
            by_model.setdefault(r["model"], {}).setdefault(
                r["rule"], Column.from_record(r).base_name)
    pairs: list[tuple[str, str]] = []
    for rules in by_model.values():
        if "expected" in rules and "single" in rules:
            pair = (rules["expected"], rules["single"])
            if pair not in pairs and pair[0] != pair[1]:
                pairs.append(pair)
    return pairs


def comparisons(options: ReportOptions, records: list[dict[str, Any]]
                ) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The reference column and the pairs to test: the options', else the defaults."""
    pairs = options.pairs if options.pairs is not None else tuple(default_pairs(records))
    reference = options.reference
    if reference is None and pairs:
        reference = pairs[0][1]
    return reference, tuple(pairs)
