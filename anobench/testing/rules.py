"""The scoring-rule checks of the conformance kit (see :mod:`anobench.testing`)."""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from anobench.api import DRAW_OPTIONAL, MEASURES, PosteriorDraw
from anobench.testing.kit import Checker, check_registers, make_draw


def check_scoring_rule(rule: Any) -> None:
    """Check a scoring rule (class or instance) against the rule contract.

    Raises
    ------
    ConformanceError
        Naming the rule, measure and failed check.
    """
    if inspect.isclass(rule):
        rule = rule()
    name = getattr(rule, "name", "") or type(rule).__name__
    c = Checker(f"check_scoring_rule({name})")
    check_registers(c, "add_scoring_rule", rule)
    min_samples = _check_declarations(rule, c)
    sizes = sorted({max(min_samples, 1), max(min_samples, 5)} | ({0} if min_samples == 0 else set()))
    for L in sizes:
        for beta in (1.0, 0.5):
            _check_on_draw(rule, name, L, beta, c)
    draw, _ = make_draw(n_samples=max(min_samples, 1))
    c.expect_clear_error("bad input", lambda: getattr(rule, _method(rule))(draw, "no-such-measure"),
                         f"{_method(rule)}() with an unknown measure")
    if getattr(rule, "oracle", False):
        values = np.array([0.5, 0.9, 0.7])
        k = rule.choose(values)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < len(values):
            raise c.fail("choose", f"returned {k!r} for {len(values)} candidates; return the "
                                   "index of the one to keep")


def _check_declarations(rule: Any, c: Checker) -> int:
    """``measures``, ``needs`` and ``min_samples`` name known things; return ``min_samples``."""
    bad = [m for m in rule.measures if m not in MEASURES]
    if bad:
        raise c.fail("measures", f"{bad} are not measures anobench knows ({', '.join(MEASURES)})")
    unknown = [f for f in getattr(rule, "needs", ()) if f not in DRAW_OPTIONAL]
    if unknown:
        raise c.fail("needs", f"{unknown} are not optional PosteriorDraw fields "
                              f"({', '.join(DRAW_OPTIONAL)})")
    min_samples = getattr(rule, "min_samples", 1)
    if not isinstance(min_samples, int) or min_samples < 0:
        raise c.fail("min_samples", f"must be an integer >= 0, got {min_samples!r}")
    return min_samples


def _check_on_draw(rule: Any, name: str, L: int, beta: float, c: Checker) -> None:
    """Every measure of the rule on one synthetic draw: outliers highest, the draw unchanged."""
    draw, is_out = make_draw(n_samples=L, beta=beta)
    saved = _copy_draw(draw)
    for measure in rule.measures:
        cm = Checker(f"check_scoring_rule({name}) [{measure}, L={L}, beta={beta}]")
        for s in _rule_outputs(cm, rule, draw, measure, len(is_out)):
            if s[is_out].min() <= s[~is_out].max():
                raise cm.fail("higher = more anomalous", "examples with much larger "
                              "reconstruction errors and KL did not all score highest")
    for k, v in saved.items():
        if not np.array_equal(v, getattr(draw, k)):
            raise c.fail("no mutation", f"{_method(rule)}() modified draw.{k}")


def _copy_draw(d: PosteriorDraw) -> dict[str, np.ndarray]:
    return {k: np.array(getattr(d, k), copy=True)
            for k in ("recon_mu", "recon_samples", "kl", "log_weights", *DRAW_OPTIONAL)
            if getattr(d, k) is not None}


def _method(rule: Any) -> str:
    return "candidates" if getattr(rule, "oracle", False) else "reduce"


def _rule_outputs(c: Checker, rule: Any, draw: PosteriorDraw, measure: str,
                  n: int) -> list[np.ndarray]:
    """The score vectors a rule gives for one draw: one, or an oracle's candidates."""
    method = _method(rule)
    out = getattr(rule, method)(draw, measure)
    again = getattr(rule, method)(draw, measure)
    if not np.array_equal(np.asarray(out), np.asarray(again)):
        raise c.fail("determinism", f"two calls of {method}() on the same draw differ")
    if method == "reduce":
        return [c.scores("reduce", out, n)]
    arr = np.asarray(out)
    if arr.ndim != 2 or len(arr) < 1 or arr.shape[1] != n:
        raise c.fail("candidates", f"returned shape {arr.shape}, expected (K, {n}) with K >= 1")
    return [c.scores("candidates", row, n) for row in arr]
