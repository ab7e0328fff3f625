"""Run a suite: expand it into cells, fit and score each, store records.

A *cell* is (dataset, normal class, repetition, model). Detector configs that
share a class and parameters (e.g. ``vae`` and ``ed-vae``) share one model,
trained once per cell; every scoring rule of a latent model is a reduction of
one posterior draw of that model, so rule comparisons are paired.
"""
from __future__ import annotations

import contextlib
import hashlib
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
from anobench.api import LabeledData
from anobench.classes import resolve_classes, resolve_label
from anobench.deadline import CellTimeout, deadline
from anobench.errors import AnobenchError, DataError, SuiteError
from anobench.executors import Executor
from anobench.metrics import candidate_metrics, check_scores, compute_metrics, oracle_pick
from anobench.protocol import check_test_set, largest_fitting_ratio, normal_key, test_set_sizes
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
from anobench.suite import DetectorConfig, Suite
from anobench.units import (
    CellOutcome, CellTask, ModelGroup, WorkUnit, fit_cohort_unit,
    instantiate, model_groups, suite_cells, work_units, worker_registry,
)

log = logging.getLogger("anobench.runner")


def load_datasets(suite: Suite, registry: Registry, data_dir=None) -> dict[str, LabeledData]:
    """Load every dataset of the suite and check the classes it names exist."""
    out = {}
    for i, entry in enumerate(suite.datasets):
        spec = registry.datasets[entry.name]
        try:
            data = spec.loader(data_dir=data_dir, **entry.options)
        except AnobenchError:
            raise
        except Exception as exc:
            raise DataError(f"dataset {entry.name!r} (plugin {spec.plugin!r}) failed to load: "
                            f"{type(exc).__name__}: {exc}") from exc
        source = f" ({entry.options['path']})" if entry.options.get("path") else ""
        seen: dict[Any, int] = {}
        for j, c in enumerate(entry.classes or ()):
            try:
                (label,) = resolve_classes(data, [c], f"{entry.label!r}{source}")
            except ValueError as exc:
                raise SuiteError(f"{suite.path}: datasets[{i}].classes[{j}]: {exc}") from None
            key = tuple(sorted(label)) if isinstance(label, tuple) else label
            if key in seen:
                raise SuiteError(f"{suite.path}: datasets[{i}].classes[{j}]: {c!r} is the class "
                                 f"of classes[{seen[key]}] again (listed twice)")
            seen[key] = j
        out[entry.label] = data
    check_report_curves(suite, out)
    return out


def check_report_curves(suite: Suite, datasets: dict[str, LabeledData]) -> None:
    """``[report] curves`` must name a class the suite runs (checked by ``validate`` and ``run``)."""
    for i, cell in enumerate(suite.report.curves):
        entry = next(e for e in suite.datasets if e.label == cell.dataset)  # checked at load
        data = datasets[entry.label]
        normals = resolve_classes(data, entry.classes, repr(entry.label)) if entry.classes \
            else data.classes
        run = [normal_key(c) for c in normals]
        key: str | None = cell.normal
        if key not in run:
            try:
                key = normal_key(resolve_label(data, cell.normal, repr(entry.label)))
            except ValueError:
                key = None
        if key not in run:
            raise SuiteError(f"{suite.path}: report.curves[{i}]: class {cell.normal!r} is not run "
                             f"for dataset {cell.dataset!r}; classes run: {', '.join(run)}")


def resolve_suite_classes(suite: Suite, datasets: dict[str, LabeledData]) -> Suite:
    """The suite with every entry's class names replaced by labels (after :func:`load_datasets`)."""
    entries = tuple(
        replace(e, classes=resolve_classes(datasets[e.label], e.classes, repr(e.label)))
        if e.classes else e for e in suite.datasets)
    return replace(suite, datasets=entries)


def check_test_sets(suite: Suite, datasets: dict[str, LabeledData]) -> None:
    """Check that every normal class of every entry gets a test set (``validate`` and ``run``).

    Raises :class:`SuiteError` naming the suite file, the entry, the dataset
    label and a ratio that fits every class of the entry.
    """
    for i, entry in enumerate(suite.datasets):
        data = datasets[entry.label]
        normals = list(entry.classes or data.classes)
        fits = None
        if entry.anomalies == "ratio":
            sizes = [test_set_sizes(data, c, "ratio", entry.anomaly_ratio) for c in normals]
            fits = min(largest_fitting_ratio(n, m) for n, _, m in sizes)
        for normal in normals:
            try:
                check_test_set(data, normal, entry.anomalies, entry.anomaly_ratio,
                               label=entry.label, fits=fits)
            except DataError as exc:
                raise SuiteError(f"{suite.path}: datasets[{i}]: {exc}") from None


