"""Your own data without code: the ``custom`` dataset plugin, ``path =`` on any
dataset entry, per-split scaling, and one-line errors for bad files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from anobench.api import LabeledData
from anobench.cli import main
from anobench.errors import DataError
from anobench.protocol import fit_scaling, one_class_split
from anobench.checks import load_datasets
from anobench.runner import run_suite
from anobench.suite import load_suite

load_custom = pytest.importorskip("anobench_plugins.custom_data").load_custom


def blobs(n_per_class=40, d=5, classes=(0, 1, 2), seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(3 * c, 1.0, size=(n_per_class, d)) for c in classes])
    y = np.repeat(np.asarray(classes), n_per_class)
    return X.astype(np.float32), y


# -- formats ------------------------------------------------------------------------------
def test_npz_without_test_set_gets_a_fixed_stratified_split(tmp_path):
    X, y = blobs()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    a = load_custom(path=str(tmp_path / "d.npz"))
    b = load_custom(path=str(tmp_path / "d.npz"))
    assert a.sample_shape == (5,) and a.X_train.dtype == np.float32
    assert len(a.X_test) == 3 * 12 and np.bincount(a.y_test).tolist() == [12, 12, 12]
    assert np.array_equal(a.X_test, b.X_test)  # same split every time
    c = load_custom(path=str(tmp_path / "d.npz"), split_seed=1, test_fraction=0.5)
    assert len(c.X_test) == 60 and not np.array_equal(np.sort(c.X_test[:, 0]),
                                                      np.sort(a.X_test[:, 0]))
    assert a.classes == (0, 1, 2) and "stratified 0.7/0.3 split (seed 0)" in a.description


def test_npz_with_test_set_and_image_shapes(tmp_path):
    rng = np.random.default_rng(0)
    Xi = rng.integers(0, 256, size=(30, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "img.npz", X=Xi, y=np.arange(30) % 2, X_test=Xi[:10],
             y_test=np.arange(10) % 2)
    d = load_custom(path=str(tmp_path / "img.npz"))
    assert d.X_train.shape == (30, 1, 6, 6) and d.X_test.shape == (10, 1, 6, 6)
    assert d.X_train.max() <= 1.0 and np.allclose(d.X_train[0, 0], Xi[0] / 255.0)
    # channels-last RGB images become (n, C, H, W)
    rgb = rng.uniform(size=(20, 8, 8, 3)).astype(np.float32)
    np.savez(tmp_path / "rgb.npz", X=rgb, y=np.arange(20) % 2)
    assert load_custom(path=str(tmp_path / "rgb.npz")).sample_shape == (3, 8, 8)


def test_csv_with_named_labels_and_a_test_file(tmp_path):
    X, y = blobs(n_per_class=10, d=3, classes=(0, 1))
    names = np.where(y == 0, "normal", "attack")
    rows = ["f1,f2,kind,f3"] + [f"{a},{b},{n},{c}" for (a, b, c), n in zip(X, names)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "test.csv").write_text("\n".join(rows[:1] + rows[1:6] + rows[-5:]) + "\n")
    d = load_custom(path=str(tmp_path / "t.csv"), label_column="kind",
                    test_path=str(tmp_path / "test.csv"))
    assert d.class_names == ("attack", "normal") and d.sample_shape == (3,)
    assert len(d.X_train) == 20 and len(d.X_test) == 10
    assert np.allclose(d.X_train[0], X[0]) and d.y_train[0] == 1  # "normal" is class 1


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, y = blobs(n_per_class=10, d=2, classes=(4, 7))
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "label": y}), tmp_path / "p.parquet")
    d = load_custom(path=str(tmp_path / "p.parquet"))
    assert d.classes == (4, 7) and d.sample_shape == (2,) and len(d.X_train) == 14


def test_npy_pairs_as_files_and_as_a_folder(tmp_path):
    X, y = blobs(n_per_class=10, classes=(0, 1))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    d = load_custom(path=str(tmp_path / "X.npy"), labels_path=str(tmp_path / "y.npy"))
    assert d.sample_shape == (5,) and len(d.X_train) + len(d.X_test) == 20
    np.save(tmp_path / "X_test.npy", X[:6])
    np.save(tmp_path / "y_test.npy", y[:6])
    d = load_custom(path=str(tmp_path))
    assert len(d.X_train) == 20 and len(d.X_test) == 6


def _png(path, value, size=(6, 5), mode="L"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def test_image_folder_flat_and_with_train_test(tmp_path):
    for i in range(4):
        _png(tmp_path / "flat" / "cat" / f"{i}.png", 10 * i)
        _png(tmp_path / "flat" / "dog" / f"{i}.png", 200)
    d = load_custom(path=str(tmp_path / "flat"))
    assert d.class_names == ("cat", "dog") and d.sample_shape == (1, 5, 6)
    assert len(d.X_train) + len(d.X_test) == 8 and d.X_train.max() <= 1.0
    for split in ("train", "test"):
        for i in range(3):
            _png(tmp_path / "tt" / split / "a" / f"{i}.png", (255, 0, 0), mode="RGB")
            _png(tmp_path / "tt" / split / "b" / f"{i}.png", (0, 0, 255), mode="RGB")
    d = load_custom(path=str(tmp_path / "tt"))
    assert d.sample_shape == (3, 5, 6) and len(d.X_train) == 6 and len(d.X_test) == 6
    assert np.allclose(d.X_train[0, 0], 1.0) and np.allclose(d.X_train[0, 2], 0.0)


# -- scaling belongs to the protocol: fitted on the training normals of each split --------
def test_standardize_is_fitted_on_training_normals_only():
    X, y = blobs(n_per_class=50, d=3, classes=(0, 1))
    data = LabeledData("b", X, y, X.copy(), y.copy(), scaling="standardize")
    split = one_class_split(data, 1, val_fraction=0.2, split_seed=0, anomaly_seed=0)
    assert np.allclose(split.X_train.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(split.X_train.std(axis=0), 1, atol=1e-4)
    # anomalies (class 0, centred at 0) land about 3 standard deviations below the normals
    assert split.X_test[split.y_test == 1].mean() < -2
    other = one_class_split(data, 0, val_fraction=0.2, split_seed=0, anomaly_seed=0)
    assert other.X_test[other.y_test == 1].mean() > 2  # depends on the normal class


def test_minmax_and_constant_features():
    Xtr = np.array([[0, 5, 1], [2, 5, 3], [4, 5, 2]], dtype=np.float32)
    f = fit_scaling(Xtr, "minmax")
    out = f(Xtr)
    assert out.min() == 0 and out.max() == 1 and np.all(out[:, 1] == 0)
    assert f(np.array([[8, 5, 1]], np.float32))[0, 0] == 2.0  # test data may leave [0, 1]
    assert fit_scaling(Xtr, "none")(Xtr) is Xtr
    with pytest.raises(DataError, match="unknown scaling 'zscore'"):
        fit_scaling(Xtr, "zscore")


# -- suites -------------------------------------------------------------------------------
def test_path_on_any_entry_is_relative_to_the_suite_and_name_is_the_label(tmp_path, registry):
    X, y = blobs()
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "mine.npz", X=X, y=y)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "s.toml").write_text("""
[suite]
name = "own"
repetitions = 2
[[datasets]]
name = "mydata"
path = "../data/mine.npz"
scaling = "minmax"
classes = [0, [1, 2]]
[[detectors]]
name = "pca"
params = { n_components = 2 }
""")
    suite = load_suite(tmp_path / "suites" / "s.toml", registry)
    entry = suite.datasets[0]
    assert (entry.name, entry.label) == ("custom", "mydata")
    data = load_datasets(suite, registry)["mydata"]
    assert data.scaling == "minmax" and len(data.X_train) == 84
    run_dir, failed = run_suite(suite, registry, results_root=tmp_path / "res",
                                stream=open(tmp_path / "log", "w"))
    records = [json.loads(line) for line in (run_dir / "records.jsonl").open()]
    results = [r for r in records if r.get("kind") == "result"]
    assert failed == 0 and {r["dataset"] for r in results} == {"mydata"}
    assert {r["normal"] for r in results} == {"0", "1+2"}


def test_custom_needs_a_path(write_suite, registry, capsys):
    path = write_suite('[[datasets]]\nname = "custom"\n[[detectors]]\nname = "pca"\n')
    assert main(["validate", str(path)]) == 2
    assert "datasets[0]: missing key 'path' (dataset 'custom' needs it)" in capsys.readouterr().err


# -- bad files: exit 2, one line naming the file and the problem ---------------------------
def _suite(tmp_path, file, extra=""):
    s = tmp_path / "s.toml"
    s.write_text(f'[[datasets]]\nname = "mine"\npath = "{file}"\n{extra}\n'
                 '[[detectors]]\nname = "pca"\n')
    return s


def _error(tmp_path, capsys, file, extra=""):
    code = main(["validate", str(_suite(tmp_path, file, extra))])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("anobench: error: "), err
    return err


def test_missing_file(tmp_path, capsys):
    err = _error(tmp_path, capsys, "nope.npz")
    assert f"{tmp_path / 'nope.npz'}: file does not exist" in err


def test_no_label_column(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("a,b,target\n1,2,0\n3,4,1\n")
    err = _error(tmp_path, capsys, "d.csv")
    assert "d.csv: no label column 'label' (columns: a, b, target)" in err


@pytest.mark.parametrize("kind", ["npz", "csv", "npz-test", "images"])
def test_mixed_shapes(tmp_path, capsys, kind):
    if kind == "npz":
        np.save(tmp_path / "obj.npy", np.array([np.zeros(3), np.zeros(4)], dtype=object),
                allow_pickle=True)
        np.savez(tmp_path / "d.npz", X=np.zeros(3), y=np.zeros(3))
        file, fragment = "d.npz", "X has shape (3,)"
    elif kind == "csv":
        (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n3,1\n")
        file, fragment = "d.csv", "line 3 has 2 fields but the header has 3 (mixed shapes)"
    elif kind == "npz-test":
        np.savez(tmp_path / "d.npz", X=np.zeros((6, 3)), y=np.arange(6) % 2,
                 X_test=np.zeros((4, 2)), y_test=np.arange(4) % 2)
        file, fragment = "d.npz", "test samples have (2,) (mixed shapes)"
    else:
        _png(tmp_path / "im" / "a" / "0.png", 0)
        _png(tmp_path / "im" / "b" / "0.png", 0, size=(7, 7))
        file, fragment = "im", "image has shape 1x7x7 but 0.png has 1x5x6 (mixed shapes"
    err = _error(tmp_path, capsys, file)
    assert fragment in err and str(tmp_path) in err


def test_single_class(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", X=np.zeros((5, 2)), y=np.ones(5))
    err = _error(tmp_path, capsys, "d.npz")
    assert "d.npz: has a single class (1)" in err


def test_labels_named_in_the_suite_but_absent(tmp_path, capsys):
    X, y = blobs(classes=(0, 1))
    np.savez(tmp_path / "d.npz", X=X, y=y)
    err = _error(tmp_path, capsys, "d.npz", "classes = [0, 5]")
    assert "datasets[0].classes[1]: class 5 does not exist in dataset 'mine'" in err
    assert f"({tmp_path / 'd.npz'})" in err and "classes: 0, 1" in err


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_values(tmp_path, capsys, bad):
    X, y = blobs(classes=(0, 1))
    X[17, 2] = bad
    np.savez(tmp_path / "d.npz", X=X, y=y)
    err = _error(tmp_path, capsys, "d.npz")
    assert "d.npz: X has NaN or infinite values in 1 sample(s) (first: sample 17)" in err


def test_other_bad_files(tmp_path, capsys):
    np.savez(tmp_path / "a.npz", X=np.zeros((4, 2)))
    assert "a.npz: no array 'y' (arrays: X;" in _error(tmp_path, capsys, "a.npz")
    (tmp_path / "b.csv").write_text("a,label\nx,0\n1,1\n")
    assert "b.csv: column 'a' is not numeric (value 'x')" in _error(tmp_path, capsys, "b.csv")
    (tmp_path / "c.txt").write_text("hi")
    assert "c.txt: unknown file type '.txt'" in _error(tmp_path, capsys, "c.txt")
    np.save(tmp_path / "X.npy", np.zeros((4, 2)))
    assert "give labels_path" in _error(tmp_path, capsys, "X.npy")
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 2)), y=np.zeros(3))
    assert "X has 4 samples but y has 3 labels" in _error(tmp_path, capsys, "d.npz")
    np.savez(tmp_path / "e.npz", X=np.zeros((4, 2)), y=[0.5, 1, 0, 1])
    assert "non-integer labels" in _error(tmp_path, capsys, "e.npz")
    X, y = blobs(classes=(0, 1))
    np.savez(tmp_path / "f.npz", X=X, y=y)
    assert "unknown scaling 'z'" in _error(tmp_path, capsys, "f.npz", 'scaling = "z"')


def test_image_folders_follow_links_but_refuse_a_loop(tmp_path):
    from PIL import Image

    root = tmp_path / "imgs"
    for c in "ab":
        (root / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((5, 6), 10 * i, np.uint8)).save(root / c / f"{i}.png")
    extra = tmp_path / "more"
    extra.mkdir()
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(extra / "x.png")
    (root / "a" / "more").symlink_to(extra)  # a link to other images: followed
    d = load_custom(path=str(root))
    assert len(d.y_train) + len(d.y_test) == 13
    (root / "b" / "loop").symlink_to("..")  # back to the root: read over and over before
    with pytest.raises(DataError, match=r"imgs/b/loop: a symbolic link to .*imgs, which is "
                                        r"read also as .*imgs \(a loop"):
        load_custom(path=str(root))
