from __future__ import annotations

import pytest

from anobench.errors import SuiteError
from anobench.suite import load_suite, parse_suite

BASE = """
[suite]
name = "t"
repetitions = 2

[[datasets]]
name = "digits"

[[detectors]]
name = "pca"
"""


def parse(text, registry):
    return parse_suite(text, "s.toml", registry)


def test_defaults_follow_the_paper(registry):
    s = parse(BASE, registry)
    assert s.anomaly_ratio == 0.2 and s.val_fraction == 0.2 and s.seed == 0
    assert s.metrics == ("roc_auc", "pr_auc", "average_precision")
    assert s.detectors[0].params == {} and s.detectors[0].point == "pca"
    assert s.datasets[0].classes is None


def test_grid_expands_to_columns(registry):
    s = parse(BASE.replace('name = "pca"', 'name = "pca"\nparams = { n_components = [4, 8] }'),
              registry)
    assert [d.point for d in s.detectors] == ["pca[n_components=4]", "pca[n_components=8]"]
    assert [d.params["n_components"] for d in s.detectors] == [4, 8]


@pytest.mark.parametrize("text, fragment", [
    ("[suite\nname=1", "malformed TOML"),
    (BASE.replace("repetitions = 2", "repetitons = 2"), "suite.repetitons: unknown key (did you mean 'repetitions'?)"),
    (BASE.replace("repetitions = 2", 'repetitions = "two"'), "suite.repetitions: expected an integer"),
    (BASE.replace("repetitions = 2", "repetitions = 0"), "suite.repetitions: must be >= 1"),
    (BASE + "\n", None),
    (BASE.replace("repetitions = 2", "anomaly_ratio = 1.0"), "suite.anomaly_ratio: must be in (0, 1)"),
    (BASE.replace("repetitions = 2", "anomaly_ratio = 0"), "suite.anomaly_ratio: must be in (0, 1)"),
    (BASE.replace("repetitions = 2", 'metrics = ["roc"]'), "suite.metrics[0]: unknown metric 'roc'"),
    (BASE.replace('name = "pca"', 'name = "pcaa"'), "detectors[0].name: unknown detector 'pcaa' (did you mean 'pca'?)"),
    (BASE.replace('name = "digits"', 'name = "mnst"'), "datasets[0].name: unknown dataset 'mnst' (did you mean 'mnist'?)"),
    (BASE.replace('name = "pca"', 'name = "pca"\nparams = { n_compnents = 3 }'),
     "detectors[0].params.n_compnents: unknown parameter 'n_compnents' for detector 'pca' (did you mean 'n_components'?)"),
    (BASE.replace('name = "pca"', 'name = "pca"\nparams = { n_components = "many" }'),
     "detectors[0].params.n_components: 'many' has the wrong type"),
    (BASE.replace('name = "pca"', 'name = "pca"\nparams = { n_components = [4, "x"] }'),
     "detectors[0].params.n_components[1]: 'x' has the wrong type"),
    (BASE.replace('name = "digits"', 'name = "digits"\nclasses = [1.5]'), "datasets[0].classes[0]: class labels are integers or class names"),
    (BASE.replace('name = "pca"', 'name = "pca"\nrules = ["expected"]'),
     "detectors[0].rules: scoring rule 'expected' cannot be used with detector 'pca'"),
    (BASE + '\n[bogus]\nx = 1\n', "bogus: unknown key"),
    ("[suite]\nname='x'\n[[detectors]]\nname='pca'\n", "no [[datasets]] entries"),
    (BASE.replace('[[detectors]]\nname = "pca"', '[[detectors]]\nname = "pca"\n[[detectors]]\nname = "pca"'),
     "column 'pca' appears twice"),
])
def test_bad_suites_name_the_key(registry, text, fragment):
    if fragment is None:
        parse(text, registry)
        return
    with pytest.raises(SuiteError) as err:
        parse(text, registry)
    msg = str(err.value)
    assert msg.startswith("s.toml: ")
    assert fragment in msg
    assert "\n" not in msg


def test_missing_file(tmp_path, registry):
    with pytest.raises(SuiteError, match="suite file not found"):
        load_suite(tmp_path / "nope.toml", registry)


def test_every_shipped_suite_parses(registry):
    from pathlib import Path

    suites = sorted((Path(__file__).parent.parent / "suites").glob("*.toml"))
    assert suites
    for path in suites:
        s = load_suite(path, registry)
        assert s.detectors and s.datasets


def test_paper_appendix_suites_store_what_the_paper_reports(registry):
    from pathlib import Path

    root = Path(__file__).parent.parent / "suites"
    beta = load_suite(root / "beta.toml", registry)
    # Appendix A and Figure 4 speak of the reconstruction error: store recon next to elbo
    assert all(set(c.measures) == {"elbo", "recon"} for c in beta.detectors)
    assert {c.params["beta"] for c in beta.detectors} == {round(0.1 * i, 1) for i in range(16)}
    samples = load_suite(root / "samples.toml", registry)
    rules = set(samples.detectors[0].rules)
    # A.1's best/worst sample (the oracle) and the per-example min/max
    assert {"expected", "single", "multi", "best", "worst", "min", "max"} <= rules
    assert registry.rules["best"].rule.oracle and not registry.rules["min"].rule.oracle


def test_two_entries_writing_the_same_column_are_refused(registry):
    """Issue 10: a label equal to another entry's `vae:single` overwrote its column."""
    text = """
[suite]
name = "clash"
[[datasets]]
name = "digits"
[[detectors]]
name = "vae"
rules = ["single", "expected"]
[[detectors]]
name = "pca"
label = "vae:single"
"""
    with pytest.raises(SuiteError) as err:
        parse_suite(text, "clash.toml", registry)
    assert str(err.value) == ("clash.toml: detectors[1]: column 'vae:single' is also written by "
                              "detectors[0]; give one entry another 'label'")
    parse_suite(text.replace('label = "vae:single"', 'label = "vae-single"'), "ok.toml", registry)
