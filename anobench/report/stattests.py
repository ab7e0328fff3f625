"""Statistical tests on arrays — numbers only (scipy where it computes the same thing).

Hand-written only Holm's correction, the rank-biserial correlation and the
CD-diagram groups, each checked against a reference in ``tests/test_statistics.py``:

* :func:`paired_comparison` — two-sided Wilcoxon signed-rank test of paired
  values, zero differences dropped (Wilcoxon's method). No test with fewer
  than :func:`min_pairs` non-zero differences (no p below alpha is possible).
  The p-value is exact (scipy's exact null distribution) up to
  :data:`EXACT_MAX` pairs without tied ranks; with tied ranks it is the exact
  permutation p (all 2**n sign assignments, ``scipy.stats.permutation_test``)
  up to :data:`PERMUTATION_MAX` pairs; otherwise the normal approximation
  with tie and continuity correction. Effect sizes: wins/ties/losses, the
  matched-pairs rank-biserial correlation, the median difference with a
  seeded percentile-bootstrap CI (``scipy.stats.bootstrap``). A result's
  :meth:`PairedResult.direction` is ``"better"``, ``"worse"`` or ``None``.
* :func:`adjust` — Holm's step-down, Bonferroni, or none.
* :func:`friedman` (``scipy.stats.friedmanchisquare``), average ranks, the
  Nemenyi critical difference and pairwise p-values (studentized range),
  :func:`cd_groups`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from scipy import stats as st

from anobench.report.options import CORRECTIONS

#: Largest number of non-zero differences (no tied ranks) for an exact p.
EXACT_MAX = 50
#: Largest number of non-zero differences with tied ranks for an exact permutation p (2**n sign
#: assignments are enumerated; scipy's own limit for its automatic choice).
PERMUTATION_MAX = 13
#: Differences with ``|a - b| <= TIE_TOL * max(1, |a|, |b|)`` count as zero.
TIE_TOL = 1e-12
#: Bootstrap of the median difference: resamples and seed.
N_BOOT, BOOT_SEED = 2000, 0
#: The two directions of a significant difference of A from B.
BETTER, WORSE = "better", "worse"


def min_pairs(alpha: float) -> int:
    """Fewest non-zero differences for which an exact two-sided p can fall below ``alpha``.

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

    Holm and Bonferroni multiply the smallest p of a family, ``2 / 2**n``, by ``m``.
    """
    p = 2.0 ** (1 - n)
    return p if correction == "none" else min(1.0, p * m)


def wilcoxon_signed_rank(d: np.ndarray) -> tuple[float, float, str]:
    """Two-sided Wilcoxon signed-rank test of non-zero differences ``d``.

    Returns ``(T+, p, method)``, ``method`` ``"exact"`` or ``"normal"``.
    """
    d = np.asarray(d, dtype=np.float64)
    n = len(d)
    if n == 0 or np.any(d == 0):
        raise ValueError("needs non-zero differences only")
    ranks = st.rankdata(np.abs(d))
    t_plus = float(ranks[d > 0].sum())
    tied = len(np.unique(np.abs(d))) < n
    if tied and n <= PERMUTATION_MAX:  # every sign assignment of the (tied) ranks
        p = st.permutation_test((d,), _t_plus, permutation_type="samples", vectorized=True,
                                n_resamples=np.inf).pvalue
        return t_plus, float(min(1.0, p)), "exact"
    how = "exact" if n <= EXACT_MAX and not tied else "asymptotic"
    p = st.wilcoxon(d, zero_method="wilcox", correction=True, method=how).pvalue
    return t_plus, float(min(1.0, p)), "exact" if how == "exact" else "normal"


def _t_plus(d: np.ndarray, axis: int = -1) -> np.ndarray:
    """Sum of the ranks of ``|d|`` where ``d > 0`` (vectorized over sign flips)."""
    return np.sum(np.where(d > 0, st.rankdata(np.abs(d), axis=axis), 0.0), axis=axis)


def rank_biserial(d: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation ``(R+ - R-) / (R+ + R-)`` of non-zero ``d``.

    +1: every pair favours the first column; -1: every pair the second.
    """
    d = np.asarray(d, dtype=np.float64)
    d = d[d != 0]
    if not len(d):
        return 0.0
    ranks = st.rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def bootstrap_median_ci(d: np.ndarray, *, level: float = 0.95, n_boot: int = N_BOOT,
                        seed: int = BOOT_SEED) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the median of ``d`` (seeded)."""
    d = np.asarray(d, dtype=np.float64)
    if len(d) < 2:
        return (float("nan"), float("nan"))
    res = st.bootstrap((d,), np.median, n_resamples=n_boot, confidence_level=level,
                       method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of column A against column B (differences A − B)."""

    n: int  # pairs
    wins: int  # A > B
    ties: int  # zero differences
    losses: int  # A < B
    mean_diff: float
    median_diff: float
    ci: tuple[float, float]  # bootstrap CI of the median difference
    rank_biserial: float
    statistic: float | None  # T+ (sum of ranks of positive differences)
    p: float | None  # two-sided; None when no test was run
    #: "exact" | "normal" | "too few" (non-zero differences) | "identical" | "deterministic"
    method: str

    @property
    def tested(self) -> bool:
        return self.p is not None

    @property
    def nonzero(self) -> int:
        return self.wins + self.losses

    def direction(self, alpha: float, p: float | None = None) -> str | None:
        """``"better"`` or ``"worse"`` when A differs significantly from B at ``alpha``, else None.

        ``p`` overrides the result's own p (e.g. a corrected one). The direction is
        the sign of the rank-biserial correlation (of the signed ranks).
        """
        p = self.p if p is None else p
        if p is None or p >= alpha or self.rank_biserial == 0:
            return None
        return BETTER if self.rank_biserial > 0 else WORSE

    def better(self, alpha: float, p: float | None = None) -> bool:
        """A significantly better than B at ``alpha`` (``p`` overrides, e.g. adjusted)."""
        return self.direction(alpha, p) == BETTER

    def worse(self, alpha: float, p: float | None = None) -> bool:
        """A significantly worse than B at ``alpha`` (``p`` overrides, e.g. adjusted)."""
        return self.direction(alpha, p) == WORSE


