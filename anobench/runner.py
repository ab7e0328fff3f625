"""Run a suite: expand it into cells, fit and score each, store records.

A *cell* is (dataset, normal class, repetition, model). Detector configs that
share a class and parameters (e.g. ``vae`` and ``ed-vae``) share one model,
trained once per cell; every scoring rule of a latent model is a reduction of
one posterior draw of that model, so rule comparisons are paired.
"""
from __future__ import annotations

import contextlib
import inspect
import logging
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import anobench
from anobench.capabilities import capabilities_of
from anobench.checks import (
    check_data_fit,
    check_device,
    count_cells,
    check_test_sets,
    load_datasets,
    needs_device,
    resolve_device,
    resolve_suite_classes,
)
from anobench.crashguard import CrashGuard, take_marker
from anobench.deadline import CellTimeout, deadline
from anobench.drawscore import oracle_scores, samples_read, score_draw  # noqa: F401 (re-exported)
from anobench.errors import AnobenchError, SuiteError, Terminated
from anobench.escape import TerminalStream
from anobench.executors import Executor, ProcessExecutor, WorkerDied
from anobench.metrics import check_scores, compute_metrics
from anobench.modelstore import KeptModel, can_keep, class_path, export_state, save_model
from anobench.posterior import draw_stats
from anobench.registry import Registry
from anobench.scores import save_scores
from anobench.store import (
    STORE_FORMAT,
    RunWriter,
    encode_block,
    jsonable,
    latest_run_dir,
    load_store,
    new_run_dir,
    read_meta,
    run_identity,
    write_meta,
)
from anobench.suite import Suite
from anobench.units import (
    CellOutcome,
    CellTask,
    WorkUnit,
    fit_cohort_unit,
    instance_params,
    instantiate,
    model_groups,
    suite_cells,
    work_units,
    worker_registry,
)

log = logging.getLogger("anobench.runner")


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


