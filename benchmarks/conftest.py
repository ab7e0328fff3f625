from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def registry():
    from anobench.plugins import load_registry

    return load_registry()


@pytest.fixture(scope="session")
def digits(registry):
    return registry.dataset("digits").loader(data_dir=None)


@pytest.fixture(scope="session")
def digits_split(digits):
    from anobench.protocol import one_class_split

    return one_class_split(digits, 3, split_seed=0, anomaly_seed=0)
