"""``isoforest``: scikit-learn's Isolation Forest as an anobench detector."""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from anobench.api import Detector


class IsolationForestDetector(Detector):
    """Isolation Forest (scikit-learn); score: minus score_samples, higher = more anomalous.

    Parameters
    ----------
    n_estimators : int
        Number of trees.
    max_samples : int
        Samples drawn to grow each tree (at most the number of training samples).
    max_features : float
        Fraction of the features drawn for each tree.
    random_state : int or None
        Seed; the runner sets it per cell.
    """

    def __init__(self, *, n_estimators: int = 100, max_samples: int = 256,
                 max_features: float = 1.0, random_state: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state

    @staticmethod
    def _flat(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if not np.isfinite(X).all():  # recent scikit-learn trees accept NaN silently
            raise ValueError("isoforest: input contains NaN or infinite values")
        return X.reshape(len(X), -1)  # images (n, C, H, W) become (n, C*H*W)

    def fit(self, X: np.ndarray, X_val: np.ndarray | None = None) -> IsolationForestDetector:
        # X_val is not needed: an isolation forest has no early stopping.
        X = self._flat(X)
        self.model_ = IsolationForest(
            n_estimators=self.n_estimators, max_samples=min(self.max_samples, len(X)),
            max_features=self.max_features, random_state=self.random_state,
        ).fit(X)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        # scikit-learn: lower score_samples = more abnormal; anobench: higher = more anomalous.
        return -self.model_.score_samples(self._flat(X))