def _fmt_secs(s: float) -> str:
    s = round(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def run_cell(group, split, registry, suite, seeds, device,
             fitted=None) -> tuple[list[dict], dict]:
    """Fit one model on one split and score every column; raise on failure.

    ``fitted = (detector, fit_seconds)`` skips the fit (the detector was
    trained already); ``(detector, fit_seconds, cohort_size)`` when it was
    trained in a cohort, whose size ``fit_info`` then records (unless the
    detector reports it itself).
    """
    if fitted is None:
        det = instantiate(group, seeds["model"], device)
        t0 = time.perf_counter()
        det.fit(split.X_train, split.X_val)
        fit_s = time.perf_counter() - t0
    else:
        det, fit_s, *cohort = fitted
    info = jsonable(dict(det.fit_info()), "fit_info()") if capabilities_of(type(det)).fit_info else {}
    if fitted is not None and cohort:
        info.setdefault("cohort_size", cohort[0])
    n = len(split.y_test)
    results: list[dict] = []
    posterior = None
    t1 = time.perf_counter()
    if not any(cfg.rules for cfg in group.configs):
        scores = check_scores(det.score(split.X_test), n)
        for cfg in group.configs:
            results.extend(dict(column=col, scores=scores, cfg=cfg, fields={})
                           for col in cfg.columns)
    else:
        rules = {r: registry.rules[r].rule for cfg in group.configs for r in cfg.rules}
        n_draw = max(samples_read(cfg, rules) for cfg in group.configs)
        full_draw = det.posterior_draw(split.X_test, n_samples=n_draw, seed=seeds["draw"])
        results = score_draw(full_draw, group.configs, rules, split.y_test, suite.metrics)
        posterior = draw_stats(full_draw, split.y_test)
    score_s = time.perf_counter() - t1
    records = result_records(results, split.y_test, suite.metrics, fit_s, score_s, info)
    timing = {"fit_seconds": fit_s, "score_seconds": score_s, "info": info,
              "scores": [(r["column"].name, r["column"].measure, r["scores"]) for r in results]}
    if posterior is not None:
        timing["posterior"] = posterior
    if suite.keep_models and can_keep(type(det)):
        timing["model_state"] = export_state(det)
        timing["model_params"] = instance_params(group, seeds["model"], device)
    return records, timing


def result_records(results: list[dict], y: np.ndarray, metrics: tuple[str, ...], fit_s: float,
                   score_s: float, info: dict[str, Any]) -> list[dict]:
    """The result records of scored columns: one per column and metric (no cell fields)."""
    records: list[dict] = []
    for res in results:
        cfg = res["cfg"]
        values = res.get("values") or compute_metrics(y, res["scores"], metrics)
        for metric, value in values.items():
            records.append(dict(
                kind="result", **res["column"].record_fields(), **res["fields"],
                detector=cfg.name, params=cfg.params, metric=metric, value=value,
                fit_seconds=round(fit_s, 4), score_seconds=round(score_s, 4), fit_info=info,
            ))
            if "picked" in res:
                records[-1].update(oracle=True, oracle_candidate=res["picked"][metric])
    return records


def run_suite(
    suite: Suite,
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
    on_start: Callable[..., None] | None = None,
) -> tuple[Path, int]:
    """Run every cell not yet done; return ``(run_dir, n_failed_cells)``.

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
    ``on_start(suite, datasets, groups, todo, device, done)`` is called once the cells
    still to run are known, before the first runs (``anobench run`` prints its plan).
    """
    out = TerminalStream(stream or sys.stderr)  # labels and class names are user text
    datasets = load_datasets(suite, registry, data_dir)
    suite = resolve_suite_classes(suite, datasets)
    count_cells(suite, datasets)
    check_test_sets(suite, datasets)
    check_data_fit(suite, registry, datasets)
    groups = model_groups(suite, registry)
    check_device(suite, groups, device)
    dev = resolve_device(device or suite.device) if needs_device(groups) else None
    owned = not isinstance(executor, Executor)
    ex = executor if isinstance(executor, Executor) else make_executor(
        registry, executor, jobs, _cuda_devices(dev, jobs), **(executor_options or {}))
    run = dict(dev=dev, out=out, on_cell=on_cell, executor=ex, owned=owned, jobs=jobs,
               cohort_size=cohort_size, crash_watch=crash_watch, on_start=on_start)

    ident = run_identity(suite.sha256, suite.seed)
    planned = [c[4] for c in suite_cells(suite, datasets, groups)]  # for the report's state
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
    with writer:  # one writer per run directory, taken before reading what is done
        if resume:
            stored = load_store(run_dir)  # refuses lines that are not this run's records
            for note in stored.notes():
                print(f"anobench: {note}; those cells run again", file=out, flush=True)
            skip = stored.done()
            crashed = take_marker(run_dir)  # cells a dead in-process run was running
            meta.setdefault("resumed", []).append(time.strftime("%Y-%m-%dT%H:%M:%S"))
            meta.setdefault("planned_cells", planned)
            meta["keep_models"] = suite.keep_models
            write_meta(run_dir, meta)
            return run_dir, _run_cells(suite, registry, datasets, groups, run_dir, skip, writer,
                                       crashed=crashed, **run)
        try:
            write_meta(run_dir, {
                "suite_name": suite.name, "suite_path": suite.path,
                "suite_sha256": suite.sha256, "suite_text": suite.text, "seed": suite.seed,
                "run_identity": ident, "store_format": STORE_FORMAT,
                "code_version": _code_version(), "packages": _versions(),
                "python": platform.python_version(), "platform": platform.platform(),
                "device": dev or "cpu", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "argv": sys.argv, "executor": type(ex).name, "jobs": jobs,
                "keep_models": suite.keep_models,
                # the suite's order of datasets and columns, for the report's tables
                "datasets": [d.label for d in suite.datasets],
                "columns": list(dict.fromkeys(c.name for d in suite.detectors
                                              for c in d.columns)),
                "planned_cells": planned,  # every cell id, in order: what a partial run lacks
            })
            return run_dir, _run_cells(suite, registry, datasets, groups, run_dir, set(), writer,
                                       **run)
        except BaseException:
            discard_if_empty(run_dir)
            raise


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


def execute_unit(unit: WorkUnit) -> list[CellOutcome]:
    """Run every cell of ``unit``; a failing plugin becomes that cell's error.

    A unit of several cells is a cohort: their models are fitted together
    (:func:`anobench.units.fit_cohort_unit`), then each is scored as its cell.
    """
    if unit.problem is not None:
        return [CellOutcome(t.cid, error=f"detector {t.group.name!r} (plugin "
                                         f"{unit.registry.detectors[t.group.name].plugin!r}): "
                                         f"{unit.problem}") for t in unit.tasks]
    fitted: list[Any] = fit_cohort_unit(unit) if len(unit.tasks) > 1 else [None]
    out = []
    for task, fit in zip(unit.tasks, fitted):
        spec = unit.registry.detectors[task.group.name]
        try:
            if isinstance(fit, BaseException):
                raise fit
            with deadline(unit.suite.cell_timeout):
                records, timing = run_cell(task.group, task.split, unit.registry, unit.suite,
                                           task.seeds, unit.device, fitted=fit)
            # refuse here what the store could not encode (the driver encodes it again)
            encode_block(task.cid, records, _marker(timing), None)
        except (Exception, SystemExit, CellTimeout) as exc:  # noqa: BLE001 - a plugin failed
            out.append(CellOutcome(task.cid, error=f"detector {task.group.name!r} (plugin "
                                                   f"{spec.plugin!r}): {type(exc).__name__}: {exc}"))
            continue
        out.append(CellOutcome(task.cid, records, timing))
    return out


def died_outcomes(unit: WorkUnit, reason: str) -> list[CellOutcome]:
    """Failed outcomes for the cells of a unit whose worker process died running it."""
    n = len(unit.tasks)
    cohort = f" (in a cohort of {n} cells trained together)" if n > 1 else ""
    return [CellOutcome(t.cid, error=f"detector {t.group.name!r} (plugin "
                                     f"{unit.registry.detectors[t.group.name].plugin!r}): "
                                     f"WorkerDied: {reason} while running cell {t.cid}{cohort}")
            for t in unit.tasks]


def _marker(timing: dict) -> dict:
    extra = {"posterior": timing["posterior"]} if timing.get("posterior") else {}
    return dict(status="ok", fit_seconds=timing["fit_seconds"],
                score_seconds=timing["score_seconds"], fit_info=timing["info"], **extra)


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


def _run_cells(suite, registry, datasets, groups, run_dir, skip, writer: RunWriter, *, dev, out,
               on_cell, executor, owned, jobs, cohort_size, on_start, crashed=(),
               crash_watch=False) -> int:
    """Run the cells not in ``skip`` on ``executor``; return the number of failed cells.

    ``crashed``: cells a dead in-process run was running (:mod:`anobench.crashguard`).
    With an in-process executor they run first, in a separate worker process;
    if one of them kills that process again, the other cells of its model run
    there too, so a crashing plugin cannot end the resumed run.
    """
    cells = suite_cells(suite, datasets, groups)
    todo = [c for c in cells if c[4] not in skip]
    print(f"anobench: suite {suite.name!r}: {len(cells)} cells ({len(cells) - len(todo)} done "
          f"earlier), device {dev or 'cpu'}, results in {run_dir}"
          + (f", {jobs} jobs ({type(executor).name})" if jobs > 1 else ""), file=out, flush=True)
    if on_start:
        on_start(suite, datasets, groups, todo, dev, len(cells) - len(todo))
    count: dict[str, Any] = {"k": 0, "failed": 0, "total": len(todo), "start": time.perf_counter()}
    resume = f"anobench run {suite.path} --resume {run_dir}"
    guard = CrashGuard(run_dir, resume, crash_watch) if executor.in_process else None

    def drain(ex: Executor, own: bool, part: list) -> set[str]:
        """Run ``part`` on ``ex``, store every outcome; the models whose worker died."""
        died: set[str] = set()
        units = work_units(part, datasets, worker_registry(registry), suite, dev, cohort_size)
        if guard is not None and ex.in_process:
            units = guard.track(units)
        with ex if own else contextlib.nullcontext():
            for unit, outcomes in ex.map(execute_unit, units):
                if isinstance(outcomes, WorkerDied):
                    died.update(t.group.key for t in unit.tasks)
                    outcomes = died_outcomes(unit, str(outcomes))
                for task, res in zip(unit.tasks, outcomes):
                    count["k"] += 1
                    count["failed"] += _store(run_dir, writer, task, res, suite, out, count["k"],
                                              count["total"], count["start"])
                    if on_cell:
                        on_cell(task.base)
                if guard is not None:
                    guard.clear()
        return died

    try:
        suspects = [c for c in todo if c[4] in set(crashed)] if executor.in_process else []
        rest = [c for c in todo if c[4] not in {s[4] for s in suspects}]
        if suspects:
            print(f"anobench: the previous run died while running {len(suspects)} cell(s) "
                  f"({', '.join(c[4] for c in suspects)}); they run first, in a separate "
                  "process", file=out, flush=True)
            died = drain(ProcessExecutor(jobs=1), True, suspects)
            again = [c for c in rest if c[3].key in died]
            if again:
                print(f"anobench: it crashed again; the other {len(again)} cell(s) of "
                      f"{', '.join(sorted({c[3].configs[0].point for c in again}))} run in a "
                      "separate process too", file=out, flush=True)
                drain(ProcessExecutor(jobs=1), True, again)
                rest = [c for c in rest if c[3].key not in died]
        drain(executor, owned, rest)
    except KeyboardInterrupt as exc:
        how = f"stopped by {exc.signame}" if isinstance(exc, Terminated) else "interrupted"
        stored = len(cells) - len(todo) + count["k"]
        print(f"\nanobench: {how}: {stored} of {len(cells)} cells stored ({count['failed']} of "
              f"them failed), {len(cells) - stored} missing; the report says which. Resume "
              f"with:\n  {resume}",
              file=out, flush=True)
        raise
    finally:
        if guard is not None:
            guard.close()
    if count["failed"]:
        print(f"anobench: {count['failed']} cell(s) failed; their errors are in "
              f"{run_dir / 'records.jsonl'}", file=out, flush=True)
    return count["failed"]


def _store(run_dir: Path, writer: RunWriter, task: CellTask, res: CellOutcome, suite: Suite,
           out: TextIO, k: int, total: int, start: float) -> int:
    """Write one cell's outcome to the store and print its progress line; 1 if it failed."""
    base, cid = task.base, task.cid
    label = f"[{k}/{total}] {base['dataset']} class {base['normal']} rep {base['repetition']}"
    if res.error is not None:
        writer.write(encode_block(cid, [dict(base, kind="error", error=res.error)],
                                  dict(base, status="error"), writer.run))
        print(f"{label} {task.group.name}: FAILED: {res.error}", file=out, flush=True)
        return 1
    timing, records = res.timing, res.records
    assert timing is not None and records is not None  # set when there is no error
    block = encode_block(cid, [dict(base, **r) for r in records], dict(base, **_marker(timing)),
                         writer.run)
    save_scores(run_dir, cid, task.split.y_test, timing["scores"])  # before the records block
    if "model_state" in timing:  # kept models (keep_models), also before the records block
        save_model(run_dir, KeptModel(cid, task.group.name, class_path(task.group.cls),
                                      timing["model_params"], task.seeds,
                                      task.split.X_train.shape[1:], task.group.key,
                                      timing["model_state"]))
    writer.write(block)
    elapsed = time.perf_counter() - start
    eta = elapsed / k * (total - k)
    auc = [r["value"] for r in records if r["metric"] == suite.metrics[0]]
    extra = ""
    if "epochs" in timing["info"]:
        extra = f" ({timing['info']['epochs']} epochs)"
    print(f"{label} {task.group.configs[0].point}: "
          f"fit {timing['fit_seconds']:.1f}s{extra}, score {timing['score_seconds']:.1f}s, "
          f"{suite.metrics[0]} {np.mean(auc):.3f} | elapsed {_fmt_secs(elapsed)} "
          f"ETA {_fmt_secs(eta)}", file=out, flush=True)
    return 0
