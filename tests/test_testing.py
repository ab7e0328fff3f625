"""The conformance kit (anobench.testing): it passes every built-in plugin and
catches each broken contract it promises to catch."""
from __future__ import annotations

import numpy as np
import pytest

from anobench.api import Detector, ScoringRule
from anobench.manager import load_registry
from anobench.registry import init_parameters
from anobench.testing import (
    ConformanceError,
    check_detector,
    check_scoring_rule,
    fast_params,
    make_data,
    make_draw,
)


def _builtin_detectors():
    """One entry per distinct (class, fixed parameters): ed-vae shares vae's class."""
    seen, out = set(), []
    for name, spec in sorted(load_registry().detectors.items()):
        key = (spec.cls, tuple(sorted(spec.defaults.items())))
        if key in seen:
            continue
        seen.add(key)
        out.append(pytest.param(name, id=name))
    return out


@pytest.mark.parametrize("name", _builtin_detectors())
def test_builtin_detector_conforms_on_tabular_data(name):
    spec = load_registry().detectors[name]
    params = fast_params(spec.cls, **spec.defaults)
    if "n_components" in init_parameters(spec.cls):
        params["n_components"] = 4  # the check data has 8 features
    check_detector(spec.cls, params, kinds=("tabular",))


def test_the_kit_refuses_params_that_check_data_refuses():
    from anobench_plugins.classical import PCADetector

    with pytest.raises(ConformanceError, match=r"check_detector\(PCADetector\) \[tabular\]: "
                       r"check_data: refuses these parameters for samples of shape \(8,\) "
                       r"\(n_components = 32 is not below the 8 features"):
        check_detector(PCADetector, kinds=("tabular",))


@pytest.mark.parametrize("name", _builtin_detectors())
def test_builtin_detector_conforms_on_images(name):
    spec = load_registry().detectors[name]
    check_detector(spec.cls, fast_params(spec.cls, **spec.defaults), kinds=("image",))


@pytest.mark.parametrize("name", sorted(load_registry().rules))
def test_builtin_rule_conforms(name):
    check_scoring_rule(load_registry().rules[name].rule)


# -- the kit catches broken plugins ------------------------------------------------------
class Mean(Detector):
    """Distance to the training mean: a minimal detector that conforms."""

    def __init__(self, *, shrink: float = 0.0, random_state: int | None = None) -> None:
        self.shrink = shrink
        self.random_state = random_state

    def _flat(self, X):
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if not np.isfinite(X).all():
            raise ValueError("mean: input has NaN or infinite values")
        return X

    def fit(self, X, X_val=None):
        self.center_ = self._flat(X).mean(axis=0) * (1 - self.shrink)
        return self

    def score(self, X):
        X = self._flat(X)
        if X.shape[1] != self.center_.shape[0]:
            raise ValueError(f"mean: expected {self.center_.shape[0]} features, got {X.shape[1]}")
        return ((X - self.center_) ** 2).sum(axis=1)


class Negated(Mean):
    def score(self, X):
        return -super().score(X)


class Column(Mean):
    def score(self, X):
        return super().score(X)[:, None]


class Ints(Mean):
    def score(self, X):
        return super().score(X).astype(np.int64)


class Noisy(Mean):
    def score(self, X):
        return super().score(X) + np.random.default_rng().normal(0, 1e-3, len(X))


class Mutating(Mean):
    def fit(self, X, X_val=None):
        super().fit(X)
        X -= self.center_.reshape(X.shape[1:])
        return self


class NoNanCheck(Mean):
    def _flat(self, X):
        return np.nan_to_num(np.asarray(X, dtype=np.float64).reshape(len(X), -1))


class DeepError(Mean):
    def score(self, X):
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if not np.isfinite(X).all():
            raise ValueError("NaN")
        if X.shape[1] != self.center_.shape[0]:  # what an unchecked torch layer would raise
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (60x9 and 8x8)")
        return ((X - self.center_) ** 2).sum(axis=1)


class NotSelf(Mean):
    def fit(self, X, X_val=None):
        super().fit(X)


class BadAttr(Mean):
    def fit(self, X, X_val=None):
        super().fit(X)
        self.center = self.center_
        return self


class ChangesParam(Mean):
    def __init__(self, *, shrink: float = 0.0, random_state: int | None = None) -> None:
        self.shrink = float(shrink) + 1e-3
        self.random_state = random_state


class Positional(Mean):
    def __init__(self, shrink=0.0, *, random_state: int | None = None) -> None:
        self.shrink = shrink
        self.random_state = random_state


