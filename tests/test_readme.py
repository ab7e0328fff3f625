"""The README's "Add a detector", "Add a scoring rule", "Use your own data" and
"PyOD and scikit-learn" sections are executed, so the docs cannot rot.

A fenced block preceded by ``<!-- readme-test: file NAME -->`` is written to
NAME; one preceded by ``<!-- readme-test: run -->`` is run: ``python`` blocks
in one namespace per section, ``bash`` blocks line by line in a shell. Every
section runs in its own empty folder.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from anobench.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
SECTIONS = ("Add a detector", "Add a scoring rule", "Use your own data", "PyOD and scikit-learn")
_BLOCK = re.compile(
    r"<!-- readme-test: (?P<action>run|file (?P<file>[\w.\-/]+)) -->\n"
    r"```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"README has no section '## {title}'"
    return m.group(1)


def blocks(title: str) -> list[dict[str, str]]:
    return [m.groupdict() for m in _BLOCK.finditer(section(title))]


def _shell_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("ANOBENCH_DISABLE_PLUGINS", None)
    return env


@pytest.mark.parametrize("title", SECTIONS)
def test_readme_section_runs(title, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    found = blocks(title)
    assert any(b["action"] == "run" for b in found), f"no executed block in '{title}'"
    namespace: dict = {"__name__": "__readme__"}
    for b in found:
        body = b["body"]
        if b["file"]:
            (tmp_path / b["file"]).write_text(body, encoding="utf-8")
            if b["file"].endswith(".toml"):
                tomllib.loads(body)  # every TOML shown must at least parse
            continue
        if b["lang"] == "python":
            exec(compile(body, f"README.md [{title}]", "exec"), namespace)  # noqa: S102
        elif b["lang"] == "bash":
            for line in body.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if line.startswith("anobench ") and not set(line) & set("|&;<>$`"):
                    # the same CLI entry point, in this process (saves a torch import)
                    code = main(shlex.split(line)[1:])
                    assert code == 0, f"README [{title}] `{line}` exited with {code}"
                    continue
                proc = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=_shell_env(),
                                      capture_output=True, text=True, timeout=600, check=False)
                assert proc.returncode == 0, f"README [{title}] `{line}` failed:\n{proc.stderr}"
        else:
            pytest.fail(f"README [{title}]: cannot run a {b['lang']!r} block")
    if title == "Add a detector":
        assert (tmp_path / "anobench-my-detector" / "pyproject.toml").is_file()
        group = tomllib.loads((tmp_path / "pyproject-snippet.toml").read_text())
        assert group["project"]["entry-points"]["anobench"] == {"my-plugin": "my_detector"}
    if title in ("Add a detector", "Add a scoring rule"):
        assert namespace["failed"] == 0
        report = (namespace["run_dir"] / "report.md").read_text(encoding="utf-8")
        column = "mean-distance" if title == "Add a detector" else "vae:trimmed-mean"
        assert column in report
    if title == "Use your own data":
        runs = list((tmp_path / "results" / "mine").iterdir())
        assert len(runs) == 1 and (runs[0] / "records.jsonl").stat().st_size > 0


def test_marked_blocks_are_not_lost():
    """Removing the markers would silently stop the checks: count them."""
    counts = {t: sum(b["action"] == "run" for b in blocks(t)) for t in SECTIONS}
    assert counts["Add a detector"] >= 3 and counts["Add a scoring rule"] >= 2
    assert counts["Use your own data"] >= 2
