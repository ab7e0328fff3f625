"""The speed guards of `tox -e bench` can fail: a deliberately slowed trainer trips one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_a_slowed_trainer_fails_the_trainer_guard(tmp_path):
    # the test-only hook of benchmarks/conftest.py: every loss evaluation inside
    # anobench.training.fit_model sleeps 2 s (short mode: 4 steps per epoch, so
    # 8 s more per trainer run than a plain loop of about a second when idle)
    env = dict(os.environ, ANOBENCH_BENCH_SLOWDOWN="2")
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "test_bench_guards.py"),
         "--benchmark-only", "--bench-mode", "short", "-k", "trainer_vs_plain", "-q",
         "-p", "no:cacheprovider", f"--benchmark-json={out}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text[-3000:]
    assert "bench guard trainer_over_plain_fused: median ratio" in text
    assert "is not <= threshold 1.15" in text
    assert "reproduce: tox -e bench -- -k trainer_vs_plain" in text
    # the ratio was measured and saved before the guard failed
    saved = json.loads(out.read_text())["benchmarks"][0]["extra_info"]
    ratio = saved["trainer_over_plain_fused"]
    assert ratio > 1.15 and saved["trainer_over_plain_fused_threshold"] == 1.15


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
