"""The report's words: every heading, sentence, footnote and caption.

Turns tables (:mod:`.tables`), test results (:mod:`.statistics`) and figures
(:mod:`.figures`) into blocks (:mod:`.markup`): mean ± SEM entries with marks,
table footnotes (SEM, test, n, correction, same scores, oracles, test sets),
paired-test and rank tables, the summary sentences, figure captions. This is
the one place that puts results into words; :func:`anobench.report.build_report`
decides which blocks a report has.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from anobench.column import Column, grid_text
from anobench.report.figures import Fig
from anobench.report.markup import BOLD, Entry, TableBlock, Text
from anobench.report.options import CurveCell
from anobench.report.statistics import (
    EXACT_MAX,
    N_BOOT,
    PERMUTATION_MAX,
    PairedResult,
    PairSection,
    RankSection,
    TableTests,
    min_pairs,
    smallest_corrected_p,
)
from anobench.report.tables import MEAN_ROW, Table, metric_label, repetition_counts, sem

DAGGER = "†"
ORACLE = "‡"  # after the name of a column whose rule chooses with the test labels
MAX_NEMENYI = 8  # largest number of columns whose pairwise p-values are tabulated
CORRECTION_NAMES = {
    "holm": "Holm's step-down (Holm–Bonferroni)",
    "bonferroni": "Bonferroni",
    "none": "no correction",
}


# ------------------------------------------------------------------ numbers as text

def _p(p: float | None) -> str:
    return "–" if p is None else ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def _measure(measure: str | None, sep: str = ", measure ") -> str:
    return f"{sep}{measure}" if measure else ""


def title_of(table: Table) -> str:
    return f"{table.dataset}: {metric_label(table.metric)}{_measure(table.measure, ', measure: ')}"


def no_test(res: PairedResult, alpha: float) -> str:
    """Why a paired comparison has no p-value."""
    if res.method == "too few" and res.ties:
        return f"{res.nonzero} non-zero of n={res.n}<{min_pairs(alpha)}: no test"
    if res.method == "too few":
        return f"n={res.n}<{min_pairs(alpha)}: no test"
    return "identical: all differences zero" if res.method == "identical" else res.method


def _verdict(res: PairedResult, p: float | None, alpha: float, a: str, b: str) -> Entry:
    if p is None:
        return Entry(no_test(res, alpha) if not res.tested else "–")
    if p < alpha and res.rank_biserial > 0:
        return Entry(f"{a} better", bold=True)
    if p < alpha and res.rank_biserial < 0:
        return Entry(f"{b} better", bold=True)
    return Entry("n.s.")


# ------------------------------------------------------------------ result tables

def column_entry(column: Column, text: str | None = None) -> Entry:
    """A column as a header or row name: its name, marked when it is an oracle."""
    return Entry(column.name if text is None else text, mark=ORACLE if column.oracle else "")


def oracle_note(columns: list[Column]) -> str:
    names = [c.name for c in columns if c.oracle]
    if not names:
        return ""
    return (f"{ORACLE} oracle ({', '.join(names)}): chooses among the posterior samples with the "
            "labels of the test set it is scored on; a bound on what one sample can give, not "
            "a detector.")


def table_entries(table: Table, sem_ddof: int = 1, marks: set[tuple[str, Column]] = frozenset()
                  ) -> tuple[list, list[list[Entry]]]:
    """Header and rows: ``mean±SEM`` ×100 per class, the mean row, best per row bold."""
    body: list[list[Entry]] = []
    col_means: dict[Column, list[float]] = {c: [] for c in table.columns}
    for row in table.rows:
        means = {}
        for col in table.columns:
            vals = table.values.get((row, col))
            if vals is not None and len(vals):
                means[col] = float(vals.mean())
                col_means[col].append(means[col])
        best = round(100 * max(means.values()), 1) if means else None
        cells = [Entry(table.row_label(row))]
        for col in table.columns:
            if col not in means:
                cells.append(Entry("–"))
                continue
            s = sem(table.values[(row, col)], sem_ddof)
            text = f"{100 * means[col]:.1f}" + ("" if s != s else f"±{100 * s:.1f}")
            cells.append(Entry(text, round(100 * means[col], 1) == best,
                              DAGGER if (row, col) in marks else ""))
        body.append(cells)
    full = {c: sum(v) / len(v) for c, v in col_means.items() if v and len(v) == len(table.rows)}
    best = round(100 * max(full.values()), 1) if full else None
    mean_row = [Entry(MEAN_ROW)]
    for col in table.columns:
        if col not in full:
            mean_row.append(Entry("–"))
            continue
        mean_row.append(Entry(f"{100 * full[col]:.1f}", round(100 * full[col], 1) == best,
                             DAGGER if (MEAN_ROW, col) in marks else ""))
    body.append(mean_row)
    return ["class", *(column_entry(c) for c in table.columns)], body


def _range(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _test_label(results: list[PairedResult]) -> str:
    methods = sorted({r.method for r in results if r.tested and r.method in ("exact", "normal")})
    return f" ({'/'.join(methods)} p), " if methods else ", "


def table_note(tests: TableTests, sem_ddof: int) -> Text:
    """The footnote of a result table: SEM, marks, the test, its n and correction."""
    t = tests.table
    head = (f"mean ± SEM over {_range(*repetition_counts(t))} repetition(s), ×100; SEM = std "
            f"(ddof={sem_ddof}) / √n; ", BOLD, " = best per row; mean row = mean over classes.")
    parts: list[str] = []
    if not tests.reference:
        parts.append("No reference column: no significance marks.")
        return Text((*head, " ", " ".join(filter(None, [*parts, oracle_note(list(t.columns)),
                                                        test_set_note(t)]))))
    refs = sorted({r.name for r in tests.reference.values()})
    if len(refs) > 2:  # grid points: name the reference once
        refs = [f"{b} (at the same grid point)"
                for b in sorted({r.base_name for r in tests.reference.values()})]
    class_res = [r for (row, _), r in tests.cells.items() if row != MEAN_ROW]
    mean_res = [r for (row, _), r in tests.cells.items() if row == MEAN_ROW]
    alpha, correction = tests.alpha, tests.correction
    n_cls = sorted({r.n for r in class_res}) or [0]
    need = min_pairs(alpha)
    parts.append(f"{DAGGER} significantly better than the reference {', '.join(refs)}: "
                 f"two-sided Wilcoxon signed-rank test{_test_label(class_res + mean_res)}"
                 f"α = {alpha:g}, {CORRECTION_NAMES[correction]}.")
    if class_res and not any(r.tested for r in class_res):
        parts.append(f"Classes: n = {_range(n_cls[0], n_cls[-1])} paired repetition(s), too few "
                     f"for a test (needs n ≥ {need} non-zero differences at α = {alpha:g}): no "
                     "marks per class.")
    elif class_res:
        parts.append(f"Classes: n = {_range(n_cls[0], n_cls[-1])} repetitions paired by "
                     f"repetition, corrected over the {len(t.rows)} classes of each column.")
        floor = smallest_corrected_p(n_cls[-1], len(t.rows), correction)
        if floor >= alpha and correction != "none":
            parts.append(f"With n = {n_cls[-1]} and {len(t.rows)} classes the smallest "
                         f"attainable corrected p is {floor:.3g} ≥ α, so no class can be "
                         "marked; see the uncorrected p of the paired tests.")
    if mean_res:
        if not any(r.tested for r in mean_res):
            parts.append(f"Mean row: n = {mean_res[0].n} class means, too few for a test "
                         f"(needs n ≥ {need} non-zero differences).")
        else:
            parts.append(f"Mean row: class means paired by class (n = {mean_res[0].n}), "
                         f"corrected over the {tests.mean_family} columns tested.")
    parts.append(same_scores_note(tests))
    return Text((*head, " ", " ".join(filter(None, [*parts, oracle_note(list(t.columns)),
                                                    test_set_note(t)]))))


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


# ------------------------------------------------------------------ paired tests

def _pair_title(sec: PairSection) -> str:
    return (f"{sec.a} vs {sec.b}{grid_text(sec.grid)}: {metric_label(sec.metric)}"
            f"{_measure(sec.measure)}")


def pair_block(sec: PairSection, alpha: float, correction: str) -> TableBlock:
    a, b = sec.a, sec.b
    headers = ["dataset", "class", "n", a, b, "Δ ×100", "W/T/L", "p", "p corr.", "r_rb",
               "median Δ [95% CI] ×100", "verdict"]
    rows = []
    for r in sec.rows:
        res = r.result
        ci = "" if res.ci[0] != res.ci[0] else f" [{100 * res.ci[0]:.1f}, {100 * res.ci[1]:.1f}]"
        rows.append([r.dataset, r.row, str(res.n), f"{100 * r.mean_a:.1f}", f"{100 * r.mean_b:.1f}",
                     f"{100 * (r.mean_a - r.mean_b):+.1f}", f"{res.wins}/{res.ties}/{res.losses}",
                     _p(res.p), _p(r.p_adj) if r.unit == "repetitions" else "",
                     f"{res.rank_biserial:+.2f}", f"{100 * res.median_diff:+.1f}{ci}",
                     _verdict(res, r.p_adj, alpha, a, b)])
    note = (f"Per class: repetitions paired by repetition, p corrected with "
            f"{CORRECTION_NAMES[correction]} over the classes of a dataset. 'all classes': "
            "class means paired by class (uncorrected); dataset 'all': every (dataset, class) "
            "block.")
    per_class = [r for r in sec.rows if r.unit == "repetitions" and r.result.tested]
    if per_class and correction != "none":
        n = max(r.result.n for r in per_class)
        m = max(sum(x.dataset == d for x in per_class) for d in {x.dataset for x in per_class})
        floor = smallest_corrected_p(n, m, correction)
        if floor >= alpha:
            note += (f" With n = {n} repetitions and {m} classes the smallest attainable "
                     f"corrected p is {floor:.3g} ≥ α: no class can be significant after "
                     "correction (the uncorrected p is shown).")
    return TableBlock(headers, rows, _pair_title(sec), note, True)


def sweep_block(secs: list[PairSection], alpha: float) -> TableBlock:
    a, b = secs[0].a, secs[0].b
    headers = ["grid point", "dataset", a, b, "Δ ×100", "W/T/L (classes)", "p (class means)",
               f"classes {a} better", f"classes {b} better"]
    rows = []
    for s in secs:
        per_ds: dict[str, list] = {}
        for r in s.rows:
            if r.unit == "repetitions":
                d = per_ds.setdefault(r.dataset, [0, 0, 0])
                d[2] += r.p_adj is not None
                if r.p_adj is not None and r.p_adj < alpha:
                    d[0 if r.result.rank_biserial > 0 else 1] += 1
        for r in s.rows:
            if r.unit != "class means":
                continue
            res = r.result
            good = per_ds.get(r.dataset, [0, 0, 0])
            if not good[2]:  # no class had enough repetitions for a test
                good = ["–", "–"]
            rows.append([grid_text(s.grid), r.dataset, f"{100 * r.mean_a:.1f}",
                         f"{100 * r.mean_b:.1f}", f"{100 * (r.mean_a - r.mean_b):+.1f}",
                         f"{res.wins}/{res.ties}/{res.losses}",
                         Entry(_p(res.p) if res.tested else no_test(res, alpha),
                              bold=res.p is not None and res.p < alpha),
                         str(good[0]), str(good[1])])
    return TableBlock(headers, rows, f"{a} vs {b} per grid point: {metric_label(secs[0].metric)}"
                               f"{_measure(secs[0].measure)}",
                "Class-mean test per dataset; the last two columns count classes with a "
                "significant per-class test (corrected; – when the repetitions are too few for "
                "a test).")


def summary_sentences(pair_secs: list[list[PairSection]], alpha: float) -> list[str]:
    """One sentence per pair, metric and measure: the across-classes result."""
    out = []
    for secs in pair_secs:
        for s in secs:
            rows = [r for r in s.rows if r.unit == "class means"]
            if not rows or s.grid:
                continue
            r = rows[-1]  # pooled over datasets when there are several
            res = r.result
            label = metric_label(s.metric) + (f" ({s.measure})" if s.measure else "")
            where = "all (dataset, class) blocks" if r.dataset == "all" else r.dataset
            test = (f"p = {_p(res.p)} ({_verdict(res, res.p, alpha, s.a, s.b).text})"
                    if res.tested else no_test(res, alpha))
            per_class = [x for x in s.rows if x.unit == "repetitions"]
            sig = sum(x.p_adj is not None and x.p_adj < alpha and x.result.rank_biserial > 0
                      for x in per_class)
            tested = [x for x in per_class if x.result.tested]
            reps = sorted({x.result.n for x in per_class}) or [0]
            per = (f"significantly better per class (corrected) in {sig} of {len(tested)} "
                   "tested classes" if tested else
                   f"no per-class test ({reps[-1]} repetition(s) per class)")
            out.append(f"{s.a} vs {s.b}, {label}, {where}: mean {100 * r.mean_a:.1f} vs "
                       f"{100 * r.mean_b:.1f}, {s.a} higher in {res.wins} of {res.n} classes "
                       f"(W/T/L {res.wins}/{res.ties}/{res.losses}), Wilcoxon on class means "
                       f"{test}; {per}.")
    return out


def paired_test_text(alpha: float) -> str:
    return (f"Two-sided Wilcoxon signed-rank tests (zero differences dropped; exact p up to "
            f"{EXACT_MAX} pairs; with tied ranks, the exact permutation p up to "
            f"{PERMUTATION_MAX} pairs; else the normal approximation with tie and continuity "
            f"correction); α = {alpha:g}. With fewer than {min_pairs(alpha)} non-zero "
            "differences no p below α is possible (the smallest exact p with n of them is "
            "2/2^n), so no test is run. "
            "W/T/L: wins/ties/losses of the first column; r_rb: matched-pairs rank-biserial "
            "correlation (+1: the first column better in every pair); median Δ with a 95% "
            f"percentile bootstrap CI ({N_BOOT} resamples, seed 0).")


# ------------------------------------------------------------------ ranks

def _friedman_note(s: RankSection) -> str:
    r = s.result
    if r.p is None:
        why = (f"k={r.k}<3 columns: no test" if r.method == "too few columns"
               else f"n={r.n}<2 blocks: no test")
        return f"Friedman test: {why}."
    return (f"Friedman χ² = {r.statistic:.2f} (df {r.k - 1}), p = {_p(r.p)}, over {r.n} "
            f"(dataset, class) blocks of class means; Nemenyi critical difference CD = "
            f"{r.cd:.2f} at α = {r.alpha:g}: columns whose average ranks differ by more than "
            "CD differ significantly.")


def rank_blocks(s: RankSection) -> list[TableBlock]:
    r = s.result
    order = sorted(range(r.k), key=lambda i: r.avg_ranks[i])
    names = [s.columns[i].name for i in order]
    shown = [name + (f" (= {', '.join(c.name for c in s.same_scores[s.columns[i]])})"
                     if s.columns[i] in s.same_scores else "") for name, i in zip(names, order)]
    rows = [[str(pos + 1), column_entry(s.columns[i], shown[pos]), f"{r.avg_ranks[i]:.2f}"]
            for pos, i in enumerate(order)]
    what = f"{metric_label(s.metric)}{_measure(s.measure)}"
    note = " ".join(filter(None, [
        _friedman_note(s), "Columns with the same scores (one model, rule and measure) are "
        "ranked once, as one column." if s.same_scores else "", oracle_note(list(s.columns))]))
    out = [TableBlock(["#", "column", "average rank"], rows, f"Average ranks: {what}", note)]
    if s.nemenyi_p is not None and r.k <= MAX_NEMENYI:
        p = s.nemenyi_p
        heads = [column_entry(s.columns[i]) for i in order]
        cells = [[heads[x]] + [Entry("") if x == y else
                              Entry(_p(p[order[x], order[y]]), bold=p[order[x], order[y]] < r.alpha)
                              for y in range(r.k)] for x in range(r.k)]
        out.append(TableBlock(["", *heads], cells, f"Nemenyi p-values: {what}",
                              Text(("Pairwise Nemenyi post-hoc p-values (", BOLD,
                                    f": < α = {r.alpha:g})."))))
    return out


# ------------------------------------------------------------------ figures

def caption(fig: Fig) -> str:
    """What a figure shows, in words."""
    f = fig.facts
    if fig.kind == "cd":
        return (f"Critical-difference diagram, {metric_label(f['metric'])}"
                f"{_measure(f['measure'])}: average ranks over {f['n']} (dataset, class) blocks "
                f"(1 = best); columns joined by a bar are not significantly different (Nemenyi, "
                f"α = {f['alpha']:g}, CD = {f['cd']:.2f}); Friedman p = {f['p']:.3g}.")
    if fig.kind == "rules":
        listing = ", ".join(f"{rule} = {name}" for rule, name in f["columns"])
        return (f"{f['dataset']}: {metric_label(f['metric'])} per class of the scoring rules of "
                f"one trained {f['detector']} (mean ± SEM over repetitions, SEM "
                f"ddof={f['sem_ddof']}){_measure(f['measure'])}; columns: {listing}.")
    if fig.kind == "sweep":
        return (f"{f['dataset']}: {metric_label(f['metric'])} against {f['parameter']} per "
                f"class (mean over repetitions) of {f['a']} and {f['b']}; the row below each "
                f"row of classes is the difference {f['a']} − {f['b']} (×100)"
                f"{_measure(f['measure'])}.")
    cell = f["cell"]
    more = (f" (first {f['shown']} of {f['columns']} columns)" if f["columns"] > f["shown"]
            else "")
    return (f"ROC and precision–recall curves, {cell.dataset}, normal class {cell.normal}, "
            f"repetition {cell.repetition}{_measure(f['measure'])}: {f['anomalies']} anomalies "
            f"of {f['n']} test samples{more}; columns with identical scores drawn once.")


# ------------------------------------------------------------------ the run

def run_header(run_dir: Path, meta: dict, records: list, errors: list) -> str:
    """The sentence that says which run this is."""
    cells = len({r["cell"] for r in records})
    return (f"Run {run_dir}; suite {meta.get('suite_path', '?')} (sha256 "
            f"{str(meta.get('suite_sha256', ''))[:12]}); code {meta.get('code_version', '?')}; "
            f"device {meta.get('device', '?')}; started {meta.get('started', '?')}; "
            f"{cells} finished cell(s) with results, {len(errors)} failed.")


def failed_cells_note(errors: list[dict[str, Any]]) -> str:
    return (f"{len(errors)} cell(s) failed: "
            + "; ".join(sorted({e.get("error", "?") for e in errors})[:3]))


def table_block(tests: TableTests, sem_ddof: int) -> TableBlock:
    """A result table with its marks and footnote."""
    headers, rows = table_entries(tests.table, sem_ddof, tests.marks)
    return TableBlock(headers, rows, title_of(tests.table), table_note(tests, sem_ddof), True)


def pair_blocks(secs: list[PairSection], alpha: float, correction: str) -> list[TableBlock]:
    """One pair's tests: a table per metric and measure, or per grid point when there are several."""
    if len({s.grid for s in secs}) <= 1:
        return [pair_block(s, alpha, correction) for s in secs]
    by_mm: dict[tuple, list[PairSection]] = {}
    for s in secs:
        by_mm.setdefault((s.metric, s.measure), []).append(s)
    return [sweep_block(ss, alpha) for ss in by_mm.values()]


def missing_curves_note(missing: list[CurveCell]) -> str:
    return f"No ROC/PR curves for {', '.join(map(str, missing))}: no stored scores for that cell."


NO_RESULTS = "(no results stored yet)"
