"""The dataset-loader check of the conformance kit (see :mod:`anobench.testing`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from anobench.api import LabeledData
from anobench.testing.kit import Checker, check_registers


def check_dataset(loader: Any, data_dir: Any = None, **options: Any) -> LabeledData:
    """Check a dataset loader: ``loader(data_dir=..., **options)`` returns usable data.

    Checks that it registers, returns a :class:`~anobench.api.LabeledData` with
    float32 samples of one shape ``(n, d)`` or ``(n, C, H, W)`` in train and
    test, finite values, int64 labels (one per sample) of at least two
    classes, class names (if any) for every label, and that loading twice gives
    the same data. Returns the data.
    """
    name = getattr(loader, "__name__", repr(loader))
    c = Checker(f"check_dataset({name})")
    check_registers(c, "add_dataset", loader)
    data = loader(data_dir=data_dir, **options)
    if not isinstance(data, LabeledData):
        raise c.fail("return", f"returned {type(data).__name__}, not a LabeledData")
    for part in ("train", "test"):
        X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
        if not isinstance(X, np.ndarray) or X.dtype != np.float32:
            raise c.fail(part, f"X_{part} must be a float32 ndarray, got "
                               f"{getattr(X, 'dtype', type(X).__name__)}")
        if X.ndim not in (2, 4) or len(X) == 0:
            raise c.fail(part, f"X_{part} has shape {X.shape}; expected (n, d) or (n, C, H, W)")
        if X.shape[1:] != data.X_train.shape[1:]:
            raise c.fail(part, f"X_{part} samples have shape {X.shape[1:]}, X_train "
                               f"{data.X_train.shape[1:]}")
        if not np.isfinite(X).all():
            raise c.fail(part, f"X_{part} has NaN or infinite values")
        if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.shape != (len(X),):
            raise c.fail(part, f"y_{part} must be int64 of shape ({len(X)},), got "
                               f"{getattr(y, 'dtype', type(y).__name__)} "
                               f"{getattr(y, 'shape', '')}")
    if len(data.classes) < 2:
        raise c.fail("classes", f"only {len(data.classes)} class; one-class evaluation needs "
                                "normals and anomalies")
    if data.class_names and max(data.classes) >= len(data.class_names):
        raise c.fail("classes", f"{len(data.class_names)} class names for labels up to "
                                f"{max(data.classes)}")
    again = loader(data_dir=data_dir, **options)
    if not (np.array_equal(again.X_test, data.X_test) and np.array_equal(again.y_test, data.y_test)):
        raise c.fail("determinism", "loading twice gave different test sets")
    return data
