"""Executors: the interface, the built-in local and processes executors, --jobs."""
from __future__ import annotations

import os
import signal
import time
from typing import ClassVar

import pytest

from anobench.cli import main
from anobench.errors import AnobenchError, PluginError
from anobench.executors import (
    Executor, ExecutorError, LocalExecutor, ProcessExecutor, WorkerDied, available_cores,
    parse_jobs,
)
from anobench.hookspecs import hookimpl
from anobench.manager import build_registry, get_plugin_manager
from anobench.runner import run_suite
from anobench.store import read_records
from anobench.workers import death_reason
from anobench.suite import parse_suite

# a suite with a classical and a neural detector, small enough for a unit test
SMALL = """
[suite]
name = "jobs"
seed = 3
repetitions = 2
[[datasets]]
name = "digits"
classes = [0, 5]
[[detectors]]
name = "pca"
params = { n_components = 8 }
[[detectors]]
name = "vae"
params = { latent_dim = 4, filters = 4, lr = 1e-3, batch_size = 32, max_epochs = 3, patience = 2, threads = 1 }
rules = ["single", "expected", "multi"]
n_samples = 5
"""

TIMING = ("fit_seconds", "score_seconds", "block")  # wall clock; random block ids


def comparable(run_dir):
    """The stored records without wall-clock fields, in a fixed order."""
    rows = []
    for r in read_records(run_dir, ("result", "cell", "error")):
        r = {k: v for k, v in r.items() if k not in TIMING}
        if isinstance(r.get("fit_info"), dict):
            r["fit_info"] = {k: v for k, v in r["fit_info"].items() if k != "seconds"}
        rows.append(r)
    return sorted(rows, key=lambda r: (r["cell"], r["kind"], str(r.get("column")),
                                       str(r.get("measure")), str(r.get("metric"))))


def square(x):
    return x * x


def explode_on_three(x):
    if x == 3:
        raise RuntimeError("three")
    return x


def die_on_three(x):
    """Kills its worker on 3: SIGSEGV, as a crash in native code would."""
    if x == 3:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x


def where_am_i(_):
    time.sleep(0.3)
    return os.environ.get("ANOBENCH_WORKER"), os.environ.get("CUDA_VISIBLE_DEVICES"), \
        os.environ.get("OMP_NUM_THREADS")


def test_parse_jobs():
    assert parse_jobs("auto") == available_cores() >= 1
    assert parse_jobs("3") == 3 and parse_jobs(2) == 2
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(AnobenchError, match="--jobs"):
            parse_jobs(bad)


def test_builtin_executors_are_registered(registry):
    assert registry.executor("local").cls is LocalExecutor
    assert registry.executor("processes").cls is ProcessExecutor
    assert registry.executor("local").plugin == "anobench"


def test_local_executor_yields_every_unit():
    with LocalExecutor() as ex:
        assert list(ex.map(square, range(4))) == [(0, 0), (1, 1), (2, 4), (3, 9)]


@pytest.fixture(scope="module")
def pool():
    """Two spawned workers shared by this module's tests (starting them is the slow part)."""
    with ProcessExecutor(jobs=2, devices=("3", "5")) as ex:
        yield ex


def test_process_executor_runs_units_in_workers_and_consumes_lazily(pool):
    consumed = []

    def units():
        for i in range(7):
            consumed.append(i)
            yield i

    it = pool.map(square, units())
    first = next(it)
    # at most 2·jobs units were taken from the iterable before the first result
    assert len(consumed) <= 4
    rest = list(it)
    assert sorted([first, *rest]) == [(i, i * i) for i in range(7)]


