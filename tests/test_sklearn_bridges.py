"""The scikit-learn face (issue 12), both ways:

* :class:`anobench.estimator.OutlierEstimator`: any anobench detector as a
  scikit-learn outlier detector, checked with scikit-learn's own
  ``parametrize_with_checks`` (expected failures listed with their reasons);
* ``sklearn:<import path>``: any scikit-learn outlier detector as an anobench
  detector, its ``score_samples`` negated once.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import LocalOutlierFactor
from sklearn.utils.estimator_checks import parametrize_with_checks

from anobench.api import Detector
from anobench.cli import main
from anobench.errors import SuiteError
from anobench.estimator import OutlierEstimator
from anobench.suite import parse_suite
from anobench.testing import check_detector, fast_params, make_data


class MeanDistance(Detector):
    """A detector class handed over directly (not registered)."""

    def __init__(self, *, shrink: float = 0.0, random_state: int | None = None):
        self.shrink = shrink
        self.random_state = random_state

    def fit(self, X, X_val=None):
        self.center_ = (1 - self.shrink) * np.asarray(X, dtype=np.float64).mean(axis=0)
        return self

    def score(self, X):
        return ((np.asarray(X, dtype=np.float64) - self.center_) ** 2).sum(axis=1)


FAST_VAE = {"max_epochs": 2, "hidden": 16, "latent_dim": 2, "device": "cpu", "threads": 1}


# -- anobench detector -> scikit-learn estimator ----------------------------------
def expected_failures(estimator):
    """Checks an estimator is expected to fail, each with the reason.

    ``pca`` refuses to fit when its components span the data (one feature, one
    component): the reconstruction is exact and the scores would be rounding
    noise (issue 8 item 2). scikit-learn's check accepts only an error that
    says "1 feature(s)"; anobench's says why the scores would be meaningless.
    """
    if estimator.detector == "pca":
        return {"check_fit2d_1feature": "pca refuses components that span the data: its "
                                        "scores would be rounding noise"}
    if estimator.detector == "ed-vae":
        # scikit-learn compares at rtol 1e-7 (below float32's unit roundoff, 6e-8, after a
        # single rounding step); a float32 network's scores for a different batch size come
        # from another GEMM kernel that sums the same products in another order: measured up
        # to 3.5e-7 relative on one Xeon under ATEN_CPU_CAPABILITY=default/avx2/avx512. The
        # outcome depends on the CPU, so these run as non-strict xfails and
        # test_neural_scores_do_not_depend_on_batch_composition checks the same property at a
        # tolerance that holds on any CPU.
        reason = ("float32 network: scores of a different batch differ by float32 rounding "
                  "(see test_neural_scores_do_not_depend_on_batch_composition)")
        return {"check_methods_subset_invariance": reason,
                "check_methods_sample_order_invariance": reason}
    return {}


@parametrize_with_checks([
    OutlierEstimator("pca", params={"n_components": 1}),
    OutlierEstimator("kpca", params={"n_components": 4}),
    OutlierEstimator(MeanDistance),
    # the expected-latent rule is deterministic per sample; "single" draws z, so its
    # scores depend on the order of the samples and fail the invariance checks by design
    OutlierEstimator("ed-vae", params=FAST_VAE),
], expected_failed_checks=expected_failures)
def test_sklearn_checks(estimator, check):
    check(estimator)


#: Relative tolerance for float32 network scores computed in batches of another size or
#: order. A score is a float32 network's output reduced over the features; a batch of another
#: size may select another GEMM kernel (MKL/oneDNN pick by shape and instruction set), which sums
#: the same products in another order. For an inner product of length k the two results differ
#: by at most about 2·k·u relative (u = 2**-24, float32's unit roundoff): k <= 32 here gives
#: 3.8e-6. Measured: at most 3.5e-7 over 5 seeds with ATEN_CPU_CAPABILITY=default, avx2 and
#: avx512 and with ONEDNN_MAX_CPU_ISA=SSE41 (README, Development). 1e-5 leaves a margin of ~30x.
FLOAT32_BATCH_RTOL = 1e-5


@pytest.mark.parametrize("seed", range(3))
def test_neural_scores_do_not_depend_on_batch_composition(seed):
    rnd = np.random.RandomState(seed)
    X = 3 * rnd.uniform(size=(20, 3))
    est = OutlierEstimator("ed-vae", params=FAST_VAE, random_state=1).fit(X)
    full = est.score_samples(X)
    one_by_one = np.concatenate([est.score_samples(X[i:i + 1]) for i in range(len(X))])
    halves = np.concatenate([est.score_samples(X[:7]), est.score_samples(X[7:])])
    perm = rnd.permutation(len(X))
    for other in (one_by_one, halves, est.score_samples(X[perm])[np.argsort(perm)]):
        np.testing.assert_allclose(other, full, rtol=FLOAT32_BATCH_RTOL, atol=0)
    # the property is not vacuous: the scores are not all equal
    assert np.ptp(full) > 1e3 * FLOAT32_BATCH_RTOL * np.abs(full).max()


def test_score_samples_is_the_detector_score_negated():
    d = make_data("tabular", seed=1)
    est = OutlierEstimator("pca", params={"n_components": 3}).fit(d["X_train"])
    np.testing.assert_array_equal(est.score_samples(d["X_test"]),
                                  -est.detector_.score(d["X_test"]))
    # scikit-learn's sign: the outliers are the least normal
    assert est.score_samples(d["X_outliers"]).max() < est.score_samples(d["X_test"]).min()
    assert (est.predict(d["X_outliers"]) == -1).all()


@pytest.mark.parametrize("contamination", [0.05, 0.2])
def test_predict_flags_the_contamination_fraction_of_the_training_data(contamination):
    X = make_data("tabular", n_train=200)["X_train"]
    est = OutlierEstimator(MeanDistance, contamination=contamination).fit(X)
    assert np.mean(est.predict(X) == -1) == pytest.approx(contamination, abs=1 / len(X))
    np.testing.assert_allclose(est.decision_function(X), est.score_samples(X) - est.offset_)


def test_params_clone_and_grid_search():
    est = OutlierEstimator("pca", params={"n_components": 2}, contamination=0.1)
    assert est.get_params()["params"] == {"n_components": 2}
    twin = clone(est.set_params(params={"n_components": 4}))
    assert twin.get_params()["params"] == {"n_components": 4} and twin is not est
    d = make_data("tabular")
    X = np.concatenate([d["X_test"], d["X_outliers"]])
    y = np.r_[np.ones(len(d["X_test"])), -np.ones(len(d["X_outliers"]))]
    search = GridSearchCV(OutlierEstimator("pca"), {"params": [{"n_components": k} for k in (1, 3)]},
                          scoring="accuracy", cv=3).fit(X, y)
    assert search.best_params_["params"]["n_components"] in (1, 3)


def test_latent_detectors_use_their_rule():
    d = make_data("tabular")
    est = OutlierEstimator("ed-vae", params=FAST_VAE, random_state=0).fit(d["X_train"])
    assert est.rule_.name == "expected"
    draw = est.detector_.posterior_draw(d["X_test"], n_samples=0, seed=0)
    np.testing.assert_allclose(est.score_samples(d["X_test"]), -(draw.recon_mu + draw.kl))
    single = OutlierEstimator("ed-vae", params=FAST_VAE, rule="single", measure="recon",
                              random_state=0).fit(d["X_train"])
    assert single.rule_.name == "single"
    with pytest.raises(ValueError, match="has no posterior"):
        OutlierEstimator("pca", rule="expected").fit(d["X_train"])
    with pytest.raises(ValueError, match="unknown scoring rule 'expectd' \\(did you mean 'expected'"):
        OutlierEstimator("vae", params=FAST_VAE, rule="expectd").fit(d["X_train"])
    with pytest.raises(ValueError, match="unknown detector 'pcb'"):
        OutlierEstimator("pcb").fit(d["X_train"])


def test_n_samples_is_bounded_as_in_a_suite():
    """n_samples=10**9 once tried to allocate 160 GB: refused at fit, and at score when set
    after fit, like a suite's n_samples (at most 100,000)."""
    d = make_data("tabular")
    with pytest.raises(ValueError, match=r"'n_samples' parameter .* range \[1, 100000\]"):
        OutlierEstimator("vae", params=FAST_VAE, rule="multi", n_samples=10**9).fit(d["X_train"])
    est = OutlierEstimator("vae", params=FAST_VAE, rule="multi", n_samples=2,
                           random_state=0).fit(d["X_train"])
    est.set_params(n_samples=10**9)
    with pytest.raises(ValueError, match=r"'n_samples' parameter .* range \[1, 100000\]"):
        est.score_samples(d["X_test"])


