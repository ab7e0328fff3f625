"""The one-class protocol (paper §4.1, DESIGN §4).

For a normal class c (or a set of classes):

* training data: all training-set samples of c, of which a ``val_fraction``
  part (20%) is held out for validation / early stopping. The split depends
  only on (suite seed, dataset, class), so it is the same for every
  repetition, as in the authors' code.
* test data: all test-set samples of c plus ``floor(n_c / (1 - p) * p)``
  anomalies drawn without replacement from the other classes, re-drawn for
  every repetition (seed from suite seed, dataset, class, repetition) — the
  ``ratio`` setting; or, in the ``all`` setting, every test-set sample of the
  other classes (the same test set in every repetition).

Anomalies are the positive class (label 1).

A dataset may ask for per-feature scaling (``LabeledData.scaling``): it is
fitted on the training part of the normals of each split (not the validation
part, never the test set) and applied to training, validation and test data,
so it depends on the normal class and lives here, not in the loader.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from anobench.api import LabeledData
from anobench.errors import DataError


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from any printable parts (stable across runs and machines)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def normal_key(normal: int | tuple[int, ...]) -> str:
    """How a normal class (or set) is written in records and tables."""
    if isinstance(normal, (tuple, list)):
        return "+".join(str(int(c)) for c in normal)
    return str(int(normal))


@dataclass(frozen=True)
class OneClassSplit:
    """Train/validation normals and a labelled test set for one repetition."""

    X_train: np.ndarray
    X_val: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray  # 1 = anomaly
    test_classes: np.ndarray  # original labels of the test samples

    @property
    def n_anomalies(self) -> int:
        return int(self.y_test.sum())


def n_anomalies_for(n_normal: int, ratio: float) -> int:
    """``floor(n / (1 - p) * p)``: anomalies so that they make up ``p`` of the test set."""
    return math.floor(n_normal / (1.0 - ratio) * ratio)


#: How a test set gets its anomalies: ``ratio`` draws ``floor(n/(1-p)·p)`` of them,
#: ``all`` takes every test sample of the other classes.
ANOMALY_SETTINGS = ("ratio", "all")
#: The paper's share p of anomalies in a test set.
DEFAULT_ANOMALY_RATIO = 0.2


def largest_fitting_ratio(n_normal: int, n_other: int) -> float:
    """A short ratio ``p`` that takes all ``n_other`` anomalies: ``floor(n/(1-p)·p) == m``.

    Every ``p`` in ``[m/(n+m), (m+1)/(n+m+1))`` does; this returns the
    shortest decimal (fewest significant digits) in that range, so that it
    can be written in a suite as it is printed.
    """
    if n_other <= 0:
        return 0.0
    exact = n_other / (n_normal + n_other)
    for digits in range(1, 16):
        scale = 10 ** (digits - 1 - math.floor(math.log10(exact)))
        p = math.ceil(exact * scale) / scale
        if p < 1.0 and n_anomalies_for(n_normal, p) == n_other:
            return p
    return exact


def test_set_sizes(data: LabeledData, normal: int | tuple[int, ...], anomalies: str = "ratio",
                   ratio: float = DEFAULT_ANOMALY_RATIO) -> tuple[int, int, int]:
    """``(normals, anomalies drawn, other-class samples available)`` of one test set."""
    classes = np.atleast_1d(np.asarray(normal))
    is_normal = np.isin(data.y_test, classes)
    n_normal, n_other = int(is_normal.sum()), int((~is_normal).sum())
    if anomalies not in ANOMALY_SETTINGS:
        raise ValueError(f"anomalies must be one of {ANOMALY_SETTINGS}, got {anomalies!r}")
    n_anom = n_other if anomalies == "all" else n_anomalies_for(n_normal, ratio)
    return n_normal, n_anom, n_other


def check_test_set(data: LabeledData, normal: int | tuple[int, ...], anomalies: str = "ratio",
                   ratio: float = DEFAULT_ANOMALY_RATIO, label: str | None = None,
                   fits: float | None = None) -> tuple[int, int]:
    """Raise :class:`DataError` if the test set of ``normal`` cannot be built.

    ``label`` names the dataset as the suite does (default: ``data.name``);
    ``fits`` is the ratio to suggest, one that fits every normal class of the
    suite entry (default: the largest that fits this class). Returns
    ``(normals, anomalies)``.
    """
    label = label or data.name
    n_normal, n_anom, n_other = test_set_sizes(data, normal, anomalies, ratio)
    where = f"dataset {label!r}: normal class {normal_key(normal)}"
    if n_normal == 0:
        raise DataError(f"{where} has no test samples")
    if n_other == 0:
        raise DataError(f"{where}: the test set has no samples of other classes to use as anomalies")
    if n_anom > n_other:
        ok = largest_fitting_ratio(n_normal, n_other) if fits is None else fits
        scope = "" if fits is None else " every normal class of this entry"
        raise DataError(
            f"{where}: anomaly_ratio {ratio:g} needs {n_anom} anomalies for {n_normal} normal test "
            f"samples but the test set has only {n_other} samples of other classes; "
            f"anomaly_ratio = {ok:g} fits{scope}, or anomalies = \"all\" takes all {n_other}")
    if n_anom == 0:
        least = 1.0 / (n_normal + 1)
        raise DataError(
            f"{where}: anomaly_ratio {ratio:g} gives no anomalies for {n_normal} normal test "
            f"samples; anomaly_ratio >= {math.ceil(least * 1e4) / 1e4:g} gives at least one, "
            f"or anomalies = \"all\" takes all {n_other}")
    return n_normal, n_anom


#: Fewest training samples a normal class may keep after the validation split
#: (a detector fitted on one sample has no spread to learn).
MIN_TRAIN_SAMPLES = 2


def check_training_size(data: LabeledData, normal: int | tuple[int, ...], val_fraction: float,
                        label: str | None = None) -> int:
    """Training samples of ``normal`` after the validation split; :class:`DataError` if
    fewer than :data:`MIN_TRAIN_SAMPLES` (naming a ``val_fraction`` that leaves enough)."""
    train = 0
    largest = 1.0
    for c in np.atleast_1d(np.asarray(normal)):
        n = int(np.count_nonzero(data.y_train == c))
        if n < 2:
            return n  # train_val_split names it
        n_val = min(n - 1, math.ceil(n * val_fraction)) if val_fraction > 0 else 0
        train += n - n_val
        largest = min(largest, (n - MIN_TRAIN_SAMPLES) / n)
    if train < MIN_TRAIN_SAMPLES:
        fits = math.floor(max(largest, 0.0) * 1e4) / 1e4
        raise DataError(f"dataset {label or data.name!r}: normal class {normal_key(normal)}: "
                        f"val_fraction {val_fraction:g} leaves {train} training sample(s); at "
                        f"least {MIN_TRAIN_SAMPLES} are needed (val_fraction <= {fits:g} leaves "
                        "enough)")
    return train


def train_val_split(
    data: LabeledData, normal: int | tuple[int, ...], val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    classes = np.atleast_1d(np.asarray(normal))
    idx = np.flatnonzero(np.isin(data.y_train, classes))
    if len(idx) < 2:
        raise DataError(
            f"dataset {data.name!r}: normal class {normal_key(normal)} has {len(idx)} training samples"
        )
    if val_fraction <= 0:
        return data.X_train[idx], None
    rng = np.random.default_rng(seed)
    perm = rng.permutation(idx)
    # stratified over the normal classes when several are normal
    labels = data.y_train[perm]
    val_parts, train_parts = [], []
    for c in classes:
        members = perm[labels == c]
        n_val = min(len(members) - 1, math.ceil(len(members) * val_fraction))
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    val = np.sort(np.concatenate(val_parts))
    train = np.sort(np.concatenate(train_parts))
    return data.X_train[train], data.X_train[val]


def draw_test_set(
    data: LabeledData, normal: int | tuple[int, ...], ratio: float, seed: int,
    anomalies: str = "ratio",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test samples, labels (1 = anomaly) and original classes for one repetition.

    ``anomalies="ratio"`` draws ``floor(n/(1-p)·p)`` anomalies with ``seed``;
    ``"all"`` takes every test sample of the other classes (``seed`` unused).
    """
    classes = np.atleast_1d(np.asarray(normal))
    normal_idx = np.flatnonzero(np.isin(data.y_test, classes))
    other_idx = np.flatnonzero(~np.isin(data.y_test, classes))
    _, n_anom = check_test_set(data, normal, anomalies, ratio)
    if anomalies == "all":
        anom_idx = other_idx
    else:
        rng = np.random.default_rng(seed)
        anom_idx = rng.choice(other_idx, size=n_anom, replace=False)
    idx = np.concatenate([normal_idx, anom_idx])
    y = np.concatenate([np.zeros(len(normal_idx), np.int64), np.ones(n_anom, np.int64)])
    return data.X_test[idx], y, data.y_test[idx]


