"""Prepare a run: every check but training, done once, and the suite expanded into cells.

:func:`prepare_run` is where ``anobench validate``, ``anobench plan`` and
``anobench run`` (:func:`anobench.runner.run_suite`) start: it loads the
suite and its data, resolves the classes the suite names to labels (once),
refuses a suite past ``max_cells``, checks every class's test set and
training size, lets each detector refuse the data's shape, checks the device
and expands the suite into its cells (:func:`anobench.units.suite_cells`).
What it returns (:class:`PreparedRun`) is all the three commands need; none
of them checks or counts on its own.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from anobench.api import LabeledData
from anobench.checks import (
    check_data_fit,
    check_device,
    check_max_cells,
    check_test_sets,
    load_data,
    needs_device,
    resolve_device,
)
from anobench.registry import Registry
from anobench.suite import Suite, load_suite
from anobench.units import Cell, ModelGroup, model_groups, suite_cells


@dataclass(frozen=True)
class PreparedRun:
    """A suite checked against its data and this machine, and expanded into its cells."""

    suite: Suite  # every entry's classes resolved to labels
    registry: Registry
    datasets: dict[str, LabeledData]  # by dataset label
    groups: list[ModelGroup]  # detector configs sharing one trained model
    cells: list[Cell]  # every cell, in the run's order
    device: str | None  # where neural detectors run (None: no model takes a device)
    load_seconds: float  # loading the data

    @property
    def classes(self) -> int:
        """Normal classes run, over every dataset."""
        return sum(len(e.classes or self.datasets[e.label].classes) for e in self.suite.datasets)


def prepare_run(suite: Suite | str | Path, registry: Registry, data_dir: str | Path | None = None,
                *, device: str | None = None) -> PreparedRun:
    """Load (a path) or take a suite, run every check but training, expand it into cells.

    ``device`` is ``--device`` (default: the suite's); it is resolved to where
    the neural detectors run. Raises :class:`~anobench.errors.SuiteError` or
    :class:`~anobench.errors.DataError` (one line naming the file and key).
    """
    if not isinstance(suite, Suite):
        suite = load_suite(str(suite), registry)
    t0 = time.perf_counter()
    suite, datasets = load_data(suite, registry, data_dir)
    load = time.perf_counter() - t0
    check_max_cells(suite, datasets)  # before anything is expanded by class
    check_test_sets(suite, datasets)
    check_data_fit(suite, registry, datasets)
    groups = model_groups(suite, registry)
    check_device(suite, groups, device)
    dev = resolve_device(device or suite.device) if needs_device(groups) else None
    return PreparedRun(suite, registry, datasets, groups, suite_cells(suite, datasets, groups),
                       dev, load)
