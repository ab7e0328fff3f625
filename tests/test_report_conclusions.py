"""Issue 18: conclusions a reader can act on — both directions of significance, oracles kept
apart, verdicts, what the repetitions resample, footnotes that agree with the marks, partial
runs said. Each test failed before the change it covers."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from _synthetic_runs import make_records, write_run

from anobench.report import build_report, write_report
from anobench.report.render import (
    DOWN,
    NO_CLASS_MARKS,
    NO_CLASS_TESTS,
    NO_MEAN_TEST,
    NO_REFERENCE,
    UP,
)
from anobench.report.statistics import rank_tests
from anobench.report.tables import build_tables

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference"
DIGITS_CLASSES = (1, 3, 8)  # the quick suite's classes of scikit-learn's digits
VAE = {"vae": {"rule": "single", "measure": "elbo", "model": "m"},
       "ed-vae": {"rule": "expected", "measure": "elbo", "model": "m"}}


def _wiggle(col: str, c: int, rep: int) -> float:
    return ((c * 31 + rep * 17 + sum(map(ord, col)) * 7) % 13) / 1000


# ------------------------------------------------------------------ item 1: both directions

def _bad_value(col, c, rep):
    base = 0.93 + 0.004 * c + _wiggle(col, c, rep)
    return {"bad": base - 0.48, "ed-vae": base + 0.01}.get(col, base)


@pytest.fixture(scope="module")
def worse_run(tmp_path_factory):
    """Digits-sized: 3 classes, 8 repetitions; 'bad' is 48 AUC points worse in every one."""
    cols = {**VAE, "bad": {"model": "b"}}
    recs = make_records(_bad_value, cols, classes=DIGITS_CLASSES, reps=8)
    return write_run(tmp_path_factory.mktemp("worse"), recs, reps=8, scores=False)


def _row_cells(md: str, title: str) -> dict[str, dict[str, str]]:
    """{row: {column: cell}} of the markdown table under ``### title``."""
    lines = md.split(f"### {title}\n", 1)[1].strip().splitlines()
    cut = next((i for i, ln in enumerate(lines) if not ln.startswith("|")), len(lines))
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[:cut]]
    header, body = rows[0], rows[2:]
    return {r[0]: dict(zip(header[1:], r[1:])) for r in body}


def test_a_column_worse_in_every_repetition_carries_the_worse_mark(worse_run):
    md = write_report(worse_run, figures=False)
    for title in ("d: AUC, measure: elbo", "d: PR-AUC, measure: elbo"):
        cells = _row_cells(md, title)
        for row in map(str, DIGITS_CLASSES):
            assert cells[row]["bad"].endswith(DOWN), (title, row, cells[row])
            assert cells[row]["ed-vae"].endswith(UP)
            assert not cells[row]["vae"].endswith((UP, DOWN))  # the reference itself
    legend = md.split("## Tables", 1)[1].split("###", 1)[0]
    assert f"{UP} significantly better / {DOWN} significantly worse than the reference vae" \
        in legend
    summary = md.split("## Summary", 1)[1].split("## Tables", 1)[0]
    assert ("bad against the reference vae (corrected): significantly better in no class; "
            "significantly worse in d 1 (AUC, PR-AUC); d 3 (AUC, PR-AUC); d 8 (AUC, PR-AUC)"
            in summary)
    html = (worse_run / "report.html").read_text()
    assert f'<sup class="down">{DOWN}</sup>' in html and f'<sup class="up">{UP}</sup>' in html
    tex = write_report(worse_run, fmt="latex", figures=False)
    assert "$^{\\blacktriangledown}$" in tex and "amssymb" in tex
    plain = write_report(worse_run, fmt="plain", figures=False)
    assert re.search(rf"\d{DOWN}", plain)


def test_paired_tests_and_pair_summary_say_worse(worse_run):
    md = write_report(worse_run, figures=False, overrides={"pairs": [["bad", "vae"]]})
    table = md.split("### bad vs vae: AUC, measure elbo\n", 1)[1].split("\n\n", 1)[0]
    for row in map(str, DIGITS_CLASSES):
        line = next(ln for ln in table.splitlines() if re.match(rf"\| d +\| +{row} \|", ln))
        assert line.rstrip(" |").endswith(f"**vae better**{DOWN}"), line
    assert "bad significantly better in 0 and significantly worse in 3 of 3 tested classes " \
           "(worse: d 1, d 3, d 8)" in md


