from __future__ import annotations

import json

import numpy as np
import pytest

from anobench.api import Detector
from anobench.errors import SuiteError
from anobench.hookspecs import hookimpl
from anobench.manager import build_registry, get_plugin_manager
from anobench.runner import run_suite
from anobench.store import append_block, done_cells, read_meta, read_records
from anobench.suite import load_suite, parse_suite


def run(path, registry, tmp_path, **kw):
    suite = load_suite(path, registry)
    return run_suite(suite, registry, results_root=tmp_path / "results", **kw)


def test_records_and_meta(tiny_suite, registry, tmp_path):
    run_dir, failed = run(tiny_suite, registry, tmp_path)
    assert failed == 0
    recs = read_records(run_dir)
    # 2 classes x 2 reps x 1 column x 3 metrics
    assert len(recs) == 12
    r = recs[0]
    for key in ("dataset", "normal", "repetition", "column", "detector", "params", "rule",
                "measure", "metric", "value", "fit_seconds", "score_seconds", "seed", "cell"):
        assert key in r
    assert r["params"] == {"n_components": 8} and r["rule"] is None
    meta = read_meta(run_dir)
    assert meta["suite_sha256"] and "n_components" in meta["suite_text"]
    assert "numpy" in meta["packages"] and meta["device"] == "cpu"


def test_same_seed_same_numbers(tiny_suite, registry, tmp_path):
    a, _ = run(tiny_suite, registry, tmp_path)
    b, _ = run(tiny_suite, registry, tmp_path)
    va = [(r["cell"], r["metric"], r["value"]) for r in read_records(a)]
    vb = [(r["cell"], r["metric"], r["value"]) for r in read_records(b)]
    assert va == vb and a != b


def test_resume_skips_done_cells_and_ignores_a_torn_write(tiny_suite, registry, tmp_path):
    run_dir, _ = run(tiny_suite, registry, tmp_path)
    lines = (run_dir / "records.jsonl").read_text().splitlines(keepends=True)
    # drop the last cell's block and leave half a line, as a crash mid-write would
    last_cell = json.loads(lines[-1])["cell"]
    keep = [ln for ln in lines if json.loads(ln)["cell"] != last_cell]
    (run_dir / "records.jsonl").write_text("".join(keep) + lines[-2][:20])
    assert len(done_cells(run_dir)) == 3
    seen = []
    run_dir2, failed = run(tiny_suite, registry, tmp_path, resume=run_dir,
                           on_cell=lambda base: seen.append(base["cell"]))
    assert run_dir2 == run_dir and failed == 0 and seen == [last_cell]
    assert len(read_records(run_dir)) == 12
    assert len(done_cells(run_dir)) == 4


def test_resume_refuses_changed_suite(tiny_suite, registry, tmp_path):
    run_dir, _ = run(tiny_suite, registry, tmp_path)
    tiny_suite.write_text(tiny_suite.read_text().replace("repetitions = 2", "repetitions = 3"))
    with pytest.raises(Exception, match="suite changed"):
        run(tiny_suite, registry, tmp_path, resume=run_dir)


class Flaky(Detector):
    def __init__(self, *, mode: str = "ok", random_state=None):
        self.mode = mode
        self.random_state = random_state

    def fit(self, X, X_val=None):
        if self.mode == "raise":
            raise RuntimeError("fit exploded")
        return self

    def score(self, X):
        n = len(X)
        if self.mode == "nan":
            return np.full(n, np.nan)
        if self.mode == "shape":
            return np.zeros((n, 2))
        if self.mode == "constant":
            return np.full(n, 3.0)
        if self.mode == "rounding":  # PCA with n_components >= features gave this: noise
            return 1.0 + np.arange(n) % 3 * np.finfo(np.float64).eps
        return X.reshape(n, -1).sum(1)


@pytest.fixture
def flaky_registry():
    plugin = type("P", (), {})()
    plugin.anobench_register_detectors = hookimpl(
        lambda registry: registry.add_detector("flaky", Flaky))
    return build_registry(get_plugin_manager(extra_plugins=[("flakyplug", plugin)]))


@pytest.mark.parametrize("mode, fragment", [
    ("raise", "RuntimeError: fit exploded"),
    ("nan", "NaN or infinite"),
    ("shape", "expected (") ,
    ("constant", "scores are equal (3): they rank nothing"),
    ("rounding", "scores differ only at rounding level"),
])
def test_failing_plugin_is_recorded_not_written_as_scores(mode, fragment, flaky_registry, tmp_path):
    text = f"""
[suite]
name = "flaky"
repetitions = 1
[[datasets]]
name = "digits"
classes = [0]
[[detectors]]
name = "pca"
[[detectors]]
name = "flaky"
params = {{ mode = "{mode}" }}
"""
    suite = parse_suite(text, "f.toml", flaky_registry)
    run_dir, failed = run_suite(suite, flaky_registry, results_root=tmp_path)
    assert failed == 1
    errors = read_records(run_dir, ("error",))
    assert len(errors) == 1 and fragment in errors[0]["error"]
    assert "plugin 'flakyplug'" in errors[0]["error"]
    cols = {r["column"] for r in read_records(run_dir)}
    assert cols == {"pca"}  # the good detector's results are kept


def test_append_block_is_valid_jsonl(tmp_path):
    (tmp_path / "meta.json").write_text("{}")
    result = {"kind": "result", "cell": "c", "value": 1.0, "metric": "roc_auc", "column": "pca",
              "dataset": "d", "normal": "0", "repetition": 0}
    append_block(tmp_path, [result, {"kind": "cell", "cell": "c", "status": "ok"}])
    assert read_records(tmp_path) == [result]
    with pytest.raises(ValueError):
        append_block(tmp_path, [{"value": float("nan")}])


def test_pca_default_components_on_six_features_is_refused_before_any_run_dir(registry, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "six.npz", X=rng.normal(size=(300, 6)).astype("float32"),
             y=np.repeat([0, 1], [240, 60]))
    text = """
[suite]
name = "six"
repetitions = 1
[[datasets]]
name = "six"
path = "six.npz"
classes = [0]
[[detectors]]
name = "kpca"
[[detectors]]
name = "pca"
"""
    suite = parse_suite(text, str(tmp_path / "six.toml"), registry)
    with pytest.raises(SuiteError) as err:
        run_suite(suite, registry, results_root=tmp_path / "results")
    assert str(err.value) == (f"{tmp_path / 'six.toml'}: detectors[1].params: detector 'pca' on "
                              "dataset 'six' (samples of shape (6,)): n_components = 32 is not below "
                              "the 6 features of the data: the reconstruction would be exact and every "
                              "score rounding noise; use n_components < 6")
    assert not (tmp_path / "results").exists()
