"""The paper's central claim, on real MNIST: ``expected`` beats ``single`` on AUC.

One VAE per repetition (class 2 as the normal class, the protocol's test set
with 20% anomalies re-drawn each repetition) is scored both ways from one
posterior draw, so the repetitions are paired; the test asserts that the
decoder at the posterior mean ranks the test set better than one sampled z in
a two-sided Wilcoxon signed-rank test at p < 0.05 (8 repetitions: the exact
test reaches p = 2/2^8 = 0.0078 when every repetition agrees).

CPU-sized: the VAE is the authors' network with 16 instead of 32 filters,
trained with lr 2e-3 for 12 epochs (192 Adam steps) on a seeded subset of
2,000 of the class's training images, without early stopping; eight of them
took about 160 CPU-seconds with one torch thread (measured on the shared
2-core machine). Its AUCs sit below the paper's (about 68 single vs 82
expected, against 93.0 vs 95.3 in Table 1); the claim is about the
comparison, which is what is asserted. Run with suite seeds 1-4 as well,
every one of the 32 repetitions favoured ``expected``, by 6 to 23 points. Needs MNIST under
``$ANOBENCH_TEST_DATA`` (default ``../shared/data``); skipped when absent.
"""
from __future__ import annotations

import numpy as np
import pytest

from anobench.api import LabeledData
from anobench.hookspecs import hookimpl
from anobench.manager import build_registry, get_plugin_manager, load_registry
from anobench.report.statistics import paired_comparison
from anobench.runner import run_suite
from anobench.store import read_records
from anobench.suite import parse_suite

# real training on MNIST (about 2 minutes on 2 cores): the slow tier (tox -e slow, .ci/run)
pytestmark = pytest.mark.slow

NORMAL = 2  # a hard class: the CPU reference run gave 75.4 (single) vs 84.9 (expected)
TRAIN_IMAGES = 2000
REPETITIONS = 8

SUITE = f"""
[suite]
name = "claim"
seed = 0
repetitions = {REPETITIONS}
anomaly_ratio = 0.2
val_fraction = 0.0
metrics = ["roc_auc"]
device = "cpu"

[[datasets]]
name = "mnist-subset"
classes = [{NORMAL}]

[[detectors]]
name = "vae"
params = {{ filters = 16, lr = 2e-3, max_epochs = 12, restore_best = false }}

[[detectors]]
name = "ed-vae"
params = {{ filters = 16, lr = 2e-3, max_epochs = 12, restore_best = false }}
"""


def _subset_plugin(root):
    """MNIST with a seeded subset of TRAIN_IMAGES training images of each class."""

    def load(data_dir=None) -> LabeledData:
        full = load_registry().datasets["mnist"].loader(data_dir=root)
        rng = np.random.default_rng(0)
        keep = np.sort(np.concatenate([
            rng.permutation(np.flatnonzero(full.y_train == c))[:TRAIN_IMAGES]
            for c in full.classes]))
        return LabeledData("mnist-subset", full.X_train[keep], full.y_train[keep],
                           full.X_test, full.y_test, full.class_names)

    plugin = type("SubsetPlugin", (), {})()
    plugin.anobench_register_datasets = hookimpl(
        lambda registry: registry.add_dataset("mnist-subset", load))
    return plugin


@pytest.mark.mnist
def test_expected_beats_single_on_mnist(mnist_root, tmp_path, capsys):
    registry = build_registry(get_plugin_manager(
        extra_plugins=[("claim-data", _subset_plugin(mnist_root))]))
    suite = parse_suite(SUITE, str(tmp_path / "claim.toml"), registry)
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path,
                                stream=open(tmp_path / "progress.log", "w"))
    assert failed == 0
    auc = {(r["column"], r["repetition"]): r["value"] for r in read_records(run_dir)}
    single = np.array([auc["vae", rep] for rep in range(REPETITIONS)])
    expected = np.array([auc["ed-vae", rep] for rep in range(REPETITIONS)])
    res = paired_comparison(expected, single)
    with capsys.disabled():
        print(f"\nclaim test, MNIST class {NORMAL} ({TRAIN_IMAGES} training images, "
              f"{REPETITIONS} repetitions), AUC x100:")
        print("  single   " + " ".join(f"{100 * v:5.1f}" for v in single))
        print("  expected " + " ".join(f"{100 * v:5.1f}" for v in expected))
        print(f"  mean {100 * single.mean():.1f} -> {100 * expected.mean():.1f}; expected wins "
              f"{res.wins}/{res.n}; Wilcoxon signed-rank ({res.method}) p = {res.p:.4f}")
    assert res.p is not None and res.p < 0.05 and res.wins > res.losses
