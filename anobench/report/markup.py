"""The report as text: a list of blocks written as markdown, HTML, LaTeX or plain text.

A report is a list of blocks — :class:`Heading`, :class:`Para`, :class:`Items`, :class:`TableBlock`
(a table of :class:`Entry`), :class:`Image` — made by
:mod:`anobench.report.render`. This module owns how each block looks in each
format (bold, marks, the HTML page and its style); it adds no words of its
own. Every text is escaped for its format here, by :mod:`anobench.escape`:
labels, grid values and class names are user text.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from anobench import escape

FORMATS = ("markdown", "html", "latex", "plain")
_TABULATE = {"markdown": "github", "latex": "latex_raw", "plain": "simple", "html": "unsafehtml"}
#: How bold shows in plain text, where there is no bold.
PLAIN_BOLD = "*"


@dataclass(frozen=True)
class Term:
    """Words that depend on the format, e.g. how bold shows: "bold", or "*" in plain text."""

    rich: str
    plain: str


BOLD = Term("bold", PLAIN_BOLD)


@dataclass(frozen=True)
class Text:
    """A sentence with :class:`Term` parts; ``str()`` gives its markdown/HTML/LaTeX words."""

    parts: tuple[str | Term, ...]

    def words(self, fmt: str) -> str:
        return "".join(p if isinstance(p, str) else (p.plain if fmt == "plain" else p.rich)
                       for p in self.parts)

    def __str__(self) -> str:
        return self.words("markdown")


def words(text: str | Text, fmt: str) -> str:
    """A note as words in one format."""
    return text.words(fmt) if isinstance(text, Text) else text


@dataclass(frozen=True)
class Entry:
    """A table entry: text, bold or not, and a mark (e.g. a dagger) after it."""

    text: str
    bold: bool = False
    mark: str = ""


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    """A paragraph; ``em``: in italics; ``warn``: a warning the reader must not miss."""

    text: str | Text
    em: bool = False
    warn: bool = False


@dataclass(frozen=True)
class Items:
    """A bulleted list of sentences."""

    items: tuple[str | Text, ...]


@dataclass(frozen=True)
class TableBlock:
    """A titled table with a footnote; ``total_row``: the last row summarises the others."""

    headers: list
    rows: list
    title: str = ""
    note: str | Text = ""
    total_row: bool = False


@dataclass(frozen=True)
class Image:
    png: Path
    svg: Path
    caption: str


Block = Heading | Para | Items | TableBlock | Image


_LATEX = {
    "\\": "\\textbackslash{}", "±": "$\\pm$", "×": "$\\times$", "√": "$\\surd$",
    "α": "$\\alpha$", "χ": "$\\chi$", "²": "$^2$", "†": "$^\\dagger$", "‡": "$^\\ddagger$",
    "≥": "$\\geq$", "≤": "$\\leq$", "–": "--", "−": "$-$", "Δ": "$\\Delta$", "_": "\\_",
    "%": "\\%", "&": "\\&", "#": "\\#", "^": "\\^{}", "{": "\\{", "}": "\\}", "$": "\\$",
    "~": "\\~{}", "▲": "$^{\\blacktriangle}$", "▼": "$^{\\blacktriangledown}$",
}
#: Marks whose HTML gets a class (its colour): better, worse.
_MARK_CLASS = {"▲": "up", "▼": "down"}


def one_line(text: str) -> str:
    """Line breaks (of a label, say) as spaces: no text may start a new table row or heading."""
    return " ".join(text.splitlines()) if len(text.splitlines()) > 1 else text.strip("\r\n")


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and spell the report's Unicode symbols in LaTeX."""
    text = escape.visible(one_line(text))
    parts = text.split("√n")
    return "$\\sqrt{n}$".join("".join(_LATEX.get(ch, ch) for ch in part) for part in parts)


