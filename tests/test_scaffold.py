"""``anobench new detector|rule NAME``: the generated packages install, register
through the entry-point group, and their conformance tests pass as generated."""
from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
from test_example_plugin import activate, cli, env_with, pip_install_target

from anobench.cli import main
from anobench.scaffold import plugin_files


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    parent = tmp_path_factory.mktemp("new")
    assert main(["new", "detector", "my-det", "--dir", str(parent)]) == 0
    assert main(["new", "rule", "trimmed", "--dir", str(parent)]) == 0
    target = parent / "site"
    for name in ("my-det", "trimmed"):
        pip_install_target(parent / f"anobench-{name}", target)
    return parent, target


def test_generated_packages_pass_their_conformance_tests(generated):
    parent, target = generated
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
         "--rootdir", str(parent), str(parent / "anobench-my-det" / "tests"),
         str(parent / "anobench-trimmed" / "tests")],
        capture_output=True, text=True, env=env_with(target), cwd=parent, timeout=300,
        check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "2 passed" in proc.stdout


def test_generated_plugins_are_listed_with_their_plugin_name(generated, monkeypatch, capsys):
    activate(generated[1], monkeypatch)
    code, out, err = cli(["list"], capsys)
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    assert "anobench-my-det" in rows["my-det"] and " detector " in rows["my-det"]
    assert "anobench-trimmed" in rows["trimmed"] and "scoring rule" in rows["trimmed"]


def test_skeleton_layout_and_entry_point():
    files = plugin_files("detector", "my-det")
    assert set(files) == {"pyproject.toml", "README.md", ".gitignore",
                          "src/anobench_my_det/__init__.py", "src/anobench_my_det/detector.py",
                          "src/anobench_my_det/plugin.py", "tests/test_conformance.py"}
    meta = tomllib.loads(files["pyproject.toml"])
    assert meta["project"]["entry-points"]["anobench"] == {
        "anobench-my-det": "anobench_my_det.plugin"}
    assert 'registry.add_detector("my-det", MyDetDetector)' in files["src/anobench_my_det/plugin.py"]
    rule = plugin_files("rule", "trimmed")
    assert 'name = "trimmed"' in rule["src/anobench_trimmed/rule.py"]
    for path, text in (*files.items(), *rule.items()):  # the generated Python compiles
        if path.endswith(".py"):
            compile(text, path, "exec")


def test_refuses_bad_names_and_existing_folders(tmp_path, capsys):
    assert main(["new", "detector", "My Det", "--dir", str(tmp_path)]) == 2
    assert "name 'My Det' is invalid" in capsys.readouterr().err
    (tmp_path / "anobench-x").mkdir()
    assert main(["new", "rule", "x", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "anobench-x: already exists" in err and err.count("\n") == 1
