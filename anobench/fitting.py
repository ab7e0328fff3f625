"""Fit a work unit's models: the one fit path of a run.

A unit (:class:`anobench.units.Unit`) is one cell, or a cohort of cells that
train together; a single cell is a unit of one. :func:`fit_unit` fits every
member and returns, per member, a :class:`Fitted` (the detector, its share of
the fit's wall time and the size of the unit it was trained in) or the
exception that stopped it, which fails that cell alone.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from anobench.deadline import CellTimeout, deadline
from anobench.units import Unit, instantiate


@dataclass(frozen=True)
class Fitted:
    """One member's fitted detector."""

    detector: Any
    fit_seconds: float  # a cohort's wall time is shared equally by its members
    cohort_size: int = 1  # cells trained together (1: on its own)


def fit_unit(unit: Unit) -> list[Fitted | BaseException]:
    """Fit the models of ``unit``: per member a :class:`Fitted` or what it raised.

    One cell is fitted with ``fit(X_train, X_val)`` within its
    ``cell_timeout`` (what is left of it is its scoring's); a cohort of ``n``
    with its detector class's ``fit_cohort``, which may take ``n`` ×
    ``cell_timeout`` in all (each member's scoring then has its own).
    """
    n = len(unit.tasks)
    first = unit.tasks[0]
    limit = unit.suite.cell_timeout * n
    what = "" if n == 1 else (f"the cohort of {n} cells trained together ran longer than {n} x "
                              f"cell_timeout = {limit:g} s and was stopped")
    try:
        dets = [instantiate(t.group, t.seeds["model"], unit.device) for t in unit.tasks]
        t0 = time.perf_counter()
        with deadline(limit, what):
            if n == 1:
                dets[0].fit(first.split.X_train, first.split.X_val)
                out: list[Any] = dets
            else:
                out = list(first.group.cls.fit_cohort(dets, first.split.X_train,
                                                      first.split.X_val))
        per_member = (time.perf_counter() - t0) / n
        check_cohort_result(out, n)
    except (Exception, SystemExit, CellTimeout) as exc:  # noqa: BLE001 - each cell records it
        return [exc] * n
    return [d if isinstance(d, BaseException) else Fitted(d, per_member, n) for d in out]


def check_cohort_result(out: list[Any], n: int) -> None:
    """``fit_cohort`` must return one result per member, each fitted detector its own object.

    One object returned for two members would give both the same model (and
    the numbers of one grid point under another's name); ``ValueError`` then.
    """
    if len(out) != n:
        raise ValueError(f"fit_cohort returned {len(out)} results for {n} members")
    seen: dict[int, int] = {}
    for i, d in enumerate(out):
        if isinstance(d, BaseException):
            continue
        j = seen.setdefault(id(d), i)
        if j != i:
            raise ValueError(f"fit_cohort returned the same object for members {j} and {i} (of "
                             f"{n}); each member must be its own fitted detector")
