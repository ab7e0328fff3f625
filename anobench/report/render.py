"""The words of the result tables and of the run: entries, marks, footnotes, the legend.

Turns tables (:mod:`.tables`) and their tests (:mod:`.statistics`) into blocks
(:mod:`.markup`): mean ± SEM entries with ▲ (significantly better than the
reference) and ▼ (significantly worse), oracle columns last as bounds, and
each table's footnote as a list of sentences computed from the same
decisions as the marks. What every table's footnote says is stated once, in
the legend (:func:`legend_and_notes`); under a table only what differs.
The words of the paired tests, ranks and figures are in :mod:`.render_stats`,
the verdicts and the summary in :mod:`.prose`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anobench.column import Column
from anobench.report.markup import BOLD, Entry, Items, Para, TableBlock, Text
from anobench.report.runinfo import SEED_ONLY, RunState
from anobench.report.statistics import (
    BETTER,
    WORSE,
    PairedResult,
    TableTests,
    min_pairs,
    smallest_corrected_p,
)
from anobench.report.tables import (
    MEAN_ROW,
    Table,
    deterministic_columns,
    incomplete_cells,
    metric_label,
    repetition_counts,
    sem,
)

#: The mark of a cell significantly better / worse than the reference column.
MARKS = {BETTER: "▲", WORSE: "▼"}
UP, DOWN = MARKS[BETTER], MARKS[WORSE]
ORACLE = "‡"  # after the name of a column whose rule chooses with the test labels
CORRECTION_NAMES = {
    "holm": "Holm's step-down (Holm–Bonferroni)",
    "bonferroni": "Bonferroni",
    "none": "no correction",
}
#: Sentences that say a table's cells cannot carry a mark (checked against the marks in tests).
NO_CLASS_MARKS = "no class can be marked"
NO_CLASS_TESTS = "no marks per class"
NO_MEAN_TEST = "Mean row: n = "
NO_REFERENCE = "No reference column: no significance marks."


# ------------------------------------------------------------------ numbers as text

def p_text(p: float | None) -> str:
    return "–" if p is None else ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def measure_text(measure: str | None, sep: str = ", measure ") -> str:
    return f"{sep}{measure}" if measure else ""


def title_of(table: Table) -> str:
    return f"{table.dataset}: {metric_label(table.metric)}{measure_text(table.measure, ', measure: ')}"


def no_test(res: PairedResult, alpha: float) -> str:
    """Why a paired comparison has no p-value."""
    if res.method == "too few" and res.ties:
        return f"{res.nonzero} non-zero of n={res.n}<{min_pairs(alpha)}: no test"
    if res.method == "too few":
        return f"n={res.n}<{min_pairs(alpha)}: no test"
    if res.method == "deterministic":
        return "both deterministic: no test"
    return "identical: all differences zero" if res.method == "identical" else res.method


def range_text(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}–{hi}"


# ------------------------------------------------------------------ result tables

@dataclass(frozen=True)
class TableContext:
    """What a table's footnote needs beyond its tests: options and facts of the run."""

    sem_ddof: int = 1
    oracles: bool = False  # oracles take part in bold, marks and ranks
    resampling: str | None = None  # what the repetitions re-draw (runinfo), None: unknown
    planned_reps: int | None = None  # the suite's repetitions, None: unknown


def column_entry(column: Column, text: str | None = None) -> Entry:
    """A column as a header or row name: its name, marked when it is an oracle."""
    return Entry(column.name if text is None else text, mark=ORACLE if column.oracle else "")


def shown_columns(table: Table) -> list[Column]:
    """The table's columns as shown: detectors in suite order, then the oracles (bounds)."""
    return [c for c in table.columns if not c.oracle] + [c for c in table.columns if c.oracle]


def oracle_note(columns: list[Column], included: bool = False) -> str:
    names = [c.name for c in columns if c.oracle]
    if not names:
        return ""
    return (f"{ORACLE} oracle ({', '.join(names)}): chooses among the posterior samples with the "
            "labels of the test set it is scored on; a bound on what one sample can give, not "
            "a detector" + ("." if included else
                            ": shown last, never bold, not tested, ranked or in the verdicts "
                            "(`[report] oracles = true` or `--oracles` brings them in)."))


