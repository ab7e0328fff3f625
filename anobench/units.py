"""Work units: the cells of a run, cut into what an executor runs in one call.

A *cell* is (dataset, normal class, repetition, model). The runner turns the
cells still to do into :class:`WorkUnit` objects — picklable, carrying their
data splits — which an executor (:mod:`anobench.executors`) runs, here or in
other processes; each unit comes back as one :class:`CellOutcome` per cell,
which the driver alone stores.
"""
from __future__ import annotations

import hashlib
import inspect
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from anobench.api import LabeledData
from anobench.classes import normal_name
from anobench.protocol import OneClassSplit, derive_seed, normal_key, one_class_split
from anobench.registry import Registry
from anobench.suite import DetectorConfig, Suite


@dataclass(frozen=True)
class ModelGroup:
    """Detector configs that share one trained model."""

    key: str
    name: str
    cls: type
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


@dataclass
class CellTask:
    """One cell to run: its model group, data split, seeds and record fields."""

    cid: str
    group: ModelGroup
    split: OneClassSplit
    seeds: dict[str, int]
    base: dict[str, Any]


@dataclass
class WorkUnit:
    """Cells an executor runs in one call (picklable; see :mod:`anobench.executors`)."""

    tasks: tuple[CellTask, ...]
    registry: Registry
    suite: Suite
    device: str | None


@dataclass
class CellOutcome:
    """What running one cell produced: records and timing, or an error message."""

    cid: str
    records: list[dict] | None = None
    timing: dict | None = None
    error: str | None = None


Cell = tuple[Any, Any, int, ModelGroup, str]  # (entry, normal, repetition, group, cell id)


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
                    cells.append((entry, normal, rep, group, cid))
    return cells


def instantiate(group: ModelGroup, seed: int, device: str | None):
    """The group's detector with ``random_state`` (unless set) and ``device`` (if auto) filled in."""
    accepted = inspect.signature(group.cls.__init__).parameters
    params = dict(group.params)
    if "random_state" in accepted and params.get("random_state") is None:
        params["random_state"] = seed
    if device and "device" in accepted and params.get("device") in (None, "auto"):
        params["device"] = device
    return group.cls(**params)


def worker_registry(registry: Registry) -> Registry:
    """The part of the registry a work unit needs (detectors and rules; it is pickled)."""
    slim = Registry()
    slim.detectors = dict(registry.detectors)
    slim.rules = dict(registry.rules)
    return slim


def work_units(todo: list[Cell], datasets: dict[str, LabeledData], registry: Registry,
               suite: Suite, device: str | None) -> Iterator[WorkUnit]:
    """Work units of the cells still to run, built lazily (with their data splits)."""
    for _, block in itertools.groupby(todo, key=lambda c: (c[0].label, normal_key(c[1]))):
        for task in cell_tasks(list(block), datasets, suite):
            yield WorkUnit((task,), registry, suite, device)


def cell_tasks(cells: list[Cell], datasets: dict[str, LabeledData], suite: Suite) -> list[CellTask]:
    """The tasks of cells of one (dataset, class), with the split of each repetition."""
    splits: dict[int, OneClassSplit] = {}
    tasks = []
    for entry, normal, rep, group, cid in cells:
        data = datasets[entry.label]
        nk = normal_key(normal)
        seeds = {
            "split": derive_seed(suite.seed, entry.label, nk, "split"),
            "anomalies": derive_seed(suite.seed, entry.label, nk, rep, "anomalies"),
            "model": derive_seed(suite.seed, entry.label, nk, rep, "model"),
            "draw": derive_seed(suite.seed, entry.label, nk, rep, "draw"),
        }
        if rep not in splits:
            splits[rep] = one_class_split(
                data, normal, anomaly_ratio=entry.anomaly_ratio, val_fraction=suite.val_fraction,
                split_seed=seeds["split"], anomaly_seed=seeds["anomalies"],
                anomalies=entry.anomalies)
        split = splits[rep]
        base = dict(cell=cid, dataset=entry.label, normal=nk, repetition=rep, seed=seeds["model"],
                    n_test=len(split.y_test), n_anomalies=split.n_anomalies, model=group.key)
        if data.class_names:
            base["class_name"] = normal_name(data, normal)
        tasks.append(CellTask(cid, group, split, seeds, base))
    return tasks
