"""Conformance kit: check that a detector or scoring rule keeps anobench's contracts.

Call it from a plugin's own tests::

    from anobench.testing import check_detector, check_scoring_rule, fast_params

    def test_my_detector():
        check_detector(MyDetector, fast_params(MyDetector))

    def test_my_rule():
        check_scoring_rule(MyRule)

:func:`check_detector` fits on small synthetic data (tabular ``(n, d)`` and
images ``(n, 1, H, W)``, both in [0, 1]) and checks: registration is accepted,
``__init__`` only stores its parameters, ``fit`` returns ``self`` and sets
only attributes ending in ``_``, ``score`` returns one finite float per
sample, an obvious outlier scores higher (higher = more anomalous), two fits
with the same ``random_state`` give the same scores, inputs are not modified,
and NaN input or a wrong sample shape raises a clear error (``ValueError``,
``TypeError`` or an :class:`~anobench.errors.AnobenchError`, with a message).
Latent-variable detectors also get their ``posterior_draw`` checked.

:func:`check_scoring_rule` reduces synthetic posterior draws and checks
shapes, finiteness, higher = more anomalous, determinism, no mutation, and a
clear error for an unsupported measure; for an oracle rule (``oracle =
True``) it checks every candidate score vector the same way and that
``choose`` returns a valid index.

Each failure raises :class:`ConformanceError` (an ``AssertionError``) with one
line that names the class, the data kind and the check.
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from anobench.api import DRAW_OPTIONAL, MEASURES, LabeledData, PosteriorDraw
from anobench.errors import AnobenchError
from anobench.registry import Registry, init_parameters

__all__ = [
    "ConformanceError", "check_dataset", "check_detector", "check_scoring_rule", "fast_params",
    "make_data", "make_draw",
]

#: Exceptions that count as a clear error on bad input.
CLEAR_ERRORS = (ValueError, TypeError, AnobenchError)
#: Parameters that set a training budget, and the small value :func:`fast_params` gives them.
BUDGET_PARAMS = {"max_epochs": 3, "epochs": 3, "n_epochs": 3, "patience": 2, "n_estimators": 25}
KINDS = ("tabular", "image")


class ConformanceError(AssertionError):
    """A plugin breaks one of anobench's contracts."""


def fast_params(cls: type, **overrides: Any) -> dict[str, Any]:
    """Small training budgets for the parameters of ``cls`` that set one.

    Parameters named in :data:`BUDGET_PARAMS` (``max_epochs``, ``epochs``,
    ``patience``, ``n_estimators``, ...) that ``cls.__init__`` accepts get a
    small value, so conformance checks of neural detectors take seconds; a
    ``device`` parameter is set to ``"cpu"``. ``overrides`` win.
    """
    params = init_parameters(cls)
    out: dict[str, Any] = {k: v for k, v in BUDGET_PARAMS.items() if k in params}
    if "device" in params:
        out["device"] = "cpu"
    out.update(overrides)
    return out


