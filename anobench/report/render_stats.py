"""The words of the paired tests, the ranks and the figures.

Paired-test tables (A against B per class, across classes, pooled) with a
two-directional verdict (▲ A significantly better, ▼ A significantly worse),
grid-sweep tables, Friedman/Nemenyi rank tables and figure captions. The
words of the result tables are in :mod:`.render`.
"""
from __future__ import annotations

from anobench.column import grid_text
from anobench.report.figures import Fig
from anobench.report.markup import BOLD, Entry, TableBlock, Text
from anobench.report.options import CurveCell
from anobench.report.render import (
    CORRECTION_NAMES,
    DOWN,
    UP,
    column_entry,
    measure_text,
    no_test,
    oracle_note,
    p_text,
)
from anobench.report.statistics import (
    BETTER,
    EXACT_MAX,
    N_BOOT,
    PERMUTATION_MAX,
    WORSE,
    PairedResult,
    PairSection,
    RankSection,
    min_pairs,
    smallest_corrected_p,
)
from anobench.report.tables import metric_label

MAX_NEMENYI = 8  # largest number of columns whose pairwise p-values are tabulated


def pair_verdict(res: PairedResult, p: float | None, alpha: float, a: str, b: str) -> Entry:
    """The verdict of A against B: ``A better`` ▲, ``B better`` ▼, n.s., or why no test."""
    if p is None:
        return Entry(no_test(res, alpha) if not res.tested else "–")
    direction = res.direction(alpha, p)
    if direction == BETTER:
        return Entry(f"{a} better", bold=True, mark=UP)
    if direction == WORSE:
        return Entry(f"{b} better", bold=True, mark=DOWN)
    return Entry("n.s.")


def _pair_title(sec: PairSection) -> str:
    return (f"{sec.a} vs {sec.b}{grid_text(sec.grid)}: {metric_label(sec.metric)}"
            f"{measure_text(sec.measure)}")


def pair_block(sec: PairSection, alpha: float, correction: str,
               planned: int | None = None) -> TableBlock:
    """A against B: per class (repetitions), per dataset (class means), pooled."""
    a, b = sec.a, sec.b
    headers = ["dataset", "class", "n", a, b, "Δ ×100", "W/T/L", "p", "p corr.", "r_rb",
               "median Δ [95% CI] ×100", "verdict"]
    rows = []
    short = False
    for r in sec.rows:
        res = r.result
        ci = "" if res.ci[0] != res.ci[0] else f" [{100 * res.ci[0]:.1f}, {100 * res.ci[1]:.1f}]"
        n = str(res.n)
        if r.unit == "repetitions" and planned and res.n < planned:
            n, short = f"{res.n} of {planned}", True
        rows.append([r.dataset, r.row, n, f"{100 * r.mean_a:.1f}", f"{100 * r.mean_b:.1f}",
                     f"{100 * (r.mean_a - r.mean_b):+.1f}", f"{res.wins}/{res.ties}/{res.losses}",
                     p_text(res.p), p_text(r.p_adj) if r.unit == "repetitions" else "",
                     f"{res.rank_biserial:+.2f}", f"{100 * res.median_diff:+.1f}{ci}",
                     pair_verdict(res, r.p_adj, alpha, a, b)])
    note = (f"Per class: repetitions paired by repetition, p corrected with "
            f"{CORRECTION_NAMES[correction]} over the classes of a dataset. 'all classes': "
            "class means paired by class (uncorrected); dataset 'all': every (dataset, class) "
            f"block. Verdict: {UP} {a} significantly better, {DOWN} {a} significantly worse "
            f"(= {b} better).")
    if short:
        note += (f" 'n of {planned}': an incomplete run; the test pairs only the repetitions "
                 "stored for both columns.")
    per_class = [r for r in sec.rows if r.unit == "repetitions" and r.result.tested]
    if per_class and correction != "none" and not any(
            r.result.direction(alpha, r.p_adj) for r in per_class):
        most = max(r.result.nonzero for r in per_class)
        m = max(sum(x.dataset == d for x in per_class) for d in {x.dataset for x in per_class})
        floor = smallest_corrected_p(most, m, correction)
        if floor >= alpha:
            note += (f" With n = {most} repetitions and {m} classes the smallest attainable "
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
                         Entry(p_text(res.p) if res.tested else no_test(res, alpha),
                               bold=res.p is not None and res.p < alpha),
                         str(good[0]), str(good[1])])
    return TableBlock(headers, rows, f"{a} vs {b} per grid point: {metric_label(secs[0].metric)}"
                                     f"{measure_text(secs[0].measure)}",
                      "Class-mean test per dataset; the last two columns count classes with a "
                      "significant per-class test (corrected; – when the repetitions are too "
                      "few for a test).")


def pair_blocks(secs: list[PairSection], alpha: float, correction: str,
                planned: int | None = None) -> list[TableBlock]:
    """One pair's tests: a table per metric and measure, or per grid point when there are several."""
    if len({s.grid for s in secs}) <= 1:
        return [pair_block(s, alpha, correction, planned) for s in secs]
    by_mm: dict[tuple, list[PairSection]] = {}
    for s in secs:
        by_mm.setdefault((s.metric, s.measure), []).append(s)
    return [sweep_block(ss, alpha) for ss in by_mm.values()]


