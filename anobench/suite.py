"""Declarative TOML suites: loading, strict validation and grid expansion.

A suite file has a ``[suite]`` table, one or more ``[[datasets]]`` and
``[[detectors]]`` entries and an optional ``[report]`` table (see README).
Unknown keys are errors naming the key path with a did-you-mean hint; types
and ranges are checked; detector parameters are checked against the plugin's
``__init__`` signature; a list of values for a parameter is a grid.
"""
from __future__ import annotations

import hashlib
import inspect
import itertools
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from anobench.api import MEASURES, missing_draw_fields
from anobench.column import Column, grid_point
from anobench.errors import SuiteError
from anobench.limits import (
    MAX_CELLS,
    MAX_GRID_POINTS,
    MAX_SAMPLES,
    check_cells,
    check_max_cells,
    grid_points,
)
from anobench.metrics import METRICS
from anobench.registry import Registry, did_you_mean
from anobench.report.options import ReportOptions, RunLayout, parse_report_options

SUITE_KEYS = {
    "name": str, "description": str, "seed": int, "repetitions": int,
    "anomaly_ratio": float, "anomalies": str, "val_fraction": float, "metrics": list,
    "device": str, "cell_timeout": float, "resources": dict, "keep_models": bool,
    "max_cells": int,
}
#: Upper bounds checked at load time, so ``validate`` refuses what ``run`` could not hold.
MAX_REPETITIONS = 10_000
#: The longest ``cell_timeout``: a week (longer is a typo; ``inf`` overflows the timer).
MAX_CELL_TIMEOUT = 7 * 24 * 3600
#: Dataset labels that name rows of the report (the paired tests' pooled row).
RESERVED_LABELS = ("all",)
DATASET_KEYS = {"name": str, "classes": list, "label": str, "anomaly_ratio": float,
                "anomalies": str}
#: How a test set gets its anomalies: ``ratio`` draws ``floor(n/(1-p)·p)`` of them,
#: ``all`` takes every test sample of the other classes.
ANOMALIES = ("ratio", "all")
DETECTOR_KEYS = {
    "name": str, "label": str, "params": dict, "rules": list, "measures": list, "n_samples": int,
    "resources": dict,
}
#: What one work unit asks a scheduling executor (ray) for: ``cpus`` > 0, ``gpus`` >= 0.
RESOURCE_KEYS = {"cpus": float, "gpus": float}
DEVICES = ("auto", "cpu", "cuda")
#: The dataset that reads a ``path =`` given on an entry whose dataset takes no path.
FILE_DATASET = "custom"


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    label: str
    classes: tuple[Any, ...] | None  # None = every class; items: label, name or a tuple of them
    options: dict[str, Any] = field(default_factory=dict)
    anomalies: str = "ratio"  # "ratio" or "all" (see ANOMALIES)
    anomaly_ratio: float = 0.2  # used when anomalies == "ratio"

    @property
    def test_setting(self) -> str:
        """The anomaly setting in words, e.g. ``anomaly_ratio 0.2`` or ``anomalies all``."""
        return "anomalies = all" if self.anomalies == "all" else \
            f"anomaly_ratio = {self.anomaly_ratio:g}"


@dataclass(frozen=True)
class DetectorConfig:
    """One point of a detector entry's grid: fixed parameters and the rules to score."""

    name: str
    label: str  # the entry's label (the detector name unless set)
    params: dict[str, Any]
    rules: tuple[str, ...]  # empty for non-latent detectors
    measures: tuple[str, ...]
    n_samples: int
    grid_params: dict[str, Any] = field(default_factory=dict)
    entry: int = 0  # index of its [[detectors]] entry, for messages
    #: the table columns this grid point writes: one per (rule, measure) it scores
    columns: tuple[Column, ...] = ()
    #: resources one unit of this detector asks a scheduling executor for (empty: the suite's)
    resources: dict[str, float] = field(default_factory=dict)

    @property
    def point(self) -> str:
        """The entry's label at this grid point, e.g. ``vae[beta=0.5]``."""
        return Column(self.label, grid_point(self.grid_params)).name


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    text: str
    sha256: str
    description: str
    seed: int
    repetitions: int
    anomaly_ratio: float  # the suite's default; each dataset entry holds its own
    val_fraction: float
    metrics: tuple[str, ...]
    device: str
    datasets: tuple[DatasetEntry, ...]
    detectors: tuple[DetectorConfig, ...]
    report: ReportOptions = field(default_factory=ReportOptions)
    cell_timeout: float = 0.0  # seconds a cell may take; 0: no limit
    resources: dict[str, float] = field(default_factory=dict)  # per unit, for executors like ray
    keep_models: bool = False  # store each trained model under the run (anobench rescore)
    max_cells: int = MAX_CELLS  # cells it may expand to (anobench.limits)


