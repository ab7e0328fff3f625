"""Public types that plugins implement or receive.

* :class:`LabeledData` — what a dataset loader returns.
* :class:`Detector` — base class for detectors (optional: any class with the
  same methods works). Sign convention: **higher score = more anomalous**.
* :class:`FitCost` — what one fit costs, timed by a detector for ``anobench plan``.
* :class:`LatentDetector` — a detector with a Gaussian posterior, which the
  scoring rules can reduce.
* :class:`PosteriorDraw` — one draw of the posterior for a test set; every
  scoring rule is a reduction of it, so all rules of one model are paired.
* :class:`ScoringRule` — base class for scoring-rule plugins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

MEASURES = ("recon", "elbo")


@dataclass(frozen=True)
class LabeledData:
    """A labelled dataset with a fixed train/test split.

    Parameters
    ----------
    name : str
        Dataset name as used in suites and tables.
    X_train, X_test : ndarray, float32
        Samples, shape ``(n, *sample_shape)``; images are ``(n, C, H, W)``
        scaled to [0, 1], tabular data is ``(n, d)``.
    y_train, y_test : ndarray, int64
        Class labels.
    class_names : tuple of str, optional
        Human-readable names indexed by label.
    scaling : {"none", "minmax", "standardize"}
        Per-feature scaling the protocol fits on the *training normals* of
        each one-class split and applies to its training, validation and test
        data (it depends on the normal class, so it cannot be done at load
        time). See :func:`anobench.protocol.fit_scaling`.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] = ()
    description: str = ""
    scaling: str = "none"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.X_train.shape[1:])

    @property
    def classes(self) -> tuple[int, ...]:
        return tuple(int(c) for c in np.unique(np.concatenate([self.y_train, self.y_test])))


@dataclass(frozen=True)
class FitCost:
    """What fitting and scoring one model of a detector costs, timed on real steps.

    Returned by the optional :meth:`Detector.fit_cost`; ``anobench plan``
    multiplies it by the size of each cell's data and the schedule's bounds.

    Attributes
    ----------
    epochs : (int, int)
        Fewest and most epochs the schedule allows: early stopping cannot
        stop before ``patience + 1``; ``max_epochs`` (each capped by the other).
    batch_size : int
        Training samples per step.
    step_seconds : float
        One training step (forward, backward, optimiser) of ``members`` models
        trained together, at ``batch_size``.
    eval_seconds : float
        One validation batch (loss without gradients) of the ``members`` models.
    setup_seconds : float
        Once per fit: building and initialising the networks, moving the data.
    score_seconds_per_row : float
        Scoring one test sample with one fitted model (latent detectors: the
        posterior draw with the ``n_samples`` asked for).
    members : int
        Models trained together (a cohort) in the timed steps.
    """

    epochs: tuple[int, int]
    batch_size: int
    step_seconds: float
    eval_seconds: float
    setup_seconds: float
    score_seconds_per_row: float
    members: int = 1


