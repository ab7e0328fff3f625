"""The field spec every option is declared in, and the validation it gives.

An option is a dataclass field made with :func:`option`: its default, what
it means (``help``), its TOML type, the rules its value follows
(:class:`Check`: :class:`AtLeast`, :class:`AtMost`, :class:`Within`,
:class:`OneOf`, :class:`Matches`) and, for ``[report]`` keys, its
command-line flag (:class:`Flag`). From that one definition come

* the validation (:func:`parse_table`, :func:`check_value`): one-line errors
  naming the file and key path (or the flag), with a did-you-mean;
* the JSON Schema and the docs table (:mod:`anobench.options.schema`);
* the ``--help`` text of the report flags (:mod:`anobench.options.flags`).

Checks that need more than the value (plugins, the suite's columns,
other keys) stay with the code that parses the table.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from anobench.errors import SuiteError
from anobench.registry import did_you_mean

#: The TOML type of an option: (in an error message, in the JSON Schema, in the docs).
KINDS: dict[type, tuple[str, str, str]] = {
    str: ("a string", "string", "string"),
    int: ("an integer", "integer", "integer"),
    float: ("a number", "number", "number"),
    bool: ("true or false", "boolean", "true/false"),
    list: ("a list", "array", "list"),
    dict: ("a table", "object", "table"),
}
_SPEC = "anobench"  # the key of an option's Spec in its field's metadata


def number(x: Any) -> str:
    """A value in a message: integers whole, floats ``:g`` (``inf``, ``1e+300``)."""
    if isinstance(x, float):
        return f"{x:g}"
    return str(x) if isinstance(x, int) and not isinstance(x, bool) else repr(x)


def bound(x: float) -> str:
    """A limit in a message: thousands separated from a million on (``10,000,000``)."""
    return f"{x:,}" if isinstance(x, int) and abs(x) >= 1_000_000 else number(x)


# ------------------------------------------------------------------ checks

class Check:
    """A rule a value follows: its error, its JSON Schema, its words in the docs."""

    def error(self, value: Any) -> str | None:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        return {}

    def words(self) -> str:
        return ""


@dataclass(frozen=True)
class AtLeast(Check):
    bound: float
    unit: str = ""  # e.g. " seconds"
    note: str = ""  # e.g. " (0: no limit)"

    def error(self, value: Any) -> str | None:
        if value >= self.bound:  # False for NaN
            return None
        return f"must be >= {bound(self.bound)}{self.unit}{self.note}, got {number(value)}"

    def schema(self) -> dict[str, Any]:
        return {"minimum": self.bound}

    def words(self) -> str:
        return f">= {bound(self.bound)}"


@dataclass(frozen=True)
class AtMost(Check):
    bound: float
    unit: str = ""
    note: str = ""

    def error(self, value: Any) -> str | None:
        if value <= self.bound:
            return None
        return f"at most {bound(self.bound)}{self.unit}{self.note}, got {number(value)}"

    def schema(self) -> dict[str, Any]:
        return {"maximum": self.bound}

    def words(self) -> str:
        return f"at most {bound(self.bound)}"


@dataclass(frozen=True)
class Within(Check):
    """An interval; ``ends`` says which ends are open: ``"()"``, ``"[)"``, ``"(]"``, ``"[]"``."""

    low: float
    high: float
    ends: str = "[]"

    def error(self, value: Any) -> str | None:
        above = value > self.low if self.ends[0] == "(" else value >= self.low
        below = value < self.high if self.ends[1] == ")" else value <= self.high
        if above and below:
            return None
        return f"must be in {self.interval()}, got {number(value)}"

    def schema(self) -> dict[str, Any]:
        low = "exclusiveMinimum" if self.ends[0] == "(" else "minimum"
        high = "exclusiveMaximum" if self.ends[1] == ")" else "maximum"
        return {low: self.low, high: self.high}

    def interval(self) -> str:
        return f"{self.ends[0]}{bound(self.low)}, {bound(self.high)}{self.ends[1]}"

    def words(self) -> str:
        return f"in {self.interval()}"


@dataclass(frozen=True)
class OneOf(Check):
    """A value from ``choices``.

    The error says ``unknown {noun} 'x' (did you mean ...); known: ...`` with
    a ``noun``, else ``must be one of ..., got 'x'``; ``text`` replaces it
    (``{value!r}`` filled in); ``hint`` replaces the did-you-mean.
    """

    choices: tuple[Any, ...]
    noun: str | None = None
    text: str | None = None
    hint: Callable[[Any], str] | None = None

    def error(self, value: Any) -> str | None:
        if value in self.choices and type(value) in {type(c) for c in self.choices}:
            return None
        hint = self.hint(value) if self.hint else did_you_mean(value, self.choices)
        if self.text:
            return self.text.format(value=value)
        if self.noun:
            return (f"unknown {self.noun} {value!r}{hint}; known: "
                    f"{', '.join(map(str, self.choices))}")
        return f"must be one of {', '.join(map(repr, self.choices))}, got {value!r}{hint}"

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.choices)}

    def words(self) -> str:
        return "one of " + ", ".join(f"`{c}`" for c in self.choices)


@dataclass(frozen=True)
class Matches(Check):
    """A string test with its own message (``{value!r}`` filled in) and JSON Schema."""

    test: Callable[[str], bool]
    text: str
    json: tuple[tuple[str, Any], ...] = ()
    said: str = ""

    def error(self, value: Any) -> str | None:
        return None if self.test(value) else self.text.format(value=value)

    def schema(self) -> dict[str, Any]:
        return dict(self.json)

    def words(self) -> str:
        return self.said


# ------------------------------------------------------------------ options

@dataclass(frozen=True)
class Flag:
    """The command-line flag of an option (``anobench report``)."""

    name: str  # e.g. "--alpha"
    metavar: str | tuple[str, ...] | None = None
    repeat: bool = False  # each use adds one value (argparse "append")
    nargs: int | None = None  # values one use takes (``--pair A B``)


@dataclass(frozen=True)
class Spec:
    """What an option is, besides its name and default (see :func:`option`)."""

    help: str
    kind: type
    checks: tuple[Check, ...] = ()
    required: bool = False  # the table needs the key (checked by the table's parser)
    items: type | None = None  # a list's item type (None: checked by the table's parser)
    item_checks: tuple[Check, ...] = ()
    non_empty: str | None = None  # a list needs an item: "needs at least one {non_empty}"
    distinct: bool = False  # no item listed twice
    default_text: str | None = None  # the default in words, when it is not a plain value
    flag: Flag | None = None
    table: type | None = None  # the dataclass of a sub-table (kind dict)
    schema: tuple[tuple[str, Any], ...] = ()  # JSON Schema beyond what the above gives


def option(default: Any, help: str, kind: type, *checks: Check, **more: Any) -> Any:
    """A dataclass field declaring one option (see :class:`Spec` for ``more``)."""
    spec = Spec(help, kind, tuple(checks), **more)
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata={_SPEC: spec})
    return dataclasses.field(default=default, metadata={_SPEC: spec})


@dataclass(frozen=True)
class Option:
    """One row of a table of options: its key, default and :class:`Spec`."""

    key: str
    default: Any
    spec: Spec


def options_of(table: type) -> tuple[Option, ...]:
    """The options a dataclass declares with :func:`option`, in order."""
    out = []
    for f in dataclasses.fields(table):
        if _SPEC in f.metadata:
            default = {} if f.default is dataclasses.MISSING else f.default
            out.append(Option(f.name, default, f.metadata[_SPEC]))
    return tuple(out)


def option_named(table: type, key: str) -> Option:
    return next(o for o in options_of(table) if o.key == key)


# ------------------------------------------------------------------ validation

@dataclass(frozen=True)
class OptionSource:
    """Where options come from, for the error messages.

    ``prefix`` is prepended to a key (``suites/x.toml: report.``); with
    ``flags`` (the command line) a key is named by its flag instead.
    """

    prefix: str
    flags: Mapping[str, str] | None = None
    scope: str = "suite"  # where column names are looked up: "suite" or "run"

    def at(self, key: str, *index: int) -> str:
        if self.flags is not None:
            return self.flags.get(key, key)
        return self.prefix + key + "".join(f"[{i}]" for i in index)

    def fail(self, where: str, msg: str) -> SuiteError:
        """The error at ``where`` (a key path from :meth:`at`)."""
        return SuiteError(f"{where}: {msg}")

    def error(self, path: str, msg: str) -> SuiteError:
        """The error at key ``path`` below this source (``""``: the source itself)."""
        return SuiteError(f"{self.prefix}{path}: {msg}" if path else f"{self.prefix}{msg}")

    def table(self, where: str) -> OptionSource:
        """The source of a sub-table's keys (``suite.resources.``)."""
        return OptionSource(f"{self.prefix}{where}.", self.flags, self.scope)