# ------------------------------------------------------------------ item 2: oracles apart

def _oracle_value(col, c, rep):
    base = 0.80 + 0.01 * c + _wiggle(col, c, rep)
    return {"vae:best": base + 0.15, "vae:expected": base + 0.02}.get(col, base)


@pytest.fixture(scope="module")
def oracle_records():
    cols = {"vae:single": {"rule": "single", "measure": "elbo", "model": "m"},
            "vae:best": {"rule": "best", "measure": "elbo", "model": "m"},
            "vae:expected": {"rule": "expected", "measure": "elbo", "model": "m"},
            "pca": {"model": "p"}}
    recs = make_records(_oracle_value, cols, classes=range(6), reps=8, metrics=("roc_auc",))
    for r in recs:
        if r["rule"] == "best":
            r["oracle"] = True
    return recs


def test_oracles_are_bounds_out_of_ranks_bold_and_verdicts(oracle_records, tmp_path,
                                                             monkeypatch):
    from anobench.report import figures

    drawn: list[list[str]] = []
    real = figures.cd_diagram
    monkeypatch.setattr(figures, "cd_diagram",
                        lambda names, *a, **k: drawn.append(list(names)) or real(names, *a, **k))
    run = write_run(tmp_path, oracle_records, reps=8)
    report = build_report(run)
    md = write_report(run, figures=False)
    cells = _row_cells(md, "d: AUC, measure: elbo")
    header = next(ln for ln in md.splitlines() if ln.startswith("| class"))
    assert header.rstrip(" |").endswith("vae:best‡")  # shown last, as a bound
    for row, entries in cells.items():
        assert "**" not in entries["vae:best‡"]  # the highest value, never bold
        assert entries["vae:expected"].startswith("**"), row  # the best deployable column
        assert not entries["vae:best‡"].endswith((UP, DOWN))  # not tested
    ranks = md.split("## Ranks", 1)[1]
    assert "vae:best" not in ranks.split("_Friedman", 1)[0]
    assert "Oracles (bounds, not ranked): vae:best." in ranks
    assert drawn and all("vae:best" not in names for names in drawn)  # CD diagram
    assert [v.best.name for v in report.verdicts] == ["vae:expected"]
    assert "d, AUC (elbo): vae:expected is best" in md
    (section,) = rank_tests(build_tables(oracle_records))
    assert "vae:best" not in [c.name for c in section.columns]


def test_an_option_brings_oracles_in(oracle_records, tmp_path, capsys):
    from anobench.cli import main

    run = write_run(tmp_path / "a", oracle_records, reps=8, scores=False,
                    report="[report]\noracles = true")
    report = build_report(run, figures=False)
    assert report.options.oracles and report.verdicts[0].best.name == "vae:best"
    md = write_report(run, figures=False)
    assert re.search(r"\| *1 *\| *vae:best‡ *\|", md.split("## Ranks", 1)[1])
    assert _row_cells(md, "d: AUC, measure: elbo")["0"]["vae:best‡"].startswith("**")
    other = write_run(tmp_path / "b", oracle_records, reps=8, scores=False)
    assert main(["report", str(other), "--no-figures", "--oracles"]) == 0
    assert "d, AUC (elbo): vae:best is best" in capsys.readouterr().out
    assert rank_tests(build_tables(oracle_records), oracles=True)[0].columns[1].name == "vae:best"


# ------------------------------------------------------------------ item 3: verdicts

def _verdict_value(col, c, rep):
    base = 0.80 + 0.01 * c + _wiggle("x", c, rep)
    return {"ed-vae": base + 0.02 + 0.001 * rep, "pca": base - 0.05}.get(col, base)


def _verdict_lines(md: str) -> list[str]:
    block = md.split("## Verdicts\n", 1)[1].split("\n## ", 1)[0]
    return [ln[2:] for ln in block.splitlines() if ln.startswith("* ")]


