"""The detector checks of the conformance kit (see :mod:`anobench.testing`)."""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from anobench.api import DRAW_OPTIONAL, PosteriorDraw
from anobench.capabilities import capabilities_of, init_parameters
from anobench.testing.kit import KINDS, Checker, auc, check_registers, instantiate, make_data

#: A cohort member's scores may differ from its single fit's by this much, relative...
COHORT_RTOL = 1e-4
#: ... plus this much times the largest absolute score (stacked networks sum in
#: another order, so float32 results differ in the last bits).
COHORT_ATOL = 1e-6


def check_detector(cls: type, params: dict[str, Any] | None = None, *,
                   kinds: tuple[str, ...] = KINDS, seed: int = 0, min_auc: float = 0.9) -> None:
    """Check a detector class against the detector contract (see :mod:`anobench.testing`).

    Parameters
    ----------
    cls : type
        The detector class (what the plugin registers).
    params : dict, optional
        Constructor parameters for the check, e.g. :func:`~anobench.testing.fast_params`
        ``(cls)`` to keep neural detectors fast.
    kinds : tuple of {"tabular", "image"}
        Which data shapes the detector must handle (default both).
    seed : int
        ``random_state`` for the fits (if the class takes one) and the data seed.
    min_auc : float
        How well the obvious outliers must be ranked above normals.

    Raises
    ------
    ConformanceError
        Naming the class, data kind and failed check.
    """
    params = dict(params or {})
    name = getattr(cls, "__name__", repr(cls))
    top = Checker(f"check_detector({name})")
    check_registers(top, "add_detector", cls)
    signature = init_parameters(cls)
    unknown = set(params) - set(signature)
    if unknown:
        raise top.fail("params", f"{sorted(unknown)} are not parameters of {name}")
    for kind in kinds:
        _check_detector_on(cls, params, kind, seed, min_auc,
                           Checker(f"check_detector({name}) [{kind}]"))


def _check_detector_on(cls: type, params: dict[str, Any], kind: str, seed: int,
                       min_auc: float, c: Checker) -> None:
    data = make_data(kind, seed=seed)
    caps = capabilities_of(cls)
    if caps.check_data:
        _check_data_accepts(cls, params, data["X_train"].shape[1:], c)
    originals = {k: v.copy() for k, v in data.items()}
    det, used = instantiate(cls, params, seed)
    _check_init(det, used, c)
    s_test = _check_fit_and_score(det, data, min_auc, c)
    for key, arr in data.items():
        if not np.array_equal(arr, originals[key]):
            raise c.fail("no mutation", f"fit/score modified the input array {key}")
    X_test = data["X_test"]
    det2, _ = instantiate(cls, params, seed)
    s_again = det2.fit(data["X_train"].copy(), data["X_val"].copy()).score(X_test.copy())
    s_again = c.scores("score", s_again, len(X_test))
    if not np.allclose(s_test, s_again, rtol=1e-5, atol=1e-8):
        diff = float(np.max(np.abs(s_test - s_again)))
        seeded = " and random_state" if caps.takes_random_state else ""
        raise c.fail("determinism", f"two fits with the same parameters{seeded} "
                                    f"gave different scores (max difference {diff:.3g})")
    if caps.latent:
        _check_posterior(det, X_test, data["X_outliers"], c)
    if caps.cohort:
        _check_cohort(cls, params, data, s_test, seed, c)
    _check_bad_input(cls, params, seed, det, data, c)


def _check_data_accepts(cls: Any, params: dict[str, Any], shape: tuple[int, ...],
                        c: Checker) -> None:
    full = {k: p.default for k, p in init_parameters(cls).items()
            if p.default is not inspect.Parameter.empty}
    try:
        cls.check_data({**full, **params}, tuple(shape))
    except (ValueError, TypeError) as exc:
        raise c.fail("check_data", f"refuses these parameters for samples of shape {shape} "
                                   f"({exc}); pass parameters that fit the check data") from None


