"""prepare_run: one set of checks and one expansion for validate, plan and run; the one fit
path (issue 20)."""
from __future__ import annotations

import io

import numpy as np
import pytest

import anobench.checks as checks
import anobench.cli as cli
from anobench.fitting import Fitted, fit_unit
from anobench.plan import plan_suite
from anobench.prepare import prepare_run
from anobench.runner import run_suite
from anobench.store import read_meta
from anobench.suite import load_suite
from anobench.units import Cell, cell_tasks, instantiate, work_units

SUITE = """
[suite]
name = "prepared"
seed = 2
repetitions = 3
[[datasets]]
name = "digits"
classes = [0, "3"]
[[detectors]]
name = "pca"
params = { n_components = 4 }
[[detectors]]
name = "pca"
label = "pca-again"
params = { n_components = 4 }
[[detectors]]
name = "ae"
params = { latent_dim = 4, filters = 4, batch_size = 32, max_epochs = 2, threads = 1 }
"""


@pytest.fixture
def suite_path(write_suite):
    return write_suite(SUITE, "prepared")


def test_validate_plan_and_run_count_the_same_cells(suite_path, registry, tmp_path,
                                                    monkeypatch, capsys):
    prepared = prepare_run(suite_path, registry)
    assert all(isinstance(c, Cell) for c in prepared.cells)
    # pca and pca-again share one model: 2 classes x 3 repetitions x 2 models
    assert len(prepared.cells) == 12 and prepared.classes == 2 and len(prepared.groups) == 2
    assert prepared.suite.datasets[0].classes == (0, 3)  # "3" resolved to its label
    monkeypatch.setattr(cli, "_registry", lambda: registry)
    assert cli.main(["validate", str(suite_path)]) == 0
    assert "in 2 model(s): 12 cells (time: anobench plan)" in capsys.readouterr().out
    assert plan_suite(suite_path, registry, device="cpu").cells == 12
    run_dir, failed = run_suite(suite_path, registry, results_root=tmp_path, stream=io.StringIO())
    assert failed == 0
    assert read_meta(run_dir)["planned_cells"] == [c.cid for c in prepared.cells]


def test_a_suite_or_its_path_prepare_alike_and_classes_are_resolved_once(suite_path, registry,
                                                                         monkeypatch):
    calls = []
    real = checks.resolve_classes
    monkeypatch.setattr(checks, "resolve_classes",
                        lambda *a, **k: (calls.append(a[1]), real(*a, **k))[1])
    a = prepare_run(suite_path, registry)
    assert calls == [[0], ["3"]]  # once per class the suite names
    b = prepare_run(load_suite(suite_path, registry), registry)
    assert [c.cid for c in a.cells] == [c.cid for c in b.cells]
    assert a.device == b.device == "cpu"  # ae takes a device: resolved once, here


def test_a_single_cell_is_a_unit_of_one_through_the_same_fit(suite_path, registry):
    prepared = prepare_run(suite_path, registry)
    first = [c for c in prepared.cells if c.block == ("digits", "0")]
    for override, sizes in ((1, {1}), (3, {1, 3})):  # pca never stacks; ae in threes
        units = list(work_units(first, prepared.datasets, registry, prepared.suite, "cpu",
                                override))
        assert {len(u.tasks) for u in units} == sizes
        fitted = [f for u in units for f in fit_unit(u)]
        assert all(isinstance(f, Fitted) for f in fitted) and len(fitted) == 6
        assert {f.cohort_size for f in fitted} == sizes
    task = cell_tasks(first[:1], prepared.datasets, prepared.suite)[0]
    single = fit_unit(next(work_units(first[:1], prepared.datasets, registry, prepared.suite,
                                      "cpu", 1)))[0]
    assert isinstance(single, Fitted)
    own = single.detector.score(task.split.X_test)
    again = instantiate(task.group, task.seeds["model"], "cpu").fit(task.split.X_train,
                                                                     task.split.X_val)
    assert np.array_equal(own, again.score(task.split.X_test))


def test_a_failing_fit_is_that_members_exception(suite_path, registry, monkeypatch):
    prepared = prepare_run(suite_path, registry)
    unit = next(work_units(prepared.cells[:1], prepared.datasets, registry, prepared.suite,
                           "cpu"))

    def boom(self, X, X_val=None):
        raise RuntimeError("no fit")

    monkeypatch.setattr(unit.tasks[0].group.cls, "fit", boom)
    (out,) = fit_unit(unit)
    assert isinstance(out, RuntimeError) and str(out) == "no fit"
