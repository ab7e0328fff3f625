"""PCA and kernel PCA: the pre-image kernel of the paper, exact reconstructions refused."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.decomposition import KernelPCA

from anobench_plugins.classical import KernelPCADetector, PCADetector


def _data(n=240, d=20, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(3, d))
    X = np.tanh(rng.normal(size=(n, 3)) @ W) + 0.05 * rng.normal(size=(n, d))
    T = np.tanh(rng.normal(size=(60, 3)) @ W) + 0.05 * rng.normal(size=(60, d))
    return X, np.concatenate([T, rng.uniform(-2, 2, size=(10, d))])


def _legacy_kpca_scores(X, T, k, alpha=1.0):
    """scikit-learn < 1.3 written out: forward RBF gamma 1/n_features, pre-image gamma 1/k."""
    g = 1.0 / X.shape[1]
    K = np.exp(-g * cdist(X, X, "sqeuclidean"))
    n = len(X)
    J = np.full((n, n), 1.0 / n)
    Kc = K - J @ K - K @ J + J @ K @ J
    lam, V = np.linalg.eigh(Kc)
    lam, V = lam[::-1][:k], V[:, ::-1][:, :k]
    Z = V * np.sqrt(lam)
    Kt = np.exp(-g * cdist(T, X, "sqeuclidean"))
    Kt_c = Kt - Kt.mean(axis=1, keepdims=True) - K.mean(axis=0)[None, :] + K.mean()
    Zt = Kt_c @ V / np.sqrt(lam)
    gi = 1.0 / k
    A = np.exp(-gi * cdist(Z, Z, "sqeuclidean")) + alpha * np.eye(n)
    D = np.linalg.solve(A, X)
    X_hat = np.exp(-gi * cdist(Zt, Z, "sqeuclidean")) @ D
    return ((T - X_hat) ** 2).sum(axis=1)


@pytest.mark.parametrize("k", [12, 16])
def test_kpca_forward_inverse_gamma_is_current_sklearn_exactly(k):
    X, T = _data()
    det = KernelPCADetector(n_components=k, inverse_gamma="forward", random_state=0).fit(X)
    sk = KernelPCA(n_components=k, kernel="rbf", fit_inverse_transform=True, random_state=0).fit(X)
    np.testing.assert_array_equal(det.score(T), ((T - sk.inverse_transform(sk.transform(T))) ** 2).sum(1))


def test_kpca_default_is_the_papers_legacy_preimage_kernel():
    X, T = _data()
    det = KernelPCADetector(n_components=12, random_state=0).fit(X)
    assert det.inverse_gamma is None and det.inverse_gamma_ == pytest.approx(1 / 12)
    np.testing.assert_allclose(det.score(T), _legacy_kpca_scores(X, T, 12), rtol=1e-6)
    legacy = KernelPCADetector(n_components=12, inverse_gamma="legacy", random_state=0).fit(X)
    np.testing.assert_array_equal(legacy.score(T), det.score(T))
    # and the two rules really differ (the default matters)
    forward = KernelPCADetector(n_components=12, inverse_gamma="forward", random_state=0).fit(X)
    assert forward.inverse_gamma_ == pytest.approx(1 / 20)
    assert not np.allclose(forward.score(T), det.score(T), rtol=1e-2)


def test_kpca_inverse_gamma_number_and_explicit_gamma():
    X, T = _data()
    a = KernelPCADetector(n_components=12, inverse_gamma=0.25, random_state=0).fit(X)
    assert a.inverse_gamma_ == 0.25
    # legacy with an explicit gamma uses it for both kernels, as scikit-learn < 1.3 did
    b = KernelPCADetector(n_components=12, gamma=0.3, random_state=0).fit(X)
    c = KernelPCADetector(n_components=12, gamma=0.3, inverse_gamma="forward", random_state=0).fit(X)
    assert b.inverse_gamma_ == 0.3
    np.testing.assert_array_equal(b.score(T), c.score(T))


@pytest.mark.parametrize("bad", ["modern", -1.0, 0, True])
def test_kpca_bad_inverse_gamma_is_refused(bad):
    with pytest.raises(ValueError, match="inverse_gamma must be a positive number or one of legacy, forward"):
        KernelPCADetector.check_params({"n_components": 8, "inverse_gamma": bad})


def test_pca_check_data_refuses_components_at_or_above_features():
    PCADetector.check_data({"n_components": 5}, (6,))
    for k in (6, 32):
        with pytest.raises(ValueError, match=f"n_components = {k} is not below the 6 features"):
            PCADetector.check_data({"n_components": k}, (6,))
    with pytest.raises(ValueError, match="not below the 64 features"):
        PCADetector.check_data({"n_components": 64}, (1, 8, 8))


def test_pca_exact_reconstruction_is_refused_at_score_time():
    # 40 features of rank 4: 8 components reconstruct exactly although 8 < 40
    rng = np.random.default_rng(0)
    B = rng.normal(size=(4, 40))
    X, T = rng.normal(size=(200, 4)) @ B, rng.normal(size=(30, 4)) @ B
    det = PCADetector(n_components=8).fit(X)
    with pytest.raises(ValueError, match="pca: the reconstruction is exact up to rounding"):
        det.score(T)
    assert np.ptp(PCADetector(n_components=3).fit(X).score(T)) > 1.0


def test_kpca_with_more_components_than_features_is_not_degenerate():
    # kernel PCA's components live in feature space: 32 components on 6 features are allowed
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(300, 6)), rng.normal(size=(50, 6))
    for inv in (None, "forward"):
        s = KernelPCADetector(n_components=32, inverse_gamma=inv).fit(X).score(T)
        assert s.min() > 1e-3 * (T ** 2).sum(1).mean()
