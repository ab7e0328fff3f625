"""Full reports from a run directory: report.md, self-contained report.html, LaTeX."""
from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _synthetic_runs import make_records, write_run

from anobench.report import build_report, write_report
from anobench.errors import AnobenchError

COLS = {
    "vae": {"rule": "single", "measure": "elbo", "model": "vae-1"},
    "ed-vae": {"rule": "expected", "measure": "elbo", "model": "vae-1"},
    "vae:multi": {"rule": "multi", "measure": "elbo", "model": "vae-1"},
    "pca": {},
}


def _value(col, c, rep):
    return 0.8 + 0.01 * c + 0.002 * rep + {"ed-vae": 0.02, "vae:multi": 0.01, "pca": -0.05}.get(
        col, 0.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    recs = make_records(_value, COLS, classes=range(4), reps=8)
    return write_run(tmp_path_factory.mktemp("runs"), recs, reps=8,
                     report='[report]\ncurves = ["d/2/1"]')


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.links = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.srcs.append(a.get("src", ""))
        if tag in ("a", "link", "script") and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src"))


@pytest.fixture(scope="module")
def written(run):
    text = write_report(run)
    return run, text


def test_report_md_links_figures_that_exist(written):
    run, text = written
    md = (run / "report.md").read_text()
    assert md == text
    figs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    kinds = {Path(f).name.split("-")[0] for f in figs}
    assert kinds == {"cd", "rules", "curves"}
    for f in figs + re.findall(r"\[SVG\]\(([^)]+)\)", md):
        path = run / f
        assert path.is_file() and path.stat().st_size > 1000, f
    assert "## Paired tests" in md and "ed-vae vs vae" in md and "## Ranks" in md


def test_report_html_embeds_every_figure(written):
    run, text = written
    page = (run / "report.html").read_text()
    parser = _Images()
    parser.feed(page)
    md_figs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(parser.srcs) == len(md_figs) >= 4
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert parser.links == []  # nothing external: one self-contained page
    assert "<table" in page and '<sup class="up">▲</sup>' in page


def test_marks_and_options_come_from_the_stored_suite(tmp_path):
    recs = make_records(_value, COLS, classes=range(4), reps=8)
    run = write_run(tmp_path, recs, reps=8, report='[report]\nreference = "pca"\nfigures = false')
    opts = build_report(run).options
    assert opts.reference == "pca" and not opts.figures
    text = write_report(run)
    assert "reference pca" in text and "## Figures" not in text
    assert not (run / "figures").exists()


def test_latex_format_writes_report_tex(written):
    run, _ = written
    tex = write_report(run, fmt="latex", figures=False)
    assert (run / "report.tex").read_text() == tex
    assert tex.count("\\begin{table}") == tex.count("\\end{table}") >= 4
    assert "$^{\\blacktriangle}$" in tex and "\\caption{" in tex
    assert "±" not in tex and "α" not in tex  # Unicode spelled out for LaTeX


def test_bad_columns_and_cells_are_one_line_errors(run):
    with pytest.raises(AnobenchError, match=r"reference: no column 'vea' in this run \(did you "
                                            r"mean 'vae'\?\)"):
        build_report(run, overrides={"reference": "vea"}, figures=False)
    with pytest.raises(AnobenchError, match=r"--pair: no column 'nope' in this run"):
        build_report(run, overrides={"pairs": [["ed-vae", "nope"]]}, figures=False)
    with pytest.raises(AnobenchError, match="no stored scores for cell 'd/9/0'"):
        build_report(run, overrides={"curves": ["d/9/0"]})


def test_not_a_run_directory(tmp_path):
    with pytest.raises(AnobenchError, match="not a run directory"):
        write_report(tmp_path)


def test_grid_pairs_get_one_row_per_grid_point(tmp_path):
    cols = {}
    for b in (0.0, 0.5, 1.0):
        for name, rule in (("vae", "single"), ("ed-vae", "expected")):
            cols[f"{name}[beta={b:g}]"] = {"rule": rule, "measure": "elbo", "model": f"m{b}",
                                           "grid": {"beta": b}}
    recs = make_records(lambda col, c, r: 0.8 + 0.001 * r + (0.02 if col[0] == "e" else 0),
                        cols, classes=range(6), reps=2, metrics=("roc_auc",))
    run = write_run(tmp_path, recs, reps=2, scores=False)
    text = write_report(run, figures=False)
    assert "### ed-vae vs vae per grid point: AUC, measure elbo" in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| [beta=")]
    assert [r.split("|")[1].strip() for r in rows] == ["[beta=0]", "[beta=0.5]", "[beta=1]"]
    # six class means, all better: exact p = 2/2**6; two repetitions: no per-class test
    assert all("0.0312" in r and r.rstrip(" |").endswith("–") for r in rows)


def test_summary_states_the_across_class_result(written):
    _, text = written
    summary = text.split("## Summary", 1)[1].split("## Tables", 1)[0]
    # 4 classes: too few class means for a test; 8 repetitions: per-class tests run
    assert "ed-vae vs vae, AUC (elbo), d:" in summary
    assert "W/T/L 4/0/0" in summary and "n=4<6: no test" in summary
    assert ("per class (corrected), ed-vae significantly better in 4 and significantly worse in "
            "0 of 4 tested classes" in summary)


def test_plain_text_names_the_mark_it_prints_for_bold(run):
    """Issue 8: --format plain prints `*` for bold, so its footnotes must say `*`, not bold."""
    plain = write_report(run, fmt="plain", figures=False)
    # (figure captions, kept from an earlier render of this run, say mean ± SEM too)
    notes = [ln for ln in plain.splitlines() if "mean ± SEM" in ln and not ln.startswith("Figure ")]
    assert notes and all("* = best per row" in ln and "bold" not in ln for ln in notes)
    assert "Pairwise Nemenyi post-hoc p-values (*: < α" in plain
    assert "bold" not in plain.lower()
    md = (run / "report.md").read_text()
    assert "bold = best per row" in md and "(bold: < α" in md


def test_stored_curves_without_scores_never_break_the_report(tmp_path):
    """Issue 10: a curve cell without stored scores made every later report fail."""
    recs = make_records(_value, COLS, classes=range(2), reps=6)
    for r in recs:
        r["class_name"] = ["zero", "one"][int(r["normal"])]
    run = write_run(tmp_path, recs, reps=6, report='[report]\ncurves = ["d/9/0", "d/one/1"]')
    text = write_report(run)
    assert "No ROC/PR curves for d/9/0: no stored scores for that cell." in text
    curves = re.findall(r"!\[(curves-[^\]]*)\]", text)
    assert curves == ["curves-d-1-1"]  # the class named "one" is class 1
    with pytest.raises(AnobenchError, match="no stored scores for cell 'd/9/0'"):
        write_report(run, overrides={"curves": ["d/9/0"]})  # asked for now: an error


def test_labels_cannot_inject_rows_and_slashes_do_not_break_figures(tmp_path):
    """Issue 10: a label with | or a line break injected table rows; a dataset label with /
    crashed the figures. (Suites refuse such labels now; stored runs may still hold them.)"""
    cols = {"odd|label\nsecond line": {"rule": "single", "measure": "elbo", "model": "m"},
            "ed-vae": {"rule": "expected", "measure": "elbo", "model": "m"}}
    recs = make_records(lambda col, c, rep: 0.8 + 0.01 * rep + 0.01 * (col == "ed-vae"), cols,
                        classes=range(2), reps=6, dataset="set|a/b")
    run = write_run(tmp_path, recs, reps=6, report='[report]\ncurves = ["set|a/b/1/0"]')
    md = write_report(run)
    unescaped = re.compile(r"(?<!\\)\|")
    table: list[str] = []
    for line in [*md.splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
        elif table:  # every row of a table has as many cells as its header
            assert len({len(unescaped.findall(row)) for row in table}) == 1, table
            table = []
    assert not any(line.startswith("second line") for line in md.splitlines())
    assert "odd\\|label second line" in md and "### set|a/b: AUC" in md
    figs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert any("curves" in f for f in figs) and all((run / f).is_file() for f in figs)
    tex = write_report(run, fmt="latex", figures=False)
    assert "odd|label second line" in tex and "label\nsecond" not in tex


def test_oracle_columns_are_marked_and_explained(tmp_path):
    """Records of oracle rules (best/worst) carry oracle: true; tables mark those columns."""
    cols = {"vae:single": {"rule": "single", "measure": "elbo", "model": "m"},
            "vae:expected": {"rule": "expected", "measure": "elbo", "model": "m"},
            "vae:best": {"rule": "best", "measure": "elbo", "model": "m"}}
    recs = make_records(_value, cols, classes=range(3), reps=6, metrics=("roc_auc",))
    for r in recs:
        if r["rule"] == "best":
            r["oracle"] = True
    run = write_run(tmp_path, recs, reps=6, scores=False)
    md = write_report(run, figures=False)
    header = next(ln for ln in md.splitlines() if ln.startswith("| class"))
    assert "vae:best‡" in header and "vae:single‡" not in header
    assert "‡ oracle (vae:best): chooses among the posterior samples with the labels" in md
    # a bound, not a detector: shown last, never bold, not ranked (issue 18 item 2) ...
    assert header.rstrip(" |").endswith("vae:best‡")
    assert not re.search(r"\| *vae:best‡ *\|", md.split("## Ranks", 1)[1])
    assert "Oracles (bounds, not ranked): vae:best." in md
    # ... unless asked: then ranked, and marked
    md = write_report(run, figures=False, overrides={"oracles": True})
    assert re.search(r"\| *vae:best‡ *\|", md.split("## Ranks", 1)[1])
    assert "vae:best<sup>‡</sup>" in (run / "report.html").read_text()
    assert "$^\\ddagger$" in write_report(run, fmt="latex", figures=False)
