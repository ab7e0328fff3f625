"""Tables from records; significance marks, paired tests and ranks on them."""
from __future__ import annotations

import re

import numpy as np
import pytest
from _synthetic_runs import make_records

from anobench.report import statistics as stats
from anobench.report.markup import table_text
from anobench.report.render import DOWN, UP, table_entries, table_note
from anobench.report.statistics import pair_tests, rank_tests, table_tests
from anobench.report.tables import MEAN_ROW, build_tables

RULES = {
    "vae": {"rule": "single", "measure": "elbo", "model": "vae-1"},
    "ed-vae": {"rule": "expected", "measure": "elbo", "model": "vae-1"},
    "always": {"rule": "best", "measure": "elbo", "model": "vae-1"},
    "worse": {"rule": "worst", "measure": "elbo", "model": "vae-1"},
    "pca": {},
}


def _value(col: str, c: int, rep: int) -> float:
    base = 0.70 + 0.02 * c + 0.001 * ((rep * 7 + c * 3) % 10)  # varies over reps and classes
    if col == "ed-vae":
        return base + (0.01 + 0.001 * rep if c < 5 else 0.0)  # better in classes 0-4 only
    if col == "always":
        return base + 0.005 + 0.0005 * rep  # better everywhere
    if col == "worse":
        return base - 0.02  # worse everywhere
    if col == "pca":
        return base + (0.03 if rep % 2 else -0.03)  # mixed: 5 wins, 5 losses
    return base


@pytest.fixture(scope="module")
def records():
    return make_records(_value, RULES)


def col(table, name):
    """The column of ``table`` called ``name``."""
    (c,) = table.named(name)
    return c


def named(marks, direction=None):
    """(row, column) marks with the columns by name (of one direction, if given)."""
    if isinstance(marks, dict) and direction is not None:
        marks = [k for k, d in marks.items() if d == direction]
    return {(row, c.name) for row, c in marks}


def render_table(table, fmt="markdown", sem_ddof=1, marks=frozenset()):
    headers, rows = table_entries(table, sem_ddof, marks)
    return table_text(headers, rows, fmt)


def _marked_cells(markdown: str, mark: str = UP) -> set[tuple[str, str]]:
    lines = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    out = set()
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        for col, text in zip(header[1:], cells[1:]):
            if mark in text:
                out.add((cells[0], col))
    return out


def test_build_tables_groups_by_dataset_metric_measure(records):
    tables = build_tables(records)
    assert [(t.dataset, t.metric, t.measure) for t in tables] == [
        ("d", "roc_auc", "elbo"), ("d", "pr_auc", "elbo")]
    t = tables[0]
    assert t.rows == tuple(str(c) for c in range(10))
    assert "pca" in [c.name for c in t.columns]  # non-latent columns join every measure's table
    a, b = t.paired("3", col(t, "ed-vae"), col(t, "vae"))
    assert len(a) == 10 and np.all(a > b)


def test_marks_appear_exactly_where_corrected_p_is_below_alpha(records):
    t = build_tables(records)[0]
    tests = table_tests(t, "vae", alpha=0.05, correction="holm")
    expected = {(str(c), "ed-vae") for c in range(5)} | {(str(c), "always") for c in range(10)}
    expected |= {(MEAN_ROW, "always")}
    assert named(tests.marks, "better") == expected
    # and that is exactly the set where the corrected p < alpha in the better direction
    computed = {k for k, r in tests.cells.items()
                if tests.p_adj[k] is not None and tests.p_adj[k] < 0.05 and r.rank_biserial > 0}
    assert named(computed) == expected
    # "worse" is significant in the other direction: marked worse (issue 18: it used to carry
    # no mark at all, like a column that does not differ)
    worse = col(t, "worse")
    assert tests.p_adj[("0", worse)] < 0.05 and tests.marks[("0", worse)] == "worse"
    worse_cells = {(str(c), "worse") for c in range(10)} | {(MEAN_ROW, "worse")}
    assert named(tests.marks, "worse") == worse_cells
    # ed-vae's class means: 5 wins, 5 ties -> 5 non-zero differences: no test, no mark
    mean = tests.cells[(MEAN_ROW, col(t, "ed-vae"))]
    assert (mean.p, mean.method, mean.nonzero) == (None, "too few", 5)
    md = render_table(t, "markdown", marks=tests.marks)
    assert _marked_cells(md) == expected and _marked_cells(md, DOWN) == worse_cells
    assert md.count(UP) == len(expected) and md.count(DOWN) == len(worse_cells)


