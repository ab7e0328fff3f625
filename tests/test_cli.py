from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_SUITE

from anobench.cli import main


def run_cli(args, cwd, env=None):
    """Run the real console entry point in a subprocess (exit code, stdout, stderr)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "anobench", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_help_for_every_command(capsys):
    for cmd in (["--help"], ["run", "--help"], ["report", "--help"], ["validate", "--help"],
                ["list", "--help"], ["data", "--help"], ["data", "import", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(cmd)
        assert e.value.code == 0
    assert "usage: anobench data import" in capsys.readouterr().out


def test_list_shows_plugins(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "pca" in out and "classical" in out and "digits" in out and "datasets" in out


def test_run_then_report(tiny_suite, tmp_path, capsys):
    assert main(["run", str(tiny_suite), "--results", str(tmp_path / "res"), "--tables"]) == 0
    out = capsys.readouterr().out
    assert "### digits: AUC" in out and "| mean" in out
    run_dir = next((tmp_path / "res" / "tiny").iterdir())
    assert main(["report", str(run_dir), "--format", "latex", "--full"]) == 0
    assert "\\textbf{" in capsys.readouterr().out
    assert (run_dir / "report.tex").is_file()


BAD = {
    "malformed": ("[suite\n", "malformed TOML"),
    "unknown_key": (TINY_SUITE.replace("seed = 1", "sede = 1"), "suite.sede: unknown key (did you mean 'seed'?)"),
    "wrong_type": (TINY_SUITE.replace("seed = 1", 'seed = "one"'), "suite.seed: expected an integer"),
    "unknown_detector": (TINY_SUITE.replace('name = "pca"', 'name = "pcb"'), "unknown detector 'pcb'"),
    "unknown_dataset": (TINY_SUITE.replace('name = "digits"', 'name = "digets"'), "unknown dataset 'digets' (did you mean 'digits'?)"),
    "repetitions": (TINY_SUITE.replace("repetitions = 2", "repetitions = 0"), "suite.repetitions: must be >= 1"),
    "ratio": (TINY_SUITE.replace("seed = 1", "seed = 1\nanomaly_ratio = 1.5"), "suite.anomaly_ratio: must be in (0, 1)"),
    "class": (TINY_SUITE.replace("classes = [0, 3]", "classes = [0, 12]"), "datasets[0].classes[1]: class 12 does not exist in dataset 'digits'"),
    "pca_components": (TINY_SUITE.replace("n_components = 8", "n_components = 64"), "detectors[0].params: detector 'pca' on dataset 'digits' (samples of shape (1, 8, 8)): n_components = 64 is not below the 64 features of the data"),
    "missing_data": (TINY_SUITE.replace('name = "digits"', 'name = "mnist"'), "train-images-idx3-ubyte not found"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_input_exits_2_with_one_line(case, command, tmp_path, capsys, monkeypatch):
    text, fragment = BAD[case]
    results = tmp_path / "results"
    old = results / "tiny" / "20200101-000000"
    old.mkdir(parents=True)
    (old / "meta.json").write_text('{"suite_name": "tiny"}\n')
    (old / "records.jsonl").write_text('{"kind": "cell", "cell": "x", "status": "ok"}\n')
    before = tree_digest(results)
    suite = tmp_path / "tiny.toml"
    suite.write_text(text)
    args = [command, str(suite), "--data-dir", str(tmp_path / "nodata")]
    if command == "run":
        args += ["--results", str(results)]
    monkeypatch.setenv("ANOBENCH_DATA", str(tmp_path / "nodata"))
    code = main(args)  # any exception other than the handled ones fails the test
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("anobench: error: ")
    named = str(tmp_path / "nodata" / "MNIST") if case == "missing_data" else str(suite)
    assert named in lines[0]
    assert fragment in lines[0]
    assert "Traceback" not in err
    assert tree_digest(results) == before
    assert sorted(p.name for p in (results / "tiny").iterdir()) == ["20200101-000000"]


def test_console_entry_point_prints_no_traceback(tmp_path):
    suite = tmp_path / "bad.toml"
    suite.write_text(BAD["unknown_key"][0])
    code, _out, err = run_cli(["validate", str(suite)], cwd=tmp_path)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [f"anobench: error: {suite}: suite.sede: unknown key "
                                        "(did you mean 'seed'?); allowed: anomalies, anomaly_ratio, "
                                        "cell_timeout, description, device, keep_models, max_cells, metrics, name, "
                                        "repetitions, "
                                        "resources, seed, "
                                        "val_fraction"]


def test_report_of_missing_run_dir(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_data_status_and_import_errors(tmp_path, capsys):
    assert main(["data", "status", "--data-dir", str(tmp_path)]) == 0
    assert "missing" in capsys.readouterr().out
    assert main(["data", "import", "mnist", str(tmp_path / "none"), "--data-dir", str(tmp_path)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_validate_ok(tiny_suite, capsys):
    assert main(["validate", str(tiny_suite)]) == 0
    assert "OK" in capsys.readouterr().out


def test_report_curves_of_a_class_never_run_are_refused_by_validate_and_run(tmp_path, capsys):
    """Issue 10: `[report] curves` naming a class the suite does not run is refused up front."""
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY_SUITE + '\n[report]\ncurves = ["digits/7/0"]\n')
    for cmd in (["validate", str(suite)], ["run", str(suite), "--results", str(tmp_path / "r")]):
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip()
        assert "report.curves[0]: class '7' is not run for dataset 'digits'; classes run: 0, 3" \
            in err and "\n" not in err
    assert not (tmp_path / "r").exists()