# -- scikit-learn estimator -> anobench detector ----------------------------------
IFOREST = "sklearn:sklearn.ensemble.IsolationForest"
LOF = "sklearn:sklearn.neighbors.LocalOutlierFactor"


@pytest.mark.parametrize("name", [IFOREST, LOF, "sklearn:sklearn.svm.OneClassSVM"])
def test_sklearn_detectors_conform(registry, name):
    cls = registry.detector(name).cls
    check_detector(cls, fast_params(cls))


def test_sign_is_negated_once(registry):
    d = make_data("tabular", seed=2)
    ours = registry.detector(IFOREST).cls(n_estimators=30, random_state=4).fit(d["X_train"])
    theirs = IsolationForest(n_estimators=30, random_state=4).fit(d["X_train"].astype(np.float64))
    np.testing.assert_allclose(ours.score(d["X_test"]),
                               -theirs.score_samples(d["X_test"].astype(np.float64)))
    assert ours.score(d["X_outliers"]).min() > ours.score(d["X_test"]).max()


def test_lof_scores_new_data_with_novelty_by_default(registry):
    spec = registry.detector(LOF)
    assert spec.parameters["novelty"].default is True
    d = make_data("tabular")
    s = spec.cls().fit(d["X_train"]).score(d["X_test"])
    ref = LocalOutlierFactor(novelty=True).fit(d["X_train"].astype(np.float64))
    np.testing.assert_allclose(s, -ref.score_samples(d["X_test"].astype(np.float64)))