def in_file(path: str, where: str = "") -> OptionSource:
    """Keys of the table ``where`` of suite file ``path`` (``""``: top-level keys)."""
    return OptionSource(f"{path}: {where}." if where else f"{path}: ")


def check_type(src: OptionSource, where: str, value: Any, kind: type) -> Any:
    """``value`` if it is of TOML type ``kind`` (an integer is a number), else the error."""
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        raise src.fail(where, f"expected {KINDS[kind][0] if kind in KINDS else kind.__name__}, "
                              f"got {value!r}")
    return value


def check_keys(src: OptionSource, table: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Refuse a key not in ``allowed``, with a did-you-mean."""
    for key in table:
        if key not in allowed:
            raise src.fail(src.at(key), f"unknown key{did_you_mean(key, allowed)}; allowed: "
                                        f"{', '.join(sorted(allowed))}")


def check_value(src: OptionSource, opt: Option, value: Any) -> Any:
    """``value`` of option ``opt``, typed and checked (a number as float for ``float``)."""
    spec = opt.spec
    where = src.at(opt.key)
    value = check_type(src, where, value, spec.kind)
    if spec.table is not None:
        value = parse_table(spec.table, value, src.table(opt.key))
    if spec.kind is list:
        if spec.non_empty and not value:
            raise src.fail(where, f"needs at least one {spec.non_empty}")
        if spec.items is not None:
            value = [_checked(src, src.at(opt.key, i), check_type(src, src.at(opt.key, i), v,
                                                                  spec.items), spec.item_checks)
                     for i, v in enumerate(value)]
        if spec.distinct:
            no_repeats(src, value, lambda i: src.at(opt.key, i))
    return _checked(src, where, value, spec.checks)


def _checked(src: OptionSource, where: str, value: Any, checks: tuple[Check, ...]) -> Any:
    for check in checks:
        msg = check.error(value)
        if msg:
            raise src.fail(where, msg)
    return value


def no_repeats(src: OptionSource, values: Any, at: Callable[[int], str]) -> None:
    """Refuse a value listed twice (it would run or be recorded twice); ``at(i)`` names item i."""
    seen: set = set()
    for i, v in enumerate(values):
        if v in seen:
            raise src.fail(at(i), f"{v!r} is listed twice")
        seen.add(v)


def parse_table(table_type: type, table: Mapping[str, Any], src: OptionSource, *,
                extra: Collection[str] = ()) -> dict[str, Any]:
    """The given keys of ``table``, each typed and checked as its option says.

    Unknown keys are refused first (``extra`` names more allowed keys, left
    to the caller); defaults are not filled in.
    """
    opts = {o.key: o for o in options_of(table_type)}
    check_keys(src, table, {*opts, *extra})
    return {k: check_value(src, opts[k], v) for k, v in table.items() if k in opts}
