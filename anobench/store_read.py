"""The read side of the result store: ``meta.json`` and ``records.jsonl``.

The format is described in :mod:`anobench.store` (the write side, which
re-exports everything here). Reading never drops a line silently: a partial
block (an interrupted write) is discarded and reported; a line cut short by
a crash is the one expected unparsable line (the next write marks it with a
``torn`` line); any other line that is not a record of this run is an error
naming the file and the line.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anobench.errors import AnobenchError

RECORDS = "records.jsonl"
META = "meta.json"
#: Format of records.jsonl: 2 = blocks with ids, line counts and run identity.
STORE_FORMAT = 2
KINDS = ("result", "error", "cell", "torn")


# ------------------------------------------------------------------ meta and identity

def read_meta(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / META
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise AnobenchError(f"{run_dir}: not a run directory (no {META})") from None
    except NotADirectoryError:
        raise AnobenchError(f"{run_dir}: not a run directory (not a directory)") from None
    except IsADirectoryError:
        raise AnobenchError(f"{path}: unreadable run metadata: a directory, not a file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AnobenchError(f"{path}: unreadable run metadata: {exc}") from None
    if not isinstance(meta, dict):
        raise AnobenchError(f"{path}: unreadable run metadata: a JSON {_json_type(meta)}, "
                            "expected an object")
    return meta


def run_identity(suite_sha256: str, seed: int) -> str:
    """The identity every record of a run carries: suite hash prefix and seed."""
    return f"{suite_sha256[:16]}:{seed}"


def _describe_identity(ident: Any) -> str:
    if not isinstance(ident, str) or ":" not in ident:
        return "no run identity"
    sha, seed = ident.rsplit(":", 1)
    return f"suite {sha}, seed {seed}"


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            type(None): "null", dict: "object"}.get(type(value), type(value).__name__)


# ------------------------------------------------------------------ records

@dataclass
class Block:
    """One cell's whole block: its records and its end marker."""

    cell: str
    records: list[dict[str, Any]]
    marker: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.marker.get("status", "ok"))


@dataclass
class StoreContents:
    """What records.jsonl holds: the last whole block of each cell and what was set aside."""

    path: Path
    blocks: dict[str, Block] = field(default_factory=dict)
    superseded: int = 0  # whole blocks replaced by a later block of the same cell
    partial: list[tuple[int, str]] = field(default_factory=list)  # (first line, cell)
    torn: list[int] = field(default_factory=list)  # lines cut short by an interrupted write
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    foreign: list[tuple[int, str]] = field(default_factory=list)  # (line, whose)

    def records(self, kinds: tuple[str, ...] = ("result",)) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for b in self.blocks.values():
            out.extend(r for r in b.records if r.get("kind") in kinds)
            if "cell" in kinds:
                out.append(b.marker)
        return out

    def done(self) -> set[str]:
        return {c for c, b in self.blocks.items() if b.status == "ok"}

    def failed(self) -> set[str]:
        return {c for c, b in self.blocks.items() if b.status != "ok"}

    def check(self, own: str | None = None) -> StoreContents:
        """Raise :class:`AnobenchError` for lines that are not records of this run."""
        if self.malformed:
            line, why = self.malformed[0]
            more = (f" ({len(self.malformed)} such lines, first shown)"
                    if len(self.malformed) > 1 else "")
            raise AnobenchError(f"{self.path}: line {line}: {why}{more}; nothing was changed: "
                                "remove or repair the line(s)")
        if self.foreign:
            line, whose = self.foreign[0]
            raise AnobenchError(
                f"{self.path}: line {line}: a record of another run ({whose}; this run is "
                f"{_describe_identity(own)}); {len(self.foreign)} such line(s); records of "
                "different runs are never mixed: move them out")
        return self

    def notes(self) -> list[str]:
        """What was set aside, one sentence each (empty when nothing was)."""
        out = []
        if self.partial:
            cells = sorted({c for _, c in self.partial})
            out.append(f"{self.path}: discarded {len(self.partial)} partial block(s) left by an "
                       f"interrupted write (line {self.partial[0][0]}, cell(s) "
                       f"{', '.join(cells[:3])}{', ...' if len(cells) > 3 else ''})")
        if self.torn:
            out.append(f"{self.path}: {len(self.torn)} line(s) cut short by an interrupted write "
                       f"ignored (line {', '.join(map(str, self.torn[:3]))})")
        return out