class Detector:
    """Base class for detectors.

    Subclasses declare their parameters as keyword-only ``__init__`` arguments
    with defaults and store them unchanged; ``fit`` sets attributes ending in
    ``_``. ``score`` returns one float per sample, higher = more anomalous.

    Optional capability, **cohort training**: a class that can fit several
    instances at once (e.g. as one stacked network) defines

    * ``fit_cohort(members, X, X_val=None)`` (classmethod): fits the unfitted
      ``members`` together and returns, per member, the fitted detector or
      the exception that ended it; each member must end as ``member.fit(X,
      X_val)`` would alone (same seeds);
    * ``cohort_params`` (class attribute): the parameters that may differ
      between members (``random_state`` always may);
    * ``cohort_size(device, sample_shape)`` (classmethod): how many members
      are worth training together on ``"cpu"`` or ``"cuda"`` for samples of
      that shape (1: one by one).

    The runner then groups a class's cells (repetitions, and grid points that
    differ only in ``cohort_params``) into cohorts; records stay one per cell.
    Classes without ``fit_cohort`` are fitted one by one.

    Optional capability, **kept models** (``[suite] keep_models``, ``anobench
    rescore``): a class whose fitted state is a set of arrays defines

    * ``model_state()``: the fitted model as ``{name: ndarray}``;
    * ``load_model_state(state, sample_shape)``: on an unfitted instance made
      with the same parameters, restore that state so that ``score`` and
      ``posterior_draw`` give what the fitted instance gave; returns ``self``;
    * ``model_bytes(params, sample_shape)`` (classmethod, optional): the size
      of ``model_state()`` in bytes, for the run's estimate.

    Detectors without them are trained and scored as usual, their models not kept.
    """

    #: Set by the registry to the registered name.
    name: ClassVar[str] = ""
    #: Whether the suite loader checks a parameter value's type against its
    #: default's (``n_components = "8"`` refused when the default is 8).
    #: Wrappers of foreign classes whose parameters take several types
    #: (scikit-learn's ``max_samples = "auto"`` or 256) set it False and check
    #: values in :meth:`check_params`.
    param_types_from_defaults: ClassVar[bool] = True

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    def fit(self, X: np.ndarray, X_val: np.ndarray | None = None) -> Detector:
        raise NotImplementedError

    def score(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_info(self) -> dict[str, Any]:
        """Extra facts about the fit stored with each record (epochs, losses)."""
        return {}

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        """Optional: raise ``ValueError`` naming a bad parameter value.

        Called by the suite loader for every grid point before anything
        trains, so a typo such as ``likelihood = "bernouli"`` is refused at
        load. The default accepts everything (types are checked separately).
        """

    @classmethod
    def fit_cost(cls, params: dict[str, Any], X: np.ndarray, *, device: str, members: int = 1,
                 n_samples: int | None = None) -> FitCost | None:
        """Optional, for detectors trained in epochs: time a few real steps (``anobench plan``).

        ``X`` holds training samples of the data (repeat them if more are
        needed); ``device`` is ``"cpu"`` or ``"cuda"``; ``members`` models
        are timed as one cohort (see :meth:`fit_cohort` above); ``n_samples``
        is the posterior samples the scoring rules read (``None``: score with
        :meth:`score`). It must take seconds, never a whole fit. ``None`` (the
        default): the plan times real fits on subsets of the data instead.
        """
        return None

    @classmethod
    def check_data(cls, params: dict[str, Any], sample_shape: tuple[int, ...]) -> None:
        """Optional: raise ``ValueError`` if ``params`` cannot work on this data.

        Called by ``anobench validate`` and ``anobench run`` once per grid
        point and dataset after the datasets are loaded, before anything
        trains or any run directory is created; ``sample_shape`` is one
        sample's shape, e.g. ``(6,)`` or ``(1, 28, 28)``. The message should
        name the parameter, its value and the property of the data it clashes
        with (PCA: ``n_components`` against the number of features). The
        default accepts everything.
        """


@dataclass(frozen=True)
class PosteriorDraw:
    """One draw of a latent-variable model's posterior on a test set.

    Attributes
    ----------
    recon_mu : ndarray (n,)
        Reconstruction error with the decoder applied to the posterior mean
        (the *expected latent representation*).
    recon_samples : ndarray (L, n)
        Reconstruction errors of ``L`` sampled ``z ~ q(z|x)``; row 0 is the
        "single sample" draw.
    kl : ndarray (n,)
        ``KL(q(z|x) || p(z))``, analytic.
    log_weights : ndarray (L, n)
        ``log p(x|z_l) + log p(z_l) - log q(z_l|x)`` for the same samples,
        with the likelihood the model was trained with (normalised), for
        importance-weighted likelihood estimates.
    beta : float
        Weight of the KL term in the training objective (1 = plain VAE).
    log_likelihood : ndarray (L, n), optional
        ``log p(x|z_l)`` of the same samples, the normalised likelihood the
        model was trained with (``recon-prob`` reads it).
    mu, logvar : ndarray (n, D), optional
        The posterior's parameters per example (the run's posterior
        statistics read them: :mod:`anobench.posterior`).

    The optional fields are ``None`` when a detector does not provide them; a
    detector lists those it fills in ``LatentDetector.draw_provides`` and a
    rule those it reads in ``ScoringRule.needs``, checked at suite load.
    """

    recon_mu: np.ndarray
    recon_samples: np.ndarray
    kl: np.ndarray
    log_weights: np.ndarray
    beta: float = 1.0
    log_likelihood: np.ndarray | None = None
    mu: np.ndarray | None = None
    logvar: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return int(self.recon_samples.shape[0])

    def head(self, k: int) -> PosteriorDraw:
        """The draw restricted to its first ``k`` samples (itself if it has no more)."""
        if k >= self.n_samples:
            return self
        ll = None if self.log_likelihood is None else self.log_likelihood[:k]
        return PosteriorDraw(self.recon_mu, self.recon_samples[:k], self.kl,
                             self.log_weights[:k], self.beta, ll, self.mu, self.logvar)


#: The optional :class:`PosteriorDraw` fields a detector may fill and a rule may need.
DRAW_OPTIONAL = ("log_likelihood", "mu", "logvar")


class LatentDetector(Detector):
    """A detector with a Gaussian posterior ``q(z|x)``; scoring rules apply.

    ``default_rule`` is the rule ``score`` uses; ``posterior_draw`` draws the
    posterior once for a test set.
    """

    default_rule: ClassVar[str] = "single"
    #: The optional :class:`PosteriorDraw` fields (:data:`DRAW_OPTIONAL`) that
    #: :meth:`posterior_draw` fills; rules needing others are refused at suite load.
    draw_provides: ClassVar[tuple[str, ...]] = ()

    def posterior_draw(self, X: np.ndarray, n_samples: int, seed: int) -> PosteriorDraw:
        """Draw the posterior once for ``X``.

        The first ``k`` samples must not depend on ``n_samples`` (draw sample
        ``l`` from the ``l``-th block of the seeded generator): the runner
        draws once with the largest ``n_samples`` of a cell and gives each
        suite entry its first ``n_samples`` rows (:meth:`PosteriorDraw.head`).
        """
        raise NotImplementedError


class ScoringRule:
    """Base class for scoring rules: a reduction of one :class:`PosteriorDraw`.

    Subclasses set ``name``, ``description``, optionally ``measures`` (the
    measures the rule can be read as) and ``min_samples``, and implement
    :meth:`reconstruction` (for the ``recon``/``elbo`` measures) or override
    :meth:`reduce` entirely.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    measures: ClassVar[tuple[str, ...]] = MEASURES
    #: Smallest number of posterior samples the rule needs (0: only mu).
    min_samples: ClassVar[int] = 1
    #: Most samples the rule reads (``None``: all ``L`` of the draw; ``single``
    #: reads 1, ``expected`` 0). The runner draws no more than some rule reads.
    max_samples: ClassVar[int | None] = None
    #: An oracle rule looks at the test labels: instead of one score vector it
    #: offers candidate score vectors (:meth:`candidates`), the runner computes
    #: every metric for every candidate and keeps, per metric, the one
    #: :meth:`choose` picks. Its records carry ``oracle: true``.
    oracle: ClassVar[bool] = False
    #: Optional :class:`PosteriorDraw` fields the rule reads (e.g. ``("log_likelihood",)``);
    #: a suite pairing it with a detector whose ``draw_provides`` lacks one is refused.
    needs: ClassVar[tuple[str, ...]] = ()

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        """Per-example reconstruction term, shape (n,)."""
        raise NotImplementedError

    def candidates(self, draw: PosteriorDraw, measure: str) -> np.ndarray:
        """Oracle rules: candidate score vectors, shape (K, n), higher = more anomalous."""
        raise NotImplementedError

    def choose(self, values: np.ndarray) -> int:
        """Oracle rules: index of the candidate to keep, given one metric's values (K,).

        Every metric is higher = better; ``best`` returns the first argmax,
        ``worst`` the first argmin.
        """
        raise NotImplementedError

    def reduce(self, draw: PosteriorDraw, measure: str) -> np.ndarray:
        """Anomaly score per example (higher = more anomalous)."""
        if self.oracle:
            raise ValueError(f"scoring rule {self.name!r} is an oracle: it picks one of its "
                             "candidates() with the test labels, it has no label-free reduce()")
        recon = np.asarray(self.reconstruction(draw), dtype=np.float64)
        if measure == "recon":
            return recon
        if measure == "elbo":
            return recon + draw.beta * np.asarray(draw.kl, dtype=np.float64)
        raise ValueError(f"scoring rule {self.name!r} does not support measure {measure!r}")


def missing_draw_fields(rule: Any, detector_cls: type) -> list[str]:
    """The optional draw fields ``rule`` needs that ``detector_cls`` does not provide."""
    provides = set(getattr(detector_cls, "draw_provides", ()))
    return [f for f in getattr(rule, "needs", ()) if f not in provides]
