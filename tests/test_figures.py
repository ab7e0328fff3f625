"""Figures: every plot writes a non-empty PNG and SVG, headless."""
from __future__ import annotations

import numpy as np
from _synthetic_runs import make_records

from anobench.report import figures as plots
from anobench.report.figures import sweep_figures
from anobench.report.render_stats import caption
from anobench.report.statistics import pair_tests
from anobench.report.tables import build_tables


def _ok(paths):
    png, svg = paths
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 2000
    assert b"<svg" in svg.read_bytes()[:2000]


def test_each_plot_writes_png_and_svg(tmp_path):
    _ok(plots.cd_diagram(["a", "b", "c", "d"], [1.2, 2.0, 3.1, 3.7], 1.5, [(0, 1), (1, 3)],
                         tmp_path / "cd", title="t"))
    m = np.array([[0.9, 0.8], [0.7, 0.75]])
    _ok(plots.rules_per_class(["0", "1"], ["expected", "single"], m, m * 0.01,
                              tmp_path / "rules", ylabel="AUC"))
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30), np.ones(8)]
    _ok(plots.roc_pr_curves(y, {"a": rng.normal(size=38) + y, "b": rng.normal(size=38)},
                            tmp_path / "curves"))


def test_sweep_figure_from_grid_columns(tmp_path):
    cols = {}
    for b in (0.0, 0.5, 1.0):
        for name, rule in (("vae", "single"), ("ed-vae", "expected")):
            cols[f"{name}[beta={b:g}]"] = {"rule": rule, "measure": "elbo", "model": f"m{b}",
                                           "grid": {"beta": b}}
    recs = make_records(lambda col, c, r: 0.8 + 0.01 * c + (0.02 if col[0] == "e" else 0),
                        cols, classes=range(3), reps=2, metrics=("roc_auc",))
    tables = build_tables(recs)
    figs = sweep_figures(tmp_path, tables, [pair_tests(tables, "ed-vae", "vae")])
    assert [f.kind for f in figs] == ["sweep"]
    assert "against beta" in caption(figs[0])
    _ok((figs[0].png, figs[0].svg))
