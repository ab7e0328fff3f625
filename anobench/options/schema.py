"""The JSON Schema of suite files and the option reference, both made from the options.

:func:`suite_schema` gives the JSON Schema (draft 7) a TOML editor checks a
suite with while it is typed (taplo, Even Better TOML: ``#:schema FILE`` on
the suite's first line). With a registry it also knows the installed
plugins: detector and dataset names, each detector's parameters and their
types, the scoring rules, and which keys only latent-variable detectors
take. The schema accepts every suite ``anobench validate`` accepts (it
checks less: columns, classes, data and cross-key rules are the loader's).
:func:`reference_markdown` renders the same options as Markdown tables
for the docs. ``anobench schema [-o FILE] [--markdown]`` writes either.
"""
from __future__ import annotations

import inspect
import json
import re
import sys
from typing import Any

from anobench.atomic import write_atomic
from anobench.escape import terminal
from anobench.options.report import ReportOptions
from anobench.options.spec import KINDS, Option, options_of
from anobench.options.tables import (
    FILE_DATASET,
    DatasetKeys,
    DetectorKeys,
    Resources,
    SuiteSettings,
    param_kind,
)
from anobench.registry import Registry

DRAFT = "http://json-schema.org/draft-07/schema#"
#: What ``anobench schema --help`` says.
SCHEMA_HELP = ("Write the JSON Schema of suite files (to standard output without -o), made from "
               "the definitions suites are validated with and from the plugins installed here "
               "(detector and dataset names, parameters, scoring rules), so that a TOML editor "
               "(taplo, Even Better TOML) checks a suite as it is typed: put `#:schema "
               "./suite.schema.json` on the suite's first line. The schema checks keys, types "
               "and ranges; `anobench validate` checks everything.")
#: The tables of a suite file: (key, its options, an array of tables?, what it is).
TABLES: tuple[tuple[str, type, bool, str], ...] = (
    ("suite", SuiteSettings, False, "the settings every entry shares"),
    ("datasets", DatasetKeys, True, "one entry per dataset; the dataset plugin's own options "
                                    "(e.g. `path`) come beside these keys"),
    ("detectors", DetectorKeys, True, "one entry per detector; a list of values for a "
                                      "parameter is a grid"),
    ("report", ReportOptions, False, "how `anobench run` and `anobench report` report the "
                                     "run; each key with a flag can be given to `anobench "
                                     "report` instead"),
)


# ------------------------------------------------------------------ JSON Schema

def _plain(value: Any) -> Any:
    """A default as JSON data (tuples as lists)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def option_schema(opt: Option) -> dict[str, Any]:
    """The JSON Schema of one option's value."""
    spec = opt.spec
    if spec.table is not None:
        out = table_schema(spec.table)
    else:
        out = {"type": KINDS[spec.kind][1]}
    out["description"] = spec.help
    for check in spec.checks:
        out.update(check.schema())
    if spec.items is not None:
        item: dict[str, Any] = {"type": KINDS[spec.items][1]}
        for check in spec.item_checks:
            item.update(check.schema())
        out["items"] = item
    if spec.non_empty:
        out["minItems"] = 1
    if spec.distinct:
        out["uniqueItems"] = True
    out.update(dict(spec.schema))
    if opt.default is not None and spec.default_text is None and opt.default != {}:
        out["default"] = _plain(opt.default)
    return out


def table_schema(table: type, *, closed: bool = True) -> dict[str, Any]:
    """The JSON Schema of a table of options (``closed``: no other keys)."""
    opts = options_of(table)
    out: dict[str, Any] = {"type": "object",
                           "properties": {o.key: option_schema(o) for o in opts}}
    required = [o.key for o in opts if o.spec.required]
    if required:
        out["required"] = required
    if closed:
        out["additionalProperties"] = False
    return out


