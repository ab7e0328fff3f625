"""Deep structured energy-based model (DSEBM, Zhai et al. 2016), as in the paper.

Energy ``E(x) = ½‖x − b‖² − Σ_j enc(x)_j`` with the authors' conv encoder and a
sigmoid output of ``latent_dim`` features. Trained by denoising score
matching: ``x̃ = x + N(0, σ²)`` (training only), reconstruction
``x̃ − ∂E/∂x̃``, loss = per-sample mean squared error against ``x``. The
validation loss uses the clean input, as Keras' ``GaussianNoise`` layer does.
"""
from __future__ import annotations

import torch

from anobench.hookspecs import hookimpl
from anobench.torchstack.losses import mean_squared_error
from anobench.torchstack.networks import EnergyNet
from anobench.torchstack.training import Objective

from ._torchbase import TorchDetector

SCORES = ("energy", "gradient")


def energy_gradient(model: torch.nn.Module, x: torch.Tensor,
                    create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(E(x), ∂E/∂x)`` per sample; with ``create_graph`` the gradient is differentiable."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        energy = model(x)
        (grad,) = torch.autograd.grad(energy.sum(), x, create_graph=create_graph)
    return energy, grad


def dsebm_noise(sigma: float):
    """Training noise ``N(0, σ²)`` of the input's shape (none for validation)."""

    def noise(x, train, generator):
        if not (train and sigma > 0):
            return None
        return sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)

    return noise


def score_matching_loss(model: torch.nn.Module, x: torch.Tensor, noise: torch.Tensor | None,
                        train: bool) -> torch.Tensor:
    """Denoising score-matching loss per sample: ``mean((x̃ − ∂E/∂x̃ − x)²)``, ``x̃ = x + noise``.

    ``∂E/∂x̃`` comes from :func:`torch.func.grad`, which stays differentiable
    for the parameters' gradient and also works under :func:`torch.vmap`
    (cohorts); it gives the same numbers as ``torch.autograd.grad``.
    """
    noisy = x if noise is None else x + noise
    grad = torch.func.grad(lambda y: model(y).sum())(noisy)
    return mean_squared_error(x, noisy.detach() - grad)


class DSEBMDetector(TorchDetector):
    """DSEBM: energy-based model by denoising score matching; score: energy (or ‖∇ₓE‖).

    Parameters
    ----------
    sigma : float
        Standard deviation of the training noise (0.5 in the paper).
    score_by : {"energy", "gradient"}
        ``"energy"`` (the paper's score) or ``"gradient"``: the norm of
        ``∇ₓE(x)``, i.e. the reconstruction error ``‖x − (x − ∇ₓE)‖``.
    """

    def __init__(self, *, latent_dim: int = 32, filters: int = 32, hidden: int = 0,
                 sigma: float = 0.5, score_by: str = "energy", lr: float = 1e-4,
                 batch_size: int = 128, max_epochs: int = 1000, patience: int = 20,
                 restore_best: bool = True, device: str = "auto",
                 threads: int = 0, random_state: int | None = None) -> None:
        self._set_params(locals())

    def _check_params(self) -> None:
        super()._check_params()
        if self.score_by not in SCORES:
            raise ValueError(f"parameter score_by must be one of {', '.join(SCORES)}, "
                             f"got {self.score_by!r}")
        if not self.sigma >= 0:
            raise ValueError(f"parameter sigma must be >= 0, got {self.sigma!r}")

    def _network(self):
        return EnergyNet(self.sample_shape_, self.latent_dim, self.filters, self.hidden)

    def _objective(self):
        return Objective(score_matching_loss, dsebm_noise(self.sigma))

    def energy(self, X) -> torch.Tensor:
        Xt = self._test_tensor(X)
        SB = self._score_batch()
        with torch.inference_mode():
            return torch.cat([self.model_(Xt[i:i + SB]) for i in range(0, len(Xt), SB)])

    def score(self, X):
        with self._threads():
            return self._score(X)

    def _score(self, X):
        if self.score_by == "energy":
            return self.energy(X).double().cpu().numpy()
        Xt = self._test_tensor(X)
        norms = []
        SB = self._score_batch()
        for i in range(0, len(Xt), SB):
            _, grad = energy_gradient(self.model_, Xt[i:i + SB])
            norms.append(grad.reshape(len(grad), -1).norm(dim=1).detach())
        return torch.cat(norms).double().cpu().numpy()


@hookimpl
def anobench_register_detectors(registry) -> None:
    registry.add_detector(
        "dsebm", DSEBMDetector,
        description="DSEBM (denoising score matching, conv encoder); score: energy "
                    "(score_by='gradient': norm of the energy gradient)")
