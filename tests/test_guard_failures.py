"""Every speed guard of `tox -e bench` can fail: a slowdown injected where its code path
calls it (``benchmarks/_slowdown.py``) trips that guard, in the bench's short mode.

Each case runs one benchmark in a subprocess (slow tier: ``tox -e slow``, ``.ci/run``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# (slowdown, benchmark -k, the guard that must fail, its threshold as printed)
# Each site burns CPU (the guards compare CPU time) several times what its path costs in the
# short mode, so the guard fails whatever the machine's load; jobs-dispatch waits instead (the
# overlap guard measures idle workers). The arithmetic per case:
CASES = [
    # 4 steps (512 images, batch 128, 1 epoch): +2 s of CPU on a trainer run of ~0.5 s
    ("trainer=0.5", "trainer_vs_plain", "trainer_over_plain_fused", "<= 1.2"),
    # 13 stacked batches x 2 epochs: +2.6 s of CPU on a cohort of ~1 s
    ("cohort=0.1", "cohort_vs_one_by_one", "cohort_over_one_by_one", "<= 0.8"),
    # 12 reductions (6 rules x 2 measures) against 2 for multi alone: +6 s against +1 s on
    # ~3 s of scoring (a posterior draw of 200 x 100 samples, metrics)
    ("rules=0.5", "all_rules_vs_multi", "all_rules_over_multi", "<= 1.15"),
    # 4 cells stored per runner run: +4 s of CPU on ~2 s of cells
    ("runner=1", "runner_overhead", "runner_over_bare", "<= 1.25"),
    # the driver waits 3 s before handing out each unit of ~1 s: one worker at a time
    ("jobs-dispatch=3", "jobs_keep_workers_busy", "jobs2_overlap", ">= 0.9"),
    # every unit in a worker process burns 3 s of CPU more than under --jobs 1
    ("jobs-cpu=3", "jobs_keep_workers_busy", "jobs2_cpu_over_jobs1", "<= 1.25"),
]


@pytest.mark.slow
@pytest.mark.parametrize("slowdown, k, name, bound", CASES, ids=[c[0].split("=")[0] for c in CASES])
def test_an_injected_slowdown_fails_its_guard(tmp_path, slowdown, k, name, bound):
    env = dict(os.environ, ANOBENCH_BENCH_SLOWDOWN=slowdown)
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "test_bench_guards.py"),
         "--benchmark-only", "--bench-mode", "short", "-k", k, "-q",
         "-p", "no:cacheprovider", f"--benchmark-json={out}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text[-3000:]
    assert f"bench guard {name}: median ratio" in text, text[-3000:]
    assert f"is not {bound.split()[0]} threshold {bound.split()[1]}" in text
    assert f"reproduce: tox -e bench -- -k {k}" in text
    # the ratio was measured and saved before the guard failed
    saved = json.loads(out.read_text())["benchmarks"][0]["extra_info"]
    threshold = float(bound.split()[1])
    assert saved[f"{name}_threshold"] == threshold
    assert (saved[name] > threshold) if bound.startswith("<=") else (saved[name] < threshold)
    print(f"{slowdown}: {name} = {saved[name]} (threshold {bound})")


def test_slowdown_spec_is_parsed_and_checked():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import _slowdown
    finally:
        sys.path.pop(0)
    assert _slowdown.parse("2") == {"trainer": 2.0}
    assert _slowdown.parse("rules=0.5, jobs-cpu=3") == {"rules": 0.5, "jobs-cpu": 3.0}
    assert _slowdown.parse("") == {}
    with pytest.raises(ValueError, match="unknown site 'nope'"):
        _slowdown.parse("nope=1")


def test_overlap_of_busy_intervals():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from _jobs import overlap, warm
    finally:
        sys.path.pop(0)
    side_by_side = [(1, 0.0, 2.0, 1.0), (2, 0.0, 2.0, 1.0), (1, 2.0, 4.0, 1.0), (2, 2.0, 4.0, 1.0)]
    assert overlap(side_by_side, 2) == pytest.approx(1.0)
    one_after_other = [(1, 0.0, 1.0, 1.0), (2, 1.0, 2.0, 1.0), (1, 2.0, 3.0, 1.0)]
    assert overlap(one_after_other, 2) == 0.0
    # a late second worker and an uneven tail are not the driver's doing: not counted
    late_start = [(1, 0.0, 2.0, 1.0), (2, 1.0, 3.0, 1.0), (1, 2.0, 4.0, 1.0), (2, 3.0, 3.5, 1.0)]
    assert overlap(late_start, 2) == pytest.approx(1.0)
    # a worker idle for 1 s of the 3 s both had work: 2/3
    gap = [(1, 0.0, 3.0, 1.0), (2, 0.0, 1.0, 1.0), (2, 2.0, 3.0, 1.0)]
    assert overlap(gap, 2) == pytest.approx(2 / 3)
    assert overlap([(1, 0.0, 1.0, 1.0)], 2) == 0.0  # one worker only
    assert warm(side_by_side) == side_by_side[2:]


def test_ratios_script_reads_saved_runs(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import ratios
    finally:
        sys.path.pop(0)
    run = {"benchmarks": [{"extra_info": {"a_over_b": 0.9, "a_over_b_threshold": 1.1,
                                          "other": 3}}]}
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "0001_before.json").write_text(json.dumps(run))
    run["benchmarks"][0]["extra_info"]["a_over_b"] = 1.2
    (tmp_path / "m" / "0002_after.json").write_text(json.dumps(run))
    assert ratios.main([str(tmp_path), "0001", "0002"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["a_over_b", "0.900", "1.200", "1.1"]
