"""Free loss functions: each returns one term per sample, shape ``(n,)``.

Networks (:mod:`anobench.torchstack.networks`) hold architecture only; the objectives the
detectors train and score with are built from these terms.

Likelihoods used by the VAE family (``d`` = number of input values):

* ``"mse"`` — the authors' loss ``d·MSE`` = sum of squared errors. As a
  normalised density it is the Gaussian ``N(x; x̂, ½·I)``:
  ``-log p(x|z) = ‖x − x̂‖² + (d/2)·log π``.
* ``"bernoulli"`` — ``-log p(x|z) = Σ −x·log x̂ − (1−x)·log(1−x̂)`` (binary
  cross-entropy, computed from logits).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LIKELIHOODS = ("mse", "bernoulli")
_LOG_2PI = math.log(2.0 * math.pi)


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def squared_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors per sample, ``‖x − x̂‖²`` (= ``d·MSE``)."""
    return _flat((x - x_hat) ** 2).sum(dim=1)


def mean_squared_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample (Keras ``"mse"``)."""
    return _flat((x - x_hat) ** 2).mean(dim=1)


def bernoulli_nll(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood per sample, from decoder logits."""
    return _flat(F.binary_cross_entropy_with_logits(logits, x, reduction="none")).sum(dim=1)


def reconstruction_nll(x: torch.Tensor, logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """The reconstruction term a VAE trains with (up to a constant), per sample.

    ``"mse"``: sum of squared errors of ``sigmoid(logits)``; ``"bernoulli"``:
    :func:`bernoulli_nll`.
    """
    if likelihood == "mse":
        return squared_error(x, torch.sigmoid(logits))
    if likelihood == "bernoulli":
        return bernoulli_nll(x, logits)
    raise ValueError(f"unknown likelihood {likelihood!r}; known: {', '.join(LIKELIHOODS)}")


def log_likelihood(x: torch.Tensor, logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Normalised ``log p(x|z)`` per sample (see the module docstring)."""
    nll = reconstruction_nll(x, logits, likelihood)
    if likelihood == "mse":
        d = _flat(x).shape[1]
        nll = nll + 0.5 * d * math.log(math.pi)
    return -nll


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, exp(logvar)) || N(0, I))`` per sample, analytic."""
    return -0.5 * (1.0 + logvar - mu**2 - logvar.exp()).sum(dim=1)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(z; mu, diag(exp(logvar)))`` per sample (summed over dimensions)."""
    return -0.5 * (_LOG_2PI + logvar + (z - mu) ** 2 / logvar.exp()).sum(dim=1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I)`` per sample."""
    return -0.5 * (_LOG_2PI + z**2).sum(dim=1)
