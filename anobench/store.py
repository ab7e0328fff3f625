"""The result store: one directory per run, append-only records.

``results/<suite>/<run-id>/records.jsonl`` holds one JSON object per line,
grouped in *blocks*, one block per finished cell:

* ``kind = "result"``: one metric value of one column in one cell;
* ``kind = "error"``: a cell that failed, with the message;
* ``kind = "cell"``: the block's end marker, written last. It carries the
  number of lines before it in the block (``lines``) and the cell's status.

Every line carries the block's id (``block``) and the run's identity
(``run``: the first 16 hex digits of the suite's SHA-256 and the seed). A block
counts only when its end marker is whole and its line count matches; a cell
with several whole blocks (a failed cell retried by ``--resume``) is what its
*last* block says. Each block is written with a single ``write`` and flushed
to disk, so an interrupted run loses at most the cell in progress.

Reading (:func:`load_store`, in :mod:`anobench.store_read` and importable
from here) never drops a line silently: a partial block (an
interrupted write) is discarded and reported; a line cut short by a crash is
the one expected unparsable line (the next write marks it with a ``torn``
line); any other line that is not a record of this run is an error naming the
file and the line. ``meta.json`` holds the suite text and hash, the run's
identity, code and package versions and the device. One process at a time
writes a run directory (:class:`anobench.runlock.RunLock`).
"""
from __future__ import annotations

import json
import math
import numbers
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from anobench.atomic import atomic_path
from anobench.confine import RESULTS_ROOT, check_tree, confined
from anobench.errors import AnobenchError
from anobench.runlock import RunLock
from anobench.store_read import (  # noqa: F401 - the read side, importable from the store
    KINDS,
    META,
    RECORDS,
    RESULT_FIELDS,
    STORE_FORMAT,
    Block,
    StoreContents,
    done_cells,
    load_store,
    read_meta,
    read_records,
    run_identity,
)

#: Longest list a plugin's ``fit_info()`` may put into a record.
MAX_INFO_ITEMS = 10_000


# ------------------------------------------------------------------ run dirs