def test_a_conforming_detector_passes():
    check_detector(Mean)
    check_detector(Mean, {"shrink": 0.1}, kinds=("tabular",))


@pytest.mark.parametrize("cls, fragment", [
    (Negated, "higher = more anomalous: obvious outliers were ranked below normals (AUC 0.00 < 0.9): the scores look negated"),
    (Column, "score: returned shape"),
    (Ints, "expected floats"),
    (Noisy, "determinism"),
    (Mutating, "no mutation: fit/score modified the input array X_train"),
    (NoNanCheck, "fit() on data with a NaN did not raise"),
    (DeepError, "score() on samples of shape (9,) after fitting (8,) raised"),
    (NotSelf, "fit: must return self"),
    (BadAttr, "set attributes ['center']"),
    (ChangesParam, "__init__ must store parameters unchanged"),
    (Positional, "registration: plugin 'conformance-check'"),
])
def test_each_broken_contract_is_caught(cls, fragment):
    with pytest.raises(ConformanceError) as err:
        check_detector(cls, kinds=("tabular",))
    msg = str(err.value)
    assert fragment in msg and f"check_detector({cls.__name__})" in msg
    assert "\n" not in msg


def test_unknown_params_are_refused():
    with pytest.raises(ConformanceError, match=r"\['nope'\] are not parameters of Mean"):
        check_detector(Mean, {"nope": 1})


def test_fast_params_only_sets_what_the_class_takes():
    assert fast_params(Mean) == {}

    class Neural(Mean):
        def __init__(self, *, max_epochs: int = 1000, patience: int = 20, device: str = "auto",
                     random_state: int | None = None) -> None:
            pass

    assert fast_params(Neural, patience=1) == {"max_epochs": 3, "patience": 1, "device": "cpu"}


def test_synthetic_data_shapes_and_range():
    tab, img = make_data("tabular"), make_data("image")
    assert tab["X_train"].shape[1:] == (8,) and img["X_train"].shape[1:] == (1, 12, 12)
    for d in (tab, img):
        assert all(v.dtype == np.float32 for v in d.values())
        assert d["X_train"].min() >= 0 and d["X_train"].max() <= 1
        assert set(np.unique(d["X_outliers"])) == {-1.0, 2.0}
    with pytest.raises(ValueError, match="unknown data kind"):
        make_data("audio")


# -- scoring rules -------------------------------------------------------------------------
class Median(ScoringRule):
    name = "median-test"
    description = "median"

    def reconstruction(self, draw):
        return np.median(draw.recon_samples, axis=0)


class NegatedRule(Median):
    def reconstruction(self, draw):
        return -np.median(draw.recon_samples, axis=0)


class SortsInPlace(Median):
    def reconstruction(self, draw):
        draw.recon_samples.sort(axis=0)
        return draw.recon_samples[len(draw.recon_samples) // 2]


class WrongShape(Median):
    def reconstruction(self, draw):
        return draw.recon_samples


class UnknownMeasure(Median):
    measures = ("recon", "likelihood")


class AcceptsAnyMeasure(Median):
    def reduce(self, draw, measure):
        return self.reconstruction(draw)


class Random(Median):
    def reconstruction(self, draw):
        return draw.recon_mu + np.random.default_rng().uniform(0, 1e-6, len(draw.recon_mu))


def test_a_conforming_rule_passes():
    check_scoring_rule(Median)
    check_scoring_rule(Median())


@pytest.mark.parametrize("rule, fragment", [
    (NegatedRule, "higher = more anomalous"),
    (SortsInPlace, "no mutation: reduce() modified draw.recon_samples"),
    (WrongShape, "reduce: returned shape"),
    (UnknownMeasure, "['likelihood'] are not measures"),
    (AcceptsAnyMeasure, "reduce() with an unknown measure did not raise"),
    (Random, "determinism"),
])
def test_each_broken_rule_is_caught(rule, fragment):
    with pytest.raises(ConformanceError) as err:
        check_scoring_rule(rule)
    assert fragment in str(err.value) and "check_scoring_rule(median-test)" in str(err.value)


def test_synthetic_draw_marks_outliers():
    draw, out = make_draw(n=10, n_samples=3, n_outliers=2)
    assert draw.recon_samples.shape == (3, 10) and out.sum() == 2
    assert draw.recon_mu[out].min() > draw.recon_mu[~out].max()
    assert make_draw(n_samples=0)[0].recon_samples.shape == (0, 40)


# -- datasets ------------------------------------------------------------------------------
def test_builtin_datasets_that_need_no_download_conform(tmp_path):
    from anobench.testing import check_dataset

    reg = load_registry()
    data = check_dataset(reg.datasets["digits"].loader)
    assert data.sample_shape == (1, 8, 8)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=rng.normal(size=(40, 3)), y=np.arange(40) % 2)
    assert check_dataset(reg.datasets["custom"].loader, path=str(tmp_path / "d.npz")).sample_shape \
        == (3,)


