"""Two runs side by side, column by column (``anobench compare RUN_A RUN_B``).

For every (dataset, metric, measure, column) stored in both runs: the mean
over classes in A and in B, the difference, wins/ties/losses of A over the
classes, and a two-sided Wilcoxon signed-rank test on the class means paired
by class (no test with too few classes). Runs of different suites are
refused unless asked for; a changed suite text is noted. Built on the
report's tables, tests and markup; owns only the comparison's own table.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from anobench.column import Column
from anobench.errors import AnobenchError
from anobench.report.markup import Entry, table_text
from anobench.report.render import no_test
from anobench.report.statistics import EXACT_MAX, PairedResult, min_pairs, paired_comparison
from anobench.report.tables import Table, build_tables, metric_label
from anobench.store import read_meta, read_records


def compare_runs(run_a: Path, run_b: Path, *, fmt: str = "markdown", alpha: float = 0.05,
                 allow_different_suites: bool = False,
                 metrics: list[str] | None = None) -> str:
    """The comparison of two runs as text; raise :class:`AnobenchError` on bad input."""
    meta_a, meta_b = read_meta(run_a), read_meta(run_b)
    name_a, name_b = meta_a.get("suite_name"), meta_b.get("suite_name")
    if name_a != name_b and not allow_different_suites:
        raise AnobenchError(f"{run_a} and {run_b} are runs of different suites ({name_a!r} vs "
                            f"{name_b!r}); pass --allow-different-suites to compare them anyway")
    notes = _differences(meta_a, meta_b)
    tabs_a = {(t.dataset, t.metric, t.measure): t for t in build_tables(read_records(run_a))}
    tabs_b = {(t.dataset, t.metric, t.measure): t for t in build_tables(read_records(run_b))}
    if metrics:
        tabs_a = {k: t for k, t in tabs_a.items() if k[1] in metrics}
    common = [k for k in tabs_a if k in tabs_b]
    if not common:
        raise AnobenchError(f"{run_a} and {run_b} have no (dataset, metric, measure) table in "
                            "common: nothing to compare")
    parts = [f"A = {run_a}\nB = {run_b}\n"] + [f"Note: {n}\n" for n in notes]
    any_column = False
    only: set[str] = set()
    for key in common:
        ta, tb = tabs_a[key], tabs_b[key]
        cols = [c for c in ta.columns if c in tb.columns]
        only |= {c.name for c in set(ta.columns) ^ set(tb.columns)}
        rows = [row for col in cols if (row := _column_row(ta, tb, col, alpha))]
        if not rows:
            continue
        any_column = True
        dataset, metric, measure = key
        title = f"{dataset}: {metric_label(metric)}" + (
            f", measure: {measure}" if measure else "")
        grid = table_text(["column", "classes", "A", "B", "A − B ×100", "W/T/L (A)", "p"],
                           rows, fmt)
        parts.append(f"### {title}\n\n{grid}\n" if fmt == "markdown" else f"{title}\n{grid}\n")
    if not any_column:
        raise AnobenchError(f"{run_a} and {run_b} have no column in common: nothing to compare")
    if only:
        parts.append(f"Columns in only one run: {', '.join(sorted(only))}\n")
    parts.append(f"Means over classes of the class means ×100. p: two-sided Wilcoxon "
                 f"signed-rank test on the class means paired by class (exact for ≤ "
                 f"{EXACT_MAX} classes), α = {alpha:g}, uncorrected; no test with fewer "
                 f"than {min_pairs(alpha)} classes.\n")
    return "\n".join(parts)


def _differences(meta_a: dict, meta_b: dict) -> list[str]:
    """What differs between two runs besides their results (suite, code, device)."""
    name_a, name_b = meta_a.get("suite_name"), meta_b.get("suite_name")
    notes = []
    if name_a != name_b:
        notes.append(f"runs of different suites: {name_a!r} (A) and {name_b!r} (B).")
    elif meta_a.get("suite_sha256") != meta_b.get("suite_sha256"):
        notes.append(f"suite {name_a!r} changed between the runs (its text differs).")
    for field in ("code_version", "device"):
        if meta_a.get(field) != meta_b.get(field):
            notes.append(f"{field}: {meta_a.get(field)} (A) vs {meta_b.get(field)} (B).")
    return notes


def _column_row(ta: Table, tb: Table, col: Column, alpha: float) -> list | None:
    """One column's row: its class means in both runs, paired by class (None: no class)."""
    ma, mb = ta.class_means(col), tb.class_means(col)
    classes = [r for r in ta.rows if r in ma and r in mb]
    if not classes:
        return None
    xa = np.array([ma[r] for r in classes])
    xb = np.array([mb[r] for r in classes])
    res = paired_comparison(xa, xb, alpha=alpha)
    sig = res.p is not None and res.p < alpha
    return [col.name, str(len(classes)), f"{100 * xa.mean():.1f}", f"{100 * xb.mean():.1f}",
            f"{100 * (xa.mean() - xb.mean()):+.2f}", f"{res.wins}/{res.ties}/{res.losses}",
            Entry(_p_text(res, alpha), bold=sig)]


def _p_text(res: PairedResult, alpha: float) -> str:
    if res.method == "identical":
        return "identical"
    return f"{res.p:.4f}" if res.tested else no_test(res, alpha)
