"""Test-set settings: ``anomaly_ratio`` per dataset entry, ``anomalies = "all"``,
and ``validate`` refusing what ``run`` could not build (issue 8 item 3)."""
from __future__ import annotations

import numpy as np
import pytest
from test_protocol import toy

from anobench.cli import main
from anobench.errors import DataError, SuiteError
from anobench.protocol import (
    check_test_set,
    largest_fitting_ratio,
    n_anomalies_for,
    one_class_split,
)
from anobench.suite import parse_suite


def rare_anomalies(path, n_normal=120, n_anomalous=6, seed=0):
    """An ADBench-like file: many normals (0), few anomalies (1), no test set."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(0, 1, (n_normal, 4)), rng.normal(4, 1, (n_anomalous, 4))])
    np.savez(path, X=X.astype("float32"), y=np.repeat([0, 1], [n_normal, n_anomalous]))
    return path


SUITE = """
[suite]
name = "rare"
repetitions = 2
{suite_extra}

[[datasets]]
name = "rare-label"
path = "rare_file.npz"
classes = [0]
{entry_extra}

[[detectors]]
name = "pca"
params = {{ n_components = 2 }}
"""


def _suite(tmp_path, suite_extra="", entry_extra=""):
    rare_anomalies(tmp_path / "rare_file.npz")
    path = tmp_path / "rare.toml"
    path.write_text(SUITE.format(suite_extra=suite_extra, entry_extra=entry_extra))
    return path


# -- protocol -----------------------------------------------------------------
def test_all_takes_every_test_sample_of_the_other_classes_in_every_repetition():
    data = toy(n_test=60, classes=3)
    a = one_class_split(data, 1, anomalies="all", anomaly_seed=1)
    b = one_class_split(data, 1, anomalies="all", anomaly_seed=2)
    assert a.n_anomalies == int((data.y_test != 1).sum()) == 40
    assert (a.y_test == (a.test_classes != 1)).all()
    np.testing.assert_array_equal(a.X_test, b.X_test)  # nothing is drawn


def test_ratio_draw_is_unchanged_by_the_new_setting():
    data = toy(n_test=400)
    a = one_class_split(data, 2, anomaly_ratio=0.2, anomaly_seed=5)
    b = one_class_split(data, 2, anomaly_ratio=0.2, anomaly_seed=5, anomalies="ratio")
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert a.n_anomalies == n_anomalies_for(100, 0.2)


@pytest.mark.parametrize("n,m", [(331, 3), (107, 3), (1000, 1), (50, 50), (980, 245), (7, 2)])
def test_largest_fitting_ratio_fits_and_is_close_to_the_limit(n, m):
    p = largest_fitting_ratio(n, m)
    assert n_anomalies_for(n, p) == m  # takes every anomaly there is
    assert m / (n + m) <= p < (m + 1) / (n + m + 1)
    assert len(f"{p:g}") <= 8


def test_impossible_ratio_names_the_label_and_a_ratio_that_fits():
    data = toy(classes=2)
    with pytest.raises(DataError) as e:
        check_test_set(data, 0, "ratio", 0.9, label="my-label")
    msg = str(e.value)
    assert "'my-label'" in msg and "needs 225 anomalies" in msg and "only 25" in msg
    assert "anomaly_ratio = 0.5 fits" in msg and 'anomalies = "all"' in msg


def test_a_ratio_that_gives_no_anomaly_is_refused():
    data = toy(classes=2)
    with pytest.raises(DataError, match="gives no anomalies for 25 normal test samples"):
        check_test_set(data, 0, "ratio", 0.01)


# -- suites -------------------------------------------------------------------
def test_entry_settings_override_the_suite(registry):
    text = """
