"""The report of a run directory: what it contains, in which order, and its files.

:func:`build_report` reads a run directory — ``meta.json`` (the suite text,
whose ``[report]`` table gives the options), ``records.jsonl``, and
``scores/`` for the curves — and lays out the report; :func:`write_report`
writes ``report.md`` (figures linked), ``report.html`` (self-contained) and,
for LaTeX, ``report.tex``. ``anobench run`` and ``anobench report`` both end
in :func:`write_report`.

Modules, each importing only those above it::

    markup        blocks -> markdown, HTML, LaTeX, plain text (no words of its own)
    options       the [report] options: parsed once (suite load, command line), defaults
    runinfo       a run's state (planned/finished/missing cells), what repetitions re-draw
    tables        records -> one table of values per (dataset, metric, measure)
    stattests     tests on arrays: Wilcoxon, Holm, Friedman, Nemenyi (numbers only)
    statistics    tests on tables: two-directional marks, paired tests, ranks (numbers only)
    verdicts      best deployable column against the runner-up (numbers only)
    figures       CD diagrams, rules per class, grid sweeps, ROC/PR curves
    posterior     the Posterior section: ED gain against posterior statistics
    render        the words of the result tables, their legend and the run's state
    render_stats  the words of the paired tests, ranks and figure captions
    prose         verdicts, summary and the terminal's short report in words
    compare       two runs side by side
    kept          figures of an earlier render, kept when this one draws none

This module is above them all: it only chooses and orders.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anobench.atomic import write_atomic
from anobench.column import Column
from anobench.confine import check_tree
from anobench.errors import AnobenchError
from anobench.report.compare import compare_runs
from anobench.report.figures import (
    cd_figures,
    curve_cell_of_row,
    curve_figures,
    informative_curves,
    rule_figures,
    sweep_figures,
)
from anobench.report.kept import fingerprint, kept_figures, save_index
from anobench.report.plots import UNAVAILABLE
from anobench.report.markup import (
    FORMATS,
    Heading,
    Image,
    Items,
    Para,
    to_html,
    to_markdown,
    write_as,
)
from anobench.report.options import (
    COMMAND_LINE,
    ReportOptions,
    RunLayout,
    comparisons,
    parse_report_options,
    run_options,
)
from anobench.report.prose import (
    VERDICT_HEADING,
    reference_sentences,
    summary_sentences,
    terminal_text,
    verdict_intro,
    verdict_sentence,
)
from anobench.report.posterior import posterior_blocks
from anobench.report.render import (
    NO_RESULTS,
    TableContext,
    failed_cells_note,
    legend_and_notes,
    legend_blocks,
    run_header,
    state_text,
    table_block,
    table_note_parts,
)
from anobench.report.render_stats import (
    caption,
    missing_curves_note,
    pair_blocks,
    paired_test_text,
    rank_blocks,
)
from anobench.report.runinfo import RunState, planned_repetitions, resampling, run_state
from anobench.report.statistics import pair_tests, rank_tests, table_tests
from anobench.report.tables import Table, build_tables
from anobench.report.verdicts import Verdict, verdicts
from anobench.store import load_store, read_meta

__all__ = ["Report", "ReportOptions", "Table", "build_report", "build_tables", "compare_runs",
           "parse_report_options", "render_report", "write_report"]


@dataclass(frozen=True)
class Report:
    """The blocks of a report and what they were made from."""

    blocks: list
    options: ReportOptions
    meta: dict[str, Any]
    tables: list[Table]
    state: RunState
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def verdict_lines(self) -> list[str]:
        return [verdict_sentence(v) for v in self.verdicts]


def build_report(run_dir: Path, *, overrides: dict[str, Any] | None = None,
                 figures: bool | None = None) -> Report:
    """The report of ``run_dir`` as blocks.

    ``overrides``: ``[report]`` keys given on the command line (``--alpha`` …),
    parsed by the same parser as the suite's and checked against the run's
    columns; ``figures`` overrides ``[report] figures``.
    """
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    store = load_store(run_dir)  # one pass over the file
    stored = store.records(("result", "error"))
    records = [r for r in stored if r["kind"] == "result"]
    errors = [r for r in stored if r["kind"] == "error"]
    state = run_state(meta, store.done(), store.failed())
    columns = list(dict.fromkeys(Column.from_record(r) for r in records))
    metrics = list(dict.fromkeys(r["metric"] for r in records)) if records else None
    datasets = tuple(dict.fromkeys([*meta.get("datasets", ()), *(r["dataset"] for r in records)]))
    options = parse_report_options(overrides or None, COMMAND_LINE,
                                   base=run_options(run_dir, meta, columns, metrics),
                                   columns=columns, metrics=metrics, layout=RunLayout(datasets))
    tables = [t for t in build_tables(records, datasets=meta.get("datasets", ()),
                                      columns=meta.get("columns", ()))
              if not options.metrics or t.metric in options.metrics]
    blocks: list = [Heading(f"anobench report: {meta.get('suite_name', '?')}", 1),
                    Para(run_header(run_dir, meta, records, errors, state))]
    if state.complete is False:
        blocks.append(Para(state_text(state), warn=True))
    blocks.extend(Para(note, em=True) for note in store.notes())
    if errors:
        blocks.append(Para(failed_cells_note(errors), em=True))
    if not tables:
        blocks.append(Para(NO_RESULTS))
        return Report(blocks, options, meta, tables, state)
    alpha, correction, oracles = options.alpha, options.correction, options.oracles
    planned = planned_repetitions(meta)
    reference, pairs = comparisons(options, records)
    tested = [table_tests(t, reference, alpha=alpha, correction=correction, oracles=oracles)
              for t in tables]
    pair_secs = [pair_tests(tables, a, b, alpha=alpha, correction=correction) for a, b in pairs]
    found = verdicts(tables, alpha=alpha, correction=correction, oracles=oracles, planned=planned)
    blocks += [Heading(VERDICT_HEADING), Para(verdict_intro(oracles), em=True),
               Items(tuple(verdict_sentence(v) for v in found))]
    summary = summary_sentences(pair_secs, alpha) + reference_sentences(tested)
    if summary:
        blocks += [Heading("Summary"), *(Para(x) for x in summary)]
    suite_setting, per_dataset = resampling(meta)
    contexts = [TableContext(options.sem_ddof, oracles,
                             per_dataset.get(t.dataset, suite_setting), planned) for t in tables]
    common, notes = legend_and_notes([table_note_parts(tt, ctx)
                                      for tt, ctx in zip(tested, contexts)])
    blocks += [Heading("Tables"), *legend_blocks(common)]
    blocks += [table_block(tt, ctx, note) for tt, ctx, note in zip(tested, contexts, notes)]
    if any(pair_secs):
        blocks += [Heading("Paired tests"), Para(paired_test_text(alpha))]
        for secs in pair_secs:
            blocks += pair_blocks(secs, alpha, correction, planned)
    ranks = rank_tests(tables, alpha=alpha, columns=options.rank_columns, oracles=oracles)
    if ranks:
        blocks.append(Heading("Ranks (Friedman, Nemenyi)"))
        for s in ranks:
            left_out = sorted({c.name for t in tables for c in t.columns
                               if c.oracle and c not in s.columns and t.metric == s.metric})
            blocks += rank_blocks(s, left_out)
    blocks += posterior_blocks(run_dir, store.records(("cell",)), records, metrics=options.metrics,
                               alpha=alpha, figures=options.figures if figures is None else figures)
    draw = options.figures if figures is None else figures
    blocks += _figure_blocks(run_dir, options, draw, tables, records, ranks, pair_secs,
                             curves_asked=bool(overrides and "curves" in overrides))
    return Report(blocks, options, meta, tables, state, found)


def _figure_blocks(run_dir: Path, options: ReportOptions, draw: bool, tables: list[Table],
                   records: list[dict], ranks: list, pair_secs: list, *,
                   curves_asked: bool) -> list:
    """The Figures section: drawn now, or (not drawing) the figures an earlier render drew."""
    stamp = fingerprint(run_dir, options)
    blocks: list = []
    if not draw or UNAVAILABLE:
        if UNAVAILABLE:
            blocks.append(Para(f"Figures skipped: {UNAVAILABLE}", em=True))
        kept = kept_figures(run_dir, stamp)  # never drop figures already made
        if kept:
            blocks += [Heading("Figures"), Para(kept.note, em=True), *kept.images]
        return blocks
    asked = [curve_cell_of_row(c, tables) for c in options.curves]
    chosen = {} if asked else informative_curves(tables, oracles=options.oracles)
    curves, missing = curve_figures(run_dir, asked or list(chosen), chosen=chosen,
                                    required=curves_asked)
    if missing and asked:  # the suite's [report] curves: say so, never fail the report
        blocks.append(Para(missing_curves_note(missing), em=True))
    made = (cd_figures(run_dir, ranks) + rule_figures(run_dir, tables, records, options.sem_ddof)
            + sweep_figures(run_dir, tables, pair_secs) + curves)
    images = [Image(f.png, f.svg, caption(f)) for f in made]
    save_index(run_dir, images, stamp)
    if images:
        blocks += [Heading("Figures"), *images]
    return blocks

@dataclass(frozen=True)
class Rendered:
    """A written report: its blocks, the text in the asked format, the files written."""

    report: Report
    text: str
    paths: list[Path]

    def terminal(self) -> str:
        """The short text ``run`` and ``report`` print: state, verdicts, the report's paths."""
        return terminal_text(self.report.state, self.report.verdict_lines, self.paths)