def test_no_correction_and_other_alpha_change_the_marks_consistently(records):
    t = build_tables(records)[0]
    tests = table_tests(t, "vae", alpha=0.001, correction="none")
    # smallest exact p with 10 reps is 2/1024 = 0.00195 > 0.001: nothing can be marked
    assert tests.marks == {}


def _notes_and_tables(recs, reference="vae", fmt="markdown", sem_ddof=1):
    out = []
    for t in build_tables(recs):
        tests = table_tests(t, reference)
        note = table_note(tests, sem_ddof)
        out.append(render_table(t, fmt, sem_ddof, tests.marks) + "\n"
                   + (note.words(fmt) if hasattr(note, "words") else note))
    return "\n".join(out)


def test_too_few_repetitions_says_so_instead_of_a_p_value():
    recs = make_records(_value, RULES, reps=3, classes=range(4))
    text = _notes_and_tables(recs)
    assert not re.search(r"\d[▲▼]", text)  # no entry carries a mark
    assert "too few for a test" in text and "needs n ≥ 6" in text
    t = build_tables(recs)[0]
    res = table_tests(t, "vae").cells[("0", col(t, "ed-vae"))]
    assert res.p is None and res.method == "too few"


def test_footnote_names_reference_test_correction_and_sem(records):
    text = _notes_and_tables(records)
    assert "reference vae:" in text or "reference vae " in text
    assert "Holm" in text and "α = 0.05" in text and "SEM = std (ddof=1)" in text


def test_latex_and_plain_rendering(records):
    t = build_tables(records)[0]
    tests = table_tests(t, "vae")
    tex = render_table(t, "latex", 1, tests.marks)
    assert "\\begin{tabular}" in tex and "$^{\\blacktriangle}$" in tex and "$\\pm$" in tex
    assert "$^{\\blacktriangledown}$" in tex
    plain = _notes_and_tables(records, fmt="plain", sem_ddof=0)
    assert "ddof=0" in plain and UP in plain and DOWN in plain


def test_pair_tests_per_class_dataset_and_pooled(records):
    more = records + [dict(r, dataset="e") for r in records]
    secs = pair_tests(build_tables(more), "ed-vae", "vae")
    assert [(s.metric, s.measure) for s in secs] == [("roc_auc", "elbo"), ("pr_auc", "elbo")]
    rows = secs[0].rows
    per_class = [r for r in rows if r.unit == "repetitions"]
    assert len(per_class) == 20
    assert all(r.result.p == pytest.approx(2 / 1024) for r in per_class if int(r.row) < 5)
    holm = stats.adjust([r.result.p for r in per_class if r.dataset == "d"], "holm")
    assert [r.p_adj for r in per_class if r.dataset == "d"] == pytest.approx(holm)
    pooled = [r for r in rows if r.dataset == "all"]
    assert len(pooled) == 1 and pooled[0].result.n == 20  # every (dataset, class) block
    assert pooled[0].result.wins == 10 and pooled[0].result.ties == 10


def test_pair_tests_by_grid_point():
    cols = {f"vae[beta={b}]": {"rule": "single", "measure": "elbo", "model": f"m{b}",
                               "grid": {"beta": b}} for b in (0.5, 1)}
    cols |= {f"ed-vae[beta={b}]": {"rule": "expected", "measure": "elbo", "model": f"m{b}",
                                   "grid": {"beta": b}} for b in (0.5, 1)}
    recs = make_records(lambda col, c, r: 0.8 + (0.01 if col.startswith("ed") else 0) + 0.01 * c,
                        cols, reps=6, classes=range(6))
    secs = pair_tests(build_tables(recs), "ed-vae", "vae")
    assert [s.grid for s in secs if s.metric == "roc_auc"] == [(("beta", 0.5),), (("beta", 1),)]
    t = build_tables(recs)[0]
    # the reference "vae" is matched to each column's grid point
    assert {a.name: b.name for a, b in table_tests(t, "vae").reference.items()} == {
        "ed-vae[beta=0.5]": "vae[beta=0.5]", "ed-vae[beta=1]": "vae[beta=1]"}


