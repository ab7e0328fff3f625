"""Autoencoder detectors: ``ae``, ``vae`` and ``ed-vae`` (the authors' networks).

``vae`` and ``ed-vae`` are the **same class**: ``ed-vae`` is the VAE scored
with the ``expected`` rule (decoder at the posterior mean), ``vae`` with the
``single`` rule (one sampled z), as in the paper. A suite that lists both
trains one model per cell and scores it both ways (paired comparison).
"""
from __future__ import annotations

import numpy as np
import torch

from anobench.api import LatentDetector, PosteriorDraw
from anobench.errors import DataError
from anobench.hookspecs import hookimpl
from anobench.torchstack.losses import (
    LIKELIHOODS, gaussian_kl, log_normal, log_standard_normal, reconstruction_nll, squared_error,
)
from anobench.torchstack.networks import Autoencoder, VAENet
from anobench.torchstack.runtime import batched, make_generator
from anobench.torchstack.training import Objective

from ._torchbase import TorchDetector


def ae_loss(model, x, noise, train):
    """Squared reconstruction error of an :class:`~anobench.torchstack.networks.Autoencoder`, per sample."""
    return squared_error(x, torch.sigmoid(model(x)))


def vae_noise(latent_dim: int):
    """The VAE's noise: one standard normal ``eps`` per sample, ``(B, latent_dim)``."""

    def noise(x, train, generator):
        return torch.randn((len(x), latent_dim), generator=generator, device=x.device,
                           dtype=x.dtype)

    return noise


