"""The record store: run identity, one writer, whole blocks, last block wins."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from anobench.api import Detector
from anobench.cli import main
from anobench.errors import AnobenchError
from anobench.hookspecs import hookimpl
from anobench.manager import build_registry, get_plugin_manager
from anobench.runner import run_suite
from anobench.scores import find_cell_scores, safe_cell_id
from anobench.runlock import RunLock
from anobench.store import (
    RECORDS,
    jsonable,
    load_store,
    read_meta,
    read_records,
)
from anobench.suite import load_suite, parse_suite


def run(path, registry, root, **kw):
    return run_suite(load_suite(path, registry), registry, results_root=root, **kw)


def result_keys(run_dir):
    return [(r["cell"], r["column"], r["metric"]) for r in read_records(run_dir)]


# ------------------------------------------------------------ run identity

def test_resume_refuses_records_of_another_run(tiny_suite, registry, tmp_path, capsys):
    mine, _ = run(tiny_suite, registry, tmp_path / "a")
    other_suite = tiny_suite.parent / "other.toml"
    other_suite.write_text(tiny_suite.read_text().replace("seed = 1", "seed = 2"))
    other, _ = run(other_suite, registry, tmp_path / "b")
    # the campaign's case: records of a run with another seed copied into this one
    (mine / RECORDS).write_bytes((other / RECORDS).read_bytes())
    before = (mine / RECORDS).read_bytes()
    with pytest.raises(AnobenchError, match=r"records.jsonl: line 1: a record of another run "
                                            r"\(suite [0-9a-f]{16}, seed 2; this run is suite "
                                            r"[0-9a-f]{16}, seed 1\)"):
        run(tiny_suite, registry, tmp_path / "a", resume=mine)
    assert (mine / RECORDS).read_bytes() == before
    # the CLI says it in one line and changes nothing
    capsys.readouterr()
    assert main(["run", str(tiny_suite), "--resume", str(mine)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a record of another run" in err[0]
    assert (mine / RECORDS).read_bytes() == before


def test_records_carry_the_run_identity(tiny_suite, registry, tmp_path):
    run_dir, _ = run(tiny_suite, registry, tmp_path)
    meta = read_meta(run_dir)
    assert meta["seed"] == 1 and meta["run_identity"] == f"{meta['suite_sha256'][:16]}:1"
    lines = [json.loads(x) for x in (run_dir / RECORDS).read_text().splitlines()]
    assert lines and all(x["run"] == meta["run_identity"] for x in lines)


# ------------------------------------------------------------ one writer

def test_second_writer_is_refused_with_one_line(tiny_suite, registry, tmp_path, capsys):
    run_dir, _ = run(tiny_suite, registry, tmp_path / "res")
    before = (run_dir / RECORDS).read_bytes()
    capsys.readouterr()
    # another process holds the run: a real second process, as two shells would be
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from anobench.runlock import RunLock; "
         f"RunLock({str(run_dir)!r}).acquire(); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = main(["run", str(tiny_suite), "--results", str(tmp_path / "res"), "--resume"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        assert f"another anobench process (pid {holder.pid} on " in err[0]
        assert str(run_dir) in err[0]
    finally:
        holder.kill()
        holder.wait()
    assert (run_dir / RECORDS).read_bytes() == before
    # the holder died: its lock is stale and the next resume simply runs
    assert main(["run", str(tiny_suite), "--results", str(tmp_path / "res"), "--resume"]) == 0
    assert (run_dir / RECORDS).read_bytes() == before  # nothing was left to do
    assert not (run_dir / ".lock").exists()


def test_stale_lock_file_of_a_dead_process_is_taken_over(tiny_suite, registry, tmp_path):
    run_dir, _ = run(tiny_suite, registry, tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (run_dir / ".lock").write_text(json.dumps({"pid": int(dead), "host": os.uname().nodename}))
    _, failed = run(tiny_suite, registry, tmp_path, resume=run_dir)
    assert failed == 0


def test_lock_in_one_process_refuses_a_second(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(AnobenchError, match=f"pid {os.getpid()} on"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released: free again
        pass


# ------------------------------------------------------------ torn writes

def test_cut_bytes_then_resume_gives_no_duplicate_rows(tiny_suite, registry, tmp_path, capsys):
    run_dir, _ = run(tiny_suite, registry, tmp_path)
    full = sorted(result_keys(run_dir))
    data = (run_dir / RECORDS).read_bytes()
    # cut inside the last block: its first lines stay whole, its end marker is gone
    kept = data.rstrip(b"\n").rsplit(b"\n", 2)[0]  # two of its three results stay whole
    (run_dir / RECORDS).write_bytes(kept + b"\n" + data[len(kept) + 1:][:30])
    store = load_store(run_dir)
    assert store.partial and store.torn  # discarded and reported, not an error
    assert any("discarded 1 partial block" in n for n in store.notes())
    run(tiny_suite, registry, tmp_path, resume=run_dir, stream=sys.stderr)
    err = capsys.readouterr().err
    assert "discarded 1 partial block(s) left by an interrupted write" in err
    keys = result_keys(run_dir)
    assert Counter(keys).most_common(1)[0][1] == 1  # no duplicates
    assert sorted(keys) == full
    # the torn line is now inside the file, marked by the write that followed it
    assert load_store(run_dir).torn


def test_full_disk_mid_run_leaves_no_part_file_and_resume_completes(
        tiny_suite, registry, tmp_path, monkeypatch, capsys):
    import builtins

    import anobench.store as store_mod

    calls = {"n": 0}

    class FullDisk:  # the third block: half of it reaches the disk, then ENOSPC
        def __init__(self, fh):
            self.fh = fh

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            calls["n"] += 1
            if calls["n"] == 3:
                self.fh.write(data[: len(data) // 2])
                self.fh.flush()
                raise OSError(28, "No space left on device")
            return self.fh.write(data)

    def full_disk_open(file, mode="r", *a, **k):
        fh = builtins.open(file, mode, *a, **k)
        return FullDisk(fh) if str(file).endswith(RECORDS) else fh

    monkeypatch.setattr(store_mod, "open", full_disk_open, raising=False)
    code = main(["run", str(tiny_suite), "--results", str(tmp_path / "res")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("anobench: error: ")
    assert "No space left on device" in err[-1] and "Traceback" not in "\n".join(err)
    run_dir = next((tmp_path / "res" / "tiny").iterdir())
    assert not list(run_dir.rglob("*.part*"))
    assert len(load_store(run_dir).done()) == 2
    assert not load_store(run_dir).partial  # the half block was cut off again
    monkeypatch.undo()
    assert main(["run", str(tiny_suite), "--results", str(tmp_path / "res"), "--resume"]) == 0
    keys = result_keys(run_dir)
    assert len(keys) == len(set(keys)) == 12


def test_full_disk_writing_scores_leaves_no_part_file(tiny_suite, tmp_path, monkeypatch, capsys):
    def no_space(file, *a, **k):
        with open(file, "wb") as fh:
            fh.write(b"PK")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", no_space)
    assert main(["run", str(tiny_suite), "--results", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "scores" in err[-1] and "No space left on device" in err[-1]
    assert not list((tmp_path / "res").rglob("*.part*"))


# ------------------------------------------------------------ unparsable lines

def _lines(run_dir):
    return (run_dir / RECORDS).read_text().splitlines(keepends=True)


@pytest.mark.parametrize("bad, why", [
    ("42\n", "line 3: a JSON number, not a record"),
    ('"text"\n', "line 3: a JSON string, not a record"),
    ("[1, 2]\n", "line 3: a JSON array, not a record"),
    ('{"kind": "result", "value": 1}\n', "line 3: a record without a 'cell'"),
    ('{"kind": "banana", "cell": "x"}\n', "line 3: unknown record kind 'banana'"),
    ("\xff\xfe garbage\n", "line 3: not "),
    ("{not json}\n", "line 3: not JSON"),
])
def test_malformed_line_is_an_error_naming_the_line(bad, why, tiny_suite, registry, tmp_path):
    run_dir, _ = run(tiny_suite, registry, tmp_path)
    lines = _lines(run_dir)
    (run_dir / RECORDS).write_bytes("".join([*lines[:2], bad, *lines[2:]]).encode("latin-1"))
    before = (run_dir / RECORDS).read_bytes()
    with pytest.raises(AnobenchError, match="records.jsonl: " + why.replace("(", r"\(")):
        read_records(run_dir)
    with pytest.raises(AnobenchError, match="line 3"):
        run(tiny_suite, registry, tmp_path, resume=run_dir)
    assert (run_dir / RECORDS).read_bytes() == before


def test_torn_last_line_is_the_expected_case(tiny_suite, registry, tmp_path):
    run_dir, _ = run(tiny_suite, registry, tmp_path)
    with open(run_dir / RECORDS, "a") as fh:
        fh.write('{"cell": "digits/0/0/pca-')
    store = load_store(run_dir)
    assert store.torn == [len(_lines(run_dir))] and not store.malformed
    assert "cut short by an interrupted write" in store.notes()[0]
    assert len(read_records(run_dir)) == 12


def test_cut_line_in_the_middle_without_a_torn_mark_is_reported(tiny_suite, registry, tmp_path):
    run_dir, _ = run(tiny_suite, registry, tmp_path)
    lines = _lines(run_dir)
    (run_dir / RECORDS).write_text("".join([*lines[:2], lines[2][:25] + "\n", *lines[3:]]))
    with pytest.raises(AnobenchError, match="line 3: not JSON"):
        read_records(run_dir)


# ------------------------------------------------------------ last block wins

FLAG = {"fail": True}


class Sometimes(Detector):
    def __init__(self, *, random_state=None):
        self.random_state = random_state

    def fit(self, X, X_val=None):
        if FLAG["fail"]:
            raise RuntimeError("transient failure")
        return self

    def score(self, X):
        return X.reshape(len(X), -1).sum(1)


INFO: dict = {}


class Informative(Detector):
    def __init__(self, *, random_state=None):
        self.random_state = random_state

    def fit(self, X, X_val=None):
        return self

    def fit_info(self):
        return dict(INFO)

    def score(self, X):
        return X.reshape(len(X), -1).sum(1)


@pytest.fixture
def plugin_registry():
    plugin = type("P", (), {})()

    def register(registry):
        registry.add_detector("sometimes", Sometimes)
        registry.add_detector("informative", Informative)

    plugin.anobench_register_detectors = hookimpl(register)
    return build_registry(get_plugin_manager(extra_plugins=[("testplug", plugin)]))


def _suite(detector, registry, tmp_path):
    text = f"""
