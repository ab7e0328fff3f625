"""Posterior statistics per cell (anobench.posterior) and the report's Posterior section."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic_runs import make_records, write_run  # noqa: E402

import anobench.report as report_pkg  # noqa: E402
from anobench.posterior import PosteriorStats, posterior_stats  # noqa: E402
from anobench.report import build_report  # noqa: E402
from anobench.report.markup import Image, to_markdown  # noqa: E402
from anobench.report.posterior import posterior_blocks  # noqa: E402
from anobench.store import load_store  # noqa: E402


def test_statistics_against_a_direct_computation():
    rng = np.random.default_rng(1)
    n = 200
    mu = np.stack([rng.normal(0, 1.0, n),  # active
                   rng.normal(0, 0.05, n),  # Var 0.0025 < 0.01: inactive
                   rng.normal(0, 0.2, n)], axis=1)  # Var ~0.04: active
    logvar = rng.normal(-1, 0.3, size=(n, 3))
    y = (np.arange(n) < 40).astype(int)
    st = posterior_stats(mu, logvar, y)
    assert st.dims == 3 and st.active_units == 2
    var = np.exp(logvar)
    assert st.variance == pytest.approx(var.mean())
    assert st.variance_anomaly == pytest.approx(var[:40].mean())
    assert st.variance_normal == pytest.approx(var[40:].mean())
    assert st.std == pytest.approx(np.sqrt(var).mean())
    kl = 0.5 * (var + mu**2 - 1 - logvar)
    np.testing.assert_allclose(st.kl_per_dim, kl.mean(axis=0))
    assert st.kl == pytest.approx(kl.sum(axis=1).mean())
    back = PosteriorStats.from_record(json.loads(json.dumps(st.record())))
    assert back == st


def test_a_test_set_without_anomalies_has_no_anomaly_mean():
    st = posterior_stats(np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(4))
    assert st.record()["variance_anomaly"] is None
    assert np.isnan(PosteriorStats.from_record(st.record()).variance_anomaly)


COLUMNS = {"vae": {"rule": "single", "measure": "elbo", "model": "m"},
           "ed-vae": {"rule": "expected", "measure": "elbo", "model": "m"},
           "pca": {"model": "p"}}


def _value(col, c, rep):
    gain = 0.01 * c  # the ED gain grows with the class index ...
    return 0.8 + 0.001 * rep + (gain if col == "ed-vae" else 0.0) - (0.02 if col == "pca" else 0)


def _with_posterior(run: Path) -> Path:
    """Give each latent cell's end marker posterior statistics: σ grows with the class index,
    the active units fall with it."""
    lines = []
    for line in (run / "records.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["kind"] == "cell" and rec["cell"].endswith("/m"):
            _, c, rep, _ = rec["cell"].split("/")
            sd = 0.1 + 0.05 * int(c) + 0.001 * int(rep)
            rec["posterior"] = PosteriorStats(4, sd**2, sd**2, sd**2, sd, sd, sd, 4 - int(c) // 2,
                                              (0.5, 0.5, 0.0, 0.0)).record()
        lines.append(json.dumps(rec))
    (run / "records.jsonl").write_text("\n".join(lines) + "\n")
    return run


def test_the_section_correlates_the_ed_gain_with_the_posterior(tmp_path):
    run = _with_posterior(write_run(tmp_path, make_records(_value, COLUMNS, classes=range(6),
                                                           reps=3), reps=3))
    md = to_markdown(build_report(run, figures=False).blocks, run)
    section = md[md.index("## Posterior"):]
    rows = [[c.strip() for c in r.split("|")[1:-1]] for r in section.splitlines()
            if r.startswith("| d ")]
    cells = next(r for r in rows if r[3] == "AUC")
    assert cells[1] == "ed-vae − vae" and cells[4] == "6 (18)"
    assert cells[5] == f"{100 * np.mean([0.01 * c for c in range(6)]):+.2f}"
    assert cells[6] == "**+1.00**"  # the gain rises with σ̄: ρ = +1, significant
    want = spearmanr(range(6), [4 - c // 2 for c in range(6)])
    assert cells[8] == f"**{want.statistic:+.2f}**"  # and falls with the active units
    assert cells[9] == (f"{want.pvalue:.4f}" if want.pvalue >= 1e-4 else "<0.0001")
    assert "### Posterior statistics" in section and "3.0 of 4" in section
    store = load_store(run)
    blocks = posterior_blocks(run, store.records(("cell",)), store.records(), figures=True)
    (image,) = [b for b in blocks if isinstance(b, Image)]  # one figure: AUC, measure elbo
    assert image.png.is_file() and "ρ = +1.00" in image.caption


def test_a_run_without_posterior_statistics_has_the_same_report(tmp_path, monkeypatch):
    run = write_run(tmp_path, make_records(_value, COLUMNS, classes=range(6), reps=3), reps=3)
    md = to_markdown(build_report(run, figures=False).blocks, run)
    monkeypatch.setattr(report_pkg, "posterior_blocks", lambda *a, **k: [])
    assert to_markdown(build_report(run, figures=False).blocks, run) == md
    assert "Posterior" not in md


def test_a_sigma_spanning_decades_is_drawn_by_rank(tmp_path):
    from anobench.report.posterior import Correlation, by_rank, caption, gain_figure

    pts = [(str(c), (("beta", b),), 0.01 * c, s, 30.0 - c)
           for c, (b, s) in enumerate([(0.0, 0.2), (0.0, 5e9), (1.0, 0.9), (1.0, 0.95)])]
    c = Correlation("d", "ed-vae − vae", "elbo", "roc_auc", 4, pts, 0.4, 0.6, -0.8, 0.2)
    assert by_rank(c) and "rank of the mean posterior standard deviation" in caption(c)
    png, _ = gain_figure(tmp_path, c)
    assert png.is_file()
    narrow = Correlation("d", "ed-vae − vae", "elbo", "roc_auc", 2, pts[2:], None, None, None,
                         None)
    assert not by_rank(narrow) and "rank" not in caption(narrow)
