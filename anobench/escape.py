"""User text, escaped for where it is shown: one function per medium.

Labels, grid values, class names read from data files, dataset labels and
paths reach the terminal, ``report.md``, ``report.html``, ``report.tex`` and
figures. Whatever they hold, they show as text there and do nothing else:

* :func:`visible` — control and other non-printable characters (ESC, NUL,
  a right-to-left override) written as Python writes them in a string
  literal (``\\x1b``, ``\\x00``, ``\\u202e``); every medium starts with it;
* :func:`terminal` — :func:`visible`, keeping line breaks and tabs;
* :func:`markdown` — :func:`visible`, then what markdown would read as HTML
  (``<`` opening a tag or comment, ``&`` opening an entity), as a link or
  image (``](``, ``][``), and backslashes; :func:`markdown_cell` also ``|``;
* :func:`html` — :func:`visible`, then :func:`html.escape`;
* figures: :func:`visible`, drawn with matplotlib's math mode off, so a
  ``$`` is a dollar sign (:func:`anobench.report.plots._save`).

The report's own words pass through the same functions (the markup layer
cannot tell them apart); they hold none of these characters except ``<``
before a digit (``p <0.0001``), which markdown shows as it is, so they come
out unchanged.
"""
from __future__ import annotations

import html as _html
import logging
import re
from typing import TextIO

_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")  # what CommonMark reads as raw HTML
_ENTITY = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9A-Fa-f]{1,6};|[A-Za-z][A-Za-z0-9]*;)")
_LINK = re.compile(r"\](?=[(\[])")  # the middle of [text](url), ![alt](src), [text][ref]


def _show(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: object, keep: str = "") -> str:
    """``text`` with every non-printable character (but those in ``keep``) as ``\\xNN``."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in keep else _show(ch) for ch in text)


def terminal(text: object) -> str:
    """For a terminal: control characters (ESC, NUL, carriage return …) made visible."""
    return visible(text, keep="\n\t")


def markdown(text: object) -> str:
    """For markdown text: visible, and no HTML, link, image or escape of markdown's own."""
    text = visible(text).replace("\\", "\\\\")
    if "&" in text:
        text = _ENTITY.sub("&amp;", text)
    if "<" in text:
        text = _TAG_OPEN.sub("&lt;", text)
    if "]" in text:
        text = _LINK.sub("\\\\]", text)
    return text


def markdown_cell(text: object) -> str:
    """For a cell of a markdown table: :func:`markdown`, and a ``|`` does not split the row."""
    return markdown(text).replace("|", "\\|")


def html(text: object) -> str:
    """For HTML text or an attribute value."""
    return _html.escape(visible(text))


class TerminalStream:
    """A text stream that writes :func:`terminal` text to the stream it wraps."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(terminal(text))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


class TerminalFormatter(logging.Formatter):
    """A log formatter whose messages are :func:`terminal` text."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal(super().format(record))
