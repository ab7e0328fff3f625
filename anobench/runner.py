"""Run a suite: expand it into cells, fit and score each, store records.

A *cell* is (dataset, normal class, repetition, model). Detector configs that
share a class and parameters (e.g. ``vae`` and ``ed-vae``) share one model,
trained once per cell; every scoring rule of a latent model is a reduction of
one posterior draw of that model, so rule comparisons are paired.

The run starts from :func:`anobench.prepare.prepare_run` (every check, the
cells); the cells still to run are cut into work units
(:func:`anobench.units.work_units`), which an executor runs
(:func:`anobench.unitrun.execute_unit`); this module, the driver, stores each
cell's outcome as it comes back and shows the progress
(:class:`anobench.progress.Progress`).
"""
from __future__ import annotations

import contextlib
import inspect
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import anobench
from anobench.crashguard import CrashGuard, take_marker
from anobench.errors import AnobenchError, SuiteError, Terminated
from anobench.escape import TerminalStream
from anobench.executors import Executor, ProcessExecutor, WorkerDied
from anobench.modelstore import save_model
from anobench.prepare import PreparedRun, prepare_run
from anobench.progress import Progress
from anobench.registry import Registry
from anobench.scores import save_scores
from anobench.store import (
    STORE_FORMAT,
    RunWriter,
    encode_block,
    latest_run_dir,
    load_store,
    new_run_dir,
    read_meta,
    run_identity,
    write_meta,
)
from anobench.suite import Suite
from anobench.unitrun import CellOutcome, died_outcomes, execute_unit
from anobench.units import Cell, CellTask, work_units, worker_registry

def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("anobench", "numpy", "scipy", "scikit-learn", "torch", "torchvision", "pluggy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _code_version() -> str:
    import subprocess

    try:
        root = Path(anobench.__file__).resolve().parent.parent
        rev = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=5)
        if rev.returncode == 0:
            return f"{anobench.__version__}+g{rev.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return anobench.__version__


#: ``on_start(prepared, todo, done)``: called once the cells still to run are known.
StartHook = Callable[[PreparedRun, list[Cell], int], None]


@dataclass(frozen=True)
class RunSettings:
    """How :func:`run_suite` runs the cells (its keywords, settled)."""

    executor: Executor
    owned: bool  # made here, closed here
    jobs: int
    cohort_size: int | None
    stream: TextIO
    progress: bool | None  # a live bar (None: when ``stream`` is a terminal)
    on_cell: Callable[[dict], None] | None = None
    on_start: StartHook | None = None
    crash_watch: bool = False


def run_suite(
    suite: Suite | str | Path,
    registry: Registry,
    *,
    results_root: str | Path = "results",
    data_dir: str | Path | None = None,
    device: str | None = None,
    resume: str | Path | bool | None = None,
    stream: TextIO | None = None,
    on_cell: Callable[[dict], None] | None = None,
    jobs: int = 1,
    executor: str | Executor | None = None,
    executor_options: dict[str, Any] | None = None,
    cohort_size: int | None = None,
    keep_models: bool = False,
    crash_watch: bool = False,
    on_start: StartHook | None = None,
    progress: bool | None = None,
) -> tuple[Path, int]:
    """Run every cell not yet done; return ``(run_dir, n_failed_cells)``.

    ``suite`` (or the path of its file) is checked and expanded by
    :func:`anobench.prepare.prepare_run` (``data_dir``, ``device``) before
    anything is written.
    ``jobs`` work units run at once on ``executor``: a registered executor's
    name (default ``local`` for one job, ``processes`` for more), or an
    executor instance, which the caller closes. Records are the same whatever
    the executor; only the order of cell blocks in the file may differ.
    ``executor_options`` (e.g. ray's ``address``) go to the executor's constructor.
    ``cohort_size`` replaces every cohort-capable detector's own choice of how
    many cells to train together on the device (1: one by one).
    ``keep_models`` (or ``[suite] keep_models``, or a resumed run that kept
    them) stores each trained model under the run (:mod:`anobench.modelstore`). ``crash_watch``
    starts a watcher that names the cell if an in-process run dies
    (:mod:`anobench.crashguard`).
    ``on_start(prepared, todo, done)`` is called once the cells still to run
    are known, before the first runs (``anobench run`` prints its plan).
    ``progress``: a live bar on ``stream`` (default: when it is a terminal;
    else a line per cell).
    """
    prepared = prepare_run(suite, registry, data_dir, device=device)
    suite = prepared.suite  # its classes resolved
    owned = not isinstance(executor, Executor)
    ex = executor if isinstance(executor, Executor) else make_executor(
        registry, executor, jobs, _cuda_devices(prepared.device, jobs),
        **(executor_options or {}))
    settings = RunSettings(ex, owned, jobs, cohort_size, stream or sys.stderr, progress,
                           on_cell, on_start, crash_watch)

    ident = run_identity(suite.sha256, suite.seed)
    planned = [c.cid for c in prepared.cells]  # for the report's state
    if resume:
        run_dir = latest_run_dir(Path(results_root), suite.name) if resume is True else Path(resume)
        meta = read_meta(run_dir)
        suite = replace(suite, keep_models=bool(
            keep_models or suite.keep_models or meta.get("keep_models")))
        if meta.get("suite_sha256") != suite.sha256:
            raise SuiteError(f"{suite.path}: the suite changed since run {run_dir} was started "
                             "(hash differs); start a new run instead of --resume")
        writer = RunWriter(run_dir, ident if meta.get("store_format") == STORE_FORMAT else None)
    else:
        run_dir = new_run_dir(Path(results_root), suite.name)
        writer = RunWriter(run_dir, ident)
        suite = replace(suite, keep_models=keep_models or suite.keep_models)
    prepared = replace(prepared, suite=suite)
    with writer:  # one writer per run directory, taken before reading what is done
        if resume:
            stored = load_store(run_dir)  # refuses lines that are not this run's records
            for note in stored.notes():
                print(f"anobench: {note}; those cells run again",
                      file=TerminalStream(settings.stream), flush=True)
            skip = stored.done()
            crashed = take_marker(run_dir)  # cells a dead in-process run was running
            meta.setdefault("resumed", []).append(time.strftime("%Y-%m-%dT%H:%M:%S"))
            meta.setdefault("planned_cells", planned)
            meta["keep_models"] = suite.keep_models
            write_meta(run_dir, meta)
            return run_dir, _run_cells(prepared, run_dir, skip, writer, settings, crashed)
        try:
            write_meta(run_dir, _new_meta(prepared, ident, settings))
            return run_dir, _run_cells(prepared, run_dir, set(), writer, settings)
        except BaseException:
            discard_if_empty(run_dir)
            raise


