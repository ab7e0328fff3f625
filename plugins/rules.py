"""Built-in scoring rules: reductions of one posterior draw (DESIGN §3).

``single``, ``multi``, ``min``, ``max`` and ``expected`` reduce the
reconstruction term and can be read as the ``recon`` measure or the ``elbo``
measure (``+ β·KL``). ``best`` and ``worst`` are oracles (they use the test
labels): the sample whose single-sample scores give the best / worst metric,
Appendix A.1's reading. ``iwae`` is a likelihood estimate and exists only as
``elbo`` (see :class:`IWAE`). ``recon-prob`` is An & Cho's reconstruction
probability (the paper's ref. [1], see :class:`ReconProb`).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from anobench.api import PosteriorDraw, ScoringRule
from anobench.hookspecs import hookimpl


class Single(ScoringRule):
    name = "single"
    description = "one sampled z per example (the first of the draw): the paper's VAE"
    max_samples = 1

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        return draw.recon_samples[0]


class Multi(ScoringRule):
    name = "multi"
    description = "mean reconstruction error over the L sampled z (Appendix A.1)"

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        return draw.recon_samples.mean(axis=0)


class Min(ScoringRule):
    name = "min"
    description = "each example's smallest reconstruction error over the L sampled z"

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        return draw.recon_samples.min(axis=0)


class Max(ScoringRule):
    name = "max"
    description = "each example's largest reconstruction error over the L sampled z"

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        return draw.recon_samples.max(axis=0)


class _SampleOracle(ScoringRule):
    """Oracle over the L single-sample score vectors of the draw (Appendix A.1).

    Candidate ``l`` scores every example with sample ``l``'s reconstruction
    error (``recon``) or that plus β·KL (``elbo``), i.e. the ``single`` rule
    had the draw started at sample ``l``. The runner keeps, per metric, the
    candidate :meth:`choose` picks on the labelled test set.
    """

    oracle = True

    def candidates(self, draw: PosteriorDraw, measure: str) -> np.ndarray:
        rows = np.asarray(draw.recon_samples, dtype=np.float64)
        if measure == "recon":
            return rows
        if measure == "elbo":
            return rows + draw.beta * np.asarray(draw.kl, dtype=np.float64)[None, :]
        raise ValueError(f"scoring rule {self.name!r} does not support measure {measure!r}")


class Best(_SampleOracle):
    name = "best"
    description = ("oracle: the sample l whose single-sample scores give the best metric on "
                   "the labelled test set (Appendix A.1's best sample)")

    def choose(self, values: np.ndarray) -> int:
        return int(np.argmax(values))


class Worst(_SampleOracle):
    name = "worst"
    description = ("oracle: the sample l whose single-sample scores give the worst metric on "
                   "the labelled test set (Appendix A.1's worst sample)")

    def choose(self, values: np.ndarray) -> int:
        return int(np.argmin(values))


class Expected(ScoringRule):
    name = "expected"
    description = ("decoder at the posterior mean, the expected latent representation "
                   "(ED-VAE); deterministic")
    min_samples = 0
    max_samples = 0

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        return draw.recon_mu


class IWAE(ScoringRule):
    """Importance-weighted estimate of ``−log p(x)`` from the draw's L samples.

    ``−log (1/L) Σ_l exp(log p(x|z_l) + log p(z_l) − log q(z_l|x))``, with the
    normalised likelihood the model was trained with (Burda et al. 2016). It
    is at most the (sampled) negative ELBO and tends to ``−log p(x)`` as L
    grows. It is a likelihood, not a reconstruction error plus KL, so only the
    ``elbo`` measure exists for it; it uses β = 1 whatever the training β.
    """

    name = "iwae"
    description = ("importance-weighted estimate of -log p(x) from the L samples "
                   "(elbo measure only)")
    measures = ("elbo",)

    def reduce(self, draw: PosteriorDraw, measure: str) -> np.ndarray:
        if measure != "elbo":
            raise ValueError(f"scoring rule 'iwae' supports only the 'elbo' measure, "
                             f"not {measure!r}")
        if draw.n_samples < 1:
            raise ValueError("scoring rule 'iwae' needs at least one posterior sample")
        lw = np.asarray(draw.log_weights, dtype=np.float64)
        return -(logsumexp(lw, axis=0) - math.log(lw.shape[0]))


class ReconProb(ScoringRule):
    """An & Cho (2015)'s reconstruction probability, as an anomaly score.

    ``−log (1/L) Σ_l p(x|z_l)`` over the draw's L samples ``z_l ~ q(z|x)``,
    computed as minus the log-mean-exp of ``draw.log_likelihood`` (the
    normalised ``log p(x|z_l)`` the model was trained with; for the VAE's
    ``mse`` likelihood the Gaussian ``N(x; x̂, ½·I)`` its loss ``‖x − x̂‖²``
    implies). Lower probability = more anomalous, so the score is the negated
    log-probability. That is the ``recon`` measure; ``elbo`` adds ``β·KL`` as
    for every rule. The decoder's variance is fixed by the loss, not
    predicted per pixel as in An & Cho's network.
    """

    name = "recon-prob"
    description = ("An & Cho's reconstruction probability: -log of the mean of p(x|z) over "
                   "the L sampled z (log-mean-exp)")
    needs = ("log_likelihood",)

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        if draw.log_likelihood is None:
            raise ValueError("scoring rule 'recon-prob' needs the draw's log_likelihood, "
                             "which this detector does not provide")
        ll = np.asarray(draw.log_likelihood, dtype=np.float64)
        if ll.ndim != 2 or ll.shape[0] < 1:
            raise ValueError("scoring rule 'recon-prob' needs at least one posterior sample")
        return -(logsumexp(ll, axis=0) - math.log(ll.shape[0]))


RULES = (Single, Multi, Min, Max, Best, Worst, Expected, IWAE, ReconProb)


@hookimpl
def anobench_register_scoring_rules(registry) -> None:
    for rule in RULES:
        registry.add_scoring_rule(rule)
