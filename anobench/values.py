"""Values passed between anobench and its plugins (re-exported by :mod:`anobench.api`).

* :class:`LabeledData` — what a dataset loader returns.
* :class:`PosteriorDraw` — one draw of a latent-variable model's posterior
  for a test set; every scoring rule is a reduction of it.
* :class:`FitCost` — what one fit costs, timed by a detector for ``anobench plan``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

    Returned by the optional :meth:`anobench.api.Detector.fit_cost`; ``anobench plan``
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


def missing_draw_fields(rule: Any, detector_cls: type) -> list[str]:
    """The optional draw fields ``rule`` needs that ``detector_cls`` does not provide."""
    provides = set(getattr(detector_cls, "draw_provides", ()))
    return [f for f in getattr(rule, "needs", ()) if f not in provides]
