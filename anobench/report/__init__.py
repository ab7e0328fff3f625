"""Reports of stored runs: tables, statistics, figures and one renderer.

Modules, each importing only those above it::

    options     the [report] options: parsed once (suite load, command line)
    tables      records -> one table of values per (dataset, metric, measure)
    statistics  tests on tables: marks, paired tests, ranks (numbers only)
    figures     CD diagrams, rules per class, grid sweeps, ROC/PR curves
    markup      blocks -> markdown, HTML, LaTeX, plain text
    render      all the words: headings, footnotes, captions; report files
    compare     two runs side by side (on top of the others)

``anobench run`` and ``anobench report`` both end in :func:`write_report`.
"""
from __future__ import annotations

from anobench.report.compare import compare_runs
from anobench.report.options import ReportOptions, parse_report_options
from anobench.report.render import build_report, write_report
from anobench.report.tables import Table, build_tables

__all__ = ["ReportOptions", "Table", "build_report", "build_tables", "compare_runs",
           "parse_report_options", "write_report"]
