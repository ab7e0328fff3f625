"""The keys of a suite file: ``[suite]``, ``[[datasets]]``, ``[[detectors]]``, ``resources``.

Each table is a dataclass whose fields are its options (:func:`~anobench.options.spec.option`):
the default, the meaning, the type and the rules of every key are written
here once. :class:`SuiteSettings` is also what a loaded
:class:`~anobench.suite.Suite` holds; the entries' keys
(:class:`DatasetKeys`, :class:`DetectorKeys`) are read into
:class:`~anobench.suite.DatasetEntry` and :class:`~anobench.suite.DetectorConfig`.
The ``[report]`` table is :class:`anobench.options.report.ReportOptions`.
"""
from __future__ import annotations

import inspect
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from anobench.api import MEASURES
from anobench.devices import DEVICES
from anobench.limits import (
    MAX_CELL_TIMEOUT,
    MAX_CELLS,
    MAX_CELLS_CEILING,
    MAX_REPETITIONS,
    MAX_SAMPLES,
)
from anobench.metrics import LABELS, METRICS
from anobench.options.spec import AtLeast, AtMost, Matches, OneOf, OptionSource, Within, option
from anobench.protocol import ANOMALY_SETTINGS, DEFAULT_ANOMALY_RATIO
from anobench.registry import did_you_mean


#: The dataset that reads a ``path =`` given on an entry whose dataset takes no path.
FILE_DATASET = "custom"


def metric_hint(name: Any) -> str:
    """Did-you-mean for a metric, also by its label (``auc`` -> ``roc_auc``)."""
    for metric, label in LABELS.items():
        if metric in METRICS and str(name).lower() == label.lower():
            return f" (did you mean {metric!r}?)"
    return did_you_mean(name, METRICS)


#: A metric's name, as a list item.
METRIC = OneOf(tuple(METRICS), noun="metric", hint=metric_hint)


def _folder_chars(name: str) -> bool:
    return bool(name) and all(ch.isalnum() or ch in "-_." for ch in name)


#: A suite's name is the folder of its runs: never a path, never "." or "..".
SUITE_NAME = (
    Matches(_folder_chars, "{value!r} must be letters, digits, '-', '_' or '.'",
            (("minLength", 1), ("pattern", "^[^/\\\\\\s]+$")), "letters, digits, `-`, `_`, `.`"),
    Matches(lambda name: bool(name.strip(".")), "{value!r} is not a folder name; use letters "
            "or digits", (("not", {"pattern": "^[.]+$"}),)),
)


@dataclass(frozen=True, kw_only=True)
class Resources:
    """A ``resources`` table: what one work unit asks a scheduling executor (ray) for."""

    cpus: float | None = option(None, "CPU cores a unit asks for", float, Within(0, 1024, "(]"),
                                default_text="the executor's")
    gpus: float | None = option(None, "GPUs a unit asks for (a fraction shares one)", float,
                                Within(0, 64), default_text="the executor's")


@dataclass(frozen=True, kw_only=True)
class SuiteSettings:
    """The ``[suite]`` table: the settings every dataset and detector entry shares."""

    name: str = option("", "the suite's name: its runs go to `<results>/<name>/<run-id>`", str,
                       *SUITE_NAME, default_text="the file's name without `.toml`")
    description: str = option("", "what the suite is for, in words", str)
    seed: int = option(0, "the seed every random stream (anomaly draws, splits, training) is "
                          "derived from", int, AtLeast(0))
    repetitions: int = option(10, "repetitions of every cell: the anomalies are drawn anew and "
                                  "the model trained with a new seed", int,
                              AtLeast(1), AtMost(MAX_REPETITIONS))
    anomaly_ratio: float = option(DEFAULT_ANOMALY_RATIO, "the share p of anomalies in a test "
                                  "set: floor(n/(1-p)·p) drawn from the other classes", float,
                                  Within(0, 1, "()"))
    anomalies: str = option("ratio", "how a test set gets its anomalies: `ratio` draws them "
                                     "(anomaly_ratio), `all` takes every test sample of the "
                                     "other classes", str, OneOf(ANOMALY_SETTINGS))
    val_fraction: float = option(0.2, "the stratified share of each normal class's training "
                                      "samples held out for validation (early stopping)", float,
                                 Within(0, 1, "[)"))
    metrics: tuple[str, ...] = option(tuple(METRICS), "the metrics computed for every cell",
                                      list, items=str, item_checks=(METRIC,), non_empty="metric",
                                      distinct=True)
    device: str = option("auto", "where neural detectors train: `auto` is CUDA where there is "
                                 "one", str, OneOf(DEVICES))
    cell_timeout: float = option(0.0, "seconds a cell may take before it fails (0: no limit)",
                                 float, AtLeast(0, " seconds", " (0: no limit)"),
                                 AtMost(MAX_CELL_TIMEOUT, " seconds", " (a week; 0: no limit)"))
    resources: dict[str, float] = option({}, "what one work unit asks a scheduling executor "
                                             "(ray) for: `{ cpus = 1, gpus = 0.25 }`", dict,
                                         table=Resources)
    keep_models: bool = option(False, "store every trained model under the run, so that "
                                      "`anobench rescore` can score it with more rules later",
                               bool)
    max_cells: int = option(MAX_CELLS, "the most cells the suite may expand to (classes × "
                                       "repetitions × detector grid points)", int,
                            Within(1, MAX_CELLS_CEILING))


