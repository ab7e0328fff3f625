"""Data roots, IDX files, and getting MNIST-style data onto a machine.

Image datasets live under a *data root*, chosen by ``--data-dir``, then
``$ANOBENCH_DATA``, then ``$XDG_CACHE_HOME/anobench`` (``~/.cache/anobench``).
Files use torchvision's layout, ``<root>/<Folder>/raw/<file>``; a folder
holding the files directly, gzipped or not, is read too (so
``ANOBENCH_DATA=../shared/data`` works as is).

``anobench data fetch NAME`` downloads with torchvision (needs internet);
``anobench data import NAME DIR`` copies IDX files from a directory (offline)
and verifies them by size and MD5.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anobench.atomic import atomic_path
from anobench.errors import DataError

DATA_ENV = "ANOBENCH_DATA"


def default_data_root() -> Path:
    """``$ANOBENCH_DATA`` or the per-user cache directory."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "anobench"


def resolve_data_root(data_dir: str | os.PathLike | None) -> Path:
    root = Path(data_dir).expanduser() if data_dir else default_data_root()
    if root.exists() and not root.is_dir():
        how = "--data-dir" if data_dir else f"${DATA_ENV}" if os.environ.get(DATA_ENV) else "data root"
        raise DataError(f"{root}: the data root ({how}) is not a directory")
    return root


@dataclass(frozen=True)
class IdxFile:
    name: str
    size: int  # uncompressed bytes
    md5: str  # of the uncompressed file


@dataclass(frozen=True)
class IdxDataset:
    """An MNIST-style dataset made of four IDX files."""

    key: str
    folder: str  # torchvision's folder name
    torchvision_class: str
    files: tuple[IdxFile, ...]  # four: train img, train lbl, test img, test lbl
    class_names: tuple[str, ...]


_MNIST_SIZES = (47040016, 60008, 7840016, 10008)
_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