class _Ctx:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, msg: str) -> SuiteError:
        return SuiteError(f"{self.path}: {where}: {msg}" if where else f"{self.path}: {msg}")


def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", list: "a list",
            dict: "a table", bool: "true or false"}.get(t, t.__name__)


def _check_type(ctx: _Ctx, where: str, value: Any, t: type) -> Any:
    ok = isinstance(value, t) and not (t in (int, float) and isinstance(value, bool))
    if t is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        raise ctx.fail(where, f"expected {_type_name(t)}, got {value!r}")
    return value


def _check_keys(ctx: _Ctx, where: str, table: dict, allowed: dict | set) -> None:
    for key in table:
        if key not in allowed:
            path = f"{where}.{key}" if where else key
            raise ctx.fail(path, f"unknown key{did_you_mean(key, allowed)}; allowed: "
                           f"{', '.join(sorted(allowed))}")


def _grid(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _param_type_ok(p: inspect.Parameter, value: Any) -> bool:
    default = p.default
    if default is None or default is inspect.Parameter.empty:
        ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        if ann and "None" not in str(ann) and ann in ("int", "float", "str", "bool"):
            default = {"int": 0, "float": 0.0, "str": "", "bool": False}[ann]
        else:
            return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list))
    return True


def _check_params(ctx, where, params: dict, signature: dict[str, inspect.Parameter], owner: str,
                  reserved: Collection[str] = frozenset(), types: bool = True) -> None:
    for key, value in params.items():
        path = f"{where}.{key}"
        if key not in signature or key in reserved:
            allowed = sorted(set(signature) - set(reserved))
            raise ctx.fail(path, f"unknown parameter {key!r} for {owner}"
                           f"{did_you_mean(key, allowed)}; parameters: {', '.join(allowed) or 'none'}")
        for i, v in enumerate(_grid(value)):
            if types and not _param_type_ok(signature[key], v):
                at = f"{path}[{i}]" if isinstance(value, list) else path
                raise ctx.fail(at, f"{v!r} has the wrong type for {owner} "
                               f"(default is {signature[key].default!r})")


def _is_class(x: Any) -> bool:
    return (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, str) and bool(x))


def _classes(ctx: _Ctx, where: str, value: Any) -> tuple[Any, ...]:
    """Normal classes: labels (int) or class names (str); a list is one normal set."""
    out = []
    for i, c in enumerate(value):
        if isinstance(c, list):
            if not c or not all(_is_class(x) for x in c):
                raise ctx.fail(f"{where}[{i}]", f"a set of normal classes must be class labels "
                               f"(integers) or names, got {c!r}")
            _no_repeats(ctx, f"{where}[{i}]", c)
            out.append(tuple(c))
        elif _is_class(c):
            out.append(c)
        else:
            raise ctx.fail(f"{where}[{i}]", f"class labels are integers or class names, got {c!r}")
    if not out:
        raise ctx.fail(where, "needs at least one class")
    _no_repeats(ctx, where, [tuple(sorted(c, key=repr)) if isinstance(c, tuple) else c
                             for c in out])
    return tuple(out)


