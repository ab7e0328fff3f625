"""A run's results as one flat table: ``anobench export`` and :func:`load_run`.

One row per stored result — a cell × column × metric — with every field that
identifies it (run, dataset, class, repetition, model, column, label, grid,
rule, measure, metric), the value, the seeds, the test set's size, timings
and the fit's facts (``info_<key>``: each key of the record's ``fit_info``,
lists and tables as JSON text). Only finished cells count
(the last whole block of each, as the report reads them); failed cells have
no value and no row.

CSV is written with the standard library, Parquet with pyarrow (the
``parquet`` extra), the DataFrame of :func:`load_run` with pandas (the
``pandas`` extra); the three hold the same columns and values.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anobench.atomic import atomic_path
from anobench.column import Column
from anobench.errors import AnobenchError
from anobench.store import load_store, read_meta
from anobench.units import cell_seeds

#: The fixed columns in order, with their type: str, int, float or bool (each may be empty).
FIELDS: dict[str, str] = {
    "suite": "str", "run": "str", "dataset": "str", "normal": "str", "class_name": "str",
    "repetition": "int", "cell": "str", "model": "str", "column": "str", "label": "str",
    "detector": "str", "rule": "str", "measure": "str", "grid": "str", "params": "str",
    "samples": "int", "metric": "str", "value": "float", "oracle": "bool",
    "oracle_candidate": "int", "suite_seed": "int", "model_seed": "int", "split_seed": "int",
    "anomaly_seed": "int", "draw_seed": "int", "n_test": "int", "n_anomalies": "int",
    "fit_seconds": "float", "score_seconds": "float",
}
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class ExportTable:
    """The rows of a run and the type of every column (fixed ones, then ``grid_*``, ``info_*``)."""

    columns: dict[str, str]
    rows: list[dict[str, Any]]
    cells: int
    failed: int


def run_table(run_dir: str | Path) -> ExportTable:
    """Every stored result of ``run_dir`` as one row (see the module docstring)."""
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)  # names a missing or foreign directory in one line
    store = load_store(run_dir)
    suite_seed = _suite_seed(meta)
    rows: list[dict[str, Any]] = []
    extra: dict[str, str] = {}
    for block in store.blocks.values():
        for rec in block.records:
            if rec.get("kind") == "result":
                rows.append(_row(rec, meta, run_dir.name, suite_seed, extra))
    columns = dict(FIELDS)
    columns.update(sorted((k, v) for k, v in extra.items() if k.startswith("grid_")))
    columns.update(sorted((k, v) for k, v in extra.items() if k.startswith("info_")))
    return ExportTable(columns, rows, len(store.done()), len(store.failed()))


def _suite_seed(meta: dict[str, Any]) -> int | None:
    if isinstance(meta.get("seed"), int):
        return meta["seed"]
    try:  # runs written before meta.json held the seed: the suite text it holds
        seed = tomllib.loads(meta.get("suite_text", "")).get("suite", {}).get("seed", 0)
    except tomllib.TOMLDecodeError:
        return None
    return seed if isinstance(seed, int) else None


def _row(rec: dict[str, Any], meta: dict[str, Any], run: str, suite_seed: int | None,
         extra: dict[str, str]) -> dict[str, Any]:
    col = Column.from_record(rec)
    normal, rep = str(rec.get("normal", "")), rec.get("repetition")
    seeds: dict[str, int] = {}
    if suite_seed is not None and isinstance(rep, int):
        derived = cell_seeds(suite_seed, str(rec.get("dataset")), normal, rep)
        if derived["model"] == rec.get("seed"):  # the run derived its seeds this way
            seeds = derived
    row = {
        "suite": meta.get("suite_name"), "run": run, "dataset": rec.get("dataset"),
        "normal": normal, "class_name": rec.get("class_name"), "repetition": rep,
        "cell": rec.get("cell"), "model": rec.get("model"), "column": rec.get("column", col.name),
        "label": col.label, "detector": rec.get("detector"), "rule": col.rule,
        "measure": col.measure, "grid": _json(rec.get("grid") or {}),
        "params": _json(rec.get("params") or {}), "samples": rec.get("samples"),
        "metric": rec.get("metric"), "value": rec.get("value"), "oracle": col.oracle,
        "oracle_candidate": rec.get("oracle_candidate"), "suite_seed": suite_seed,
        "model_seed": rec.get("seed"), "split_seed": seeds.get("split"),
        "anomaly_seed": seeds.get("anomalies"), "draw_seed": seeds.get("draw"),
        "n_test": rec.get("n_test"), "n_anomalies": rec.get("n_anomalies"),
        "fit_seconds": rec.get("fit_seconds"), "score_seconds": rec.get("score_seconds"),
    }
    for key, value in col.grid:
        _extra(row, extra, f"grid_{key}", value)
    for key, value in sorted((rec.get("fit_info") or {}).items()):
        _extra(row, extra, f"info_{key}", value)
    return row


def _extra(row: dict[str, Any], types: dict[str, str], name: str, value: Any) -> None:
    """A grid or fit_info field: numbers, booleans and text as they are, the rest as JSON."""
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "int"
    elif isinstance(value, float):
        kind = "float"
    else:
        kind, value = "str", value if isinstance(value, str) else _json(value)
    old = types.get(name, kind)
    if old != kind:  # mixed types over the rows: the widest that holds both
        kind = "float" if {old, kind} <= {"int", "float"} else "str"
    types[name] = kind
    row[name] = value


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _cast(value: Any, kind: str) -> Any:
    """A value as its column's type (``None`` when empty)."""
    if value is None:
        return None
    if kind == "str":
        return value if isinstance(value, str) else (
            json.dumps(value) if isinstance(value, (bool, dict, list)) else str(value))
    if kind == "float":
        try:
            return float(value)
        except (TypeError, ValueError):  # text in a fit_info field of numbers
            return None
    if kind == "int":
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) else None
    return bool(value)


