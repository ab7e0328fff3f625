"""Drawing primitives of the report's figures, on plain numbers (matplotlib, headless).

No pyplot: each figure is a :class:`matplotlib.figure.Figure` on the Agg canvas,
written as PNG and SVG through one atomic write (:func:`_save`), its user text
shown literally (:mod:`anobench.escape`: control characters visible, ``$`` not
math). Which figures a report gets, and from what, is :mod:`anobench.report.figures`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import auc, precision_recall_curve, roc_curve

from anobench import escape
from anobench.atomic import atomic_path

try:
    from matplotlib.figure import Figure
except ImportError:  # matplotlib is a dependency; a broken install lacks it
    Figure = None  # type: ignore[misc,assignment]  # no matplotlib: UNAVAILABLE says why

#: Why figures cannot be drawn, or "" when they can.
UNAVAILABLE = ("" if Figure is not None else
               "figures need matplotlib, a dependency of anobench: pip install matplotlib")


DPI = 110
#: The words of the error when a figure cannot be written (a full disk).
FIGURE_ERROR = "cannot write the figure"
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]


def _save(fig: Any, stem: Path, *, tight: bool = True) -> tuple[Path, Path]:
    """Lay out (``tight``) and write ``stem.png`` and ``stem.svg``.

    Every text of the figure is user text to matplotlib: ``$`` does not start
    math mode and control characters are made visible (:mod:`anobench.escape`).
    """
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        text.set_parse_math(False)
        text.set_text(escape.visible(text.get_text()))
    if tight:
        fig.tight_layout()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    for path, kw in ((png, {"dpi": DPI}), (svg, {"metadata": {"Date": None}})):
        with atomic_path(path, within=stem.parent, keep_suffix=True, error=FIGURE_ERROR) as tmp:
            fig.savefig(tmp, bbox_inches="tight", **kw)  # a full disk: the old figure kept
    return png, svg


def cd_diagram(names: Sequence[str], avg_ranks: Sequence[float] | np.ndarray, cd: float | None,
               groups: Sequence[tuple[int, int]], stem: Path, title: str = "") -> tuple[Path, Path]:
    """Critical-difference diagram; ``groups`` index the columns in rank order."""
    order = np.argsort(avg_ranks, kind="stable")
    ranks = np.asarray(avg_ranks, dtype=float)[order]
    labels = [names[i] for i in order]
    k = len(labels)
    half = (k + 1) // 2
    height = 1.2 + 0.28 * half + 0.18 * len(groups)
    fig = Figure(figsize=(7.5, height))
    ax = fig.add_axes((0.22, 0.0, 0.56, 0.86 if title else 1.0))
    lo, hi = 1, max(k, 2)
    ax.set_xlim(lo - 0.05, hi + 0.05)
    top = 0.0
    bottom = -(0.6 + 0.28 * half + 0.18 * len(groups))
    ax.set_ylim(bottom, 0.9)
    ax.axis("off")
    ax.hlines(top, lo, hi, color="k", lw=1)
    for r in range(lo, hi + 1):
        ax.vlines(r, top, top + 0.1, color="k", lw=1)
        ax.text(r, top + 0.15, str(r), ha="center", va="bottom", fontsize=9)
    if cd:
        ax.hlines(top + 0.6, lo, lo + cd, color="k", lw=2)
        ax.vlines([lo, lo + cd], top + 0.55, top + 0.65, color="k", lw=1)
        ax.text(lo + cd / 2, top + 0.68, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
    gy = top - 0.15
    for i, (a, b) in enumerate(groups):
        y = gy - 0.18 * i
        ax.hlines(y, ranks[a] - 0.03, ranks[b] + 0.03, color="k", lw=3)
    ybase = gy - 0.18 * len(groups) - 0.15
    for i, (label, r) in enumerate(zip(labels, ranks)):
        left = i < half
        row = i if left else k - 1 - i
        y = ybase - 0.28 * row
        x_end = lo - 0.1 if left else hi + 0.1
        ax.plot([r, r, x_end], [top, y, y], color="k", lw=0.8, clip_on=False)
        ax.text(x_end + (-0.05 if left else 0.05), y, f"{label} ({r:.2f})",
                ha="right" if left else "left", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10, y=0.99)
    return _save(fig, stem, tight=False)


def _panel_grid(n: int, ncols: int = 5) -> tuple[int, int]:
    ncols = min(ncols, max(n, 1))
    return math.ceil(n / ncols), ncols


def rules_per_class(classes: Sequence[str], rules: Sequence[str],
                    mean: np.ndarray, err: np.ndarray, stem: Path, *, ylabel: str,
                    title: str = "") -> tuple[Path, Path]:
    """Per class (panel) mean ± SEM of each rule; ``mean``/``err``: (classes, rules)."""
    nrows, ncols = _panel_grid(len(classes))
    width = max(2.3, 0.22 * len(rules) + 0.9)  # room for each rule's label, written upright
    label_room = 0.09 * max((len(r) for r in rules), default=0) if len(rules) > 3 else 0.2
    fig = Figure(figsize=(width * ncols + 0.6, (2.0 + label_room) * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    x = np.arange(len(rules))
    for i, cls in enumerate(classes):
        ax = axes[i // ncols][i % ncols]
        for j in range(len(rules)):
            ax.errorbar(x[j], 100 * mean[i, j], yerr=100 * np.nan_to_num(err[i, j]), fmt="o",
                        color=COLORS[j % len(COLORS)], capsize=3, ms=5)
        ax.set_title(f"class {cls}", fontsize=9)
        ax.set_xticks(x, list(rules), fontsize=8, rotation=90 if len(rules) > 3 else 0)
        ax.tick_params(axis="y", labelsize=8)
        ax.margins(x=0.2)
        ax.grid(axis="y", alpha=0.3)
        if i % ncols == 0:
            ax.set_ylabel(f"{ylabel} ×100", fontsize=9)
    for i in range(len(classes), nrows * ncols):
        axes[i // ncols][i % ncols].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, stem)


def grid_sweep(classes: Sequence[str], xs: Sequence[float] | np.ndarray, a: np.ndarray,
               b: np.ndarray, stem: Path, *, labels: tuple[str, str], xlabel: str, ylabel: str,
               title: str = "") -> tuple[Path, Path]:
    """Metric against a grid parameter per class: A and B, and A − B in the row below.

    ``a``, ``b``: (classes, len(xs)) means over repetitions (NaN = missing).
    """
    n = len(classes)
    rows, ncols = _panel_grid(n)
    fig = Figure(figsize=(2.4 * ncols + 0.6, 2.0 * 2 * rows + 0.8))
    axes = fig.subplots(2 * rows, ncols, squeeze=False, sharex=True)
    xs = np.asarray(xs, dtype=float)
    diff = 100 * (np.asarray(a) - np.asarray(b))
    dlim = np.nanmax(np.abs(diff)) * 1.15 if np.isfinite(diff).any() else 1.0
    for i, cls in enumerate(classes):
        r, c = divmod(i, ncols)
        ax, axd = axes[2 * r][c], axes[2 * r + 1][c]
        ax.plot(xs, 100 * a[i], "o-", ms=3, color=COLORS[1], label=labels[0])
        ax.plot(xs, 100 * b[i], "s-", ms=3, color=COLORS[0], label=labels[1])
        ax.set_title(f"class {cls}", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        axd.axhline(0, color="k", lw=0.8)
        axd.bar(xs, diff[i], width=0.8 * (np.min(np.diff(xs)) if len(xs) > 1 else 1.0),
                color=np.where(diff[i] >= 0, COLORS[2], COLORS[1]))
        axd.set_ylim(-dlim, dlim)
        axd.tick_params(labelsize=8)
        axd.grid(alpha=0.3)
        if c == 0:
            ax.set_ylabel(f"{ylabel} ×100", fontsize=8)
            axd.set_ylabel(f"{labels[0]} − {labels[1]}", fontsize=8)
        if r == rows - 1 or i + ncols >= n:
            axd.set_xlabel(xlabel, fontsize=9)
    for i in range(n, rows * ncols):
        r, c = divmod(i, ncols)
        axes[2 * r][c].set_visible(False)
        axes[2 * r + 1][c].set_visible(False)
    axes[0][0].legend(fontsize=7, loc="lower left")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, stem)


def roc_pr_curves(labels: np.ndarray, scores: dict[str, np.ndarray], stem: Path,
                  title: str = "") -> tuple[Path, Path]:
    """ROC and precision–recall curves of several score columns on one test set."""
    fig = Figure(figsize=(10, 4.4))
    ax_roc, ax_pr = fig.subplots(1, 2)
    y = np.asarray(labels)
    for j, (name, s) in enumerate(scores.items()):
        color = COLORS[j % len(COLORS)]
        fpr, tpr, _ = roc_curve(y, s)
        ax_roc.plot(fpr, tpr, color=color, lw=1.3, label=f"{name} (AUC {100 * auc(fpr, tpr):.1f})")
        prec, rec, _ = precision_recall_curve(y, s)
        ax_pr.plot(rec, prec, color=color, lw=1.3,
                   label=f"{name} (PR-AUC {100 * auc(rec, prec):.1f})")
    ax_roc.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    ax_pr.axhline(float(np.mean(y)), color="0.6", lw=0.8, ls="--")
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC",
               xlim=(0, 1), ylim=(0, 1.01))
    ax_pr.set(xlabel="recall", ylabel="precision", title="precision–recall (anomaly = positive)",
              xlim=(0, 1), ylim=(0, 1.01))
    for ax in (ax_roc, ax_pr):
        ax.legend(fontsize=7, loc="lower right" if ax is ax_roc else "lower left")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, stem)
