"""Built-in datasets: ``digits`` (embedded), ``mnist`` and ``fashion-mnist``."""
from __future__ import annotations

import numpy as np

from anobench.api import LabeledData
from anobench.data import IDX_DATASETS, load_idx_dataset
from anobench.hookspecs import hookimpl

#: The digits split: stratified, 70% train / 30% test, fixed seed.
DIGITS_TEST_FRACTION = 0.3
DIGITS_SPLIT_SEED = 0


def load_digits(data_dir=None) -> LabeledData:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download); fixed 70/30 stratified split."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    X = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=DIGITS_TEST_FRACTION, stratify=y, random_state=DIGITS_SPLIT_SEED
    )
    return LabeledData(
        "digits", X_tr, y_tr, X_te, y_te,
        class_names=tuple(str(i) for i in range(10)),
        description="scikit-learn digits, 8x8, 70/30 stratified split (seed 0)",
    )


def _idx_loader(key: str):
    def load(data_dir=None) -> LabeledData:
        xtr, ytr, xte, yte = load_idx_dataset(key, data_dir)
        return LabeledData(
            key,
            (xtr.astype(np.float32) / 255.0)[:, None, :, :],
            ytr.astype(np.int64),
            (xte.astype(np.float32) / 255.0)[:, None, :, :],
            yte.astype(np.int64),
            class_names=IDX_DATASETS[key].class_names,
            description=f"{IDX_DATASETS[key].folder}, 28x28, 60k/10k, pixels / 255",
        )

    load.__doc__ = f"{IDX_DATASETS[key].folder} (28x28 grey images, 60,000 train / 10,000 test)."
    return load


@hookimpl
def anobench_register_datasets(registry) -> None:
    registry.add_dataset("digits", load_digits)
    registry.add_dataset("mnist", _idx_loader("mnist"))
    registry.add_dataset("fashion-mnist", _idx_loader("fashion-mnist"))
