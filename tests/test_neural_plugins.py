"""The neural detector plugins: ae, vae/ed-vae, dsebm (tiny nets, digits, few epochs)."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from anobench.errors import SuiteError
from anobench.runner import run_suite
from anobench.units import model_groups
from anobench.store import read_records
from anobench.suite import load_suite
from anobench.torchstack import losses
from anobench.torchstack.runtime import NonFiniteDataError
from anobench_plugins.autoencoders import AEDetector, VAEDetector
from anobench_plugins.datasets import load_digits
from anobench_plugins.dsebm import DSEBMDetector, dsebm_noise, energy_gradient, score_matching_loss
from anobench_plugins.rules import IWAE

TINY = dict(latent_dim=4, filters=8, lr=1e-3, batch_size=64, max_epochs=2, device="cpu")


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    X = d.X_train[d.y_train == 3]
    return X[:100], X[100:], d.X_test[:60]


@pytest.fixture(scope="module")
def vae(digits):
    X, Xv, _ = digits
    return VAEDetector(random_state=0, **TINY).fit(X, Xv)


@pytest.mark.parametrize("cls, extra", [(AEDetector, {}), (VAEDetector, {}),
                                        (VAEDetector, {"likelihood": "bernoulli"}),
                                        (DSEBMDetector, {}),
                                        (DSEBMDetector, {"score_by": "gradient"})])
def test_fit_score_is_finite_and_reproducible(cls, extra, digits):
    X, Xv, Xte = digits
    a = cls(random_state=1, **TINY, **extra).fit(X, Xv)
    sa = a.score(Xte)
    assert sa.shape == (len(Xte),) and np.isfinite(sa).all()
    sb = cls(random_state=1, **TINY, **extra).fit(X, Xv).score(Xte)
    np.testing.assert_array_equal(sa, sb)
    sc = cls(random_state=2, **TINY, **extra).fit(X, Xv).score(Xte)
    assert not np.array_equal(sa, sc)
    info = a.fit_info()
    assert info["epochs"] == 2 and info["device"] == "cpu"
    assert {"best_val_loss", "last_val_loss", "stopped_early"} <= set(info)
    net = info["network"]  # which network and how big
    assert net["kind"] == "conv" and net["widths"][:3] == [8, 8, 8 * 2 * 2]
    assert net["parameters"] == sum(p.numel() for p in a.model_.parameters()) > 1000


@pytest.mark.parametrize("cls", [AEDetector, VAEDetector, DSEBMDetector])
def test_mlp_variant_on_feature_vectors(cls):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (80, 5)).astype(np.float32)
    det = cls(random_state=0, hidden=16, **TINY).fit(X[:60], X[60:])
    assert det.score(X).shape == (80,)
    net = det.fit_info()["network"]
    assert net["kind"] == "mlp" and net["widths"][:2] == [16, 16]
    assert net["parameters"] == sum(p.numel() for p in det.model_.parameters())


def test_nan_in_data_is_refused(digits):
    X, Xv, _ = digits
    bad = X.copy()
    bad[3, 0, 2, 2] = np.nan
    with pytest.raises(NonFiniteDataError, match="training data contains 1 NaN/inf"):
        AEDetector(**TINY).fit(bad, Xv)


def test_bad_parameter_is_named(digits):
    X, Xv, _ = digits
    with pytest.raises(ValueError, match="likelihood must be one of mse, bernoulli"):
        VAEDetector(likelihood="poisson", **TINY).fit(X, Xv)


def test_ae_loss_is_the_sum_of_squared_errors(digits):
    X, Xv, Xte = digits
    det = AEDetector(random_state=0, **TINY).fit(X, Xv)
    with torch.no_grad():
        x_hat = torch.sigmoid(det.model_(torch.from_numpy(Xte))).numpy()
    np.testing.assert_allclose(det.score(Xte), ((Xte - x_hat) ** 2).sum(axis=(1, 2, 3)),
                               rtol=1e-5)


# -- the posterior draw -------------------------------------------------------

def test_draw_shapes_and_expected_is_exactly_mu(vae, digits):
    _, _, Xte = digits
    a = vae.posterior_draw(Xte, n_samples=5, seed=1)
    b = vae.posterior_draw(Xte, n_samples=3, seed=2)
    assert a.recon_samples.shape == a.log_weights.shape == (5, len(Xte))
    assert a.recon_mu.shape == a.kl.shape == (len(Xte),)
    np.testing.assert_array_equal(a.recon_mu, b.recon_mu)  # deterministic
    np.testing.assert_array_equal(a.kl, b.kl)
    assert not np.array_equal(a.recon_samples[0], b.recon_samples[0])
    # recon_mu is the error of the decoder at mu, computed independently here
    x = torch.from_numpy(Xte)
    with torch.no_grad():
        mu, _ = vae.model_.encoder(x)
        ref = losses.squared_error(x, torch.sigmoid(vae.model_.decoder(mu))).numpy()
    np.testing.assert_allclose(a.recon_mu, ref, rtol=1e-5)
    assert vae.posterior_draw(Xte, n_samples=0, seed=1).recon_samples.shape == (0, len(Xte))


def test_single_sample_does_not_depend_on_how_many_are_drawn(vae, digits):
    _, _, Xte = digits
    one = vae.posterior_draw(Xte, n_samples=1, seed=9)
    many = vae.posterior_draw(Xte, n_samples=6, seed=9)
    np.testing.assert_array_equal(one.recon_samples[0], many.recon_samples[0])
    np.testing.assert_array_equal(one.log_weights[0], many.log_weights[0])
    np.testing.assert_allclose(vae.score(Xte), vae.posterior_draw(Xte, 1, vae.draw_seed_)
                               .recon_samples[0] + vae.posterior_draw(Xte, 0, 0).kl)


def test_iwae_matches_brute_force_integration_on_a_tiny_model():
    """1-d latent: -log p(x) by quadrature over z versus the IWAE rule with many samples."""
    rng = np.random.default_rng(0)
    t = rng.uniform(-2, 2, 300)
    X = np.stack([1 / (1 + np.exp(-t)), 1 / (1 + np.exp(-2 * t))], axis=1).astype(np.float32)
    det = VAEDetector(latent_dim=1, hidden=16, lr=1e-2, batch_size=50, max_epochs=40,
                      device="cpu", random_state=0).fit(X[:250], X[250:])
    Xq = X[250:256]
    draw = det.posterior_draw(Xq, n_samples=1000, seed=3)
    est = IWAE().reduce(draw, "elbo")
    z = torch.linspace(-10, 10, 40001, dtype=torch.float64)[:, None]
    with torch.no_grad():
        logits = det.model_.decoder(z.float()).double()
        x = torch.from_numpy(Xq).double()
        log_joint = torch.stack([
            losses.log_likelihood(xi.expand(len(z), -1), logits, "mse")
            + losses.log_standard_normal(z) for xi in x])  # (6, grid)
        dz = float(z[1] - z[0])
        brute = -(torch.logsumexp(log_joint, dim=1) + math.log(dz)).numpy()
    np.testing.assert_allclose(est, brute, atol=0.01)
    # and the single-sample ELBO is a looser (larger) bound on average
    assert np.mean(draw.recon_samples.mean(0) + draw.kl + math.log(math.pi)) > np.mean(est)


def test_iwae_bounds_the_sampled_kl_elbo_not_the_elbo_measure(vae, digits):
    """README: iwae <= the negative ELBO of the same samples with the sampled KL, per draw."""
    from anobench_plugins.rules import Multi

    _, _, Xte = digits
    Xte = Xte[:20]
    draw = vae.posterior_draw(Xte, n_samples=200, seed=5)
    sampled_neg_elbo = -draw.log_weights.mean(axis=0)  # mean_l (-log w_l): sampled KL
    iwae = IWAE().reduce(draw, "elbo")
    assert (iwae <= sampled_neg_elbo + 1e-9).all()
    one = vae.posterior_draw(Xte, n_samples=1, seed=5)
    np.testing.assert_allclose(IWAE().reduce(one, "elbo"), -one.log_weights[0], rtol=1e-12)
    # in expectation the sampled-KL estimate is the analytic negative ELBO with the normalised
    # Gaussian likelihood (variance 1/2: log p(x|z) = -sum of squares - d/2 log pi)
    d = Xte[0].size
    analytic = draw.recon_samples.mean(axis=0) + draw.kl + d / 2 * math.log(math.pi)
    np.testing.assert_allclose(sampled_neg_elbo, analytic, rtol=0.005)
    # but the `elbo` measure (analytic KL, no normalising constant) does not bound iwae
    assert (iwae > Multi().reduce(draw, "elbo")).all()


# -- DSEBM --------------------------------------------------------------------

@pytest.fixture(scope="module")
def dsebm(digits):
    X, Xv, _ = digits
    return DSEBMDetector(random_state=0, **TINY).fit(X, Xv)


@pytest.fixture(scope="module")
def energy64(dsebm):
    """The fitted energy network in float64 (for finite differences)."""
    return copy.deepcopy(dsebm.model_).double()


def test_energy_gradient_matches_finite_differences(energy64, digits):
    x = torch.from_numpy(digits[2][:2]).double()
    _, grad = energy_gradient(energy64, x)
    h = 1e-6
    for (i, r, c) in [(0, 3, 4), (1, 5, 2), (0, 0, 0)]:
        xp, xm = x.clone(), x.clone()
        xp[i, 0, r, c] += h
        xm[i, 0, r, c] -= h
        with torch.no_grad():
            fd = (energy64(xp)[i] - energy64(xm)[i]) / (2 * h)
        assert grad[i, 0, r, c].item() == pytest.approx(fd.item(), rel=1e-5, abs=1e-8)
    # the quadratic part's gradient is x - b; the rest comes from the encoder
    with torch.enable_grad():
        xr = x.clone().requires_grad_(True)
        (g_enc,) = torch.autograd.grad(energy64.encoder(xr).sum(), xr)
    torch.testing.assert_close(grad, x - energy64.bias - g_enc)


def test_score_matching_loss_parameter_gradient_matches_finite_differences(energy64, digits):
    """The loss differentiates through ∂E/∂x (second order): check d loss / d b numerically."""
    model = energy64
    x = torch.from_numpy(digits[2][:4]).double()

    def loss_at() -> torch.Tensor:
        gen = torch.Generator().manual_seed(0)  # same noise every call
        return score_matching_loss(model, x, dsebm_noise(0.5)(x, True, gen), train=True).sum()

    model.zero_grad()
    loss_at().backward()
    analytic = model.bias.grad[0, 2, 3].item()
    h = 1e-6
    with torch.no_grad():
        model.bias[0, 2, 3] += h
    up = loss_at().item()
    with torch.no_grad():
        model.bias[0, 2, 3] -= 2 * h
    down = loss_at().item()
    with torch.no_grad():
        model.bias[0, 2, 3] += h
    assert analytic == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-9)
    # the validation loss (train=False) uses the clean input
    _, grad = energy_gradient(model, x)
    assert dsebm_noise(0.5)(x, False, None) is None
    clean = score_matching_loss(model, x, None, train=False)
    torch.testing.assert_close(clean, (grad**2).flatten(1).mean(1))


def test_dsebm_gradient_score_is_the_gradient_norm(dsebm, digits):
    Xte = digits[2][:5]
    energy_score = dsebm.score(Xte)
    dsebm.score_by = "gradient"
    try:
        grad_score = dsebm.score(Xte)
    finally:
        dsebm.score_by = "energy"
    energy, grad = energy_gradient(dsebm.model_, torch.from_numpy(Xte))
    np.testing.assert_allclose(energy_score, energy.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(grad_score, grad.flatten(1).norm(dim=1).numpy(), rtol=1e-6)


# -- through the suite and the runner -----------------------------------------

HEAD = """
[suite]
name = "t"
seed = 0
repetitions = 1
[[datasets]]
name = "digits"
classes = [4]
"""
VAE_PARAMS = "params = { latent_dim = 4, filters = 8, lr = 1e-3, batch_size = 64, max_epochs = 2 }"


def test_vae_and_ed_vae_share_one_model(write_suite, registry, tmp_path):
    text = HEAD + f"""
