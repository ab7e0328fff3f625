"""anobench: a plugin-based benchmarking suite for one-class anomaly detection."""
from __future__ import annotations

__version__ = "0.1.0"

from anobench.errors import AnobenchError

__all__ = ["AnobenchError", "__version__", "load_run"]


def load_run(path):
    """The results of a run directory as a pandas DataFrame (one row per cell × column × metric).

    See :func:`anobench.export.load_run`; needs pandas (``pip install 'anobench[pandas]'``).
    """
    from anobench.export import load_run as _load_run

    return _load_run(path)
