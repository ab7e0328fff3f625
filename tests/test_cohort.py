"""Cohort training: stacked members behave as the same models trained alone."""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from anobench.api import Detector
from anobench.hookspecs import hookimpl
from anobench.manager import build_registry, get_plugin_manager
from anobench.runner import run_suite
from anobench.units import model_groups
from anobench.units import cohort_key, cohort_size_for
from anobench.store import read_records
from anobench.suite import parse_suite
from anobench.torchstack.cohort import fit_cohort
from anobench.torchstack.stopping import DivergenceError, TrainResult
from anobench.torchstack.training import Objective, TrainConfig, fit_model


class Scalar(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([value]))


def pull(model, x, noise, train, target, scale):
    """Training pulls w towards target + noise; validation measures the distance to 0.5."""
    if train:
        return scale * ((model.w - target - noise) ** 2) * torch.ones(len(x))
    return scale * (model.w - 0.5) ** 2 * torch.ones(len(x))


def small_noise(x, train, generator):
    return 0.01 * torch.randn(len(x), generator=generator, device=x.device)


TOY = Objective(pull, small_noise)
DATA = torch.zeros(16, 1)


def alone(value, hp, cfg):
    model = Scalar(value)
    try:
        res = fit_model(model, Objective(pull, small_noise, hp), DATA, DATA, cfg)
    except DivergenceError as exc:
        res = exc
    return model, res


@pytest.mark.parametrize("restore_best", [True, False])
def test_members_stop_on_their_own_and_equal_their_single_runs(restore_best):
    # targets drive the members past the validation optimum at different speeds,
    # so they stop at different epochs; member 3 diverges (scale inf)
    values = [1.0, 0.9, 2.0, 1.0]
    hps = [dict(target=0.0, scale=1.0), dict(target=-2.0, scale=1.0),
           dict(target=0.3, scale=1.0), dict(target=0.0, scale=float("inf"))]
    cfgs = [TrainConfig(lr=0.05, batch_size=4, max_epochs=60, patience=3,
                        restore_best=restore_best, seed=s) for s in (1, 2, 3, 4)]
    models = [Scalar(v) for v in values]
    results = fit_cohort(models, TOY, hps, DATA, DATA, cfgs)
    assert isinstance(results[3], DivergenceError) and "diverged at epoch 1" in str(results[3])
    epochs = set()
    for model, value, hp, cfg, res in zip(models[:3], values, hps, cfgs, results):
        single, ref = alone(value, hp, cfg)
        assert isinstance(res, TrainResult)
        assert (res.epochs, res.best_epoch, res.stopped_early) == \
            (ref.epochs, ref.best_epoch, ref.stopped_early)
        np.testing.assert_allclose(res.history, ref.history, rtol=1e-6)
        assert model.w.item() == pytest.approx(single.w.item(), rel=1e-6)
        epochs.add(res.epochs)
    assert len(epochs) == 3  # they really stopped at different epochs


def test_loop_strategy_is_the_single_path():
    hps = [dict(target=0.0, scale=1.0), dict(target=0.2, scale=1.0)]
    cfgs = [TrainConfig(lr=0.05, batch_size=4, max_epochs=20, patience=3, seed=s) for s in (5, 6)]
    models = [Scalar(1.0), Scalar(1.0)]
    results = fit_cohort(models, TOY, hps, DATA, DATA, cfgs, strategy="loop")
    for model, hp, cfg, res in zip(models, hps, cfgs, results):
        single, ref = alone(1.0, hp, cfg)
        assert model.w.item() == single.w.item() and res.history == ref.history


def test_members_must_share_the_schedule():
    cfgs = [TrainConfig(lr=0.05, seed=1), TrainConfig(lr=0.1, seed=2)]
    with pytest.raises(ValueError, match="must share lr"):
        fit_cohort([Scalar(1.0), Scalar(1.0)], TOY, [{"target": 0.0, "scale": 1.0}] * 2,
                   DATA, DATA, cfgs)


DIGITS = dict(latent_dim=8, filters=8, lr=1e-3, batch_size=32, max_epochs=4, patience=2,
              threads=1, device="cpu")


@pytest.fixture(scope="module")
def digit_data(registry):
    from anobench.protocol import one_class_split

    data = registry.dataset("digits").loader(data_dir=None)
    return one_class_split(data, 4, split_seed=1, anomaly_seed=2)


