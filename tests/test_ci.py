"""`.ci/run` runs the slow tier, the linters and the bench with `tox exec -e py` in the
environment that the README's `tox -e py` installed (`tox -e slow` would rebuild it): each of
those steps must run tox.ini's commands for its [testenv:NAME] (with what `{posargs}` would
add), so CI runs what `tox -e NAME` runs."""
from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STEPS = {"slow tier": "slow", "lint": "lint", "short bench": "bench"}


def _tox_commands(name: str) -> list[list[str]]:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(REPO / "tox.ini")
    text = ini[f"testenv:{name}"]["commands"].replace("\\\n", " ")
    return [shlex.split(line.replace("{toxinidir}", "$(pwd)"))
            for line in text.splitlines() if line.strip()]


def _steps() -> dict[str, str]:
    text = (REPO / ".ci" / "run").read_text().replace("\\\n", " ")
    return dict(re.findall(r'^step "([^"]+)" (.*)$', text, flags=re.M))


def _exec_commands(step: str) -> list[list[str]]:
    return [shlex.split(m.replace('"', ""))
            for m in re.findall(r"tox exec -e py -- (.+?)\s*(?=&&|'$|$)", step)]


def test_ci_steps_run_tox_ini_commands():
    steps = _steps()
    for step, env in STEPS.items():
        ran = _exec_commands(steps[step])
        wanted = _tox_commands(env)
        assert len(ran) == len(wanted), (step, ran, wanted)
        for argv, cmd in zip(ran, wanted):
            fixed = [t for t in cmd if t != "{posargs}"]
            assert argv[:len(fixed)] == fixed, f".ci/run's {step} runs {argv}, tox.ini {cmd}"
            assert "{posargs}" in cmd or len(argv) == len(fixed), (step, argv, cmd)


def test_ci_runs_the_readme_test_command_first_and_the_short_bench():
    steps = _steps()
    assert next(iter(steps.items())) == ("fast tier", "tox -e py")
    assert "ANOBENCH_BENCH_MODE=short" in steps["short bench"]
