"""keep_models and ``anobench rescore``: kept models, new rules on a finished run.

The fast tests use a numpy latent detector (its "model" is the training mean),
so whole runs take a fraction of a second; the slow test rescores a real VAE
with ``recon-prob``.

Tolerance: rescored values must equal a run that had the rule from the start
to 1e-12 (absolute). On one machine they are equal bit for bit (same weights,
same seeds, same batches); the tolerance only allows for a BLAS that sums in
another order.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import anobench.cli as cli
from anobench.api import LatentDetector, PosteriorDraw, ScoringRule
from anobench.errors import AnobenchError
from anobench.hookspecs import hookimpl
from anobench.modelstore import MODELS_DIR, load_model, model_path
from anobench.manager import build_registry, get_plugin_manager
from anobench.rescore import rescore_run
from anobench.runlock import RunLock
from anobench.runner import run_suite
from anobench.scores import load_scores, scores_path
from anobench.store import RECORDS, load_store, read_meta, read_records
from anobench.suite import parse_suite

TOL = 1e-12


class MeanLatent(LatentDetector):
    """A latent detector in numpy: the model is the training mean; samples add seeded noise."""

    draw_provides: ClassVar[tuple[str, ...]] = ("mu", "logvar")
    fits: ClassVar[int] = 0

    def __init__(self, *, scale: float = 1.0, random_state: int | None = None) -> None:
        self.scale = scale
        self.random_state = random_state

    def fit(self, X, X_val=None):
        MeanLatent.fits += 1
        rng = np.random.default_rng(self.random_state)
        flat = X.reshape(len(X), -1)
        self.mean_ = flat.mean(axis=0) + 0.01 * rng.normal(size=flat.shape[1])
        return self

    def score(self, X):
        return self.posterior_draw(X, 1, 0).recon_samples[0]

    def posterior_draw(self, X, n_samples, seed):
        err = ((X.reshape(len(X), -1) - self.mean_) ** 2).sum(axis=1).astype(np.float64)
        rows = np.empty((n_samples, len(X)))
        for ell in range(n_samples):  # sample l from the l-th block: heads do not depend on L
            rows[ell] = err + self.scale * np.random.default_rng([seed, ell]).normal(
                size=len(X)) * err.std()
        mu = np.stack([err / (err.max() or 1.0), np.zeros(len(X))], axis=1)
        return PosteriorDraw(recon_mu=err, recon_samples=rows, kl=0.1 * err, log_weights=-rows,
                             mu=mu, logvar=np.full_like(mu, -1.0))

    def model_state(self):
        return {"mean": self.mean_}

    def load_model_state(self, state, sample_shape):
        self.mean_ = np.asarray(state["mean"])
        return self


class Median(ScoringRule):
    """A plugin rule: the median reconstruction error over the L samples."""

    name = "median"
    description = "median of the sampled reconstruction errors"

    def reconstruction(self, draw):
        return np.median(draw.recon_samples, axis=0)


def make_registry():
    plugin = type("P", (), {})()
    plugin.anobench_register_detectors = hookimpl(
        lambda registry: registry.add_detector("mean-latent", MeanLatent))
    plugin.anobench_register_scoring_rules = hookimpl(
        lambda registry: registry.add_scoring_rule(Median))
    return build_registry(get_plugin_manager(extra_plugins=[("meanplug", plugin)]))


SUITE = """
[suite]
name = "keep"
seed = 3
repetitions = 2
{keep}

[[datasets]]
name = "digits"
classes = [0, 5]

[[detectors]]
name = "pca"
params = {{ n_components = 4 }}

