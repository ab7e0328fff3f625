"""Per-cell scores: stored by the runner before the records, enough to redo the metrics."""
from __future__ import annotations

import numpy as np
import pytest

from anobench.metrics import roc_auc
from anobench.runner import run_suite
from anobench.scores import find_cell_scores, load_scores, safe_cell_id, save_scores, scores_path
from anobench.store import read_records
from anobench.suite import load_suite


def test_round_trip_and_safe_names(tmp_path):
    cell = "mnist/3+5/0/vae[beta=0.5]-abc"
    y = np.array([0, 0, 1, 1])
    path = save_scores(tmp_path, cell, y, [("vae", "elbo", [1, 2, 3, 4]), ("pca", None, [4, 3, 2, 1])])
    assert path == scores_path(tmp_path, cell)
    assert "/" not in path.name and "[" not in path.name and safe_cell_id(cell) in path.name
    got = load_scores(path)
    assert got.cell == cell and got.labels.tolist() == [0, 0, 1, 1]
    assert got.scores[("vae", "elbo")].dtype == np.float32
    assert got.scores[("pca", None)].tolist() == [4, 3, 2, 1]
    assert [c.cell for c in find_cell_scores(tmp_path, "mnist", "3+5", 0)] == [cell]
    assert find_cell_scores(tmp_path, "mnist", "3+5", 1) == []


def test_runner_stores_scores_for_every_finished_cell(tmp_path, tiny_suite, registry):
    suite = load_suite(tiny_suite, registry)
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path, stream=open("/dev/null", "w"))
    assert failed == 0
    recs = read_records(run_dir)
    cells = {r["cell"] for r in recs}
    assert cells
    for cell in cells:
        stored = load_scores(scores_path(run_dir, cell))
        rec = next(r for r in recs if r["cell"] == cell and r["metric"] == "roc_auc")
        assert len(stored.labels) == rec["n_test"] and stored.labels.sum() == rec["n_anomalies"]
        scores = stored.scores[(rec["column"], rec["measure"])]
        assert roc_auc(stored.labels, scores.astype(np.float64)) == pytest.approx(rec["value"],
                                                                                abs=1e-6)