def test_process_executor_shares_devices_and_threads_by_worker(pool):
    seen = {res for _, res in pool.map(where_am_i, range(6))}
    threads = str(max(1, available_cores() // 2))
    for worker, device, omp in seen:
        assert device == ("3", "5")[int(worker) % 2]
        assert omp == threads


def test_a_raising_work_function_is_an_executor_error(pool):
    with pytest.raises(ExecutorError, match="RuntimeError: three"):
        list(pool.map(explode_on_three, range(6)))


def test_a_dying_worker_is_its_units_failure_and_is_replaced(pool):
    out = dict(pool.map(die_on_three, range(6)))
    assert isinstance(out[3], WorkerDied)
    assert str(out[3]) == "the worker process was killed by signal 11 (SIGSEGV)"
    assert {k: v for k, v in out.items() if k != 3} == {0: 0, 1: 1, 2: 2, 4: 4, 5: 5}
    assert dict(pool.map(square, range(3))) == {0: 0, 1: 1, 2: 4}  # two workers again
    assert death_reason(5) == "the worker process exited with code 5 (os._exit or a crash in " \
                              "native code)"
    assert death_reason(-9).endswith("killed by signal 9 (SIGKILL) (out of memory?)")


def test_jobs_2_gives_the_records_of_jobs_1(registry, tmp_path, pool):
    suite = parse_suite(SMALL, "jobs.toml", registry)
    one, failed1 = run_suite(suite, registry, results_root=tmp_path / "a")
    # the module's pool: the same code path as jobs=2 (make_executor -> processes)
    two, failed2 = run_suite(suite, registry, results_root=tmp_path / "b", jobs=2, executor=pool)
    assert failed1 == failed2 == 0
    a, b = comparable(one), comparable(two)
    assert len(a) == len(b) > 0
    assert a == b
    for cell in {r["cell"] for r in a}:  # the stored scores are identical too
        name = cell.replace("/", "__") + ".npz"
        import numpy as np

        with np.load(one / "scores" / name) as x, np.load(two / "scores" / name) as y:
            assert np.array_equal(x["scores"], y["scores"])


class Reversed(Executor):
    """A third-party executor: runs all units, last first, in this process."""

    name = "reversed"
    calls: ClassVar[list[int]] = []

    def map(self, fn, units):
        units = list(units)
        Reversed.calls.append(sum(len(u.tasks) for u in units))  # cells
        for unit in reversed(units):
            yield unit, fn(unit)


def test_an_executor_plugin_is_used_by_name(tmp_path, registry):
    plugin = type("P", (), {})()
    plugin.anobench_register_executors = hookimpl(
        lambda registry: registry.add_executor("reversed", Reversed))
    reg = build_registry(get_plugin_manager(extra_plugins=[("revplug", plugin)]))
    assert reg.executor("reversed").plugin == "revplug"
    text = SMALL.replace('name = "vae"', 'name = "ae"').replace(
        'rules = ["single", "expected", "multi"]\nn_samples = 5\n', "")
    suite = parse_suite(text, "jobs.toml", reg)
    a, _ = run_suite(suite, reg, results_root=tmp_path / "a")
    b, _ = run_suite(suite, reg, results_root=tmp_path / "b", executor="reversed", jobs=3)
    assert Reversed.calls == [8]
    assert comparable(a) == comparable(b)


def test_registry_refuses_a_malformed_or_duplicate_executor():
    for bad in (object(), lambda registry: None):
        plugin = type("P", (), {})()
        plugin.anobench_register_executors = hookimpl(
            lambda registry, bad=bad: registry.add_executor("x", bad))
        with pytest.raises(PluginError, match=r"plugin 'bad'.*executor 'x'"):
            build_registry(get_plugin_manager(extra_plugins=[("bad", plugin)]))
    plugin = type("P", (), {})()
    plugin.anobench_register_executors = hookimpl(
        lambda registry: registry.add_executor("local", LocalExecutor))
    with pytest.raises(PluginError, match="executor 'local' is registered by two plugins"):
        build_registry(get_plugin_manager(extra_plugins=[("dup", plugin)]))


@pytest.mark.parametrize("args, fragment", [
    (["--jobs", "0"], "--jobs: expected a positive integer or 'auto', got '0'"),
    (["--executor", "nope"], "--executor: unknown executor 'nope'; known: local, processes"),
    (["--cohort-size", "0"], "--cohort-size: expected a positive integer or 'auto', got '0'"),
    (["--cohort-size", "many"], "--cohort-size: expected a positive integer or 'auto', got 'many'"),
])
def test_cli_bad_jobs_or_executor_is_one_line_exit_2(args, fragment, tiny_suite, tmp_path, capsys):
    rc = main(["run", str(tiny_suite), "--results", str(tmp_path), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and fragment in err[0]
    assert not (tmp_path / "tiny").exists()  # nothing was started