def test_report_opens_with_a_verdict_per_dataset_metric_and_measure(tmp_path):
    cols = {**VAE, "pca": {"model": "p"}}
    recs = make_records(_verdict_value, cols, classes=DIGITS_CLASSES, reps=8)
    md = write_report(write_run(tmp_path, recs, reps=8, scores=False), figures=False)
    assert re.findall(r"^## .*", md, re.M)[0] == "## Verdicts"  # the first section
    lines = _verdict_lines(md)
    assert len(lines) == 2 and lines[0].startswith("d, AUC (elbo): ed-vae is best with a mean of")
    assert "over the runner-up vae" in lines[0]
    assert ("significantly better than vae in every one of the 3 classes (8 paired repetitions "
            "per class, Holm over 3 classes: corrected p ≤ 0.0234; r_rb = +1.00)") in lines[0]


def test_no_verdict_where_the_data_cannot_support_one_and_why(tmp_path):
    cols = {**VAE, "pca": {"model": "p"}}
    recs = make_records(_verdict_value, cols, classes=DIGITS_CLASSES, reps=3)
    md = write_report(write_run(tmp_path / "few", recs, reps=3, scores=False), figures=False)
    line = _verdict_lines(md)[0]
    assert line.startswith("d, AUC (elbo): no verdict: ed-vae has the highest mean")
    assert "3 paired repetition(s) per class and 3 classes are too few for a test" in line
    one = make_records(_verdict_value, {"pca": {"model": "p"}}, classes=(0,), reps=8)
    md = write_report(write_run(tmp_path / "one", one, reps=8, scores=False), figures=False)
    assert "no verdict: only one deployable column" in _verdict_lines(md)[0]


def test_verdict_across_classes_with_enough_classes(tmp_path):
    recs = make_records(_verdict_value, VAE, classes=range(10), reps=2, metrics=("roc_auc",))
    md = write_report(write_run(tmp_path, recs, reps=2, scores=False), figures=False)
    (line,) = _verdict_lines(md)
    assert ("significantly better than vae across classes (Wilcoxon signed-rank on 10 class "
            "means, p = 0.0020, one test, uncorrected; r_rb = +1.00") in line


# ------------------------------------------------------------------ item 4: what repetitions vary

SUITE_TEXT = """
[suite]
name = "synthetic"
repetitions = 8
{suite}

[[datasets]]
name = "d"
{d}

[[datasets]]
name = "e"
{e}

[[detectors]]
name = "pca"
"""


def _fixed_value(col, c, rep):  # pca: deterministic on a fixed test set; the VAE is not
    return 0.9 + 0.01 * c + (0.0 if col == "pca" else _wiggle(col, c, rep))


def _note_of(md: str, title: str) -> str:
    return md.split(f"### {title}\n", 1)[1].split("\n\n_", 1)[1].split("_\n", 1)[0]


def test_footnotes_say_what_the_repetitions_resample(tmp_path):
    cols = {**VAE, "pca": {"model": "p"}}
    recs = [r for ds in "de" for r in make_records(_fixed_value, cols, classes=range(2), reps=8,
                                                   dataset=ds, metrics=("roc_auc",))]
    # a fixed test set for both datasets: once, in the legend
    text = SUITE_TEXT.format(suite='anomalies = "all"', d="", e="")
    md = write_report(write_run(tmp_path / "all", recs, reps=8, scores=False, suite_text=text),
                      figures=False)
    legend = md.split("## Tables", 1)[1].split("###", 1)[0]
    assert "only the training seed varies" in legend
    assert "Deterministic (the same value in every repetition, SEM 0): pca" in legend
    # each dataset its own setting: said under each table
    text = SUITE_TEXT.format(suite="anomaly_ratio = 0.2", d='anomalies = "all"', e="")
    md = write_report(write_run(tmp_path / "mixed", recs, reps=8, scores=False,
                                suite_text=text), figures=False)
    assert "only the training seed varies" in _note_of(md, "d: AUC, measure: elbo")
    assert "both the anomaly draw and the training seed vary" in _note_of(
        md, "e: AUC, measure: elbo")