def paired_test_text(alpha: float) -> str:
    return (f"Two-sided Wilcoxon signed-rank tests (zero differences dropped; exact p up to "
            f"{EXACT_MAX} pairs; with tied ranks, the exact permutation p up to "
            f"{PERMUTATION_MAX} pairs; else the normal approximation with tie and continuity "
            f"correction); α = {alpha:g}. With fewer than {min_pairs(alpha)} non-zero "
            "differences no p below α is possible (the smallest exact p with n of them is "
            "2/2^n), so no test is run; nor per class when both columns are deterministic "
            "(one value in every repetition). "
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
    return (f"Friedman χ² = {r.statistic:.2f} (df {r.k - 1}), p = {p_text(r.p)}, over {r.n} "
            f"(dataset, class) blocks of class means; Nemenyi critical difference CD = "
            f"{r.cd:.2f} at α = {r.alpha:g}: columns whose average ranks differ by more than "
            "CD differ significantly.")


def rank_blocks(s: RankSection, left_out: list[str] | None = None) -> list[TableBlock]:
    """Average ranks (and Nemenyi p-values for up to :data:`MAX_NEMENYI` columns).

    ``left_out``: the oracle columns the ranks leave out (named in the note).
    """
    r = s.result
    order = sorted(range(r.k), key=lambda i: r.avg_ranks[i])
    names = [s.columns[i].name for i in order]
    shown = [name + (f" (= {', '.join(c.name for c in s.same_scores[s.columns[i]])})"
                     if s.columns[i] in s.same_scores else "") for name, i in zip(names, order)]
    rows = [[str(pos + 1), column_entry(s.columns[i], shown[pos]), f"{r.avg_ranks[i]:.2f}"]
            for pos, i in enumerate(order)]
    what = f"{metric_label(s.metric)}{measure_text(s.measure)}"
    note = " ".join(filter(None, [
        _friedman_note(s), "Columns with the same scores (one model, rule and measure) are "
        "ranked once, as one column." if s.same_scores else "",
        oracle_note(list(s.columns), included=True),
        f"Oracles (bounds, not ranked): {', '.join(left_out)}." if left_out else ""]))
    out = [TableBlock(["#", "column", "average rank"], rows, f"Average ranks: {what}", note)]
    if s.nemenyi_p is not None and r.k <= MAX_NEMENYI:
        p = s.nemenyi_p
        heads = [column_entry(s.columns[i]) for i in order]
        cells = [[heads[x]] + [Entry("") if x == y else
                               Entry(p_text(p[order[x], order[y]]),
                                     bold=p[order[x], order[y]] < r.alpha)
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
                f"{measure_text(f['measure'])}: average ranks over {f['n']} (dataset, class) "
                f"blocks (1 = best); columns joined by a bar are not significantly different "
                f"(Nemenyi, α = {f['alpha']:g}, CD = {f['cd']:.2f}); Friedman p = {f['p']:.3g}.")
    if fig.kind == "rules":
        listing = ", ".join(f"{rule} = {name}" for rule, name in f["columns"])
        return (f"{f['dataset']}: {metric_label(f['metric'])} per class of the scoring rules of "
                f"one trained {f['detector']} (mean ± SEM over repetitions, SEM "
                f"ddof={f['sem_ddof']}){measure_text(f['measure'])}; columns: {listing}.")
    if fig.kind == "sweep":
        return (f"{f['dataset']}: {metric_label(f['metric'])} against {f['parameter']} per "
                f"class (mean over repetitions) of {f['a']} and {f['b']}; the row below each "
                f"row of classes is the difference {f['a']} − {f['b']} (×100)"
                f"{measure_text(f['measure'])}.")
    cell = f["cell"]
    more = (f" (first {f['shown']} of {f['columns']} columns)" if f["columns"] > f["shown"]
            else "")
    why, chosen = "", f.get("chosen")
    if chosen:
        lo, hi = chosen["range"]
        label = metric_label(chosen["by"])
        why = (f" Chosen by default as the cell of {cell.dataset} whose columns' {label} differ "
               f"most (from {100 * lo:.1f} to {100 * hi:.1f})" if chosen["why"] == "spread" else
               f" Chosen by default as the cell of {cell.dataset} with the lowest {label} "
               f"({100 * lo:.1f})") + "; `[report] curves` or `--curves` picks others."
    return (f"ROC and precision–recall curves, {cell.dataset}, normal class {cell.normal}, "
            f"repetition {cell.repetition}{measure_text(f['measure'])}: {f['anomalies']} "
            f"anomalies of {f['n']} test samples{more}; columns with identical scores drawn "
            f"once.{why}")


def missing_curves_note(missing: list[CurveCell]) -> str:
    return f"No ROC/PR curves for {', '.join(map(str, missing))}: no stored scores for that cell."
