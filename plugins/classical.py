"""Classical detectors: PCA and kernel PCA reconstruction error.

PCA reconstructs exactly when ``n_components`` reaches the number of features
(its scores are then rounding noise): :meth:`PCADetector.check_data` refuses
that at suite load. Kernel PCA does not (its components live in the kernel's
feature space and the pre-image is a ridge regression), so it has no such
limit. Both refuse reconstruction errors at rounding level relative to the
data (e.g. data of low rank) in ``score`` instead of returning noise.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg
from sklearn.decomposition import PCA, KernelPCA
from sklearn.metrics.pairwise import rbf_kernel

from anobench.api import Detector
from anobench.hookspecs import hookimpl
from anobench.registry import init_parameters

#: Keywords of ``KernelPCA.inverse_gamma``.
INVERSE_GAMMAS = ("legacy", "forward")


def _flat(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


def _squared_error(X: np.ndarray, X_hat: np.ndarray) -> np.ndarray:
    return ((X - X_hat) ** 2).sum(axis=1)


def _check_components(params: dict[str, Any], sample_shape: tuple[int, ...]) -> None:
    n_features = int(np.prod(sample_shape))
    k = params.get("n_components", init_parameters(PCADetector)["n_components"].default)
    if isinstance(k, int) and k >= n_features:
        raise ValueError(f"n_components = {k} is not below the {n_features} features of the "
                         f"data: the reconstruction would be exact and every score rounding "
                         f"noise; use n_components < {n_features}")


def _not_rounding_noise(who: str, X: np.ndarray, errors: np.ndarray, n_components: int) -> None:
    """Refuse reconstruction errors that are rounding noise relative to the data."""
    scale = float((X ** 2).sum(axis=1).mean())
    if errors.max() <= 1e3 * np.finfo(np.float64).eps * max(scale, np.finfo(np.float64).tiny):
        raise ValueError(f"{who}: the reconstruction is exact up to rounding (largest squared "
                         f"error {errors.max():.3g}, mean squared norm of the data {scale:.3g}): "
                         f"n_components = {n_components} spans the data; use fewer components")


class PCADetector(Detector):
    """PCA: squared reconstruction error from the top components."""

    def __init__(self, *, n_components: int = 32, random_state: int | None = None) -> None:
        self.n_components = n_components
        self.random_state = random_state

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        k = params.get("n_components", 1)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"parameter n_components must be a positive integer, got {k!r}")

    @classmethod
    def check_data(cls, params: dict[str, Any], sample_shape: tuple[int, ...]) -> None:
        """Refuse ``n_components`` >= the number of features (exact reconstruction)."""
        _check_components(params, sample_shape)

    def fit(self, X, X_val=None):
        X = _flat(X)
        k = min(self.n_components, X.shape[0], X.shape[1])
        self.model_ = PCA(n_components=k, svd_solver="full").fit(X)
        return self

    def score(self, X):
        X = _flat(X)
        errors = _squared_error(X, self.model_.inverse_transform(self.model_.transform(X)))
        _not_rounding_noise("pca", X, errors, self.n_components)
        return errors


class KernelPCADetector(Detector):
    """Kernel PCA (RBF): squared reconstruction error in input space (pre-image).

    The pre-image map is a kernel ridge regression from the training
    projections back to the inputs (Bakır et al. 2004), as scikit-learn's
    ``fit_inverse_transform``; its RBF width is ``inverse_gamma``:

    * ``None`` or ``"legacy"`` (default): scikit-learn < 1.3, which the
      paper's authors ran — ``gamma`` if given, else ``1 / n_components``
      (the pre-image kernel acts on the ``n_components``-d projections);
    * ``"forward"``: the forward kernel's gamma (``gamma``, else
      ``1 / n_features``), as scikit-learn >= 1.3;
    * a positive number: that value.
    """

    def __init__(
        self,
        *,
        n_components: int = 32,
        gamma: float | None = None,
        alpha: float = 1.0,
        inverse_gamma: float | str | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.gamma = gamma
        self.alpha = alpha
        self.inverse_gamma = inverse_gamma
        self.random_state = random_state

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        PCADetector.check_params(params)
        g = params.get("inverse_gamma")
        number = isinstance(g, (int, float)) and not isinstance(g, bool)
        if not (g is None or g in INVERSE_GAMMAS or (number and g > 0)):
            raise ValueError(f"parameter inverse_gamma must be a positive number or one of "
                             f"{', '.join(INVERSE_GAMMAS)}, got {g!r}")

    def _inverse_gamma(self, n_components: int, forward_gamma: float) -> float:
        g = self.inverse_gamma
        if g is None or g == "legacy":
            return float(self.gamma) if self.gamma is not None else 1.0 / n_components
        if g == "forward":
            return float(forward_gamma)
        return float(g)

    def fit(self, X, X_val=None):
        self.check_params(vars(self))
        X = _flat(X)
        model = KernelPCA(
            n_components=min(self.n_components, X.shape[0]),
            kernel="rbf",
            gamma=self.gamma,
            alpha=self.alpha,
            random_state=self.random_state,
        ).fit(X)
        # the training projections, as scikit-learn's fit_inverse_transform takes them
        Z = model.eigenvectors_ * np.sqrt(model.eigenvalues_)
        self.inverse_gamma_ = self._inverse_gamma(Z.shape[1], model.gamma_)
        K = rbf_kernel(Z, gamma=self.inverse_gamma_)
        K.flat[:: len(Z) + 1] += self.alpha
        self.dual_coef_ = linalg.solve(K, X, assume_a="pos", overwrite_a=True)
        self.Z_fit_ = Z
        self.model_ = model
        return self

    def reconstruct(self, X: np.ndarray) -> np.ndarray:
        """Pre-images of ``X``: ``rbf(transform(X), Z_fit) @ dual_coef``."""
        Z = self.model_.transform(_flat(X))
        return rbf_kernel(Z, self.Z_fit_, gamma=self.inverse_gamma_) @ self.dual_coef_

    def score(self, X):
        X = _flat(X)
        errors = _squared_error(X, self.reconstruct(X))
        _not_rounding_noise("kpca", X, errors, self.n_components)
        return errors


@hookimpl
def anobench_register_detectors(registry) -> None:
    registry.add_detector("pca", PCADetector)
    registry.add_detector("kpca", KernelPCADetector)
