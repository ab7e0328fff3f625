"""Posterior statistics of a latent-variable model on one test set.

The paper's discussion (§5) ties the gain of the expected latent
representation to the variance of the approximate posteriors, and its
Appendix A.2 to posterior collapse. For every cell of a latent detector whose
draw carries the posterior's parameters (``PosteriorDraw.mu`` / ``logvar``),
the runner stores :class:`PosteriorStats` in the cell's end marker
(``"posterior"``); the report's Posterior section
(:mod:`anobench.report.posterior`) sets them against the ED gain.

* mean posterior variance ``σ²`` and standard deviation ``σ``, averaged over
  examples and latent dimensions: over the whole test set, its normals and
  its anomalies;
* active units (Burda et al. 2016): latent dimensions ``u`` whose
  ``Cov_x(E_q[z_u|x]) = Var_x(mu_u)`` over the test set exceeds 0.01;
* KL per dimension: ``KL(q(z_u|x) || N(0, 1))`` averaged over the test set.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Burda et al.'s threshold on ``Var_x(mu_u)`` for an active unit.
ACTIVE_THRESHOLD = 0.01


@dataclass(frozen=True)
class PosteriorStats:
    """Summary of ``q(z|x)`` over one test set (see the module docstring)."""

    dims: int
    variance: float
    variance_normal: float
    variance_anomaly: float
    std: float
    std_normal: float
    std_anomaly: float
    active_units: int
    kl_per_dim: tuple[float, ...]

    @property
    def kl(self) -> float:
        """Mean KL of the whole posterior (the sum over dimensions)."""
        return float(sum(self.kl_per_dim))

    def record(self) -> dict[str, Any]:
        """As stored in a cell's end marker (plain JSON; a missing group's mean is None)."""
        out = asdict(self)
        out["kl_per_dim"] = list(self.kl_per_dim)
        out["active_threshold"] = ACTIVE_THRESHOLD
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in out.items()}

    @classmethod
    def from_record(cls, rec: Any) -> PosteriorStats | None:
        """The statistics of a marker's ``"posterior"`` entry, or None if it holds none."""
        if not isinstance(rec, dict):
            return None
        try:
            return cls(dims=int(rec["dims"]), variance=_num(rec["variance"]),
                       variance_normal=_num(rec["variance_normal"]),
                       variance_anomaly=_num(rec["variance_anomaly"]), std=_num(rec["std"]),
                       std_normal=_num(rec["std_normal"]), std_anomaly=_num(rec["std_anomaly"]),
                       active_units=int(rec["active_units"]),
                       kl_per_dim=tuple(float(v) for v in rec["kl_per_dim"]))
        except (KeyError, TypeError, ValueError):
            return None


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _mean(a: np.ndarray) -> float:
    return float(a.mean()) if a.size else float("nan")


def posterior_stats(mu: np.ndarray, logvar: np.ndarray, labels: np.ndarray) -> PosteriorStats:
    """Statistics of the posteriors ``N(mu_i, exp(logvar_i))`` of a test set.

    ``mu``, ``logvar``: shape (n, D); ``labels``: 1 = anomaly, 0 = normal.
    """
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    if mu.ndim != 2 or mu.shape != logvar.shape or len(y) != len(mu):
        raise ValueError(f"posterior statistics need mu and logvar of shape (n, D) and n labels, "
                         f"got {mu.shape}, {logvar.shape} and {len(y)}")
    var = np.exp(logvar)
    std = np.exp(0.5 * logvar)
    kl = -0.5 * (1.0 + logvar - mu**2 - var)  # per example and dimension
    active = int((mu.var(axis=0) > ACTIVE_THRESHOLD).sum()) if len(mu) > 1 else 0
    return PosteriorStats(
        dims=int(mu.shape[1]),
        variance=_mean(var), variance_normal=_mean(var[~y]), variance_anomaly=_mean(var[y]),
        std=_mean(std), std_normal=_mean(std[~y]), std_anomaly=_mean(std[y]),
        active_units=active,
        kl_per_dim=tuple(float(v) for v in kl.mean(axis=0)),
    )


def draw_stats(draw: Any, labels: np.ndarray) -> dict[str, Any] | None:
    """The marker entry for a posterior draw, or None when it carries no ``mu``/``logvar``."""
    mu, logvar = getattr(draw, "mu", None), getattr(draw, "logvar", None)
    if mu is None or logvar is None:
        return None
    return posterior_stats(mu, logvar, labels).record()