def parse_suite(text: str, path: str, registry: Registry) -> Suite:
    """Parse and validate suite text; raise :class:`SuiteError` naming the problem."""
    ctx = _Ctx(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ctx.fail("", f"malformed TOML: {exc}") from None
    except RecursionError:
        raise ctx.fail("", "malformed TOML: arrays or tables nested too deeply") from None
    _check_keys(ctx, "", doc, {"suite": 0, "datasets": 0, "detectors": 0, "report": 0})
    head = doc.get("suite", {})
    if not isinstance(head, dict):
        raise ctx.fail("suite", "must be a table ([suite])")
    _check_keys(ctx, "suite", head, SUITE_KEYS)
    vals = {k: _check_type(ctx, f"suite.{k}", v, SUITE_KEYS[k]) for k, v in head.items()}
    name = vals.get("name", Path(path).stem)
    seed = vals.get("seed", 0)
    reps = vals.get("repetitions", 10)
    ratio = vals.get("anomaly_ratio", 0.2)
    anomalies = _anomalies(ctx, "suite", vals, default="ratio")
    val_fraction = vals.get("val_fraction", 0.2)
    device = vals.get("device", "auto")
    metrics = tuple(vals.get("metrics", ["roc_auc", "pr_auc", "average_precision"]))
    if not name or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise ctx.fail("suite.name", f"{name!r} must be letters, digits, '-', '_' or '.'")
    if not name.strip("."):  # "." or "..": the run would land outside the results root
        raise ctx.fail("suite.name", f"{name!r} is not a folder name; use letters or digits")
    if seed < 0:
        raise ctx.fail("suite.seed", f"must be >= 0, got {seed}")
    if reps < 1:
        raise ctx.fail("suite.repetitions", f"must be >= 1, got {reps}")
    if reps > MAX_REPETITIONS:
        raise ctx.fail("suite.repetitions", f"at most {MAX_REPETITIONS}, got {reps}")
    timeout = vals.get("cell_timeout", 0.0)
    if timeout < 0 or timeout != timeout:
        raise ctx.fail("suite.cell_timeout", f"must be >= 0 seconds (0: no limit), got {timeout}")
    if timeout > MAX_CELL_TIMEOUT:
        raise ctx.fail("suite.cell_timeout", f"at most {MAX_CELL_TIMEOUT} seconds (a week; 0: no "
                                             f"limit), got {timeout:g}")
    if not 0.0 < ratio < 1.0:
        raise ctx.fail("suite.anomaly_ratio", f"must be in (0, 1), got {ratio}")
    if not 0.0 <= val_fraction < 1.0:
        raise ctx.fail("suite.val_fraction", f"must be in [0, 1), got {val_fraction}")
    if device not in DEVICES:
        raise ctx.fail("suite.device", f"must be one of {', '.join(DEVICES)}, got {device!r}")
    if not metrics:
        raise ctx.fail("suite.metrics", "needs at least one metric")
    for i, m in enumerate(metrics):
        _check_type(ctx, f"suite.metrics[{i}]", m, str)
        if m not in METRICS:
            raise ctx.fail(f"suite.metrics[{i}]", f"unknown metric {m!r}{did_you_mean(m, METRICS)}; "
                           f"known: {', '.join(METRICS)}")
    _no_repeats(ctx, "suite.metrics", metrics)

    max_cells = check_max_cells(path, vals.get("max_cells", MAX_CELLS))
    datasets = _parse_datasets(ctx, doc.get("datasets"), registry, anomalies, ratio)
    # counted before a grid is expanded: the classes named (at least one per entry)
    check_cells(path, sum(len(d.classes) if d.classes else 1 for d in datasets), reps,
                grid_points(path, doc.get("detectors")), max_cells,
                known=all(d.classes for d in datasets))
    detectors = _parse_detectors(ctx, doc.get("detectors"), registry)
    report = parse_report_options(doc.get("report", {}), path, metrics=metrics,
                                  columns=[c for d in detectors for c in d.columns],
                                  layout=RunLayout(tuple(d.label for d in datasets), reps))
    return Suite(
        name=name, path=path, text=text, sha256=hashlib.sha256(text.encode()).hexdigest(),
        description=vals.get("description", ""), seed=seed, repetitions=reps,
        anomaly_ratio=ratio, val_fraction=val_fraction, metrics=metrics, device=device,
        datasets=datasets, detectors=detectors, report=report, cell_timeout=timeout,
        resources=_resources(ctx, "suite.resources", vals.get("resources", {})),
        keep_models=vals.get("keep_models", False),
        max_cells=max_cells,
    )


def _resources(ctx: _Ctx, where: str, value: Any) -> dict[str, float]:
    """``{cpus = 1, gpus = 0.25}``: what one work unit asks a scheduling executor for."""
    _check_type(ctx, where, value, dict)
    _check_keys(ctx, where, value, RESOURCE_KEYS)
    out = {k: _check_type(ctx, f"{where}.{k}", v, float) for k, v in value.items()}
    if "cpus" in out and not 0 < out["cpus"] <= 1024:
        raise ctx.fail(f"{where}.cpus", f"must be in (0, 1024], got {out['cpus']:g}")
    if "gpus" in out and not 0 <= out["gpus"] <= 64:
        raise ctx.fail(f"{where}.gpus", f"must be in [0, 64], got {out['gpus']:g}")
    return out


def _no_repeats(ctx: _Ctx, where: str, values: Any) -> None:
    """Refuse a value listed twice (it would run or be recorded twice)."""
    seen: set = set()
    for i, v in enumerate(values):
        if v in seen:
            raise ctx.fail(f"{where}[{i}]", f"{v!r} is listed twice")
        seen.add(v)


def _check_label(ctx: _Ctx, where: str, label: str) -> str:
    """Labels name cells (``dataset/class/rep/model``), files and table rows."""
    if not label.strip():
        raise ctx.fail(where, "must not be empty")
    bad = [ch for ch in label if ch == "/" or ch == "\\" or not ch.isprintable()]
    if bad:
        raise ctx.fail(where, f"{label!r} holds {bad[0]!r}; labels may not hold '/', '\\' or "
                              "control characters (line breaks, tabs)")
    return label


def _entries(ctx: _Ctx, key: str, value: Any) -> list[dict]:
    if value is None:
        raise ctx.fail("", f"no [[{key}]] entries")
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise ctx.fail(key, f"must be an array of tables ([[{key}]])")
    if not value:
        raise ctx.fail("", f"no [[{key}]] entries")
    return value


def _is_path_key(key: str) -> bool:
    return key == "path" or key.endswith("_path")


def _relative_to_suite(ctx: _Ctx, value: Any) -> Any:
    """Dataset options ``path`` / ``*_path`` are relative to the suite file's folder."""
    if not isinstance(value, str) or not value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else Path(ctx.path).parent / p)


