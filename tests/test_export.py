"""`anobench export` and `anobench.load_run`: a run's results as one flat table (issue 18 item 9)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from _synthetic_runs import make_records, write_run
from test_cli import tree_digest

import anobench
from anobench.cli import main
from anobench.store import load_store

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference"
RUNS = sorted(p for p in REFERENCE.iterdir() if (p / "meta.json").is_file())
KEY = ["cell", "column", "measure", "metric"]  # a column is read as one or more measures


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_one_row_per_stored_result_of_every_reference_run(run):
    frame = anobench.load_run(run)
    stored = load_store(run).records()
    assert len(frame) == len(stored) > 0
    assert not frame.duplicated(KEY).any()
    by_key = {(r["cell"], r["column"], r["measure"], r["metric"]): r for r in stored}
    for row in frame.itertuples():
        rec = by_key[(row.cell, row.column, None if pd.isna(row.measure) else row.measure,
                      row.metric)]
        assert (row.value, row.dataset, row.normal, row.repetition, row.model_seed) == (
            rec["value"], rec["dataset"], rec["normal"], rec["repetition"], rec["seed"])
        assert row.fit_seconds == rec["fit_seconds"]  # not fit_info's "seconds" (info_seconds)
    assert frame["suite"].nunique() == 1 and set(frame["run"]) == {run.name}
    # every run derived its seeds from the suite seed as today: the other seeds are filled in
    assert frame["split_seed"].notna().all() and frame["draw_seed"].notna().all()


def _synthetic(tmp_path):
    cols = {f"vae[beta={b:g}]:{rule}": {"rule": rule, "measure": "elbo", "model": f"m{b}",
                                        "grid": {"beta": b}}
            for b in (0.5, 1.0) for rule in ("single", "best")}
    recs = make_records(lambda col, c, r: 0.7 + 0.01 * c + 0.001 * r, cols, classes=range(2),
                        reps=3, metrics=("roc_auc", "pr_auc"))
    for r in recs:
        r["fit_seconds"], r["fit_info"] = 2.5, {"seconds": 2.4, "epochs": 7,
                                                 "network": {"widths": [4, 2]}}
        if r["rule"] == "best":
            r.update(oracle=True, oracle_candidate=3)
    return write_run(tmp_path, recs, reps=3, scores=False), recs


def test_grid_oracle_and_fit_facts_are_columns(tmp_path):
    run, recs = _synthetic(tmp_path)
    frame = anobench.load_run(run)
    assert len(frame) == len(recs) == 2 * 3 * 4 * 2
    assert sorted(frame["grid_beta"].unique()) == [0.5, 1.0]
    best = frame[frame["rule"] == "best"]
    assert best["oracle"].all() and (best["oracle_candidate"] == 3).all()
    assert not frame[frame["rule"] == "single"]["oracle"].any()
    assert (frame["fit_seconds"] == 2.5).all() and (frame["info_seconds"] == 2.4).all()
    assert (frame["info_epochs"] == 7).all()
    assert json.loads(frame["info_network"].iloc[0]) == {"widths": [4, 2]}
    assert (frame["label"].iloc[0], frame["column"].iloc[0]) == ("vae", "vae[beta=0.5]:single")
    assert frame.groupby(["grid_beta", "rule", "metric"])["value"].mean().shape == (8,)


def test_csv_and_parquet_hold_what_load_run_holds_and_the_run_is_untouched(tmp_path, capsys):
    run, _ = _synthetic(tmp_path / "runs")
    before = tree_digest(run)
    frame = anobench.load_run(run)
    csv_path, pq_path = tmp_path / "r.csv", tmp_path / "r.parquet"
    assert main(["export", str(run), "-o", str(csv_path)]) == 0
    assert "48 row(s) of 12 finished cell(s)" in capsys.readouterr().err
    assert main(["export", str(run), "--format", "parquet", "-o", str(pq_path)]) == 0
    from_csv = pd.read_csv(csv_path, keep_default_na=True)
    pd.testing.assert_series_equal(from_csv["value"], frame["value"])  # every digit kept
    assert list(from_csv.columns) == list(frame.columns)
    assert from_csv["oracle"].tolist() == frame["oracle"].tolist()
    from_pq = pd.read_parquet(pq_path)
    pd.testing.assert_frame_equal(from_pq, frame, check_dtype=False)
    assert main(["export", str(run)]) == 0  # CSV on standard output
    assert capsys.readouterr().out == csv_path.read_text()
    assert tree_digest(run) == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "r.csv", "r.parquet", "runs"]


def _err(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("anobench: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_export_bad_input_is_one_line_and_nothing_is_overwritten(tmp_path, capsys, monkeypatch):
    run, _ = _synthetic(tmp_path / "runs")
    out = tmp_path / "mine.csv"
    out.write_text("the user's file")
    assert "not a run directory" in _err(capsys, ["export", str(tmp_path / "nope"), "-o",
                                                  str(tmp_path / "x.csv")])
    assert "not a run directory" in _err(capsys, ["export", str(tmp_path), "-o",
                                                  str(tmp_path / "x.csv")])
    assert "the file exists; --force replaces it" in _err(capsys, ["export", str(run), "-o",
                                                                   str(out)])
    assert out.read_text() == "the user's file"
    assert "no folder" in _err(capsys, ["export", str(run), "-o", str(tmp_path / "a" / "b.csv")])
    assert "no folder" in _err(capsys, ["export", str(run), "-o", str(out / "b.csv")])
    assert "a directory" in _err(capsys, ["export", str(run), "-o", str(tmp_path)])
    assert "give the file to write with -o" in _err(capsys, ["export", str(run), "--format",
                                                             "parquet"])
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if pyarrow were not installed
    err = _err(capsys, ["export", str(run), "--format", "parquet", "-o", str(tmp_path / "p.pq")])
    assert "needs pyarrow: pip install 'anobench[parquet]'" in err
    assert not (tmp_path / "p.pq").exists() and not list(tmp_path.glob("*.part"))
    monkeypatch.undo()
    assert main(["export", str(run), "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith("suite,run,dataset,")


def test_load_run_without_pandas_says_so(tmp_path, monkeypatch):
    run, _ = _synthetic(tmp_path)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(anobench.AnobenchError, match=r"needs pandas: pip install 'anobench\[pandas\]'"):
        anobench.load_run(run)


def test_failed_cells_are_counted_not_exported(tmp_path, capsys):
    run, _ = _synthetic(tmp_path)
    with open(run / "records.jsonl", "a") as fh:
        fh.write(json.dumps({"kind": "error", "cell": "d/9/0/m", "error": "boom"}) + "\n")
        fh.write(json.dumps({"kind": "cell", "cell": "d/9/0/m", "status": "error"}) + "\n")
    assert main(["export", str(run), "-o", str(tmp_path / "x.csv")]) == 0
    assert "1 failed cell(s) have no value and no row" in capsys.readouterr().err


def test_help_names_the_fields_and_the_rules(capsys):
    with pytest.raises(SystemExit) as e:
        main(["export", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert e.value.code == 0 and "--force" in out and "anobench.load_run" in out
    assert "never into the run directory" in out
