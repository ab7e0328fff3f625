"""Declarative TOML suites: loading, strict validation and grid expansion.

A suite file has a ``[suite]`` table, one or more ``[[datasets]]`` and
``[[detectors]]`` entries and an optional ``[report]`` table. Every key is
declared once in :mod:`anobench.options` (type, default, rules, meaning),
from which this validation, the JSON Schema of suites (``anobench schema``)
and the docs come. Unknown keys are errors naming the key path with a
did-you-mean hint; types and ranges are checked; dataset options and
detector parameters are checked against the plugin's signature; a list of
values for a parameter is a grid (:mod:`anobench.suite_detectors`).
"""
from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import tomllib

from anobench.errors import SuiteError
from anobench.limits import check_cells, grid_points
from anobench.options.report import ReportOptions, RunLayout, parse_report_options
from anobench.options.spec import (
    OptionSource,
    check_keys,
    check_type,
    check_value,
    in_file,
    no_repeats,
    option_named,
    parse_table,
)
from anobench.options.tables import FILE_DATASET, DatasetKeys, SuiteSettings, check_params
from anobench.protocol import DEFAULT_ANOMALY_RATIO
from anobench.registry import Registry, did_you_mean
from anobench.suite_detectors import DetectorConfig, check_label, parse_detectors

__all__ = ["DatasetEntry", "DetectorConfig", "Suite", "load_suite", "parse_suite"]

#: Dataset labels that name rows of the report (the paired tests' pooled row).
RESERVED_LABELS = ("all",)
#: The tables a suite file may have.
TABLES = ("suite", "datasets", "detectors", "report")


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    label: str
    classes: tuple[Any, ...] | None  # None = every class; items: label, name or a tuple of them
    options: dict[str, Any] = field(default_factory=dict)
    anomalies: str = "ratio"  # "ratio" or "all" (anobench.protocol.ANOMALY_SETTINGS)
    anomaly_ratio: float = DEFAULT_ANOMALY_RATIO  # used when anomalies == "ratio"

    @property
    def test_setting(self) -> str:
        """The anomaly setting in words, e.g. ``anomaly_ratio 0.2`` or ``anomalies all``."""
        return "anomalies = all" if self.anomalies == "all" else \
            f"anomaly_ratio = {self.anomaly_ratio:g}"


@dataclass(frozen=True, kw_only=True)
class Suite(SuiteSettings):
    """A loaded suite: its ``[suite]`` settings (inherited), entries and report options.

    ``anomaly_ratio`` and ``anomalies`` are the suite's defaults; each dataset
    entry holds its own.
    """

    path: str
    text: str
    sha256: str
    datasets: tuple[DatasetEntry, ...]
    detectors: tuple[DetectorConfig, ...]
    report: ReportOptions = field(default_factory=ReportOptions)


