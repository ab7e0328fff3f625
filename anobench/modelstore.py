"""Kept models: each trained model of a run, stored under the run directory.

With ``[suite] keep_models = true`` (or ``anobench run --keep-models``) the
runner writes, for every finished cell whose detector can export its state
(the ``model_state`` capability, :class:`anobench.api.Detector`),
``<run_dir>/models/<safe cell id>.npz``: the weights (``state/<name>``
arrays) and, as JSON in ``meta``, what rebuilds the detector — its
registered name and class, the constructor parameters (seed and device
filled in), the cell's seeds, the sample shape, the model group. The file is
written atomically (through ``path.part``) before the cell's records block,
so every finished cell has its model and a resumed run only adds models.
``anobench rescore`` (:mod:`anobench.rescore`) reads them back.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anobench.capabilities import capabilities_of
from anobench.errors import AnobenchError
from anobench.scores import safe_cell_id
from anobench.atomic import write_atomic
from anobench.store import jsonable

MODELS_DIR = "models"
#: Format of a model file: 1 = npz with ``meta`` (JSON) and ``state/<name>`` arrays.
MODEL_FORMAT = 1
_STATE = "state/"


@dataclass(frozen=True)
class KeptModel:
    """One cell's trained model and what rebuilds it."""

    cell: str
    detector: str  # the registered name
    cls: str  # module:qualname, checked when loading
    params: dict[str, Any]  # the constructor's keyword arguments (random_state filled in)
    seeds: dict[str, int]  # the cell's seeds (split, anomalies, model, draw)
    sample_shape: tuple[int, ...]
    model: str  # the model group key (the records' "model")
    state: dict[str, np.ndarray] = field(default_factory=dict)


def can_keep(cls: type) -> bool:
    """Whether a detector class can export and restore its fitted state."""
    return capabilities_of(cls).keeps_models


def model_path(run_dir: Path, cell: str) -> Path:
    return Path(run_dir) / MODELS_DIR / f"{safe_cell_id(cell)}.npz"


def class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def export_state(det: Any) -> dict[str, np.ndarray]:
    """``det.model_state()`` checked: a dict of names to numeric arrays."""
    state = det.model_state()
    if not isinstance(state, dict) or not state:
        raise ValueError(f"model_state() returned {type(state).__name__}, expected a non-empty "
                         "dict of arrays")
    out = {}
    for k, v in state.items():
        arr = np.asarray(v)
        if not isinstance(k, str) or arr.dtype.kind not in "fiub":
            raise ValueError(f"model_state()[{k!r}] is not a named numeric array")
        out[k] = arr
    return out


def save_model(run_dir: Path, kept: KeptModel) -> Path:
    """Write one cell's model atomically; return its path."""
    path = model_path(run_dir, kept.cell)
    meta = {"format": MODEL_FORMAT, "cell": kept.cell, "detector": kept.detector,
            "class": kept.cls, "params": jsonable(kept.params, "params"),
            "seeds": {k: int(v) for k, v in kept.seeds.items()},
            "sample_shape": [int(d) for d in kept.sample_shape], "model": kept.model}
    buf = io.BytesIO()
    arrays: dict[str, Any] = {_STATE + k: v for k, v in kept.state.items()}
    np.savez(buf, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    try:
        path.parent.mkdir(exist_ok=True)
    except OSError as exc:
        raise AnobenchError(f"{path.parent}: cannot create the models folder: "
                            f"{exc.strerror or exc}") from None
    write_atomic(path, buf.getvalue(), within=run_dir)
    return path


def load_model(path: Path) -> KeptModel:
    """Read a model file; raise :class:`AnobenchError` naming it if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            state = {k[len(_STATE):]: z[k] for k in z.files if k.startswith(_STATE)}
        if meta.get("format") != MODEL_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {MODEL_FORMAT}")
        return KeptModel(str(meta["cell"]), str(meta["detector"]), str(meta["class"]),
                         dict(meta["params"]), {k: int(v) for k, v in meta["seeds"].items()},
                         tuple(int(d) for d in meta["sample_shape"]), str(meta["model"]), state)
    except FileNotFoundError:
        raise AnobenchError(f"{path}: no kept model for this cell") from None
    except (OSError, KeyError, ValueError, TypeError, EOFError, AttributeError,
            zipfile.BadZipFile) as exc:
        raise AnobenchError(f"{path}: unreadable model file: {exc}") from None


def restore_detector(kept: KeptModel, cls: type, device: str | None = None) -> Any:
    """A fitted detector of class ``cls`` rebuilt from ``kept`` (``device`` replaces a stored one)."""
    if class_path(cls) != kept.cls:
        raise AnobenchError(f"model of cell {kept.cell!r}: stored for class {kept.cls}, but "
                            f"detector {kept.detector!r} is now {class_path(cls)}")
    params = dict(kept.params)
    if device and "device" in params:
        params["device"] = device
    try:
        return cls(**params).load_model_state(kept.state, kept.sample_shape)
    except (TypeError, ValueError) as exc:
        raise AnobenchError(f"model of cell {kept.cell!r} (detector {kept.detector!r}): cannot "
                            f"restore it: {exc}") from None


# ------------------------------------------------------------------ the estimate

@dataclass(frozen=True)
class StoreEstimate:
    """What keeping a suite's models costs: models and bytes per detector entry point."""

    models: dict[str, tuple[int, int]]  # grid point -> (number of models, bytes per model)
    not_kept: tuple[str, ...]  # detector names that cannot export their state

    @property
    def total_bytes(self) -> int:
        return sum(n * b for n, b in self.models.values())

    @property
    def total_models(self) -> int:
        return sum(n for n, _ in self.models.values())

    def lines(self) -> list[str]:
        """The estimate in words, one line per model kind and a total."""
        out = [f"  {name}: {n} model(s) of {human_bytes(b)}" for name, (n, b) in
               self.models.items()]
        out.append(f"  in all: {self.total_models} model(s), {human_bytes(self.total_bytes)} "
                   f"under <run>/{MODELS_DIR}/")
        if self.not_kept:
            out.append(f"  not kept (no model_state): {', '.join(self.not_kept)}")
        return out


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def estimate_store(suite: Any, datasets: dict[str, Any], groups: list[Any]) -> StoreEstimate:
    """Models and bytes a run of ``suite`` keeps (after its datasets are loaded).

    ``groups``: the run's model groups (:func:`anobench.units.model_groups`);
    each keeps one model per (dataset, class, repetition). The bytes are the
    detector's ``model_bytes(params, sample_shape)`` (0 if it has none); the
    npz container adds about 100 bytes per array.
    """
    models: dict[str, tuple[int, int]] = {}
    not_kept: list[str] = []
    for g in groups:
        if not can_keep(g.cls):
            not_kept.append(g.configs[0].point)
            continue
        size = g.cls.model_bytes if capabilities_of(g.cls).model_bytes else None
        for entry in suite.datasets:
            data = datasets[entry.label]
            n = len(entry.classes or data.classes) * suite.repetitions
            b = int(size(dict(g.params), tuple(data.sample_shape))) if callable(size) else 0
            models[f"{g.configs[0].point} on {entry.label}"] = (n, b)
    return StoreEstimate(models, tuple(dict.fromkeys(not_kept)))
