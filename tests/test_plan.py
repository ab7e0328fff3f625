"""`anobench plan`: cells, trainings, cohorts and a time range from timed work (issue 18 item 10)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import anobench.cli as cli
from anobench.api import Detector, FitCost
from anobench.hookspecs import hookimpl
from anobench.plan import make_plan, plan_suite, span
from anobench.manager import build_registry, get_plugin_manager
from anobench.prepare import prepare_run
from anobench.units import work_units

#: The clock detector's cost: every number of the estimate follows from these.
COST = FitCost(epochs=(3, 10), batch_size=10, step_seconds=0.5, eval_seconds=0.1,
               setup_seconds=1.0, score_seconds_per_row=0.01)


class Clock(Detector):
    """A detector whose fit_cost is fixed (or fails), to check the plan's arithmetic."""

    def __init__(self, *, mode: str = "ok", random_state: int | None = None) -> None:
        self.mode, self.random_state = mode, random_state

    def fit(self, X, X_val=None):
        return self

    def score(self, X):
        return X.reshape(len(X), -1).sum(1)

    @classmethod
    def fit_cost(cls, params, X, *, device, members=1, n_samples=None):
        if params.get("mode") == "fail":
            raise RuntimeError("cannot time this")
        return COST


@pytest.fixture(scope="module")
def clock_registry():
    plugin = type("P", (), {})()
    plugin.anobench_register_detectors = hookimpl(
        lambda registry: registry.add_detector("clock", Clock))
    return build_registry(get_plugin_manager(extra_plugins=[("clockplug", plugin)]))


SUITE = """
[suite]
name = "planned"
repetitions = {reps}
[[datasets]]
name = "digits"
classes = [0, 3]
{detectors}
"""


def _suite(write_suite, detectors: str, reps: int = 3):
    return write_suite(SUITE.format(reps=reps, detectors=detectors), "planned")


def test_the_estimate_is_the_timed_cost_times_each_class_data_and_the_epoch_bounds(
        clock_registry, write_suite):
    path = _suite(write_suite, '[[detectors]]\nname = "clock"', reps=2)
    plan = plan_suite(path, clock_registry, device="cpu")
    from sklearn.datasets import load_digits  # the digits split, counted independently

    y = load_digits().target
    from sklearn.model_selection import train_test_split
    y_tr, y_te = train_test_split(y, test_size=0.3, stratify=y, random_state=0)
    low = high = 0.0
    for c in (0, 3):
        n_c = int((y_tr == c).sum())
        n_val = math.ceil(0.2 * n_c)
        normals = int((y_te == c).sum())
        n_test = normals + math.floor(normals / 0.8 * 0.2)
        epoch = math.ceil((n_c - n_val) / 10) * 0.5 + math.ceil(n_val / 10) * 0.1
        low += 2 * (1.0 + 3 * epoch + n_test * 0.01)
        high += 2 * (1.0 + 10 * epoch + n_test * 0.01)
    (m,) = plan.models
    assert (plan.cells, plan.trainings, plan.units) == (4, 4, 4)
    assert m.low == pytest.approx(low) and m.high == pytest.approx(high)
    assert plan.low == pytest.approx(low + plan.load_seconds)
    assert "epochs 3–10" in m.how and "500 ms a step" in m.how


def test_units_are_the_runs_work_units(registry, write_suite, monkeypatch):
    """Cohorts counted as the runner cuts them: ae on 8x8 digits stacks on a CPU, pca does not."""
    ae_cls = registry.detectors["ae"].cls
    monkeypatch.setattr(ae_cls, "fit_cost", classmethod(lambda cls, *a, **k: COST))  # quick
    path = _suite(write_suite, '[[detectors]]\nname = "pca"\nparams = { n_components = 8 }\n'
                               '[[detectors]]\nname = "ae"\nparams = { max_epochs = 3, '
                               'batch_size = 32, filters = 4, latent_dim = 4 }', reps=3)
    prepared = prepare_run(path, registry, device="cpu")
    cells = prepared.cells
    for override in (None, 2, 1):
        units = list(work_units(cells, prepared.datasets, registry, prepared.suite, "cpu",
                                override))
        plan = make_plan(prepared, cohort_size=override)
        assert plan.units == len(units), override
        assert plan.cells == len(cells) == 12
        assert plan.trainings == 6  # the ae cells; pca is fitted, not trained in epochs
    pca, ae = plan.models
    assert pca.trainings == 0 and "fit on" in pca.how and ae.units == 6


def test_a_neural_detector_is_timed_on_a_few_steps_never_trained_to_the_end(registry,
                                                                           monkeypatch):
    """The paper's schedule (up to 1000 epochs) is timed with fits of one short epoch."""
    cls = registry.detectors["vae"].cls
    base = cls.__mro__[1]  # TorchDetector
    fits: list[tuple[int, int]] = []
    setup, config = base._setup, base._config
    monkeypatch.setattr(base, "_setup", lambda self, X, X_val: (
        fits.append((len(X), -1)), setup(self, X, X_val))[1])
    monkeypatch.setattr(base, "_config", lambda self, seed: (
        fits.append((-1, self.max_epochs)), config(self, seed))[1])
    X = np.random.default_rng(0).random((300, 1, 8, 8), dtype=np.float32)
    cost = cls.fit_cost({"filters": 4, "latent_dim": 4, "patience": 5}, X, device="cpu",
                        members=2, n_samples=5)
    assert cost.epochs == (6, 1000) and cost.batch_size == 128  # patience 5 + 1, max_epochs
    assert cost.step_seconds > 0 and cost.score_seconds_per_row > 0 and cost.members == 2
    rows = [n for n, _ in fits if n >= 0]
    epochs = [e for _, e in fits if e >= 0]
    assert rows and max(rows) <= 128 * (1 + cls.COST_STEPS)  # a few steps of one batch each
    assert epochs and set(epochs) == {1}  # never the schedule's 1000 epochs


