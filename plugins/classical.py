"""Classical detectors: PCA and kernel PCA reconstruction error."""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA, KernelPCA

from anobench.api import Detector
from anobench.hookspecs import hookimpl


def _flat(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


def _squared_error(X: np.ndarray, X_hat: np.ndarray) -> np.ndarray:
    return ((X - X_hat) ** 2).sum(axis=1)


class PCADetector(Detector):
    """PCA: squared reconstruction error from the top components."""

    def __init__(self, *, n_components: int = 32, random_state: int | None = None) -> None:
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, X_val=None):
        X = _flat(X)
        k = min(self.n_components, X.shape[0], X.shape[1])
        self.model_ = PCA(n_components=k, svd_solver="full").fit(X)
        return self

    def score(self, X):
        X = _flat(X)
        return _squared_error(X, self.model_.inverse_transform(self.model_.transform(X)))


class KernelPCADetector(Detector):
    """Kernel PCA (RBF): squared reconstruction error in input space (pre-image)."""

    def __init__(
        self,
        *,
        n_components: int = 32,
        gamma: float | None = None,
        alpha: float = 1.0,
        random_state: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.gamma = gamma
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, X, X_val=None):
        X = _flat(X)
        self.model_ = KernelPCA(
            n_components=min(self.n_components, X.shape[0]),
            kernel="rbf",
            gamma=self.gamma,
            alpha=self.alpha,
            fit_inverse_transform=True,
            random_state=self.random_state,
        ).fit(X)
        return self

    def score(self, X):
        X = _flat(X)
        return _squared_error(X, self.model_.inverse_transform(self.model_.transform(X)))


@hookimpl
def anobench_register_detectors(registry) -> None:
    registry.add_detector("pca", PCADetector)
    registry.add_detector("kpca", KernelPCADetector)
