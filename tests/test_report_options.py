"""The [report] table: strict validation at suite load, defaults from records."""
from __future__ import annotations

import pytest

from anobench.errors import SuiteError
from anobench.column import Column
from anobench.report.options import CurveCell, ReportOptions, comparisons, default_pairs
from anobench.suite import parse_suite

SUITE = """
[suite]
name = "r"

[[datasets]]
name = "digits"

[[detectors]]
name = "pca"

[[detectors]]
name = "kpca"

[report]
{body}
"""


def _parse(registry, body: str):
    return parse_suite(SUITE.format(body=body), "r.toml", registry)


def test_valid_report_table_is_accepted(registry):
    suite = _parse(registry, 'reference = "pca"\npairs = [["kpca", "pca"]]\nalpha = 0.01\n'
                             'correction = "bonferroni"\nmetrics = ["roc_auc"]\nsem_ddof = 0\n'
                             'figures = false\ncurves = ["digits/0/0"]\n'
                             'rank_columns = ["pca", "kpca"]')
    assert suite.report == ReportOptions("pca", (("kpca", "pca"),), 0.01, "bonferroni",
                                         ("roc_auc",), 0, False, (CurveCell("digits", "0", 0),),
                                         ("pca", "kpca"))


@pytest.mark.parametrize("body, message", [
    ('refrence = "pca"', "r.toml: report.refrence: unknown key (did you mean 'reference'?)"),
    ('reference = "pcaa"', "report.reference: no column 'pcaa' in this suite (did you mean 'pca'?)"),
    ('pairs = [["kpca"]]', "report.pairs[0]: expected a pair of columns [A, B]"),
    ('pairs = [["kpca", "kpcaa"]]', "report.pairs[0][1]: no column 'kpcaa'"),
    ('pairs = [["pca", "pca"]]', "report.pairs[0]: compares column 'pca' with itself"),
    ("alpha = 0.7", "report.alpha: must be in (0, 0.5], got 0.7"),
    ('alpha = "x"', "report.alpha: expected a number"),
    ('correction = "holmes"', "report.correction: unknown correction 'holmes' (did you mean "
                              "'holm'?)"),
    ('metrics = ["roc"]', "report.metrics[0]: unknown metric 'roc'"),
    ("sem_ddof = 2", "report.sem_ddof: must be 0 or 1"),
    ('figures = "yes"', "report.figures: expected true or false"),
    ('curves = ["digits/0"]', "report.curves[0]: expected 'dataset/class/repetition'"),
    ('rank_columns = ["pca"]', "report.rank_columns: needs at least two columns"),
])
def test_bad_report_keys_are_refused_at_load(registry, body, message):
    with pytest.raises(SuiteError) as err:
        _parse(registry, body)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_column_names_come_from_fields():
    grid = (("beta", 0.5),)
    assert Column("vae", grid, "single", "elbo", True).name == "vae[beta=0.5]:single"
    assert Column("vae", grid, "single", "elbo", True).base_name == "vae:single"
    assert Column("vae", grid, "single", "elbo", False).name == "vae[beta=0.5]"
    assert str(Column("pca")) == "pca"
    for c in (Column("vae", grid, "single", "elbo", True), Column("x:y", (), "multi", "recon"),
              Column("pca", (("n_components", 8), ("whiten", True)))):
        assert Column.from_record(c.record_fields()) == c
    # records written before the fields existed: the name minus the suffixes of the fields
    legacy = {"column": "vae-rules[beta=1]:iwae", "rule": "iwae", "grid": {"beta": 1.0},
              "measure": "elbo"}
    assert Column.from_record(legacy) == Column("vae-rules", (("beta", 1.0),), "iwae", "elbo",
                                                True)


def _rec(column, rule, model):
    return {"column": column, "rule": rule, "model": model, "grid": {}}


def test_defaults_pair_expected_with_single_of_the_same_model():
    recs = [_rec("vae", "single", "m1"), _rec("ed-vae", "expected", "m1"), _rec("pca", None, "p")]
    assert default_pairs(recs) == [("ed-vae", "vae")]
    assert comparisons(ReportOptions(), recs) == ("vae", (("ed-vae", "vae"),))
    recs = [_rec("vae:expected", "expected", "m"), _rec("vae:single", "single", "m"),
            _rec("vae:multi", "multi", "m")]
    assert comparisons(ReportOptions(), recs) == ("vae:single", (("vae:expected", "vae:single"),))
    grid = [dict(_rec(f"{c}[beta={b}]", r, f"m{b}"), grid={"beta": b}) for b in (0, 1)
            for c, r in (("vae", "single"), ("ed-vae", "expected"))]
    assert default_pairs(grid) == [("ed-vae", "vae")]
    # explicit options win; no ED pair and no reference -> no marks
    assert comparisons(ReportOptions(reference="pca"), recs)[0] == "pca"
    assert comparisons(ReportOptions(), [_rec("pca", None, "p")]) == (None, ())
    # records without a model: no pair is guessed from the names
    assert default_pairs([{"column": c, "rule": r, "grid": {}} for c, r in
                          (("vae", "single"), ("ed-vae", "expected"))]) == []


def test_report_metrics_must_be_computed_by_the_suite(registry):
    text = SUITE.replace('name = "r"', 'name = "r"\nmetrics = ["roc_auc"]').format(
        body='metrics = ["pr_auc"]')
    with pytest.raises(SuiteError, match=r"r.toml: report.metrics\[0\]: metric 'pr_auc' is not "
                                         r"in this suite; computed: roc_auc"):
        parse_suite(text, "r.toml", registry)


@pytest.mark.parametrize("body, message", [
    ('curves = ["digts/0/0"]', "report.curves[0]: 'digts/0/0': no dataset 'digts' in this suite "
                               "(did you mean 'digits'?)"),
    ('curves = ["digits/0/12"]', "report.curves[0]: 'digits/0/12': repetition 12 is not run; "
                                 "repetitions: 0–9"),
    ('curves = ["digits/0/x"]', "report.curves[0]: 'digits/0/x': the repetition must be an "
                                "integer"),
])
def test_curves_the_suite_never_runs_are_refused_at_load(registry, body, message):
    """Issue 10: a curve cell the suite never runs broke every later report."""
    with pytest.raises(SuiteError) as err:
        _parse(registry, body)
    assert message in str(err.value)
