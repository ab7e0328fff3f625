"""User text is escaped for every medium it reaches (anobench.escape), end to end.

Hostile labels, grid values and class names from a data file —
``<script>alert(1)</script>``, ``<img src=x onerror=alert(1)>``, ESC and NUL —
go through a run and its report: the terminal (progress, failures, errors),
report.md, report.html, report.tex and the figures show them as text.
"""
from __future__ import annotations

import re
import xml.dom.minidom
from pathlib import Path

import numpy as np
import pytest

import anobench.cli as cli
from anobench import escape
from anobench.api import Detector
from anobench.hookspecs import hookimpl
from anobench.manager import build_registry, get_plugin_manager
from anobench.report.markup import Entry, Heading, Para, TableBlock, to_html, to_markdown

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
ESC = "\x1b[31m"
NUL = "\x00"
CLASSES = [SCRIPT, IMG, f"{ESC}red", f"nul{NUL}x"]


# ------------------------------------------------------------------ the helpers

@pytest.mark.parametrize("text", [SCRIPT, IMG, "<!-- c -->", "<http://x.y>", "a<b>c"])
def test_markdown_shows_html_as_text(text):
    out = escape.markdown(text)
    assert not re.search(r"<[A-Za-z/!?]", out), out  # nothing markdown reads as a tag
    assert out.replace("&lt;", "<") == text


def test_markdown_shows_entities_as_text():
    assert escape.markdown("&lt;b&gt; &#60; AT&T") == "&amp;lt;b&amp;gt; &amp;#60; AT&T"


def test_markdown_keeps_the_reports_own_words():
    for text in ["p <0.0001", "n=3<6: no test", "median Δ [95% CI] ×100", "r_rb", "W/T/L",
                 "ed-vae vs vae: AUC, measure elbo", "mean ± SEM", "α = 0.05"]:
        assert escape.markdown(text) == text


def test_markdown_breaks_links_images_and_table_cells():
    assert escape.markdown("[x](javascript:alert(1))") == "[x\\](javascript:alert(1))"
    assert escape.markdown("![t](http://e/t.png)") == "![t\\](http://e/t.png)"
    assert escape.markdown_cell("a|b") == "a\\|b"
    assert escape.markdown_cell("a\\|b") == "a\\\\\\|b"  # the backslash cannot eat the escape


@pytest.mark.parametrize("fn", [escape.terminal, escape.markdown, escape.markdown_cell,
                                escape.html, escape.visible])
def test_control_characters_are_made_visible(fn):
    out = fn(f"a{ESC}b{NUL}c\r\u202ed\x9b")
    assert not any(ch in out for ch in "\x1b\x00\r\u202e\x9b")
    assert "\\x1b" in out and "\\x00" in out and "\\u202e" in out


def test_terminal_keeps_line_breaks_and_tabs():
    assert escape.terminal("a\n\tb") == "a\n\tb"
    assert escape.visible("a\nb") == "a\\x0ab"


def test_markup_escapes_every_block():
    blocks = [Heading(SCRIPT), Para(IMG), Para(ESC, em=True),
              TableBlock([Entry(IMG)], [[Entry(f"{SCRIPT}|x{NUL}", bold=True)]], title=IMG,
                         note=SCRIPT)]
    md, page = to_markdown(blocks), to_html(blocks, IMG)
    for out in (md, page):
        assert "<script" not in out and "<img" not in out
        assert ESC not in out and NUL not in out
    assert "&lt;script>" in md and "\\|x" in md


# ------------------------------------------------------------------ end to end

class Tagged(Detector):
    """A detector with a string parameter; a tag starting with 'fail' raises, naming it."""

    def __init__(self, *, tag: str = "", random_state=None):
        self.tag = tag
        self.random_state = random_state

    def fit(self, X, X_val=None):
        if self.tag.startswith("fail"):
            raise ValueError(f"cannot fit with tag {self.tag}")
        return self

    def score(self, X):
        X = X.reshape(len(X), -1)
        return X.sum(1) + len(self.tag) * 1e-3 * X[:, 0]


