"""Scoring rules are reductions of one posterior draw; pinned on synthetic draws."""
from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from anobench.api import LatentDetector, PosteriorDraw
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


def test_multi_min_max(draw):
    multi, lo, hi = (reduce(r, draw) for r in (rules.Multi, rules.Min, rules.Max))
    np.testing.assert_allclose(multi, draw.recon_samples.mean(axis=0))
    assert (lo <= multi).all() and (multi <= hi).all()
    np.testing.assert_array_equal(lo, draw.recon_samples.min(axis=0))
    np.testing.assert_array_equal(hi, draw.recon_samples.max(axis=0))


def test_best_and_worst_are_oracles_over_the_single_sample_score_vectors(draw):
    for rule in (rules.Best(), rules.Worst()):
        assert rule.oracle
        np.testing.assert_array_equal(rule.candidates(draw, "recon"), draw.recon_samples)
        np.testing.assert_allclose(rule.candidates(draw, "elbo"),
                                   draw.recon_samples + 0.5 * draw.kl[None, :])
        with pytest.raises(ValueError, match="is an oracle"):
            rule.reduce(draw, "recon")
    values = np.array([0.7, 0.9, 0.6, 0.9, 0.6])
    assert rules.Best().choose(values) == 1 and rules.Worst().choose(values) == 2
    assert not rules.Min.oracle and not rules.Single.oracle


@pytest.mark.parametrize("rule", [rules.Single, rules.Multi, rules.Min, rules.Max,
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


# -- how the runner applies rules to one draw ---------------------------------

class FakeLatent(LatentDetector):
    """Scores = the pixel sum s in samples 0-1 and -2·s in samples 2+."""

    requested: ClassVar[list[int]] = []

    def __init__(self, *, random_state=None):
        self.random_state = random_state

    def fit(self, X, X_val=None):
        return self

    def score(self, X):
        return X.reshape(len(X), -1).sum(1)

    def posterior_draw(self, X, n_samples, seed):
        FakeLatent.requested.append(n_samples)
        s = X.reshape(len(X), -1).sum(1).astype(np.float64)
        rows = np.array([s if ell < 2 else -2 * s for ell in range(n_samples)]).reshape(n_samples, -1)
        return PosteriorDraw(recon_mu=s, recon_samples=rows, kl=np.zeros_like(s),
                             log_weights=-rows, beta=1.0)


def test_each_entry_reads_its_own_samples_and_no_more_are_drawn(tmp_path):
    from anobench.hookspecs import hookimpl
    from anobench.manager import build_registry, get_plugin_manager
    from anobench.runner import run_suite
    from anobench.store import read_records
    from anobench.suite import parse_suite

    plugin = type("P", (), {})()
    plugin.anobench_register_detectors = hookimpl(
        lambda registry: registry.add_detector("fake", FakeLatent))
    registry = build_registry(get_plugin_manager(extra_plugins=[("fakeplug", plugin)]))
    text = """
[suite]
name = "fake"
repetitions = 1
[[datasets]]
name = "digits"
classes = [1]
[[detectors]]
name = "fake"
label = "single-only"
rules = ["single", "expected"]
n_samples = 100
[[detectors]]
name = "fake"
label = "two"
rules = ["multi"]
n_samples = 2
[[detectors]]
name = "fake"
label = "four"
rules = ["multi"]
n_samples = 4
"""
    FakeLatent.requested.clear()
    suite = parse_suite(text, "fake.toml", registry)
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path,
                                stream=open("/dev/null", "w"))
    assert failed == 0
    assert FakeLatent.requested == [4]  # single reads 1 sample, expected none: L = 4, not 100
    auc = {r["column"]: r["value"] for r in read_records(run_dir) if r["metric"] == "roc_auc"}
    assert auc["two:multi"] != auc["four:multi"]
    # the mean of s, s, -2s, -2s is -s/2: the ranking reversed
    assert auc["four:multi"] == pytest.approx(1 - auc["two:multi"])
    assert auc["two:multi"] == auc["single-only:single"] == auc["single-only:expected"]


class WigglyLatent(FakeLatent):
    """recon_mu = the pixel sum s; sample l = s + 7·l·sin(s): each sample ranks differently."""

    def posterior_draw(self, X, n_samples, seed):
        s = X.reshape(len(X), -1).sum(1).astype(np.float64)
        rows = wiggly_rows(s, n_samples)
        return PosteriorDraw(recon_mu=s, recon_samples=rows, kl=np.zeros_like(s),
                             log_weights=-rows, beta=1.0)


def wiggly_rows(s, n_samples):
    return np.array([s + 7.0 * ell * np.sin(s) for ell in range(n_samples)]).reshape(n_samples, -1)


def test_best_and_worst_keep_the_sample_with_the_best_and_worst_metric(tmp_path):
    from anobench.hookspecs import hookimpl
    from anobench.metrics import METRICS
    from anobench.manager import build_registry, get_plugin_manager
    from anobench.runner import run_suite
    from anobench.scores import load_scores, scores_path
    from anobench.store import read_records
    from anobench.suite import parse_suite

    plugin = type("P", (), {})()
    plugin.anobench_register_detectors = hookimpl(
        lambda registry: registry.add_detector("wiggly", WigglyLatent))
    registry = build_registry(get_plugin_manager(extra_plugins=[("wplug", plugin)]))
    text = """
[suite]
name = "oracle"
repetitions = 1
[[datasets]]
name = "digits"
classes = [3]
[[detectors]]
name = "wiggly"
rules = ["expected", "single", "best", "worst", "min"]
measures = ["recon"]
n_samples = 6
"""
    suite = parse_suite(text, "oracle.toml", registry)
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path,
                                stream=open("/dev/null", "w"))
    assert failed == 0
    recs = read_records(run_dir)
    stored = load_scores(scores_path(run_dir, recs[0]["cell"]))
    s = stored.scores["wiggly:expected", "recon"].astype(np.float64)
    y = stored.labels
    rows = wiggly_rows(s, 6)
    by = {(r["column"], r["metric"]): r for r in recs}
    for metric in suite.metrics:
        per_sample = np.array([METRICS[metric](y, row) for row in rows])
        assert len(set(np.round(per_sample, 6))) > 2  # the samples really differ
        best, worst = by["wiggly:best", metric], by["wiggly:worst", metric]
        assert best["value"] == pytest.approx(per_sample.max())
        assert worst["value"] == pytest.approx(per_sample.min())
        assert best["oracle_candidate"] == int(np.argmax(per_sample))
        assert worst["oracle_candidate"] == int(np.argmin(per_sample))
        assert best["oracle"] is True and worst["oracle"] is True
        assert "oracle" not in by["wiggly:single", metric] and "oracle" not in by["wiggly:min", metric]
        assert by["wiggly:single", metric]["value"] == pytest.approx(per_sample[0])
    # scores/*.npz holds the candidate picked for the suite's first metric
    first = np.array([METRICS[suite.metrics[0]](y, row) for row in rows])
    np.testing.assert_allclose(stored.scores["wiggly:best", "recon"], rows[int(np.argmax(first))],
                               rtol=1e-6)
    np.testing.assert_allclose(stored.scores["wiggly:worst", "recon"], rows[int(np.argmin(first))],
                               rtol=1e-6)