def test_plan_command_and_the_cpu_warning(clock_registry, write_suite, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_registry", lambda: clock_registry)
    path = _suite(write_suite, '[[detectors]]\nname = "clock"', reps=1)
    assert cli.main(["plan", str(path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "2 cells = 2 normal class(es) of 1 dataset(s) × 1 repetition(s) × 1 model(s)" in out
    assert "estimated time for 2 cell(s) on cpu: " in out and "warning" not in out
    slow = FitCost(epochs=(1, 1000), batch_size=10, step_seconds=1.0, eval_seconds=0.0,
                   setup_seconds=0.0, score_seconds_per_row=0.0)
    monkeypatch.setattr(Clock, "fit_cost", classmethod(lambda cls, *a, **k: slow))
    assert cli.main(["plan", str(path), "--device", "cpu"]) == 0
    warnings = [ln for ln in capsys.readouterr().out.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "on the CPU" in warnings[0]


def test_a_detector_that_cannot_be_timed_is_said_and_the_rest_planned(clock_registry,
                                                                       write_suite):
    path = _suite(write_suite, '[[detectors]]\nname = "clock"\n[[detectors]]\nname = "clock"\n'
                               'label = "broken"\nparams = { mode = "fail" }', reps=1)
    plan = plan_suite(path, clock_registry, device="cpu")
    ok, broken = plan.models
    assert not ok.error and ok.high > 0
    assert broken.error == "not estimated: RuntimeError: cannot time this"
    assert broken.cells == 2 and not plan.complete


def test_run_prints_the_plans_estimate_when_it_starts(clock_registry, write_suite, tmp_path,
                                                      monkeypatch, capsys):
    monkeypatch.setattr(cli, "_registry", lambda: clock_registry)
    path = _suite(write_suite, '[[detectors]]\nname = "clock"', reps=1)
    assert cli.main(["run", str(path), "--results", str(tmp_path / "r"), "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "anobench: estimated time for 2 cell(s) on cpu: " in err
    (run,) = (tmp_path / "r" / "planned").iterdir()
    assert cli.main(["run", str(path), "--resume", str(run), "--no-figures"]) == 0
    assert "anobench: estimated time for 0 cell(s) on cpu: 0 s" in capsys.readouterr().err


def test_run_fits_no_detector_for_its_estimate(clock_registry, write_suite, tmp_path,
                                               monkeypatch, capsys):
    """A plugin that crashes or hangs in fit must not end a run before its first cell: the
    start estimate leaves detectors without fit_cost to the ETA (plan fits them)."""
    fits: list[int] = []
    monkeypatch.setattr(Clock, "fit", lambda self, X, X_val=None: (fits.append(len(X)), self)[1])
    monkeypatch.setattr(Clock, "fit_cost", None)
    monkeypatch.setattr(cli, "_registry", lambda: clock_registry)
    path = _suite(write_suite, '[[detectors]]\nname = "clock"', reps=1)
    assert cli.main(["run", str(path), "--results", str(tmp_path / "r"), "--no-figures"]) == 0
    assert len(fits) == 2  # the two cells, nothing more
    assert ("anobench: no estimated time for 2 cell(s) on cpu: clock-" in capsys.readouterr().err)
    assert plan_suite(path, clock_registry, device="cpu").complete and len(fits) > 2
    path = _suite(write_suite, '[[detectors]]\nname = "clock"\n[[detectors]]\nname = "pca"\n'
                               'params = { n_components = 8 }', reps=1)
    monkeypatch.setattr(Clock, "fit_cost", classmethod(lambda cls, *a, **k: COST))
    assert cli.main(["run", str(path), "--results", str(tmp_path / "r"), "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "anobench: estimated time for 4 cell(s) on cpu: " in err
    assert "pca-" in err and "not estimated (see anobench plan)" in err


def test_plan_bad_input_is_one_line(write_suite, capsys):
    path = _suite(write_suite, '[[detectors]]\nname = "pcaa"', reps=1)
    assert cli.main(["plan", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("anobench: error: ") and "\n" not in err and "pcaa" in err


def test_span_words():
    assert span(30, 30) == "30 s" and span(20, 40) == "20–40 s"
    assert span(30, 7200) == "30 s – 2.0 h" and span(3 * 86400, 4 * 86400) == "3.0–4.0 days"


def test_help_says_how_it_estimates(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["plan", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert e.value.code == 0 and "patience + 1" in out and "max_epochs" in out
    assert "anobench run prints the same estimate" in out.replace("`", "")
