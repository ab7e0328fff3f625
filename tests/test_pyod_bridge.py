"""The PyOD bridge: every PyOD detector as ``pyod:<ClassName>`` (issue 12).

Needs the ``pyod`` extra (part of the ``test`` extra, so CI runs these)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

pyod = pytest.importorskip("pyod")

from anobench.cli import main  # noqa: E402
from anobench.errors import SuiteError  # noqa: E402
from anobench.store import read_records  # noqa: E402
from anobench.suite import parse_suite  # noqa: E402
from anobench.testing import check_detector, fast_params, make_data  # noqa: E402


def test_names_are_made_on_first_use_and_keep_pyods_defaults(registry):
    spec = registry.detector("pyod:IForest")
    assert spec.plugin == "pyod" and "pyod:IForest" in registry.detectors
    params = spec.parameters
    assert params["n_estimators"].default == 100 and params["max_samples"].default == "auto"
    assert params["random_state"].default is None  # the runner seeds each cell
    assert registry.detector("pyod:IForest") is spec  # made once


@pytest.mark.parametrize("name", ["pyod:IForest", "pyod:LOF", "pyod:ECOD"])
def test_conformance(registry, name):
    cls = registry.detector(name).cls
    check_detector(cls, fast_params(cls))


def test_scores_are_pyods_decision_function_sign_kept(registry):
    from pyod.models.iforest import IForest

    d = make_data("tabular", seed=3)
    ours = registry.detector("pyod:IForest").cls(n_estimators=30, random_state=5)
    theirs = IForest(n_estimators=30, random_state=5)
    s = ours.fit(d["X_train"]).score(d["X_test"])
    np.testing.assert_allclose(s, theirs.fit(d["X_train"]).decision_function(d["X_test"]))
    # PyOD's sign is anobench's: the far-away outliers score higher
    assert ours.score(d["X_outliers"]).min() > np.median(s)
    assert ours.fit_info()["pyod_class"] == "pyod.models.iforest.IForest"


def test_n_features_is_taken_from_the_data(registry):
    spec = registry.detector("pyod:DeepSVDD")
    assert "n_features" not in spec.parameters
    d = make_data("tabular")
    det = spec.cls(epochs=1, random_state=0).fit(d["X_train"])
    assert det.estimator_.n_features == d["X_train"].shape[1]


def test_generated_classes_pickle_by_reference(registry):
    cls = registry.detector("pyod:LOF").cls
    assert pickle.loads(pickle.dumps(cls)) is cls
    det = cls().fit(make_data("tabular")["X_train"])
    assert isinstance(pickle.loads(pickle.dumps(det)), cls)


@pytest.mark.parametrize("name,message", [
    ("pyod:IForst", "unknown detector 'pyod:IForst' (did you mean 'pyod:IForest'?)"),
    ("pyod:LSCP", "pyod:LSCP: parameter 'detector_list' has no default"),
    ("pyod:DevNet", "pyod:DevNet: fits on labels"),
    ("pyd:LOF", "unknown detector 'pyd:LOF' (did you mean 'pyod:LOF'?)"),
    ("pyod:", "detector 'pyod:': name a pyod detector after the colon"),
])
def test_bad_names_are_refused_at_load(registry, name, message):
    text = f'[[datasets]]\nname = "digits"\n[[detectors]]\nname = "{name}"\n'
    with pytest.raises(SuiteError) as e:
        parse_suite(text, "s.toml", registry)
    assert f"s.toml: detectors[0].name: {message}" in str(e.value)


def test_parameters_checked_against_the_constructor(registry):
    text = ('[[datasets]]\nname = "digits"\n[[detectors]]\nname = "pyod:IForest"\n'
            'params = {{ {p} }}\n')
    with pytest.raises(SuiteError) as e:
        parse_suite(text.format(p="n_estimatrs = 10"), "s.toml", registry)
    assert ("detectors[0].params.n_estimatrs: unknown parameter 'n_estimatrs' for detector "
            "'pyod:IForest' (did you mean 'n_estimators'?)") in str(e.value)
    # max_samples takes "auto", an int or a float: no type check by default value
    s = parse_suite(text.format(p='max_samples = 64, n_estimators = [10, 20]'), "s.toml", registry)
    assert [c.point for c in s.detectors] == ["pyod:IForest[n_estimators=10]",
                                               "pyod:IForest[n_estimators=20]"]


def test_a_suite_with_two_pyod_detectors_next_to_the_builtins(write_suite, tmp_path, capsys):
    suite = write_suite("""
[suite]
name = "pyod-mix"
repetitions = 2
[[datasets]]
name = "digits"
classes = [0, 1]
[[detectors]]
name = "pyod:IForest"
params = { n_estimators = 30 }
[[detectors]]
name = "pyod:KNN"
[[detectors]]
name = "pca"
params = { n_components = 8 }
[[detectors]]
name = "vae"
rules = ["single", "expected"]
n_samples = 2
params = { max_epochs = 2, hidden = 32, threads = 1 }
""", "mix")
    assert main(["validate", str(suite)]) == 0
    assert main(["run", str(suite), "--results", str(tmp_path / "res"), "--tables"]) == 0
    out = capsys.readouterr().out
    for col in ("pyod:IForest", "pyod:KNN", "pca", "vae:expected"):
        assert f" {col} " in out
    recs = read_records(next((tmp_path / "res" / "pyod-mix").iterdir()))
    auc = {r["column"]: r["value"] for r in recs if r["metric"] == "roc_auc" and r["normal"] == "0"}
    assert auc["pyod:KNN"] > 0.9 and auc["pyod:IForest"] > 0.9  # digit 0 is easy
    # a second run gives the same numbers (the runner seeds PyOD's random_state)
    assert main(["run", str(suite), "--results", str(tmp_path / "res2")]) == 0
    again = read_records(next((tmp_path / "res2" / "pyod-mix").iterdir()))
    assert sorted((r["cell"], r["column"], r["metric"], r["value"]) for r in recs) == \
        sorted((r["cell"], r["column"], r["metric"], r["value"]) for r in again)
