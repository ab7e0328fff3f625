"""Per-cell test labels and scores, for ROC and PR curves.

``<run_dir>/scores/<safe cell id>.npz`` (compressed) holds, for one cell:

* ``cell`` — the cell id (``dataset/class/repetition/model``);
* ``labels`` — int8 test labels, 1 = anomaly;
* ``scores`` — float32, shape (columns, n): one row per scored column
  (higher = more anomalous);
* ``columns``, ``measures`` — the column name and measure of each row
  (measure ``""`` for detectors without one).

An oracle rule (``best``/``worst``) picks its candidate score vector per
metric; its row here is the candidate picked for the suite's *first* metric,
so other metrics recomputed from it need not equal its records.

The runner writes the file before the cell's records block, so every
finished cell has its scores.
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anobench.atomic import atomic_path
from anobench.errors import AnobenchError

SCORES_DIR = "scores"


_SAFE = re.compile(r"[A-Za-z0-9.+=-]")


def safe_cell_id(cell: str) -> str:
    """A file name for a cell id, one to one: ``/`` -> ``__``, ``_`` and other odd
    characters -> ``_XX`` (the hex of each UTF-8 byte).

    Different cell ids give different names (labels ``"a b"`` and ``"a_b"`` do
    not share a file); no name is ``.`` or ``..`` or holds a path separator.
    """
    out = []
    for ch in cell:
        if ch == "/":
            out.append("__")
        elif _SAFE.fullmatch(ch):
            out.append(ch)
        else:
            out.extend(f"_{b:02x}" for b in ch.encode("utf-8"))
    name = "".join(out)
    return name if name.strip(".") else name.replace(".", "_2e")


def _legacy_cell_id(cell: str) -> str:
    """The file name runs before format 2 used (not one to one)."""
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", cell.replace("/", "__"))


def scores_path(run_dir: Path, cell: str) -> Path:
    return Path(run_dir) / SCORES_DIR / f"{safe_cell_id(cell)}.npz"


def save_scores(run_dir: Path, cell: str, labels: np.ndarray,
                entries: Iterable[tuple[str, str | None, np.ndarray]]) -> Path:
    """Write one cell's labels and per-column scores (atomically)."""
    entries = list(entries)
    path = scores_path(run_dir, cell)
    n = len(labels)
    scores = (np.vstack([np.asarray(s, dtype=np.float32).reshape(1, n) for _, _, s in entries])
              if entries else np.zeros((0, n), np.float32))
    with atomic_path(path, within=run_dir, keep_suffix=True) as tmp:  # x.part.npz
        path.parent.mkdir(exist_ok=True)
        np.savez_compressed(
            tmp, cell=np.array(cell), labels=np.asarray(labels, dtype=np.int8), scores=scores,
            columns=np.array([c for c, _, _ in entries], dtype=str),
            measures=np.array([m or "" for _, m, _ in entries], dtype=str))
    return path


@dataclass(frozen=True)
class CellScores:
    cell: str
    labels: np.ndarray
    scores: dict[tuple[str, str | None], np.ndarray]  # (column, measure) -> scores


def load_scores(path: Path) -> CellScores:
    try:
        with np.load(path, allow_pickle=False) as z:
            cols, meas = z["columns"].tolist(), z["measures"].tolist()
            return CellScores(str(z["cell"]), z["labels"].astype(np.int64),
                              {(c, m or None): z["scores"][i] for i, (c, m)
                               in enumerate(zip(cols, meas))})
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise AnobenchError(f"{path}: unreadable scores file: {exc}") from None


def find_cell_scores(run_dir: Path, dataset: str, normal: str, repetition: int
                     ) -> list[CellScores]:
    """Scores of every model of one (dataset, class, repetition), sorted by cell id."""
    want = f"{dataset}/{normal}/{repetition}/"
    d = Path(run_dir) / SCORES_DIR
    files: set[Path] = set()
    if d.is_dir():
        for prefix in {safe_cell_id(want), _legacy_cell_id(want)}:
            files |= set(d.glob(f"{glob_escape(prefix)}*.npz"))
    found = [load_scores(f) for f in sorted(files) if not f.name.endswith(".part.npz")]
    return sorted((c for c in found if c.cell.startswith(want)), key=lambda c: c.cell)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