@pytest.mark.parametrize("name, extra", [("vae", {"beta": 0.5}), ("ae", {}), ("dsebm", {})])
def test_stacked_network_members_match_single_fits(registry, digit_data, name, extra):
    cls = registry.detector(name).cls
    params = dict(DIGITS, **extra)
    members = [cls(random_state=s, **params) for s in (11, 12, 13)]
    if name == "vae":  # a second beta in the same cohort
        members[2] = cls(random_state=13, **dict(params, beta=1.0))
    fitted = cls.fit_cohort(members, digit_data.X_train, digit_data.X_val)
    for det in fitted:
        ref = cls(**{k: getattr(det, k) for k in [*params, "random_state"]})
        ref.fit(digit_data.X_train, digit_data.X_val)
        assert det.fit_info()["cohort_size"] == 3 and ref.fit_info()["cohort_size"] == 1
        a, b = det.train_result_, ref.train_result_
        assert a.epochs == b.epochs and a.best_epoch == b.best_epoch
        np.testing.assert_allclose(a.history, b.history, rtol=1e-5)
        for (k, p), (_, q) in zip(det.model_.state_dict().items(), ref.model_.state_dict().items()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=k)
        s1, s2 = det.score(digit_data.X_test), ref.score(digit_data.X_test)
        np.testing.assert_allclose(s1, s2, rtol=1e-4)


SUITE = """
[suite]
name = "cohorts"
seed = 7
repetitions = 3
[[datasets]]
name = "digits"
classes = [2, 6]
[[detectors]]
name = "pca"
params = { n_components = 8 }
[[detectors]]
name = "vae"
params = { latent_dim = 8, filters = 8, lr = 1e-3, batch_size = 32, max_epochs = 6, patience = 3, threads = 1, beta = [0.5, 1.0] }
rules = ["single", "expected"]
[[detectors]]
name = "ae"
params = { latent_dim = 8, filters = 8, lr = 1e-3, batch_size = 32, max_epochs = 6, patience = 3, threads = 1 }
"""


def values(run_dir):
    return {(r["cell"], r["column"], r["measure"], r["metric"]): r["value"]
            for r in read_records(run_dir)}


def cell_info(run_dir):
    return {r["cell"]: r["fit_info"] for r in read_records(run_dir, ("cell",))}


def test_runner_cohorts_equal_one_by_one_and_record_the_size(registry, tmp_path):
    suite = parse_suite(SUITE, "cohorts.toml", registry)
    single, f1 = run_suite(suite, registry, results_root=tmp_path / "one", cohort_size=1)
    stacked, f2 = run_suite(suite, registry, results_root=tmp_path / "many", cohort_size=8)
    assert f1 == f2 == 0
    a, b = values(single), values(stacked)
    assert a.keys() == b.keys()
    diffs = [abs(a[k] - b[k]) for k in a]
    assert max(diffs) <= 1e-3, max(diffs)
    sizes = {cid: info.get("cohort_size") for cid, info in cell_info(stacked).items()}
    for cid, size in sizes.items():
        if "/pca" in cid:
            assert size is None  # no cohort capability: fitted alone, nothing added
        elif "/vae" in cid:
            assert size == 6  # 3 repetitions x 2 betas of one class
        else:
            assert size == 3  # ae: the 3 repetitions
    assert set(cell_info(single)[c].get("cohort_size") for c in sizes) == {1, None}


def test_resume_reruns_only_the_missing_members(registry, tmp_path):
    import json

    suite = parse_suite(SUITE.replace("classes = [2, 6]", "classes = [2]"), "c.toml", registry)
    run_dir, _ = run_suite(suite, registry, results_root=tmp_path, cohort_size=8)
    before = values(run_dir)
    lines = (run_dir / "records.jsonl").read_text().splitlines(keepends=True)
    drop = next(json.loads(ln)["cell"] for ln in lines if "/1/ae" in json.loads(ln)["cell"])
    (run_dir / "records.jsonl").write_text(
        "".join(ln for ln in lines if json.loads(ln)["cell"] != drop))
    seen = []
    run_suite(suite, registry, results_root=tmp_path, resume=run_dir, cohort_size=8,
              on_cell=lambda base: seen.append(base["cell"]))
    assert seen == [drop]
    after = values(run_dir)
    assert after.keys() == before.keys()
    assert max(abs(after[k] - before[k]) for k in before) <= 1e-3
    assert cell_info(run_dir)[drop]["cohort_size"] == 1


