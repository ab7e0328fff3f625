"""Synthetic result records and run directories for report tests."""
from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable

import numpy as np

from anobench.scores import save_scores

SUITE = """
[suite]
name = "synthetic"
repetitions = {reps}

[[datasets]]
name = "digits"

[[detectors]]
name = "pca"
{report}
"""


def make_records(value: Callable[[str, int, int], float], columns: dict[str, dict],
                 classes=range(10), reps=10, dataset="d", metrics=("roc_auc", "pr_auc"),
                 ) -> list[dict]:
    """Result records; ``columns``: name -> {rule, measure, model, grid} fields."""
    out = []
    for c in classes:
        for rep in range(reps):
            for col, f in columns.items():
                model = f.get("model", col)
                cell = f"{dataset}/{c}/{rep}/{model}"
                for m in metrics:
                    out.append(dict(kind="result", cell=cell, dataset=dataset, normal=str(c),
                                    repetition=rep, column=col, detector=col.split(":")[0],
                                    rule=f.get("rule"), measure=f.get("measure"), metric=m,
                                    value=float(value(col, c, rep)), model=model,
                                    grid=f.get("grid", {}), params={}))
    return out


def write_run(root: Path, records: list[dict], *, report: str = "", reps: int = 10,
              name: str = "synthetic", scores: bool = True, suite_text: str | None = None,
              meta: dict | None = None) -> Path:
    """A run directory holding meta.json, records.jsonl (with cell markers) and scores.

    ``suite_text`` replaces the stored suite text; ``meta`` adds fields to meta.json
    (e.g. ``planned_cells``).
    """
    run = Path(root) / name / "20260101-000000"
    run.mkdir(parents=True)
    text = SUITE.format(reps=reps, report=report) if suite_text is None else suite_text
    meta = {"suite_name": name, "suite_path": f"{name}.toml", "suite_sha256": str(hash(text)),
            "suite_text": text, "code_version": "test", "device": "cpu",
            "started": "2026-01-01T00:00:00", **(meta or {})}
    (run / "meta.json").write_text(json.dumps(meta))
    cells: dict[str, list[dict]] = {}
    for r in records:
        cells.setdefault(r["cell"], []).append(r)
    rng = np.random.default_rng(0)
    with open(run / "records.jsonl", "w") as fh:
        for cell, recs in cells.items():
            if scores:
                y = np.r_[np.zeros(40), np.ones(10)].astype(int)
                entries = [(r["column"], r["measure"], rng.normal(size=50) + 2 * y)
                           for r in recs if r["metric"] == recs[0]["metric"]]
                save_scores(run, cell, y, entries)
            for r in recs:
                fh.write(json.dumps(r) + "\n")
            fh.write(json.dumps({"kind": "cell", "cell": cell, "status": "ok"}) + "\n")
    return run
