"""Networks for the neural detectors, sized from the data (architecture only).

Images ``(C, H, W)`` get the ED-VAE authors' convolutional encoder/decoder
(DESIGN §4): encoder ``Conv(f, 3×3, stride 2, same)+ReLU ×2 → flatten →
Dense(f·H/4·W/4)+ReLU``; decoder ``Dense(f·H/4·W/4)+ReLU → reshape →
ConvT(f, 3×3, stride 2)+ReLU ×2 → ConvT(C, 3×3, stride 1)`` (+ sigmoid). With
``f = 32`` a 28×28 input has a 1568-wide dense layer; an 8×8 input one of
width 128. Side lengths not divisible by 4 are rounded up inside the network
and the decoder output is cropped back.

Flat feature vectors ``(d,)`` get an MLP with the same shape of computation:
two ReLU layers of width ``hidden`` in the encoder and the decoder.

Weights are initialised as Keras does (Glorot-uniform kernels, zero biases),
from an explicit :class:`torch.Generator`, so a model is a function of its seed.
The losses live in :mod:`anobench.torchstack.losses`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def conv_side(side: int) -> int:
    """Spatial side after the two stride-2 'same' convolutions (``ceil(side/4)``)."""
    return math.ceil(math.ceil(side / 2) / 2)


def mlp_width(d: int) -> int:
    """Default hidden width of the MLP for ``d`` input features."""
    return int(min(512, max(64, 2 * d)))


class ConvBody(nn.Module):
    """Convolutional feature extractor: ``(n, C, H, W) -> (n, f·⌈H/4⌉·⌈W/4⌉)``."""

    def __init__(self, shape: Sequence[int], filters: int = 32) -> None:
        super().__init__()
        c, h, w = shape
        self.out_features = filters * conv_side(h) * conv_side(w)
        self.layers = nn.Sequential(
            nn.Conv2d(c, filters, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(self.out_features, self.out_features), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MLPBody(nn.Module):
    """Fully connected feature extractor: ``(n, d) -> (n, hidden)``."""

    def __init__(self, shape: Sequence[int], hidden: int = 0) -> None:
        super().__init__()
        (d,) = shape
        self.out_features = hidden or mlp_width(d)
        self.layers = nn.Sequential(
            nn.Linear(d, self.out_features), nn.ReLU(),
            nn.Linear(self.out_features, self.out_features), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvBody`: ``(n, k) -> (n, C, H, W)`` logits."""

    def __init__(self, shape: Sequence[int], latent_dim: int, filters: int = 32) -> None:
        super().__init__()
        c, h, w = shape
        self.shape = (c, h, w)
        self.grid = (filters, conv_side(h), conv_side(w))
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, math.prod(self.grid)), nn.ReLU(),
            nn.Unflatten(1, self.grid),
            nn.ConvTranspose2d(filters, filters, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(filters, filters, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(filters, c, 3, stride=1, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _, h, w = self.shape
        return self.layers(z)[:, :, :h, :w]


class MLPDecoder(nn.Module):
    """Mirror of :class:`MLPBody`: ``(n, k) -> (n, d)`` logits."""

    def __init__(self, shape: Sequence[int], latent_dim: int, hidden: int = 0) -> None:
        super().__init__()
        (d,) = shape
        width = hidden or mlp_width(d)
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, width), nn.ReLU(),
            nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, d),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


def make_body(shape: Sequence[int], filters: int = 32, hidden: int = 0) -> ConvBody | MLPBody:
    """Conv body for ``(C, H, W)`` samples, MLP body for ``(d,)`` samples."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        return ConvBody(shape, filters)
    if len(shape) == 1:
        return MLPBody(shape, hidden)
    raise ValueError(f"samples must have shape (C, H, W) or (d,), got {shape}")


def make_decoder(shape: Sequence[int], latent_dim: int, filters: int = 32,
                 hidden: int = 0) -> nn.Module:
    """Decoder mirroring :func:`make_body`; outputs logits of the sample shape."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        return ConvDecoder(shape, latent_dim, filters)
    if len(shape) == 1:
        return MLPDecoder(shape, latent_dim, hidden)
    raise ValueError(f"samples must have shape (C, H, W) or (d,), got {shape}")


class CodeEncoder(nn.Module):
    """Deterministic encoder: body → ``Dense(k)`` → sigmoid (AE code, DSEBM features)."""

    def __init__(self, shape: Sequence[int], latent_dim: int = 32, filters: int = 32,
                 hidden: int = 0) -> None:
        super().__init__()
        self.body = make_body(shape, filters, hidden)
        self.head = nn.Linear(self.body.out_features, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.body(x)))


