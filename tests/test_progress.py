"""The run's progress: a live bar on a terminal, the line log on a pipe (issue 20)."""
from __future__ import annotations

import io
import logging
import re
import sys

from anobench.progress import Progress, clock, is_terminal
from anobench.runner import run_suite


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_is_terminal():
    assert is_terminal(FakeTerminal()) and not is_terminal(io.StringIO())
    assert not is_terminal(object())
    closed = io.StringIO()
    closed.close()
    assert not is_terminal(closed)
    assert clock(3725.4) == "1:02:05"


def test_a_pipe_gets_one_line_per_cell_with_elapsed_time_and_eta(tiny_suite, registry,
                                                                  tmp_path):
    out = io.StringIO()
    run_suite(tiny_suite, registry, results_root=tmp_path, stream=out)
    text = out.getvalue()
    cells = [ln for ln in text.splitlines() if ln.startswith("[")]
    assert len(cells) == 4 and "\r" not in text
    for k, line in enumerate(cells, 1):
        assert re.fullmatch(rf"\[{k}/4\] digits class [03] rep [01] pca: fit \d+\.\ds, score "
                            r"\d+\.\ds, roc_auc \d\.\d{3} \| elapsed 0:00:\d\d ETA 0:00:\d\d", line)


def test_a_terminal_gets_a_live_bar_with_the_cell_lines_above_it(tiny_suite, registry, tmp_path):
    out = FakeTerminal()
    run_suite(tiny_suite, registry, results_root=tmp_path, stream=out)
    text = out.getvalue()
    assert "\r" in text  # the bar redraws itself in place
    assert re.search(r"cells: 100%\|[^\n\r]*\| 4/4 \[", text)  # done/total, then elapsed<ETA
    lines = [ln.split("\r")[-1] for ln in text.splitlines()]
    cells = [ln for ln in lines if ln.startswith("[")]
    assert [c[:5] for c in cells] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert not any("ETA" in c for c in cells)  # the bar shows elapsed time and ETA
    assert lines[0].startswith("anobench: suite 'tiny': 4 cells (0 done earlier)")


def test_the_bar_can_be_asked_for_or_refused(tiny_suite, registry, tmp_path):
    out = io.StringIO()
    run_suite(tiny_suite, registry, results_root=tmp_path, stream=out, progress=True)
    assert "4/4" in out.getvalue() and "| elapsed" not in out.getvalue()
    out = FakeTerminal()
    run_suite(tiny_suite, registry, results_root=tmp_path, stream=out, progress=False)
    assert "\r" not in out.getvalue() and "| elapsed" in out.getvalue()


def test_failures_messages_and_log_lines_go_above_the_bar(monkeypatch, capsys):
    out = FakeTerminal()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("log: %(message)s"))
    monkeypatch.setattr(logging.root, "handlers", [handler])
    with Progress(out, 2) as progress:
        assert logging.root.handlers != [handler]  # console log lines go through the bar
        logging.getLogger("anobench.test").warning("epoch 3/10")
        progress.note("a message \x1b[31m")
        progress.cell("one: FAILED: boom", failed=True)
        progress.cell("two: fit 0.1s")
        assert (progress.stored, progress.failed) == (2, 1)
    assert logging.root.handlers == [handler]  # restored
    assert "log: epoch 3/10\n" in capsys.readouterr().err  # same stream, same format
    text = out.getvalue()
    assert "a message \\x1b[31m" in text and "\x1b" not in text  # user text escaped
    assert "[1/2] one: FAILED: boom" in text and "[2/2] two: fit 0.1s" in text
    assert "2/2" in text


def test_no_console_handler_is_added_where_logging_has_none(monkeypatch):
    monkeypatch.setattr(logging.root, "handlers", [])
    with Progress(FakeTerminal(), 1):
        assert logging.root.handlers == []
