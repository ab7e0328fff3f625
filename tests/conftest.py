from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    return Path(os.environ.get("ANOBENCH_TEST_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """A data root holding MNIST/ (IDX .gz); skips the test when absent."""
    root = shared_data_dir()
    if not (root / "MNIST" / "train-images-idx3-ubyte.gz").is_file() and not (
        root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    ).is_file():
        pytest.skip(f"MNIST not found under {root} (set ANOBENCH_TEST_DATA)")
    return root


@pytest.fixture(scope="session")
def registry():
    from anobench.manager import load_registry

    return load_registry()


@pytest.fixture
def write_suite(tmp_path):
    """Write suite text to tmp_path/<name>.toml and return the path."""

    def _write(text: str, name: str = "suite") -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        return path

    return _write


#: One cell: pca on digits class 0, one repetition (the bad-input and schema cases edit it).
ONE_CELL_SUITE = """
[suite]
name = "tiny"
seed = 1
repetitions = 1

[[datasets]]
name = "digits"
classes = [0]

[[detectors]]
name = "pca"
params = { n_components = 8 }
"""

TINY_SUITE = """
[suite]
name = "tiny"
seed = 1
repetitions = 2

[[datasets]]
name = "digits"
classes = [0, 3]

[[detectors]]
name = "pca"
params = { n_components = 8 }
"""


@pytest.fixture
def tiny_suite(write_suite) -> Path:
    return write_suite(TINY_SUITE, "tiny")
