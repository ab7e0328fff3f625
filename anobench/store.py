"""The result store: one directory per run, append-only records.

``results/<suite>/<run-id>/records.jsonl`` holds one JSON object per line:

* ``kind = "result"``: one metric value of one column in one cell;
* ``kind = "error"``: a cell that failed, with the message;
* ``kind = "cell"``: written last in each cell's block; a cell counts as done
  (for ``--resume`` and for reports) only once its marker is stored.

Each cell's block is written with a single ``write`` and flushed to disk, so
an interrupted run loses at most the cell in progress and never earlier ones.
``meta.json`` holds the suite text and hash, code and package versions and
the device.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from anobench.errors import AnobenchError

RECORDS = "records.jsonl"
META = "meta.json"


def new_run_dir(root: Path, suite_name: str) -> Path:
    base = Path(root) / suite_name
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        d = base / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue
    raise AnobenchError(f"{base}: cannot create a new run directory")


def latest_run_dir(root: Path, suite_name: str) -> Path:
    base = Path(root) / suite_name
    runs = sorted(p for p in base.glob("*") if (p / META).is_file()) if base.is_dir() else []
    if not runs:
        raise AnobenchError(f"{base}: no earlier run of suite {suite_name!r} to resume")
    return runs[-1]


def write_meta(run_dir: Path, meta: dict[str, Any]) -> None:
    tmp = run_dir / (META + ".part")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    tmp.replace(run_dir / META)


def read_meta(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / META
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise AnobenchError(f"{run_dir}: not a run directory (no {META})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise AnobenchError(f"{path}: unreadable run metadata: {exc}") from None


def append_block(run_dir: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append records as one block and flush it to disk."""
    text = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in records)
    path = Path(run_dir) / RECORDS
    with open(path, "a+b") as fh:
        if fh.tell() > 0:  # after a torn write, start on a fresh line
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                text = "\n" + text
        fh.write(text.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def read_records(run_dir: Path, kinds: tuple[str, ...] = ("result",)) -> list[dict[str, Any]]:
    """Records of finished cells (those with a ``cell`` marker), in file order.

    A truncated last line (an interrupted write) is ignored.
    """
    path = Path(run_dir) / RECORDS
    if not path.is_file():
        if not (Path(run_dir) / META).is_file():
            raise AnobenchError(f"{run_dir}: not a run directory (no {META})")
        return []
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    done = {r["cell"] for r in rows if r.get("kind") == "cell"}
    return [r for r in rows if r.get("kind") in kinds and r.get("cell") in done]


def done_cells(run_dir: Path) -> set[str]:
    """Cells that finished without error (skipped by ``--resume``)."""
    return {r["cell"] for r in read_records(run_dir, ("cell",)) if r.get("status") == "ok"}