def _new_meta(prepared: PreparedRun, ident: str, settings: RunSettings) -> dict[str, Any]:
    """``meta.json`` of a new run."""
    suite = prepared.suite
    return {
        "suite_name": suite.name, "suite_path": suite.path,
        "suite_sha256": suite.sha256, "suite_text": suite.text, "seed": suite.seed,
        "run_identity": ident, "store_format": STORE_FORMAT,
        "code_version": _code_version(), "packages": _versions(),
        "python": platform.python_version(), "platform": platform.platform(),
        "device": prepared.device or "cpu", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "argv": sys.argv, "executor": type(settings.executor).name, "jobs": settings.jobs,
        "keep_models": suite.keep_models,
        # the suite's order of datasets and columns, for the report's tables
        "datasets": [d.label for d in suite.datasets],
        "columns": list(dict.fromkeys(c.name for d in suite.detectors for c in d.columns)),
        "planned_cells": [c.cid for c in prepared.cells],  # what a partial run lacks
    }


def discard_if_empty(run_dir: Path) -> None:
    """Remove a new run directory that holds no cell yet (and its suite folder if empty)."""
    records = run_dir / "records.jsonl"
    if records.exists() and records.stat().st_size > 0:
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        run_dir.parent.rmdir()
    except OSError:
        pass  # other runs of the suite live there


def _cuda_devices(dev: str | None, jobs: int) -> list[str]:
    """CUDA device indices to share out among ``jobs`` workers (empty: nothing to share)."""
    if dev != "cuda" or jobs < 2:
        return []
    import os

    import torch

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in visible.split(",") if d.strip()] if visible else \
        [str(i) for i in range(torch.cuda.device_count())]
    return ids if len(ids) > 1 else []


def make_executor(registry: Registry, name: str | None, jobs: int, devices: list[str],
                  **options: Any) -> Executor:
    """The executor ``name`` (default: ``local`` for one job, else ``processes``)."""
    if name is not None and not name.strip():
        raise AnobenchError(f"--executor: an empty name; known: {', '.join(registry.executors)}")
    name = name or ("local" if jobs == 1 else "processes")
    try:
        spec = registry.executor(name)
    except KeyError as exc:
        raise AnobenchError(f"--executor: {exc.args[0]}") from None
    accepted = inspect.signature(spec.cls.__init__).parameters
    for key in options:
        if key not in accepted:
            raise AnobenchError(f"--{key.replace('_', '-')}: executor {name!r} takes no such "
                                "option")
    return spec.cls(jobs=jobs, devices=devices, **options)