class GaussianEncoder(nn.Module):
    """Gaussian posterior ``q(z|x)``: body → linear heads for ``mu`` and ``log σ²``."""

    def __init__(self, shape: Sequence[int], latent_dim: int = 32, filters: int = 32,
                 hidden: int = 0) -> None:
        super().__init__()
        self.body = make_body(shape, filters, hidden)
        self.mu = nn.Linear(self.body.out_features, latent_dim)
        self.logvar = nn.Linear(self.body.out_features, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mu(h), self.logvar(h)


class Autoencoder(nn.Module):
    """Encoder with a sigmoid code and a decoder; ``forward`` returns logits."""

    def __init__(self, shape: Sequence[int], latent_dim: int = 32, filters: int = 32,
                 hidden: int = 0) -> None:
        super().__init__()
        self.encoder = CodeEncoder(shape, latent_dim, filters, hidden)
        self.decoder = make_decoder(shape, latent_dim, filters, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class VAENet(nn.Module):
    """Gaussian encoder and a decoder returning logits of ``p(x|z)``."""

    def __init__(self, shape: Sequence[int], latent_dim: int = 32, filters: int = 32,
                 hidden: int = 0) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = GaussianEncoder(shape, latent_dim, filters, hidden)
        self.decoder = make_decoder(shape, latent_dim, filters, hidden)


class EnergyNet(nn.Module):
    """DSEBM energy ``E(x) = ½‖x − b‖² − Σ_j enc(x)_j`` (Zhai et al. 2016).

    ``enc`` is a :class:`CodeEncoder` (sigmoid features), ``b`` a learned bias
    of the sample's shape.
    """

    def __init__(self, shape: Sequence[int], latent_dim: int = 32, filters: int = 32,
                 hidden: int = 0) -> None:
        super().__init__()
        self.encoder = CodeEncoder(shape, latent_dim, filters, hidden)
        self.bias = nn.Parameter(torch.zeros(tuple(int(s) for s in shape)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prior = 0.5 * ((x - self.bias) ** 2).reshape(x.shape[0], -1).sum(dim=1)
        return prior - self.encoder(x).sum(dim=1)


def describe(model: nn.Module) -> dict[str, object]:
    """What a network is, for ``fit_info``: kind, parameter count and layer widths.

    ``kind`` is ``"conv"`` (images, :class:`ConvBody`), ``"mlp"`` (feature
    vectors, :class:`MLPBody`) or ``"other"``; ``parameters`` the number of
    trainable values; ``widths`` the output channels / features of every
    convolution and dense layer in order (encoder, heads, decoder), e.g.
    ``[32, 32, 1568, 32, 32, 1568, 32, 32, 1]`` for the authors' VAE at 28×28.
    """
    kinds = {type(m) for m in model.modules()}
    kind = "conv" if ConvBody in kinds else "mlp" if MLPBody in kinds else "other"
    widths = [m.out_channels if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) else m.out_features
              for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    return {"kind": kind, "parameters": int(sum(p.numel() for p in model.parameters())),
            "widths": widths}


def keras_init_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Initialise like Keras: Glorot-uniform weights, zero biases (in place)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
    return module
