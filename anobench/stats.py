"""Statistical tests for comparing detector columns (pure functions).

Paired comparison of two columns
    :func:`paired_comparison` — Wilcoxon signed-rank test on paired values
    (repetitions of one class, or class means across classes), two-sided,
    zero differences dropped (Wilcoxon's method). The p-value is exact (the
    permutation distribution of the signed ranks, conditional on tied ranks)
    up to :data:`EXACT_MAX` non-zero pairs, a normal approximation with tie
    and continuity correction above. With fewer pairs than
    :func:`min_pairs` no p-value below alpha is possible, so none is
    reported ("no test"). Effect sizes: matched-pairs rank-biserial
    correlation and the median difference with a seeded percentile
    bootstrap confidence interval. Win/tie/loss counts.

Multiple comparisons
    :func:`adjust` — Holm's step-down, Bonferroni, or none.

Several columns at once
    :func:`friedman` over blocks (rows = blocks, e.g. (dataset, class);
    columns = detectors; higher values are better), average ranks (rank 1 =
    best), the Nemenyi critical difference :func:`nemenyi_cd`, pairwise
    Nemenyi p-values and the groups of columns a CD diagram connects.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import stats as _st

#: Largest number of non-zero differences for which the exact p is computed.
EXACT_MAX = 50
#: Differences with ``|a - b| <= TIE_TOL * max(1, |a|, |b|)`` count as ties.
TIE_TOL = 1e-12

CORRECTIONS = {
    "holm": "Holm's step-down (Holm–Bonferroni)",
    "bonferroni": "Bonferroni",
    "none": "no correction",
}


def min_pairs(alpha: float) -> int:
    """Fewest non-zero pairs for which an exact two-sided p can fall below ``alpha``.

    The smallest two-sided exact p-value with ``n`` pairs is ``2 / 2**n``.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = 1
    while 2.0 ** (1 - n) >= alpha:
        n += 1
    return n


def smallest_corrected_p(n: int, m: int, correction: str) -> float:
    """Smallest attainable corrected p of ``m`` exact tests with ``n`` pairs each.

    The smallest exact two-sided p with ``n`` pairs is ``2 / 2**n``; Holm and
    Bonferroni multiply the smallest p of a family by ``m``.
    """
    p = 2.0 ** (1 - n)
    return p if correction == "none" else min(1.0, p * m)


def midranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` (ascending), ties sharing the mean rank."""
    return _st.rankdata(np.asarray(x, dtype=np.float64), method="average")


def _nonzero_differences(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples need equal 1-d shapes, got {a.shape} and {b.shape}")
    d = a - b
    tol = TIE_TOL * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    zero = np.abs(d) <= tol
    return d, zero


def signed_rank_null(ranks: np.ndarray) -> tuple[np.ndarray, int]:
    """Exact null distribution of ``T+`` (sum of positive ranks).

    Every sign assignment of the given (possibly tied, half-integer) ranks is
    equally likely. Returns ``(counts, scale)``: ``counts[s]`` is the number of
    assignments with ``T+ = s / scale`` (``scale = 2`` so midranks are integers).
    """
    r2 = np.rint(2 * np.asarray(ranks, dtype=np.float64)).astype(np.int64)
    counts = np.zeros(int(r2.sum()) + 1, dtype=np.float64)
    counts[0] = 1.0
    top = 0
    for r in r2:
        # each rank either joins T+ or not; float64 sums of counts < 2**53 are exact
        counts[r:top + r + 1] += counts[:top + 1].copy()
        top += int(r)
    return counts, 2


def wilcoxon_signed_rank(d: np.ndarray) -> tuple[float, float, str]:
    """Two-sided Wilcoxon signed-rank test of non-zero differences ``d``.

    Returns ``(T+, p, method)``; ``method`` is ``"exact"`` or ``"normal"``.
    """
    d = np.asarray(d, dtype=np.float64)
    n = len(d)
    if n == 0:
        raise ValueError("no non-zero differences")
    ranks = midranks(np.abs(d))
    t_plus = float(ranks[d > 0].sum())
    if n <= EXACT_MAX:
        counts, scale = signed_rank_null(ranks)
        total = counts.sum()
        k = round(t_plus * scale)
        lower = counts[:k + 1].sum() / total
        upper = counts[k:].sum() / total
        return t_plus, float(min(1.0, 2.0 * min(lower, upper))), "exact"
    mean = n * (n + 1) / 4.0
    _, tie_counts = np.unique(ranks, return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24.0 - float(((tie_counts ** 3) - tie_counts).sum()) / 48.0
    diff = t_plus - mean
    z = (diff - math.copysign(0.5, diff)) / math.sqrt(var) if diff else 0.0
    return t_plus, float(min(1.0, 2.0 * _st.norm.sf(abs(z)))), "normal"


def rank_biserial(d: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation ``(R+ - R-) / (R+ + R-)`` of non-zero ``d``.

    +1: every pair favours the first column; -1: every pair the second.
    """
    d = np.asarray(d, dtype=np.float64)
    d = d[d != 0]
    if not len(d):
        return 0.0
    ranks = midranks(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def bootstrap_median_ci(d: np.ndarray, *, level: float = 0.95, n_boot: int = 2000,
                        seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the median of ``d`` (seeded)."""
    d = np.asarray(d, dtype=np.float64)
    if len(d) < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))
    meds = np.median(d[idx], axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(meds, [tail, 100.0 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of column A against column B (differences A − B)."""

    n: int  # pairs
    wins: int  # A > B
    ties: int
    losses: int  # A < B
    mean_diff: float
    median_diff: float
    ci: tuple[float, float]  # bootstrap CI of the median difference
    rank_biserial: float
    statistic: float | None  # T+ (sum of ranks of positive differences)
    p: float | None  # two-sided; None when no test was possible
    method: str  # "exact", "normal", or why there is no test

    @property
    def tested(self) -> bool:
        return self.p is not None

    def better(self, alpha: float, p: float | None = None) -> bool:
        """A significantly better than B at ``alpha`` (``p`` overrides, e.g. adjusted)."""
        p = self.p if p is None else p
        return p is not None and p < alpha and self.rank_biserial > 0


def paired_comparison(a, b, *, alpha: float = 0.05, n_boot: int = 2000,
                      seed: int = 0) -> PairedResult:
    """Compare paired samples ``a`` and ``b`` (higher is better).

    Wilcoxon signed-rank, two-sided, zeros dropped. When fewer than
    :func:`min_pairs` ``(alpha)`` pairs exist, no test is run and ``method``
    says why; when every difference is zero, ``p = 1``.
    """
    d, zero = _nonzero_differences(a, b)
    n = len(d)
    nz = d[~zero]
    wins, losses = int((nz > 0).sum()), int((nz < 0).sum())
    ties = n - wins - losses
    dd = np.where(zero, 0.0, d)
    med = float(np.median(dd)) if n else float("nan")
    mean = float(np.mean(dd)) if n else float("nan")
    ci = bootstrap_median_ci(dd, n_boot=n_boot, seed=seed)
    rb = rank_biserial(nz)
    need = min_pairs(alpha)
    if n < need:
        return PairedResult(n, wins, ties, losses, mean, med, ci, rb, None, None,
                            f"n={n}<{need}: no test")
    if not len(nz):
        return PairedResult(n, wins, ties, losses, mean, med, ci, rb, 0.0, 1.0,
                            "all differences zero")
    t_plus, p, method = wilcoxon_signed_rank(nz)
    return PairedResult(n, wins, ties, losses, mean, med, ci, rb, t_plus, p, method)


def adjust(pvalues, method: str = "holm") -> list[float | None]:
    """Adjusted p-values for one family; ``None`` entries (no test) stay ``None``.

    ``holm``: Holm's step-down, ``p_(i) * (m - i + 1)`` made monotone, capped at 1;
    ``bonferroni``: ``p * m``; ``none``: unchanged. ``m`` counts tested entries only.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; known: {', '.join(CORRECTIONS)}")
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    out: list[float | None] = [None] * len(pvalues)
    m = len(idx)
    if method == "none":
        for i in idx:
            out[i] = float(pvalues[i])
        return out
    if method == "bonferroni":
        for i in idx:
            out[i] = min(1.0, float(pvalues[i]) * m)
        return out
    order = sorted(idx, key=lambda i: pvalues[i])
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, float(pvalues[i]) * (m - rank)))
        out[i] = running
    return out


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Mean rank per column over rows; rank 1 = highest value in a row, ties share."""
    values = np.asarray(values, dtype=np.float64)
    ranks = np.vstack([midranks(-row) for row in values])
    return ranks.mean(axis=0)


@dataclass(frozen=True)
class FriedmanResult:
    k: int  # columns
    n: int  # blocks
    avg_ranks: np.ndarray
    statistic: float | None  # chi-square, tie-corrected
    p: float | None
    cd: float | None  # Nemenyi critical difference at alpha
    alpha: float
    method: str


def friedman(values: np.ndarray, *, alpha: float = 0.05) -> FriedmanResult:
    """Friedman test over blocks (rows) of ``values`` (higher is better).

    The statistic is corrected for ties within blocks (as in
    ``scipy.stats.friedmanchisquare``). Needs at least 3 columns and 2 blocks
    for a test; the average ranks are always returned.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be blocks x columns, got shape {values.shape}")
    n, k = values.shape
    if n == 0 or k < 2:
        raise ValueError(f"need at least one block and two columns, got {n}x{k}")
    if np.isnan(values).any():
        raise ValueError("values contain NaN")
    ranks = np.vstack([midranks(-row) for row in values])
    avg = ranks.mean(axis=0)
    cd = nemenyi_cd(k, n, alpha) if k >= 2 else None
    if k < 3 or n < 2:
        why = f"k={k}<3 columns" if k < 3 else f"n={n}<2 blocks"
        return FriedmanResult(k, n, avg, None, None, cd, alpha, f"{why}: no test")
    sums = ranks.sum(axis=0)
    chi2 = 12.0 / (n * k * (k + 1)) * float((sums ** 2).sum()) - 3.0 * n * (k + 1)
    ties = 0.0
    for row in ranks:
        _, c = np.unique(row, return_counts=True)
        ties += float((c ** 3 - c).sum())
    denom = 1.0 - ties / (n * k * (k * k - 1))
    if denom <= 0:  # every block entirely tied
        return FriedmanResult(k, n, avg, 0.0, 1.0, cd, alpha, "all blocks tied")
    chi2 /= denom
    return FriedmanResult(k, n, avg, chi2, float(_st.chi2.sf(chi2, k - 1)), cd, alpha,
                          "chi-square")


@cache
def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Critical value q_alpha of the Nemenyi test (studentized range / sqrt 2)."""
    return float(_st.studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Critical difference of average ranks: ``q_alpha * sqrt(k (k + 1) / (6 n))`` (Demšar 2006)."""
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))


def nemenyi_pvalues(avg_ranks: np.ndarray, n: int) -> np.ndarray:
    """Pairwise Nemenyi p-values from average ranks over ``n`` blocks (k x k)."""
    r = np.asarray(avg_ranks, dtype=np.float64)
    k = len(r)
    se = math.sqrt(k * (k + 1) / (6.0 * n))
    out = np.ones((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            q = abs(r[i] - r[j]) / se * math.sqrt(2.0)
            out[i, j] = out[j, i] = float(_st.studentized_range.sf(q, k, np.inf))
    return out


def cd_groups(avg_ranks: np.ndarray, cd: float) -> list[tuple[int, int]]:
    """Maximal runs of columns (in rank order) whose rank spread is below ``cd``.

    Returns ``(first, last)`` positions in ``argsort(avg_ranks)`` order; only
    runs of at least two columns, none contained in another.
    """
    r = np.sort(np.asarray(avg_ranks, dtype=np.float64))
    k = len(r)
    runs = []
    for i in range(k):
        j = i
        while j + 1 < k and r[j + 1] - r[i] < cd:
            j += 1
        if j > i:
            runs.append((i, j))
    return [(i, j) for i, j in runs
            if not any(a <= i and j <= b and (a, b) != (i, j) for a, b in runs)]