def test_two_deterministic_columns_are_not_tested_per_class(tmp_path):
    cols = {"pca": {"model": "p"}, "knn": {"model": "k"}}
    recs = make_records(lambda col, c, rep: 0.9 + (0.01 if col == "knn" else 0.0), cols,
                        classes=range(2), reps=8, metrics=("roc_auc",))
    run = write_run(tmp_path, recs, reps=8, scores=False, report='[report]\nreference = "pca"')
    md = write_report(run, figures=False, overrides={"pairs": [["knn", "pca"]]})
    assert not re.search(rf"\d[{UP}{DOWN}]", md.split("## Paired", 1)[0])  # knn: 8/8 'wins'
    assert "both deterministic: no test" in md
    assert "no verdict: knn has the highest mean" in md and "both are deterministic" in md


# ------------------------------------------------------------------ item 5: footnotes vs marks

ANY_MARK = f"[{UP}{DOWN}†]"  # † was the mark before issue 18


def contradictions(md: str) -> list[str]:
    """Every place where a table's legend or footnote says something its marks contradict."""
    out = []
    legend = ""
    if "\n## Tables\n" in md:
        head = md.split("\n## Tables\n", 1)[1].split("\n### ", 1)[0]
        legend = " ".join(ln for ln in head.splitlines() if ln.startswith("* "))
    for chunk in md.split("\n### ")[1:]:
        title, _, rest = chunk.partition("\n")
        rows = [ln for ln in rest.strip().splitlines() if ln.startswith("|")]
        if not rows or not rows[0].startswith("| class"):
            continue  # not a result table
        note = rest.split("\n\n_", 1)[1].split("_\n", 1)[0] if "\n\n_" in rest else ""
        said = f"{legend} {note}"
        body = [[c.strip() for c in ln.strip("|").split("|")] for ln in rows[2:]]
        class_marks = [c for r in body[:-1] for c in r[1:] if re.search(ANY_MARK + "$", c)]
        mean_marks = [c for c in body[-1][1:] if re.search(ANY_MARK + "$", c)]
        if (NO_CLASS_MARKS in said or NO_CLASS_TESTS in said) and class_marks:
            out.append(f"{title}: says no class can carry a mark, shows {class_marks}")
        if NO_MEAN_TEST in said and mean_marks:
            out.append(f"{title}: says the mean row is not tested, shows {mean_marks}")
        if NO_REFERENCE in said and class_marks + mean_marks:
            out.append(f"{title}: says there is no reference, shows marks")
        if (class_marks or mean_marks) and f"{UP} significantly better / {DOWN} significantly " \
                "worse than the reference" not in said:
            out.append(f"{title}: marks without a legend for them")
    return out


def _one_tested_class(col, c, rep):
    """ed-vae differs from vae in class 0 only: the correction family has one class."""
    base = 0.8 + 0.01 * c + 0.001 * rep
    return base + (0.01 + 0.001 * rep if col == "ed-vae" and c == 0 else 0.0)


def _property_runs(root: Path) -> list[Path]:
    runs = []
    for ref in sorted(p for p in REFERENCE.iterdir() if (p / "records.jsonl").is_file()):
        dest = root / ref.name
        dest.mkdir(parents=True)
        for f in ("meta.json", "records.jsonl"):
            shutil.copy(ref / f, dest / f)
        runs.append(dest)
    specs = [(_one_tested_class, VAE, range(10), 6), (_bad_value, {**VAE, "bad": {"model": "b"}},
                                                      DIGITS_CLASSES, 8),
             (_verdict_value, VAE, range(4), 3)]
    for i, (value, cols, classes, reps) in enumerate(specs):
        recs = make_records(value, cols, classes=classes, reps=reps, metrics=("roc_auc",))
        runs.append(write_run(root / f"synthetic-{i}", recs, reps=reps, scores=False))
    return runs


def test_no_footnote_contradicts_a_mark(tmp_path):
    """Over every stored reference run and synthetic edge cases (one of them used to say
    'no class can be marked' above a marked class: the floor counted all 10 rows while the
    correction family held the one class that differed)."""
    runs = _property_runs(tmp_path)
    assert len(runs) >= 4 + 3
    marked = 0
    for run in runs:
        md = write_report(run, figures=False)
        assert contradictions(md) == [], run.name
        marked += bool(re.search(rf"\d{ANY_MARK}", md.split("## Paired", 1)[0]))
    assert marked >= 4  # the property is tested on tables that do carry marks


