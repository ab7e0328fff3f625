"""Any anobench detector as a scikit-learn outlier detector.

>>> from anobench.estimator import OutlierEstimator
>>> est = OutlierEstimator("pca", params={"n_components": 2}, contamination=0.05)
>>> labels = est.fit(X_train).predict(X_test)          # doctest: +SKIP

:class:`OutlierEstimator` follows scikit-learn's outlier-detector API, like
``IsolationForest``: ``fit(X)``; ``score_samples(X)`` with scikit-learn's sign
(**higher = more normal**, the anobench score negated once, here);
``decision_function(X) = score_samples(X) - offset_``, negative for outliers,
where ``offset_`` is the ``contamination`` quantile of the training scores;
``predict(X)`` gives -1 for outliers and 1 for inliers. ``get_params``,
``set_params`` and ``clone`` work as for any estimator, so it fits in
pipelines, grid searches and ``cross_val_score``.
"""
from __future__ import annotations

import inspect
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from anobench.capabilities import capabilities_of
from anobench.limits import MAX_SAMPLES


def _detector_class(detector: Any) -> tuple[type[Any], dict[str, Any], str | None]:
    """Class, fixed parameters and default rule of ``detector`` (a registry name or a class)."""
    if isinstance(detector, str):
        try:
            spec = _registry().detector(detector)
        except LookupError as exc:
            raise ValueError(exc.args[0]) from None
        return spec.cls, dict(spec.defaults), spec.default_rule
    if inspect.isclass(detector):
        latent = capabilities_of(detector).latent
        return detector, {}, getattr(detector, "default_rule", None) if latent else None
    raise TypeError(f"detector must be a registered name or a detector class, got {detector!r}")


def _registry():
    from anobench.manager import load_registry

    return load_registry()


class OutlierEstimator(OutlierMixin, BaseEstimator):
    """An anobench detector with scikit-learn's outlier-detector interface.

    Parameters
    ----------
    detector : str or type, default="pca"
        A registered detector name (``"pca"``, ``"ed-vae"``, ``"pyod:IForest"``)
        or a detector class (the anobench contract: keyword-only ``__init__``,
        ``fit(X, X_val=None)``, ``score(X)``, higher = more anomalous).
    params : dict or None, default=None
        The detector's parameters (``{"n_components": 8}``).
    rule : str or None, default=None
        For latent-variable detectors (``vae``, ``ed-vae``): the scoring rule,
        a reduction of one posterior draw as in a suite (default: the
        detector's default rule, ``expected`` for ``ed-vae``). Must be None
        for other detectors.
    measure : {"elbo", "recon"}, default="elbo"
        The rule's measure.
    n_samples : int, default=100
        Posterior samples L for rules that read them, 1 to 100,000 (as in a suite).
    contamination : float, default=0.1
        Expected fraction of outliers in the training data, in (0, 0.5]:
        ``offset_`` is that quantile of the training ``score_samples``.
    random_state : int or None, default=None
        Passed to the detector's ``random_state`` unless ``params`` sets it.

    Attributes
    ----------
    detector_ : object
        The fitted anobench detector.
    rule_ : ScoringRule or None
        The scoring rule in use (latent-variable detectors).
    offset_ : float
        Threshold on ``score_samples``: ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    """

    _parameter_constraints: dict = {  # noqa: RUF012 - scikit-learn's convention
        "detector": [str, type],
        "params": [dict, None],
        "rule": [str, None],
        "measure": [str],
        "n_samples": [Interval(Integral, 1, MAX_SAMPLES, closed="both")],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "random_state": ["random_state"],
    }

    def __init__(self, detector: str | type = "pca", params: dict[str, Any] | None = None,
                 rule: str | None = None, measure: str = "elbo", n_samples: int = 100,
                 contamination: float = 0.1, random_state: int | None = None) -> None:
        self.detector = detector
        self.params = params
        self.rule = rule
        self.measure = measure
        self.n_samples = n_samples
        self.contamination = contamination
        self.random_state = random_state

    def _check(self, X: Any, reset: bool) -> np.ndarray:
        # fitting needs two samples (a spread); any number can be scored
        return validate_data(self, X, reset=reset, dtype=np.float64,
                             ensure_min_samples=2 if reset else 1)

    def fit(self, X: Any, y: Any = None) -> OutlierEstimator:
        """Fit the detector on ``X`` (``y`` is ignored) and set ``offset_``."""
        self._validate_params()
        X = self._check(X, reset=True)
        cls, fixed, default_rule = _detector_class(self.detector)
        rs = self.random_state
        seed = int(rs.randint(2**31 - 1)) if isinstance(rs, np.random.RandomState) else rs
        self.rule_ = self._rule(cls, default_rule)
        kwargs = {**fixed, **(self.params or {})}
        if capabilities_of(cls).takes_random_state and kwargs.get("random_state") is None:
            kwargs["random_state"] = seed
        self.draw_seed_ = 0 if seed is None else seed
        self.detector_ = cls(**kwargs).fit(X)
        self.offset_ = float(np.percentile(self._score(X), 100.0 * self.contamination))
        return self

    def _rule(self, cls: type, default_rule: str | None) -> Any:
        if not capabilities_of(cls).latent:
            if self.rule is not None:
                raise ValueError(f"rule={self.rule!r}: detector {self.detector!r} has no posterior "
                                 "(not a latent-variable model)")
            return None
        name = self.rule or default_rule
        if name is None:
            return None
        rules = _registry().rules
        if name not in rules:
            from anobench.registry import did_you_mean

            raise ValueError(f"unknown scoring rule {name!r}{did_you_mean(name, rules)}; "
                             f"known: {', '.join(sorted(rules))}")
        rule = rules[name].rule
        if self.measure not in rule.measures:
            raise ValueError(f"scoring rule {name!r} supports measures {list(rule.measures)}, "
                             f"not {self.measure!r}")
        return rule

    def _score(self, X: np.ndarray) -> np.ndarray:
        """The anobench score (higher = more anomalous) negated: scikit-learn's sign."""
        if self.rule_ is None:
            score = self.detector_.score(X)
        else:  # one posterior draw reduced by the rule, as the runner does
            self._validate_params()  # n_samples may have been set since fit
            cap = getattr(self.rule_, "max_samples", None)
            need = max(self.n_samples if cap is None else min(self.n_samples, cap),
                       min(self.n_samples, getattr(self.rule_, "min_samples", 1)))
            draw = self.detector_.posterior_draw(X, n_samples=need, seed=self.draw_seed_)
            score = self.rule_.reduce(draw, self.measure)
        return -np.asarray(score, dtype=np.float64).ravel()

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's sign: higher = more normal (the detector's score negated)."""
        check_is_fitted(self)
        return self._score(self._check(X, reset=False))

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """-1 for outliers, 1 for inliers."""
        return np.where(self.decision_function(X) < 0, -1, 1)