def _parse_line(raw: bytes) -> dict[str, Any] | str | None:
    """A record, or why the line is not one; ``None`` for a cut-short JSON object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and _is_prefix_of_json(text):
            return None
        return f"not JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return "not a record (nested too deeply)"
    if not isinstance(rec, dict):
        return f"a JSON {_json_type(rec)}, not a record (an object)"
    kind = rec.get("kind")
    if kind not in KINDS:
        return f"unknown record kind {kind!r} (known: {', '.join(KINDS)})"
    if kind != "torn" and not isinstance(rec.get("cell"), str):
        return "a record without a 'cell' (a string)"
    if kind == "result":
        for key, types, what in RESULT_FIELDS:
            value = rec.get(key)
            if not isinstance(value, types) or isinstance(value, bool) or (
                    isinstance(value, float) and not math.isfinite(value)):
                got = "none" if key not in rec else repr(value)[:40]
                return f"a result record without a valid {key!r} ({what}; got {got})"
    return rec


#: What every result record holds, as the report reads it: (key, types, in words).
RESULT_FIELDS = (
    ("value", (int, float), "a finite number"),
    ("metric", str, "a metric name"),
    ("column", str, "a column name"),
    ("dataset", str, "a dataset label"),
    ("normal", str, "a class key"),
    ("repetition", int, "an integer"),
)


def _is_prefix_of_json(text: str) -> bool:
    """True if ``text`` could be the start of a JSON object cut short (no stray characters)."""
    depth, in_str, esc = 0, False, False
    for ch in text.rstrip("\r\n"):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth <= 0:
                return False  # a complete value followed by more, or unbalanced
    return depth > 0


def load_store(run_dir: Path, *, check: bool = True) -> StoreContents:
    """Read records.jsonl of ``run_dir`` (see :mod:`anobench.store` for the rules).

    With ``check`` (the default), lines that are not records of this run
    raise :class:`AnobenchError` naming the file and the first such line.
    """
    run_dir = Path(run_dir)
    path = run_dir / RECORDS
    meta = read_meta(run_dir)
    versioned = meta.get("store_format") == STORE_FORMAT
    own = meta.get("run_identity") if versioned else None
    store = StoreContents(path)
    if not path.exists():
        return store
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise AnobenchError(f"{path}: a directory, not a records file") from None
    except OSError as exc:
        raise AnobenchError(f"{path}: cannot read: {exc.strerror or exc}") from None
    reader = _Reader(store, own, versioned)
    lines = data.split(b"\n")
    last = max((i for i, ln in enumerate(lines, 1) if ln.strip()), default=0)
    for no, raw in enumerate(lines, 1):
        if raw.strip():
            reader.line(no, raw, last=no == last)
    reader.finish()
    return store.check(own) if check else store


@dataclass
class _Reader:
    """Sorts the lines of records.jsonl into ``store``, one at a time, in file order."""

    store: StoreContents
    own: str | None  # the run's identity (format 2)
    versioned: bool  # format 2: every line belongs to a block of this run
    open_blocks: dict[str, list[tuple[int, dict]]] = field(default_factory=dict)  # id -> lines
    legacy: dict[str, list[tuple[int, dict]]] = field(default_factory=dict)  # format 1: by cell
    unparsed: int | None = None  # an unparsable line, until the next line explains it

    def line(self, no: int, raw: bytes, last: bool) -> None:
        store = self.store
        rec = _parse_line(raw)
        if rec is None and last:
            store.torn.append(no)
            return
        if rec is None:
            if self.unparsed is not None:
                store.malformed.append((self.unparsed, "not JSON (a record cut short)"))
            self.unparsed = no
            return
        if self.unparsed is not None:  # an unparsable line not explained by a torn marker
            if isinstance(rec, dict) and rec.get("kind") == "torn":
                store.torn.append(self.unparsed)
                self.unparsed = None
                return
            store.malformed.append((self.unparsed, "not JSON (a record cut short, but no "
                                                   "write followed it)"))
            self.unparsed = None
        if isinstance(rec, str):
            store.malformed.append((no, rec))
        elif rec["kind"] == "torn":
            return
        elif self.versioned or "block" in rec:
            self._block_line(no, rec)
        else:
            self._legacy_line(no, rec)

    def _block_line(self, no: int, rec: dict[str, Any]) -> None:
        store = self.store
        if rec.get("run") != self.own and self.versioned:
            store.foreign.append((no, _describe_identity(rec.get("run"))))
            return
        bid = rec.get("block")
        if not isinstance(bid, str):
            store.malformed.append((no, "a record without a 'block' id"))
            return
        members = self.open_blocks.setdefault(bid, [])
        if rec["kind"] != "cell":
            members.append((no, rec))
            return
        del self.open_blocks[bid]
        whole = (rec.get("lines") == len(members)
                 and all(r["cell"] == rec["cell"] for _, r in members))
        if not whole:
            store.partial.append((members[0][0] if members else no, rec["cell"]))
            return
        _keep(store, Block(rec["cell"], [r for _, r in members], rec))

    def _legacy_line(self, no: int, rec: dict[str, Any]) -> None:
        members = self.legacy.setdefault(rec["cell"], [])
        if rec["kind"] != "cell":
            members.append((no, rec))
            return
        del self.legacy[rec["cell"]]
        _keep(self.store, Block(rec["cell"], [r for _, r in members], rec))

    def finish(self) -> None:
        store = self.store
        if self.unparsed is not None:
            store.malformed.append((self.unparsed, "not JSON"))
        for members in (*self.open_blocks.values(), *self.legacy.values()):
            if members:
                store.partial.append((members[0][0], members[0][1]["cell"]))
        store.partial.sort()


def _keep(store: StoreContents, block: Block) -> None:
    if store.blocks.pop(block.cell, None) is not None:
        store.superseded += 1
    store.blocks[block.cell] = block  # last whole block wins, in the order of the file


def read_records(run_dir: Path, kinds: tuple[str, ...] = ("result",)) -> list[dict[str, Any]]:
    """Records of finished cells (the last whole block of each), in file order."""
    run_dir = Path(run_dir)
    if not (run_dir / RECORDS).exists():
        read_meta(run_dir)  # a run directory without records yet, or none at all
        return []
    return load_store(run_dir).records(kinds)


def done_cells(run_dir: Path) -> set[str]:
    """Cells whose last block finished without error (skipped by ``--resume``)."""
    return load_store(run_dir).done()
