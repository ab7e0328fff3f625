"""The report's Posterior section: does the ED gain follow the posterior's spread?

The paper (§5) argues that how much the expected latent representation helps
depends on the variance of the approximate posteriors, and Appendix A.2
forces posterior collapse with β. For runs whose cells carry posterior
statistics (:mod:`anobench.posterior`, stored in each latent cell's end
marker), this section sets the **ED gain** — metric(expected) −
metric(single), the same model scored both ways in the same cell — against
the cell's mean posterior standard deviation and its active units, across
classes and grid points (β), with Spearman's rank correlation and its
two-sided p, and draws it. A run without posterior statistics gets no
section (its report is unchanged).

:func:`posterior_blocks` is the one entry point (called by
:func:`anobench.report.build_report`); the numbers are computed here, the
words written here too, so the section lives in one module.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata, spearmanr

from anobench.atomic import atomic_path
from anobench.column import Column, grid_text
from anobench.posterior import ACTIVE_THRESHOLD, PosteriorStats
from anobench.report.figures import FIG_DIR, FIG_METRICS
from anobench.report.plots import COLORS, DPI, FIGURE_ERROR, UNAVAILABLE, Figure
from anobench.report.markup import Entry, Heading, Image, Para, TableBlock
from anobench.report.tables import metric_label
from anobench.scores import safe_cell_id

#: The pair whose difference is the ED gain: (rule of A, rule of B), A − B.
GAIN_RULES = ("expected", "single")
#: Fewest points a rank correlation is computed from.
MIN_POINTS = 3
#: σ̄ is drawn by rank when its largest value is this many times its smallest.
RANK_AXIS_SPAN = 100.0


@dataclass(frozen=True)
class GainPoint:
    """One cell's ED gain for one metric and measure, with its posterior statistics."""

    dataset: str
    pair: str  # "ed-vae − vae": the two columns, without the grid
    model: str  # the model's entry and grid point, e.g. "vae[beta=0.5]"
    grid: tuple
    normal: str
    repetition: int
    measure: str | None
    metric: str
    gain: float
    stats: PosteriorStats


@dataclass(frozen=True)
class Correlation:
    """Spearman's ρ of the ED gain against σ̄ and against the active units, over points."""

    dataset: str
    pair: str
    measure: str | None
    metric: str
    cells: int
    points: list[tuple[str, tuple, float, float, float]]  # (class, grid, gain, σ̄, active)
    rho_std: float | None
    p_std: float | None
    rho_active: float | None
    p_active: float | None


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def gain_points(records: list[dict[str, Any]], markers: list[dict[str, Any]]) -> list[GainPoint]:
    """The ED gain of every cell whose end marker holds posterior statistics."""
    stats: dict[Any, PosteriorStats] = {}
    for m in markers:
        st = PosteriorStats.from_record(m.get("posterior"))
        if st is not None:
            stats[m.get("cell")] = st
    if not stats:
        return []
    by_key: dict[tuple, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        if r.get("rule") in GAIN_RULES and not r.get("oracle") and r.get("cell") in stats:
            by_key[(r["cell"], r.get("measure"), r["metric"])].setdefault(r["rule"], r)
    out = []
    for (cell, measure, metric), pair in by_key.items():
        if len(pair) < 2:
            continue
        a, b = (pair[rule] for rule in GAIN_RULES)
        va, vb = _num(a.get("value")), _num(b.get("value"))
        if va is None or vb is None:
            continue
        ca, cb = Column.from_record(a), Column.from_record(b)
        out.append(GainPoint(str(b["dataset"]), f"{ca.base_name} − {cb.base_name}",
                             cb.label + grid_text(cb.grid), cb.grid, str(b["normal"]),
                             int(b["repetition"]), measure, str(metric), va - vb, stats[cell]))
    return out


def _spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float | None, float | None]:
    if len(x) < MIN_POINTS or len(set(x)) < 2 or len(set(y)) < 2:
        return None, None
    res = spearmanr(x, y)
    rho, p = float(res.statistic), float(res.pvalue)
    return (rho, p) if math.isfinite(rho) else (None, None)


