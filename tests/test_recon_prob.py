"""The ``recon-prob`` rule (An & Cho 2015) and the draw fields it reads."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from anobench.api import PosteriorDraw
from anobench.testing import check_scoring_rule
from anobench_plugins.autoencoders import VAEDetector
from anobench_plugins.rules import ReconProb


def _draw(ll: np.ndarray, kl: np.ndarray, beta: float = 1.0) -> PosteriorDraw:
    return PosteriorDraw(recon_mu=-ll[0], recon_samples=-ll, kl=kl, log_weights=ll,
                         beta=beta, log_likelihood=ll)


def test_it_is_minus_the_log_of_the_mean_probability():
    ll = np.array([[-1.0, -2.0, -0.5], [-3.0, -0.1, -0.5]])
    kl = np.array([0.2, 0.4, 0.0])
    want = -np.log(np.exp(ll).mean(axis=0))
    rule = ReconProb()
    np.testing.assert_allclose(rule.reduce(_draw(ll, kl), "recon"), want, rtol=1e-13)
    np.testing.assert_allclose(rule.reduce(_draw(ll, kl, 0.5), "elbo"), want + 0.5 * kl,
                               rtol=1e-13)


def test_log_mean_exp_is_stable_where_the_probabilities_underflow():
    ll = np.array([[-2000.0, -5000.0], [-2001.0, -5000.0]])  # exp() is 0.0 in float64
    got = ReconProb().reduce(_draw(ll, np.zeros(2)), "recon")
    assert np.isfinite(got).all()
    assert got[0] == pytest.approx(2000.0 - math.log((1 + math.exp(-1)) / 2), rel=1e-13)
    assert got[1] == pytest.approx(5000.0, rel=1e-13)


def test_lower_probability_scores_higher_and_the_rule_conforms():
    check_scoring_rule(ReconProb)
    ll = np.array([[-1.0, -50.0]])
    s = ReconProb().reduce(_draw(ll, np.zeros(2)), "recon")
    assert s[1] > s[0]


def test_a_draw_without_log_likelihood_is_refused_in_one_sentence():
    draw = PosteriorDraw(np.zeros(2), np.zeros((1, 2)), np.zeros(2), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="needs the draw's log_likelihood"):
        ReconProb().reduce(draw, "recon")


@pytest.fixture(scope="module")
def vae():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(96, 1, 8, 8)).astype(np.float32)
    det = VAEDetector(latent_dim=3, filters=4, max_epochs=1, batch_size=32, device="cpu",
                      threads=1, random_state=5).fit(X[:64])
    return det, X[64:]


def test_on_a_vae_it_matches_a_direct_computation(vae):
    """log p(x|z) of the mse likelihood: the Gaussian N(x; x̂, ½·I) the loss ‖x − x̂‖² implies."""
    det, X = vae
    L, seed = 5, 11
    draw = det.posterior_draw(X, L, seed)
    x = torch.from_numpy(X)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        mu, logvar = det.model_.encoder(x)
        rows = []
        for _ in range(L):
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
            x_hat = torch.sigmoid(det.model_.decoder(z))
            sq = ((x - x_hat) ** 2).reshape(len(x), -1).sum(1).double().numpy()
            rows.append(-sq - 0.5 * 64 * math.log(math.pi))
    ll = np.array(rows)
    np.testing.assert_allclose(draw.log_likelihood, ll, rtol=1e-6)
    shift = ll.max(axis=0)
    want = -(shift + np.log(np.exp(ll - shift).mean(axis=0)))
    np.testing.assert_allclose(ReconProb().reduce(draw, "recon"), want, rtol=1e-6)
    np.testing.assert_allclose(draw.mu, mu.double().numpy(), rtol=1e-6)
    # the same draw as the other rules: sample 0 is the single rule's sample
    np.testing.assert_allclose(-draw.log_likelihood[0] - 0.5 * 64 * math.log(math.pi),
                               draw.recon_samples[0], rtol=1e-9)


def test_a_restored_vae_draws_the_same_posterior_bit_for_bit(vae):
    det, X = vae
    state = det.model_state()
    params = {k: getattr(det, k) for k in ("latent_dim", "filters", "max_epochs", "batch_size",
                                           "device", "threads", "random_state")}
    again = VAEDetector(**params).load_model_state(state, (1, 8, 8))
    a, b = det.posterior_draw(X, 4, 3), again.posterior_draw(X, 4, 3)
    for field in ("recon_mu", "recon_samples", "kl", "log_weights", "log_likelihood", "mu",
                  "logvar"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert np.array_equal(det.score(X), again.score(X))
    wrong = VAEDetector(**{**params, "latent_dim": 2})
    with pytest.raises(ValueError, match="do not fit the network"):
        wrong.load_model_state(state, (1, 8, 8))


def test_the_size_estimate_is_the_size_of_the_kept_state(vae):
    det, _ = vae
    params = {"latent_dim": 3, "filters": 4}
    assert VAEDetector.model_bytes(params, (1, 8, 8)) == sum(
        v.nbytes for v in det.model_state().values())
