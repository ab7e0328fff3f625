"""Checks of a suite against its data and this machine, before anything trains.

:func:`anobench.prepare.prepare_run` calls them once for ``validate``, ``plan``
and ``run``: datasets load and name the classes the suite asks for, every
normal class gets a test set and keeps enough training samples, detectors
accept the data's shape, and a CUDA device the suite asks for exists here.
Each raises one line naming the suite file and key
(:class:`~anobench.errors.SuiteError`, :class:`~anobench.errors.DataError`).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from anobench.api import LabeledData
from anobench.capabilities import capabilities_of
from anobench.classes import resolve_classes, resolve_label
from anobench.devices import resolve_device  # noqa: F401 (re-exported: the runner's)
from anobench.errors import AnobenchError, DataError, SuiteError
from anobench.limits import check_cells
from anobench.protocol import (
    check_test_set, check_training_size, largest_fitting_ratio, normal_key, test_set_sizes,
)
from anobench.registry import Registry
from anobench.suite import DatasetEntry, Suite
from anobench.units import ModelGroup


def load_data(suite: Suite, registry: Registry, data_dir: str | Path | None = None
              ) -> tuple[Suite, dict[str, LabeledData]]:
    """Load every dataset of the suite and resolve the classes each entry names, once.

    Returns the suite with every entry's classes as labels, and the datasets
    by label. A class that does not exist or is listed twice, or a
    ``[report] curves`` cell of a class not run, is a :class:`SuiteError`
    naming the key; a dataset that fails to load, a :class:`DataError`.
    """
    out = {}
    entries = []
    for i, entry in enumerate(suite.datasets):
        data = _load(entry, registry, data_dir)
        source = f" ({entry.options['path']})" if entry.options.get("path") else ""
        seen: dict[Any, int] = {}
        labels = []
        for j, c in enumerate(entry.classes or ()):
            try:
                (label,) = resolve_classes(data, [c], f"{entry.label!r}{source}")
            except ValueError as exc:
                raise SuiteError(f"{suite.path}: datasets[{i}].classes[{j}]: {exc}") from None
            key = tuple(sorted(label)) if isinstance(label, tuple) else label
            if key in seen:
                raise SuiteError(f"{suite.path}: datasets[{i}].classes[{j}]: {c!r} is the class "
                                 f"of classes[{seen[key]}] again (listed twice)")
            seen[key] = j
            labels.append(label)
        out[entry.label] = data
        entries.append(replace(entry, classes=tuple(labels)) if entry.classes else entry)
    suite = replace(suite, datasets=tuple(entries))
    check_report_curves(suite, out)
    return suite, out


def load_datasets(suite: Suite, registry: Registry, data_dir: str | Path | None = None
                  ) -> dict[str, LabeledData]:
    """The datasets of the suite by label, checked as :func:`load_data` checks them."""
    return load_data(suite, registry, data_dir)[1]


def _load(entry: DatasetEntry, registry: Registry, data_dir: str | Path | None) -> LabeledData:
    spec = registry.datasets[entry.name]
    try:
        data = spec.loader(data_dir=data_dir, **entry.options)
    except AnobenchError:
        raise
    except Exception as exc:
        raise DataError(f"dataset {entry.name!r} (plugin {spec.plugin!r}) failed to load: "
                        f"{type(exc).__name__}: {exc}") from exc
    if any(np.iscomplexobj(a) for a in (data.X_train, data.X_test)):
        raise DataError(f"dataset {entry.name!r} (plugin {spec.plugin!r}): the samples are "
                        "complex numbers; anobench needs real values")
    return data


def check_report_curves(suite: Suite, datasets: dict[str, LabeledData]) -> None:
    """``[report] curves`` must name a class the suite runs (its classes resolved)."""
    for i, cell in enumerate(suite.report.curves):
        entry = next(e for e in suite.datasets if e.label == cell.dataset)  # checked at load
        data = datasets[entry.label]
        run = [normal_key(c) for c in entry.classes or data.classes]
        key: str | None = cell.normal
        if key not in run:
            try:
                key = normal_key(resolve_label(data, cell.normal, repr(entry.label)))
            except ValueError:
                key = None
        if key not in run:
            raise SuiteError(f"{suite.path}: report.curves[{i}]: class {cell.normal!r} is not run "
                             f"for dataset {cell.dataset!r}; classes run: {', '.join(run)}")


def check_max_cells(suite: Suite, datasets: dict[str, LabeledData]) -> int:
    """Classes × repetitions × detector grid points (at least the cells), refused past
    ``max_cells`` before any cell is built."""
    classes = sum(len(e.classes or datasets[e.label].classes) for e in suite.datasets)
    return check_cells(suite.path, classes, suite.repetitions, len(suite.detectors),
                       suite.max_cells)


def check_test_sets(suite: Suite, datasets: dict[str, LabeledData]) -> None:
    """Check that every normal class of every entry gets a test set and keeps enough training
    samples after the validation split.

    Raises :class:`SuiteError` naming the suite file, the entry, the dataset
    label and a ratio that fits every class of the entry.
    """
    for i, entry in enumerate(suite.datasets):
        data = datasets[entry.label]
        normals = list(entry.classes or data.classes)
        fits = None
        if entry.anomalies == "ratio":
            sizes = [test_set_sizes(data, c, "ratio", entry.anomaly_ratio) for c in normals]
            fits = min(largest_fitting_ratio(n, m) for n, _, m in sizes)
        for normal in normals:
            try:
                check_test_set(data, normal, entry.anomalies, entry.anomaly_ratio,
                               label=entry.label, fits=fits)
            except DataError as exc:
                raise SuiteError(f"{suite.path}: datasets[{i}]: {exc}") from None
            try:
                check_training_size(data, normal, suite.val_fraction, entry.label)
            except DataError as exc:
                raise SuiteError(f"{suite.path}: suite.val_fraction: {exc}") from None


def check_data_fit(suite: Suite, registry: Registry, datasets: dict[str, LabeledData]) -> None:
    """Let each detector refuse parameters that cannot work on a loaded dataset.

    Calls the optional ``check_data(params, sample_shape)`` classmethod of
    every detector config for every dataset of the suite (see
    :meth:`anobench.api.Detector.check_data`); raises :class:`SuiteError`.
    """
    for cfg in suite.detectors:
        spec = registry.detectors[cfg.name]
        if not spec.capabilities.check_data:
            continue
        for entry in suite.datasets:
            shape = datasets[entry.label].sample_shape
            try:
                spec.cls.check_data(dict(cfg.params), shape)
            except (ValueError, TypeError) as exc:
                raise SuiteError(f"{suite.path}: detectors[{cfg.entry}].params: detector "
                                 f"{cfg.point!r} on dataset {entry.label!r} (samples of shape "
                                 f"{shape}): {exc}") from None


def check_device(suite: Suite, groups: list[ModelGroup], flag: str | None = None) -> None:
    """A ``cuda`` the suite asks for (``suite.device`` unless ``--device`` is given, or a
    detector's ``device`` parameter) must exist here; :class:`SuiteError` naming the key."""
    keys = [f"detectors[{c.entry}].params.device" for c in suite.detectors
            if str(c.params.get("device") or "").startswith("cuda")]
    if flag is None and suite.device == "cuda" and needs_device(groups):
        keys.insert(0, "suite.device")
    if not keys:
        return
    import torch

    if not torch.cuda.is_available():
        raise SuiteError(f"{suite.path}: {keys[0]}: 'cuda', but no CUDA device is available "
                         "here; use \"auto\" (CUDA where there is one) or \"cpu\"")


def needs_device(groups: list[ModelGroup]) -> bool:
    """Whether a model of the suite takes a ``device`` (a neural detector)."""
    return any(capabilities_of(g.cls).takes_device for g in groups)