def _run_cells(prepared: PreparedRun, run_dir: Path, skip: set[str], writer: RunWriter,
               settings: RunSettings, crashed: list[str] | tuple[str, ...] = ()) -> int:
    """Run the cells not in ``skip`` on the executor; return the number of failed cells.

    ``crashed``: cells a dead in-process run was running (:mod:`anobench.crashguard`).
    With an in-process executor they run first, in a separate worker process;
    if one of them kills that process again, the other cells of its model run
    there too, so a crashing plugin cannot end the resumed run.
    """
    suite, cells, executor = prepared.suite, prepared.cells, settings.executor
    todo = [c for c in cells if c.cid not in skip]
    done = len(cells) - len(todo)
    print(f"anobench: suite {suite.name!r}: {len(cells)} cells ({done} done "
          f"earlier), device {prepared.device or 'cpu'}, results in {run_dir}"
          + (f", {settings.jobs} jobs ({type(executor).name})" if settings.jobs > 1 else ""),
          file=TerminalStream(settings.stream), flush=True)
    if settings.on_start:
        settings.on_start(prepared, todo, done)
    resume = f"anobench run {suite.path} --resume {run_dir}"
    guard = CrashGuard(run_dir, resume, settings.crash_watch) if executor.in_process else None
    with Progress(settings.stream, len(todo), bar=settings.progress) as progress:
        drive = _Drive(prepared, run_dir, writer, settings, guard, progress)
        try:
            suspects = [c for c in todo if c.cid in set(crashed)] if executor.in_process else []
            rest = [c for c in todo if c.cid not in {s.cid for s in suspects}]
            if suspects:
                progress.note(f"anobench: the previous run died while running {len(suspects)} "
                              f"cell(s) ({', '.join(c.cid for c in suspects)}); they run first, "
                              "in a separate process")
                died = drive.drain(ProcessExecutor(jobs=1), True, suspects)
                again = [c for c in rest if c.group.key in died]
                if again:
                    progress.note(f"anobench: it crashed again; the other {len(again)} cell(s) "
                                  f"of {', '.join(sorted({c.group.configs[0].point for c in again}))}"
                                  " run in a separate process too")
                    drive.drain(ProcessExecutor(jobs=1), True, again)
                    rest = [c for c in rest if c.group.key not in died]
            drive.drain(executor, settings.owned, rest)
        except KeyboardInterrupt as exc:
            how = f"stopped by {exc.signame}" if isinstance(exc, Terminated) else "interrupted"
            stored = done + progress.stored
            progress.note(f"\nanobench: {how}: {stored} of {len(cells)} cells stored "
                          f"({progress.failed} of them failed), {len(cells) - stored} missing; "
                          f"the report says which. Resume with:\n  {resume}")
            raise
        finally:
            if guard is not None:
                guard.close()
    if progress.failed:
        progress.note(f"anobench: {progress.failed} cell(s) failed; their errors are in "
                      f"{run_dir / 'records.jsonl'}")
    return progress.failed


@dataclass
class _Drive:
    """One run's cells going through executors into the store."""

    prepared: PreparedRun
    run_dir: Path
    writer: RunWriter
    settings: RunSettings
    guard: CrashGuard | None
    progress: Progress

    def drain(self, ex: Executor, own: bool, part: list[Cell]) -> set[str]:
        """Run ``part`` on ``ex``, store every outcome; the models whose worker died."""
        p, s = self.prepared, self.settings
        died: set[str] = set()
        units = work_units(part, p.datasets, worker_registry(p.registry), p.suite, p.device,
                           s.cohort_size)
        if self.guard is not None and ex.in_process:
            units = self.guard.track(units)
        with ex if own else contextlib.nullcontext():
            for unit, outcomes in ex.map(execute_unit, units):
                if isinstance(outcomes, WorkerDied):
                    died.update(t.group.key for t in unit.tasks)
                    outcomes = died_outcomes(unit, str(outcomes))
                for task, res in zip(unit.tasks, outcomes):
                    _store(self.run_dir, self.writer, task, res, p.suite, self.progress)
                    if s.on_cell:
                        s.on_cell(task.base)
                if self.guard is not None:
                    self.guard.clear()
        return died


def _store(run_dir: Path, writer: RunWriter, task: CellTask, res: CellOutcome, suite: Suite,
           progress: Progress) -> None:
    """Write one cell's outcome to the store and show its progress."""
    base, cid = task.base, task.cid
    where = f"{base['dataset']} class {base['normal']} rep {base['repetition']}"
    if res.error is not None:
        writer.write(encode_block(cid, [dict(base, kind="error", error=res.error)],
                                  dict(base, status="error"), writer.run))
        progress.cell(f"{where} {task.group.name}: FAILED: {res.error}", failed=True)
        return
    result = res.result
    assert result is not None  # set when there is no error
    block = encode_block(cid, [dict(base, **r) for r in result.records],
                         dict(base, **result.marker()), writer.run)
    save_scores(run_dir, cid, task.split.y_test, result.scores)  # before the records block
    if result.kept is not None:  # kept models (keep_models), also before the records block
        save_model(run_dir, result.kept)
    writer.write(block)
    first = [r["value"] for r in result.records if r["metric"] == suite.metrics[0]]
    epochs = f" ({result.info['epochs']} epochs)" if "epochs" in result.info else ""
    progress.cell(f"{where} {task.group.configs[0].point}: fit "
                  f"{result.timings.fit_seconds:.1f}s{epochs}, score "
                  f"{result.timings.score_seconds:.1f}s, {suite.metrics[0]} {np.mean(first):.3f}")