def _check_init(det: Any, used: dict[str, Any], c: Checker) -> None:
    """``__init__`` stores every parameter unchanged."""
    signature = init_parameters(type(det))
    for pname in signature:
        if not hasattr(det, pname):
            raise c.fail("__init__", f"does not store parameter {pname!r} as self.{pname}")
        expected = used.get(pname, signature[pname].default)
        if getattr(det, pname) is not expected and getattr(det, pname) != expected:
            raise c.fail("__init__", f"self.{pname} is {getattr(det, pname)!r}, but it was given "
                                     f"{expected!r}; __init__ must store parameters unchanged")


def _check_fit_and_score(det: Any, data: dict[str, np.ndarray], min_auc: float,
                         c: Checker) -> np.ndarray:
    """``fit`` returns self and sets only ``_`` attributes; outliers score higher."""
    before = set(vars(det))
    fitted = det.fit(data["X_train"], data["X_val"])
    if fitted is not det:
        raise c.fail("fit", "must return self")
    new = sorted(a for a in set(vars(det)) - before if not (a.endswith("_") or a.startswith("_")))
    if new:
        raise c.fail("fit", f"set attributes {new}; fitted attributes end in '_'")
    X_test, X_out = data["X_test"], data["X_outliers"]
    s_test = c.scores("score", det.score(X_test), len(X_test))
    s_out = c.scores("score", det.score(X_out), len(X_out))
    value = auc(s_test, s_out)
    if value < min_auc:
        if value < 0.5:
            msg = (f"obvious outliers were ranked below normals (AUC {value:.2f} < {min_auc}): "
                   "the scores look negated; higher must mean more anomalous")
        else:
            msg = f"obvious outliers were not ranked above normals (AUC {value:.2f} < {min_auc})"
        raise c.fail("higher = more anomalous", msg)
    return s_test


def _check_bad_input(cls: type, params: dict[str, Any], seed: int, det: Any,
                     data: dict[str, np.ndarray], c: Checker) -> None:
    """NaN input and a wrong sample shape raise a clear error."""
    X_test = data["X_test"]
    bad = data["X_train"].copy()
    bad.reshape(-1)[3] = np.nan
    det3, _ = instantiate(cls, params, seed)
    c.expect_clear_error("bad input", lambda: det3.fit(bad, data["X_val"]),
                         "fit() on data with a NaN")
    nan_test = X_test.copy()
    nan_test.reshape(-1)[0] = np.nan
    c.expect_clear_error("bad input", lambda: det.score(nan_test), "score() on data with a NaN")
    wrong = np.concatenate([X_test, X_test[..., :1]], axis=-1)
    c.expect_clear_error("bad input", lambda: det.score(wrong),
                         f"score() on samples of shape {wrong.shape[1:]} after fitting "
                         f"{X_test.shape[1:]}")


def _check_cohort(cls: Any, params: dict[str, Any], data: dict[str, np.ndarray],
                  s_first: np.ndarray, seed: int, c: Checker) -> None:
    """A cohort of two (``random_state`` ``seed``, ``seed + 1``) scores as the two single fits.

    ``s_first`` are the test scores of the single fit with ``seed``. The
    tolerance is :data:`COHORT_RTOL` and :data:`COHORT_ATOL`.
    """
    X, X_val, X_test = data["X_train"], data["X_val"], data["X_test"]
    seeds = (seed, seed + 1)
    members = [instantiate(cls, params, s)[0] for s in seeds]
    try:
        out = list(cls.fit_cohort(members, X, X_val))
    except Exception as exc:
        raise c.fail("fit_cohort", f"raised {type(exc).__name__}: {exc}") from exc
    if len(out) != len(members):
        raise c.fail("fit_cohort", f"returned {len(out)} results for {len(members)} members")
    if out[0] is out[1]:
        raise c.fail("fit_cohort", "returned the same object for both members; each member "
                                   "is its own fitted detector")
    for i, (member, s) in enumerate(zip(out, seeds)):
        if isinstance(member, BaseException):
            raise c.fail("fit_cohort", f"member {i} (random_state={s}) failed: "
                                       f"{type(member).__name__}: {member}")
        alone = s_first if i == 0 else instantiate(cls, params, s)[0].fit(X, X_val).score(X_test)
        alone = c.scores("score", alone, len(X_test))
        together = c.scores("fit_cohort", member.score(X_test), len(X_test))
        atol = COHORT_ATOL * max(1.0, float(np.max(np.abs(alone))))
        if not np.allclose(together, alone, rtol=COHORT_RTOL, atol=atol):
            diff = float(np.max(np.abs(together - alone)))
            raise c.fail("fit_cohort", f"member {i} (random_state={s}) scores differ from its "
                                       f"single fit by up to {diff:.3g} (allowed: rtol "
                                       f"{COHORT_RTOL:g}, atol {atol:.3g}); a member must end "
                                       "as member.fit(X, X_val) would alone")


