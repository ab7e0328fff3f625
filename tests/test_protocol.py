from __future__ import annotations

import math

import numpy as np
import pytest

from anobench.api import LabeledData
from anobench.errors import DataError
from anobench.protocol import derive_seed, n_anomalies_for, normal_key, one_class_split


def toy(n_train=100, n_test=50, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    ytr = np.repeat(np.arange(classes), n_train // classes)
    yte = np.repeat(np.arange(classes), n_test // classes)
    # encode the index in the sample so we can trace where each one came from
    Xtr = np.stack([np.arange(len(ytr)), ytr], 1).astype(np.float32)
    Xte = np.stack([np.arange(len(yte)) + 10_000, yte], 1).astype(np.float32)
    rng.shuffle(Xtr)
    return LabeledData("toy", Xtr, Xtr[:, 1].astype(np.int64), Xte, yte.astype(np.int64))


def test_anomaly_count_formula():
    # paper: floor(n / (1 - p) * p)
    assert n_anomalies_for(980, 0.2) == 245
    assert n_anomalies_for(1135, 0.2) == math.floor(1135 / 0.8 * 0.2) == 283
    assert n_anomalies_for(10, 0.5) == 10


def test_split_contents():
    data = toy()
    s = one_class_split(data, 1, anomaly_ratio=0.2, val_fraction=0.2, split_seed=3, anomaly_seed=4)
    assert (s.X_train[:, 1] == 1).all() and (s.X_val[:, 1] == 1).all()
    assert len(s.X_train) + len(s.X_val) == 25 and len(s.X_val) == 5  # ceil(0.2 * 25)
    assert not set(s.X_train[:, 0]) & set(s.X_val[:, 0])
    normals = s.test_classes == 1
    assert normals.sum() == 12 and (s.y_test[normals] == 0).all()
    assert (s.y_test[~normals] == 1).all() and s.n_anomalies == n_anomalies_for(12, 0.2) == 3
    assert len(set(s.X_test[:, 0])) == len(s.X_test)  # without replacement


def test_validation_split_fixed_across_repetitions_anomalies_redrawn():
    data = toy(n_test=400)
    a = one_class_split(data, 2, split_seed=7, anomaly_seed=1)
    b = one_class_split(data, 2, split_seed=7, anomaly_seed=2)
    np.testing.assert_array_equal(a.X_val, b.X_val)
    assert set(a.X_test[a.y_test == 1, 0]) != set(b.X_test[b.y_test == 1, 0])
    c = one_class_split(data, 2, split_seed=7, anomaly_seed=1)
    np.testing.assert_array_equal(a.X_test, c.X_test)


def test_set_of_normal_classes():
    data = toy()
    s = one_class_split(data, (0, 1), split_seed=0, anomaly_seed=0)
    assert set(s.X_train[:, 1]) == {0, 1} and set(s.X_val[:, 1]) == {0, 1}
    assert set(s.test_classes[s.y_test == 0]) == {0, 1}
    assert normal_key((0, 1)) == "0+1" and normal_key(3) == "3"


def test_too_few_anomalies_available():
    data = toy(classes=2)
    with pytest.raises(DataError, match="needs 225 anomalies"):
        one_class_split(data, 0, anomaly_ratio=0.9)


def test_derive_seed_is_stable_and_distinct():
    assert derive_seed(0, "mnist", 3, 1) == derive_seed(0, "mnist", 3, 1)
    assert derive_seed(0, "mnist", 3, 1) != derive_seed(0, "mnist", 3, 2)
    assert 0 <= derive_seed("x") < 2**31