def suite_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema of a suite file; with ``registry``, of the plugins installed there."""
    datasets = table_schema(DatasetKeys, closed=False)
    detectors = table_schema(DetectorKeys)
    if registry is not None:
        datasets = _datasets_schema(registry)
        detectors = _detectors_schema(registry)
    props = {"suite": table_schema(SuiteSettings), "report": table_schema(ReportOptions),
             "datasets": {"type": "array", "minItems": 1, "items": datasets},
             "detectors": {"type": "array", "minItems": 1, "items": detectors}}
    for key, _, _, what in TABLES:
        props[key]["description"] = what
    return {"$schema": DRAFT, "title": "anobench suite",
            "description": "A suite file of anobench (`anobench run SUITE`).",
            "type": "object", "properties": props, "required": ["datasets", "detectors"],
            "additionalProperties": False}


def param_schema(p: inspect.Parameter) -> dict[str, Any]:
    """A plugin parameter: one value of its type, or a grid (a non-empty list of them)."""
    kind = param_kind(p)
    if kind is None or kind is list:  # any value; a list-valued one is always a list
        return {}
    one = {"type": KINDS[kind][1]}
    return {"anyOf": [one, {"type": "array", "minItems": 1, "items": one}]}


def _params_schema(params: dict[str, inspect.Parameter], types: bool = True
                   ) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "properties": {k: param_schema(p) if types else {} for k, p in params.items()}}


def _detectors_schema(registry: Registry) -> dict[str, Any]:
    """``[[detectors]]`` entries: a known name, its parameters, rules only where it has some."""
    out = table_schema(DetectorKeys)
    names: list[dict[str, Any]] = [{"enum": sorted(registry.detectors)}]
    names += [{"type": "string", "pattern": f"^{re.escape(prefix)}:."}
              for prefix in sorted(registry.detector_families)]
    out["properties"]["name"] = {"anyOf": names, "description": DetectorKeys.__doc__ or ""}
    rules = {"enum": sorted(registry.rules)}
    out["properties"]["rules"]["items"] = rules
    cases = []
    for name, spec in sorted(registry.detectors.items()):
        params = {k: p for k, p in spec.parameters.items() if k not in spec.defaults}
        then: dict[str, Any] = {"properties": {"params": _params_schema(
            params, spec.capabilities.param_types_from_defaults)}}
        if not spec.latent:  # rules, measures and n_samples read a posterior
            then["not"] = {"anyOf": [{"required": [k]} for k in
                                     ("rules", "measures", "n_samples")]}
        cases.append({"if": {"properties": {"name": {"const": name}}, "required": ["name"]},
                      "then": then})
    out["allOf"] = cases
    return out


def _datasets_schema(registry: Registry) -> dict[str, Any]:
    """``[[datasets]]`` entries: a known name (or a file's label with ``path``) and its options."""
    base = table_schema(DatasetKeys, closed=False)
    own = base["properties"]
    reads_path = sorted(n for n, s in registry.datasets.items() if "path" in s.parameters)
    cases: list[dict[str, Any]] = [{  # without a path, the name is a registered dataset
        "if": {"not": {"required": ["path"]}},
        "then": {"properties": {"name": {"enum": sorted(registry.datasets)}}}}]
    for name, spec in sorted(registry.datasets.items()):
        entry = _dataset_keys(own, spec.parameters)
        when: dict[str, Any] = {"properties": {"name": {"const": name}}, "required": ["name"]}
        if name not in reads_path:  # with a path, this name is the label of a file
            when["not"] = {"required": ["path"]}
        cases.append({"if": when, "then": entry})
    if FILE_DATASET in registry.datasets:  # your own file: read by the file dataset
        cases.append({"if": {"required": ["path"],
                             "properties": {"name": {"not": {"enum": reads_path}}}},
                      "then": _dataset_keys(own, registry.datasets[FILE_DATASET].parameters)})
    base["allOf"] = cases
    return base


def _dataset_keys(own: dict[str, Any], params: dict[str, inspect.Parameter]) -> dict[str, Any]:
    """An entry of one dataset: the entry's keys and the dataset's options, nothing else."""
    props = {**{k: param_schema(p) for k, p in params.items()}, **own}
    required = [k for k, p in params.items() if p.default is inspect.Parameter.empty]
    out: dict[str, Any] = {"properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


# ------------------------------------------------------------------ docs

def _default_words(opt: Option) -> str:
    if opt.spec.required:
        return "required"
    if opt.spec.default_text:
        return opt.spec.default_text
    value = _plain(opt.default)
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, list):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v)
                                for v in value) + "]`"
    return "`{}`" if value == {} else f"`{value}`"


def _type_words(opt: Option) -> str:
    spec = opt.spec
    if spec.kind is list and spec.items is not None:
        return f"list of {KINDS[spec.items][2]}s"
    return KINDS[spec.kind][2]


def _meaning(opt: Option) -> str:
    spec = opt.spec
    rules = [c.words() for c in (*spec.checks, *spec.item_checks) if c.words()]
    if spec.non_empty:
        rules.append("at least one")
    text = spec.help + (f" ({'; '.join(rules)})" if rules else "")
    if spec.flag is not None:
        text += f"; flag `{spec.flag.name}`"
    return text.replace("|", "\\|")


def options_markdown(table: type) -> str:
    """One table of options as a Markdown table: key, type, default, meaning."""
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{o.key}` | {_type_words(o)} | {_default_words(o)} | {_meaning(o)} |"
             for o in options_of(table)]
    return "\n".join(rows)


def reference_markdown() -> str:
    """The option reference of suite files, every table, as Markdown."""
    parts = ["# Suite options", "",
             "Every key a suite file may hold, made from the definitions the suite is "
             "validated with (`anobench schema --markdown`)."]
    for key, table, array, what in TABLES:
        title = f"[[{key}]]" if array else f"[{key}]"
        parts += ["", f"## `{title}`", "", what[0].upper() + what[1:] + ".", "",
                  options_markdown(table)]
    parts += ["", "## `resources`", "", "What one work unit asks a scheduling executor (ray) "
              "for, in `[suite]` or a `[[detectors]]` entry.", "",
              options_markdown(Resources)]
    return "\n".join(parts) + "\n"


def write_schema(output: str | None, registry: Registry | None) -> None:
    """``anobench schema``: the JSON Schema (of ``registry``'s plugins), or with ``registry``
    ``None`` the Markdown reference, to ``output`` (``None`` or ``-``: standard output)."""
    text = reference_markdown() if registry is None else \
        json.dumps(suite_schema(registry), indent=2, ensure_ascii=False) + "\n"
    if output in (None, "-"):
        sys.stdout.write(text)
        return
    write_atomic(output, text)
    print(terminal(f"anobench: wrote {output}"), file=sys.stderr)

