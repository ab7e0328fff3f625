"""Figures a report keeps when it is rendered without drawing them.

Drawing figures writes ``figures/index.json`` next to them: each figure's
files (relative to the run directory) and caption, and a fingerprint of what
they were drawn from (records.jsonl and the report options). A later render
that draws no figures (``--no-figures``, ``[report] figures = false``,
matplotlib missing) keeps those figures — the files and their references in
report.md and report.html — instead of replacing a report that holds figures
with one that holds none; a note under them says they were not redrawn and
whether they still match the tables. A run rendered before the index existed
keeps the figures its report.md links to.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from anobench.atomic import write_atomic
from anobench.report.markup import Image

INDEX = "figures/index.json"
INDEX_FORMAT = 1

#: A figure as :func:`anobench.report.markup.to_markdown` writes it (for runs without an index).
_MD_FIGURE = re.compile(r"^!\[[^\]\n]*\]\((?P<png>[^)\n]+\.png)\)\n\n_(?P<caption>.*)_ "
                        r"\(\[SVG\]\((?P<svg>[^)\n]+\.svg)\)\)$", re.MULTILINE)


@dataclass(frozen=True)
class KeptFigures:
    """Figures of an earlier render that are still on disk, and what to say about them."""

    images: list[Image]
    note: str


def fingerprint(run_dir: Path, options: object) -> str:
    """What the figures are drawn from: the records file and the report options."""
    h = hashlib.sha256()
    try:
        h.update((Path(run_dir) / "records.jsonl").read_bytes())
    except OSError:
        pass
    h.update(repr(options).encode("utf-8"))
    return h.hexdigest()


def save_index(run_dir: Path, images: list[Image], stamp: str) -> None:
    """Record the figures just drawn (an empty list too: that report has none)."""
    run_dir = Path(run_dir)
    entries = [{"png": _rel(i.png, run_dir), "svg": _rel(i.svg, run_dir), "caption": i.caption}
               for i in images]
    path = run_dir / INDEX
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"format": INDEX_FORMAT, "fingerprint": stamp,
                                   "figures": entries}, indent=1, ensure_ascii=False) + "\n",
                 within=run_dir)


def kept_figures(run_dir: Path, stamp: str) -> KeptFigures | None:
    """The figures of the last render that drew any, if their files are still there."""
    run_dir = Path(run_dir)
    listed, matches = _from_index(run_dir, stamp)
    same: bool | None = matches  # None: not known (no index)
    source = f"listed in {INDEX}"
    if listed is None:
        listed, same, source = _from_report_md(run_dir), None, "linked from the previous report.md"
    if not listed:
        return None
    images = [i for i in listed if Path(i.png).is_file() and Path(i.svg).is_file()]
    gone = len(listed) - len(images)
    if not images:
        return None
    if same:
        state = "they were drawn from the same records and options as the tables above"
    elif same is None:
        state = "whether they match the tables above is not known"
    else:
        state = ("they were drawn from other records or report options than the tables "
                 "above and may not match them")
    note = (f"{len(images)} figure(s) {source}, drawn by an earlier rendering of this report and "
            f"not redrawn now (figures are off: --no-figures, [report] figures = false or no "
            f"matplotlib); {state}. Redraw them with `anobench report RUN_DIR`.")
    if gone:
        note += f" {gone} figure(s) of that rendering are no longer on disk and are left out."
    return KeptFigures(images, note)


def _from_index(run_dir: Path, stamp: str) -> tuple[list[Image] | None, bool]:
    try:
        data = json.loads((run_dir / INDEX).read_text(encoding="utf-8"))
        found = [_image(run_dir, e["png"], e["svg"], str(e["caption"])) for e in data["figures"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None, False
    return [i for i in found if i is not None], data.get("fingerprint") == stamp


def _from_report_md(run_dir: Path) -> list[Image]:
    try:
        text = (run_dir / "report.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    found = (_image(run_dir, m["png"], m["svg"], m["caption"]) for m in _MD_FIGURE.finditer(text))
    return [i for i in found if i is not None]


def _image(run_dir: Path, png: str, svg: str, caption: str) -> Image | None:
    """The figure at these paths (relative to the run), if both lie inside the run directory."""
    inside = run_dir.resolve()
    p, s = (run_dir / png).resolve(), (run_dir / svg).resolve()
    if not (p.is_relative_to(inside) and s.is_relative_to(inside)):
        return None
    return Image(run_dir / png, run_dir / svg, caption)


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return Path(path).as_posix()