def test_rank_tests_friedman_matches_stats(records):
    secs = rank_tests(build_tables(records))
    s = secs[0]
    assert {c.name for c in s.columns} == set(RULES) and len(s.blocks) == 10
    cols = list(s.columns)
    names = [c.name for c in cols]
    t = build_tables(records)[0]
    values = np.array([[t.class_means(c)[row] for c in cols] for row in t.rows])
    ref = stats.friedman(values)
    assert s.result.statistic == pytest.approx(ref.statistic)
    assert s.result.avg_ranks[names.index("always")] < s.result.avg_ranks[names.index("worse")]
    only = rank_tests(build_tables(records), columns=("vae", "ed-vae", "pca"))[0]
    assert {c.name for c in only.columns} == {"vae", "ed-vae", "pca"}


def test_footnote_says_when_correction_makes_marks_impossible():
    recs = make_records(_value, RULES, reps=6, classes=range(10))
    t = build_tables(recs)[0]
    tests = table_tests(t, "vae")
    assert not {k for k in tests.marks if k[0] != MEAN_ROW}  # 2/2**6 * 10 > 0.05
    # the family is the classes actually tested: ed-vae ties vae in classes 5-9, so its
    # family has 5 classes and its floor is 2/2**6 * 5 (issue 18 item 5: computed from the
    # decisions, not from the number of rows)
    assert "smallest attainable corrected p is 0.156 ≥ α" in str(table_note(tests, 1))
    assert "no class can be marked" in str(table_note(tests, 1))
    assert "smallest attainable" not in str(table_note(table_tests(build_tables(
        make_records(_value, RULES, reps=10, classes=range(3)))[0], "vae"), 1))


def test_columns_with_the_same_scores_are_tested_and_ranked_once():
    """Issue 8 item 5: vae and vae:single (one model, rule, measure) count once."""
    cols = {"vae": {"rule": "single", "measure": "elbo", "model": "m"},
            "ed-vae": {"rule": "expected", "measure": "elbo", "model": "m"},
            "vae:single": {"rule": "single", "measure": "elbo", "model": "m"},
            "vae:expected": {"rule": "expected", "measure": "elbo", "model": "m"},
            "other:single": {"rule": "single", "measure": "elbo", "model": "m2"},
            "pca": {"model": "p"}}

    def value(c, cls, rep):
        base = 0.7 + 0.02 * cls + 0.001 * ((rep * 7 + cls * 3) % 10)
        return base + {"ed-vae": 0.01, "vae:expected": 0.01, "other:single": 0.004,
                       "pca": -0.003 * (rep % 3)}.get(c, 0.0)

    recs = make_records(value, cols, classes=range(8), reps=6, metrics=("roc_auc",))
    (t,) = build_tables(recs)
    assert {c.name: t.first_of(c).name for c in t.columns if t.first_of(c) != c} == {
        "vae:single": "vae", "vae:expected": "ed-vae"}  # another model is not a twin
    tests = table_tests(t, "vae")
    assert {c.name for c in tests.same_as_reference} == {"vae:single"}
    assert not any(c.name == "vae:single" for _, c in tests.cells)
    for row in (*t.rows, MEAN_ROW):  # tested once, shown on both
        assert tests.cells[(row, col(t, "vae:expected"))] is tests.cells[(row, col(t, "ed-vae"))]
    assert tests.mean_family == 3  # ed-vae (= vae:expected), other:single, pca
    (ranks,) = rank_tests([t])
    assert [c.name for c in ranks.columns] == ["vae", "ed-vae", "other:single", "pca"]
    assert {a.name: [b.name for b in bs] for a, bs in ranks.same_scores.items()} == {
        "vae": ["vae:single"], "ed-vae": ["vae:expected"]}
    values = np.array([[t.class_means(c)[row] for c in ranks.columns] for row in t.rows])
    assert ranks.result.k == 4 and ranks.result.statistic == pytest.approx(
        stats.friedman(values).statistic)
    # the same rule read from a different number of posterior samples is not the same scores
    for r in recs:
        r["samples"] = 10 if r["column"] == "vae:single" else 1
    (t,) = build_tables(recs)
    assert t.first_of(col(t, "vae:single")) == col(t, "vae:single")


def test_tables_follow_the_suite_order_of_datasets():
    cols = {"vae": {"rule": "single", "measure": "elbo", "model": "m"}}
    recs = []
    for ds in ("zeta", "Alpha", "mid"):
        recs += make_records(_value, cols, classes=range(2), reps=2, dataset=ds,
                             metrics=("roc_auc",))
    assert [t.dataset for t in build_tables(recs)] == ["zeta", "Alpha", "mid"]  # as stored
    # the order the suite lists them (meta.json "datasets") wins over the records' order
    assert [t.dataset for t in build_tables(recs, datasets=["mid", "zeta"])] == [
        "mid", "zeta", "Alpha"]