def render_report(run_dir: Path, fmt: str = "markdown", *,
                  overrides: dict[str, Any] | None = None,
                  figures: bool | None = None) -> Rendered:
    """Write report.md and report.html (and report.tex for ``latex``); return what was written.

    Bad options raise :class:`AnobenchError` before anything is written, and a
    report without results never replaces an existing one.
    """
    if fmt not in FORMATS:
        raise AnobenchError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}")
    run_dir = Path(run_dir)
    check_tree(run_dir)  # nothing written through a link out of the run directory
    report = build_report(run_dir, overrides=overrides, figures=figures)
    if not report.tables and (run_dir / "report.md").exists():
        raise AnobenchError(f"{run_dir}: no results stored yet; the existing report.md and "
                            "report.html are left as they are")
    md = to_markdown(report.blocks, run_dir)
    paths = [run_dir / "report.md", run_dir / "report.html"]
    _write(paths[0], md)
    _write(paths[1], to_html(report.blocks, f"anobench: {report.meta.get('suite_name', '')}"))
    if fmt == "latex":
        tex = write_as("latex", report.blocks)
        paths.append(run_dir / "report.tex")
        _write(paths[-1], tex)
        return Rendered(report, tex, paths)
    return Rendered(report, md if fmt == "markdown" else write_as(fmt, report.blocks,
                                                                  base=run_dir), paths)


def write_report(run_dir: Path, fmt: str = "markdown", *, overrides: dict[str, Any] | None = None,
                 figures: bool | None = None) -> str:
    """Write report.md and report.html (and report.tex for ``latex``); return the text in ``fmt``.

    Bad options raise :class:`AnobenchError` before anything is written, and a
    report without results never replaces an existing one.
    """
    return render_report(run_dir, fmt, overrides=overrides, figures=figures).text


def _write(path: Path, text: str) -> None:
    """A full disk leaves the old report, and no part file."""
    write_atomic(path, text, within=path.parent, error="cannot write the report")
