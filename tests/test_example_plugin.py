"""The example third-party plugin (examples/anobench-isoforest), installed for real.

The package is pip-installed (no build isolation, no dependencies: setuptools
comes from the test environment, no network needed) into a temporary target
folder. That folder is put on ``sys.path`` only while a test runs (and on
PYTHONPATH of subprocesses), so the test environment itself is not changed.
anobench must find the plugin only through the ``anobench`` entry-point group.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "anobench-isoforest"


def pip_install_target(src: Path, target: Path) -> None:
    """``pip install --no-deps --no-build-isolation --target target`` of a copy of ``src``."""
    setuptools = pytest.importorskip("setuptools", reason="needs setuptools to build plugins")
    version = tuple(int(p) for p in setuptools.__version__.split(".")[:2] if p.isdigit())
    if version < (70, 1):
        try:
            import wheel  # noqa: F401 - older setuptools build wheels with it
        except ImportError:
            pytest.skip(f"setuptools {setuptools.__version__} without 'wheel' cannot build "
                        "wheels offline; install the test extra (setuptools>=70.1)")
    build = target.parent / f"src-{src.name}"
    shutil.copytree(src, build, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                              "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-input", "--disable-pip-version-check", "--target", str(target), str(build)],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


def env_with(target: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(target), env.get("PYTHONPATH")) if p)
    env.pop(f"{'ANOBENCH'}_DISABLE_PLUGINS", None)
    return env


def activate(target: Path, monkeypatch) -> None:
    """Put an install target on sys.path for this test, with a fresh plugin registry."""
    import anobench.manager

    monkeypatch.syspath_prepend(str(target))
    monkeypatch.setattr(anobench.manager, "_cache", {})
    monkeypatch.delenv("ANOBENCH_DISABLE_PLUGINS", raising=False)


@pytest.fixture
def use_target(monkeypatch):
    return lambda target: activate(target, monkeypatch)


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run the anobench CLI in this process; return (exit code, stdout, stderr)."""
    from anobench.cli import main

    code = main(["-q", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("isoforest") / "site"
    pip_install_target(EXAMPLE, target)
    assert (target / "anobench_isoforest" / "plugin.py").is_file()
    return target


@pytest.fixture
def installed(target, use_target) -> Path:
    from anobench.manager import load_registry

    assert "isoforest" not in load_registry().detectors  # entry points are the only link
    use_target(target)
    return target


def _row(listing: str, name: str) -> list[str]:
    for line in listing.splitlines():
        if line.split()[:1] == [name]:
            return line.split()
    raise AssertionError(f"{name!r} not in anobench list:\n{listing}")


def test_list_shows_the_plugin_that_provided_them(installed, capsys):
    code, out, err = cli(["list"], capsys)
    assert code == 0, err
    iso, med = _row(out, "isoforest"), _row(out, "median")
    assert iso[1] == "detector" and "anobench-isoforest" in iso
    assert med[1:3] == ["scoring", "rule"] and "anobench-isoforest" in med


SUITE = """
[suite]
name = "iso"
repetitions = 2
[[datasets]]
name = "digits"
classes = [1]
[[detectors]]
name = "isoforest"
params = { n_estimators = [25, 50] }
[[detectors]]
name = "pca"
params = { n_components = 8 }
"""

VAE_WITH_MEDIAN = """
[[detectors]]
name = "vae"
rules = ["single", "median", "expected"]
measures = ["recon", "elbo"]
n_samples = 5
params = { max_epochs = 2, device = "cpu" }
"""


def test_suite_with_the_plugin_detector_and_rule(installed, tmp_path, capsys, monkeypatch):
    from anobench.manager import load_registry

    monkeypatch.chdir(tmp_path)
    has_vae = "vae" in load_registry().detectors
    (tmp_path / "s.toml").write_text(SUITE + (VAE_WITH_MEDIAN if has_vae else ""))
    code, out, err = cli(["run", "s.toml", "--results", "res", "--format", "plain", "--tables"], capsys)
    assert code == 0, err
    for column in ("isoforest[n_estimators=25]", "isoforest[n_estimators=50]", "pca"):
        assert column in out, out
    records = [json.loads(line) for line in
               (next((tmp_path / "res" / "iso").iterdir()) / "records.jsonl").open()]
    results = [r for r in records if r.get("kind") == "result"]
    assert {r["detector"] for r in results} >= {"isoforest", "pca"}
    if not has_vae:
        pytest.skip("the 'vae' detector is not registered (neural plugins missing): "
                    "the median rule was not run")
    for column in ("vae:median", "vae:single", "vae:expected"):
        assert column in out, out
    median = [r for r in results if r["rule"] == "median"]
    # 1 class x 2 repetitions x 2 measures x 3 metrics
    assert len(median) == 12 and {r["measure"] for r in median} == {"recon", "elbo"}
    # every rule of one cell is a reduction of the same trained model
    assert len({r["model"] for r in results if r["detector"] == "vae"}) == 1


@pytest.mark.slow  # a pytest run of the installed package in a subprocess
def test_the_plugin_passes_its_own_conformance_tests(target, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), str(EXAMPLE / "tests")],
        capture_output=True, text=True, env=env_with(target), cwd=tmp_path, timeout=300,
        check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "2 passed" in proc.stdout


BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"
[project]
name = "anobench-broken"
version = "0.1.0"
[project.entry-points.anobench]
broken-{kind} = "anobench_broken_{kind}"
"""

BROKEN_CODE = {
    "raises": '''from anobench.hookspecs import hookimpl

@hookimpl
def anobench_register_detectors(registry):
    raise ValueError("first line\\nsecond line")
''',
    "duplicate": '''from anobench.hookspecs import hookimpl
from anobench_plugins.classical import PCADetector

@hookimpl
def anobench_register_detectors(registry):
    registry.add_detector("pca", PCADetector)
''',
}


@pytest.mark.parametrize("kind, expected", [
    ("raises", "plugin 'broken-raises' raised in anobench_register_detectors: ValueError: "
               "first line | second line"),
    ("duplicate", "detector 'pca' is registered by two plugins, 'broken-duplicate' and "
                  "'classical'; rename one or disable one with ANOBENCH_DISABLE_PLUGINS"),
])
def test_a_broken_installed_plugin_is_a_one_line_error_naming_it(tmp_path, kind, expected,
                                                                 use_target, capsys):
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "pyproject.toml").write_text(BROKEN_PYPROJECT.format(kind=kind))
    (src / f"anobench_broken_{kind}.py").write_text(BROKEN_CODE[kind])
    target = tmp_path / "site"
    pip_install_target(src, target)
    use_target(target)
    code, out, err = cli(["list"], capsys)
    assert code == 2 and out == ""
    assert err == f"anobench: error: {expected}\n"