def test_a_broken_dataset_is_caught():
    from anobench.api import LabeledData
    from anobench.testing import check_dataset

    def float64(data_dir=None):
        X = np.zeros((4, 2))
        return LabeledData("x", X, np.array([0, 1, 0, 1]), X, np.array([0, 1, 0, 1]))

    def one_class(data_dir=None):
        X = np.zeros((4, 2), np.float32)
        return LabeledData("x", X, np.zeros(4, np.int64), X, np.zeros(4, np.int64))

    def no_data_dir():
        return None

    with pytest.raises(ConformanceError, match="X_train must be a float32 ndarray, got float64"):
        check_dataset(float64)
    with pytest.raises(ConformanceError, match="only 1 class"):
        check_dataset(one_class)
    with pytest.raises(ConformanceError, match="must accept a data_dir argument"):
        check_dataset(no_data_dir)


# -- cohort members equal their single fits (issue 20) ----------------------------------
class Seeded(Mean):
    """Mean plus a seeded offset, trained in cohorts: members differ by random_state."""

    cohort_params = ("random_state", "shrink")

    def fit(self, X, X_val=None):
        super().fit(X)
        self.center_ = self.center_ + np.random.default_rng(self.random_state).normal(
            0, 0.05, self.center_.shape)
        return self

    @classmethod
    def cohort_size(cls, device, sample_shape):
        return 4

    @classmethod
    def fit_cohort(cls, members, X, X_val=None):
        return [m.fit(X, X_val) for m in members]


class FirstSeedForAll(Seeded):
    @classmethod
    def fit_cohort(cls, members, X, X_val=None):
        out = []
        for m in members:  # every member gets the first member's offset
            m.fit(X, X_val)
            m.center_ = members[0].fit(X, X_val).center_.copy()
            out.append(m)
        return out


class OneObject(Seeded):
    @classmethod
    def fit_cohort(cls, members, X, X_val=None):
        return [members[0].fit(X, X_val)] * len(members)


class MemberFails(Seeded):
    @classmethod
    def fit_cohort(cls, members, X, X_val=None):
        return [members[0].fit(X, X_val), ValueError("diverged")]


class Short(Seeded):
    @classmethod
    def fit_cohort(cls, members, X, X_val=None):
        return [members[0].fit(X, X_val)]


class CohortRaises(Seeded):
    @classmethod
    def fit_cohort(cls, members, X, X_val=None):
        raise RuntimeError("no stacking here")


def test_a_cohort_detector_whose_members_equal_single_fits_passes():
    check_detector(Seeded)
    check_detector(Seeded, {"shrink": 0.1}, kinds=("image",))


@pytest.mark.parametrize("cls, fragment", [
    (FirstSeedForAll, "fit_cohort: member 1 (random_state=1) scores differ from its single fit "
                      "by up to"),
    (OneObject, "fit_cohort: returned the same object for both members"),
    (MemberFails, "fit_cohort: member 1 (random_state=1) failed: ValueError: diverged"),
    (Short, "fit_cohort: returned 1 results for 2 members"),
    (CohortRaises, "fit_cohort: raised RuntimeError: no stacking here"),
])
def test_a_cohort_that_is_not_its_single_fits_is_caught(cls, fragment):
    with pytest.raises(ConformanceError) as err:
        check_detector(cls, kinds=("tabular",))
    msg = str(err.value)
    assert msg.startswith(f"check_detector({cls.__name__}) [tabular]: ") and fragment in msg, msg
    assert "\n" not in msg


def test_the_kit_is_split_and_public_names_stay():
    import anobench.testing as kit

    for name in ("check_detector", "check_scoring_rule", "check_dataset", "fast_params",
                 "make_data", "make_draw", "ConformanceError"):
        assert callable(getattr(kit, name)), name
    from anobench.testing.detectors import COHORT_ATOL, COHORT_RTOL

    assert COHORT_RTOL == 1e-4 and COHORT_ATOL == 1e-6