[[detectors]]
name = "vae"
{VAE_PARAMS}
[[detectors]]
name = "ed-vae"
{VAE_PARAMS}
[[detectors]]
name = "vae"
label = "all"
{VAE_PARAMS}
rules = ["single", "expected", "iwae"]
n_samples = 4
"""
    suite = load_suite(write_suite(text), registry)
    assert len(model_groups(suite, registry)) == 1
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path / "res", device="cpu",
                                stream=open("/dev/null", "w"))
    assert failed == 0
    recs = [r for r in read_records(run_dir) if r["kind"] == "result"]
    assert len({r["model"] for r in recs}) == 1
    auc = {(r["column"], r["rule"]): r["value"] for r in recs if r["metric"] == "roc_auc"}
    # paired: the same trained model gives identical scores under the same rule
    assert auc[("vae", "single")] == auc[("all:single", "single")]
    assert auc[("ed-vae", "expected")] == auc[("all:expected", "expected")]
    assert ("all:iwae", "iwae") in auc


def test_rule_on_a_non_latent_detector_is_refused_at_load(write_suite, registry):
    text = HEAD + """
[[detectors]]
name = "pca"
rules = ["expected"]
"""
    with pytest.raises(SuiteError, match=r"detectors\[0\]\.rules.*'expected'.*'pca'"):
        load_suite(write_suite(text), registry)


@pytest.mark.parametrize("params, fragment", [
    ('{ likelihood = "bernouli" }', "likelihood must be one of mse, bernoulli, got 'bernouli'"),
    ("{ beta = [1.0, -0.5] }", "beta must be >= 0, got -0.5"),
    ("{ latent_dim = 0 }", "latent_dim must be a positive integer, got 0"),
    ("{ threads = -1 }", "threads must be an integer >= 0, got -1"),
])
def test_bad_parameter_values_are_refused_at_load(params, fragment, write_suite, registry):
    text = HEAD + f"""
