"""Your own data without code: the ``custom`` dataset.

A suite entry ``[[datasets]] name = "custom"`` with ``path = ...`` (or a
``path`` on any dataset entry, whose ``name`` then becomes the label) reads:

* ``.npz`` — arrays ``X`` and ``y``, optionally ``X_test`` and ``y_test``;
* ``.csv`` / ``.parquet`` — one row per sample, a label column
  (``label_column``, default ``"label"``), every other column a numeric
  feature; ``test_path`` may name a second file of the same kind as test set;
* ``.npy`` pairs — ``path = "X.npy"`` with ``labels_path = "y.npy"``, or a
  folder holding ``X.npy``, ``y.npy`` (and optionally ``X_test.npy``,
  ``y_test.npy``);
* an image folder in torchvision's ``ImageFolder`` layout
  (``root/<class>/<image>``), or a folder with ``train/`` and ``test/`` in that
  layout.

Samples of shape ``(n, d)`` stay tabular (MLP networks); ``(n, H, W)`` become
``(n, 1, H, W)`` and ``(n, C, H, W)`` stay images (conv networks); channels-last
``(n, H, W, C)`` with C in {1, 3, 4} is transposed. ``uint8`` arrays and
decoded images are divided by 255. Labels are integers (also when written as
text, ``"10"``), or names (strings) numbered 0, 1, ... in sorted order.

Without a test set, a fixed stratified split holds out ``test_fraction``
(default 0.3) of the samples with ``split_seed`` (default 0), so it is the same
in every run. ``scaling`` (``none``, ``minmax``, ``standardize``) is fitted by
the protocol on the training normals of each split (see
:func:`anobench.protocol.fit_scaling`).

Every problem with a file is a :class:`~anobench.errors.DataError` with one
line naming the file and the problem.
"""
from __future__ import annotations

import csv
import math
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from anobench.api import LabeledData
from anobench.errors import DataError
from anobench.hookspecs import hookimpl
from anobench.protocol import SCALINGS
from anobench_plugins._image_folder import read_image_folder

TABLE_SUFFIXES = (".csv", ".parquet")


def _fail(path: Path | str, problem: str) -> DataError:
    return DataError(f"{path}: {problem}")