def _columns(table: ExportTable) -> dict[str, list[Any]]:
    return {name: [_cast(r.get(name), kind) for r in table.rows]
            for name, kind in table.columns.items()}


# ------------------------------------------------------------------ pandas


def load_run(path: str | Path):
    """The results of a run directory as a pandas DataFrame, one row per cell × column × metric.

    Columns: see ``anobench export`` (README, Export); text has pandas'
    default string type, integers pandas' nullable ``Int64``, ``oracle`` is
    ``bool``. Needs pandas (``pip install 'anobench[pandas]'``).
    """
    try:
        import pandas as pd
    except ImportError:
        raise AnobenchError("anobench.load_run needs pandas: pip install 'anobench[pandas]'") \
            from None
    table = run_table(path)
    text = "str" if int(pd.__version__.split(".")[0]) >= 3 else "object"  # pandas' default
    dtypes = {"str": text, "int": "Int64", "float": "float64", "bool": "boolean"}
    frame = pd.DataFrame(_columns(table), columns=list(table.columns))
    frame = frame.astype({name: dtypes[kind] for name, kind in table.columns.items()})
    return frame.astype({"oracle": bool})


# ------------------------------------------------------------------ files


def export_run(run_dir: str | Path, out: str | Path | None, fmt: str = "csv", *,
               force: bool = False) -> ExportTable:
    """Write the run's table to ``out`` (``None`` or ``-``: CSV on standard output).

    Refuses an existing ``out`` unless ``force``; writes through ``out.part``
    so that a failure leaves nothing behind. Never writes anywhere else.
    """
    if fmt not in FORMATS:
        raise AnobenchError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    to_stdout = out is None or str(out) == "-"
    if to_stdout and fmt == "parquet":
        raise AnobenchError("--format parquet is binary: give the file to write with -o FILE")
    target = None if to_stdout else Path(out)  # type: ignore[arg-type]
    if target is not None:
        _check_target(target, force)
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise AnobenchError("--format parquet needs pyarrow: pip install "
                                "'anobench[parquet]'") from None
    table = run_table(run_dir)
    if target is None:
        try:
            _write_csv(table, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # `anobench export RUN | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return table
    with atomic_path(target) as part:
        if fmt == "csv":
            with open(part, "w", encoding="utf-8", newline="") as fh:
                _write_csv(table, fh)
        else:
            types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(),
                     "bool": pa.bool_()}
            schema = pa.schema([(n, types[k]) for n, k in table.columns.items()])
            pq.write_table(pa.Table.from_pydict(_columns(table), schema=schema), part)
    return table


def _check_target(target: Path, force: bool) -> None:
    if target.is_dir():
        raise AnobenchError(f"-o {target}: a directory; give a file name")
    if target.exists() and not force:
        raise AnobenchError(f"-o {target}: the file exists; --force replaces it")
    if not target.parent.is_dir():
        raise AnobenchError(f"-o {target}: no folder {target.parent}")
    if not os.access(target.parent, os.W_OK):
        raise AnobenchError(f"-o {target}: the folder {target.parent} is not writable")


def _write_csv(table: ExportTable, fh: io.TextIOBase | Any) -> None:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(list(table.columns))
    kinds = list(table.columns.items())
    for r in table.rows:
        writer.writerow(["" if (v := _cast(r.get(n), k)) is None else _csv_value(v, k)
                         for n, k in kinds])


def _csv_value(value: Any, kind: str) -> Any:
    if kind == "float":
        return repr(float(value))  # every digit: the CSV reads back to the same float
    if kind == "bool":
        return "true" if value else "false"
    return value
