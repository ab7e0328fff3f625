"""``median``: the median reconstruction error over the posterior samples."""
from __future__ import annotations

import numpy as np

from anobench.api import PosteriorDraw, ScoringRule


class MedianRule(ScoringRule):
    """Median reconstruction error over the L sampled z (robust to unlucky samples)."""

    name = "median"
    description = "median reconstruction error over the L sampled z"
    measures = ("recon", "elbo")  # elbo = median recon + beta * KL (ScoringRule.reduce)
    min_samples = 1

    def reconstruction(self, draw: PosteriorDraw) -> np.ndarray:
        return np.median(draw.recon_samples, axis=0)
