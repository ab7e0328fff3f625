"""The array tests of anobench.report.statistics against hand-computed values.

scipy computes the Wilcoxon p-values, the bootstrap, Friedman and the
studentized range; these tests pin the numbers the report relies on (by hand
or by brute force) and which method is used when. Holm, the rank-biserial
correlation and the CD groups are hand-written: each has a reference test.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as st

from anobench.report import statistics as stats


def test_min_pairs_is_where_an_exact_p_can_first_drop_below_alpha():
    assert stats.min_pairs(0.05) == 6  # 2/2**5 = 0.0625, 2/2**6 = 0.03125
    assert stats.min_pairs(0.01) == 8  # 2/2**7 = 0.0156, 2/2**8 = 0.0078
    with pytest.raises(ValueError):
        stats.min_pairs(0.0)


def test_exact_p_by_hand_without_ties():
    # ranks 1..6, T+ = 15; P(T+ <= 6) = 14/64 (subsets of {1..6} with sum <= 6)
    t, p, method = stats.wilcoxon_signed_rank(np.array([1, 2, 3, 4, 5, -6.0]))
    assert (t, method) == (15.0, "exact")
    assert p == pytest.approx(2 * 14 / 64)
    # every pair favours A: the smallest possible p, 2 / 2**n
    assert stats.wilcoxon_signed_rank(np.arange(1, 11.0))[1] == pytest.approx(2 / 2 ** 10)


def test_exact_p_by_hand_with_tied_ranks():
    # |d| = 2,2,2,1 -> ranks 3,3,3,1; T+ = 9; P(T+ >= 9) = 2/16
    t, p, _ = stats.wilcoxon_signed_rank(np.array([2, 2, 2, -1.0]))
    assert t == 9.0
    assert p == pytest.approx(0.25)
    # all ranks tied (2,2,2): T+ in {0,2,4,6} with weights 1,3,3,1; T+ = 4 -> p = 1
    assert stats.wilcoxon_signed_rank(np.array([1, 1, -1.0]))[1] == pytest.approx(1.0)


def _brute_force_p(d: np.ndarray) -> float:
    """Exact two-sided p by enumerating all 2**n sign assignments of the midranks."""
    ranks = st.rankdata(np.abs(d))
    t = ranks[d > 0].sum()
    sums = np.array([sum(r for r, s in zip(ranks, signs) if s)
                     for signs in itertools.product((0, 1), repeat=len(d))])
    lower, upper = np.mean(sums <= t + 1e-9), np.mean(sums >= t - 1e-9)
    return min(1.0, 2 * min(lower, upper))


@pytest.mark.parametrize("seed", range(4))
def test_exact_p_equals_brute_force_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    d = rng.normal(0.3, 1.0, size=11)
    if seed % 2:  # tied ranks: the exact permutation p
        d = np.round(d, 1)
        d = d[d != 0]
        assert len(np.unique(np.abs(d))) < len(d)
    _, p, method = stats.wilcoxon_signed_rank(d)
    assert method == "exact"
    assert p == pytest.approx(_brute_force_p(d), rel=1e-12)


def test_tied_ranks_above_the_permutation_limit_use_the_normal_approximation():
    d = np.array([1, 2, 2, -3, 4, 5, -1, 2, 2, 6, 7, 8, 9, 10.0])
    assert len(d) > stats.PERMUTATION_MAX
    _, p, method = stats.wilcoxon_signed_rank(d)
    assert method == "normal"
    assert p == pytest.approx(st.wilcoxon(d, method="asymptotic", correction=True).pvalue)
    assert stats.wilcoxon_signed_rank(d[:13])[2] == "exact"


def test_normal_approximation_matches_scipy_above_exact_max():
    rng = np.random.default_rng(3)
    d = np.round(rng.normal(0.2, 1.0, size=80), 1)  # ties included
    d = d[d != 0]
    assert len(d) > stats.EXACT_MAX
    _, p, method = stats.wilcoxon_signed_rank(d)
    assert method == "normal"
    assert p == pytest.approx(st.wilcoxon(d, method="asymptotic", correction=True).pvalue, rel=1e-9)


def test_paired_comparison_counts_effect_and_too_few_pairs():
    a = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    b = a - np.array([1, 2, 3, 4, 5, -6.0]) / 100
    r = stats.paired_comparison(a, b)
    assert (r.wins, r.ties, r.losses, r.n) == (5, 0, 1, 6)
    assert r.rank_biserial == pytest.approx((15 - 6) / 21)
    assert r.p == pytest.approx(2 * 14 / 64)
    assert r.median_diff == pytest.approx(0.025)  # median of -6,1,2,3,4,5
    assert r.ci[0] <= r.median_diff <= r.ci[1]
    few = stats.paired_comparison(a[:5], b[:5])
    assert few.p is None and not few.tested and few.method == "too few"
    assert not few.better(0.05)


def test_the_min_pairs_gate_counts_non_zero_differences():
    # six pairs, one tie: five non-zero differences can never give p < 0.05 (2/2**5)
    a = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    r = stats.paired_comparison(a, a - np.array([1, 2, 3, 4, 5, 0]) / 100)
    assert (r.n, r.ties, r.nonzero) == (6, 1, 5)
    assert not r.tested and r.p is None and r.method == "too few"
    r = stats.paired_comparison(a, a - np.array([1, 2, 3, 4, 5, 6]) / 100)
    assert r.tested and r.p == pytest.approx(2 / 2 ** 6)


def test_paired_comparison_all_ties_and_zero_differences():
    a = np.linspace(0.5, 0.9, 8)
    r = stats.paired_comparison(a, a.copy())
    assert (r.p, r.ties, r.method) == (None, 8, "identical") and not r.tested
    # zeros are dropped (Wilcoxon's method), as scipy's zero_method="wilcox"
    d = np.array([0, 0, 1, 2, 3, 4, 5, 6, -7.0, 8])
    r = stats.paired_comparison(d, np.zeros_like(d))
    assert (r.wins, r.ties, r.losses) == (7, 2, 1)
    ref = st.wilcoxon(d, zero_method="wilcox", method="exact").pvalue
    assert r.p == pytest.approx(ref)


def test_bootstrap_ci_is_seeded_and_is_the_percentile_interval():
    d = np.random.default_rng(0).normal(size=20)
    assert stats.bootstrap_median_ci(d, seed=1) == stats.bootstrap_median_ci(d, seed=1)
    lo, hi = stats.bootstrap_median_ci(d, seed=1)
    assert lo < np.median(d) < hi
    # by hand: 2000 resamples drawn with the seeded generator, 2.5/97.5 percentiles
    idx = np.random.default_rng(1).integers(0, len(d), size=(2000, len(d)))
    meds = np.median(d[idx], axis=1)
    assert (lo, hi) == pytest.approx(tuple(np.percentile(meds, [2.5, 97.5])), rel=1e-12)
    assert all(math.isnan(x) for x in stats.bootstrap_median_ci(d[:1]))


def test_holm_by_hand_and_none_passthrough():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> monotone .06
    assert stats.adjust(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.adjust(p, "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.02])
    assert stats.adjust([0.2, None, 0.01], "holm") == [pytest.approx(0.2), None,
                                                       pytest.approx(0.02)]
    assert stats.adjust([0.6, 0.9], "holm") == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError):
        stats.adjust(p, "sidak")


def test_average_ranks_and_friedman_against_scipy():
    assert stats.average_ranks(np.array([[3, 2, 1], [3, 1, 2.0]])) == pytest.approx([1, 2.5, 2.5])
    rng = np.random.default_rng(0)
    v = rng.normal(size=(10, 4)) + np.array([0.8, 0.3, 0.0, 0.0])
    v[0, 1] = v[0, 2]  # a tie inside a block
    r = stats.friedman(v)
    ref = st.friedmanchisquare(*v.T)
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.p == pytest.approx(ref.pvalue)
    assert r.avg_ranks.sum() == pytest.approx(10 / 10 * 4 * 5 / 2)
    assert stats.friedman(v[:, :2]).p is None


def test_nemenyi_critical_values_from_demsar_table():
    # Demšar (2006), Table 5(a): q_0.05 for k = 2..5 and 10
    for k, q in [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728), (10, 3.164)]:
        assert stats.nemenyi_q(k) == pytest.approx(q, abs=1e-3)
    assert stats.nemenyi_cd(4, 10) == pytest.approx(2.569 * math.sqrt(20 / 60), abs=1e-3)
    p = stats.nemenyi_pvalues(np.array([1.0, 1.0 + stats.nemenyi_cd(3, 12), 3.0]), 12)
    assert p[0, 1] == pytest.approx(0.05, abs=1e-6)


def test_cd_groups():
    # sorted ranks 1.0, 1.5, 2.9, 3.2; cd 1.0 -> groups (0,1) and (2,3)
    assert stats.cd_groups(np.array([3.2, 1.0, 2.9, 1.5]), 1.0) == [(0, 1), (2, 3)]
    assert stats.cd_groups(np.array([1.0, 2.0, 3.0]), 5.0) == [(0, 2)]
    assert stats.cd_groups(np.array([1.0, 3.0]), 1.0) == []


def test_smallest_corrected_p():
    assert stats.smallest_corrected_p(6, 10, "holm") == pytest.approx(10 / 32)
    assert stats.smallest_corrected_p(10, 3, "bonferroni") == pytest.approx(3 / 512)
    assert stats.smallest_corrected_p(6, 10, "none") == pytest.approx(1 / 32)
    assert stats.smallest_corrected_p(2, 10, "holm") == 1.0
