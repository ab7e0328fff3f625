"""Named classes: suites name normal classes by label or by name; errors list the
names; tables show them (issue 12)."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_data_dir

from anobench.api import LabeledData
from anobench.classes import classes_text, normal_name, resolve_classes, resolve_label
from anobench.cli import main
from anobench.errors import SuiteError
from anobench.store import read_records
from anobench.suite import parse_suite


def named(names=("Ankle boot", "Bag", "T-shirt/top")):
    y = np.arange(3 * len(names)) % len(names)
    X = np.zeros((len(y), 2), np.float32)
    return LabeledData("named", X, y, X, y, class_names=tuple(names))


def test_names_resolve_exactly_then_case_insensitively():
    d = named()
    assert resolve_label(d, "T-shirt/top") == 2 and resolve_label(d, "t-shirt/TOP") == 2
    assert resolve_label(d, 1) == 1
    assert resolve_classes(d, ["Bag", ("T-shirt/top", 0)]) == (1, (2, 0))
    assert normal_name(d, (2, 0)) == "T-shirt/top+Ankle boot" and normal_name(d, 1) == "Bag"


def test_ambiguous_case_insensitive_names_need_the_exact_one():
    d = named(("cat", "Cat", "dog"))
    assert resolve_label(d, "Cat") == 1
    with pytest.raises(ValueError, match="'CAT' is not a class name"):
        resolve_label(d, "CAT")


def test_errors_list_the_names_with_a_did_you_mean():
    with pytest.raises(ValueError) as e:
        resolve_label(named(), "T-shirt", "'fm'")
    msg = str(e.value)
    assert "class 'T-shirt' is not a class name of dataset 'fm' (did you mean 'T-shirt/top'?)" in msg
    assert msg.endswith("classes: Ankle boot (0), Bag (1), T-shirt/top (2)")
    with pytest.raises(ValueError, match=r"class 7 does not exist in dataset 'named'; classes: "):
        resolve_label(named(), 7)


def test_unnamed_classes_accept_their_numbers_as_text():
    d = LabeledData("n", np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]),
                    np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]))
    assert resolve_label(d, "1") == 1 and classes_text(d) == "0, 1"
    with pytest.raises(ValueError, match="'normal' is not a class of dataset 'n'; classes: 0, 1"):
        resolve_label(d, "normal")


def test_a_number_is_the_label_a_string_the_name_and_only_ascii_digits_count():
    d = LabeledData("n", np.zeros((4, 2), np.float32), np.array([0, 3, 0, 3]),
                    np.zeros((4, 2), np.float32), np.array([0, 3, 0, 3]))
    assert resolve_label(d, 3) == resolve_label(d, "3") == 3
    for text in ("\u0663", "\uff13", "\u00b3"):  # Arabic-Indic, fullwidth, superscript three
        with pytest.raises(ValueError, match="is not a class of dataset 'n'"):
            resolve_label(d, text)
    # names that are numbers of other classes: the number is ambiguous, the name is not
    d = named(("1", "2", "cat"))
    assert resolve_label(d, "2") == 1 and resolve_label(d, "cat") == 2
    with pytest.raises(ValueError, match=r"class 1 is ambiguous in dataset 'named': label 1 is "
                                         r"the class named '2', and the class named '1' is "
                                         r"label 0"):
        resolve_label(d, 1)
    with pytest.raises(ValueError, match=r"class 2 is ambiguous .* write 2 as a name "
                                         r"\(\"cat\" or \"2\"\)"):
        resolve_label(d, 2)


def test_labels_written_as_numbers_are_those_numbers(tmp_path):
    """String labels "10", "2", "9" in a file: classes = [2] means the label 2, not the
    third name in sorted order ("9")."""
    from anobench_plugins.custom_data import load_custom

    y = np.array(["10", "2", "9"] * 20)
    X = np.random.default_rng(0).normal(size=(len(y), 3)) + (y == "2")[:, None] * 5
    np.savez(tmp_path / "s.npz", X=X, y=y)
    d = load_custom(path=str(tmp_path / "s.npz"))
    assert d.classes == (2, 9, 10) and d.class_names == ()
    assert resolve_classes(d, [2, "9"]) == (2, 9)
    assert (d.X_train[d.y_train == 2].mean() > 1) and (d.X_train[d.y_train == 9].mean() < 1)


def test_suite_accepts_names_and_refuses_other_types(registry):
    text = '[[datasets]]\nname = "digits"\nclasses = [{c}]\n[[detectors]]\nname = "pca"\n'
    s = parse_suite(text.format(c='"3", 4, ["5", 6]'), "s.toml", registry)
    assert s.datasets[0].classes == ("3", 4, ("5", 6))
    for bad in ("1.5", "true", '""', "[]"):
        with pytest.raises(SuiteError, match=r"datasets\[0\]\.classes\[0\]"):
            parse_suite(text.format(c=bad), "s.toml", registry)


SUITE = """
[suite]
name = "named"
repetitions = 2
[[datasets]]
name = "clothes"
path = "clothes.csv"
classes = [{classes}]
[[detectors]]
name = "pca"
params = {{ n_components = 2 }}
"""


def _clothes(tmp_path, classes):
    rng = np.random.default_rng(0)
    kinds = ["T-shirt/top", "Bag", "Sandal"]
    rows = ["a,b,c,label"]
    for i in range(90):
        k = i % 3
        rows.append(",".join(f"{v:.4f}" for v in rng.normal(2 * k, 1, 3)) + f",{kinds[k]}")
    (tmp_path / "clothes.csv").write_text("\n".join(rows) + "\n")
    path = tmp_path / "named.toml"
    path.write_text(SUITE.format(classes=classes))
    return path


def test_a_run_by_names_shows_names_in_tables_and_keeps_labels_as_keys(tmp_path, capsys):
    suite = _clothes(tmp_path, '"T-shirt/top", ["bag", "Sandal"]')
    assert main(["validate", str(suite)]) == 0
    assert main(["run", str(suite), "--results", str(tmp_path / "res"), "--tables"]) == 0
    out = capsys.readouterr().out
    assert "| T-shirt/top " in out and "| Bag+Sandal " in out
    run_dir = next((tmp_path / "res" / "named").iterdir())
    recs = read_records(run_dir)
    # sorted names: Bag 0, Sandal 1, T-shirt/top 2; records keep the label as the key
    assert {(r["normal"], r["class_name"]) for r in recs} == {("2", "T-shirt/top"),
                                                              ("0+1", "Bag+Sandal")}
    assert all("/" not in p.name.replace("__", "") for p in (run_dir / "scores").iterdir())
    assert main(["report", str(run_dir), "--no-figures", "--tables"]) == 0
    assert "| T-shirt/top " in capsys.readouterr().out


def test_a_misspelt_name_is_refused_with_the_names(tmp_path, capsys):
    suite = _clothes(tmp_path, '"T-shirt"')
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err.strip()
    assert "datasets[0].classes[0]: class 'T-shirt' is not a class name of dataset 'clothes'" in err
    assert "(did you mean 'T-shirt/top'?)" in err and "Bag (0), Sandal (1), T-shirt/top (2)" in err


def test_fashion_mnist_official_names(tmp_path, capsys, registry):
    root = shared_data_dir()
    if not (root / "FashionMNIST" / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"Fashion-MNIST not found under {root}")
    path = tmp_path / "fm.toml"
    path.write_text('[[datasets]]\nname = "fashion-mnist"\nclasses = ["T-shirt/top", "Ankle boot"]\n'
                    '[[detectors]]\nname = "pca"\n')
    assert main(["validate", str(path), "--data-dir", str(root)]) == 0
    path.write_text(path.read_text().replace('"Ankle boot"', '"ankle-boot"'))
    assert main(["validate", str(path), "--data-dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert "(did you mean 'Ankle boot'?)" in err and "T-shirt/top (0), Trouser (1)" in err