def table_entries(table: Table, sem_ddof: int = 1,
                  marks: dict[tuple[str, Column], str] | None = None, *, oracles: bool = False
                  ) -> tuple[list, list[list[Entry]]]:
    """Header and rows: ``mean±SEM`` ×100 per class, the mean row, best per row bold, marks.

    Oracle columns come last and are never bold unless ``oracles``.
    """
    marks = marks or {}
    cols = shown_columns(table)
    ranked = [c for c in cols if oracles or not c.oracle]
    body: list[list[Entry]] = []
    col_means: dict[Column, list[float]] = {c: [] for c in cols}
    for row in table.rows:
        means = {}
        for col in cols:
            vals = table.values.get((row, col))
            if vals is not None and len(vals):
                means[col] = float(vals.mean())
                col_means[col].append(means[col])
        best = _best(means, ranked)
        cells = [Entry(table.row_label(row))]
        for col in cols:
            if col not in means:
                cells.append(Entry("–"))
                continue
            s = sem(table.values[(row, col)], sem_ddof)
            text = f"{100 * means[col]:.1f}" + ("" if s != s else f"±{100 * s:.1f}")
            cells.append(Entry(text, col in ranked and round(100 * means[col], 1) == best,
                               MARKS.get(marks.get((row, col), ""), "")))
        body.append(cells)
    full = {c: sum(v) / len(v) for c, v in col_means.items() if v and len(v) == len(table.rows)}
    best = _best(full, ranked)
    mean_row = [Entry(MEAN_ROW)]
    for col in cols:
        if col not in full:
            mean_row.append(Entry("–"))
            continue
        mean_row.append(Entry(f"{100 * full[col]:.1f}",
                              col in ranked and round(100 * full[col], 1) == best,
                              MARKS.get(marks.get((MEAN_ROW, col), ""), "")))
    body.append(mean_row)
    return ["class", *(column_entry(c) for c in cols)], body


def _best(means: dict[Column, float], ranked: list[Column]) -> float | None:
    vals = [round(100 * v, 1) for c, v in means.items() if c in ranked]
    return max(vals) if vals else None


def _test_label(results: list[PairedResult]) -> str:
    methods = sorted({r.method for r in results if r.tested and r.method in ("exact", "normal")})
    return f" ({'/'.join(methods)} p), " if methods else ", "


def table_note_parts(tests: TableTests, ctx: TableContext = TableContext()) -> list[str | Text]:
    """The sentences of a result table's footnote, each computed from the table's decisions.

    Sentences common to every table of a report go to the legend
    (:func:`legend_and_notes`); the rest stay under the table.
    """
    t = tests.table
    oracle_cols = [c for c in t.columns if c.oracle]
    best = "best per row" + (" (oracles excluded)" if oracle_cols and not ctx.oracles else "")
    parts: list[str | Text] = [Text((
        f"mean ± SEM over {range_text(*repetition_counts(t))} repetition(s), ×100; SEM = std "
        f"(ddof={ctx.sem_ddof}) / √n; ", BOLD, f" = {best}; mean row = mean over classes."))]
    if not tests.reference:
        parts.append(NO_REFERENCE)
    else:
        parts += _marks_sentences(tests)
    parts += [same_scores_note(tests), oracle_note(oracle_cols, ctx.oracles),
              resampling_note(ctx.resampling), deterministic_note(t, tests),
              incomplete_note(t, ctx.planned_reps), test_set_note(t)]
    return [p for p in parts if p]