def _check_posterior(det: Any, X_test: np.ndarray, X_out: np.ndarray, c: Checker) -> None:
    n = len(X_test)
    for L in (0, 3):
        draw = det.posterior_draw(X_test, n_samples=L, seed=7)
        if not isinstance(draw, PosteriorDraw):
            raise c.fail("posterior_draw", f"returned {type(draw).__name__}, not a PosteriorDraw")
        for field_, shape in (("recon_mu", (n,)), ("kl", (n,)), ("recon_samples", (L, n)),
                              ("log_weights", (L, n))):
            arr = np.asarray(getattr(draw, field_))
            if arr.shape != shape:
                raise c.fail("posterior_draw", f"{field_} has shape {arr.shape} for "
                                               f"n_samples={L}, expected {shape}")
            if not np.isfinite(arr).all():
                raise c.fail("posterior_draw", f"{field_} has NaN/inf values")
        if np.any(np.asarray(draw.kl) < -1e-6):
            raise c.fail("posterior_draw", "KL is negative")
        _check_optional_fields(det, draw, n, L, c)
    a = det.posterior_draw(X_test, n_samples=3, seed=11)
    b = det.posterior_draw(X_test, n_samples=3, seed=11)
    for field_ in ("recon_mu", "recon_samples", "kl", "log_weights"):
        if not np.allclose(getattr(a, field_), getattr(b, field_), rtol=1e-5, atol=1e-8):
            raise c.fail("posterior_draw", f"{field_} differs between two draws with the same seed")
    out = det.posterior_draw(X_out, n_samples=3, seed=11)
    if auc(np.asarray(a.recon_mu), np.asarray(out.recon_mu)) < 0.9:
        raise c.fail("posterior_draw", "recon_mu does not rank obvious outliers above normals")


def _check_optional_fields(det: Any, draw: PosteriorDraw, n: int, L: int, c: Checker) -> None:
    """The optional draw fields the detector says it fills (``draw_provides``)."""
    provides = capabilities_of(type(det)).draw_provides
    bad = [f for f in provides if f not in DRAW_OPTIONAL]
    if bad:
        raise c.fail("draw_provides", f"{bad} are not optional PosteriorDraw fields "
                                      f"({', '.join(DRAW_OPTIONAL)})")
    for field_ in provides:
        arr = getattr(draw, field_)
        if arr is None:
            raise c.fail("posterior_draw", f"{field_} is None though draw_provides lists it")
        arr = np.asarray(arr)
        ok = (arr.shape == (L, n) if field_ == "log_likelihood"
              else arr.ndim == 2 and len(arr) == n and arr.shape[1] >= 1)
        if not ok:
            want = f"({L}, {n})" if field_ == "log_likelihood" else f"({n}, D)"
            raise c.fail("posterior_draw", f"{field_} has shape {arr.shape} for n_samples={L}, "
                                           f"expected {want}")
        if not np.isfinite(arr).all():
            raise c.fail("posterior_draw", f"{field_} has NaN/inf values")
