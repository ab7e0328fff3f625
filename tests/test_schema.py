"""One definition per option: the JSON Schema of suites, the option reference, the report flags.

The schema must accept every suite the loader accepts (an editor never marks
a good suite) and refuse the hostile ones it can see: unknown keys, wrong
types, values out of range, unknown plugins, parameters and rules.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import fields
from pathlib import Path

import jsonschema
import pytest

from anobench.cli import build_parser, main
from conftest import ONE_CELL_SUITE
from anobench.errors import SuiteError
from anobench.options.flags import given_flags
from anobench.options.report import COMMAND_LINE, ReportOptions
from anobench.options.schema import TABLES, reference_markdown, suite_schema
from anobench.options.spec import options_of
from anobench.options.tables import DatasetKeys, DetectorKeys, Resources, SuiteSettings
from anobench.suite import Suite, parse_suite

ROOT = Path(__file__).resolve().parents[1]

BASE = ONE_CELL_SUITE


@pytest.fixture(scope="module")
def validator(registry):
    schema = suite_schema(registry)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator, text: str) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(tomllib.loads(text))]


def test_every_shipped_suite_validates_against_the_schema(validator):
    suites = sorted((ROOT / "suites").glob("*.toml"))
    assert suites
    for path in suites:
        assert _errors(validator, path.read_text()) == [], path


GOOD = [
    BASE,
    BASE.replace("n_components = 8", "n_components = [4, 8], random_state = 3"),
    BASE.replace('name = "pca"\nparams = { n_components = 8 }',
                 'name = "vae"\nrules = ["single", "expected", "best"]\nmeasures = ["elbo", '
                 '"recon"]\nn_samples = 10\nparams = { beta = [0.5, 1], latent_dim = 4 }\n'
                 'resources = { gpus = 0.25 }'),
    BASE.replace('name = "pca"', 'name = "sklearn:sklearn.ensemble.IsolationForest"')
        .replace("params = { n_components = 8 }", "params = { n_estimators = 10 }"),
    BASE.replace("classes = [0]", 'classes = [0, [1, 2], "3"]\nlabel = "d"\nanomalies = "all"'),
    BASE.replace("classes = [0]", "classes = [0]\nanomaly_ratio = 0.1"),
    BASE.replace('name = "digits"', 'name = "mine"\npath = "x.npz"'),
    BASE.replace('name = "digits"', 'name = "mnist"\npath = "x.csv"\nlabel_column = "y"'),
    BASE.replace("repetitions = 1", 'repetitions = 1\ndescription = "d"\nanomaly_ratio = 0.3\n'
                 'val_fraction = 0\nmetrics = ["roc_auc"]\ndevice = "cpu"\ncell_timeout = 60\n'
                 "resources = { cpus = 2, gpus = 0 }\nkeep_models = true\nmax_cells = 5"),
    BASE + '\n[report]\nreference = "pca"\npairs = [["a", "b"]]\nalpha = 0.01\n'
           'correction = "none"\nmetrics = ["pr_auc"]\nsem_ddof = 0\nfigures = false\n'
           'curves = ["digits/0/0"]\nrank_columns = ["a", "b"]\noracles = true\n',
]


@pytest.mark.parametrize("text", GOOD, ids=range(len(GOOD)))
def test_the_schema_accepts_what_the_loader_accepts(validator, registry, text):
    try:
        parse_suite(text, "s.toml", registry)
    except SuiteError as exc:  # the loader's own checks (columns, files) may refuse it
        assert "report." in str(exc) or "x." in str(exc) or "label_column" in str(exc), exc
    assert _errors(validator, text) == []


def _sub(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


def _detector(body: str) -> str:
    return BASE.split("[[detectors]]")[0] + "[[detectors]]\n" + body + "\n"


HOSTILE = {
    "top-level-key": (BASE + "\n[suites]\n", "suites"),
    "suite-not-a-table": ("suite = 1\n" + BASE.split("[suite]")[1].split("\n", 5)[-1], "suite"),
    "suite-key": (_sub("seed = 1", "sede = 1"), "sede"),
    "seed-type": (_sub("seed = 1", 'seed = "one"'), "seed"),
    "seed-negative": (_sub("seed = 1", "seed = -1"), "seed"),
    "repetitions-zero": (_sub("repetitions = 1", "repetitions = 0"), "repetitions"),
    "repetitions-10**12": (_sub("repetitions = 1", "repetitions = 1000000000000"),
                           "repetitions"),
    "anomaly-ratio": (_sub("seed = 1", "seed = 1\nanomaly_ratio = 1.5"), "anomaly_ratio"),
    "val-fraction": (_sub("seed = 1", "seed = 1\nval_fraction = 1.0"), "val_fraction"),
    "device": (_sub("seed = 1", 'seed = 1\ndevice = "tpu"'), "device"),
    "metrics-empty": (_sub("seed = 1", "seed = 1\nmetrics = []"), "metrics"),
    "metric-unknown": (_sub("seed = 1", 'seed = 1\nmetrics = ["auc"]'), "metrics"),
    "metric-twice": (_sub("seed = 1", 'seed = 1\nmetrics = ["roc_auc", "roc_auc"]'), "metrics"),
    "cell-timeout": (_sub("seed = 1", "seed = 1\ncell_timeout = -1"), "cell_timeout"),
    "cell-timeout-inf": (_sub("seed = 1", "seed = 1\ncell_timeout = 1e300"), "cell_timeout"),
    "resources-key": (_sub("seed = 1", "seed = 1\nresources = { cpu = 1 }"), "resources"),
    "resources-cpus": (_sub("seed = 1", "seed = 1\nresources = { cpus = 0 }"), "cpus"),
    "max-cells": (_sub("seed = 1", "seed = 1\nmax_cells = 0"), "max_cells"),
    "name-slash": (_sub('name = "tiny"', 'name = "../x"'), "name"),
    "name-dotdot": (_sub('name = "tiny"', 'name = ".."'), "name"),
    "no-datasets": (BASE.replace('[[datasets]]\nname = "digits"\nclasses = [0]\n', ""),
                    "datasets"),
    "dataset-unknown": (_sub('name = "digits"', 'name = "digets"'), "datasets/0/name"),
    "dataset-no-name": (_sub('name = "digits"\n', ""), "datasets/0"),
    "dataset-key": (_sub("classes = [0]", 'classes = [0]\npth = "x"'), "datasets/0"),
    "classes-empty": (_sub("classes = [0]", "classes = []"), "classes"),
    "class-float": (_sub("classes = [0]", "classes = [1.5]"), "classes"),
    "anomalies": (_sub("classes = [0]", 'classes = [0]\nanomalies = "some"'), "anomalies"),
    "detector-unknown": (_sub('name = "pca"', 'name = "pcb"'), "detectors/0/name"),
    "param-unknown": (_sub("n_components = 8", "n_comp = 8"), "params"),
    "param-type": (_sub("n_components = 8", 'n_components = "x"'), "n_components"),
    "param-grid-type": (_sub("n_components = 8", 'n_components = [4, "x"]'), "n_components"),
    "grid-empty": (_sub("n_components = 8", "n_components = []"), "n_components"),
    "params-not-a-table": (_sub("params = { n_components = 8 }", "params = 3"), "params"),
    "rules-on-pca": (_sub("params = {", 'rules = ["single"]\nparams = {'), "detectors/0"),
    "rule-unknown": (_detector('name = "vae"\nrules = ["singel"]'), "rules"),
    "rule-twice": (_detector('name = "vae"\nrules = ["single", "single"]'), "rules"),
    "measure-unknown": (_detector('name = "vae"\nmeasures = ["elb"]'), "measures"),
    "n-samples-zero": (_detector('name = "vae"\nn_samples = 0'), "n_samples"),
    "n-samples-huge": (_detector('name = "vae"\nn_samples = 1000000000'), "n_samples"),
    "detector-key": (_sub("params = {", "param = 1\nparams = {"), "detectors/0"),
    "report-key": (BASE + '\n[report]\nrefrence = "pca"\n', "report"),
    "report-alpha": (BASE + "\n[report]\nalpha = 0.7\n", "alpha"),
    "report-correction": (BASE + '\n[report]\ncorrection = "holmes"\n', "correction"),
    "report-sem-ddof": (BASE + "\n[report]\nsem_ddof = 2\n", "sem_ddof"),
    "report-figures": (BASE + '\n[report]\nfigures = "yes"\n', "figures"),
    "report-curves": (BASE + '\n[report]\ncurves = ["digits-0"]\n', "curves"),
    "report-rank-columns": (BASE + '\n[report]\nrank_columns = ["pca"]\n', "rank_columns"),
    "report-pair": (BASE + '\n[report]\npairs = [["kpca"]]\n', "pairs"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_suites_are_refused_by_the_schema_and_the_loader(validator, registry, case):
    text, where = HOSTILE[case]
    errors = _errors(validator, text)
    assert errors, case
    assert any(where in e for e in errors), errors
    with pytest.raises(SuiteError):
        parse_suite(text, "s.toml", registry)


def test_the_schema_without_plugins_knows_the_keys():
    schema = suite_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    v = jsonschema.Draft7Validator(schema)
    assert not list(v.iter_errors(tomllib.loads(BASE)))
    assert list(v.iter_errors(tomllib.loads(BASE.replace("seed = 1", "sede = 1"))))


def test_every_option_is_in_the_schema_and_the_reference(registry):
    schema = suite_schema(registry)
    text = reference_markdown()
    for key, table, _, _ in TABLES:
        props = schema["properties"][key]
        props = props["items"] if props["type"] == "array" else props
        for opt in options_of(table):
            assert opt.key in props["properties"], (key, opt.key)
            assert opt.spec.help
            assert f"| `{opt.key}` |" in text
    for opt in options_of(Resources):
        assert f"| `{opt.key}` |" in text
    assert "| `alpha` | number | `0.05` | the significance level (in (0, 0.5]); flag " \
           "`--alpha` |" in text


def test_a_loaded_suite_holds_every_suite_setting(registry):
    suite = parse_suite(BASE, "s.toml", registry)
    assert isinstance(suite, Suite) and isinstance(suite, SuiteSettings)
    assert {f.name for f in fields(SuiteSettings)} <= {f.name for f in fields(Suite)}
    for opt in options_of(SuiteSettings):  # the defaults come from the options
        if opt.key not in ("name", "seed", "repetitions"):
            assert getattr(suite, opt.key) == opt.default, opt.key
    assert DetectorKeys().n_samples == suite.detectors[0].n_samples or \
        suite.detectors[0].n_samples == 0
    assert DatasetKeys().anomaly_ratio is None  # a dataset's default is the suite's


def test_every_report_flag_exists_and_names_its_key():
    """The flags errors name (COMMAND_LINE) are the flags `anobench report` takes."""
    parser = build_parser()
    report = parser._subparsers._group_actions[0].choices["report"]  # noqa: SLF001
    flags = {s for a in report._actions for s in a.option_strings}  # noqa: SLF001
    assert COMMAND_LINE.flags
    for key, flag in COMMAND_LINE.flags.items():
        assert flag in flags, (key, flag)
    args = parser.parse_args(["report", "r", "--pair", "a", "b", "--pair", "c", "d",
                              "--alpha", "0.1", "--oracles", "--rank-column", "a",
                              "--rank-column", "b", "--correction", "none", "--sem-ddof", "0"])
    assert given_flags(args, ReportOptions) == {
        "pairs": [["a", "b"], ["c", "d"]], "alpha": 0.1, "oracles": True,
        "rank_columns": ["a", "b"], "correction": "none", "sem_ddof": 0}


def test_schema_command_writes_the_schema_and_the_reference(tmp_path, capsys):
    out = tmp_path / "suite.schema.json"
    assert main(["schema", "-o", str(out)]) == 0
    schema = json.loads(out.read_text())
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    assert "vae" in schema["properties"]["detectors"]["items"]["properties"]["name"]["anyOf"][0][
        "enum"]
    capsys.readouterr()
    assert main(["schema", "--markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# Suite options") and "## `[[detectors]]`" in md


def test_the_docs_option_page_is_the_generated_reference():
    """docs/options.md is `anobench schema --markdown`: regenerate it when an option changes."""
    from pathlib import Path

    from anobench.options.schema import reference_markdown

    page = Path(__file__).resolve().parent.parent / "docs" / "options.md"
    assert page.read_text() == reference_markdown().rstrip("\n") + "\n", (
        "docs/options.md is out of date: anobench schema --markdown > docs/options.md")