def _anomalies(ctx: _Ctx, where: str, vals: dict[str, Any], default: str) -> str:
    """The ``anomalies`` setting of a table; ``anomaly_ratio`` beside ``"all"`` is refused."""
    value = vals.get("anomalies", default)
    if value not in ANOMALIES:
        raise ctx.fail(f"{where}.anomalies", f"must be one of {', '.join(map(repr, ANOMALIES))}, "
                       f"got {value!r}{did_you_mean(value, ANOMALIES)}")
    if value == "all" and "anomaly_ratio" in vals:
        raise ctx.fail(f"{where}.anomaly_ratio", 'has no effect with anomalies = "all" (every '
                       "test sample of the other classes); remove one of the two")
    return value


def _parse_datasets(ctx: _Ctx, value: Any, registry: Registry, anomalies: str = "ratio",
                    ratio: float = 0.2) -> tuple[DatasetEntry, ...]:
    out = []
    for i, entry in enumerate(_entries(ctx, "datasets", value)):
        where = f"datasets[{i}]"
        if "name" not in entry:
            raise ctx.fail(where, "missing key 'name'")
        dname = _check_type(ctx, f"{where}.name", entry["name"], str)
        default_label = dname
        if "path" in entry and "path" not in getattr(registry.datasets.get(dname), "parameters",
                                                      {}):
            # your own file: read by the file dataset, the entry's name is its label
            if FILE_DATASET not in registry.datasets:
                raise ctx.fail(f"{where}.path", f"no dataset plugin reads files (dataset "
                               f"{FILE_DATASET!r} is not registered)")
            dname = FILE_DATASET
        if dname not in registry.datasets:
            raise ctx.fail(f"{where}.name", f"unknown dataset {dname!r}"
                           f"{did_you_mean(dname, registry.datasets)}; known: "
                           f"{', '.join(sorted(registry.datasets))} (or give a path = ... to "
                           "your own data file)")
        spec = registry.datasets[dname]
        options = {k: v for k, v in entry.items() if k not in DATASET_KEYS}
        allowed = {**DATASET_KEYS, **spec.parameters}
        _check_keys(ctx, where, entry, allowed)
        _check_params(ctx, where, options, spec.parameters, f"dataset {dname!r}")
        for key, p in spec.parameters.items():
            if p.default is inspect.Parameter.empty and key not in options:
                raise ctx.fail(where, f"missing key {key!r} (dataset {dname!r} needs it)")
        options = {k: _relative_to_suite(ctx, v) if _is_path_key(k) else v
                   for k, v in options.items()}
        classes = None
        if "classes" in entry:
            classes = _classes(ctx, f"{where}.classes", _check_type(ctx, f"{where}.classes",
                                                                     entry["classes"], list))
        label = _check_label(ctx, f"{where}.label" if "label" in entry else f"{where}.name",
                             _check_type(ctx, f"{where}.label", entry.get("label", default_label),
                                         str))
        if label.strip().casefold() in RESERVED_LABELS:
            raise ctx.fail(f"{where}.label", f"{label!r} names the report's row pooled over all "
                                             "datasets; set another label")
        own = {k: _check_type(ctx, f"{where}.{k}", entry[k], DATASET_KEYS[k])
               for k in ("anomalies", "anomaly_ratio") if k in entry}
        # an entry's own setting wins over the suite's: its anomaly_ratio means "ratio"
        setting = _anomalies(ctx, where, own, default="ratio" if "anomaly_ratio" in own
                             else anomalies)
        entry_ratio = own.get("anomaly_ratio", ratio)
        if not 0.0 < entry_ratio < 1.0:
            raise ctx.fail(f"{where}.anomaly_ratio", f"must be in (0, 1), got {entry_ratio}")
        out.append(DatasetEntry(dname, label, classes, options, setting, entry_ratio))
    labels = [d.label for d in out]
    for lab in labels:
        if labels.count(lab) > 1:
            raise ctx.fail("datasets", f"dataset label {lab!r} appears twice; set a distinct 'label'")
    return tuple(out)