def _marks_sentences(tests: TableTests) -> list[str]:
    refs = sorted({r.name for r in tests.reference.values()})
    if len(refs) > 2:  # grid points: name the reference once
        refs = [f"{b} (at the same grid point)"
                for b in sorted({r.base_name for r in tests.reference.values()})]
    class_keys = [k for k in tests.cells if k[0] != MEAN_ROW]
    class_res = [tests.cells[k] for k in class_keys]
    mean_res = [r for (row, _), r in tests.cells.items() if row == MEAN_ROW]
    alpha, correction = tests.alpha, tests.correction
    need = min_pairs(alpha)
    out = [f"{UP} significantly better / {DOWN} significantly worse than the reference "
           f"{', '.join(refs)}: two-sided Wilcoxon signed-rank test, α = {alpha:g}, "
           f"{CORRECTION_NAMES[correction]}."]
    n_cls = sorted({r.n for r in class_res}) or [0]
    class_marks = any(k in tests.marks for k in class_keys)
    if class_res and not any(r.tested for r in class_res):
        why = ("both columns deterministic" if all(r.method == "deterministic"
                                                    for r in class_res) else
               f"too few for a test (needs n ≥ {need} non-zero differences at α = {alpha:g})")
        out.append(f"Classes: n = {range_text(n_cls[0], n_cls[-1])} paired repetition(s), "
                   f"{why}: {NO_CLASS_TESTS}.")
    elif class_res:
        families = sorted(set(tests.class_family.values()))
        out.append(f"Classes: n = {range_text(n_cls[0], n_cls[-1])} repetitions paired by "
                   f"repetition{_test_label(class_res)}corrected over the "
                   f"{range_text(families[0], families[-1])} tested class(es) of each column.")
        floors = [smallest_corrected_p(max(r.nonzero for (row, c), r in tests.cells.items()
                                           if c == col and row != MEAN_ROW and r.tested),
                                       m, correction)
                  for col, m in tests.class_family.items() if m]
        if floors and min(floors) >= alpha and correction != "none" and not class_marks:
            out.append(f"With these n and classes the smallest attainable corrected p is "
                       f"{min(floors):.3g} ≥ α, so {NO_CLASS_MARKS}; see the uncorrected p of "
                       "the paired tests.")
    if mean_res:
        if not any(r.tested for r in mean_res):
            out.append(f"{NO_MEAN_TEST}{mean_res[0].n} class means, too few for a test "
                       f"(needs n ≥ {need} non-zero differences).")
        else:
            out.append(f"Mean row: class means paired by class (n = {mean_res[0].n})"
                       f"{_test_label(mean_res)}corrected over the {tests.mean_family} columns "
                       "tested.")
    return out


def same_scores_note(tests: TableTests) -> str:
    """Which columns hold the same scores as another, so are tested (and counted) once."""
    t = tests.table
    same = [f"{c.name} = {t.first_of(c).name}" for c in t.columns if t.first_of(c) != c]
    if not same:
        return ""
    untested = sorted(c.name for c in tests.same_as_reference)
    return (f"Same scores (one model, rule and measure), tested and counted once: "
            f"{'; '.join(same)}" + (f"; not tested against their own scores: "
                                    f"{', '.join(untested)}" if untested else "") + ".")


def resampling_note(setting: str | None) -> str:
    """What the repetitions of a table re-draw."""
    if setting is None:
        return ""
    if setting == SEED_ONLY:
        return ("Repetitions: one fixed test set (anomalies = \"all\"); each repetition "
                "re-trains the models with a new seed, so only the training seed varies.")
    return ("Repetitions: each re-draws the test set's anomalies and re-trains the models with "
            "a new seed, so both the anomaly draw and the training seed vary.")


def deterministic_note(table: Table, tests: TableTests | None = None) -> str:
    """Columns with the same value in every repetition (SEM 0), and what that means for tests."""
    cols = deterministic_columns(table)
    if not cols:
        return ""
    return (f"Deterministic (the same value in every repetition, SEM 0): "
            f"{', '.join(c.name for c in cols)}; a test against such a column asks only whether "
            "the other column's repetitions stay on one side of that value, and two "
            "deterministic columns are not tested per class.")


def incomplete_note(table: Table, planned: int | None) -> str:
    """Cells with fewer repetitions than the suite plans: tests there pair only what is stored."""
    short = incomplete_cells(table, planned)
    if not short:
        return ""
    by_row: dict[str, list[str]] = {}
    for (row, col), n in short.items():
        by_row.setdefault(table.row_label(row), []).append(f"{col.name} {n}")
    listing = "; ".join(f"{row}: {', '.join(v)}" for row, v in list(by_row.items())[:6])
    more = f"; and {len(by_row) - 6} more class(es)" if len(by_row) > 6 else ""
    return (f"Incomplete (fewer than the {planned} planned repetitions; tests pair only the "
            f"repetitions both columns have): {listing}{more}.")


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


