"""How large a suite may grow: cells are counted before anything is expanded.

A suite expands into cells — (dataset, class, repetition, detector grid
point) — and the runner holds every cell id in memory, so a suite of a
billion cells would exhaust it long before it ran. :func:`grid_points`
counts each detector entry's grid by multiplying its list lengths, and
:func:`check_cells` refuses more than the suite's ``max_cells`` (default
:data:`MAX_CELLS`): once when the suite is parsed (the classes it names, at
least one per dataset entry) and once the data is loaded (every class), both
before a grid or a cell list is built.
"""
from __future__ import annotations

from typing import Any

from anobench.errors import SuiteError

#: Points one detector entry's grid may have.
MAX_GRID_POINTS = 10_000
#: Posterior samples a scoring rule may draw per test example (``n_samples``; also
#: :class:`anobench.estimator.OutlierEstimator`).
MAX_SAMPLES = 100_000
#: Cells a suite may expand to, unless its ``[suite] max_cells`` says otherwise.
MAX_CELLS = 100_000
#: The most ``max_cells`` may allow.
MAX_CELLS_CEILING = 10_000_000
#: Repetitions a suite may ask for.
MAX_REPETITIONS = 10_000
#: The longest ``cell_timeout``: a week (longer is a typo; ``inf`` overflows the timer).
MAX_CELL_TIMEOUT = 7 * 24 * 3600


def grid_points(path: str, detectors: Any) -> int:
    """Grid points of all ``[[detectors]]`` entries (the raw TOML value), none expanded.

    Refuses an entry of more than :data:`MAX_GRID_POINTS` points; anything
    malformed counts as one point (the entry's own checks name it later).
    """
    total = 0
    for i, entry in enumerate(detectors if isinstance(detectors, list) else []):
        params = entry.get("params", {}) if isinstance(entry, dict) else {}
        points = 1
        for value in params.values() if isinstance(params, dict) else ():
            points *= max(1, len(value)) if isinstance(value, list) else 1
        if points > MAX_GRID_POINTS:
            raise SuiteError(f"{path}: detectors[{i}].params: a grid of {points} points; at most "
                             f"{MAX_GRID_POINTS} per entry")
        total += points
    return total


def check_cells(path: str, classes: int, repetitions: int, points: int, limit: int,
                known: bool = True) -> int:
    """``classes × repetitions × points``, or :class:`SuiteError` past ``limit``.

    ``known``: every class is counted (else ``classes`` is a lower bound, the
    message says "at least").
    """
    cells = classes * repetitions * points
    if cells > limit:
        raise SuiteError(
            f"{path}: {'' if known else 'at least '}{cells:,} cells ({classes} class(es) × "
            f"{repetitions} repetition(s) × {points} detector grid point(s)); at most {limit:,} "
            f"(suite.max_cells, up to {MAX_CELLS_CEILING:,}): split the suite or shrink its "
            "grids")
    return cells