def make_data(kind: str = "tabular", *, n_train: int = 160, n_test: int = 60,
              n_outliers: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic one-class data: normals on a smooth low-dimensional structure.

    Returns a dict with float32 arrays ``X_train``, ``X_val``, ``X_test``
    (normals) and ``X_outliers`` (values in {-1, 2}, far outside the normals'
    range [0, 1], so any sensible detector ranks them first). ``kind`` is
    ``"tabular"`` (``(n, 8)``) or ``"image"`` (``(n, 1, 12, 12)``).
    """
    rng = np.random.default_rng(seed)
    n_val = max(2, n_train // 4)
    n = n_train + n_val + n_test
    if kind == "tabular":
        W = rng.normal(size=(2, 8))
        W /= np.abs(W).sum(axis=0, keepdims=True) + 1e-9
        X = 0.5 + 0.3 * rng.uniform(-1, 1, size=(n, 2)) @ W + 0.02 * rng.normal(size=(n, 8))
        shape: tuple[int, ...] = (8,)
    elif kind == "image":
        side = 12
        yy, xx = np.mgrid[0:side, 0:side]
        cy = side / 2 + rng.uniform(-1, 1, size=n)
        cx = side / 2 + rng.uniform(-1, 1, size=n)
        amp = rng.uniform(0.6, 0.9, size=n)
        d2 = (yy[None] - cy[:, None, None]) ** 2 + (xx[None] - cx[:, None, None]) ** 2
        X = amp[:, None, None] * np.exp(-d2 / 8.0) + 0.02 * rng.normal(size=(n, side, side))
        X = X[:, None]
        shape = (1, side, side)
    else:
        raise ValueError(f"unknown data kind {kind!r}; choose one of {', '.join(KINDS)}")
    X = np.clip(X, 0.0, 1.0).astype(np.float32)
    outliers = (0.5 + 1.5 * rng.choice([-1.0, 1.0], size=(n_outliers, *shape))).astype(np.float32)
    return {"X_train": X[:n_train], "X_val": X[n_train:n_train + n_val],
            "X_test": X[n_train + n_val:], "X_outliers": outliers}


def _auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """P(score of an outlier > score of a normal), ties count half."""
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


class _Checker:
    def __init__(self, who: str) -> None:
        self.who = who

    def fail(self, check: str, msg: str) -> ConformanceError:
        return ConformanceError(f"{self.who}: {check}: {msg}")

    def expect_clear_error(self, check: str, fn, what: str) -> None:
        try:
            fn()
        except CLEAR_ERRORS as exc:
            if not str(exc).strip():
                raise self.fail(check, f"{type(exc).__name__} on {what} has no message") from exc
            return
        except Exception as exc:
            raise self.fail(check, f"{what} raised {type(exc).__name__} ({exc}); raise "
                                   "ValueError (or an AnobenchError) that names the problem") \
                from exc
        raise self.fail(check, f"{what} did not raise; raise ValueError naming the problem")

    def scores(self, check: str, s: Any, n: int) -> np.ndarray:
        arr = np.asarray(s)
        if arr.shape != (n,):
            raise self.fail(check, f"returned shape {arr.shape}, expected ({n},)")
        if not np.issubdtype(arr.dtype, np.floating):
            raise self.fail(check, f"returned dtype {arr.dtype}, expected floats")
        if not np.isfinite(arr).all():
            raise self.fail(check, f"returned {int((~np.isfinite(arr)).sum())} NaN/inf values")
        return arr


def _instantiate(cls: type, params: dict[str, Any], seed: int):
    p = dict(params)
    if "random_state" in init_parameters(cls):
        p.setdefault("random_state", seed)
    return cls(**p), p


def _check_registers(checker: _Checker, method: str, component: Any) -> None:
    """Register ``component`` in a fresh registry, as a plugin hook would."""
    reg = Registry()
    reg.current_plugin = "conformance-check"
    args = (component,) if method == "add_scoring_rule" else ("conformance-check", component)
    try:
        getattr(reg, method)(*args)
    except AnobenchError as exc:
        raise checker.fail("registration", str(exc)) from None


def check_detector(cls: type, params: dict[str, Any] | None = None, *,
                   kinds: tuple[str, ...] = KINDS, seed: int = 0, min_auc: float = 0.9) -> None:
    """Check a detector class against the detector contract (see module docs).

    Parameters
    ----------
    cls : type
        The detector class (what the plugin registers).
    params : dict, optional
        Constructor parameters for the check, e.g. :func:`fast_params` ``(cls)``
        to keep neural detectors fast.
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
    top = _Checker(f"check_detector({name})")
    _check_registers(top, "add_detector", cls)
    signature = init_parameters(cls)
    unknown = set(params) - set(signature)
    if unknown:
        raise top.fail("params", f"{sorted(unknown)} are not parameters of {name}")
    for kind in kinds:
        _check_detector_on(cls, params, signature, kind, seed, min_auc,
                           _Checker(f"check_detector({name}) [{kind}]"))


def _check_detector_on(cls, params, signature, kind, seed, min_auc, c: _Checker) -> None:
    data = make_data(kind, seed=seed)
    check_data = getattr(cls, "check_data", None)
    if callable(check_data):
        full = {k: p.default for k, p in signature.items()
                if p.default is not inspect.Parameter.empty}
        try:
            check_data({**full, **params}, tuple(data["X_train"].shape[1:]))
        except (ValueError, TypeError) as exc:
            raise c.fail("check_data", f"refuses these parameters for samples of shape "
                                       f"{data['X_train'].shape[1:]} ({exc}); pass parameters "
                                       "that fit the check data") from None
    originals = {k: v.copy() for k, v in data.items()}
    det, used = _instantiate(cls, params, seed)
    for pname in signature:
        if not hasattr(det, pname):
            raise c.fail("__init__", f"does not store parameter {pname!r} as self.{pname}")
        expected = used.get(pname, signature[pname].default)
        if getattr(det, pname) is not expected and getattr(det, pname) != expected:
            raise c.fail("__init__", f"self.{pname} is {getattr(det, pname)!r}, but it was given "
                                     f"{expected!r}; __init__ must store parameters unchanged")
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
    auc = _auc(s_test, s_out)
    if auc < min_auc:
        if auc < 0.5:
            msg = (f"obvious outliers were ranked below normals (AUC {auc:.2f} < {min_auc}): "
                   "the scores look negated; higher must mean more anomalous")
        else:
            msg = f"obvious outliers were not ranked above normals (AUC {auc:.2f} < {min_auc})"
        raise c.fail("higher = more anomalous", msg)
    for key, arr in data.items():
        if not np.array_equal(arr, originals[key]):
            raise c.fail("no mutation", f"fit/score modified the input array {key}")
    det2, _ = _instantiate(cls, params, seed)
    s_again = det2.fit(data["X_train"].copy(), data["X_val"].copy()).score(X_test.copy())
    s_again = c.scores("score", s_again, len(X_test))
    if not np.allclose(s_test, s_again, rtol=1e-5, atol=1e-8):
        diff = float(np.max(np.abs(s_test - s_again)))
        raise c.fail("determinism", f"two fits with the same parameters{_seed_note(signature)} "
                                    f"gave different scores (max difference {diff:.3g})")
    if callable(getattr(det, "posterior_draw", None)):
        _check_posterior(det, X_test, X_out, c)
    bad = data["X_train"].copy()
    bad.reshape(-1)[3] = np.nan
    det3, _ = _instantiate(cls, params, seed)
    c.expect_clear_error("bad input", lambda: det3.fit(bad, data["X_val"]),
                         "fit() on data with a NaN")
    nan_test = X_test.copy()
    nan_test.reshape(-1)[0] = np.nan
    c.expect_clear_error("bad input", lambda: det.score(nan_test), "score() on data with a NaN")
    wrong = np.concatenate([X_test, X_test[..., :1]], axis=-1)
    c.expect_clear_error("bad input", lambda: det.score(wrong),
                         f"score() on samples of shape {wrong.shape[1:]} after fitting "
                         f"{X_test.shape[1:]}")


def _seed_note(signature) -> str:
    return " and random_state" if "random_state" in signature else ""


def _check_posterior(det, X_test, X_out, c: _Checker) -> None:
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
    if _auc(np.asarray(a.recon_mu), np.asarray(out.recon_mu)) < 0.9:
        raise c.fail("posterior_draw", "recon_mu does not rank obvious outliers above normals")


def _check_optional_fields(det, draw: PosteriorDraw, n: int, L: int, c: _Checker) -> None:
    """The optional draw fields the detector says it fills (``draw_provides``)."""
    provides = tuple(getattr(det, "draw_provides", ()))
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


def make_draw(n: int = 40, n_samples: int = 5, *, n_outliers: int = 4, beta: float = 1.0,
              seed: int = 0) -> tuple[PosteriorDraw, np.ndarray]:
    """A synthetic :class:`PosteriorDraw` whose first ``n_outliers`` examples are anomalous.

    Returns ``(draw, is_outlier)``. Outliers have 50× larger reconstruction
    errors (at mu and in every sample), larger KL and much lower log weights
    and log-likelihoods; every optional field is filled (``mu``/``logvar``
    of 3 dimensions).
    """
    rng = np.random.default_rng(seed)
    is_out = np.zeros(n, dtype=bool)
    is_out[:n_outliers] = True
    factor = np.where(is_out, 50.0, 1.0)
    recon_mu = rng.uniform(1.0, 2.0, size=n) * factor
    noise = np.abs(rng.normal(0.0, 0.3, size=(n_samples, n)))
    recon_samples = (recon_mu[None, :] + noise * factor[None, :])
    kl = rng.uniform(0.5, 1.0, size=n) * np.where(is_out, 5.0, 1.0)
    log_weights = -(recon_samples + kl[None, :]) - rng.uniform(0, 0.1, size=(n_samples, n))
    log_lik = -recon_samples - 3.0
    mu = rng.normal(0.0, 1.0, size=(n, 3))
    logvar = np.log(rng.uniform(0.1, 1.0, size=(n, 3)))
    draw = PosteriorDraw(recon_mu=recon_mu, recon_samples=recon_samples.reshape(n_samples, n),
                         kl=kl, log_weights=log_weights.reshape(n_samples, n), beta=beta,
                         log_likelihood=log_lik.reshape(n_samples, n), mu=mu, logvar=logvar)
    return draw, is_out


def _copy_draw(d: PosteriorDraw) -> dict[str, np.ndarray]:
    return {k: np.array(getattr(d, k), copy=True)
            for k in ("recon_mu", "recon_samples", "kl", "log_weights", *DRAW_OPTIONAL)
            if getattr(d, k) is not None}


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
    c = _Checker(f"check_scoring_rule({name})")
    _check_registers(c, "add_scoring_rule", rule)
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
    sizes = sorted({max(min_samples, 1), max(min_samples, 5)} | ({0} if min_samples == 0 else set()))
    for L in sizes:
        for beta in (1.0, 0.5):
            draw, is_out = make_draw(n_samples=L, beta=beta)
            saved = _copy_draw(draw)
            for measure in rule.measures:
                cm = _Checker(f"check_scoring_rule({name}) [{measure}, L={L}, beta={beta}]")
                for s in _rule_outputs(cm, rule, draw, measure, len(is_out)):
                    if s[is_out].min() <= s[~is_out].max():
                        raise cm.fail("higher = more anomalous", "examples with much larger "
                                      "reconstruction errors and KL did not all score highest")
            for k, v in saved.items():
                if not np.array_equal(v, getattr(draw, k)):
                    raise c.fail("no mutation", f"{_method(rule)}() modified draw.{k}")
    draw, _ = make_draw(n_samples=max(min_samples, 1))
    c.expect_clear_error("bad input", lambda: getattr(rule, _method(rule))(draw, "no-such-measure"),
                         f"{_method(rule)}() with an unknown measure")
    if getattr(rule, "oracle", False):
        values = np.array([0.5, 0.9, 0.7])
        k = rule.choose(values)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < len(values):
            raise c.fail("choose", f"returned {k!r} for {len(values)} candidates; return the "
                                   "index of the one to keep")


def _method(rule: Any) -> str:
    return "candidates" if getattr(rule, "oracle", False) else "reduce"


def _rule_outputs(c: _Checker, rule: Any, draw: PosteriorDraw, measure: str,
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


def check_dataset(loader: Any, data_dir: Any = None, **options: Any) -> LabeledData:
    """Check a dataset loader: ``loader(data_dir=..., **options)`` returns usable data.

    Checks that it registers, returns a :class:`~anobench.api.LabeledData` with
    float32 samples of one shape ``(n, d)`` or ``(n, C, H, W)`` in train and
    test, finite values, int64 labels (one per sample) of at least two
    classes, class names (if any) for every label, and that loading twice gives
    the same data. Returns the data.
    """
    name = getattr(loader, "__name__", repr(loader))
    c = _Checker(f"check_dataset({name})")
    _check_registers(c, "add_dataset", loader)
    data = loader(data_dir=data_dir, **options)
    if not isinstance(data, LabeledData):
        raise c.fail("return", f"returned {type(data).__name__}, not a LabeledData")
    for part in ("train", "test"):
        X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
        if not isinstance(X, np.ndarray) or X.dtype != np.float32:
            raise c.fail(part, f"X_{part} must be a float32 ndarray, got "
                               f"{getattr(X, 'dtype', type(X).__name__)}")
        if X.ndim not in (2, 4) or len(X) == 0:
            raise c.fail(part, f"X_{part} has shape {X.shape}; expected (n, d) or (n, C, H, W)")
        if X.shape[1:] != data.X_train.shape[1:]:
            raise c.fail(part, f"X_{part} samples have shape {X.shape[1:]}, X_train "
                               f"{data.X_train.shape[1:]}")
        if not np.isfinite(X).all():
            raise c.fail(part, f"X_{part} has NaN or infinite values")
        if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.shape != (len(X),):
            raise c.fail(part, f"y_{part} must be int64 of shape ({len(X)},), got "
                               f"{getattr(y, 'dtype', type(y).__name__)} "
                               f"{getattr(y, 'shape', '')}")
    if len(data.classes) < 2:
        raise c.fail("classes", f"only {len(data.classes)} class; one-class evaluation needs "
                                "normals and anomalies")
    if data.class_names and max(data.classes) >= len(data.class_names):
        raise c.fail("classes", f"{len(data.class_names)} class names for labels up to "
                                f"{max(data.classes)}")
    again = loader(data_dir=data_dir, **options)
    if not (np.array_equal(again.X_test, data.X_test) and np.array_equal(again.y_test, data.y_test)):
        raise c.fail("determinism", "loading twice gave different test sets")
    return data