SCALINGS = ("none", "minmax", "standardize")


def fit_scaling(X_train: np.ndarray, method: str):
    """Fit a per-feature scaling on ``X_train``; return ``transform(X) -> X``.

    ``minmax`` maps each feature of ``X_train`` to [0, 1] (test values may fall
    outside), ``standardize`` to zero mean and unit variance; a constant
    feature is only shifted. ``none`` returns the identity.
    """
    if method not in SCALINGS:
        raise DataError(f"unknown scaling {method!r}; choose one of {', '.join(SCALINGS)}")
    if method == "none":
        return lambda X: X
    X = np.asarray(X_train, dtype=np.float64)
    if method == "minmax":
        shift, span = X.min(axis=0), X.max(axis=0) - X.min(axis=0)
    else:
        shift, span = X.mean(axis=0), X.std(axis=0)
    span = np.where(span > 1e-12, span, 1.0)

    def transform(A: np.ndarray | None) -> np.ndarray | None:
        if A is None:
            return None
        return ((np.asarray(A, dtype=np.float64) - shift) / span).astype(np.float32)

    return transform


def one_class_split(
    data: LabeledData,
    normal: int | tuple[int, ...],
    *,
    anomaly_ratio: float = DEFAULT_ANOMALY_RATIO,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    anomaly_seed: int = 0,
    anomalies: str = "ratio",
) -> OneClassSplit:
    """Build the training, validation and test data for one repetition."""
    X_train, X_val = train_val_split(data, normal, val_fraction, split_seed)
    X_test, y_test, test_classes = draw_test_set(data, normal, anomaly_ratio, anomaly_seed,
                                                 anomalies)
    scaling = getattr(data, "scaling", "none")
    if scaling != "none":
        scale = fit_scaling(X_train, scaling)
        X_train, X_val, X_test = scale(X_train), scale(X_val), scale(X_test)
    return OneClassSplit(X_train, X_val, X_test, y_test, test_classes)
