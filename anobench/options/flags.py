"""Command-line flags made from options: ``anobench report --alpha 0.1 --pair A B ...``.

Each option with a :class:`~anobench.options.spec.Flag` becomes one
argparse argument whose help is the option's own, so ``--help``, the docs
and the suite file say the same. The values given are collected as a table
of the same keys (:func:`given_flags`) and parsed by the table's parser,
with errors naming the flag.
"""
from __future__ import annotations

import argparse
from typing import Any

from anobench.options.spec import OneOf, Option, options_of


def flag_help(opt: Option, table: str) -> str:
    """An option's help as its flag's: the meaning, the values, the default."""
    spec = opt.spec
    assert spec.flag is not None
    choices = next((c for c in (*spec.checks, *spec.item_checks) if isinstance(c, OneOf)), None)
    values = f": {', '.join(map(str, choices.choices))}" if choices and spec.kind is list else ""
    repeat = "repeatable; " if spec.flag.repeat else ""
    if spec.kind is bool:
        default = f"{table} {opt.key}, else {'true' if opt.default else 'false'}"
    else:
        default = f"{table} {opt.key}, else {spec.default_text or opt.default}"
    return f"{spec.help}{values} ({repeat}default: {default})".replace("%", "%%")


def add_flags(parser: argparse.ArgumentParser, table_type: type, table: str) -> None:
    """Add a flag for each option of ``table_type`` that has one (dest: the option's key)."""
    for opt in options_of(table_type):
        flag = opt.spec.flag
        if flag is None:
            continue
        kw: dict[str, Any] = {"dest": opt.key, "default": None, "help": flag_help(opt, table)}
        if opt.spec.kind is bool:
            parser.add_argument(flag.name, action="store_true", **kw)
            continue
        kind = opt.spec.items if opt.spec.kind is list else opt.spec.kind
        if kind in (int, float):
            kw["type"] = kind
        choices = next((c for c in opt.spec.checks if isinstance(c, OneOf)), None)
        metavar = flag.metavar or ("|".join(map(str, choices.choices)) if choices else None)
        if metavar is not None:
            kw["metavar"] = metavar
        if flag.repeat:
            kw["action"] = "append"
        if flag.nargs:
            kw["nargs"] = flag.nargs
        parser.add_argument(flag.name, **kw)


def given_flags(args: argparse.Namespace, table_type: type) -> dict[str, Any]:
    """The options given as flags, as a table (``--pair A B`` -> ``pairs = [["A", "B"]]``)."""
    out: dict[str, Any] = {}
    for opt in options_of(table_type):
        flag = opt.spec.flag
        value = getattr(args, opt.key, None) if flag is not None else None
        if value is None or value is False:
            continue
        out[opt.key] = [list(v) for v in value] if flag is not None and flag.nargs else value
    return out
