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


def test_every_package_folder_is_installed():
    """A non-editable install (tox, CI, users) ships only the packages listed in pyproject:
    a new subpackage missing from the list imports in an editable checkout and fails everywhere
    else."""
    root = Path(__file__).resolve().parent.parent
    tool = PYPROJECT["tool"]["setuptools"]
    listed = set(tool["packages"])
    for name, folder in tool["package-dir"].items():
        base = root / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            dotted = ".".join((name, *rel.parts))
            assert dotted in listed, f"{dotted} ({init.parent}) is not in [tool.setuptools] packages"


def _minimum(requirements, name):
    from packaging.requirements import Requirement
    from packaging.version import Version

    for text in requirements:
        req = Requirement(text)
        if req.name == name:
            lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
            assert lows, f"{text}: no lower bound"
            return max(lows)
    raise AssertionError(f"{name} is not pinned")


def test_scipy_pin_covers_what_the_code_and_the_tests_use():
    import scipy
    from packaging.version import Version

    runtime = _minimum(PYPROJECT["project"]["dependencies"], "scipy")
    # scipy >= 1.15 honours method="exact" with zero differences (scipy < 1.15 switched to the
    # normal approximation), which tests/test_statistics.py compares anobench's exact p-values with;
    # the report uses wilcoxon(method="asymptotic") and bootstrap(rng=), both new in 1.15
    assert runtime >= Version("1.15")
    assert Version(scipy.__version__) >= runtime
