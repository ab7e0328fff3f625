"""Built-in scoring rules: reductions of one posterior draw (DESIGN §3).

``single``, ``multi``, ``best``, ``worst`` and ``expected`` reduce the
reconstruction term and can be read as the ``recon`` measure or the ``elbo``
measure (``+ β·KL``). ``iwae`` is a likelihood estimate and exists only as
``elbo`` (see :class:`IWAE`).
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


class Best(ScoringRule):
    name = "best"
    description = "smallest reconstruction error over the L sampled z (Appendix A.1)"

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        return draw.recon_samples.min(axis=0)


class Worst(ScoringRule):
    name = "worst"
    description = "largest reconstruction error over the L sampled z (Appendix A.1)"

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        return draw.recon_samples.max(axis=0)


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


RULES = (Single, Multi, Best, Worst, Expected, IWAE)


@hookimpl
def anobench_register_scoring_rules(registry) -> None:
    for rule in RULES:
        registry.add_scoring_rule(rule)
