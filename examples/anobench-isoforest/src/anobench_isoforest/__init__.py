"""Example third-party anobench plugin: ``isoforest`` detector and ``median`` rule."""
from __future__ import annotations

from anobench_isoforest.detector import IsolationForestDetector
from anobench_isoforest.rule import MedianRule

__all__ = ["IsolationForestDetector", "MedianRule"]
__version__ = "0.1.0"
