"""The per-sample loss terms against closed forms and torch.distributions."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from anobench.torchstack import losses


def test_kl_of_a_known_gaussian():
    mu = torch.tensor([[1.0, -2.0], [0.0, 0.0]])
    var = torch.tensor([[0.5, 2.0], [1.0, 1.0]])
    kl = losses.gaussian_kl(mu, var.log())
    # closed form: ½ Σ (σ² + μ² − 1 − log σ²)
    expected0 = 0.5 * ((0.5 + 1 - 1 - math.log(0.5)) + (2.0 + 4 - 1 - math.log(2.0)))
    assert kl[0].item() == pytest.approx(expected0, rel=1e-6)
    assert kl[1].item() == pytest.approx(0.0, abs=1e-7)  # q = p
    ref = kl_divergence(Normal(mu, var.sqrt()), Normal(0.0, 1.0)).sum(dim=1)
    torch.testing.assert_close(kl, ref)


def test_log_normal_and_standard_normal_match_torch():
    g = torch.Generator().manual_seed(0)
    z, mu, logvar = (torch.randn(5, 3, generator=g) for _ in range(3))
    ref = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(dim=1)
    torch.testing.assert_close(losses.log_normal(z, mu, logvar), ref)
    torch.testing.assert_close(losses.log_standard_normal(z), Normal(0.0, 1.0).log_prob(z).sum(1))


def test_squared_error_is_d_times_mse():
    x = torch.rand(4, 1, 8, 8)
    x_hat = torch.rand(4, 1, 8, 8)
    se = losses.squared_error(x, x_hat)
    assert se.shape == (4,)
    torch.testing.assert_close(se, 64 * losses.mean_squared_error(x, x_hat))
    torch.testing.assert_close(se[0], ((x[0] - x_hat[0]) ** 2).sum())


def test_mse_likelihood_is_a_normalised_gaussian_with_variance_half():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 6, generator=g)
    logits = torch.randn(3, 6, generator=g)
    ref = Normal(torch.sigmoid(logits), math.sqrt(0.5)).log_prob(x).sum(dim=1)
    torch.testing.assert_close(losses.log_likelihood(x, logits, "mse"), ref)
    # the training term is the sum of squared errors (the constant dropped)
    torch.testing.assert_close(losses.reconstruction_nll(x, logits, "mse"),
                               losses.squared_error(x, torch.sigmoid(logits)))


def test_bernoulli_likelihood():
    g = torch.Generator().manual_seed(2)
    x = (torch.rand(3, 6, generator=g) > 0.5).float()
    logits = torch.randn(3, 6, generator=g)
    ref = Bernoulli(logits=logits).log_prob(x).sum(dim=1)
    torch.testing.assert_close(losses.log_likelihood(x, logits, "bernoulli"), ref)
    torch.testing.assert_close(losses.bernoulli_nll(x, logits), -ref)


def test_unknown_likelihood_is_refused():
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        losses.reconstruction_nll(torch.zeros(1, 2), torch.zeros(1, 2), "poisson")


def test_elbo_terms_add_up_for_a_linear_gaussian_model():
    """-ELBO = E_q[-log p(x|z)] + KL, checked by Monte Carlo on a model with a closed form."""
    # p(z)=N(0,1), p(x|z)=N(z, ½), q(z|x)=N(m, s²): E_q[(x−z)²] = (x−m)² + s²
    x, m, s2 = 0.7, 0.3, 0.2
    g = torch.Generator().manual_seed(3)
    z = m + math.sqrt(s2) * torch.randn(200_000, 1, generator=g)
    x_t = torch.full_like(z, x)
    # reconstruction term with the "mse" likelihood is Σ (x − x̂)²; here x̂ = z directly
    recon_mc = losses.squared_error(x_t, z).mean().item()
    assert recon_mc == pytest.approx((x - m) ** 2 + s2, rel=1e-2)
    kl = losses.gaussian_kl(torch.tensor([[m]]), torch.tensor([[math.log(s2)]])).item()
    assert kl == pytest.approx(0.5 * (s2 + m**2 - 1 - math.log(s2)))