[[detectors]]
name = "mean-latent"
rules = {rules}
measures = ["elbo", "recon"]
n_samples = 6
"""


def run(tmp_path: Path, registry, rules: list[str], keep: bool = True, name: str = "a") -> Path:
    text = SUITE.format(keep="keep_models = true" if keep else "", rules=json.dumps(rules))
    suite = parse_suite(text, f"{name}.toml", registry)
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path / name,
                                stream=io.StringIO())
    assert failed == 0
    return run_dir


def values(run_dir: Path, column: str) -> dict[tuple, float]:
    return {(r["cell"], r["measure"], r["metric"]): r["value"] for r in read_records(run_dir)
            if r["column"] == column}


@pytest.fixture(scope="module")
def registry():
    return make_registry()


def test_kept_models_rebuild_the_detector(tmp_path, registry):
    run_dir = run(tmp_path, registry, ["single", "expected"])
    cells = {r["cell"] for r in read_records(run_dir) if r["detector"] == "mean-latent"}
    assert len(cells) == 4
    files = sorted((run_dir / MODELS_DIR).iterdir())
    assert [f.name for f in files] == sorted(model_path(run_dir, c).name for c in cells)
    kept = load_model(model_path(run_dir, sorted(cells)[0]))
    assert kept.detector == "mean-latent" and kept.sample_shape == (1, 8, 8)
    assert kept.params["random_state"] == kept.seeds["model"]
    assert set(kept.seeds) == {"split", "anomalies", "model", "draw"}
    assert not list(run_dir.rglob("*.part"))  # written through the atomic helper


def test_models_are_not_kept_by_default(tmp_path, registry):
    run_dir = run(tmp_path, registry, ["single"], keep=False)
    assert not (run_dir / MODELS_DIR).exists()
    assert read_meta(run_dir)["keep_models"] is False


@pytest.mark.parametrize("rule", ["multi", "median"])  # a built-in and a plugin rule
def test_rescore_equals_a_run_that_had_the_rule_from_the_start(tmp_path, registry, rule):
    rescored = run(tmp_path, registry, ["single", "expected"], name="a")
    MeanLatent.fits = 0
    res = rescore_run(rescored, [rule], registry, stream=io.StringIO())
    assert MeanLatent.fits == 0  # nothing trained again
    assert res.cells == 4 and res.columns == (f"mean-latent:{rule}",)
    direct = run(tmp_path, registry, ["single", "expected", rule], name="b")
    got, want = values(rescored, f"mean-latent:{rule}"), values(direct, f"mean-latent:{rule}")
    assert len(got) == 4 * 2 * 3  # cells x measures x metrics
    assert got.keys() == want.keys()
    for key in want:
        assert abs(got[key] - want[key]) <= TOL, key
    # the scores files gained the same rows
    for cell in {k[0] for k in want}:
        a = load_scores(scores_path(rescored, cell)).scores
        b = load_scores(scores_path(direct, cell)).scores
        for m in ("elbo", "recon"):
            np.testing.assert_allclose(a[(f"mean-latent:{rule}", m)],
                                       b[(f"mean-latent:{rule}", m)], rtol=0, atol=1e-6)


def test_rescore_leaves_every_stored_value_unchanged(tmp_path, registry):
    run_dir = run(tmp_path, registry, ["single", "expected"])
    raw = (run_dir / RECORDS).read_bytes()
    before = {c: [_unstamped(r) for r in b.records] for c, b in load_store(run_dir).blocks.items()}
    markers = {c: _unstamped(b.marker) for c, b in load_store(run_dir).blocks.items()}
    npz = {p.name: load_scores(p).scores for p in (run_dir / "scores").iterdir()}
    meta = read_meta(run_dir)
    rescore_run(run_dir, ["multi", "median"], registry, stream=io.StringIO())
    assert (run_dir / RECORDS).read_bytes().startswith(raw)  # appended, never rewritten
    after = load_store(run_dir).blocks
    for cell, old in before.items():
        new = [_unstamped(r) for r in after[cell].records]
        assert new[:len(old)] == old  # the same JSON values, bit for bit
        extra = new[len(old):]
        if "pca" in cell:
            assert not extra
        else:
            assert {r["column"] for r in extra} == {"mean-latent:multi", "mean-latent:median"}
            assert all(r["rescored"] for r in extra)
        marker = _unstamped(after[cell].marker)
        assert {k: marker[k] for k in markers[cell]} == markers[cell]
    for name, rows in npz.items():
        now = load_scores(run_dir / "scores" / name).scores
        for key, arr in rows.items():
            assert np.array_equal(now[key], arr) and now[key].dtype == arr.dtype
    meta_after = read_meta(run_dir)
    assert meta_after["columns"] == meta["columns"] + ["mean-latent:multi", "mean-latent:median"]
    assert {k: v for k, v in meta_after.items() if k not in ("columns", "rescored")} == {
        k: v for k, v in meta.items() if k != "columns"}
    assert meta_after["rescored"][0]["rules"] == ["multi", "median"]


def _unstamped(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in ("block", "run", "lines")}


def test_refusals(tmp_path, registry):
    kept = run(tmp_path, registry, ["single", "expected"], name="kept")
    plain = run(tmp_path, registry, ["single"], keep=False, name="plain")
    raw = {p: (p / RECORDS).read_bytes() for p in (kept, plain)}
    cases = [
        (plain, ["multi"], "models not kept"),
        (kept, ["single"], "already scored in this run (column 'mean-latent:single')"),
        (kept, ["recon-prob"], "needs the posterior draw's log_likelihood, which detector "
                               "'mean-latent' does not provide"),
        (kept, ["no-such"], "unknown scoring rule 'no-such'"),
        (kept, ["multi", "multi"], "given twice"),
    ]
    for run_dir, rules, words in cases:
        with pytest.raises(AnobenchError, match=_re(words)):
            rescore_run(run_dir, rules, registry, stream=io.StringIO())
    with RunLock(kept):  # a writer holds the run
        with pytest.raises(AnobenchError, match="another anobench process"):
            rescore_run(kept, ["multi"], registry, stream=io.StringIO())
    rescore_run(kept, ["multi"], registry, stream=io.StringIO())
    with pytest.raises(AnobenchError, match=_re("already scored in this run: every finished cell "
                                                "holds column 'mean-latent:multi'")):
        rescore_run(kept, ["multi"], registry, stream=io.StringIO())
    assert (plain / RECORDS).read_bytes() == raw[plain]


def test_a_second_rescore_adds_only_the_columns_a_cell_lacks(tmp_path, registry):
    run_dir = run(tmp_path, registry, ["single"])
    rescore_run(run_dir, ["multi"], registry, stream=io.StringIO())
    res = rescore_run(run_dir, ["multi", "median"], registry, stream=io.StringIO())
    assert res.cells == 4
    recs = read_records(run_dir)
    for rule in ("multi", "median"):  # one record per cell, measure and metric: no duplicates
        assert len([r for r in recs if r["rule"] == rule]) == 4 * 2 * 3
    assert read_meta(run_dir)["columns"][-2:] == ["mean-latent:multi", "mean-latent:median"]


def test_a_rule_needing_a_draw_field_the_detector_lacks_is_refused_at_suite_load(registry):
    from anobench.errors import SuiteError

    text = SUITE.format(keep="", rules='["single", "recon-prob"]')
    with pytest.raises(SuiteError, match=_re("detectors[1].rules[1]: scoring rule 'recon-prob' "
                                             "needs the posterior draw's log_likelihood")):
        parse_suite(text, "s.toml", registry)


def _re(text: str) -> str:
    import re

    return re.escape(text)


def test_cli_refusal_is_one_line_and_rescore_renders_the_report(tmp_path, registry, monkeypatch,
                                                                 capsys):
    monkeypatch.setattr(cli, "_registry", lambda: registry)
    plain = run(tmp_path, registry, ["single"], keep=False, name="plain")
    assert cli.main(["rescore", str(plain), "--rule", "multi"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("anobench: error: ") and "models not kept" in err[0]
    kept = run(tmp_path, registry, ["single", "expected"], name="kept")
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["rescore", str(kept), "--rule", "median", "--n-samples", "3",
                         "--no-figures"]) == 0
    assert "mean-latent:median" in (kept / "report.md").read_text()
    assert {r["samples"] for r in read_records(kept) if r["rule"] == "median"} == {3}


def test_resumed_run_keeps_the_models_of_every_cell(tmp_path, registry):
    text = SUITE.format(keep="", rules='["single"]')
    suite = parse_suite(text, "r.toml", registry)
    seen = []

    def stop(base):
        seen.append(base["cell"])
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_suite(suite, registry, results_root=tmp_path, stream=io.StringIO(), on_cell=stop,
                  keep_models=True)
    run_dir = next((tmp_path / "keep").iterdir())
    first = {p.name: p.stat().st_mtime_ns for p in (run_dir / MODELS_DIR).iterdir()}
    assert first
    _, failed = run_suite(suite, registry, results_root=tmp_path, resume=run_dir,
                          stream=io.StringIO())
    assert failed == 0 and read_meta(run_dir)["keep_models"] is True
    cells = {r["cell"] for r in read_records(run_dir) if r["detector"] == "mean-latent"}
    assert all(model_path(run_dir, c).is_file() for c in cells) and len(cells) == 4
    now = {p.name: p.stat().st_mtime_ns for p in (run_dir / MODELS_DIR).iterdir()}
    assert {k: now[k] for k in first} == first  # the earlier models were not rewritten


@pytest.mark.slow
def test_rescoring_a_vae_with_recon_prob_equals_scoring_it_from_the_start(tmp_path):
    """The real path: torch weights saved, restored, drawn again with the cell's seed."""
    from anobench.manager import load_registry

    reg = load_registry()
    text = """
[suite]
name = "vae-keep"
seed = 2
repetitions = 2
keep_models = true
[[datasets]]
name = "digits"
classes = [1]
[[detectors]]
name = "vae"
params = {{ latent_dim = 4, filters = 4, lr = 1e-3, batch_size = 32, max_epochs = 3, threads = 1 }}
rules = {rules}
measures = ["elbo", "recon"]
n_samples = 8
"""
    dirs = {}
    for name, rules in (("a", ["single", "expected"]), ("b", ["single", "expected", "recon-prob"])):
        suite = parse_suite(text.format(rules=json.dumps(rules)), f"{name}.toml", reg)
        dirs[name], failed = run_suite(suite, reg, results_root=tmp_path / name,
                                       stream=io.StringIO())
        assert failed == 0
    rescore_run(dirs["a"], ["recon-prob"], reg, stream=io.StringIO())
    got, want = values(dirs["a"], "vae:recon-prob"), values(dirs["b"], "vae:recon-prob")
    assert got.keys() == want.keys() and len(got) == 2 * 2 * 3
    for key in want:
        assert abs(got[key] - want[key]) <= TOL, key