def entry_text(entry: Entry | str, fmt: str) -> str:
    """A table entry as text in one format."""
    if isinstance(entry, str):
        entry = Entry(entry)
    text, mark = entry.text, entry.mark
    if fmt == "latex":
        text, mark = latex_escape(text), latex_escape(mark)
        return (f"\\textbf{{{text}}}" if entry.bold else text) + mark
    if fmt == "html":
        text = escape.html(text)
        cls = f' class="{_MARK_CLASS[mark]}"' if mark in _MARK_CLASS else ""
        mark = f"<sup{cls}>{escape.html(mark)}</sup>" if mark else ""
        return (f"<b>{text}</b>" if entry.bold else text) + mark
    if fmt == "markdown":  # a | in a label must not split the row
        text, mark = escape.markdown_cell(one_line(text)), escape.markdown_cell(one_line(mark))
        return (f"**{text}**" if entry.bold else text) + mark
    text, mark = escape.visible(one_line(text)), escape.visible(one_line(mark))
    return text + (PLAIN_BOLD if entry.bold else "") + mark


def table_text(headers: list, rows: list[list], fmt: str) -> str:
    """Header and rows of :class:`Entry` or str as one table (tabulate)."""
    align = ("left",) + ("right",) * (len(headers) - 1)
    return tabulate([[entry_text(e, fmt) for e in row] for row in rows],
                    headers=[entry_text(h, fmt) for h in headers], tablefmt=_TABULATE[fmt],
                    disable_numparse=True, colalign=align)


def _rel(path: Path, base: Path | None) -> str:
    try:
        return str(Path(path).relative_to(base)) if base else str(path)
    except ValueError:
        return str(path)


def _md(text: str) -> str:
    """Text of a markdown block: one line, user text escaped (:func:`anobench.escape.markdown`)."""
    return escape.markdown(one_line(text))


def to_markdown(blocks: list[Block], base: Path | None = None) -> str:
    """Markdown; figures are linked relative to ``base``."""
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {_md(b.text)}\n")
        elif isinstance(b, Para):
            text = _md(words(b.text, "markdown"))
            out.append(f"> **{text}**\n" if b.warn else f"_{text}_\n" if b.em else f"{text}\n")
        elif isinstance(b, Items):
            out.append("".join(f"* {_md(words(x, 'markdown'))}\n" for x in b.items))
        elif isinstance(b, TableBlock):
            title = f"### {_md(b.title)}\n\n" if b.title else ""
            note = f"\n\n_{_md(words(b.note, 'markdown'))}_" if b.note else ""
            out.append(f"{title}{table_text(b.headers, b.rows, 'markdown')}{note}\n")
        elif isinstance(b, Image):
            out.append(f"![{_md(Path(b.png).stem)}]({_md(_rel(b.png, base))})\n\n"
                       f"_{_md(b.caption)}_ ([SVG]({_md(_rel(b.svg, base))}))\n")
    return "\n".join(out)


