"""Benchmarks of the neural path: training throughput, posterior draw, rules."""
from __future__ import annotations

import numpy as np
import pytest

from anobench.api import PosteriorDraw


@pytest.fixture(scope="module")
def images_28():
    rng = np.random.default_rng(0)
    return rng.random((1024, 1, 28, 28), dtype=np.float32)


def test_bench_vae_epoch_28x28(benchmark, registry, images_28):
    """One training epoch of the paper's VAE on 1,024 28x28 images (batch 128)."""
    cls = registry.detector("vae").cls

    def one_epoch():
        return cls(max_epochs=1, random_state=0).fit(images_28, images_28[:128])

    det = benchmark.pedantic(one_epoch, rounds=3, iterations=1)
    benchmark.extra_info["images_per_s"] = round(len(images_28) / benchmark.stats.stats.mean)
    assert det.fit_info()["epochs"] == 1


def test_bench_posterior_draw_28x28(benchmark, registry, images_28):
    """Posterior draw with L = 10 samples for 1,024 test images."""
    det = registry.detector("vae").cls(max_epochs=1, random_state=0).fit(images_28)
    draw = benchmark.pedantic(det.posterior_draw, args=(images_28, 10, 0), rounds=3, iterations=1)
    assert draw.recon_samples.shape == (10, len(images_28))


def test_bench_all_rules(benchmark, registry):
    """Every registered rule reducing one draw of L = 100 samples for 1,250 examples."""
    from anobench.drawscore import oracle_scores

    rng = np.random.default_rng(0)
    draw = PosteriorDraw(recon_mu=rng.random(1250), recon_samples=rng.random((100, 1250)),
                         kl=rng.random(1250), log_weights=-rng.random((100, 1250)),
                         log_likelihood=-rng.random((100, 1250)),  # recon-prob reads it
                         mu=rng.normal(size=(1250, 32)), logvar=rng.normal(size=(1250, 32)))
    rules = [spec.rule for spec in registry.rules.values()]
    y = (rng.random(1250) < 0.2).astype(np.int64)
    metrics = ("roc_auc", "pr_auc", "average_precision")

    def reduce_all():  # oracles (best/worst): every metric of each of the 100 candidates, once
        cache: dict = {}
        return [oracle_scores(rule, draw, m, y, metrics, cache).scores if rule.oracle
                else rule.reduce(draw, m) for rule in rules for m in rule.measures]

    out = benchmark(reduce_all)
    assert all(o.shape == (1250,) for o in out)