@dataclass(frozen=True, kw_only=True)
class DatasetKeys:
    """The keys of a ``[[datasets]]`` entry; the dataset plugin's own options come beside them."""

    name: str = option(None, "a registered dataset (`anobench list`), or the label of your "
                             "own data file given with `path`", str, required=True)
    classes: list[Any] | None = option(None, "the normal classes, each one cell: labels "
                                             "(integers) or class names; a list of them is one "
                                             "normal set", list, default_text="every class",
                                       schema=(("minItems", 1), ("items", {"anyOf": [
                                           {"type": "integer"}, {"type": "string",
                                                                 "minLength": 1},
                                           {"type": "array", "minItems": 1, "items": {
                                               "type": ["integer", "string"]}}]}),))
    label: str | None = option(None, "the dataset's name in tables and cell ids", str,
                               default_text="`name`")
    anomaly_ratio: float | None = option(None, "this dataset's anomaly_ratio (and `anomalies = "
                                               "\"ratio\"`)", float, Within(0, 1, "()"),
                                         default_text="the suite's")
    anomalies: str | None = option(None, "this dataset's anomalies setting", str,
                                   OneOf(ANOMALY_SETTINGS), default_text="the suite's")


@dataclass(frozen=True, kw_only=True)
class DetectorKeys:
    """The keys of a ``[[detectors]]`` entry."""

    name: str = option(None, "a registered detector (`anobench list`), or a family's "
                             "`prefix:name` (`sklearn:module.Class`, `pyod:Class`)", str,
                       required=True)
    label: str | None = option(None, "the detector's name in tables: its columns are `label` "
                                     "or `label:rule`", str, default_text="`name`")
    params: dict[str, Any] = option({}, "the detector's parameters; a list of values is a grid "
                                        "(one model per point)", dict)
    rules: tuple[str, ...] | None = option(None, "scoring rules to read the posterior with "
                                                 "(latent-variable detectors)", list, items=str,
                                           non_empty="scoring rule", distinct=True,
                                           default_text="the detector's default rule")
    measures: tuple[str, ...] = option(("elbo",), "what each rule reads: `recon` (the "
                                                  "reconstruction error) or `elbo` (+ KL)",
                                       list, items=str,
                                       item_checks=(OneOf(MEASURES, noun="measure"),),
                                       non_empty="measure", distinct=True)
    n_samples: int = option(100, "posterior samples drawn per test example (rules that read "
                                 "samples)", int, AtLeast(1), AtMost(MAX_SAMPLES))
    resources: dict[str, float] = option({}, "what one unit of this detector asks a "
                                             "scheduling executor for", dict, table=Resources,
                                         default_text="the suite's")


# ------------------------------------------------------------------ plugin parameters

_BY_NAME = {"int": int, "float": float, "str": str, "bool": bool}


def param_kind(p: inspect.Parameter) -> type | None:
    """The TOML type of a plugin parameter, from its default (or a plain annotation).

    ``None``: any value (no default to go by, ``None``, or an object).
    """
    default = p.default
    if default is None or default is inspect.Parameter.empty:
        ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__",
                                                                         "")
        return _BY_NAME.get(ann) if ann and "None" not in str(ann) else None
    for kind in (bool, int, float, str):
        if isinstance(default, kind):
            return kind
    return list if isinstance(default, (tuple, list)) else None


def param_type_ok(p: inspect.Parameter, value: Any) -> bool:
    """Whether ``value`` fits parameter ``p`` (:func:`param_kind`; an integer is a number)."""
    kind = param_kind(p)
    if kind is None:
        return True
    if kind is list:
        return isinstance(value, (tuple, list))
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def check_params(src: OptionSource, params: dict[str, Any],
                 signature: dict[str, inspect.Parameter], owner: str, *,
                 reserved: Collection[str] = frozenset(), types: bool = True) -> None:
    """Refuse a parameter ``owner`` does not take, or a value (or grid value) of the wrong type.

    ``src`` names the table the parameters are in (``detectors[0].params.``).
    """
    allowed = sorted(set(signature) - set(reserved))
    for key, value in params.items():
        if key not in signature or key in reserved:
            raise src.fail(src.at(key), f"unknown parameter {key!r} for {owner}"
                           f"{did_you_mean(key, allowed)}; parameters: "
                           f"{', '.join(allowed) or 'none'}")
        values = value if isinstance(value, list) else [value]
        for i, v in enumerate(values):
            if types and not param_type_ok(signature[key], v):
                at = src.at(key, i) if isinstance(value, list) else src.at(key)
                raise src.fail(at, f"{v!r} has the wrong type for {owner} "
                                   f"(default is {signature[key].default!r})")