def new_run_dir(root: Path, suite_name: str) -> Path:
    """Create ``root/<suite_name>/<timestamp>`` and return it."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise AnobenchError(f"{root}: the results root is not a directory")
    base = confined(root, root / suite_name, RESULTS_ROOT)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnobenchError(f"{base}: cannot create the results folder: {exc.strerror or exc}") from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        d = base / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue
        except OSError as exc:
            raise AnobenchError(f"{d}: cannot create the run directory: {exc.strerror or exc}") from None
    raise AnobenchError(f"{base}: cannot create a new run directory")


def latest_run_dir(root: Path, suite_name: str) -> Path:
    base = confined(root, Path(root) / suite_name, RESULTS_ROOT)
    runs = sorted(p for p in base.glob("*") if (p / META).is_file()) if base.is_dir() else []
    if not runs:
        raise AnobenchError(f"{base}: no earlier run of suite {suite_name!r} to resume")
    return runs[-1]


def write_meta(run_dir: Path, meta: dict[str, Any]) -> None:
    data = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8")
    with atomic_path(Path(run_dir) / META, within=run_dir) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


# ------------------------------------------------------------------ values

def jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON data; raise ``ValueError`` naming ``where`` if impossible.

    numpy scalars become Python numbers, arrays and tuples lists (at most
    :data:`MAX_INFO_ITEMS` items), non-finite floats the strings ``"nan"``,
    ``"inf"`` and ``"-inf"``; dictionary keys must be strings or numbers.
    Anything else (objects, modules, tensors) is refused.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalar or array
        if getattr(value, "size", 1) > MAX_INFO_ITEMS:
            raise ValueError(f"{where}: an array of {value.size} values is too large for a record "
                             f"(at most {MAX_INFO_ITEMS})")
        try:
            value = value.tolist()
        except Exception as exc:  # noqa: BLE001 - an odd array type
            raise ValueError(f"{where}: cannot convert {type(value).__name__}: {exc}") from None
        return jsonable(value, where)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_INFO_ITEMS:
            raise ValueError(f"{where}: a list of {len(value)} items is too long for a record "
                             f"(at most {MAX_INFO_ITEMS})")
        return [jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return _jsonable_dict(value, where)
    raise ValueError(f"{where}: a {type(value).__module__}.{type(value).__qualname__} "
                     "is not JSON data (numbers, strings, lists, dicts)")


def _jsonable_dict(value: dict, where: str) -> dict[str, Any]:
    out = {}
    for k, v in value.items():
        if isinstance(k, (bool, numbers.Number)) or k is None:
            k = str(jsonable(k, where))
        if not isinstance(k, str):
            raise ValueError(f"{where}: key {k!r} is a {type(k).__name__}, not a string")
        out[k] = jsonable(v, f"{where}[{k!r}]")
    return out


# ------------------------------------------------------------------ writing

def encode_block(cell: str, records: Iterable[dict[str, Any]], marker: dict[str, Any],
                 run: str | None) -> bytes:
    """One cell's block: ``records`` then its end marker, as JSON lines.

    Raises ``ValueError`` (naming the record and key) if a value is not
    finite JSON data; nothing is written then.
    """
    block = secrets.token_hex(6)
    stamp = {"block": block} if run is None else {"block": block, "run": run}
    lines = []
    records = list(records)
    for i, r in enumerate(records):
        try:
            lines.append(json.dumps(dict(r, cell=cell, **stamp), sort_keys=True, allow_nan=False))
        except (ValueError, TypeError) as exc:
            bad = next((k for k, v in r.items() if not _encodes(v)), "?")
            raise ValueError(f"record {i} ({r.get('column', r.get('kind'))}), key {bad!r}: "
                             f"{exc}") from None
    end = dict(marker, kind="cell", cell=cell, lines=len(records), **stamp)
    try:
        lines.append(json.dumps(end, sort_keys=True, allow_nan=False))
    except (ValueError, TypeError) as exc:
        bad = next((k for k, v in end.items() if not _encodes(v)), "?")
        raise ValueError(f"end marker, key {bad!r}: {exc}") from None
    return ("\n".join(lines) + "\n").encode("utf-8")


def _encodes(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (ValueError, TypeError):
        return False


def append_bytes(run_dir: Path, data: bytes) -> None:
    """Append ``data`` to records.jsonl with one write and flush it to disk.

    If the file ends in a line cut short by an interrupted write, a ``torn``
    line is written after it first, so readers know it is that. If the write
    fails (a full disk), the file is cut back to its old length and an
    :class:`AnobenchError` names the file.
    """
    path = confined(run_dir, Path(run_dir) / RECORDS)
    try:
        fh = open(path, "a+b")
    except OSError as exc:
        raise AnobenchError(f"{path}: cannot open for writing: {exc.strerror or exc}") from None
    with fh:
        size = fh.seek(0, os.SEEK_END)
        if size > 0:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                note = {"kind": "torn", "note": "the line above was cut short by an interrupted write"}
                data = b"\n" + json.dumps(note, sort_keys=True).encode() + b"\n" + data
        try:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        except OSError as exc:
            try:
                fh.truncate(size)
            except OSError:
                pass
            raise AnobenchError(f"{path}: cannot write: {exc.strerror or exc}") from None


def append_block(run_dir: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append records (ending with their ``cell`` marker) as one block, as format 1 did."""
    text = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in records)
    append_bytes(run_dir, text.encode("utf-8"))


class RunWriter:
    """The one writer of a run directory: holds its lock, appends cell blocks."""

    def __init__(self, run_dir: Path, run: str | None) -> None:
        self.run_dir = Path(run_dir)
        self.run = run
        self.lock = RunLock(self.run_dir)

    def __enter__(self) -> RunWriter:
        self.lock.acquire()
        try:
            check_tree(self.run_dir)  # no link out of the run directory, before any change
        except BaseException:
            self.lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()

    def write(self, data: bytes) -> None:
        append_bytes(self.run_dir, data)