def correlations(points: list[GainPoint]) -> list[Correlation]:
    """Per (dataset, pair, measure, metric): one point per (class, grid point), the mean of
    its repetitions; Spearman's ρ of the gain against σ̄ and against the active units."""
    groups: dict[tuple, dict[tuple, list[GainPoint]]] = defaultdict(lambda: defaultdict(list))
    for pt in points:
        groups[(pt.dataset, pt.pair, pt.measure, pt.metric)][(pt.normal, pt.grid)].append(pt)
    out = []
    for (dataset, pair, measure, metric), cells in groups.items():
        pts = [(normal, grid, float(np.mean([p.gain for p in ps])),
                float(np.mean([p.stats.std for p in ps])),
                float(np.mean([p.stats.active_units for p in ps])))
               for (normal, grid), ps in cells.items()]
        gains = [p[2] for p in pts]
        rs, ps_ = _spearman(gains, [p[3] for p in pts])
        ra, pa = _spearman(gains, [p[4] for p in pts])
        out.append(Correlation(dataset, pair, measure, metric, sum(map(len, cells.values())),
                               pts, rs, ps_, ra, pa))
    return out


# ------------------------------------------------------------------ words

def _p(p: float | None) -> str:
    return "–" if p is None else ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def _rho(rho: float | None, p: float | None, alpha: float) -> Entry:
    if rho is None:
        return Entry("–")
    return Entry(f"{rho:+.2f}", bold=p is not None and p < alpha)


INTRO = ("ED gain = metric(expected) − metric(single), ×100: the same trained model scored "
         "with the decoder at the posterior mean and at one sampled z, in the same cell. It is "
         "set against that cell's posterior on its test set: σ̄ = the mean posterior standard "
         "deviation over examples and latent dimensions; active units = latent dimensions with "
         f"Var_x(E[z|x]) > {ACTIVE_THRESHOLD:g} (Burda et al. 2016). The paper (§5) ties the gain "
         "to the posteriors' variance: ρ > 0 says the gain grows with σ̄ (or with the active "
         "units), ρ < 0 that it shrinks.")


def correlation_table(corrs: list[Correlation], alpha: float) -> TableBlock:
    rows = []
    for c in corrs:
        mean_gain = 100 * float(np.mean([p[2] for p in c.points]))
        rows.append([Entry(c.dataset), Entry(c.pair), Entry(c.measure or "–"),
                     Entry(metric_label(c.metric)), Entry(f"{len(c.points)} ({c.cells})"),
                     Entry(f"{mean_gain:+.2f}"), _rho(c.rho_std, c.p_std, alpha),
                     Entry(_p(c.p_std)), _rho(c.rho_active, c.p_active, alpha),
                     Entry(_p(c.p_active))])
    note = (f"Spearman's ρ over points = (class, grid point) pairs, each the mean of its "
            f"repetitions (cells in brackets); two-sided p, not corrected for the rows; bold: "
            f"p < α = {alpha:g}. Fewer than {MIN_POINTS} points, or a constant variable: –. "
            "The repetitions resample the anomaly draw and the training seed.")
    return TableBlock(["dataset", "gain", "measure", "metric", "points (cells)", "mean gain",
                       "ρ gain~σ̄", "p", "ρ gain~active units", "p"], rows,
                      title="ED gain against the posterior", note=note)


def summary_table(points: list[GainPoint]) -> TableBlock:
    """Per model (entry and grid point): the posterior statistics, mean over its cells."""
    cells: dict[tuple[str, str], dict[tuple[str, int], PosteriorStats]] = defaultdict(dict)
    for p in points:
        cells[(p.dataset, p.model)][(p.normal, p.repetition)] = p.stats
    rows = []
    for (dataset, model), by_cell in cells.items():
        st = list(by_cell.values())

        def mean(attr: str, st: list[PosteriorStats] = st) -> str:
            vals = [getattr(s, attr) for s in st if math.isfinite(getattr(s, attr))]
            return f"{np.mean(vals):.4g}" if vals else "–"

        rows.append([Entry(dataset), Entry(model), Entry(str(len(st))), Entry(mean("variance")),
                     Entry(mean("variance_normal")), Entry(mean("variance_anomaly")),
                     Entry(mean("std")),
                     Entry(f"{np.mean([s.active_units for s in st]):.1f} of {st[0].dims}"),
                     Entry(f"{np.mean([s.kl for s in st]):.4g}")])
    note = ("Means over the cells (classes × repetitions) of each model. σ̄²: mean posterior "
            "variance over examples and dimensions, on the whole test set, its normals and its "
            "anomalies; KL: mean KL(q(z|x) ‖ N(0, I)) in nats, the sum of the per-dimension "
            "KL stored with each cell.")
    return TableBlock(["dataset", "model", "cells", "σ̄²", "σ̄² normals", "σ̄² anomalies", "σ̄",
                       "active units", "KL"], rows, title="Posterior statistics", note=note)


