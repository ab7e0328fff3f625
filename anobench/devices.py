"""The devices a run trains on: the names a suite may give, and the one that is used.

``suite.device``, ``--device`` and a detector's ``device`` parameter all
take one of :data:`DEVICES` (a detector may also take ``cuda:N``).
:func:`resolve_device` turns ``auto`` into ``cuda`` where CUDA is available
(else ``cpu``) and refuses a CUDA device this machine does not have. torch
is imported only when CUDA is asked about.
"""
from __future__ import annotations

from anobench.errors import AnobenchError

#: What ``suite.device`` and ``--device`` accept.
DEVICES = ("auto", "cpu", "cuda")


def is_device(name: object) -> bool:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (what a detector's ``device`` may say)."""
    if not isinstance(name, str):
        return False
    base, colon, index = name.partition(":")
    return name in DEVICES or (base == "cuda" and bool(colon) and index.isdigit())


def resolve_device(requested: str | None, what: str = "--device") -> str:
    """The device to use: ``auto``/``None`` -> ``cuda`` if available else ``cpu``.

    ``cuda`` or ``cuda:N`` without such a CUDA device here raises
    :class:`AnobenchError` naming ``what`` (the flag or key that asked).
    """
    if requested == "cpu":
        return "cpu"
    import torch

    if requested in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not is_device(requested):
        raise AnobenchError(f"{what}: must be one of {', '.join(DEVICES)} or cuda:N, "
                            f"got {requested!r}")
    assert requested is not None
    _, _, index = requested.partition(":")
    if not torch.cuda.is_available():
        raise AnobenchError(f"{what} {requested}: no CUDA device is available")
    if index and int(index) >= torch.cuda.device_count():
        raise AnobenchError(f"{what} {requested}: this machine has "
                            f"{torch.cuda.device_count()} CUDA device(s)")
    return requested
