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

Reading (:func:`load_store`) never drops a line silently: a partial block (an
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anobench.atomic import atomic_path
from anobench.confine import RESULTS_ROOT, check_tree, confined
from anobench.errors import AnobenchError
from anobench.runlock import RunLock

RECORDS = "records.jsonl"
META = "meta.json"
#: Format of records.jsonl: 2 = blocks with ids, line counts and run identity.
STORE_FORMAT = 2
KINDS = ("result", "error", "cell", "torn")
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


# ------------------------------------------------------------------ identity

def run_identity(suite_sha256: str, seed: int) -> str:
    """The identity every record of a run carries: suite hash prefix and seed."""
    return f"{suite_sha256[:16]}:{seed}"


def _describe_identity(ident: Any) -> str:
    if not isinstance(ident, str) or ":" not in ident:
        return "no run identity"
    sha, seed = ident.rsplit(":", 1)
    return f"suite {sha}, seed {seed}"


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
        out = {}
        for k, v in value.items():
            if isinstance(k, (bool, numbers.Number)) or k is None:
                k = str(jsonable(k, where))
            if not isinstance(k, str):
                raise ValueError(f"{where}: key {k!r} is a {type(k).__name__}, not a string")
            out[k] = jsonable(v, f"{where}[{k!r}]")
        return out
    raise ValueError(f"{where}: a {type(value).__module__}.{type(value).__qualname__} "
                     "is not JSON data (numbers, strings, lists, dicts)")


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            type(None): "null", dict: "object"}.get(type(value), type(value).__name__)


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


# ------------------------------------------------------------------ reading

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
    """Read records.jsonl of ``run_dir`` (see the module docstring for the rules).

    With ``check`` (the default), lines that are not records of this run
    raise :class:`AnobenchError` naming the file and the first such line.
    """
    run_dir = Path(run_dir)
    path = run_dir / RECORDS
    meta = read_meta(run_dir)
    own = meta.get("run_identity") if meta.get("store_format") == STORE_FORMAT else None
    versioned = meta.get("store_format") == STORE_FORMAT
    store = StoreContents(path)
    if not path.exists():
        return store
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise AnobenchError(f"{path}: a directory, not a records file") from None
    except OSError as exc:
        raise AnobenchError(f"{path}: cannot read: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    last = max((i for i, ln in enumerate(lines, 1) if ln.strip()), default=0)
    open_blocks: dict[str, list[tuple[int, dict]]] = {}  # block id -> lines so far
    legacy: dict[str, list[tuple[int, dict]]] = {}  # format 1: cell -> lines since its marker
    prev_unparsed: int | None = None
    for no, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        rec = _parse_line(raw)
        if rec is None and no == last:
            store.torn.append(no)
            continue
        if rec is None:
            if prev_unparsed is not None:
                store.malformed.append((prev_unparsed, "not JSON (a record cut short)"))
            prev_unparsed = no
            continue
        if prev_unparsed is not None:  # an unparsable line not explained by a torn marker
            if isinstance(rec, dict) and rec.get("kind") == "torn":
                store.torn.append(prev_unparsed)
                prev_unparsed = None
                continue
            store.malformed.append((prev_unparsed, "not JSON (a record cut short, but no write "
                                                   "followed it)"))
            prev_unparsed = None
        if isinstance(rec, str):
            store.malformed.append((no, rec))
            continue
        if rec["kind"] == "torn":
            continue
        if versioned or "block" in rec:
            if rec.get("run") != own and versioned:
                store.foreign.append((no, _describe_identity(rec.get("run"))))
                continue
            bid = rec.get("block")
            if not isinstance(bid, str):
                store.malformed.append((no, "a record without a 'block' id"))
                continue
            members = open_blocks.setdefault(bid, [])
            if rec["kind"] != "cell":
                members.append((no, rec))
                continue
            del open_blocks[bid]
            whole = (rec.get("lines") == len(members)
                     and all(r["cell"] == rec["cell"] for _, r in members))
            if not whole:
                store.partial.append((members[0][0] if members else no, rec["cell"]))
                continue
            _keep(store, Block(rec["cell"], [r for _, r in members], rec))
        else:
            members = legacy.setdefault(rec["cell"], [])
            if rec["kind"] != "cell":
                members.append((no, rec))
                continue
            del legacy[rec["cell"]]
            _keep(store, Block(rec["cell"], [r for _, r in members], rec))
    if prev_unparsed is not None:
        store.malformed.append((prev_unparsed, "not JSON"))
    for members in (*open_blocks.values(), *legacy.values()):
        if members:
            store.partial.append((members[0][0], members[0][1]["cell"]))
    store.partial.sort()
    return store.check(own) if check else store


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
