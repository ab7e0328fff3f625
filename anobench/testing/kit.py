"""The conformance kit's shared parts: its error, the checker that words each
failure, and the synthetic data and posterior draws the checks run on."""
from __future__ import annotations

from typing import Any

import numpy as np

from anobench.api import PosteriorDraw
from anobench.capabilities import capabilities_of, init_parameters
from anobench.errors import AnobenchError
from anobench.registry import Registry

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
    if capabilities_of(cls).takes_device:
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


def auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """P(score of an outlier > score of a normal), ties count half."""
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


class Checker:
    """Words a failure as one line: who, which check, what."""

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


def instantiate(cls: type, params: dict[str, Any], seed: int) -> tuple[Any, dict[str, Any]]:
    """``cls(**params)`` with ``random_state=seed`` if it takes one (and none is given)."""
    p = dict(params)
    if capabilities_of(cls).takes_random_state:
        p.setdefault("random_state", seed)
    return cls(**p), p


def check_registers(checker: Checker, method: str, component: Any) -> None:
    """Register ``component`` in a fresh registry, as a plugin hook would."""
    reg = Registry()
    reg.current_plugin = "conformance-check"
    args = (component,) if method == "add_scoring_rule" else ("conformance-check", component)
    try:
        getattr(reg, method)(*args)
    except AnobenchError as exc:
        raise checker.fail("registration", str(exc)) from None


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