def paired_comparison(a, b, *, alpha: float = 0.05) -> PairedResult:
    """Compare paired samples ``a`` and ``b`` (higher is better).

    Wilcoxon signed-rank, two-sided, zeros dropped. With fewer than
    :func:`min_pairs` ``(alpha)`` non-zero differences no test is run
    (``method`` ``"too few"``, or ``"identical"`` when every difference is zero).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples need equal 1-d shapes, got {a.shape} and {b.shape}")
    d = a - b
    zero = np.abs(d) <= TIE_TOL * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    d = np.where(zero, 0.0, d)
    nz = d[~zero]
    n = len(d)
    wins, losses = int((nz > 0).sum()), int((nz < 0).sum())
    med = float(np.median(d)) if n else float("nan")
    mean = float(np.mean(d)) if n else float("nan")
    effects = (n, wins, n - wins - losses, losses, mean, med, bootstrap_median_ci(d),
               rank_biserial(nz))
    if len(nz) < min_pairs(alpha):
        return PairedResult(*effects, None, None, "too few" if len(nz) else "identical")
    t_plus, p, method = wilcoxon_signed_rank(nz)
    return PairedResult(*effects, t_plus, p, method)


def repetition_comparison(a, b, *, alpha: float = 0.05) -> PairedResult:
    """Compare one class's repetitions of columns ``a`` and ``b``, paired by repetition.

    As :func:`paired_comparison`, except that no test is run (``method``
    ``"deterministic"``) when each column has one value in every repetition:
    the differences are then one number repeated, not a sample (two
    deterministic detectors on a test set that the repetitions do not change).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    res = paired_comparison(a, b, alpha=alpha)
    if res.tested and constant(a) and constant(b):
        return replace(res, statistic=None, p=None, method="deterministic")
    return res