def check_data_fit(suite: Suite, registry: Registry, datasets: dict[str, LabeledData]) -> None:
    """Let each detector refuse parameters that cannot work on a loaded dataset.

    Calls the optional ``check_data(params, sample_shape)`` classmethod of
    every detector config for every dataset of the suite (see
    :meth:`anobench.api.Detector.check_data`); raises :class:`SuiteError`.
    """
    for cfg in suite.detectors:
        check = getattr(registry.detectors[cfg.name].cls, "check_data", None)
        if not callable(check):
            continue
        for entry in suite.datasets:
            shape = datasets[entry.label].sample_shape
            try:
                check(dict(cfg.params), shape)
            except (ValueError, TypeError) as exc:
                raise SuiteError(f"{suite.path}: detectors[{cfg.entry}].params: detector "
                                 f"{cfg.point!r} on dataset {entry.label!r} (samples of shape "
                                 f"{shape}): {exc}") from None


def resolve_device(requested: str) -> str:
    if requested == "cpu":
        return "cpu"
    import torch

    if requested == "cuda":
        if not torch.cuda.is_available():
            raise AnobenchError("--device cuda: no CUDA device is available")
        return "cuda"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _needs_device(groups: list[ModelGroup]) -> bool:
    import inspect

    return any("device" in inspect.signature(g.cls.__init__).parameters for g in groups)


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


def samples_read(cfg: DetectorConfig, rules: dict[str, Any]) -> int:
    """Posterior samples the rules of one suite entry read (at most its ``n_samples``)."""
    need = 0
    for rname in cfg.rules:
        rule = rules[rname]
        cap = getattr(rule, "max_samples", None)
        need = max(need, cfg.n_samples if cap is None else min(cfg.n_samples, cap),
                   min(cfg.n_samples, getattr(rule, "min_samples", 1)))
    return need


