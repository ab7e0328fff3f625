"""Work units: the cells of a run, cut into what an executor runs in one call.

A *cell* (:class:`Cell`) is (dataset, normal class, repetition, model);
:func:`suite_cells` is the one expansion of a suite into cells (``validate``,
``plan`` and ``run`` count and cut the same list). The runner turns the cells
still to do into :class:`Unit` objects — one cell, or a cohort of cells that
train together; picklable, carrying their data splits — which an executor
(:mod:`anobench.executors`) runs, here or in other processes
(:func:`anobench.unitrun.execute_unit`); each unit comes back as one
:class:`~anobench.unitrun.CellOutcome` per cell, which the driver alone stores.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import numbers
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from anobench.api import LabeledData
from anobench.capabilities import capabilities_of
from anobench.classes import normal_name
from anobench.protocol import OneClassSplit, derive_seed, normal_key, one_class_split
from anobench.registry import Registry
from anobench.suite import DatasetEntry, DetectorConfig, Suite


@dataclass(frozen=True)
class ModelGroup:
    """Detector configs that share one trained model."""

    key: str
    name: str
    cls: type[Any]
    params: dict[str, Any]
    configs: tuple[DetectorConfig, ...]


def model_groups(suite: Suite, registry: Registry) -> list[ModelGroup]:
    """The suite's detector configs grouped by (class, parameters): one model per group."""
    groups: dict[str, list[DetectorConfig]] = {}
    for cfg in suite.detectors:
        cls = registry.detectors[cfg.name].cls
        ident = json.dumps([cls.__module__, cls.__qualname__, cfg.params], sort_keys=True, default=str)
        groups.setdefault(ident, []).append(cfg)
    out = []
    for ident, cfgs in groups.items():
        short = hashlib.sha256(ident.encode()).hexdigest()[:10]
        first = cfgs[0]
        out.append(ModelGroup(f"{first.point}-{short}", first.name,
                              registry.detectors[first.name].cls, first.params, tuple(cfgs)))
    return out


@dataclass(frozen=True)
class Cell:
    """One cell of a suite: a model of one group on one normal class, in one repetition."""

    entry: DatasetEntry
    normal: Any  # the class label (a tuple for a merged class)
    repetition: int
    group: ModelGroup
    cid: str  # "dataset/class/repetition/model", the records' "cell"

    @property
    def block(self) -> tuple[str, str]:
        """(dataset label, class key): cells of one block share their training data."""
        return self.entry.label, normal_key(self.normal)


@dataclass
class CellTask:
    """One cell to run: its model group, data split, seeds and record fields."""

    cid: str
    group: ModelGroup
    split: OneClassSplit
    seeds: dict[str, int]
    base: dict[str, Any]


@dataclass
class Unit:
    """Cells an executor runs in one call: one cell, or a cohort trained together
    (picklable; see :mod:`anobench.executors`)."""

    tasks: tuple[CellTask, ...]
    registry: Registry
    suite: Suite
    device: str | None
    #: why the unit's cells cannot run (e.g. the plugin's cohort_size raised): each fails with it
    problem: str | None = None


def suite_cells(suite: Suite, datasets: dict[str, LabeledData],
                groups: list[ModelGroup]) -> list[Cell]:
    """Every cell of the suite, in order: dataset, class, repetition, model."""
    cells = []
    for entry in suite.datasets:
        data = datasets[entry.label]
        for normal in entry.classes or data.classes:
            for rep in range(suite.repetitions):
                for group in groups:
                    cid = f"{entry.label}/{normal_key(normal)}/{rep}/{group.key}"
                    cells.append(Cell(entry, normal, rep, group, cid))
    return cells


def instantiate(group: ModelGroup, seed: int, device: str | None):
    """The group's detector with ``random_state`` (unless set) and ``device`` (if auto) filled in."""
    return group.cls(**instance_params(group, seed, device))


def instance_params(group: ModelGroup, seed: int, device: str | None) -> dict[str, Any]:
    """The keyword arguments :func:`instantiate` gives the group's detector class."""
    caps = capabilities_of(group.cls)
    params = dict(group.params)
    if caps.takes_random_state and params.get("random_state") is None:
        params["random_state"] = seed
    if device and caps.takes_device and params.get("device") in (None, "auto"):
        params["device"] = device
    return params


def worker_registry(registry: Registry) -> Registry:
    """The part of the registry a work unit needs (detectors and rules; it is pickled)."""
    slim = Registry()
    slim.detectors = dict(registry.detectors)
    slim.rules = dict(registry.rules)
    return slim


T = TypeVar("T")


def cut_units(items: Iterable[T], group_of: Callable[[T], ModelGroup], device: str | None,
              sample_shape: tuple[int, ...], cohort_override: int | None = None,
              data_of: Callable[[T], tuple] = lambda _: ()
              ) -> Iterator[tuple[tuple[T, ...], str | None]]:
    """Cut the cells of one (dataset, class) into work units: ``(members, problem)`` each.

    Cells whose detector trains in cohorts on this device are grouped by
    :func:`cohort_key` (and ``data_of``: members must train on the same
    arrays) into units of at most its cohort size (:func:`cohort_size_for`):
    the repetitions, and grid points that only change the loss. Every other
    cell is a unit of its own; ``problem`` says why a unit cannot run (its
    detector's ``cohort_size`` failed). The runner (:func:`work_units`) and
    the plan (:mod:`anobench.plan`) cut with this one function.
    """
    cohorts: dict[tuple, list[T]] = {}
    sizes: dict[tuple, int] = {}
    for item in items:
        group = group_of(item)
        try:
            size = cohort_size_for(group.cls, device, sample_shape, cohort_override)
        except CohortSizeError as exc:
            yield (item,), str(exc)
            continue
        if size < 2:
            yield (item,), None
            continue
        key = (cohort_key(group), *data_of(item))
        cohorts.setdefault(key, []).append(item)
        sizes[key] = size
    for key, members in cohorts.items():
        for i in range(0, len(members), sizes[key]):
            yield tuple(members[i:i + sizes[key]]), None


