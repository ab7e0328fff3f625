"""The GPU evidence script's parts that run anywhere: its suite and its summary."""
from __future__ import annotations

import io
import sys
from pathlib import Path

from anobench.runner import run_suite
from anobench.suite import load_suite, parse_suite

REPO = Path(__file__).resolve().parent.parent
GPU = REPO / "benchmarks" / "gpu"

TINY = """
[suite]
name = "slice"
repetitions = 2
[[datasets]]
name = "digits"
classes = [1]
[[detectors]]
name = "ae"
params = { latent_dim = 4, filters = 4, lr = 1e-3, batch_size = 32, max_epochs = 2, threads = 1 }
"""


def test_slice_suite_is_the_paper_schedule(registry):
    suite = load_suite(GPU / "slice.toml", registry)
    paper = load_suite(REPO / "suites" / "paper.toml", registry)
    assert suite.repetitions == paper.repetitions == 10
    assert [e.classes for e in suite.datasets] == [(2, 8)]
    neural = {d.name: d.params for d in paper.detectors if d.name in ("ae", "vae", "ed-vae")}
    assert {d.name: d.params for d in suite.detectors} == neural


def test_summary_reports_rates_speed_up_and_projection(registry, tmp_path, capsys, monkeypatch):
    suite = parse_suite(TINY, "slice.toml", registry)
    run_suite(suite, registry, results_root=tmp_path / "cohort", stream=io.StringIO())
    run_suite(suite, registry, results_root=tmp_path / "single", stream=io.StringIO(),
              cohort_size=1)
    monkeypatch.syspath_prepend(str(GPU))
    import summary

    monkeypatch.setattr(sys, "argv", ["summary.py", "--cohort", str(tmp_path / "cohort"), "10",
                                      "--single", str(tmp_path / "single"), "20",
                                      "--paper", str(REPO / "suites" / "paper.toml")])
    summary.main()
    out = capsys.readouterr().out
    assert "cohort : 2 models in 10 s = 0.200 models/s" in out
    assert "cohort sizes [2]" in out and "cohort sizes [1]" in out
    assert "speed-up (member-epochs/s, cohort over one at a time): 2.00x" in out
    assert "trains 600 neural models" in out
