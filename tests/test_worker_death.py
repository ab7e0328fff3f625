"""A dying worker is one failed cell; signals stop a run cleanly and leave no process behind.

Each test runs ``anobench run`` in a subprocess with a plugin whose detector
kills the process it runs in (SIGSEGV, ``os._exit``) or sleeps, and checks the
exit code, the one-line messages, the records, and that no worker is alive two
seconds after the run ended.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from anobench.store import load_store, read_records

REPO = Path(__file__).resolve().parents[1]

PLUGIN = '''
import os, signal, time
from pathlib import Path
import numpy as np
from anobench.api import Detector
from anobench.hookspecs import hookimpl


class Crash(Detector):
    """Dies as ``mode`` says, in whatever process runs it."""

    def __init__(self, *, mode: str = "ok", random_state=None):
        self.mode = mode
        self.random_state = random_state

    def fit(self, X, X_val=None):
        pids = os.environ.get("CRASH_PIDS")
        if pids:
            Path(pids, str(os.getpid())).touch()
        if self.mode == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if self.mode == "exit":
            os._exit(7)
        if self.mode == "sleep":
            time.sleep(60)
        if self.mode == "once" and not Path(os.environ["CRASH_ONCE"]).exists():
            Path(os.environ["CRASH_ONCE"]).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return self

    def score(self, X):
        return X.reshape(len(X), -1).sum(1) + np.arange(len(X)) * 1e-3


@hookimpl
def anobench_register_detectors(registry):
    registry.add_detector("crash", Crash)
'''

MAIN = '''
import sys
import anobench.cli as cli
from anobench.manager import build_registry, get_plugin_manager
import crashplug

registry = build_registry(get_plugin_manager(extra_plugins=[("crashplug", crashplug)]))
cli._registry = lambda: registry
if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
'''


def suite_text(mode: str, classes: str = "[0, 1]") -> str:
    return textwrap.dedent(f"""
        [suite]
        name = "death"
        seed = 1
        repetitions = 1
        [[datasets]]
        name = "digits"
        classes = {classes}
        [[detectors]]
        name = "pca"
        params = {{ n_components = 8 }}
        [[detectors]]
        name = "crash"
        params = {{ mode = "{mode}" }}
        """)



def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Runner:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        tmp.mkdir(exist_ok=True)
        (tmp / "crashplug.py").write_text(PLUGIN)
        (tmp / "main.py").write_text(MAIN)
        self.pids = tmp / "pids"
        self.pids.mkdir()
        self.env = {**os.environ, "PYTHONPATH": f"{tmp}{os.pathsep}{REPO}",
                    "CRASH_PIDS": str(self.pids), "CRASH_ONCE": str(tmp / "once")}

    def argv(self, mode: str, *extra: str, classes: str = "[0, 1]") -> list[str]:
        suite = self.tmp / "s.toml"
        suite.write_text(suite_text(mode, classes))
        return [sys.executable, str(self.tmp / "main.py"), "-q", "run", str(suite),
                "--results", str(self.tmp / "res"), "--no-figures", *extra]

    def run(self, mode: str, *extra: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(mode, *extra, **kw), capture_output=True, text=True,
                              env=self.env, cwd=self.tmp, timeout=300)

    def start(self, mode: str, *extra: str) -> subprocess.Popen:
        # Ctrl-C's default action in the run, as in a terminal: a test runner started in the
        # background by a shell (nohup cmd &) inherits SIGINT ignored, and so would the run
        return subprocess.Popen(self.argv(mode, *extra), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env, cwd=self.tmp,
                                preexec_fn=_default_sigint)

    def run_dir(self) -> Path:
        (run,) = (self.tmp / "res" / "death").iterdir()
        return run

    def alive(self) -> list[int]:
        """Processes that ran a detector (workers, or the run itself) still alive."""
        out = []
        for p in self.pids.iterdir():
            try:
                os.kill(int(p.name), 0)
            except ProcessLookupError:
                continue
            out.append(int(p.name))
        return out


def error_lines(run_dir: Path) -> dict[str, str]:
    return {r["cell"]: r["error"] for r in read_records(run_dir, ("error",))}


@pytest.mark.slow
def test_a_worker_killed_by_a_signal_is_one_failed_cell_and_resume_goes_on(tmp_path):
    r = Runner(tmp_path)
    first = r.run("segv", "--jobs", "2")
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr and "BrokenProcessPool" not in first.stderr
    run_dir = r.run_dir()
    errors = error_lines(run_dir)
    assert len(errors) == 2  # the crash detector's cell of each class; pca's cells are stored
    for cell, err in errors.items():
        assert "detector 'crash' (plugin 'crashplug'): WorkerDied: the worker process was " \
               "killed by signal 11 (SIGSEGV) while running cell " + cell in err
        assert f"FAILED: {err}" in first.stderr
    assert {r["column"] for r in read_records(run_dir)} == {"pca"}
    before = [r for r in read_records(run_dir) if r["column"] == "pca"]
    time.sleep(2)
    assert r.alive() == []
    # --resume does not die either: the poisoned cells are tried and recorded again
    again = r.run("segv", "--jobs", "2", "--resume")
    assert again.returncode == 1, again.stderr
    assert "4 cells (2 done earlier)" in again.stderr
    assert error_lines(run_dir).keys() == errors.keys()
    assert [r for r in read_records(run_dir) if r["column"] == "pca"] == before
    store = load_store(run_dir)
    assert len(store.done()) == 2 and len(store.failed()) == 2


@pytest.mark.slow
@pytest.mark.parametrize("sig, jobs", [(signal.SIGTERM, 2), (signal.SIGINT, 2),
                                       (signal.SIGKILL, 2), (signal.SIGTERM, 1)],
                         ids=["SIGTERM-jobs-2", "SIGINT-jobs-2", "SIGKILL-jobs-2",
                              "SIGTERM-local"])
def test_a_signal_to_a_run_leaves_no_worker_behind(tmp_path, sig, jobs):
    r = Runner(tmp_path)
    proc = r.start("sleep", "--jobs", str(jobs))
    deadline = time.monotonic() + 120
    while len(list(r.pids.iterdir())) < jobs and time.monotonic() < deadline:  # all busy
        time.sleep(0.1)
    assert len(list(r.pids.iterdir())) == jobs
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    time.sleep(2)
    assert r.alive() == []
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        return
    assert proc.returncode == (130 if sig == signal.SIGINT else 128 + sig), err
    assert "Traceback" not in err
    how = "interrupted" if sig == signal.SIGINT else "stopped by SIGTERM"
    assert f"anobench: {how}: " in err and "cells stored" in err and "Resume with:" in err
    assert "--resume" in err.strip().splitlines()[-1]
    assert "the run (pid" not in err  # the crash watcher stays quiet after a clean stop


@pytest.mark.slow
def test_a_crash_in_process_names_the_cell_and_resume_records_it(tmp_path):
    r = Runner(tmp_path)
    first = r.run("segv")
    assert first.returncode == -signal.SIGSEGV
    (cell,) = json.loads((r.run_dir() / ".running.json").read_text())["cells"]
    assert "the run (pid " in first.stderr and f"while running cell {cell} (detector " \
           "'crash')" in first.stderr
    assert "--resume" in first.stderr
    again = r.run("segv", "--resume")
    assert again.returncode == 1, again.stderr
    assert "they run first, in a separate process" in again.stderr
    assert "it crashed again; the other 1 cell(s) of crash run in a separate process too" \
        in again.stderr
    errors = error_lines(r.run_dir())  # both cells of the crashing detector, in one resume
    assert cell in errors and len(errors) == 2
    for err in errors.values():
        assert "killed by signal 11 (SIGSEGV) while running cell" in err
    assert len(load_store(r.run_dir()).done()) == 2  # pca's two cells
    assert not (r.run_dir() / ".running.json").exists()


@pytest.mark.slow
def test_a_kill_in_process_then_resume_changes_nothing(tmp_path):
    """SIGKILL of the run while a cell runs: resume reruns that cell (in a separate
    process) and the records are those of an uninterrupted run."""
    r = Runner(tmp_path)
    killed = r.run("once", classes="[0, 1]")
    assert killed.returncode == -signal.SIGKILL
    assert "while running cell digits/0/0/crash" in killed.stderr
    again = r.run("once", "--resume", classes="[0, 1]")
    assert again.returncode == 0, again.stderr
    run_dir = r.run_dir()
    store = load_store(run_dir)
    assert len(store.done()) == 4 and not store.failed() and not store.partial
    ref = Runner(tmp_path / "ref")
    (tmp_path / "ref" / "once").touch()  # never killed
    assert ref.run("once", classes="[0, 1]").returncode == 0

    def values(d):
        return sorted((x["cell"], x["column"], x["metric"], x["value"]) for x in read_records(d))

    assert values(run_dir) == values(ref.run_dir())
