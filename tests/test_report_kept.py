"""A render without figures keeps the figures already made (issue 18 item 7)."""
from __future__ import annotations

import re

from _synthetic_runs import make_records, write_run

from anobench.cli import main

COLS = {"vae": {"rule": "single", "measure": "elbo", "model": "v"},
        "ed-vae": {"rule": "expected", "measure": "elbo", "model": "v"}}


def _run(tmp_path):
    recs = make_records(lambda col, c, r: 0.8 + 0.01 * c + 0.003 * r + 0.02 * (col == "ed-vae"),
                        COLS, classes=range(2), reps=6, metrics=("roc_auc",))
    return write_run(tmp_path, recs, reps=6)


def _figures(run):
    html = (run / "report.html").read_text()
    md = (run / "report.md").read_text()
    return html.count("<img "), sorted(re.findall(r"\]\((figures/[^)]+\.png)\)", md))


def test_no_figures_keeps_the_figures_already_made(tmp_path, capsys):
    run = _run(tmp_path)
    assert main(["report", str(run)]) == 0
    n_img, links = _figures(run)
    assert n_img >= 2 and len(links) == n_img  # CD diagram, rules per class, curves
    files = {p: (run / p).read_bytes() for p in links}

    assert main(["report", str(run), "--no-figures", "--tables"]) == 0
    out = capsys.readouterr().out
    assert _figures(run) == (n_img, links)  # before issue 18: 0 images, no links
    assert {p: (run / p).read_bytes() for p in links} == files
    assert "not redrawn now" in out and "same records and options" in out

    # other options than the figures were drawn with: kept, but said to be possibly stale
    assert main(["report", str(run), "--no-figures", "--alpha", "0.1", "--tables"]) == 0
    out = capsys.readouterr().out
    assert _figures(run) == (n_img, links) and "may not match" in out


def test_figures_of_a_report_written_before_the_index_are_kept(tmp_path, capsys):
    run = _run(tmp_path)
    assert main(["report", str(run)]) == 0
    n_img, links = _figures(run)
    (run / "figures" / "index.json").unlink()  # as a report written by an older anobench
    (run / links[0]).unlink()  # a figure the user removed stays removed, and is said to be
    assert main(["report", str(run), "--no-figures", "--tables"]) == 0
    out = capsys.readouterr().out
    assert _figures(run) == (n_img - 1, links[1:])
    assert "linked from the previous report.md" in out and "1 figure(s)" in out


def test_a_run_without_figures_gets_none(tmp_path, capsys):
    run = _run(tmp_path)
    assert main(["report", str(run), "--no-figures", "--tables"]) == 0
    assert _figures(run) == (0, []) and "## Figures" not in capsys.readouterr().out