def oracle_scores(rule: Any, draw: Any, measure: str, y: np.ndarray, metrics: tuple[str, ...],
                  cache: dict[str, dict[str, np.ndarray]] | None = None) -> dict[str, Any]:
    """Score an oracle rule: every metric of every candidate, the chosen one per metric.

    The stored score vector (``scores/*.npz``) is the candidate chosen for the
    first metric of the suite. ``cache`` (per cell) shares the metric values
    of identical candidate sets, e.g. between ``best`` and ``worst``.
    """
    n = len(y)
    cands = np.asarray(rule.candidates(draw, measure))
    if cands.ndim != 2 or len(cands) < 1 or cands.shape[1] != n:
        raise ValueError(f"candidates have shape {cands.shape}, expected (K, {n}) with K >= 1")
    rows = np.stack([check_scores(row, n) for row in cands])
    key = hashlib.sha256(rows.tobytes()).hexdigest()
    cache = {} if cache is None else cache
    if key not in cache:
        cache[key] = candidate_metrics(y, rows, metrics)
    _, picked = oracle_pick(cache[key], rule.choose)
    # the value shown is the chosen candidate's metric as every other column computes it
    values = {m: compute_metrics(y, rows[picked[m]], (m,))[m] for m in metrics}
    return dict(scores=rows[picked[metrics[0]]], values=values, picked=picked)


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
    info = jsonable(dict(det.fit_info()), "fit_info()") if callable(
        getattr(det, "fit_info", None)) else {}
    if fitted is not None and cohort:
        info.setdefault("cohort_size", cohort[0])
    n = len(split.y_test)
    results: list[dict] = []
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
        oracle_cache: dict[str, dict[str, np.ndarray]] = {}
        for cfg in group.configs:
            draw = full_draw.head(cfg.n_samples)  # each entry sees its own L
            for col in cfg.columns:
                rule = rules[col.rule]
                try:
                    if getattr(rule, "oracle", False):
                        scored = oracle_scores(rule, draw, col.measure, split.y_test,
                                               suite.metrics, oracle_cache)
                    else:
                        scored = dict(scores=check_scores(rule.reduce(draw, col.measure), n))
                except ValueError as exc:
                    raise ValueError(f"scoring rule {col.rule!r} ({col.measure}): {exc}") from exc
                cap = getattr(rule, "max_samples", None)  # samples the rule read
                samples = cfg.n_samples if cap is None else min(cfg.n_samples, cap)
                results.append(dict(column=col, cfg=cfg, fields={"samples": samples}, **scored))
    score_s = time.perf_counter() - t1
    records = []
    for res in results:
        cfg = res["cfg"]
        values = res.get("values") or compute_metrics(split.y_test, res["scores"], suite.metrics)
        for metric, value in values.items():
            records.append(dict(
                kind="result", **res["column"].record_fields(), **res["fields"],
                detector=cfg.name, params=cfg.params, metric=metric, value=value,
                fit_seconds=round(fit_s, 4), score_seconds=round(score_s, 4), fit_info=info,
            ))
            if "picked" in res:
                records[-1].update(oracle=True, oracle_candidate=res["picked"][metric])
    return records, {"fit_seconds": fit_s, "score_seconds": score_s, "info": info,
                     "scores": [(r["column"].name, r["column"].measure, r["scores"])
                                for r in results]}


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
    ``on_start(suite, datasets, groups, todo, device, done)`` is called once the cells
    still to run are known, before the first runs (``anobench run`` prints its plan).
    """
    out = stream or sys.stderr
    datasets = load_datasets(suite, registry, data_dir)
    suite = resolve_suite_classes(suite, datasets)
    check_test_sets(suite, datasets)
    check_data_fit(suite, registry, datasets)
    groups = model_groups(suite, registry)
    dev = resolve_device(device or suite.device) if _needs_device(groups) else None
    owned = not isinstance(executor, Executor)
    ex = make_executor(registry, executor, jobs, _cuda_devices(dev, jobs),
                       **(executor_options or {})) if owned else executor
    run = dict(dev=dev, out=out, on_cell=on_cell, executor=ex, owned=owned, jobs=jobs,
               cohort_size=cohort_size, on_start=on_start)

    ident = run_identity(suite.sha256, suite.seed)
    if resume:
        run_dir = latest_run_dir(Path(results_root), suite.name) if resume is True else Path(resume)
        meta = read_meta(run_dir)
        if meta.get("suite_sha256") != suite.sha256:
            raise SuiteError(f"{suite.path}: the suite changed since run {run_dir} was started "
                             "(hash differs); start a new run instead of --resume")
        writer = RunWriter(run_dir, ident if meta.get("store_format") == STORE_FORMAT else None)
    else:
        run_dir = new_run_dir(Path(results_root), suite.name)
        writer = RunWriter(run_dir, ident)
    with writer:  # one writer per run directory, taken before reading what is done
        if resume:
            stored = load_store(run_dir)  # refuses lines that are not this run's records
            for note in stored.notes():
                print(f"anobench: {note}; those cells run again", file=out, flush=True)
            skip = stored.done()
            meta.setdefault("resumed", []).append(time.strftime("%Y-%m-%dT%H:%M:%S"))
            write_meta(run_dir, meta)
            return run_dir, _run_cells(suite, registry, datasets, groups, run_dir, skip, writer,
                                       **run)
        try:
            write_meta(run_dir, {
                "suite_name": suite.name, "suite_path": suite.path,
                "suite_sha256": suite.sha256, "suite_text": suite.text, "seed": suite.seed,
                "run_identity": ident, "store_format": STORE_FORMAT,
                "code_version": _code_version(), "packages": _versions(),
                "python": platform.python_version(), "platform": platform.platform(),
                "device": dev or "cpu", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "argv": sys.argv, "executor": type(ex).name, "jobs": jobs,
                # the suite's order of datasets and columns, for the report's tables
                "datasets": [d.label for d in suite.datasets],
                "columns": list(dict.fromkeys(c.name for d in suite.detectors
                                              for c in d.columns)),
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
    fitted: list[Any] = fit_cohort_unit(unit) if len(unit.tasks) > 1 else [None]
    out = []
    for task, fit in zip(unit.tasks, fitted):
        spec = unit.registry.detectors[task.group.name]
        try:
            if isinstance(fit, Exception):
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


def _marker(timing: dict) -> dict:
    return dict(status="ok", fit_seconds=timing["fit_seconds"],
                score_seconds=timing["score_seconds"], fit_info=timing["info"])


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
               on_cell, executor, owned, jobs, cohort_size, on_start) -> int:
    """Run the cells not in ``skip`` on ``executor``; return the number of failed cells."""
    cells = suite_cells(suite, datasets, groups)
    todo = [c for c in cells if c[4] not in skip]
    print(f"anobench: suite {suite.name!r}: {len(cells)} cells ({len(cells) - len(todo)} done "
          f"earlier), device {dev or 'cpu'}, results in {run_dir}"
          + (f", {jobs} jobs ({type(executor).name})" if jobs > 1 else ""), file=out, flush=True)
    if on_start:
        on_start(suite, datasets, groups, todo, dev, len(cells) - len(todo))
    failed = 0
    k = 0
    start = time.perf_counter()
    units = work_units(todo, datasets, worker_registry(registry), suite, dev, cohort_size)
    try:
        with executor if owned else contextlib.nullcontext():
            for unit, outcomes in executor.map(execute_unit, units):
                for task, res in zip(unit.tasks, outcomes):
                    k += 1
                    failed += _store(run_dir, writer, task, res, suite, out, k, len(todo), start)
                    if on_cell:
                        on_cell(task.base)
    except KeyboardInterrupt:
        print(f"\nanobench: interrupted; finished cells are stored. Resume with:\n"
              f"  anobench run {suite.path} --resume {run_dir}", file=out, flush=True)
        raise
    if failed:
        print(f"anobench: {failed} cell(s) failed; their errors are in {run_dir / 'records.jsonl'}",
              file=out, flush=True)
    return failed


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
    block = encode_block(cid, [dict(base, **r) for r in records], dict(base, **_marker(timing)),
                         writer.run)
    save_scores(run_dir, cid, task.split.y_test, timing["scores"])  # before the records block
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
