"""What ``pip install -e .`` brings (issue 12): figures by default, the bridges' extra."""
from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())


def _names(requirements):
    return {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
            for r in requirements}


def test_matplotlib_is_a_dependency_so_reports_have_figures():
    assert "matplotlib" in _names(PYPROJECT["project"]["dependencies"])


def test_the_pyod_extra_and_ci_install_pyod():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"pyod", "tqdm"} <= _names(extras["pyod"])
    assert {"pyod", "tqdm"} <= _names(extras["test"])  # tox -e py (CI) runs the PyOD tests
    assert "plots" in extras  # old install commands keep working


def test_the_bridges_are_registered_as_plugins():
    eps = PYPROJECT["project"]["entry-points"]["anobench"]
    assert eps["pyod"] == "anobench_plugins.pyod_bridge"
    assert eps["sklearn"] == "anobench_plugins.sklearn_bridge"