IDX_DATASETS: dict[str, IdxDataset] = {
    "mnist": IdxDataset(
        "mnist", "MNIST", "MNIST",
        tuple(IdxFile(n, s, m) for n, s, m in zip(_NAMES, _MNIST_SIZES, (
            "6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
            "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"))),
        tuple(str(i) for i in range(10)),
    ),
    "fashion-mnist": IdxDataset(
        "fashion-mnist", "FashionMNIST", "FashionMNIST",
        tuple(IdxFile(n, s, m) for n, s, m in zip(_NAMES, _MNIST_SIZES, (
            "f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9",
            "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965"))),
        # the official names (Xiao et al. 2017, the dataset's README)
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
}


def idx_dataset(name: str) -> IdxDataset:
    try:
        return IDX_DATASETS[name]
    except KeyError:
        raise DataError(
            f"no downloadable dataset {name!r}; choose one of {', '.join(IDX_DATASETS)}"
        ) from None


def _candidates(folder: Path, fname: str) -> list[Path]:
    out = []
    for base in (folder / "raw", folder):
        out += [base / fname, base / (fname + ".gz")]
    return out


def find_idx_file(root: Path, ds: IdxDataset, f: IdxFile) -> Path | None:
    for p in _candidates(root / ds.folder, f.name):
        if p.is_file():
            return p
    return None


def missing_message(ds: IdxDataset, root: Path, detail: str) -> str:
    return (
        f"dataset {ds.key!r}: {detail} under {root / ds.folder}; get it with "
        f"`anobench data fetch {ds.key}` (online) or `anobench data import {ds.key} DIR` "
        f"(offline, a folder of the four IDX files), or point --data-dir/${DATA_ENV} at it"
    )


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read IDX file: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims)) if dims else 0
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: truncated or corrupt IDX file ({len(raw) - header} bytes of data, "
            f"header says {expected})"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_idx_dataset(name: str, data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, ...]:
    """Return ``(X_train, y_train, X_test, y_test)`` as uint8 arrays."""
    ds = idx_dataset(name)
    root = resolve_data_root(data_dir)
    arrays, paths = [], []
    for i, f in enumerate(ds.files):
        path = find_idx_file(root, ds, f)
        if path is None:
            raise DataError(missing_message(ds, root, f"{f.name} not found"))
        arr = read_idx(path)
        want = 3 if i % 2 == 0 else 1  # images (n, H, W), labels (n,)
        if arr.ndim != want:
            what = "images (n, H, W)" if want == 3 else "labels (n,)"
            raise DataError(f"{path}: holds an array of shape {arr.shape} where {f.name} should "
                            f"hold {what}; are two IDX files swapped or misnamed?")
        arrays.append(arr)
        paths.append(path)
    xtr, ytr, xte, yte = arrays
    for (x, y), (px, py) in (((xtr, ytr), paths[:2]), ((xte, yte), paths[2:])):
        if len(x) != len(y):
            raise DataError(f"{px}: {len(x)} images but {py} has {len(y)} labels; are files of "
                            "different datasets or splits mixed?")
    return xtr, ytr, xte, yte


def _md5_and_size(path: Path) -> tuple[str, int]:
    h = hashlib.md5()
    size = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def verify_file(path: Path, f: IdxFile) -> None:
    try:
        md5, size = _md5_and_size(path)
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    if size != f.size:
        raise DataError(f"{path}: {size} bytes uncompressed, expected {f.size} for {f.name}")
    if md5 != f.md5:
        raise DataError(f"{path}: MD5 {md5} does not match the published {f.md5}")


def import_idx_dataset(name: str, source: str | os.PathLike, data_dir=None) -> Path:
    """Copy (and gunzip) the four IDX files of ``name`` from ``source``; verify them."""
    ds = idx_dataset(name)
    src = Path(source).expanduser()
    if not src.is_dir():
        raise DataError(f"{src}: not a directory")
    dest = resolve_data_root(data_dir) / ds.folder / "raw"
    found = []
    for f in ds.files:
        cands = [src / f.name, src / (f.name + ".gz"), src / "raw" / f.name,
                 src / "raw" / (f.name + ".gz"), src / ds.folder / f.name,
                 src / ds.folder / (f.name + ".gz")]
        path = next((p for p in cands if p.is_file()), None)
        if path is None:
            raise DataError(f"{src}: {f.name}[.gz] not found (need the four {ds.folder} IDX files)")
        verify_file(path, f)
        found.append((path, f))
    dest.mkdir(parents=True, exist_ok=True)
    for path, f in found:
        opener = gzip.open if path.suffix == ".gz" else open
        # a full disk: the file named, no part file left
        with atomic_path(dest / f.name, error_type=DataError) as tmp, \
                opener(path, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return dest


def fetch_idx_dataset(name: str, data_dir=None) -> Path:
    """Download with torchvision into the data root and verify."""
    ds = idx_dataset(name)
    root = resolve_data_root(data_dir)
    try:
        import torchvision.datasets as tvd
    except ImportError as exc:  # pragma: no cover
        raise DataError(f"torchvision is needed to download {name!r}: {exc}") from exc
    cls = getattr(tvd, ds.torchvision_class)
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as exc:
        raise DataError(
            f"downloading {name!r} failed ({type(exc).__name__}: {exc}); offline, use "
            f"`anobench data import {name} DIR` with the four IDX files"
        ) from exc
    for f in ds.files:
        path = find_idx_file(root, ds, f)
        if path is None:
            raise DataError(missing_message(ds, root, f"{f.name} missing after download"))
        verify_file(path, f)
    return root / ds.folder / "raw"


def data_status(data_dir=None) -> dict[str, str]:
    """For each downloadable dataset, where it is or that it is missing."""
    root = resolve_data_root(data_dir)
    out = {}
    for key, ds in IDX_DATASETS.items():
        paths = [find_idx_file(root, ds, f) for f in ds.files]
        first = paths[0]
        out[key] = (str(first.parent) if first is not None and all(paths)
                    else f"missing (looked in {root / ds.folder})")
    return out
