"""Networks are sized from the data: the authors' conv nets at 28x28 and 8x8, MLP for (n, d)."""
from __future__ import annotations

import pytest
import torch

from anobench.torchstack import networks as abnn


@pytest.mark.parametrize("shape, dense", [((1, 28, 28), 1568), ((1, 8, 8), 128),
                                          ((3, 7, 10), 32 * 2 * 3)])
def test_conv_vae_shapes(shape, dense):
    net = abnn.VAENet(shape, latent_dim=32, filters=32)
    assert net.encoder.body.out_features == dense
    x = torch.rand(5, *shape)
    mu, logvar = net.encoder(x)
    assert mu.shape == logvar.shape == (5, 32)
    assert net.decoder(mu).shape == (5, *shape)


def test_authors_layer_sizes_at_28x28():
    net = abnn.VAENet((1, 28, 28))
    convs = [m for m in net.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(32, (3, 3), (2, 2))] * 2
    dense = [m for m in net.encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert [(d.in_features, d.out_features) for d in dense] == [(1568, 1568), (1568, 32),
                                                                (1568, 32)]
    tconvs = [m for m in net.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(t.out_channels, t.stride) for t in tconvs] == [(32, (2, 2)), (32, (2, 2)),
                                                            (1, (1, 1))]


def test_mlp_for_feature_vectors():
    net = abnn.VAENet((10,), latent_dim=4)
    x = torch.rand(6, 10)
    mu, _ = net.encoder(x)
    assert mu.shape == (6, 4)
    assert net.decoder(mu).shape == (6, 10)
    assert abnn.Autoencoder((10,), latent_dim=3, hidden=16)(x).shape == (6, 10)


def test_bad_sample_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(d,\)"):
        abnn.make_body((28, 28))


def test_code_encoder_is_sigmoid_bounded():
    enc = abnn.CodeEncoder((1, 8, 8), latent_dim=5)
    out = enc(torch.randn(4, 1, 8, 8) * 10)
    assert out.shape == (4, 5)
    assert (out >= 0).all() and (out <= 1).all()


def test_keras_init_is_seeded_and_zeroes_biases():
    a = abnn.keras_init_(abnn.VAENet((1, 8, 8)), torch.Generator().manual_seed(7))
    b = abnn.keras_init_(abnn.VAENet((1, 8, 8)), torch.Generator().manual_seed(7))
    c = abnn.keras_init_(abnn.VAENet((1, 8, 8)), torch.Generator().manual_seed(8))
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), name
        if name.endswith("bias"):
            assert not pa.any(), name
        else:
            assert not torch.equal(pa, pc), name
    w = a.encoder.mu.weight  # Glorot-uniform bound sqrt(6 / (fan_in + fan_out))
    assert w.abs().max() <= (6 / (w.shape[0] + w.shape[1])) ** 0.5


def test_energy_is_half_squared_distance_minus_feature_sum():
    net = abnn.EnergyNet((1, 8, 8), latent_dim=6)
    with torch.no_grad():
        net.bias.fill_(0.25)
    x = torch.rand(3, 1, 8, 8)
    expected = 0.5 * ((x - 0.25) ** 2).flatten(1).sum(1) - net.encoder(x).sum(1)
    torch.testing.assert_close(net(x), expected)


def test_describe_the_authors_vae_at_28x28():
    from anobench.torchstack.networks import VAENet, describe

    net = VAENet((1, 28, 28), latent_dim=32, filters=32)
    info = describe(net)
    assert info["kind"] == "conv"
    assert info["widths"] == [32, 32, 1568, 32, 32, 1568, 32, 32, 1]
    assert info["parameters"] == sum(p.numel() for p in net.parameters()) == 2_640_705
    assert describe(VAENet((6,), latent_dim=2, hidden=16))["kind"] == "mlp"