def constant(values) -> bool:
    """Whether ``values`` (two or more) are all the same number (up to :data:`TIE_TOL`)."""
    v = np.asarray(values, dtype=np.float64)
    return len(v) > 1 and float(np.ptp(v)) <= TIE_TOL * max(1.0, float(np.max(np.abs(v))))


def adjust(pvalues: Sequence[float | None], method: str = "holm") -> list[float | None]:
    """Adjusted p-values of one family; ``None`` entries (no test) stay ``None``.

    ``holm``: Holm's step-down, ``p_(i) * (m - i + 1)`` made monotone, capped at 1;
    ``bonferroni``: ``p * m``; ``none``: unchanged. ``m`` counts tested entries only.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; known: {', '.join(CORRECTIONS)}")
    tested = {i: p for i, p in enumerate(pvalues) if p is not None}
    out: list[float | None] = [None] * len(pvalues)
    m = len(tested)
    if method == "none":
        for i, p in tested.items():
            out[i] = float(p)
        return out
    if method == "bonferroni":
        for i, p in tested.items():
            out[i] = min(1.0, float(p) * m)
        return out
    running = 0.0
    for rank, i in enumerate(sorted(tested, key=lambda i: tested[i])):
        running = max(running, min(1.0, float(tested[i]) * (m - rank)))
        out[i] = running
    return out


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Mean rank per column over rows; rank 1 = highest value in a row, ties share."""
    return st.rankdata(-np.asarray(values, dtype=np.float64), axis=1).mean(axis=0)


@dataclass(frozen=True)
class FriedmanResult:
    k: int  # columns
    n: int  # blocks
    avg_ranks: np.ndarray
    statistic: float | None  # chi-square, tie-corrected
    p: float | None
    cd: float | None  # Nemenyi critical difference at alpha
    alpha: float
    method: str  # "chi-square" | "all tied" | "too few columns" | "too few blocks"


def friedman(values: np.ndarray, *, alpha: float = 0.05) -> FriedmanResult:
    """Friedman test over blocks (rows) of ``values`` (higher is better).

    Needs at least 3 columns and 2 blocks for a test; the average ranks are
    always returned.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be blocks x columns, got shape {values.shape}")
    n, k = values.shape
    if n == 0 or k < 2:
        raise ValueError(f"need at least one block and two columns, got {n}x{k}")
    if np.isnan(values).any():
        raise ValueError("values contain NaN")
    avg = average_ranks(values)
    cd = nemenyi_cd(k, n, alpha)
    if k < 3 or n < 2:
        return FriedmanResult(k, n, avg, None, None, cd, alpha,
                              "too few columns" if k < 3 else "too few blocks")
    if np.all(values == values[:, :1]):  # every block entirely tied
        return FriedmanResult(k, n, avg, 0.0, 1.0, cd, alpha, "all tied")
    res = st.friedmanchisquare(*values.T)
    return FriedmanResult(k, n, avg, float(res.statistic), float(res.pvalue), cd, alpha,
                          "chi-square")


@cache
def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Critical value q_alpha of the Nemenyi test (studentized range / sqrt 2)."""
    return float(st.studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Critical difference of average ranks: ``q_alpha * sqrt(k (k + 1) / (6 n))`` (Demšar 2006)."""
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))


def nemenyi_pvalues(avg_ranks: np.ndarray, n: int) -> np.ndarray:
    """Pairwise Nemenyi p-values from average ranks over ``n`` blocks (k x k)."""
    r = np.asarray(avg_ranks, dtype=np.float64)
    k = len(r)
    se = math.sqrt(k * (k + 1) / (6.0 * n))
    q = np.abs(r[:, None] - r[None, :]) / se * math.sqrt(2.0)
    out = st.studentized_range.sf(q, k, np.inf)
    np.fill_diagonal(out, 1.0)
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
