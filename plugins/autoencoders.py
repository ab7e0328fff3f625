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
from anobench.losses import (
    LIKELIHOODS, gaussian_kl, log_normal, log_standard_normal, reconstruction_nll, squared_error,
)
from anobench.nn import Autoencoder, VAENet
from anobench.training import batched, make_generator

from ._torchbase import SCORE_BATCH, TorchDetector


class AEDetector(TorchDetector):
    """Autoencoder (sigmoid code); loss and score: squared reconstruction error (d·MSE)."""

    def __init__(self, *, latent_dim: int = 32, filters: int = 32, hidden: int = 0,
                 lr: float = 1e-4, batch_size: int = 128, max_epochs: int = 1000,
                 patience: int = 20, restore_best: bool = True, device: str = "auto",
                 threads: int = 0, random_state: int | None = None) -> None:
        self._set_params(locals())

    @staticmethod
    def _loss(model, x, train, generator):
        return squared_error(x, torch.sigmoid(model(x)))

    def fit(self, X, X_val=None):
        Xt, Xv, init_seed, train_seed = self._setup(X, X_val)
        net = Autoencoder(self.sample_shape_, self.latent_dim, self.filters, self.hidden)
        self.model_ = self._init(net, init_seed)
        self._train(self.model_, self._loss, Xt, Xv, train_seed)
        return self

    def score(self, X):
        Xt = self._test_tensor(X)
        with torch.no_grad(), self._threads():
            err = batched(lambda x: self._loss(self.model_, x, False, None), Xt, SCORE_BATCH)
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

    def _loss(self, model, x, train, generator):
        mu, logvar = model.encoder(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        recon = reconstruction_nll(x, model.decoder(z), self.likelihood)
        return recon + self.beta * gaussian_kl(mu, logvar)

    def fit(self, X, X_val=None):
        Xt, Xv, init_seed, train_seed = self._setup(X, X_val)
        if self.likelihood == "bernoulli" and (Xt.min() < 0 or Xt.max() > 1):
            raise DataError("likelihood 'bernoulli' needs data in [0, 1]")
        net = VAENet(self.sample_shape_, self.latent_dim, self.filters, self.hidden)
        self.model_ = self._init(net, init_seed)
        self._train(self.model_, self._loss, Xt, Xv, train_seed)
        return self

    def posterior_draw(self, X: np.ndarray, n_samples: int, seed: int) -> PosteriorDraw:
        """Draw ``q(z|x)`` once for ``X``: error at mu, ``n_samples`` sampled errors, KL, weights.

        Sample ``l`` uses the ``l``-th block of the generator seeded with
        ``seed``, so row 0 (the ``single`` rule) does not depend on ``n_samples``.
        """
        Xt = self._test_tensor(X)
        model = self.model_
        lik = self.likelihood
        n = len(Xt)
        gen = make_generator(seed, self.device_)
        with torch.no_grad(), self._threads():
            parts = [model.encoder(Xt[i:i + SCORE_BATCH]) for i in range(0, n, SCORE_BATCH)]
            mu = torch.cat([m for m, _ in parts])
            logvar = torch.cat([lv for _, lv in parts])
            kl = gaussian_kl(mu, logvar)
            recon_mu = torch.cat([
                reconstruction_nll(Xt[i:i + SCORE_BATCH], model.decoder(mu[i:i + SCORE_BATCH]), lik)
                for i in range(0, n, SCORE_BATCH)])
            std = torch.exp(0.5 * logvar)
            samples = torch.empty((n_samples, n), dtype=torch.float64, device=Xt.device)
            weights = torch.empty((n_samples, n), dtype=torch.float64, device=Xt.device)
            const = 0.5 * Xt[0].numel() * np.log(np.pi) if lik == "mse" else 0.0
            for ell in range(n_samples):
                z = mu + std * torch.randn(mu.shape, generator=gen, device=mu.device,
                                           dtype=mu.dtype)
                rec = torch.cat([
                    reconstruction_nll(Xt[i:i + SCORE_BATCH], model.decoder(z[i:i + SCORE_BATCH]),
                                       lik)
                    for i in range(0, n, SCORE_BATCH)])
                samples[ell] = rec.double()
                log_px = -(rec.double() + const)
                weights[ell] = (log_px + log_standard_normal(z).double()
                                - log_normal(z, mu, logvar).double())

        def out(t: torch.Tensor) -> np.ndarray:
            return t.double().cpu().numpy()

        return PosteriorDraw(recon_mu=out(recon_mu), recon_samples=out(samples), kl=out(kl),
                             log_weights=out(weights), beta=float(self.beta))

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