[suite]
name = "s"
repetitions = 1
[[datasets]]
name = "digits"
classes = [0, 1]
[[detectors]]
name = "{detector}"
"""
    path = tmp_path / "s.toml"
    path.write_text(text)
    return parse_suite(text, str(path), registry)


def test_failed_cell_retried_by_resume_no_longer_shows_as_failed(plugin_registry, tmp_path,
                                                                 monkeypatch):
    from anobench.report import write_report

    suite = _suite("sometimes", plugin_registry, tmp_path)
    monkeypatch.setitem(FLAG, "fail", True)
    run_dir, failed = run_suite(suite, plugin_registry, results_root=tmp_path)
    assert failed == 2 and len(read_records(run_dir, ("error",))) == 2
    monkeypatch.setitem(FLAG, "fail", False)
    _, failed = run_suite(suite, plugin_registry, results_root=tmp_path, resume=run_dir)
    assert failed == 0
    assert read_records(run_dir, ("error",)) == []  # the old error blocks no longer count
    store = load_store(run_dir)
    assert store.failed() == set() and len(store.done()) == 2 and store.superseded == 2
    text = write_report(run_dir, figures=False)
    assert "0 failed" in text and "cell(s) failed" not in text


@pytest.mark.parametrize("info, stored", [
    ({"loss": float("nan"), "best": float("inf")}, {"loss": "nan", "best": "inf"}),
    ({"epochs": np.int64(7), "loss": np.float32(0.5)}, {"epochs": 7, "loss": 0.5}),
    ({"curve": np.arange(3.0), "shape": (2, 3)}, {"curve": [0.0, 1.0, 2.0], "shape": [2, 3]}),
    ({1: "one", "nested": {"x": np.bool_(True)}}, {"1": "one", "nested": {"x": True}}),
])
def test_fit_info_values_are_sanitised(info, stored, plugin_registry, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "INFO", info)
    suite = _suite("informative", plugin_registry, tmp_path)
    run_dir, failed = run_suite(suite, plugin_registry, results_root=tmp_path)
    assert failed == 0
    assert {json.dumps(r["fit_info"], sort_keys=True) for r in read_records(run_dir)} == {
        json.dumps(stored, sort_keys=True)}


@pytest.mark.parametrize("info, fragment", [
    ({"net": object()}, "fit_info()['net']: a builtins.object is not JSON data"),
    ({"big": np.zeros(20_000)}, "fit_info()['big']: an array of 20000 values is too large"),
    ({(1, 2): 3}, "key (1, 2) is a tuple, not a string"),
])
def test_fit_info_that_cannot_be_stored_fails_the_cell_and_resume_goes_on(
        info, fragment, plugin_registry, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "INFO", info)
    suite = _suite("informative", plugin_registry, tmp_path)
    run_dir, failed = run_suite(suite, plugin_registry, results_root=tmp_path)
    assert failed == 2
    errors = read_records(run_dir, ("error",))
    assert len(errors) == 2 and fragment in errors[0]["error"]
    _, failed = run_suite(suite, plugin_registry, results_root=tmp_path, resume=run_dir)
    assert failed == 2  # retried, failed again, recorded again: never a crash
    assert len(read_records(run_dir, ("error",))) == 2


def test_nan_metric_value_fails_the_cell_not_the_run(plugin_registry, tmp_path, monkeypatch):
    import anobench.drawscore as drawscore

    real = drawscore.compute_metrics
    monkeypatch.setattr(drawscore, "compute_metrics",
                        lambda y, s, m: {k: float("nan") for k in real(y, s, m)})
    suite = _suite("informative", plugin_registry, tmp_path)
    run_dir, failed = run_suite(suite, plugin_registry, results_root=tmp_path)
    assert failed == 2
    assert "key 'value'" in read_records(run_dir, ("error",))[0]["error"]


def test_jsonable_refuses_objects():
    assert jsonable({"a": [np.float64(1.5), None]}, "x") == {"a": [1.5, None]}
    with pytest.raises(ValueError, match=r"x\['a'\]\[1\]: a builtins.object"):
        jsonable({"a": [1, object()]}, "x")


# ------------------------------------------------------------ file names

def test_scores_file_names_are_one_to_one():
    ids = ["a b/0/0/m", "a_b/0/0/m", "a__b/0/0/m", "a/b/0/0/m", "a_2fb/0/0/m", "ä/0/0/m",
           "a[x=1]/0/0/m", "a_5bx=1_5d/0/0/m"]
    names = [safe_cell_id(c) for c in ids]
    assert len(set(names)) == len(ids)
    assert all("/" not in n and n not in (".", "..") for n in names)


def test_labels_a_space_b_and_a_underscore_b_keep_their_own_scores(registry, tmp_path):
    text = """
[suite]
name = "labels"
repetitions = 1
[[datasets]]
name = "digits"
label = "a b"
classes = [0]
[[datasets]]
name = "digits"
label = "a_b"
classes = [1]
[[detectors]]
name = "pca"
params = { n_components = 4 }
"""
    suite = parse_suite(text, str(tmp_path / "l.toml"), registry)
    run_dir, _ = run_suite(suite, registry, results_root=tmp_path)
    assert len(list((run_dir / "scores").iterdir())) == 2
    (a,) = find_cell_scores(run_dir, "a b", "0", 0)
    (b,) = find_cell_scores(run_dir, "a_b", "1", 0)
    assert a.cell.startswith("a b/0/0/") and b.cell.startswith("a_b/1/0/")
    assert find_cell_scores(run_dir, "a_b", "0", 0) == []
