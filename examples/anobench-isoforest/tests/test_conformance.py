"""The plugin's own tests: anobench's conformance kit."""
from __future__ import annotations

from anobench_isoforest import IsolationForestDetector, MedianRule

from anobench.testing import check_detector, check_scoring_rule, fast_params


def test_isoforest_conforms():
    check_detector(IsolationForestDetector, fast_params(IsolationForestDetector))


def test_median_rule_conforms():
    check_scoring_rule(MedianRule)