def _parse_detectors(ctx: _Ctx, value: Any, registry: Registry) -> tuple[DetectorConfig, ...]:  # noqa: C901 - one pass over the entries, checks in order
    out: list[DetectorConfig] = []
    for i, entry in enumerate(_entries(ctx, "detectors", value)):
        where = f"detectors[{i}]"
        _check_keys(ctx, where, entry, DETECTOR_KEYS)
        if "name" not in entry:
            raise ctx.fail(where, "missing key 'name'")
        dname = _check_type(ctx, f"{where}.name", entry["name"], str)
        try:
            spec = registry.detector(dname)
        except LookupError as exc:
            raise ctx.fail(f"{where}.name", exc.args[0]) from None
        params = _check_type(ctx, f"{where}.params", entry.get("params", {}), dict)
        _check_params(ctx, f"{where}.params", params, spec.parameters, f"detector {dname!r}",
                      reserved=set(spec.defaults),
                      types=spec.capabilities.param_types_from_defaults)
        label = _check_label(ctx, f"{where}.label",
                             _check_type(ctx, f"{where}.label", entry.get("label", dname), str))
        rules, measures, n_samples, explicit = _rules_for(ctx, where, entry, spec, registry)
        resources = _resources(ctx, f"{where}.resources", entry.get("resources", {}))
        keys = sorted(params)
        points = 1
        for k in keys:
            if isinstance(params[k], list) and not params[k]:
                raise ctx.fail(f"{where}.params.{k}", "an empty list: a grid needs at least one "
                                                     "value")
            points *= len(_grid(params[k]))
        if points > MAX_GRID_POINTS:
            raise ctx.fail(f"{where}.params", f"a grid of {points} points; at most "
                                              f"{MAX_GRID_POINTS} per entry")
        grid_keys = [k for k in keys if isinstance(params[k], list) and len(params[k]) > 1]
        for combo in itertools.product(*(_grid(params[k]) for k in keys)):
            point = dict(zip(keys, combo))
            grid = {k: point[k] for k in grid_keys}
            _check_values(ctx, f"{where}.params", spec, {**spec.defaults, **point})
            columns = _columns(label, grid_point(grid), rules, measures, explicit, registry)
            out.append(DetectorConfig(dname, label, {**spec.defaults, **point}, rules, measures,
                                      n_samples, grid, entry=i, columns=columns,
                                      resources=resources))
    all_points = [c.point for c in out]
    for col in all_points:
        if all_points.count(col) > 1:
            raise ctx.fail("detectors", f"column {col!r} appears twice; give one entry a 'label'")
    writers: dict[str, DetectorConfig] = {}  # a column name is written by one grid point only
    for cfg in out:
        for column in cfg.columns:
            other = writers.setdefault(column.name, cfg)
            if other is not cfg:
                raise ctx.fail(f"detectors[{cfg.entry}]", f"column {column.name!r} is also "
                               f"written by detectors[{other.entry}]; give one entry another "
                               "'label'")
    return tuple(out)