[suite]
anomaly_ratio = 0.1
[[datasets]]
name = "digits"
[[datasets]]
name = "digits"
label = "d2"
anomaly_ratio = 0.05
[[datasets]]
name = "digits"
label = "d3"
anomalies = "all"
[[detectors]]
name = "pca"
"""
    s = parse_suite(text, "s.toml", registry)
    got = [(d.anomalies, d.anomaly_ratio) for d in s.datasets]
    assert got[0] == ("ratio", 0.1) and got[1] == ("ratio", 0.05) and got[2][0] == "all"
    s = parse_suite(text.replace("anomaly_ratio = 0.1", 'anomalies = "all"'), "s.toml", registry)
    assert [d.anomalies for d in s.datasets] == ["all", "ratio", "all"]
    assert s.datasets[2].test_setting == "anomalies = all"
    assert s.datasets[1].test_setting == "anomaly_ratio = 0.05"


@pytest.mark.parametrize("extra,where,msg", [
    ('anomalies = "some"', "datasets[0].anomalies", "must be one of 'ratio', 'all'"),
    ('anomalies = "all"\nanomaly_ratio = 0.1', "datasets[0].anomaly_ratio", "has no effect"),
    ("anomaly_ratio = 1.5", "datasets[0].anomaly_ratio", "must be in (0, 1)"),
    ('anomaly_ratio = "x"', "datasets[0].anomaly_ratio", "expected a number"),
])
def test_bad_entry_settings(registry, extra, where, msg):
    text = f'[[datasets]]\nname = "digits"\n{extra}\n[[detectors]]\nname = "pca"\n'
    with pytest.raises(SuiteError) as e:
        parse_suite(text, "s.toml", registry)
    assert f"s.toml: {where}: " in str(e.value) and msg in str(e.value)


def test_suite_level_all_and_ratio_conflict(registry):
    text = ('[suite]\nanomalies = "all"\nanomaly_ratio = 0.1\n[[datasets]]\nname = "digits"\n'
            '[[detectors]]\nname = "pca"\n')
    with pytest.raises(SuiteError, match=r"suite\.anomaly_ratio: has no effect"):
        parse_suite(text, "s.toml", registry)


# -- validate and run -----------------------------------------------------------
def test_validate_refuses_a_ratio_the_test_set_cannot_supply(tmp_path, capsys):
    # 36 normal test samples, 2 anomalies in the test split: ratio 0.2 needs 9
    suite = _suite(tmp_path)
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "datasets[0]" in err and "'rare-label'" in err and "rare_file" not in err
    assert "needs 9 anomalies" in err and "only 2" in err
    p = float(err.split("anomaly_ratio = ")[1].split()[0])
    assert n_anomalies_for(36, p) == 2  # the suggested ratio takes both anomalies


def test_run_refuses_it_before_creating_anything(tmp_path, capsys):
    suite = _suite(tmp_path)
    assert main(["run", str(suite), "--results", str(tmp_path / "res")]) == 2
    assert "needs 9 anomalies" in capsys.readouterr().err
    assert not (tmp_path / "res").exists() or not any((tmp_path / "res").rglob("*"))


def test_the_suggested_ratio_and_all_both_validate_and_run(tmp_path, capsys):
    suite = _suite(tmp_path, entry_extra="anomaly_ratio = 0.06")
    assert main(["validate", str(suite)]) == 0
    suite = _suite(tmp_path, suite_extra='anomalies = "all"')
    assert main(["validate", str(suite)]) == 0
    assert main(["run", str(suite), "--results", str(tmp_path / "res"), "--format", "plain"]) == 0
    from anobench.store import read_records

    run_dir = next((tmp_path / "res" / "rare").iterdir())
    recs = read_records(run_dir)
    assert {(r["n_test"], r["n_anomalies"]) for r in recs} == {(38, 2)}


def test_a_run_interrupted_before_its_first_cell_leaves_nothing(tmp_path, registry, monkeypatch):
    from anobench import runner, unitrun
    from anobench.suite import load_suite

    suite = load_suite(_suite(tmp_path, suite_extra='anomalies = "all"'), registry)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(unitrun, "run_cell", boom)
    with pytest.raises(KeyboardInterrupt):
        runner.run_suite(suite, registry, results_root=tmp_path / "res")
    assert not (tmp_path / "res" / "rare").exists()


def test_tables_show_the_test_set_sizes_in_the_footnote(tmp_path, capsys):
    suite = _suite(tmp_path, suite_extra='anomalies = "all"')
    assert main(["run", str(suite), "--results", str(tmp_path / "res"), "--tables"]) == 0
    assert "Test set: 36 normals / 2 anomalies." in capsys.readouterr().out
    run_dir = next((tmp_path / "res" / "rare").iterdir())
    assert main(["report", str(run_dir), "--no-figures", "--tables"]) == 0
    assert "Test set: 36 normals / 2 anomalies." in capsys.readouterr().out
    assert "Test set: 36 normals / 2 anomalies." in (run_dir / "report.html").read_text()


def test_footnote_lists_sizes_per_class_when_they_differ():
    from anobench.report.render import test_set_note
    from anobench.report.tables import build_tables

    recs = [dict(kind="result", dataset="d", normal=str(c), column="pca", measure=None,
                 metric="roc_auc", value=0.5, repetition=rep, n_test=n + a, n_anomalies=a)
            for c, (n, a) in enumerate([(980, 245), (1135, 283)]) for rep in range(2)]
    (table,) = build_tables(recs)
    assert test_set_note(table) == ("Test sets (normals/anomalies) per class: 0: 980/245; "
                                    "1: 1135/283.")
    for r in recs:
        del r["n_test"]
    assert test_set_note(build_tables(recs)[0]) == ""  # records without sizes: no note
