"""`anobench report` and `anobench compare`: output files and bad input (exit 2, one line)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _synthetic_runs import make_records, write_run

from anobench.cli import main

COLS = {"vae": {"rule": "single", "measure": "elbo", "model": "v"},
        "ed-vae": {"rule": "expected", "measure": "elbo", "model": "v"}, "pca": {}}


def _value(col, c, rep):
    return 0.8 + 0.01 * c + 0.001 * rep + (0.02 if col == "ed-vae" else 0.0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    recs = make_records(_value, COLS, classes=range(6), reps=6, metrics=("roc_auc",))
    a = write_run(root / "a", recs, reps=6, scores=False)
    b = write_run(root / "b", [dict(r, value=r["value"] - 0.01 * (r["column"] == "pca"))
                               for r in recs], reps=6, scores=False)
    other = write_run(root / "c", recs, reps=6, name="other", scores=False)
    return a, b, other


def _err(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("anobench: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_report_writes_md_and_html_and_prints_markdown(runs, capsys):
    a = runs[0]
    assert main(["report", str(a), "--no-figures", "--tables"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# anobench report: synthetic")
    assert (a / "report.md").is_file() and (a / "report.html").is_file()
    assert "| ed-vae" in out or "ed-vae " in out
    assert main(["report", str(a), "--no-figures", "--format", "latex", "--tables"]) == 0
    assert "\\begin{table}" in capsys.readouterr().out and (a / "report.tex").is_file()


def test_report_overrides(runs, capsys):
    assert main(["report", str(runs[0]), "--no-figures", "--tables", "--reference", "pca",
                 "--pair", "vae", "pca", "--alpha", "0.1", "--metric", "roc_auc"]) == 0
    out = capsys.readouterr().out
    assert "reference pca" in out and "vae vs pca" in out and "α = 0.1" in out


def test_report_bad_input(runs, capsys, tmp_path):
    a = runs[0]
    err = _err(capsys, ["report", str(a), "--reference", "ed_vae"])
    assert "no column 'ed_vae' in this run (did you mean 'ed-vae'?)" in err
    err = _err(capsys, ["report", str(a), "--pair", "ed-vae", "kpca"])
    assert "no column 'kpca'" in err
    assert "must be in (0, 0.5]" in _err(capsys, ["report", str(a), "--alpha", "0.9"])
    assert "not a run directory" in _err(capsys, ["report", str(tmp_path)])
    assert "--curves: expected 'dataset/class/repetition', got 'd/0'" in _err(
        capsys, ["report", str(a), "--curves", "d/0"])
    assert "no stored scores for cell 'd/0/0'" in _err(capsys, ["report", str(a), "--curves",
                                                                "d/0/0"])


def test_bad_report_table_in_stored_suite(tmp_path, capsys):
    recs = make_records(_value, COLS, classes=range(2), reps=2, metrics=("roc_auc",))
    run = write_run(tmp_path, recs, reps=2, report='[report]\nalfa = 0.1', scores=False)
    assert "report.alfa: unknown key (did you mean 'alpha'?)" in _err(capsys, ["report", str(run)])


def test_compare_same_suite(runs, capsys):
    a, b, _ = runs
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    pca = next(ln for ln in out.splitlines() if ln.startswith("| pca"))
    assert "+1.00" in pca and "6/0/0" in pca and "0.0312" in pca  # exact p = 2/2**6
    vae = next(ln for ln in out.splitlines() if ln.startswith("| vae"))
    assert "0/6/0" in vae and "identical" in vae


def test_compare_refuses_different_suites_unless_allowed(runs, capsys):
    a, _, other = runs
    err = _err(capsys, ["compare", str(a), str(other)])
    assert "different suites ('synthetic' vs 'other')" in err and "--allow-different-suites" in err
    assert main(["compare", str(a), str(other), "--allow-different-suites"]) == 0
    assert "runs of different suites" in capsys.readouterr().out


def test_compare_without_common_columns(runs, tmp_path, capsys):
    recs = make_records(_value, {"kpca": {}}, classes=range(2), reps=2, metrics=("roc_auc",))
    run = write_run(tmp_path, recs, reps=2, scores=False)
    assert "nothing to compare" in _err(capsys, ["compare", str(runs[0]), str(run)])


def test_real_entry_point_prints_one_line_without_traceback(runs):
    proc = subprocess.run([sys.executable, "-m", "anobench", "compare", str(runs[0]),
                           str(runs[2])], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    meta = json.loads((runs[0] / "meta.json").read_text())
    assert meta["suite_name"] == "synthetic"


def test_unknown_or_absent_metric_is_an_error_and_the_report_stays(runs, capsys):
    """Issue 10: `--metric auc` once replaced report.md with an empty report."""
    a = runs[0]
    assert main(["report", str(a), "--no-figures"]) == 0
    capsys.readouterr()
    before = (a / "report.md").read_bytes(), (a / "report.html").read_bytes()
    err = _err(capsys, ["report", str(a), "--metric", "auc"])
    assert "--metric: unknown metric 'auc' (did you mean 'roc_auc'?)" in err
    err = _err(capsys, ["report", str(a), "--metric", "pr_auc"])
    assert "--metric: metric 'pr_auc' is not in this run; stored: roc_auc" in err
    assert ((a / "report.md").read_bytes(), (a / "report.html").read_bytes()) == before


def test_a_run_without_results_never_replaces_an_existing_report(tmp_path, capsys):
    recs = make_records(_value, COLS, classes=range(2), reps=2, metrics=("roc_auc",))
    run = write_run(tmp_path, recs, reps=2, scores=False)
    failed = [json.dumps({"kind": "error", "cell": "d/0/0/v", "error": "boom"}),
              json.dumps({"kind": "cell", "cell": "d/0/0/v", "status": "error"})]
    (run / "records.jsonl").write_text("\n".join(failed) + "\n")  # every cell failed
    assert main(["report", str(run), "--no-figures"]) == 0  # no report yet: write one
    assert "1 cell(s) failed: boom" in (run / "report.md").read_text()
    capsys.readouterr()
    (run / "report.md").write_text("an earlier report\n")
    err = _err(capsys, ["report", str(run), "--no-figures"])
    assert "no results stored yet" in err and "left as they are" in err
    assert (run / "report.md").read_text() == "an earlier report\n"
