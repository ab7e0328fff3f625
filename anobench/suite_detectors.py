"""The ``[[detectors]]`` entries of a suite: parameters, grids, rules and columns.

Each entry names a registered detector; its ``params`` are checked against
the plugin's ``__init__`` signature (and its optional ``check_params``), a
list of values is a grid expanded into one :class:`DetectorConfig` per point,
and a latent-variable detector's ``rules`` and ``measures`` are checked
against the scoring rules and what the detector provides. The keys
themselves are declared in :class:`anobench.options.tables.DetectorKeys`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from anobench.api import missing_draw_fields
from anobench.column import Column, grid_point
from anobench.limits import MAX_GRID_POINTS
from anobench.options.spec import OptionSource, parse_table
from anobench.options.tables import DetectorKeys, check_params
from anobench.registry import Registry, did_you_mean


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
class _Scoring:
    """What an entry scores: its rules read as its measures (empty for non-latent detectors)."""

    rules: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    n_samples: int = 0
    explicit: bool = False  # the entry names its rules (their names go into the columns)


def grid(value: Any) -> list[Any]:
    """A parameter's values: a list is a grid, anything else one value."""
    return list(value) if isinstance(value, list) else [value]


def parse_detectors(file: OptionSource, entries: list[dict], registry: Registry
                    ) -> tuple[DetectorConfig, ...]:
    """Every grid point of every ``[[detectors]]`` entry (``entries``: checked to be tables)."""
    out: list[DetectorConfig] = []
    for i, entry in enumerate(entries):
        out.extend(_entry(file, i, entry, registry))
    all_points = [c.point for c in out]
    for col in all_points:
        if all_points.count(col) > 1:
            raise file.error("detectors", f"column {col!r} appears twice; give one entry a "
                                          "'label'")
    writers: dict[str, DetectorConfig] = {}  # a column name is written by one grid point only
    for cfg in out:
        for column in cfg.columns:
            other = writers.setdefault(column.name, cfg)
            if other is not cfg:
                raise file.error(f"detectors[{cfg.entry}]", f"column {column.name!r} is also "
                                 f"written by detectors[{other.entry}]; give one entry another "
                                 "'label'")
    return tuple(out)


def _entry(file: OptionSource, i: int, entry: dict, registry: Registry) -> list[DetectorConfig]:
    where = f"detectors[{i}]"
    src = file.table(where)
    keys = parse_table(DetectorKeys, entry, src)
    if "name" not in keys:
        raise file.error(where, "missing key 'name'")
    dname = keys["name"]
    try:
        spec = registry.detector(dname)
    except LookupError as exc:
        raise src.fail(src.at("name"), exc.args[0]) from None
    params = keys.get("params", {})
    check_params(src.table("params"), params, spec.parameters, f"detector {dname!r}",
                 reserved=set(spec.defaults),
                 types=spec.capabilities.param_types_from_defaults)
    label = check_label(src, "label", keys.get("label", dname))
    scoring = _scoring(src, keys, spec, registry)
    names = sorted(params)
    points = 1
    for k in names:
        if isinstance(params[k], list) and not params[k]:
            raise file.error(f"{where}.params.{k}", "an empty list: a grid needs at least one "
                                                    "value")
        points *= len(grid(params[k]))
    if points > MAX_GRID_POINTS:
        raise file.error(f"{where}.params", f"a grid of {points} points; at most "
                                            f"{MAX_GRID_POINTS} per entry")
    grid_keys = [k for k in names if isinstance(params[k], list) and len(params[k]) > 1]
    out = []
    for combo in itertools.product(*(grid(params[k]) for k in names)):
        point = dict(zip(names, combo))
        at = {k: point[k] for k in grid_keys}
        _check_values(file, f"{where}.params", spec, {**spec.defaults, **point})
        out.append(DetectorConfig(dname, label, {**spec.defaults, **point}, scoring.rules,
                                  scoring.measures, scoring.n_samples, at, entry=i,
                                  columns=_columns(label, grid_point(at), scoring, registry),
                                  resources=keys.get("resources", {})))
    return out


def check_label(src: OptionSource, key: str, label: str) -> str:
    """Labels name cells (``dataset/class/rep/model``), files and table rows."""
    where = src.at(key)
    if not label.strip():
        raise src.fail(where, "must not be empty")
    bad = [ch for ch in label if ch == "/" or ch == "\\" or not ch.isprintable()]
    if bad:
        raise src.fail(where, f"{label!r} holds {bad[0]!r}; labels may not hold '/', '\\' or "
                              "control characters (line breaks, tabs)")
    return label


def _columns(label: str, at: tuple, scoring: _Scoring, registry: Registry
             ) -> tuple[Column, ...]:
    """The columns one grid point of an entry writes: each rule read as each measure it has."""
    if not scoring.rules:
        return (Column(label, at),)
    out: list[Column] = []
    for name in scoring.rules:
        rule = registry.rules[name].rule
        out.extend(Column(label, at, name, m, scoring.explicit,
                          bool(getattr(rule, "oracle", False)))
                   for m in scoring.measures if m in rule.measures)
    return tuple(out)


def _check_values(file: OptionSource, where: str, spec: Any, params: dict[str, Any]) -> None:
    """Let the detector refuse bad parameter values (optional ``check_params`` classmethod)."""
    if not spec.capabilities.check_params:
        return
    try:
        spec.cls.check_params(dict(params))
    except (ValueError, TypeError) as exc:
        raise file.error(where, f"detector {spec.name!r}: {exc}") from None


def _scoring(src: OptionSource, keys: dict[str, Any], spec: Any, registry: Registry
             ) -> _Scoring:
    """The entry's rules, measures and samples, checked against the detector and the rules."""
    if not spec.latent:
        for key in ("rules", "measures", "n_samples"):
            if key in keys:
                first = keys[key][0] if key == "rules" and keys[key] else None
                what = f"scoring rule {first!r}" if first else f"{key!r}"
                raise src.fail(src.at(key), f"{what} cannot be used with detector "
                               f"{spec.name!r}: it has no posterior (not a latent-variable "
                               "model)")
        return _Scoring()
    defaults = DetectorKeys()
    rules = tuple(keys.get("rules", [spec.default_rule]))
    measures = tuple(keys.get("measures", defaults.measures))
    n_samples = keys.get("n_samples", defaults.n_samples)
    for j, r in enumerate(rules):
        _check_rule(src, j, r, measures, n_samples, spec, registry)
    return _Scoring(rules, measures, n_samples, "rules" in keys)


def _check_rule(src: OptionSource, j: int, r: str, measures: tuple[str, ...], n_samples: int,
                spec: Any, registry: Registry) -> None:
    where = src.at("rules", j)
    if r not in registry.rules:
        raise src.fail(where, f"unknown scoring rule {r!r}{did_you_mean(r, registry.rules)}; "
                              f"known: {', '.join(sorted(registry.rules))}")
    rule = registry.rules[r].rule
    if not set(rule.measures) & set(measures):
        raise src.fail(where, f"scoring rule {r!r} supports measures {list(rule.measures)}, "
                              f"none of {list(measures)}")
    missing = missing_draw_fields(rule, spec.cls)
    if missing:
        raise src.fail(where, f"scoring rule {r!r} needs the posterior draw's "
                              f"{', '.join(missing)}, which detector {spec.name!r} does not "
                              "provide")
    if n_samples < getattr(rule, "min_samples", 1):
        raise src.fail(src.at("n_samples"), f"scoring rule {r!r} needs at least "
                                             f"{rule.min_samples} samples, got {n_samples}")

