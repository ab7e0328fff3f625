"""The identity of a result column: suite entry, grid point, scoring rule and measure.

A :class:`Column` is built once, where a suite is expanded
(:mod:`anobench.suite`); the runner writes its fields into every result
record (:meth:`Column.record_fields`) and the report reads them back
(:meth:`Column.from_record`). Tables group, match and order columns by these
fields; the name (``str(column)``, e.g. ``vae[beta=0.5]:single``) is only
shown, never parsed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GridPoint = tuple[tuple[str, Any], ...]


def format_grid_value(value: Any) -> str:
    """A grid value as written in a column name: floats with ``%g``, lists as lists."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_grid_value(v) for v in value) + "]"
    return str(value)


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def grid_point(params: dict[str, Any]) -> GridPoint:
    """A grid point from ``{parameter: value}``: sorted pairs, values hashable."""
    return tuple(sorted((str(k), _hashable(v)) for k, v in params.items()))


def grid_text(grid: GridPoint) -> str:
    """The grid part of a column name, ``[beta=0.5]``, or ``""`` without a grid."""
    if not grid:
        return ""
    return "[" + ",".join(f"{k}={format_grid_value(v)}" for k, v in grid) + "]"


@dataclass(frozen=True)
class Column:
    """One column of the result tables.

    Parameters
    ----------
    label : str
        The suite entry's ``label`` (the detector name unless set).
    grid : tuple of (str, value)
        The entry's grid point: the parameters that take several values in
        the entry, sorted by name; ``()`` without a grid.
    rule : str or None
        The scoring rule (``None`` for detectors without a posterior).
    measure : str or None
        ``recon`` or ``elbo`` for scoring rules, ``None`` otherwise.
    rule_in_name : bool
        Whether the name shows the rule (``vae:single``): true when the suite
        entry lists ``rules``.
    oracle : bool
        The rule chooses with the test labels (an oracle, not a detector).
    """

    label: str
    grid: GridPoint = ()
    rule: str | None = None
    measure: str | None = None
    rule_in_name: bool = False
    oracle: bool = field(default=False, compare=False)

    @property
    def name(self) -> str:
        """The column as shown: ``label[grid]`` and ``:rule`` when the suite listed rules."""
        return self.label + grid_text(self.grid) + (f":{self.rule}" if self.rule_in_name else "")

    @property
    def base_name(self) -> str:
        """The name without the grid part: ``vae[beta=0.5]:single`` -> ``vae:single``."""
        return self.label + (f":{self.rule}" if self.rule_in_name else "")

    @property
    def grid_text(self) -> str:
        return grid_text(self.grid)

    def __str__(self) -> str:
        return self.name

    def matches(self, name: str) -> bool:
        """Whether ``name`` names this column: its full name, or its name without the grid."""
        return name in (self.name, self.base_name)

    def record_fields(self) -> dict[str, Any]:
        """The fields a result record stores for this column."""
        out = {"column": self.name, "label": self.label, "grid": dict(self.grid),
               "rule": self.rule, "measure": self.measure, "rule_in_name": self.rule_in_name}
        if self.oracle:
            out["oracle"] = True
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Column:
        """The column of a result record."""
        grid = grid_point(record.get("grid") or {})
        rule, measure = record.get("rule"), record.get("measure")
        oracle = bool(record.get("oracle", False))
        if "label" in record:
            return cls(record["label"], grid, rule, measure, bool(record.get("rule_in_name")),
                       oracle)
        return cls._from_legacy_record(record, grid, rule, measure, oracle)

    @classmethod
    def _from_legacy_record(cls, record: dict[str, Any], grid: GridPoint, rule: str | None,
                            measure: str | None, oracle: bool) -> Column:
        """Records written before columns were stored as fields (no ``label``).

        Their ``column`` was built as ``label + grid text (+ ":" + rule)`` from
        the other fields of the same record, so the label is what remains
        after removing those exact suffixes.
        """
        name = str(record["column"])
        in_name = bool(rule) and name.endswith(f":{rule}")
        label = name[: -len(rule) - 1] if in_name and rule else name
        text = grid_text(grid)
        if text and label.endswith(text):
            label = label[: -len(text)]
        elif text:  # the name has no grid part: keep it as it was
            grid = ()
        return cls(label, grid, rule, measure, in_name, oracle)