def parse_suite(text: str, path: str, registry: Registry) -> Suite:
    """Parse and validate suite text; raise :class:`SuiteError` naming the problem."""
    file = in_file(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise file.error("", f"malformed TOML: {exc}") from None
    except RecursionError:
        raise file.error("", "malformed TOML: arrays or tables nested too deeply") from None
    check_keys(file, doc, TABLES)
    head = doc.get("suite", {})
    if not isinstance(head, dict):
        raise file.error("suite", "must be a table ([suite])")
    settings = _settings(file, path, head)
    datasets = _parse_datasets(file, Path(path).parent, doc.get("datasets"), registry, settings)
    # counted before a grid is expanded: the classes named (at least one per entry)
    check_cells(path, sum(len(d.classes) if d.classes else 1 for d in datasets),
                settings.repetitions, grid_points(path, doc.get("detectors")),
                settings.max_cells, known=all(d.classes for d in datasets))
    detectors = parse_detectors(file, _entries(file, "detectors", doc.get("detectors")),
                                registry)
    report = parse_report_options(doc.get("report", {}), path, metrics=settings.metrics,
                                  columns=[c for d in detectors for c in d.columns],
                                  layout=RunLayout(tuple(d.label for d in datasets),
                                                   settings.repetitions))
    return Suite(**{f.name: getattr(settings, f.name) for f in fields(SuiteSettings)},
                 path=path, text=text, sha256=hashlib.sha256(text.encode()).hexdigest(),
                 datasets=datasets, detectors=detectors, report=report)


def _settings(file: OptionSource, path: str, head: dict[str, Any]) -> SuiteSettings:
    """The ``[suite]`` table, checked, with its defaults (the name: the file's)."""
    src = file.table("suite")
    vals = parse_table(SuiteSettings, head, src)
    if "name" not in vals:
        vals["name"] = check_value(src, option_named(SuiteSettings, "name"), Path(path).stem)
    if "metrics" in vals:
        vals["metrics"] = tuple(vals["metrics"])
    _anomalies(src, vals, default="ratio")
    return SuiteSettings(**vals)


def _anomalies(src: OptionSource, vals: dict[str, Any], default: str) -> str:
    """The ``anomalies`` setting of a table; ``anomaly_ratio`` beside ``"all"`` is refused."""
    value = vals.get("anomalies", default)
    if value == "all" and "anomaly_ratio" in vals:
        raise src.fail(src.at("anomaly_ratio"), 'has no effect with anomalies = "all" (every '
                       "test sample of the other classes); remove one of the two")
    return value


def _entries(file: OptionSource, key: str, value: Any) -> list[dict]:
    if value is None:
        raise file.error("", f"no [[{key}]] entries")
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise file.error(key, f"must be an array of tables ([[{key}]])")
    if not value:
        raise file.error("", f"no [[{key}]] entries")
    return value


# ------------------------------------------------------------------ datasets

def _parse_datasets(file: OptionSource, folder: Path, value: Any, registry: Registry,
                    suite: SuiteSettings) -> tuple[DatasetEntry, ...]:
    """The ``[[datasets]]`` entries; ``folder``: the suite file's (paths are relative to it)."""
    out = tuple(_dataset(file, folder, i, entry, registry, suite)
                for i, entry in enumerate(_entries(file, "datasets", value)))
    labels = [d.label for d in out]
    for lab in labels:
        if labels.count(lab) > 1:
            raise file.error("datasets", f"dataset label {lab!r} appears twice; set a distinct "
                                         "'label'")
    return out


def _dataset(file: OptionSource, folder: Path, i: int, entry: dict[str, Any],
             registry: Registry, suite: SuiteSettings) -> DatasetEntry:
    where = f"datasets[{i}]"
    src = file.table(where)
    if "name" not in entry:
        raise file.error(where, "missing key 'name'")
    dname = check_type(src, src.at("name"), entry["name"], str)
    default_label = dname
    if "path" in entry and "path" not in getattr(registry.datasets.get(dname), "parameters",
                                                  {}):
        # your own file: read by the file dataset, the entry's name is its label
        if FILE_DATASET not in registry.datasets:
            raise src.fail(src.at("path"), f"no dataset plugin reads files (dataset "
                                           f"{FILE_DATASET!r} is not registered)")
        dname = FILE_DATASET
    if dname not in registry.datasets:
        raise src.fail(src.at("name"), f"unknown dataset {dname!r}"
                       f"{did_you_mean(dname, registry.datasets)}; known: "
                       f"{', '.join(sorted(registry.datasets))} (or give a path = ... to "
                       "your own data file)")
    spec = registry.datasets[dname]
    keys = parse_table(DatasetKeys, entry, src, extra=spec.parameters)
    options = {k: v for k, v in entry.items() if k not in keys}
    check_params(src, options, spec.parameters, f"dataset {dname!r}")
    for key, p in spec.parameters.items():
        if p.default is inspect.Parameter.empty and key not in options:
            raise file.error(where, f"missing key {key!r} (dataset {dname!r} needs it)")
    options = {k: _relative_to(folder, v) if _is_path_key(k) else v for k, v in options.items()}
    classes = _classes(src, keys["classes"]) if "classes" in keys else None
    label = check_label(src, "label" if "label" in keys else "name",
                        keys.get("label", default_label))
    if label.strip().casefold() in RESERVED_LABELS:
        raise src.fail(src.at("label"), f"{label!r} names the report's row pooled over all "
                                        "datasets; set another label")
    own: dict[str, Any] = {k: keys[k] for k in ("anomalies", "anomaly_ratio") if k in keys}
    # an entry's own setting wins over the suite's: its anomaly_ratio means "ratio"
    setting = _anomalies(src, own, default="ratio" if "anomaly_ratio" in own
                         else suite.anomalies)
    return DatasetEntry(dname, label, classes, options, setting,
                        own.get("anomaly_ratio", suite.anomaly_ratio))


def _is_path_key(key: str) -> bool:
    return key == "path" or key.endswith("_path")


def _relative_to(folder: Path, value: Any) -> Any:
    """Dataset options ``path`` / ``*_path`` are relative to the suite file's folder."""
    if not isinstance(value, str) or not value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else folder / p)


def _is_class(x: Any) -> bool:
    return (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, str) and bool(x))


def _classes(src: OptionSource, value: list[Any]) -> tuple[Any, ...]:
    """Normal classes: labels (int) or class names (str); a list is one normal set."""
    out: list[Any] = []
    for i, c in enumerate(value):
        if isinstance(c, list):
            if not c or not all(_is_class(x) for x in c):
                raise src.fail(src.at("classes", i), f"a set of normal classes must be class "
                                                     f"labels (integers) or names, got {c!r}")
            no_repeats(src, c, partial(src.at, "classes", i))
            out.append(tuple(c))
        elif _is_class(c):
            out.append(c)
        else:
            raise src.fail(src.at("classes", i), f"class labels are integers or class names, "
                                                 f"got {c!r}")
    if not out:
        raise src.fail(src.at("classes"), "needs at least one class")
    no_repeats(src, [tuple(sorted(c, key=repr)) if isinstance(c, tuple) else c for c in out],
               lambda i: src.at("classes", i))
    return tuple(out)


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