def test_cohort_keys_and_sizes(registry):
    suite = parse_suite(SUITE, "cohorts.toml", registry)
    groups = {g.key.split("-")[0]: g for g in model_groups(suite, registry)}
    vae = [g for g in model_groups(suite, registry) if g.name == "vae"]
    assert len(vae) == 2 and cohort_key(vae[0]) == cohort_key(vae[1])  # betas stack
    assert cohort_key(vae[0]) != cohort_key(groups["ae"])
    digit, mnist = (1, 8, 8), (1, 28, 28)
    assert cohort_size_for(groups["pca"].cls, "cpu", digit, 8) == 1  # no fit_cohort: one by one
    assert cohort_size_for(groups["ae"].cls, "cpu", mnist, 8) == 8  # --cohort-size 8
    assert cohort_size_for(groups["ae"].cls, "cpu", digit) > 1
    # on a CPU stacking 28x28 networks is slower than one by one (README, Performance)
    assert cohort_size_for(groups["ae"].cls, "cpu", mnist) == 1
    assert cohort_size_for(groups["ae"].cls, "cuda", mnist) > 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_cohort_and_single_agree_in_distribution(registry, digit_data):
    """On a GPU kernels are not bit-reproducible across batch shapes: compare distributions."""
    from scipy.stats import mannwhitneyu

    from anobench.metrics import compute_metrics

    cls = registry.detector("vae").cls
    params = dict(DIGITS, device="cuda", max_epochs=30, patience=5)
    seeds = range(100, 112)
    cohort = cls.fit_cohort([cls(random_state=s, **params) for s in seeds],
                            digit_data.X_train, digit_data.X_val)
    single = [cls(random_state=s, **params).fit(digit_data.X_train, digit_data.X_val)
              for s in seeds]

    def aucs(dets):
        return [compute_metrics(digit_data.y_test, d.score(digit_data.X_test),
                                ("roc_auc",))["roc_auc"] for d in dets]

    a, b = aucs(cohort), aucs(single)
    assert abs(np.mean(a) - np.mean(b)) < 0.02
    assert mannwhitneyu(a, b).pvalue > 0.01
    assert all(d.fit_info()["cohort_size"] == len(seeds) for d in cohort)


def test_cells_on_different_training_data_never_share_a_cohort(registry, monkeypatch):
    """Only repetitions that train on the very same arrays are stacked together."""
    from dataclasses import replace

    from anobench import units

    suite = parse_suite(SUITE.replace("classes = [2, 6]", "classes = [2]"), "c.toml", registry)
    datasets = {"digits": registry.dataset("digits").loader(data_dir=None)}
    groups = [g for g in model_groups(suite, registry) if g.name == "ae"]
    todo = units.suite_cells(suite, datasets, groups)
    shared = units.work_units(todo, datasets, registry, suite, "cpu", 8)
    assert [len(u.tasks) for u in shared] == [3]
    real = units.cell_tasks

    def other_data_for_rep_1(cells, datasets, suite):
        tasks = real(cells, datasets, suite)
        t = tasks[1]
        tasks[1] = replace(t, split=replace(t.split, X_train=t.split.X_train.copy()))
        return tasks

    monkeypatch.setattr(units, "cell_tasks", other_data_for_rep_1)
    split = units.work_units(todo, datasets, registry, suite, "cpu", 8)
    assert sorted(len(u.tasks) for u in split) == [1, 2]


class Centroid(Detector):
    """A third-party detector with the cohort capability: distance to the (noisy) mean."""

    calls: ClassVar[list[int]] = []
    cohort_params = ("random_state",)  # the cohort trio: all three or none (issue 20)

    def __init__(self, *, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, X, X_val=None):
        noise = np.random.default_rng(self.random_state).normal(0, 1e-3, X.shape[1:])
        self.center_ = X.mean(axis=0) + noise
        return self

    def score(self, X):
        return ((X - self.center_) ** 2).reshape(len(X), -1).sum(axis=1)

    @classmethod
    def cohort_size(cls, device, sample_shape):
        return 4

    @classmethod
    def fit_cohort(cls, members, X, X_val=None):
        Centroid.calls.append(len(members))
        return [m.fit(X, X_val) for m in members]


def test_a_plugin_detector_trains_in_cohorts_and_its_size_is_recorded(tmp_path):
    plugin = type("P", (), {})()
    plugin.anobench_register_detectors = hookimpl(
        lambda registry: registry.add_detector("centroid", Centroid))
    reg = build_registry(get_plugin_manager(extra_plugins=[("centroid-plugin", plugin)]))
    text = """
[suite]
name = "centroid"
repetitions = 6
[[datasets]]
name = "digits"
classes = [1]
[[detectors]]
name = "centroid"
"""
    suite = parse_suite(text, "c.toml", reg)
    Centroid.calls.clear()
    run_dir, failed = run_suite(suite, reg, results_root=tmp_path / "a")
    assert failed == 0 and Centroid.calls == [4, 2]
    assert sorted(i["cohort_size"] for i in cell_info(run_dir).values()) == [2, 2, 4, 4, 4, 4]
    one, _ = run_suite(suite, reg, results_root=tmp_path / "b", cohort_size=1)
    assert Centroid.calls == [4, 2]  # one by one: fit, never fit_cohort
    assert values(one) == values(run_dir)
    assert all("cohort_size" not in i for i in cell_info(one).values())