# -- arrays -------------------------------------------------------------------
def _as_samples(X: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Check and convert a sample array to float32 ``(n, d)`` or ``(n, C, H, W)``."""
    if X.dtype == object:
        raise _fail(path, f"{key} is an object array (mixed shapes or types?); store one numeric "
                          "array of equal-shaped samples")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise _fail(path, f"{key} has dtype {X.dtype}, expected numbers")
    if np.iscomplexobj(X):
        raise _fail(path, f"{key} holds complex numbers (dtype {X.dtype}); store real values "
                          "(e.g. the magnitude, or real and imaginary parts as features)")
    if X.ndim < 2 or X.ndim > 4:
        raise _fail(path, f"{key} has shape {X.shape}; expected (n, d) tabular, (n, H, W) or "
                          "(n, C, H, W) images")
    if len(X) == 0:
        raise _fail(path, f"{key} holds no samples")
    scale = 255.0 if X.dtype == np.uint8 else 1.0
    if X.ndim == 3:
        X = X[:, None]
    elif X.ndim == 4 and X.shape[-1] in (1, 3, 4) and X.shape[1] not in (1, 3, 4):
        X = np.moveaxis(X, -1, 1)
    X = np.ascontiguousarray(X, dtype=np.float32)
    if scale != 1.0:
        X /= scale
    bad = ~np.isfinite(X.reshape(len(X), -1)).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise _fail(path, f"{key} has NaN or infinite values in {int(bad.sum())} sample(s) "
                          f"(first: sample {first})")
    return X


def _raw_labels(y: np.ndarray, path: Path, key: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise _fail(path, f"{key} has shape {y.shape}; expected one label per sample (n,)")
    if y.dtype.kind == "S" or (y.dtype == object and any(isinstance(v, bytes) for v in y)):
        y = _decode_labels(y, path, key)
    if y.dtype == object:
        y = y.astype(str)
    if y.dtype.kind == "U" and all(_INTEGER.fullmatch(v) for v in np.unique(y).tolist()):
        y = y.astype(np.int64)  # labels written as text ("10", "2") are the numbers they say
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all():
            raise _fail(path, f"{key} has NaN or infinite labels")
        if not np.all(y == np.round(y)):
            raise _fail(path, f"{key} has non-integer labels (e.g. {y[y != np.round(y)][0]}); "
                              "labels are integers or names")
        y = y.astype(np.int64)
    elif y.dtype == bool:
        y = y.astype(np.int64)
    return y


_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")  # ASCII digits only: "٣" and "３" stay names


def _decode_labels(y: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Byte-string labels as text (UTF-8); one line naming the file otherwise."""
    out = []
    for v in y.tolist():
        if isinstance(v, bytes):
            try:
                v = v.decode("utf-8")
            except UnicodeDecodeError:
                raise _fail(path, f"{key} holds byte-string labels that are not UTF-8 text "
                                  f"(e.g. {v[:20]!r}); store the labels as text or integers"
                            ) from None
        out.append(str(v))
    return np.asarray(out, dtype=str)


def _encode(y_parts: list[np.ndarray], path: Path) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Integer labels stay as they are; names become 0, 1, ... in sorted order."""
    if all(np.issubdtype(y.dtype, np.integer) for y in y_parts):
        return [y.astype(np.int64) for y in y_parts], ()
    strs = [y.astype(str) for y in y_parts]
    if any(np.any(np.char.strip(s) == "") for s in strs):
        raise _fail(path, "some labels are empty")
    names = tuple(sorted(set(np.concatenate(strs).tolist())))
    index = {n: i for i, n in enumerate(names)}
    return [np.array([index[v] for v in s], dtype=np.int64) for s in strs], names


def _pair(X: np.ndarray, y: np.ndarray, path: Path, xkey: str, ykey: str):
    X = _as_samples(np.asarray(X), path, xkey)
    y = _raw_labels(y, path, ykey)
    if len(X) != len(y):
        raise _fail(path, f"{xkey} has {len(X)} samples but {ykey} has {len(y)} labels")
    return X, y


def _np_load(path: Path, **kw):
    try:
        return np.load(path, allow_pickle=False, **kw)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise _fail(path, "holds an object array (mixed shapes?); store one numeric array "
                              "of equal-shaped samples") from None
        raise _fail(path, f"cannot read: {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"cannot read: {exc}") from None


def _read_npz(path: Path):
    try:
        return _read_npz_arrays(path)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise _fail(path, f"corrupt .npz file: {type(exc).__name__}: {exc}") from None


def _read_npz_arrays(path: Path):
    with _np_load(path) as z:
        keys = set(z.files)
        for need in ("X", "y"):
            if need not in keys:
                raise _fail(path, f"no array {need!r} (arrays: {', '.join(sorted(keys)) or 'none'};"
                                  " need X and y, optionally X_test and y_test)")
        if ("X_test" in keys) != ("y_test" in keys):
            have, miss = ("X_test", "y_test") if "X_test" in keys else ("y_test", "X_test")
            raise _fail(path, f"has {have} but no {miss}")
        train = _pair(z["X"], z["y"], path, "X", "y")
        test = _pair(z["X_test"], z["y_test"], path, "X_test", "y_test") if "X_test" in keys \
            else None
    return train, test


def _read_npy_pair(xpath: Path, ypath: Path, where: Path):
    for p in (xpath, ypath):
        if not p.is_file():
            raise _fail(p, "file does not exist")
    X = _np_load(xpath)
    y = _np_load(ypath)
    return _pair(X, y, where, xpath.name, ypath.name)


# -- tables -------------------------------------------------------------------
def _read_csv_columns(path: Path) -> dict[str, list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = csv.reader(fh)
            header = next(rows, None)
            if not header:
                raise _fail(path, "is empty (expected a header row with column names)")
            header = [h.strip() for h in header]
            cols: dict[str, list[str]] = {h: [] for h in header}
            if len(cols) != len(header):
                raise _fail(path, "has duplicate column names in its header")
            for line, row in enumerate(rows, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise _fail(path, f"line {line} has {len(row)} fields but the header has "
                                      f"{len(header)} (mixed shapes)")
                for h, v in zip(header, row):
                    cols[h].append(v.strip())
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _fail(path, f"cannot read CSV: {exc}") from None
    return cols


def _read_parquet_columns(path: Path) -> dict[str, np.ndarray]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise _fail(path, "reading .parquet needs pyarrow (pip install pyarrow)") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
        raise _fail(path, f"cannot read Parquet: {exc}") from None
    return {name: table.column(name).to_numpy(zero_copy_only=False)
            for name in table.column_names}


def _read_table(path: Path, label_column: str):
    cols = _read_csv_columns(path) if path.suffix.lower() == ".csv" else _read_parquet_columns(path)
    if label_column not in cols:
        raise _fail(path, f"no label column {label_column!r} (columns: {', '.join(cols)}); "
                          "set label_column = \"...\"")
    features = [c for c in cols if c != label_column]
    if not features:
        raise _fail(path, f"has no feature columns besides {label_column!r}")
    labels = np.asarray(cols[label_column])
    if len(labels) == 0:
        raise _fail(path, "has no rows")
    if labels.dtype.kind in "UOS":
        if labels.dtype.kind != "U":
            labels = _decode_labels(labels, path, f"label column {label_column!r}")
        if np.any(np.char.strip(labels) == ""):
            raise _fail(path, f"label column {label_column!r} has empty values")
        try:  # labels written as numbers stay numbers
            labels = labels.astype(np.float64)
        except ValueError:
            pass
    columns = []
    for c in features:
        try:
            columns.append(np.asarray(cols[c], dtype=np.float64))
        except (ValueError, TypeError):
            values = np.asarray(cols[c]).astype(str)
            bad = str(next(v for v in values if not _is_number(v)))
            raise _fail(path, f"column {c!r} is not numeric (value {bad!r})") from None
    X = np.stack(columns, axis=1)
    return _pair(X, labels, path, "the features", f"label column {label_column!r}")


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


# -- images -------------------------------------------------------------------
def _is_image_folder(root: Path) -> bool:
    return any(p.is_dir() for p in root.iterdir())


def _read_images(root: Path):
    split = [root / "train", root / "test"]
    if all(p.is_dir() and _is_image_folder(p) for p in split):
        (Xtr, ytr), (Xte, yte) = (read_image_folder(p) for p in split)
        if Xtr.shape[1:] != Xte.shape[1:]:
            raise _fail(root, f"train images are {Xtr.shape[1:]} but test images are "
                              f"{Xte.shape[1:]} (mixed shapes)")
        return _pair(Xtr, ytr, root / "train", "images", "labels"), \
            _pair(Xte, yte, root / "test", "images", "labels")
    X, y = read_image_folder(root)
    return _pair(X, y, root, "images", "labels"), None


# -- the loader ---------------------------------------------------------------
def read_file(path: Path, *, label_column: str = "label", labels_path: str = "",
              test_path: str = ""):
    """Read ``path`` into ``((X, y), (X_test, y_test) or None)``, raw labels."""
    if not path.exists():
        raise _fail(path, "file does not exist")
    suffix = path.suffix.lower()
    if path.is_dir():
        train, test = _read_folder(path)
    elif suffix == ".npz":
        train, test = _read_npz(path)
    elif suffix == ".npy":
        if not labels_path:
            raise _fail(path, "a .npy file holds only samples; give labels_path = \"y.npy\" "
                              "(or a folder with X.npy and y.npy)")
        train, test = _read_npy_pair(path, Path(labels_path), path), None
    elif suffix in TABLE_SUFFIXES:
        train, test = _read_table(path, label_column), _read_test_table(test_path, label_column)
    else:
        raise _fail(path, f"unknown file type {suffix or '(no suffix)'!r}; use .npz, .csv, "
                          ".parquet, .npy (with labels_path) or an image folder")
    if test_path and suffix not in TABLE_SUFFIXES:
        raise _fail(path, "test_path applies to .csv/.parquet files; .npz files hold X_test "
                          "and y_test, folders X_test.npy/y_test.npy or test/")
    if test is not None and train[0].shape[1:] != test[0].shape[1:]:
        raise _fail(path, f"training samples have shape {train[0].shape[1:]} but test samples "
                          f"have {test[0].shape[1:]} (mixed shapes)")
    return train, test


def _read_folder(path: Path):
    """A folder of X.npy/y.npy (and X_test.npy/y_test.npy), or class sub-folders of images."""
    if (path / "X.npy").is_file() or (path / "y.npy").is_file():
        train = _read_npy_pair(path / "X.npy", path / "y.npy", path)
        test = None
        if (path / "X_test.npy").exists() or (path / "y_test.npy").exists():
            test = _read_npy_pair(path / "X_test.npy", path / "y_test.npy", path)
        return train, test
    if _is_image_folder(path):
        return _read_images(path)
    raise _fail(path, "folder has neither X.npy/y.npy nor class sub-folders of images")


def _read_test_table(test_path: str, label_column: str):
    """The separate test table of a .csv/.parquet dataset, if ``test_path`` names one."""
    if not test_path:
        return None
    tp = Path(test_path)
    if not tp.exists():
        raise _fail(tp, "file does not exist")
    return _read_table(tp, label_column)

def load_custom(
    data_dir=None,
    *,
    path: str,
    label_column: str = "label",
    labels_path: str = "",
    test_path: str = "",
    scaling: str = "none",
    test_fraction: float = 0.3,
    split_seed: int = 0,
) -> LabeledData:
    """Your own data: .npz, .csv, .parquet, .npy pairs or an image folder (see README)."""
    p = Path(path).expanduser()
    if scaling not in SCALINGS:
        raise _fail(p, f"unknown scaling {scaling!r}; choose one of {', '.join(SCALINGS)}")
    (X, y), test = read_file(p, label_column=label_column, labels_path=labels_path,
                             test_path=test_path)
    if test is None:
        if not 0.0 < test_fraction < 1.0:
            raise _fail(p, f"test_fraction must be in (0, 1), got {test_fraction}")
        (y,), names = _encode([y], p)
        _check_classes(p, y, names)
        X, X_test, y, y_test = _stratified_split(p, X, y, test_fraction, split_seed)
        note = f"stratified {1 - test_fraction:g}/{test_fraction:g} split (seed {split_seed})"
    else:
        X_test, y_test = test
        (y, y_test), names = _encode([y, y_test], p)
        _check_classes(p, np.concatenate([y, y_test]), names)
        note = "given test set"
    shape = "x".join(map(str, X.shape[1:]))
    return LabeledData(
        p.stem, X, y, X_test, y_test, class_names=names,
        description=f"{p.name}: {len(X)} train / {len(X_test)} test, samples {shape}, {note}",
        scaling=scaling,
    )


def _check_classes(path: Path, y: np.ndarray, names: tuple[str, ...]) -> None:
    classes = np.unique(y)
    if len(classes) < 2:
        label = names[int(classes[0])] if names else int(classes[0])
        raise _fail(path, f"has a single class ({label!r}); one-class evaluation needs normal "
                          "samples and samples of at least one other class as anomalies")


def _stratified_split(path: Path, X, y, fraction: float, seed: int):
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        if len(members) < 2:
            raise _fail(path, f"class {int(c)} has {len(members)} sample; the train/test split "
                              "needs at least 2 per class (or give a test set)")
        n_test = min(len(members) - 1, max(1, math.floor(len(members) * fraction + 0.5)))
        test_idx.append(members[:n_test])
        train_idx.append(members[n_test:])
    tr, te = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))
    return X[tr], X[te], y[tr], y[te]


@hookimpl
def anobench_register_datasets(registry) -> None:
    registry.add_dataset("custom", load_custom)