[[detectors]]
name = "vae"
params = {params}
"""
    with pytest.raises(SuiteError, match=r"detectors\[0\]\.params: detector 'vae': ") as err:
        load_suite(write_suite(text), registry)
    assert fragment in str(err.value)


def test_iwae_with_only_the_recon_measure_is_refused_at_load(write_suite, registry):
    text = HEAD + """
[[detectors]]
name = "vae"
rules = ["iwae"]
measures = ["recon"]
"""
    with pytest.raises(SuiteError, match="'iwae' supports measures \\['elbo'\\]"):
        load_suite(write_suite(text), registry)


def test_diverging_training_is_a_recorded_cell_error(write_suite, registry, tmp_path):
    text = HEAD + """
[[detectors]]
name = "ae"
params = { latent_dim = 4, filters = 8, lr = 1e30, batch_size = 16, max_epochs = 3 }
[[detectors]]
name = "pca"
params = { n_components = 4 }
"""
    suite = load_suite(write_suite(text), registry)
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path / "res", device="cpu",
                                stream=open("/dev/null", "w"))
    assert failed == 1
    recs = read_records(run_dir, ("result", "error"))
    errors = [r for r in recs if r["kind"] == "error"]
    assert len(errors) == 1 and "DivergenceError" in errors[0]["error"]
    assert "diverged" in errors[0]["error"] and "'ae'" in errors[0]["error"]
    results = [r for r in recs if r["kind"] == "result"]
    assert results and all(r["detector"] == "pca" for r in results)
    assert all(np.isfinite(r["value"]) for r in results)