def test_the_one_tested_class_is_marked_and_the_footnote_agrees(tmp_path):
    recs = make_records(_one_tested_class, VAE, classes=range(10), reps=6, metrics=("roc_auc",))
    md = write_report(write_run(tmp_path, recs, reps=6, scores=False), figures=False)
    assert _row_cells(md, "d: AUC, measure: elbo")["0"]["ed-vae"].endswith(UP)
    assert NO_CLASS_MARKS not in md and contradictions(md) == []


def test_common_footnote_text_is_stated_once_as_a_legend():
    for ref in sorted(p for p in REFERENCE.iterdir() if (p / "report.md").is_file()):
        md = build_md(ref)
        tables = md.count("\n| class ")
        assert tables > 1
        assert md.count("mean ± SEM over") == 1, ref.name  # once, in the legend
        assert md.count(f"{UP} significantly better / {DOWN} significantly worse") <= 1, ref.name


def build_md(ref: Path) -> str:
    from anobench.report.markup import to_markdown

    return to_markdown(build_report(ref, figures=False).blocks)


# ------------------------------------------------------------------ item 6: partial runs

def test_a_partial_run_says_n_of_n_cells_and_which_are_missing(tmp_path, capsys):
    from anobench.cli import main

    cols = {**VAE, "pca": {"model": "p"}}
    full = make_records(_verdict_value, cols, classes=DIGITS_CLASSES, reps=8,
                        metrics=("roc_auc",))
    planned = list(dict.fromkeys(r["cell"] for r in full))
    kept = [r for r in full if not (r["normal"] == "8" and r["repetition"] >= 5
                                    and r["model"] == "m")]
    run = write_run(tmp_path, kept, reps=8, scores=False, meta={"planned_cells": planned})
    md = write_report(run, figures=False)
    state = ("INCOMPLETE: 45 of 48 cells finished, 0 failed, 3 missing (d/8/5/m, d/8/6/m, "
             "d/8/7/m)")  # the last class's last three repetitions of one model
    assert state in md.split("## Verdicts", 1)[0]  # at the top
    html = (run / "report.html").read_text()
    assert state in html.split("<h2>", 1)[0] and 'class="warn"' in html
    assert re.search(r"\| d +\| +8 \| 5 of 8 \|", md)  # the paired test on incomplete pairs
    assert "Incomplete (fewer than the 8 planned repetitions" in md
    assert "(on incomplete data" in _verdict_lines(md)[0]
    assert main(["report", str(run), "--no-figures"]) == 0
    assert state in capsys.readouterr().out


def test_an_interrupted_run_reports_what_it_lacks(tiny_suite, registry, tmp_path):
    from anobench.runner import run_suite
    from anobench.store import read_meta
    from anobench.suite import load_suite

    suite = load_suite(tiny_suite, registry)
    seen = []

    def stop_after_two(cell):
        seen.append(cell)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), open(tmp_path / "log", "w") as log:
        run_suite(suite, registry, results_root=tmp_path, on_cell=stop_after_two, stream=log)
    assert "interrupted: 2 of 4 cells stored (0 of them failed), 2 missing" in (
        tmp_path / "log").read_text()
    (run,) = (tmp_path / "tiny").iterdir()
    planned = read_meta(run)["planned_cells"]
    assert [c.rsplit("/", 1)[0] for c in planned] == ["digits/0/0", "digits/0/1", "digits/3/0",
                                                      "digits/3/1"]
    md = write_report(run, figures=False)
    assert (f"INCOMPLETE: 2 of 4 cells finished, 0 failed, 2 missing ({planned[2]}, "
            f"{planned[3]})") in md.split("## Verdicts", 1)[0]
    # --resume of a run made before planned_cells was stored adds them
    meta = json.loads((run / "meta.json").read_text())
    del meta["planned_cells"]
    (run / "meta.json").write_text(json.dumps(meta))
    assert build_report(run, figures=False).state.complete is None  # not known
    with open(tmp_path / "log2", "w") as log:
        run_suite(suite, registry, results_root=tmp_path, resume=run, stream=log)
    assert read_meta(run)["planned_cells"] == planned
    assert "4 of 4 planned cell(s) finished with results, 0 failed" in write_report(
        run, figures=False)
    assert "INCOMPLETE" not in write_report(run, figures=False)
