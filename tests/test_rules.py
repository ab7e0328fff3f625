"""Scoring rules are reductions of one posterior draw; pinned on synthetic draws."""
from __future__ import annotations

import math

import numpy as np
import pytest

from anobench.api import PosteriorDraw
from anobench_plugins import rules


@pytest.fixture
def draw() -> PosteriorDraw:
    rng = np.random.default_rng(0)
    L, n = 7, 11
    return PosteriorDraw(
        recon_mu=rng.uniform(1, 5, n),
        recon_samples=rng.uniform(1, 9, (L, n)),
        kl=rng.uniform(0, 3, n),
        log_weights=rng.normal(-20, 3, (L, n)),
        beta=0.5,
    )


def reduce(rule_cls, draw, measure="recon"):
    return rule_cls().reduce(draw, measure)


def test_single_is_the_first_sample(draw):
    np.testing.assert_array_equal(reduce(rules.Single, draw), draw.recon_samples[0])


def test_expected_is_the_error_at_mu(draw):
    np.testing.assert_array_equal(reduce(rules.Expected, draw), draw.recon_mu)
    assert rules.Expected.min_samples == 0


def test_multi_best_worst(draw):
    multi, best, worst = (reduce(r, draw) for r in (rules.Multi, rules.Best, rules.Worst))
    np.testing.assert_allclose(multi, draw.recon_samples.mean(axis=0))
    assert (best <= multi).all() and (multi <= worst).all()
    np.testing.assert_array_equal(best, draw.recon_samples.min(axis=0))
    np.testing.assert_array_equal(worst, draw.recon_samples.max(axis=0))


@pytest.mark.parametrize("rule", [rules.Single, rules.Multi, rules.Best, rules.Worst,
                                  rules.Expected])
def test_elbo_measure_adds_beta_kl(rule, draw):
    np.testing.assert_allclose(reduce(rule, draw, "elbo"),
                               reduce(rule, draw, "recon") + 0.5 * draw.kl)


def test_iwae_is_a_log_mean_exp_of_the_weights(draw):
    got = reduce(rules.IWAE, draw, "elbo")
    brute = np.array([-math.log(np.mean([math.exp(w) for w in draw.log_weights[:, j]]))
                      for j in range(draw.log_weights.shape[1])])
    np.testing.assert_allclose(got, brute, rtol=1e-10)
    # Jensen: the importance-weighted bound is tighter than the mean of -log w
    assert (got <= -draw.log_weights.mean(axis=0) + 1e-12).all()


def test_iwae_with_one_sample_is_minus_the_log_weight(draw):
    one = PosteriorDraw(draw.recon_mu, draw.recon_samples[:1], draw.kl, draw.log_weights[:1])
    np.testing.assert_allclose(reduce(rules.IWAE, one, "elbo"), -draw.log_weights[0])


def test_iwae_is_stable_for_very_negative_weights(draw):
    far = PosteriorDraw(draw.recon_mu, draw.recon_samples, draw.kl, draw.log_weights - 5000.0)
    got = reduce(rules.IWAE, far, "elbo")
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, reduce(rules.IWAE, draw, "elbo") + 5000.0)


def test_iwae_declares_only_the_elbo_measure(draw):
    assert rules.IWAE.measures == ("elbo",)
    with pytest.raises(ValueError, match="only the 'elbo' measure"):
        reduce(rules.IWAE, draw, "recon")


def test_every_builtin_rule_is_registered(registry):
    for rule in rules.RULES:
        spec = registry.rule(rule.name)
        assert spec.plugin == "rules"
        assert spec.description