def join_parts(parts: list[str | Text]) -> Text | str:
    """Sentences as one footnote (a :class:`Text` when one of them has format-dependent words)."""
    out: list[Any] = []
    for i, p in enumerate(parts):
        if i:
            out.append(" ")
        out.extend(p.parts if isinstance(p, Text) else (p,))
    return Text(tuple(out)) if any(isinstance(p, Text) for p in parts) else "".join(out)


def table_note(tests: TableTests, sem_ddof: int = 1, ctx: TableContext | None = None
               ) -> Text | str:
    """The whole footnote of one result table (every sentence, nothing lifted to a legend)."""
    return join_parts(table_note_parts(tests, ctx or TableContext(sem_ddof)))


def legend_and_notes(parts: list[list[str | Text]]) -> tuple[list[str | Text], list[Text | str]]:
    """The sentences every table's footnote shares (the legend), and each table's own rest."""
    if not parts:
        return [], []
    common = [p for p in parts[0] if all(p in other for other in parts[1:])]
    return common, [join_parts([p for p in own if p not in common]) for own in parts]


def table_block(tests: TableTests, ctx: TableContext, note: Text | str | None = None
                ) -> TableBlock:
    """A result table with its marks and footnote (``note``: the footnote less the legend)."""
    headers, rows = table_entries(tests.table, ctx.sem_ddof, tests.marks, oracles=ctx.oracles)
    return TableBlock(headers, rows, title_of(tests.table),
                      table_note(tests, ctx=ctx) if note is None else note, True)


def legend_blocks(common: list[str | Text]) -> list[Para | Items]:
    """The legend of the result tables: what all their footnotes share, stated once."""
    if not common:
        return []
    return [Para(LEGEND_INTRO), Items(tuple(common))]


LEGEND_INTRO = ("Legend: what every result table below shows (a table's own note adds what "
                "differs for it).")


# ------------------------------------------------------------------ the run

def run_header(run_dir: Path, meta: dict, records: list, errors: list,
               state: RunState | None = None) -> str:
    """The sentence that says which run this is (and how many of its planned cells finished)."""
    cells = len({r["cell"] for r in records})
    of = f" of {len(state.planned)} planned" if state is not None and state.planned else ""
    return (f"Run {run_dir}; suite {meta.get('suite_path', '?')} (sha256 "
            f"{str(meta.get('suite_sha256', ''))[:12]}); code {meta.get('code_version', '?')}; "
            f"device {meta.get('device', '?')}; started {meta.get('started', '?')}; "
            f"{cells}{of} cell(s) finished with results, {len(errors)} failed.")


def state_text(state: RunState, *, listed: int = 5) -> str:
    """The run's state in one sentence: complete, or n of N cells and which are missing."""
    done, failed = len(state.finished), len(state.failed)
    if state.planned is None:
        return (f"{done} cell(s) finished, {failed} failed; the planned number of cells was not "
                "recorded (a run made before anobench stored it), so whether it is complete "
                "is not known.")
    total = len(state.planned)
    missing = state.missing
    if not missing:
        return (f"Complete: {done} of {total} cells finished"
                + (f", {failed} failed." if failed else "."))
    shown = ", ".join(missing[:listed]) + (f", … ({len(missing) - listed} more)"
                                           if len(missing) > listed else "")
    return (f"INCOMPLETE: {done} of {total} cells finished, {failed} failed, {len(missing)} "
            f"missing ({shown}); statistics below use only the finished cells, and tests pair "
            "only the repetitions both columns have.")


def failed_cells_note(errors: list[dict[str, Any]]) -> str:
    return (f"{len(errors)} cell(s) failed: "
            + "; ".join(sorted({e.get("error", "?") for e in errors})[:3]))


NO_RESULTS = "(no results stored yet)"
