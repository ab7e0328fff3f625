from __future__ import annotations

import gzip

import numpy as np
import pytest

from anobench import data
from anobench.errors import DataError


def write_idx(path, arr, gz=False):
    arr = np.asarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    raw = header + arr.tobytes()
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


def test_read_idx_roundtrip(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a", arr)
    write_idx(tmp_path / "b.gz", arr, gz=True)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "a"), arr)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "b.gz"), arr)


def test_read_idx_rejects_garbage(tmp_path):
    (tmp_path / "x").write_bytes(b"hello world")
    with pytest.raises(DataError, match="bad magic number"):
        data.read_idx(tmp_path / "x")
    write_idx(tmp_path / "y", np.zeros((4, 4)))
    (tmp_path / "y").write_bytes((tmp_path / "y").read_bytes()[:-3])
    with pytest.raises(DataError, match="truncated"):
        data.read_idx(tmp_path / "y")


def test_missing_data_message_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as err:
        data.load_idx_dataset("mnist", tmp_path)
    msg = str(err.value)
    assert "train-images-idx3-ubyte not found" in msg and str(tmp_path / "MNIST") in msg
    assert "anobench data fetch mnist" in msg and "anobench data import mnist DIR" in msg


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("ANOBENCH_DATA", str(tmp_path / "env"))
    assert data.resolve_data_root(None) == tmp_path / "env"
    assert data.resolve_data_root(tmp_path / "cli") == tmp_path / "cli"
    monkeypatch.delenv("ANOBENCH_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.resolve_data_root(None) == tmp_path / "cache" / "anobench"


def test_import_rejects_wrong_checksum(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in data.IDX_DATASETS["mnist"].files:
        write_idx(src / f.name, np.zeros((2, 2)))
    with pytest.raises(DataError, match="expected 47040016"):
        data.import_idx_dataset("mnist", src, tmp_path / "root")
    assert not (tmp_path / "root" / "MNIST").exists()


def test_import_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\[.gz\] not found"):
        data.import_idx_dataset("mnist", tmp_path, tmp_path / "root")


@pytest.mark.mnist
def test_import_real_mnist_and_load(tmp_path, mnist_root):
    dest = data.import_idx_dataset("mnist", mnist_root / "MNIST", tmp_path)
    assert (dest / "train-images-idx3-ubyte").stat().st_size == 47040016
    xtr, _, xte, yte = data.load_idx_dataset("mnist", tmp_path)
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert np.bincount(yte).tolist()[:3] == [980, 1135, 1032]


@pytest.mark.mnist
def test_reads_gz_folder_directly(mnist_root, registry):
    d = registry.dataset("mnist").loader(data_dir=mnist_root)
    assert d.X_train.shape == (60000, 1, 28, 28) and d.X_train.dtype == np.float32
    assert 0.0 <= d.X_train.min() and d.X_train.max() <= 1.0


def test_digits_is_embedded_and_fixed(registry):
    a = registry.dataset("digits").loader(data_dir=None)
    b = registry.dataset("digits").loader(data_dir=None)
    assert a.X_train.shape[1:] == (1, 8, 8) and len(a.X_train) + len(a.X_test) == 1797
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_train.max() <= 1.0
    counts = np.bincount(a.y_test)
    assert counts.min() >= 50  # stratified


def test_fetch_offline_gives_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    class Boom:
        def __init__(self, *a, **k):
            raise OSError("network unreachable")

    monkeypatch.setattr(tvd, "MNIST", Boom)
    with pytest.raises(DataError, match="anobench data import mnist DIR"):
        data.fetch_idx_dataset("mnist", tmp_path)


