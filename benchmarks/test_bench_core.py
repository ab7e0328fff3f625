"""Benchmarks of the core path (pytest-benchmark; `tox -e bench`)."""
from __future__ import annotations

import numpy as np

from anobench.metrics import compute_metrics
from anobench.protocol import one_class_split


def test_bench_one_class_split(benchmark, digits):
    split = benchmark(one_class_split, digits, 3, split_seed=0, anomaly_seed=1)
    assert split.n_anomalies > 0


def test_bench_metrics(benchmark):
    rng = np.random.default_rng(0)
    y = (rng.random(1250) < 0.2).astype(int)
    s = rng.normal(size=1250) + y
    out = benchmark(compute_metrics, y, s, ("roc_auc", "pr_auc", "average_precision"))
    assert 0.5 < out["roc_auc"] < 1.0


def test_bench_pca_fit_score(benchmark, registry, digits_split):
    cls = registry.detector("pca").cls

    def fit_score():
        return cls(n_components=16).fit(digits_split.X_train).score(digits_split.X_test)

    scores = benchmark(fit_score)
    assert scores.shape == (len(digits_split.X_test),)


def test_bench_quick_runner_pca(benchmark, registry, tmp_path):
    from anobench.runner import run_suite
    from anobench.suite import parse_suite

    text = """
[suite]
name = "bench"
repetitions = 2
[[datasets]]
name = "digits"
classes = [0, 1]
[[detectors]]
name = "pca"
params = { n_components = 16 }
"""
    suite = parse_suite(text, "bench.toml", registry)
    import io

    _, failed = benchmark.pedantic(
        run_suite, args=(suite, registry), kwargs={"results_root": tmp_path, "stream": io.StringIO()},
        rounds=3, iterations=1)
    assert failed == 0