def work_units(todo: list[Cell], datasets: dict[str, LabeledData], registry: Registry,
               suite: Suite, device: str | None,
               cohort_override: int | None = None) -> Iterator[Unit]:
    """Work units of the cells still to run, built lazily (with their data splits), as
    :func:`cut_units` cuts them."""
    for _, block in itertools.groupby(todo, key=lambda c: c.block):
        tasks = cell_tasks(list(block), datasets, suite)
        shape = tasks[0].split.X_train.shape[1:]
        # cohort members must train on the same arrays (cell_tasks shares them when equal)
        for members, problem in cut_units(tasks, lambda t: t.group, device, shape,
                                          cohort_override,
                                          lambda t: (id(t.split.X_train), id(t.split.X_val))):
            yield Unit(members, registry, suite, device, problem)


def cohort_size_for(cls: type[Any], device: str | None, sample_shape: tuple[int, ...],
                    override: int | None = None) -> int:
    """Cells of detector ``cls`` trained together on ``device`` (1: one by one).

    A detector class opts in with ``fit_cohort`` (see :class:`anobench.api.Detector`)
    and says what pays on each device and sample shape with
    ``cohort_size(device, sample_shape)``; ``override`` (``--cohort-size``)
    replaces that for every such class.
    """
    if not capabilities_of(cls).cohort:
        return 1
    if override is not None:
        return max(1, int(override))
    size = cls.cohort_size
    call = f"cohort_size({device or 'cpu'!r}, {tuple(sample_shape)})"
    try:
        value = size(device or "cpu", tuple(sample_shape))
    except Exception as exc:  # noqa: BLE001 - a plugin's bug fails its cells, not the run
        raise CohortSizeError(f"{call} raised {type(exc).__name__}: {exc}") from None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise CohortSizeError(f"{call} returned {value!r}; expected an integer >= 1 "
                              "(1: one by one)")
    return int(value)


class CohortSizeError(ValueError):
    """A detector's ``cohort_size`` raised or returned something other than a count."""


def cohort_key(group: ModelGroup) -> str:
    """Groups with equal keys may share a cohort: all parameters equal but ``cohort_params``."""
    varying = capabilities_of(group.cls).cohort_params
    fixed = {k: v for k, v in group.params.items() if k not in varying}
    return json.dumps([group.cls.__module__, group.cls.__qualname__, fixed], sort_keys=True,
                      default=str)


def cell_seeds(suite_seed: int, dataset: str, normal: str, repetition: int) -> dict[str, int]:
    """The seeds of one cell: its class's training/validation split, its anomaly draw, its
    model and its posterior draw (stored records carry the model's as ``seed``)."""
    return {
        "split": derive_seed(suite_seed, dataset, normal, "split"),
        "anomalies": derive_seed(suite_seed, dataset, normal, repetition, "anomalies"),
        "model": derive_seed(suite_seed, dataset, normal, repetition, "model"),
        "draw": derive_seed(suite_seed, dataset, normal, repetition, "draw"),
    }


def cell_tasks(cells: list[Cell], datasets: dict[str, LabeledData], suite: Suite) -> list[CellTask]:
    """The tasks of cells of one (dataset, class), with the split of each repetition.

    The repetitions share one training/validation split (the same arrays, so
    a cohort pickles them once).
    """
    splits: dict[int, OneClassSplit] = {}
    tasks = []
    for cell in cells:
        entry, normal, rep = cell.entry, cell.normal, cell.repetition
        data = datasets[entry.label]
        nk = normal_key(normal)
        seeds = cell_seeds(suite.seed, entry.label, nk, rep)
        if rep not in splits:
            split = one_class_split(
                data, normal, anomaly_ratio=entry.anomaly_ratio, val_fraction=suite.val_fraction,
                split_seed=seeds["split"], anomaly_seed=seeds["anomalies"],
                anomalies=entry.anomalies)
            if splits:  # the training part depends on (seed, dataset, class) only: share it
                first = next(iter(splits.values()))
                if _same(first.X_train, split.X_train) and _same(first.X_val, split.X_val):
                    split = replace(split, X_train=first.X_train, X_val=first.X_val)
            splits[rep] = split
        split = splits[rep]
        base = dict(cell=cell.cid, dataset=entry.label, normal=nk, repetition=rep,
                    seed=seeds["model"], n_test=len(split.y_test), n_anomalies=split.n_anomalies,
                    model=cell.group.key)
        if data.class_names:
            base["class_name"] = normal_name(data, normal)
        tasks.append(CellTask(cell.cid, cell.group, split, seeds, base))
    return tasks


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(np.array_equal(a, b))
