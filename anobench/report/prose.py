"""The report's conclusions in words: verdicts, the summary, the terminal's short report.

* :func:`verdict_sentence` — one quotable sentence per :class:`~.verdicts.Verdict`:
  the best deployable column, its margin over the runner-up and whether it
  is significantly better (effect size, p), or "no verdict" and why;
* :func:`summary_sentences` — per pair of columns, the across-classes test
  and the classes where the first is significantly better and where it is
  significantly **worse**; :func:`reference_sentences` — per column tested
  against the reference, where it is significantly better and worse;
* :func:`terminal_text` — what ``anobench run`` and ``anobench report``
  print: the run's state, the verdicts and the report's paths.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from anobench.report.render import no_test, p_text, state_text
from anobench.report.render_stats import pair_verdict
from anobench.report.runinfo import RunState
from anobench.report.statistics import BETTER, WORSE, PairSection, TableTests, min_pairs
from anobench.report.tables import MEAN_ROW, metric_label
from anobench.report.verdicts import NO_COMMON_CLASS, ONE_COLUMN, Verdict

VERDICT_HEADING = "Verdicts"


def _what(metric: str, measure: str | None) -> str:
    return metric_label(metric) + (f" ({measure})" if measure else "")


def _where(v: Verdict) -> str:
    return f"{v.dataset}, {_what(v.metric, v.measure)}"


def _effect(res) -> str:
    return f"r_rb = {res.rank_biserial:+.2f}, median Δ {100 * res.median_diff:+.1f}"


def verdict_sentence(v: Verdict) -> str:
    """One sentence a reader can quote, or 'no verdict' and why."""
    where = _where(v)
    if v.reason == ONE_COLUMN:
        return f"{where}: no verdict: only one deployable column, nothing to compare it with."
    if v.reason == NO_COMMON_CLASS:
        return (f"{where}: no verdict: no class where every deployable column has results "
                "(an incomplete run?).")
    best, runner = v.best, v.runner_up
    assert best is not None and runner is not None
    m1, m2 = 100 * v.ranking[0][1], 100 * v.ranking[1][1]
    n_cls = f"{v.blocks} class{'es' if v.blocks != 1 else ''}"
    data = " (on incomplete data: fewer repetitions or classes than planned)" \
        if v.incomplete else ""
    sig = v.significant
    if sig is None:
        return (f"{where}: no verdict: {best.name} has the highest mean ({m1:.1f}; the runner-up "
                f"{runner.name} {m2:.1f}, {n_cls}), but {_why_untested(v)}{data}.")
    head = (f"{where}: {best.name} is best with a mean of {m1:.1f} over {n_cls}, "
            f"{m1 - m2:+.1f} over the runner-up {runner.name} ({m2:.1f}); ")
    fixed = ""
    if v.deterministic:
        names = " and ".join(c.name for c in v.deterministic)
        fixed = (f" ({names}: the same value in every repetition, so the test is over the "
                 "other column's training seeds only)" if len(v.deterministic) == 1 else
                 f" ({names}: each the same in every repetition)")
    return head + _test_clause(v) + fixed + data + "."


def _why_untested(v: Verdict) -> str:
    need = min_pairs(v.alpha)
    res = [c.result for c in v.per_class]
    if res and all(r.method == "deterministic" for r in res):
        return ("both are deterministic on a fixed test set (the same value in every "
                "repetition), so their repetitions are not samples to test")
    reps = sorted({r.n for r in res}) or [0]
    nonzero = max((r.nonzero for r in res), default=0)
    differ = f" ({nonzero} of them differ)" if nonzero < reps[-1] else ""
    classes = (f" and {v.blocks} classes are" if v.blocks > 1 else " are")
    return (f"{reps[-1]} paired repetition(s) per class{differ}{classes} too few for a test "
            f"(needs {need} non-zero differences at α = {v.alpha:g})")


def _test_clause(v: Verdict) -> str:
    runner = v.runner_up.name if v.runner_up else "?"
    dirs = v.class_directions()
    better, worse = dirs.count(BETTER), dirs.count(WORSE)
    tested = v.tested_classes
    reps = sorted({c.result.n for c in v.per_class}) or [0]
    how = {"holm": "Holm", "bonferroni": "Bonferroni"}.get(v.correction, "uncorrected")
    per = (f"{range_of(reps)} paired repetitions per class, {how} over "
           f"{len(v.per_class)} class{'es' if len(v.per_class) != 1 else ''}")
    if v.across is not None and v.across.tested:
        a = v.across
        word = {BETTER: "significantly better than", WORSE: "significantly worse than"}.get(
            a.direction(v.alpha) or "", "not significantly different from")
        out = (f"{word} {runner} across classes (Wilcoxon signed-rank on {a.n} class means, "
               f"p = {p_text(a.p)}, one test, uncorrected; {_effect(a)})")
        if tested:
            out += (f"; per class ({per}): significantly better in {better}, significantly "
                    f"worse in {worse} of {len(v.per_class)}")
        return out
    if len(v.per_class) == 1:
        c = v.per_class[0]
        word = {BETTER: "significantly better than", WORSE: "significantly worse than"}.get(
            dirs[0] or "", "not significantly different from")
        return (f"{word} {runner} (Wilcoxon signed-rank on {c.result.n} paired repetitions, "
                f"p = {p_text(c.p_adj)}; {_effect(c.result)})")
    ps = [c.p_adj for c in tested if c.p_adj is not None]
    if better == len(v.per_class):
        r_min = min(c.result.rank_biserial for c in tested)
        r_max = max(c.result.rank_biserial for c in tested)
        effect = f"r_rb = {r_min:+.2f}" if r_min == r_max else f"r_rb {r_min:+.2f} to {r_max:+.2f}"
        return (f"significantly better than {runner} in every one of the {len(v.per_class)} "
                f"classes ({per}: corrected p ≤ {p_text(max(ps))}; {effect})")
    untested = len(v.per_class) - len(tested)
    more = f"; {untested} class{'es' if untested != 1 else ''} untested" if untested else ""
    return (f"not significantly better than {runner} overall: significantly better in "
            f"{better} and significantly worse in {worse} of {len(v.per_class)} classes ({per}"
            f"{_class_details(v)}{more}), and {len(v.per_class)} classes are too few for an "
            "across-class test")


def _class_details(v: Verdict, most: int = 5) -> str:
    """Per tested class: Δ of the means ×100, corrected p, r_rb (up to ``most`` classes)."""
    tested = v.tested_classes
    if not tested or len(tested) > most:
        return ""
    where = len({c.dataset for c in tested}) > 1
    parts = [f"{c.dataset + ' ' if where else 'class '}{c.row}: "
             f"{100 * c.result.mean_diff:+.1f}, corrected p = {p_text(c.p_adj)}, r_rb = "
             f"{c.result.rank_biserial:+.2f}" for c in tested]
    return ": " + "; ".join(parts)


def range_of(values: list[int]) -> str:
    return str(values[0]) if values[0] == values[-1] else f"{values[0]}–{values[-1]}"


def verdict_intro(oracles: bool) -> str:
    return ("Per dataset, metric and measure: the deployable column with the highest mean "
            "over classes, against the runner-up (one column per set of identical scores"
            + ("" if oracles else "; oracles, which choose with the test labels, left out")
            + "). 'Significantly' means a two-sided Wilcoxon signed-rank test at α; "
            "r_rb: rank-biserial correlation (+1: better in every pair); Δ ×100.")


# ------------------------------------------------------------------ summary

def _places(items: list[tuple[str, str, str]], one_measure: bool) -> str:
    """(dataset, class, what) as 'cardio 0 (AUC, AP); vowels 0 (AUC)'."""
    by_place: dict[tuple[str, str], list[str]] = defaultdict(list)
    for dataset, row, what in items:
        by_place[(dataset, row)].append(what)
    out = []
    for (dataset, row), whats in by_place.items():
        place = f"{dataset} (across classes)" if row == MEAN_ROW else f"{dataset} {row}"
        out.append(f"{place} ({', '.join(dict.fromkeys(whats))})")
    return "; ".join(out)


def reference_sentences(table_tests: list[TableTests]) -> list[str]:
    """Per column tested against the reference: where significantly better, where worse."""
    one_measure = len({t.table.measure for t in table_tests}) <= 1
    found: dict[str, dict[str, list]] = {}
    refs: dict[str, set[str]] = defaultdict(set)
    for tt in table_tests:
        t = tt.table
        what = metric_label(t.metric) if one_measure else _what(t.metric, t.measure)
        for col, ref in tt.reference.items():
            if t.first_of(col) != col:
                continue  # a twin: its tests are its first column's
            f = found.setdefault(col.name, {BETTER: [], WORSE: [], "tested": [], "untested": []})
            refs[col.name].add(ref.name)
            for row in (*t.rows, MEAN_ROW):
                res = tt.cells.get((row, col))
                if res is None:
                    continue
                f["tested" if tt.p_adj.get((row, col)) is not None else "untested"].append(row)
                d = tt.decision(row, col)
                if d:
                    f[d].append((t.dataset, t.row_label(row) if row != MEAN_ROW else row, what))
    out = []
    untested = [name for name, f in found.items() if not f["tested"]]
    if untested:
        names = sorted(set().union(*(refs[n] for n in untested)))
        out.append(f"Against the reference {', '.join(names)}: no test possible for "
                   f"{', '.join(untested)} (too few repetitions or classes, or both columns "
                   "deterministic).")
    for name, f in found.items():
        against = f"{name} against the reference {', '.join(sorted(refs[name]))}"
        if not f["tested"]:
            continue
        n_sig = len(f[BETTER]) + len(f[WORSE])
        counts = (f"{n_sig} of {len(f['tested'])} tests significant"
                  + (f", {len(f['untested'])} untested" if f["untested"] else ""))
        if not n_sig:
            out.append(f"{against} (corrected): no significant difference ({counts}).")
            continue
        better = _places(f[BETTER], one_measure) or "no class"
        worse = _places(f[WORSE], one_measure) or "no class"
        out.append(f"{against} (corrected): significantly better in {better}; significantly "
                   f"worse in {worse} ({counts}).")
    return out


def summary_sentences(pair_secs: list[list[PairSection]], alpha: float) -> list[str]:
    """One sentence per pair, metric and measure: the across-classes result, and per class
    where A is significantly better and where significantly worse."""
    out = []
    for secs in pair_secs:
        for s in secs:
            rows = [r for r in s.rows if r.unit == "class means"]
            if not rows or s.grid:
                continue
            r = rows[-1]  # pooled over datasets when there are several
            res = r.result
            label = _what(s.metric, s.measure)
            where = "all (dataset, class) blocks" if r.dataset == "all" else r.dataset
            test = (f"p = {p_text(res.p)} ({pair_verdict(res, res.p, alpha, s.a, s.b).text})"
                    if res.tested else no_test(res, alpha))
            per_class = [x for x in s.rows if x.unit == "repetitions"]
            dirs = [x.result.direction(alpha, x.p_adj) for x in per_class]
            tested = [x for x in per_class if x.p_adj is not None]
            reps = sorted({x.result.n for x in per_class}) or [0]
            if tested:
                better = [f"{x.dataset} {x.row}" for x, d in zip(per_class, dirs) if d == BETTER]
                worse = [f"{x.dataset} {x.row}" for x, d in zip(per_class, dirs) if d == WORSE]
                per = (f"per class (corrected), {s.a} significantly better in {len(better)} "
                       f"and significantly worse in {len(worse)} of {len(tested)} tested "
                       f"classes{_listing(better, worse)}")
            else:
                per = f"no per-class test ({reps[-1]} repetition(s) per class)"
            out.append(f"{s.a} vs {s.b}, {label}, {where}: mean {100 * r.mean_a:.1f} vs "
                       f"{100 * r.mean_b:.1f}, {s.a} higher in {res.wins} of {res.n} classes "
                       f"(W/T/L {res.wins}/{res.ties}/{res.losses}), Wilcoxon on class means "
                       f"{test}; {per}.")
    return out


def _listing(better: list[str], worse: list[str], most: int = 6) -> str:
    def names(xs: list[str]) -> str:
        return ", ".join(xs[:most]) + (f", … ({len(xs) - most} more)" if len(xs) > most else "")
    parts = ([f"better: {names(better)}"] if better else []) + (
        [f"worse: {names(worse)}"] if worse else [])
    return f" ({'; '.join(parts)})" if parts else ""


# ------------------------------------------------------------------ the terminal

def terminal_text(state: RunState, verdict_lines: list[str], paths: list[Path]) -> str:
    """What ``run`` and ``report`` print by default: state, verdicts, where the report is."""
    lines = [f"Run state: {state_text(state)}", "", f"{VERDICT_HEADING}:"]
    lines += [f"  * {v}" for v in verdict_lines] or ["  (none: no results)"]
    lines += ["", "Report: " + ", ".join(str(p) for p in paths),
              "(full tables on the terminal: --tables)"]
    return "\n".join(lines) + "\n"


__all__ = ["VERDICT_HEADING", "reference_sentences", "summary_sentences",
           "terminal_text", "verdict_intro", "verdict_sentence"]
