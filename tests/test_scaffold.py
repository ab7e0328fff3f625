"""``anobench new KIND NAME [KIND NAME ...]``: the generated packages (one or
several components) install, register through the entry-point group, declare
what their code imports, and their conformance tests pass as generated."""
from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
from test_example_plugin import activate, cli, env_with, pip_install_target

from anobench.cli import main
from anobench.scaffold import imported_distributions, package_files, plugin_files


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    parent = tmp_path_factory.mktemp("new")
    assert main(["new", "detector", "my-det", "--dir", str(parent)]) == 0
    assert main(["new", "rule", "trimmed", "--dir", str(parent)]) == 0
    assert main(["new", "detector", "iso", "rule", "median", "rule", "trim-top",
                 "--package", "bundle", "--dir", str(parent)]) == 0
    target = parent / "site"
    for name in ("my-det", "trimmed", "bundle"):
        pip_install_target(parent / f"anobench-{name}", target)
    return parent, target


@pytest.mark.slow  # pytest runs of the generated packages in subprocesses
def test_generated_packages_pass_their_conformance_tests(generated):
    parent, target = generated
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
         "--rootdir", str(parent), str(parent / "anobench-my-det" / "tests"),
         str(parent / "anobench-trimmed" / "tests"), str(parent / "anobench-bundle" / "tests")],
        capture_output=True, text=True, env=env_with(target), cwd=parent, timeout=300,
        check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "5 passed" in proc.stdout  # 1 + 1 + the bundle's 3


def test_generated_plugins_are_listed_with_their_plugin_name(generated, monkeypatch, capsys):
    activate(generated[1], monkeypatch)
    code, out, err = cli(["list"], capsys)
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    assert "anobench-my-det" in rows["my-det"] and " detector " in rows["my-det"]
    assert "anobench-trimmed" in rows["trimmed"] and "scoring rule" in rows["trimmed"]
    for name in ("iso", "median", "trim-top"):  # one package, one plugin, three components
        assert "anobench-bundle" in rows[name]


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


def test_one_package_with_several_components():
    files = package_files([("detector", "iso"), ("rule", "median"), ("rule", "trim-top")],
                          "bundle")
    src = "src/anobench_bundle/"
    assert {src + "detector.py", src + "rule_median.py", src + "rule_trim_top.py"} <= set(files)
    plugin = files[src + "plugin.py"]
    assert plugin.count("@hookimpl") == 2 and 'registry.add_detector("iso", IsoDetector)' in plugin
    assert "registry.add_scoring_rule(MedianRule)\n    registry.add_scoring_rule(TrimTopRule)" in plugin
    tests = files["tests/test_conformance.py"]
    assert tests.count("def test_") == 3 and "check_scoring_rule(TrimTopRule)" in tests
    meta = tomllib.loads(files["pyproject.toml"])
    assert meta["project"]["entry-points"]["anobench"] == {"anobench-bundle": "anobench_bundle.plugin"}
    assert "detector 'iso', scoring rule 'median' and scoring rule 'trim-top'" in \
        meta["project"]["description"]


@pytest.mark.parametrize("components", [[("detector", "a")], [("rule", "b")],
                                        [("detector", "a"), ("rule", "b")]])
def test_dependencies_are_what_the_code_imports(components):
    files = package_files(components)
    meta = tomllib.loads(files["pyproject.toml"])
    module = "anobench_" + components[0][1]
    runtime = {k: v for k, v in files.items() if k.startswith("src/")}
    assert meta["project"]["dependencies"] == imported_distributions(runtime, module)
    assert "anobench" in meta["project"]["dependencies"]
    assert "numpy" in meta["project"]["dependencies"]  # both templates import it
    assert meta["project"]["optional-dependencies"]["test"] == ["pytest"]


def test_imports_map_to_distributions():
    code = ("import os\nimport numpy as np\nfrom sklearn.decomposition import PCA\n"
            "from scipy import stats\nimport torch.nn\nfrom . import x\nfrom pkg_x import y\n")
    assert imported_distributions({"a.py": code, "b.toml": "import nothing"}, "pkg_x") == [
        "numpy", "scikit-learn", "scipy", "torch"]


def test_bad_component_lists(tmp_path, capsys):
    assert main(["new", "detector", "a", "rule", "--dir", str(tmp_path)]) == 2
    assert "'rule' needs a name after it" in capsys.readouterr().err
    assert main(["new", "detector", "a", "dataset", "b", "--dir", str(tmp_path)]) == 2
    assert "kind must be one of detector, rule, got 'dataset'" in capsys.readouterr().err
    assert main(["new", "detector", "a", "detector", "a", "--dir", str(tmp_path)]) == 2
    assert "a component is named twice" in capsys.readouterr().err
    assert main(["new", "detector", "a", "--package", "Bad Name", "--dir", str(tmp_path)]) == 2
    assert "package name 'Bad Name' is invalid" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
