"""anobench: a plugin-based benchmarking suite for one-class anomaly detection."""
from __future__ import annotations

__version__ = "0.1.0"

from anobench.errors import AnobenchError

__all__ = ["AnobenchError", "__version__"]