def _columns(label: str, grid: tuple, rules: tuple[str, ...], measures: tuple[str, ...],
             explicit: bool, registry: Registry) -> tuple[Column, ...]:
    """The columns one grid point of an entry writes: each rule read as each measure it has."""
    if not rules:
        return (Column(label, grid),)
    out: list[Column] = []
    for name in rules:
        rule = registry.rules[name].rule
        out.extend(Column(label, grid, name, m, explicit, bool(getattr(rule, "oracle", False)))
                   for m in measures if m in rule.measures)
    return tuple(out)


def _check_values(ctx: _Ctx, where: str, spec: Any, params: dict[str, Any]) -> None:
    """Let the detector refuse bad parameter values (optional ``check_params`` classmethod)."""
    if not spec.capabilities.check_params:
        return
    try:
        spec.cls.check_params(dict(params))
    except (ValueError, TypeError) as exc:
        raise ctx.fail(where, f"detector {spec.name!r}: {exc}") from None


def _rules_for(ctx, where, entry, spec, registry):
    has_rules = "rules" in entry
    if not spec.latent:
        for key in ("rules", "measures", "n_samples"):
            if key in entry:
                first = _grid(entry[key])[0] if key == "rules" and entry[key] else None
                what = f"scoring rule {first!r}" if first else f"{key!r}"
                raise ctx.fail(f"{where}.{key}", f"{what} cannot be used with detector "
                               f"{spec.name!r}: it has no posterior (not a latent-variable model)")
        return (), (), 0, False
    rules = tuple(_check_type(ctx, f"{where}.rules", entry.get("rules", [spec.default_rule]), list))
    measures = tuple(_check_type(ctx, f"{where}.measures", entry.get("measures", ["elbo"]), list))
    n_samples = _check_type(ctx, f"{where}.n_samples", entry.get("n_samples", 100), int)
    if not rules:
        raise ctx.fail(f"{where}.rules", "needs at least one scoring rule")
    if not measures:
        raise ctx.fail(f"{where}.measures", "needs at least one measure")
    for key, values in (("rules", rules), ("measures", measures)):
        for j, v in enumerate(values):
            _check_type(ctx, f"{where}.{key}[{j}]", v, str)
        _no_repeats(ctx, f"{where}.{key}", values)
    if n_samples > MAX_SAMPLES:
        raise ctx.fail(f"{where}.n_samples", f"at most {MAX_SAMPLES}, got {n_samples}")
    for j, m in enumerate(measures):
        if m not in MEASURES:
            raise ctx.fail(f"{where}.measures[{j}]", f"unknown measure {m!r}"
                           f"{did_you_mean(m, MEASURES)}; known: {', '.join(MEASURES)}")
    for j, r in enumerate(rules):
        if r not in registry.rules:
            raise ctx.fail(f"{where}.rules[{j}]", f"unknown scoring rule {r!r}"
                           f"{did_you_mean(r, registry.rules)}; known: {', '.join(sorted(registry.rules))}")
        rule = registry.rules[r].rule
        if not set(rule.measures) & set(measures):
            raise ctx.fail(f"{where}.rules[{j}]", f"scoring rule {r!r} supports measures "
                           f"{list(rule.measures)}, none of {list(measures)}")
        missing = missing_draw_fields(rule, spec.cls)
        if missing:
            raise ctx.fail(f"{where}.rules[{j}]", f"scoring rule {r!r} needs the posterior "
                           f"draw's {', '.join(missing)}, which detector {spec.name!r} does "
                           "not provide")
        if n_samples < getattr(rule, "min_samples", 1):
            raise ctx.fail(f"{where}.n_samples", f"scoring rule {r!r} needs at least "
                           f"{rule.min_samples} samples, got {n_samples}")
    if n_samples < 1:
        raise ctx.fail(f"{where}.n_samples", f"must be >= 1, got {n_samples}")
    return rules, measures, n_samples, has_rules


def load_suite(path: str | Path, registry: Registry) -> Suite:
    """Read and validate a suite file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{p}: suite file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{p}: cannot read suite: {exc}") from None
    return parse_suite(text, str(p), registry)