def to_plain(blocks: list[Block], base: Path | None = None) -> str:
    """Plain text for a terminal: tables in columns, figures by path."""
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            rule = ("=" if b.level == 1 else "-") * len(b.text)
            out.append(f"{b.text}\n{rule}\n")
        elif isinstance(b, Para):
            out.append(f"{'!! ' if b.warn else ''}{words(b.text, 'plain')}\n")
        elif isinstance(b, Items):
            out.append("".join(f"* {words(x, 'plain')}\n" for x in b.items))
        elif isinstance(b, TableBlock):
            title = f"{b.title}\n" if b.title else ""
            note = f"\n{words(b.note, 'plain')}" if b.note else ""
            out.append(f"{title}{table_text(b.headers, b.rows, 'plain')}{note}\n")
        elif isinstance(b, Image):
            out.append(f"Figure {_rel(b.png, base)}: {b.caption}\n")
    return escape.terminal("\n".join(out))


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1300px;padding:0 1.5em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #ddd;padding-bottom:.2em}
h2{font-size:1.3em;margin-top:2em;border-bottom:1px solid #eee}
h3{font-size:1.05em;margin:1.6em 0 .4em}
table{border-collapse:collapse;font-size:.86em;margin:.3em 0}
th,td{border:1px solid #ccc;padding:.22em .55em;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
table.total tr:last-child td{border-top:2px solid #999}
.note{font-size:.82em;color:#555;max-width:1100px;margin:.3em 0 1em}
sup{color:#555;font-weight:bold}sup.up{color:#080}sup.down{color:#c00}
.warn{background:#fff3cd;border:1px solid #e0b000;padding:.5em .8em;font-weight:bold}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#444;max-width:1100px}
.wrap{overflow:auto;max-height:85vh}
.wrap thead th{position:sticky;top:0;z-index:2}
.wrap td:first-child,.wrap th:first-child{position:sticky;left:0;z-index:1;background:#fff;
box-shadow:1px 0 0 #ccc}
.wrap thead th:first-child{z-index:3;background:#f3f3f3}
"""


def to_html(blocks: list[Block], title: str) -> str:
    """One self-contained HTML page: figures embedded as data URIs, nothing external."""
    head = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape.html(title)}</title><style>{CSS}</style></head><body>")
    out = [head]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{escape.html(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            text = escape.html(words(b.text, "html"))
            out.append(f'<p class="warn">{text}</p>' if b.warn else
                       f"<p><em>{text}</em></p>" if b.em else f"<p>{text}</p>")
        elif isinstance(b, Items):
            out.append("<ul>" + "".join(f"<li>{escape.html(words(x, 'html'))}</li>"
                                        for x in b.items) + "</ul>")
        elif isinstance(b, TableBlock):
            if b.title:
                out.append(f"<h3>{escape.html(b.title)}</h3>")
            table = table_text(b.headers, b.rows, "html")
            if b.total_row:
                table = table.replace("<table>", '<table class="total">', 1)
            out.append(f"<div class=\"wrap\">{table}</div>")
            if b.note:
                out.append(f"<p class=\"note\">{escape.html(words(b.note, 'html'))}</p>")
        elif isinstance(b, Image):
            data = base64.b64encode(Path(b.png).read_bytes()).decode("ascii")
            cap = escape.html(b.caption)
            out.append(f"<figure><img alt=\"{cap}\" src=\"data:image/png;base64,{data}\">"
                       f"<figcaption>{cap}</figcaption></figure>")
    out.append("</body></html>\n")
    return "\n".join(out)


def to_latex(blocks: list[Block]) -> str:
    """The report's tables as LaTeX ``table`` environments (booktabs-free).

    The marks ▲/▼ are ``\\blacktriangle``/``\\blacktriangledown`` (package amssymb).
    """
    out = ["% anobench tables; the marks need \\usepackage{amssymb}"]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"% {'=' * 4} {latex_escape(b.text)}")
        elif isinstance(b, TableBlock):
            lines = table_text(b.headers, b.rows, "latex").splitlines()
            if b.total_row and len(lines) > 5:  # a rule above the summary row
                lines.insert(len(lines) - 3, "\\hline")
            out.append("\\begin{table}[ht]\n\\centering\\small\n"
                       f"\\caption{{{latex_escape(b.title)}}}\n"
                       + "\n".join(lines) + "\n"
                       + (f"\\par\\smallskip\\footnotesize {latex_escape(words(b.note, 'latex'))}\n"
                          if b.note else "")
                       + "\\end{table}\n")
    return "\n".join(out)


def write_as(fmt: str, blocks: list[Block], *, base: Path | None = None, title: str = "") -> str:
    """The blocks in one of :data:`FORMATS`."""
    if fmt == "markdown":
        return to_markdown(blocks, base)
    if fmt == "html":
        return to_html(blocks, title)
    if fmt == "latex":
        return to_latex(blocks)
    if fmt == "plain":
        return to_plain(blocks, base)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
