"""The module the ``anobench`` entry point names: it implements the registration hooks."""
from __future__ import annotations

from anobench.hookspecs import hookimpl
from anobench_isoforest.detector import IsolationForestDetector
from anobench_isoforest.rule import MedianRule


@hookimpl
def anobench_register_detectors(registry) -> None:
    registry.add_detector("isoforest", IsolationForestDetector)


@hookimpl
def anobench_register_scoring_rules(registry) -> None:
    registry.add_scoring_rule(MedianRule)
