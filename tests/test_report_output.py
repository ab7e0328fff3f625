"""Issue 18: what a reader sees — the terminal, the quick suite's first statistics, the HTML
page and the figures. Each test failed before the change it covers."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _synthetic_runs import make_records, write_run

from anobench.cli import main
from anobench.report import figures, plots
from anobench.report import write_report

REPO = Path(__file__).resolve().parent.parent
VAE = {"vae": {"rule": "single", "measure": "elbo", "model": "m"},
       "ed-vae": {"rule": "expected", "measure": "elbo", "model": "m"},
       "pca": {"model": "p"}}


def _value(col, c, rep):
    return 0.8 + 0.01 * c + 0.002 * rep + {"ed-vae": 0.02, "pca": -0.05}.get(col, 0.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    recs = make_records(_value, VAE, classes=range(3), reps=8)
    return write_run(tmp_path_factory.mktemp("out"), recs, reps=8)


# ------------------------------------------------------------------ item 8: the terminal

def test_report_prints_state_verdicts_and_paths_not_the_tables(run, capsys):
    assert main(["report", str(run), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Run state: ")
    assert "Verdicts:\n  * d, AUC (elbo): ed-vae is best" in out
    assert f"Report: {run / 'report.md'}, {run / 'report.html'}" in out
    assert "| class" not in out and "### " not in out and len(out) < 3000
    assert main(["report", str(run), "--no-figures", "--tables"]) == 0
    full = capsys.readouterr().out
    assert full.startswith("# anobench report") and "| class" in full
    assert full.strip() == (run / "report.md").read_text().strip()


def test_run_prints_the_same_short_report(tiny_suite, tmp_path, capsys):
    assert main(["run", str(tiny_suite), "--results", str(tmp_path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Run state: Complete: 4 of 4 cells finished.")
    assert "digits, AUC: no verdict: only one deployable column" in out
    assert "| class" not in out and "report.html" in out


# ------------------------------------------------------------------ item 11: the quick suite

def test_the_readmes_first_command_can_show_a_significance_test(registry):
    """3 repetitions could never give a test (n=3<6); the quick suite must allow one per class
    after Holm's correction over its classes."""
    from anobench.report.statistics import min_pairs, smallest_corrected_p
    from anobench.suite import load_suite

    readme = (REPO / "README.md").read_text()
    first = re.search(r"```bash\n(.*?)\n```", readme, re.S).group(1)
    assert first.rstrip().endswith("anobench run suites/quick.toml")
    suite = load_suite(REPO / "suites" / "quick.toml", registry)
    (entry,) = suite.datasets
    reps, classes = suite.repetitions, len(entry.classes)
    assert reps >= min_pairs(0.05)
    assert smallest_corrected_p(reps, classes, "holm") < 0.05


@pytest.mark.slow
def test_the_quick_suite_reports_real_tests(tmp_path, capsys):
    """Runs suites/quick.toml (about a minute on 2 idle cores) and reads its verdicts."""
    assert main(["run", str(REPO / "suites" / "quick.toml"), "--results", str(tmp_path),
                 "--no-figures"]) == 0
    out = capsys.readouterr().out
    verdicts = [ln for ln in out.splitlines() if ln.startswith("  * ")]
    assert verdicts and not any("too few for a test" in v for v in verdicts)
    assert all("p = " in v or "p ≤ " in v for v in verdicts), verdicts
    (run,) = (tmp_path / "quick").iterdir()
    md = (run / "report.md").read_text()
    assert re.search(r"\d[▲▼]", md)  # marks in the tables
    assert "n=8" not in md or "no test" not in md.split("## Summary", 1)[1].split("##", 1)[0]


# ------------------------------------------------------------------ item 12: HTML and figures

def test_figure_names_are_readable_and_distinct():
    assert figures.figure_name("cd", "roc_auc", "elbo") == "cd-roc_auc-elbo"
    assert figures.figure_name("curves", "fashion-mnist", "3", "0") == "curves-fashion-mnist-3-0"
    odd = [figures.figure_name("rules", "d", x) for x in ("vae:single", "vae_single", "vae single",
                                                        "vae/single")]
    assert len(set(odd)) == 4 and all(re.fullmatch(r"[A-Za-z0-9._+=-]+", n) for n in odd)
    assert odd[1] == "rules-d-vae_single"


def test_report_figures_have_no_escape_residue(run):
    md = write_report(run)
    names = [Path(f).name for f in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)]
    assert "cd-roc_auc-elbo.png" in names
    assert names and not any(re.search(r"_[0-9a-f]{2}", n) for n in names), names


def _tick_label_overlaps(fig) -> list[tuple[str, str]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    out = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in labels]
        for i in range(len(boxes) - 1):
            if boxes[i].overlaps(boxes[i + 1]):
                out.append((labels[i].get_text(), labels[i + 1].get_text()))
    return out


def test_rule_plot_labels_do_not_overlap(tmp_path, monkeypatch):
    captured = []
    real = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, stem: captured.append(fig) or real(fig, stem))
    rules = ["expected", "single", "multi", "min", "max", "best", "worst", "iwae"]
    m = np.full((10, len(rules)), 0.9)
    plots.rules_per_class([str(c) for c in range(10)], rules, m, m * 0.01, tmp_path / "r",
                          ylabel="AUC")
    assert _tick_label_overlaps(captured[0]) == []


def test_default_curves_show_an_informative_cell(tmp_path):
    def value(col, c, rep):  # class 0: everything perfect; class 2 rep 3: columns far apart
        if c == 0:
            return 1.0
        spread = 0.3 if (c, rep) == (2, 3) else 0.05
        return 0.9 - {"pca": spread, "vae": spread / 2}.get(col, 0.0) + 0.001 * rep

    run = write_run(tmp_path, make_records(value, VAE, classes=range(3), reps=6), reps=6)
    md = write_report(run)
    assert "![curves-d-2-3]" in md
    cap = md.split("![curves-d-2-3]", 1)[1].split("\n\n", 2)[1]
    assert "normal class 2, repetition 3" in cap
    assert "Chosen by default as the cell of d whose columns' AUC differ most (from 60.3 to " \
           "90.3)" in cap


def test_wide_tables_keep_the_first_column_and_header_in_view(run):
    write_report(run, figures=False)
    page = (run / "report.html").read_text()
    css = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert ".wrap thead th{position:sticky;top:0" in css
    assert ".wrap td:first-child,.wrap th:first-child{position:sticky;left:0" in css
    assert '<div class="wrap"><table class="total">\n<thead>' in page