def vae_loss(likelihood: str):
    """Negative β-ELBO per sample with the reparametrised ``z = mu + σ·eps``."""

    def loss(model, x, eps, train, beta):
        mu, logvar = model.encoder(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        recon = reconstruction_nll(x, model.decoder(z), likelihood)
        return recon + beta * gaussian_kl(mu, logvar)

    return loss


class AEDetector(TorchDetector):
    """Autoencoder (sigmoid code); loss and score: squared reconstruction error (d·MSE)."""

    def __init__(self, *, latent_dim: int = 32, filters: int = 32, hidden: int = 0,
                 lr: float = 1e-4, batch_size: int = 128, max_epochs: int = 1000,
                 patience: int = 20, restore_best: bool = True, device: str = "auto",
                 threads: int = 0, random_state: int | None = None) -> None:
        self._set_params(locals())

    def _network(self):
        return Autoencoder(self.sample_shape_, self.latent_dim, self.filters, self.hidden)

    def _objective(self):
        return Objective(ae_loss)

    def score(self, X):
        Xt = self._test_tensor(X)
        with torch.inference_mode(), self._threads():
            err = batched(lambda x: ae_loss(self.model_, x, None, False), Xt,
                          self._score_batch())
        return err.double().cpu().numpy()


class VAEDetector(TorchDetector, LatentDetector):
    """Variational autoencoder (Gaussian posterior); scored through scoring rules.

    Parameters
    ----------
    likelihood : {"mse", "bernoulli"}
        ``"mse"`` (default, the authors' code): reconstruction term = sum of
        squared errors, i.e. a Gaussian ``p(x|z)`` with variance ½.
        ``"bernoulli"``: binary cross-entropy (the paper's text); needs data in
        [0, 1].
    beta : float
        Weight of the KL term in the training objective (β-VAE, Appendix A.2)
        and in the ``elbo`` measure.
    threads : int
        CPU threads torch may use while this detector fits and scores (0:
        torch's default). 1 suits small networks and busy machines.

    The other parameters are shared with ``ae`` and ``dsebm`` (see README).
    ``score(X)`` is the single-sample ELBO measure (the paper's "VAE"); the
    runner uses :meth:`posterior_draw` and the scoring rules instead.
    """

    default_rule = "single"
    draw_provides = ("log_likelihood", "mu", "logvar")

    def __init__(self, *, latent_dim: int = 32, filters: int = 32, hidden: int = 0,
                 likelihood: str = "mse", beta: float = 1.0, lr: float = 1e-4,
                 batch_size: int = 128, max_epochs: int = 1000, patience: int = 20,
                 restore_best: bool = True, device: str = "auto",
                 threads: int = 0, random_state: int | None = None) -> None:
        self._set_params(locals())

    def _check_params(self) -> None:
        super()._check_params()
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"parameter likelihood must be one of {', '.join(LIKELIHOODS)}, "
                             f"got {self.likelihood!r}")
        if not self.beta >= 0:
            raise ValueError(f"parameter beta must be >= 0, got {self.beta!r}")

    #: beta only weighs the KL term of the loss: models of several betas stack.
    cohort_params = ("random_state", "beta")

    def _network(self):
        return VAENet(self.sample_shape_, self.latent_dim, self.filters, self.hidden)

    def _objective(self):
        return Objective(vae_loss(self.likelihood), vae_noise(self.latent_dim),
                         {"beta": float(self.beta)})

    def _check_data(self, Xt):
        if self.likelihood == "bernoulli" and (Xt.min() < 0 or Xt.max() > 1):
            raise DataError("likelihood 'bernoulli' needs data in [0, 1]")

    def posterior_draw(self, X: np.ndarray, n_samples: int, seed: int) -> PosteriorDraw:
        """Draw ``q(z|x)`` once for ``X``: error at mu, ``n_samples`` sampled errors, KL, weights.

        ``log_likelihood`` is the normalised ``log p(x|z_l)`` the loss implies
        (:func:`anobench.torchstack.losses.log_likelihood`): for ``"mse"`` the Gaussian
        ``N(x; x̂, ½·I)``, i.e. ``-‖x − x̂‖² − (d/2)·log π``. Sample ``l`` uses
        the ``l``-th block of the generator seeded with ``seed``, so row 0 (the
        ``single`` rule) does not depend on ``n_samples``; ``mu``/``logvar``
        are the posterior's parameters per example.
        """
        Xt = self._test_tensor(X)
        model = self.model_
        lik = self.likelihood
        n = len(Xt)
        gen = make_generator(seed, self.device_)
        SB = self._score_batch()
        with torch.inference_mode(), self._threads():
            parts = [model.encoder(Xt[i:i + SB]) for i in range(0, n, SB)]
            mu = torch.cat([m for m, _ in parts])
            logvar = torch.cat([lv for _, lv in parts])
            kl = gaussian_kl(mu, logvar)
            recon_mu = torch.cat([
                reconstruction_nll(Xt[i:i + SB], model.decoder(mu[i:i + SB]), lik)
                for i in range(0, n, SB)])
            std = torch.exp(0.5 * logvar)
            samples = torch.empty((n_samples, n), dtype=torch.float64, device=Xt.device)
            weights = torch.empty((n_samples, n), dtype=torch.float64, device=Xt.device)
            log_lik = torch.empty((n_samples, n), dtype=torch.float64, device=Xt.device)
            const = 0.5 * Xt[0].numel() * np.log(np.pi) if lik == "mse" else 0.0
            for ell in range(n_samples):
                z = mu + std * torch.randn(mu.shape, generator=gen, device=mu.device,
                                           dtype=mu.dtype)
                rec = torch.cat([
                    reconstruction_nll(Xt[i:i + SB], model.decoder(z[i:i + SB]), lik)
                    for i in range(0, n, SB)])
                samples[ell] = rec.double()
                log_px = -(rec.double() + const)
                log_lik[ell] = log_px
                weights[ell] = (log_px + log_standard_normal(z).double()
                                - log_normal(z, mu, logvar).double())

        def out(t: torch.Tensor) -> np.ndarray:
            return t.double().cpu().numpy()

        return PosteriorDraw(recon_mu=out(recon_mu), recon_samples=out(samples), kl=out(kl),
                             log_weights=out(weights), beta=float(self.beta),
                             log_likelihood=out(log_lik), mu=out(mu), logvar=out(logvar))

    def score(self, X):
        draw = self.posterior_draw(X, 1, self.draw_seed_)
        return draw.recon_samples[0] + self.beta * draw.kl


@hookimpl
def anobench_register_detectors(registry) -> None:
    registry.add_detector(
        "ae", AEDetector,
        description="Convolutional autoencoder, sigmoid code; score: squared reconstruction error")
    registry.add_detector(
        "vae", VAEDetector, default_rule="single",
        description="Variational autoencoder (Gaussian posterior); default rule 'single': "
                    "decoder at one sampled z (the paper's VAE)")
    registry.add_detector(
        "ed-vae", VAEDetector, default_rule="expected",
        description="ED-VAE: the same VAE scored with the decoder at the posterior mean "
                    "(expected latent representation, rule 'expected'); shares weights with "
                    "'vae' in a run")
