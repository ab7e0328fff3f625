"""Class names: resolving a suite's ``classes`` (labels or names) against a dataset.

A suite names a normal class by its integer label (``classes = [0]``) or, where
the data has class names, by name (``classes = ["T-shirt/top"]`` for
Fashion-MNIST, ``classes = ["normal"]`` for a file whose labels are strings).
A number means the label, a string the name: a name matches exactly, else
case-insensitively when that is unambiguous; a string of ASCII digits names
the label of data without class names (``"3"``; not ``"٣"`` or ``"３"``). A
number that is also the name of *another* class (names ``"10"``, ``"2"``,
``"9"``: ``2`` is label 2, named ``"9"``, while ``"2"`` is label 1) is an
error naming both readings. The label stays the class's identity (cell ids,
seeds and records use it); the name is what tables show.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from anobench.api import LabeledData
from anobench.registry import did_you_mean

ClassSpec = int | str | tuple  # a label, a name, or a tuple of them (one normal set)
_ASCII_INTEGER = re.compile(r"-?[0-9]+")  # "٣" and "３" are not the label 3


def has_names(data: LabeledData) -> bool:
    """Whether the data's classes have names other than their numbers."""
    names = data.class_names
    return bool(names) and any(n != str(i) for i, n in enumerate(names))


def class_name(data: LabeledData, label: int) -> str:
    """The name of one label (its number when the data has no name for it)."""
    names = data.class_names
    return names[label] if 0 <= label < len(names) else str(label)


def normal_name(data: LabeledData, normal: int | Sequence[int]) -> str:
    """How tables show a normal class or set: ``T-shirt/top``, ``Bag+Sandal``, ``3``."""
    labels = normal if isinstance(normal, (tuple, list)) else (normal,)
    return "+".join(class_name(data, int(c)) for c in labels)


def classes_text(data: LabeledData) -> str:
    """The classes of a dataset for error messages: ``T-shirt/top (0), Trouser (1), …``."""
    if has_names(data):
        return ", ".join(f"{class_name(data, c)} ({c})" for c in data.classes)
    return ", ".join(map(str, data.classes))


def resolve_label(data: LabeledData, spec: int | str, dataset: str | None = None) -> int:
    """The integer label of ``spec`` (a label or a class name); ``ValueError`` if none.

    The message names the dataset as ``dataset`` (default: ``repr(data.name)``)
    and says what was asked, with a did-you-mean and the classes.
    """
    known = data.classes
    label = dataset or repr(data.name)
    if isinstance(spec, int) and not isinstance(spec, bool):
        named = [c for c in known if class_name(data, c) == str(spec)]
        if spec in known and named and named[0] != spec:
            raise ValueError(f"class {spec} is ambiguous in dataset {label}: label {spec} is the "
                             f"class named {class_name(data, spec)!r}, and the class named "
                             f"'{spec}' is label {named[0]}; write {spec} as a name "
                             f"(\"{class_name(data, spec)}\" or \"{spec}\")")
        if spec in known:
            return spec
        hint = did_you_mean(spec, known)
        raise ValueError(f"class {spec} does not exist in dataset {label}{hint}; "
                         f"classes: {classes_text(data)}")
    text = str(spec)
    names = {class_name(data, c): c for c in known}
    if text in names:
        return names[text]
    folded = [c for n, c in names.items() if n.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    if not has_names(data) and _ASCII_INTEGER.fullmatch(text) and int(text) in known:
        return int(text)
    hint = did_you_mean(text, names)
    what = "a class name of" if has_names(data) else "a class of"
    raise ValueError(f"class {text!r} is not {what} dataset {label}{hint}; "
                     f"classes: {classes_text(data)}")


def resolve_classes(data: LabeledData, specs: Sequence[ClassSpec],
                    dataset: str | None = None) -> tuple[int | tuple, ...]:
    """Labels for a suite entry's ``classes`` (each a spec or a tuple of specs)."""
    out: list[int | tuple] = []
    for spec in specs:
        if isinstance(spec, tuple):
            out.append(tuple(resolve_label(data, s, dataset) for s in spec))
        else:
            out.append(resolve_label(data, spec, dataset))
    return tuple(out)
