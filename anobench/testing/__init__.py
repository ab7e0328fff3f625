"""Conformance kit: check that a detector or scoring rule keeps anobench's contracts.

Call it from a plugin's own tests::

    from anobench.testing import check_detector, check_scoring_rule, fast_params

    def test_my_detector():
        check_detector(MyDetector, fast_params(MyDetector))

    def test_my_rule():
        check_scoring_rule(MyRule)

:func:`check_detector` fits on small synthetic data (tabular ``(n, d)`` and
images ``(n, 1, H, W)``, both in [0, 1]) and checks: registration is accepted,
``__init__`` only stores its parameters, ``fit`` returns ``self`` and sets
only attributes ending in ``_``, ``score`` returns one finite float per
sample, an obvious outlier scores higher (higher = more anomalous), two fits
with the same ``random_state`` give the same scores, inputs are not modified,
and NaN input or a wrong sample shape raises a clear error (``ValueError``,
``TypeError`` or an :class:`~anobench.errors.AnobenchError`, with a message).
Latent-variable detectors also get their ``posterior_draw`` checked;
detectors that train in cohorts (:class:`~anobench.api.CohortDetectorProtocol`)
get a cohort of two members (``random_state`` ``seed`` and ``seed + 1``)
checked against the two single fits: scores equal within
:data:`~anobench.testing.detectors.COHORT_RTOL` (relative) and
:data:`~anobench.testing.detectors.COHORT_ATOL` × the largest score (absolute).

:func:`check_scoring_rule` reduces synthetic posterior draws and checks
shapes, finiteness, higher = more anomalous, determinism, no mutation, and a
clear error for an unsupported measure; for an oracle rule (``oracle =
True``) it checks every candidate score vector the same way and that
``choose`` returns a valid index.

:func:`check_dataset` checks a dataset loader's :class:`~anobench.api.LabeledData`.

Each failure raises :class:`ConformanceError` (an ``AssertionError``) with one
line that names the class, the data kind and the check.

The kit's modules: :mod:`anobench.testing.kit` (the error, synthetic data and
draws), :mod:`anobench.testing.detectors`, :mod:`anobench.testing.rules`,
:mod:`anobench.testing.datasets`.
"""
from __future__ import annotations

from anobench.testing.datasets import check_dataset
from anobench.testing.detectors import check_detector
from anobench.testing.kit import (
    BUDGET_PARAMS,
    CLEAR_ERRORS,
    KINDS,
    ConformanceError,
    fast_params,
    make_data,
    make_draw,
)
from anobench.testing.rules import check_scoring_rule

__all__ = [
    "BUDGET_PARAMS", "CLEAR_ERRORS", "KINDS", "ConformanceError", "check_dataset",
    "check_detector", "check_scoring_rule", "fast_params", "make_data", "make_draw",
]
