"""The bench's heartbeat (benchmarks/conftest.py) reaches a CI log while the benchmark still runs:
stdout to a pipe is block-buffered, so an unflushed line would arrive only at the end."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_heartbeat_lines_arrive_while_the_benchmark_runs(tmp_path):
    for name in ("conftest.py", "_slowdown.py", "_guards.py"):
        shutil.copy(REPO / "benchmarks" / name, tmp_path / name)
    (tmp_path / "test_sleeps.py").write_text("import time\n\n\ndef test_sleeps():\n"
                                             "    time.sleep(4)\n")
    env = dict(os.environ, ANOBENCH_BENCH_HEARTBEAT_S="0.5", ANOBENCH_BENCH_SLOWDOWN="")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_sleeps.py"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    beats = []
    for line in proc.stdout:
        if "[bench] test_sleeps: still running" in line:
            beats.append(time.monotonic())
    end = time.monotonic()
    assert proc.wait(timeout=60) == 0
    assert len(beats) >= 4, beats
    # the first beat came about 0.5 s into a 4 s test, not with the test's result
    assert end - beats[0] > 2.0, (end - beats[0], beats)