SUITE = f"""
[suite]
name = "hostile"
seed = 0
repetitions = 2
metrics = ["roc_auc", "pr_auc"]

[[datasets]]
name = "mine"
path = "h.npz"
label = "{IMG}"

[[detectors]]
name = "tagged"
label = "{IMG}"
params = {{ tag = ["{SCRIPT}", "\\u001b[31m", "a\\u0000b", "fail\\u001b[2J\\u0000"] }}

[[detectors]]
name = "pca"
params = {{ n_components = 2 }}
"""


@pytest.fixture()
def hostile(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(CLASSES), 40)
    X = rng.normal(size=(len(y), 5)) + np.repeat(np.arange(4), 40)[:, None]
    np.savez(tmp_path / "h.npz", X=X, y=y)
    (tmp_path / "s.toml").write_text(SUITE)
    plugin = type("P", (), {})()
    plugin.anobench_register_detectors = hookimpl(
        lambda registry: registry.add_detector("tagged", Tagged))
    registry = build_registry(get_plugin_manager(extra_plugins=[("tagplug", plugin)]))
    monkeypatch.setattr(cli, "_registry", lambda: registry)
    return tmp_path


def _clean(text: str, where: str, markup: bool = True) -> None:
    """No control character (a terminal, any file); no HTML tag of the user (markup)."""
    for bad in ("\x1b", "\x00", "\x9b", "\r") + (("<script", "<img") if markup else ()):
        assert bad not in text, f"{bad!r} reached {where}"


def test_hostile_names_are_text_everywhere(hostile, capsys):
    code = cli.main(["run", str(hostile / "s.toml"), "--results", str(hostile / "r")])
    out = capsys.readouterr()
    assert code == 1  # the 'fail…' grid point failed (its error names the tag), the rest ran
    _clean(out.out, "the terminal (state and verdicts)", markup=False)
    _clean(out.err, "the terminal (progress)", markup=False)
    assert "FAILED" in out.err and "fail\\x1b[2J\\x00" in out.err
    run = next((hostile / "r" / "hostile").iterdir())
    md = (run / "report.md").read_text()
    page = (run / "report.html").read_text()
    _clean(md, "report.md")
    _clean(page.replace("<img alt=", ""), "report.html")  # figures are <img> elements
    assert "&lt;img src=x onerror=alert(1)>" in md and "&lt;script>alert(1)&lt;/script>" in md
    assert "\\\\x1b[31mred" in md and "nul\\\\x00x" in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "\\x1b[31mred" in page
    svgs = sorted((run / "figures").glob("*.svg"))
    assert svgs
    for svg in svgs:
        text = svg.read_text()
        assert ESC not in text and NUL not in text
        xml.dom.minidom.parseString(text)  # well-formed: no control characters
    assert cli.main(["report", str(run), "--tables", "--no-figures"]) == 0
    _clean(capsys.readouterr().out, "the terminal (markdown tables)")
    assert cli.main(["report", str(run), "--format", "latex", "--no-figures"]) == 0
    _clean(capsys.readouterr().out, "the terminal (LaTeX)", markup=False)
    _clean((run / "report.tex").read_text(), "report.tex", markup=False)
    assert cli.main(["report", str(run), "--format", "plain", "--tables", "--no-figures"]) == 0
    plain = capsys.readouterr().out
    _clean(plain, "the terminal (plain)", markup=False)
    assert "\\x1b[31mred" in plain


def test_hostile_names_in_errors(hostile, capsys):
    suite = hostile / "s.toml"
    suite.write_text(SUITE.replace(f'label = "{IMG}"\n', f'label = "{IMG}"\nclasses = ["nope"]\n',
                                   1))
    assert cli.main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "\\x1b[31mred" in err and "class 'nope'" in err
    assert ESC not in err and NUL not in err and len(err.strip().splitlines()) == 1


def test_figure_text_is_not_math(tmp_path):
    from anobench.report.plots import cd_diagram

    png, svg = cd_diagram(["a$\\foo$", f"b{NUL}{ESC}", "c"], [1.0, 2.0, 3.0], 1.0, [],
                          tmp_path / "cd", title="$\\x$")
    assert Path(png).is_file()
    xml.dom.minidom.parse(str(svg))


def test_log_messages_reach_the_terminal_escaped():
    import logging

    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "class %s", (f"{ESC}red",), None)
    assert escape.TerminalFormatter("%(message)s").format(record) == "class \\x1b[31mred"
