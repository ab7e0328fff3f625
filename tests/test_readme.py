"""The docs' examples are executed, so the docs cannot rot.

In the pages of ``docs/`` and in ``README.md``, a fenced block preceded by
``<!-- docs-test: file NAME -->`` is written to NAME; one preceded by
``<!-- docs-test: run -->`` is run: ``python`` blocks in one namespace per
section, ``bash`` blocks line by line in a shell. A section is the text under
one ``## `` heading, or a page's text before its first one (named by the
page's ``# `` title). Every section runs in its own empty folder.

The README's two commands (run the quick suite, run the tests) are checked
against what they name: the suite validates, and tox has the environment.
"""
from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from anobench.cli import main

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
_BLOCK = re.compile(
    r"<!-- docs-test: (?P<action>run|file (?P<file>[\w.\-/]+)) -->\n"
    r"```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
_MARKER = re.compile(r"^<!-- (?:docs|readme)-test:", re.M)
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("**/*.md"))]


def sections(page: Path) -> dict[str, str]:
    """A page's sections by title: the text before its first ``## `` and under each one."""
    text = page.read_text(encoding="utf-8")
    # headings inside fenced blocks (a ``# comment`` in code) are not headings
    bare = _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    starts = [m.start() for m in re.finditer(r"^## ", bare, re.M)]
    title = re.search(r"^# (.+)$", bare, re.M)
    out = {title.group(1).strip() if title else page.stem: text[:starts[0] if starts else len(text)]}
    for a, b in zip(starts, [*starts[1:], len(text)]):
        head, _, body = text[a:b].partition("\n")
        out[head[3:].strip()] = body
    return out


def section_id(page: Path, title: str) -> str:
    return f"{page.relative_to(REPO)}: {title}"


def marked_sections() -> dict[str, str]:
    """Every section holding a marked block, by ``page: title``."""
    return {section_id(page, title): body for page in pages()
            for title, body in sections(page).items() if _MARKER.search(body)}


MARKED = marked_sections()


def blocks(sid: str) -> list[dict[str, str]]:
    return [m.groupdict() for m in _BLOCK.finditer(MARKED[sid])]


def _shell_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("ANOBENCH_DISABLE_PLUGINS", None)
    return env


def _run_bash(sid: str, body: str, cwd: Path) -> None:
    for line in body.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("anobench ") and not set(line) & set("|&;<>$`"):
            # the same CLI entry point, in this process (saves a torch import)
            code = main(shlex.split(line)[1:])
            assert code == 0, f"{sid}: `{line}` exited with {code}"
            continue
        proc = subprocess.run(["bash", "-c", line], cwd=cwd, env=_shell_env(),
                              capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, f"{sid}: `{line}` failed:\n{proc.stderr}"


def _check_outcome(sid: str, namespace: dict, tmp_path: Path) -> None:
    """What some sections must have produced, beyond running without an error."""
    if sid == "docs/plugins.md: Add a detector":
        assert (tmp_path / "anobench-my-detector" / "pyproject.toml").is_file()
        group = tomllib.loads((tmp_path / "pyproject-snippet.toml").read_text())
        assert group["project"]["entry-points"]["anobench"] == {"my-plugin": "my_detector"}
    if sid in ("docs/plugins.md: Add a detector", "docs/plugins.md: Add a scoring rule"):
        assert namespace["failed"] == 0
        report = (namespace["run_dir"] / "report.md").read_text(encoding="utf-8")
        column = "mean-distance" if sid.endswith("Add a detector") else "vae:trimmed-mean"
        assert column in report
    if sid == "docs/own-data.md: Use your own data":
        runs = list((tmp_path / "results" / "mine").iterdir())
        assert len(runs) == 1 and (runs[0] / "records.jsonl").stat().st_size > 0


@pytest.mark.parametrize("sid", sorted(MARKED))
def test_docs_section_runs(sid, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    found = blocks(sid)
    assert len(found) == len(_MARKER.findall(MARKED[sid])), \
        f"{sid}: a marker is not followed by a fenced block, or is spelled differently"
    assert any(b["action"] == "run" for b in found), f"no executed block in '{sid}'"
    namespace: dict = {"__name__": "__docs__"}
    for b in found:
        body = b["body"]
        if b["file"]:
            (tmp_path / b["file"]).write_text(body, encoding="utf-8")
            if b["file"].endswith(".toml"):
                tomllib.loads(body)  # every TOML shown must at least parse
            continue
        if b["lang"] == "python":
            exec(compile(body, sid, "exec"), namespace)  # noqa: S102
        elif b["lang"] == "bash":
            _run_bash(sid, body, tmp_path)
        else:
            pytest.fail(f"{sid}: cannot run a {b['lang']!r} block")
    _check_outcome(sid, namespace, tmp_path)


def test_marked_blocks_are_not_lost():
    """Removing the markers (or a page) would silently stop the checks: count them."""
    runs = {sid: sum(b["action"] == "run" for b in blocks(sid)) for sid in MARKED}
    assert runs.get("docs/plugins.md: Add a detector", 0) >= 3
    assert runs.get("docs/plugins.md: Add a scoring rule", 0) >= 2
    assert runs.get("docs/own-data.md: Use your own data", 0) >= 2
    assert runs.get("docs/pyod-sklearn.md: Both in a suite", 0) >= 1
    assert runs.get("docs/pyod-sklearn.md: Any anobench detector as a scikit-learn estimator", 0) >= 1
    assert runs.get("README.md: An example", 0) >= 1


def _readme_bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", README.read_text(encoding="utf-8"), re.S)


def test_the_readmes_first_command_runs_a_suite_that_validates(capsys):
    """The first command a reader types: install, then run the quick suite."""
    first = _readme_bash_blocks()[0].strip()
    assert first == ("python3 -m venv .venv && . .venv/bin/activate && pip install -e . "
                     "&& anobench run suites/quick.toml")
    suite = first.rsplit(" ", 1)[1]
    assert main(["validate", str(REPO / suite)]) == 0
    assert "OK" in capsys.readouterr().out


def test_the_readmes_second_command_runs_the_fast_tier():
    """The second: `tox -e py`, the fast tier (pytest without the slow tests)."""
    second = _readme_bash_blocks()[1].strip()
    assert second == "pip install tox && tox -e py"
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini", encoding="utf-8")
    assert "py" in tox["tox"]["envlist"].replace(",", " ").split()
    assert 'pytest -m "not slow"' in tox["testenv"]["commands"]


def test_the_readme_stays_short_and_links_into_the_docs():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400
    linked = set(re.findall(r"\]\((docs/[\w\-/]+\.md)(?:#[\w\-]+)?\)", text))
    assert linked, "the README links into docs/"
    assert all((REPO / p).is_file() for p in linked), sorted(p for p in linked
                                                             if not (REPO / p).is_file())


def test_tox_docs_installs_the_docs_extra():
    """`tox -e docs` installs mkdocs without anobench (no torch for a docs build): its deps
    must stay those of the `docs` extra."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini", encoding="utf-8")
    deps = tox["testenv:docs"]["deps"].split()
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["docs"]
    assert sorted(deps) == sorted(extra)
    assert "mkdocs build --strict" in tox["testenv:docs"]["commands"]


def test_the_docs_site_builds_strictly(tmp_path):
    """What `tox -e docs` runs: a broken link or anchor, or a page missing from the nav, fails."""
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (tox -e docs has it)")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site" / "architecture.html").is_file()