def by_rank(c: Correlation) -> bool:
    """Whether the figure draws σ̄ by rank (it spans more than :data:`RANK_AXIS_SPAN`)."""
    stds = [p[3] for p in c.points]
    return min(stds) > 0 and max(stds) / min(stds) > RANK_AXIS_SPAN


def caption(c: Correlation) -> str:
    left = ("the rank of the mean posterior standard deviation σ̄ (left; σ̄ spans "
            f"{min(p[3] for p in c.points):.3g} to {max(p[3] for p in c.points):.3g})"
            if by_rank(c) else "the mean posterior standard deviation σ̄ (left)")
    return (f"{c.dataset}: ED gain ({c.pair}, {metric_label(c.metric)}"
            f"{', measure ' + c.measure if c.measure else ''}, ×100) against {left} and the "
            f"active units (right); one point per class and "
            f"grid point, the mean of its repetitions; Spearman ρ = "
            f"{'–' if c.rho_std is None else f'{c.rho_std:+.2f}'} (p {_p(c.p_std)}) and "
            f"{'–' if c.rho_active is None else f'{c.rho_active:+.2f}'} (p {_p(c.p_active)}).")


# ------------------------------------------------------------------ figure

def gain_figure(run_dir: Path, c: Correlation) -> tuple[Path, Path]:
    """Two panels: gain ×100 against σ̄ and against active units; colour = grid point."""
    grids = list(dict.fromkeys(p[1] for p in c.points))
    fig = Figure(figsize=(9.0, 3.6))
    axes = fig.subplots(1, 2)
    stds = [p[3] for p in c.points]
    spread = by_rank(c)
    # σ̄ spanning decades (β = 0: unpenalised posteriors) is drawn by rank, as ρ sees it
    xstd = list(rankdata(stds)) if spread else stds
    label = (f"rank of mean posterior std σ̄ ({min(stds):.3g} to {max(stds):.3g})" if spread
             else "mean posterior std σ̄")
    for ax, xs, xlabel in ((axes[0], xstd, label),
                           (axes[1], [p[4] for p in c.points], "active units")):
        for gi, grid in enumerate(grids):
            idx = [i for i, p in enumerate(c.points) if p[1] == grid]
            ax.scatter([xs[i] for i in idx], [100 * c.points[i][2] for i in idx], s=22,
                       color=COLORS[gi % len(COLORS)], label=grid_text(grid) or None)
            for i in idx:
                ax.annotate(c.points[i][0], (xs[i], 100 * c.points[i][2]), fontsize=6,
                            xytext=(2, 2), textcoords="offset points")
        ax.axhline(0.0, color="#999", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"ED gain ×100 ({metric_label(c.metric)})")
    if len(grids) > 1:
        axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle(f"{c.dataset}: {c.pair}" + (f", measure {c.measure}" if c.measure else ""),
                 fontsize=10)
    pair = c.pair.replace(" − ", "-vs-")
    stem = Path(run_dir) / FIG_DIR / safe_cell_id("-".join(
        x for x in ("posterior", c.dataset, pair, c.measure or "", c.metric) if x))
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    for path, kw in ((png, {"dpi": DPI}), (svg, {"metadata": {"Date": None}})):
        with atomic_path(path, within=stem.parent, keep_suffix=True, error=FIGURE_ERROR) as tmp:
            fig.savefig(tmp, bbox_inches="tight", **kw)
    return png, svg


# ------------------------------------------------------------------ the section

def posterior_blocks(run_dir: Path, markers: list[dict[str, Any]], records: list[dict[str, Any]],
                     *, metrics: Sequence[str] | None = (), alpha: float = 0.05,
                     figures: bool = True) -> list:
    """The Posterior section's blocks, or ``[]`` for a run without posterior statistics."""
    points = [p for p in gain_points(records, markers) if not metrics or p.metric in metrics]
    if not points:
        return []
    corrs = correlations(points)
    blocks: list = [Heading("Posterior"), Para(INTRO), correlation_table(corrs, alpha),
                    summary_table(points)]
    if figures and not UNAVAILABLE:
        for c in corrs:
            first = next((m for m in FIG_METRICS if any(x.metric == m for x in corrs)), None)
            if c.metric == first and len(c.points) >= 2:
                png, svg = gain_figure(run_dir, c)
                blocks.append(Image(png, svg, caption(c)))
    return blocks
