"""The report's side of the ``[report]`` options: a run's stored options and the defaults.

The options themselves (keys, types, defaults, flags, the parser) are
declared once in :mod:`anobench.options.report`, which the suite reads at
load; they are re-exported here. This module reads the options of the suite
text stored with a run (:func:`run_options`) and fills in what is left to the
records: the reference and the pairs default to each model's ``expected``
and ``single`` columns (:func:`default_pairs`, :func:`comparisons`).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tomllib

from anobench.column import Column
from anobench.errors import AnobenchError
from anobench.options.report import (  # noqa: F401 - the options, importable from the report
    COMMAND_LINE,
    CORRECTIONS,
    CurveCell,
    ReportOptions,
    RunLayout,
    parse_curve,
    parse_report_options,
    suite_source,
)
from anobench.options.spec import OptionSource


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