def test_sklearn_classes_pickle_by_reference(registry):
    cls = registry.detector(IFOREST).cls
    assert pickle.loads(pickle.dumps(cls)) is cls


@pytest.mark.parametrize("name,params,where,message", [
    ("sklearn:sklearn.ensemble.IsolationForst", "", "name",
     "unknown detector 'sklearn:sklearn.ensemble.IsolationForst': sklearn.ensemble has no class "
     "'IsolationForst' (did you mean 'IsolationForest'?)"),
    ("sklearn:sklearn.ensemble.RandomForestClassifier", "", "name",
     "RandomForestClassifier has no score_samples() method"),
    ("sklearn:IsolationForest", "", "name", "expected an import path"),
    ("sklearn:nosuchpackage.Thing", "", "name", "cannot import 'nosuchpackage'"),
    (IFOREST, "max_sample = 10", "params.max_sample",
     "unknown parameter 'max_sample' for detector '" + IFOREST + "' (did you mean 'max_samples'?)"),
    (IFOREST, "max_samples = -4", "params",
     "InvalidParameterError: The 'max_samples' parameter of IsolationForest must be"),
])
def test_bad_sklearn_detectors_are_refused_at_load(registry, name, params, where, message):
    text = (f'[[datasets]]\nname = "digits"\n[[detectors]]\nname = "{name}"\n'
            f"params = {{ {params} }}\n")
    with pytest.raises(SuiteError) as e:
        parse_suite(text, "s.toml", registry)
    assert f"s.toml: detectors[0].{where}: " in str(e.value) and message in str(e.value)


def test_a_suite_with_sklearn_detectors(write_suite, tmp_path, capsys):
    suite = write_suite(f"""
[suite]
name = "sk"
repetitions = 1
[[datasets]]
name = "digits"
classes = [0]
[[detectors]]
name = "{IFOREST}"
label = "iforest"
params = {{ n_estimators = 30, max_samples = 64 }}
[[detectors]]
name = "{LOF}"
label = "lof"
""", "sk")
    assert main(["run", str(suite), "--results", str(tmp_path / "res"), "--tables"]) == 0
    out = capsys.readouterr().out
    assert "|   iforest |       lof |" in out
