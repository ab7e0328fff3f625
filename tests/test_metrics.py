from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import auc, precision_recall_curve

from anobench.metrics import average_precision, check_scores, pr_auc, roc_auc


def test_perfect_and_reversed_ranking():
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert roc_auc(y, s) == 1.0 and roc_auc(y, -s) == 0.0
    assert pr_auc(y, s) == pytest.approx(1.0)
    assert average_precision(y, s) == pytest.approx(1.0)


def test_pr_auc_is_the_trapezoid_like_the_authors():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = rng.normal(size=200) + y
    p, r, _ = precision_recall_curve(y, s)
    assert pr_auc(y, s) == pytest.approx(auc(r, p))
    assert pr_auc(y, s) != pytest.approx(average_precision(y, s), abs=1e-6)


def test_hand_computed_auc():
    # one inversion among 2x2 pairs: AUC = 3/4
    assert roc_auc(np.array([0, 1, 0, 1]), np.array([1, 2, 3, 4])) == 0.75


def test_check_scores():
    assert check_scores([1, 2, 3], 3).dtype == np.float64
    with pytest.raises(ValueError, match="shape"):
        check_scores(np.zeros((3, 1)), 3)
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_scores([1.0, np.nan, np.inf], 3)


def test_check_scores_refuses_scores_that_rank_nothing():
    with pytest.raises(ValueError, match="all 4 scores are equal"):
        check_scores([2.0, 2.0, 2.0, 2.0], 4)
    eps = np.finfo(np.float64).eps
    with pytest.raises(ValueError, match="only at rounding level"):
        check_scores(1e3 * (1 + np.array([0, 1, 2, 3]) * eps), 4)
    # small but real differences pass, and so do tiny scores that really differ
    check_scores(1.0 + np.array([0, 1, 2, 3]) * 1e-9, 4)
    check_scores(np.array([1e-30, 3e-30, 2e-30]), 3)
    check_scores([5.0], 1)


@pytest.mark.parametrize("ties", [False, True])
def test_candidate_metrics_equal_scikit_learns(ties):
    """The oracle rules' fast path (one sort per candidate) gives scikit-learn's values."""
    from anobench.metrics import METRICS, candidate_metrics

    rng = np.random.default_rng(3)
    for n in (2, 7, 60, 400):
        y = (rng.random(n) < 0.3).astype(int)
        y[0], y[-1] = 0, 1  # both classes
        rows = rng.random((6, n)) + 0.4 * y
        if ties:
            rows = np.round(rows * 4) / 4  # many tied scores
        got = candidate_metrics(y, rows, ("roc_auc", "pr_auc", "average_precision"))
        for name, values in got.items():
            want = [METRICS[name](y, row) for row in rows]
            np.testing.assert_allclose(values, want, rtol=0, atol=1e-12, err_msg=name)


def test_candidate_metrics_fall_back_where_the_fast_path_does_not_apply():
    from anobench.metrics import candidate_metrics

    y = np.array([0, 0, 1, 1])
    rows = np.array([[0.1, 0.4, 0.35, 0.8]])
    assert candidate_metrics(y, rows, ("roc_auc",))["roc_auc"][0] == roc_auc(y, rows[0])
    one_class = np.zeros(4, dtype=int)  # scikit-learn's own answer, as before (no fast path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = roc_auc(one_class, rows[0])
        got = candidate_metrics(one_class, rows, ("roc_auc",))["roc_auc"][0]
    assert got == want or (np.isnan(got) and np.isnan(want))
