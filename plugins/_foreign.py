"""Wrap a foreign estimator class (PyOD, scikit-learn) as an anobench detector class.

The generated class has the anobench contract: keyword-only parameters with
defaults (the foreign constructor's, read from its signature), stored
unchanged; ``fit(X, X_val=None)`` builds and fits the foreign estimator on the
samples flattened to ``(n, d)``; ``score(X)`` returns one float per sample,
higher = more anomalous (``sign`` says how to read the foreign score).

Generated classes live in the module that asks for them under a stable name,
so they pickle by reference: the module resolves the name in a module-level
``__getattr__`` (PEP 562) through :func:`cached_class`.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from anobench.api import Detector

#: Constructor parameters filled from the training data when they have no default.
FROM_DATA = {"n_features": lambda X: int(X.shape[1])}

_CLASSES: dict[tuple[str, str], type] = {}


def cached_class(module: str, qualname: str, build: Callable[[], type]) -> type:
    """One class object per (module, name), built on first use."""
    key = (module, qualname)
    if key not in _CLASSES:
        cls = build()
        cls.__module__, cls.__qualname__, cls.__name__ = module, qualname, qualname
        _CLASSES[key] = cls
    return _CLASSES[key]


def _flat(X: Any, who: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim < 2:
        raise ValueError(f"{who}: expected samples of shape (n, ...), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{who}: input has NaN or infinite values")
    return X.reshape(len(X), -1)


def foreign_parameters(target: type, who: str, overrides: dict[str, Any]) -> list[inspect.Parameter]:
    """The keyword-only parameters of the wrapper of ``target``.

    ``overrides`` replaces defaults (``random_state=None`` so the runner seeds
    every cell). A parameter without a default is refused unless it is filled
    from the data (``n_features``). Raises ``LookupError`` with a one-line message.
    """
    out = []
    for name, p in inspect.signature(target.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is inspect.Parameter.empty and name not in FROM_DATA:
            raise LookupError(f"{who}: parameter {name!r} has no default, and a suite cannot "
                              "give it (it takes Python objects); use the library directly")
        if p.default is inspect.Parameter.empty:
            continue
        default = overrides.get(name, p.default)
        out.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default))
    if "random_state" not in {p.name for p in out}:
        out.append(inspect.Parameter("random_state", inspect.Parameter.KEYWORD_ONLY, default=None))
    return out


#: Trial fits (:func:`trial_fit`): random samples drawn, seconds allowed.
TRIAL_SAMPLES = 256
TRIAL_MAX_SAMPLES = 2048
TRIAL_SECONDS = 3.0


def trial_fit(build: Callable[[np.ndarray], Any], n_features: int) -> str | None:
    """Fit ``build(X)`` on random samples with ``n_features`` features; the error, if any.

    ``None`` also when the fit takes longer than :data:`TRIAL_SECONDS` (only
    the main thread can time it; elsewhere no trial is made).
    """
    import contextlib
    import io
    import threading
    import warnings

    from anobench.deadline import CellTimeout, deadline

    if threading.current_thread() is not threading.main_thread():
        return None
    n = min(max(TRIAL_SAMPLES, n_features + 1), TRIAL_MAX_SAMPLES)
    X = np.random.default_rng(0).random((n, n_features))
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                deadline(TRIAL_SECONDS):
            warnings.simplefilter("ignore")
            build(X).fit(X)
    except CellTimeout:
        return None
    except Exception as exc:  # noqa: BLE001 - any library error is the answer
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def wrap(target: type, who: str, *, sign: float, method: str, doc: str,  # noqa: C901
         overrides: dict[str, Any] | None = None, info: dict[str, Any] | None = None,
         trial: bool = False) -> type:
    # (C901: a class factory; its branches are those of the short methods it defines)
    """An anobench detector class around ``target``.

    Parameters
    ----------
    target : type
        The foreign class; ``target(**params).fit(X)`` and ``.<method>(X)``.
    who : str
        The detector name used in messages (``pyod:IForest``).
    sign : {1.0, -1.0}
        Multiplies the foreign score to get higher = more anomalous.
    method : str
        The foreign scoring method (``decision_function``, ``score_samples``).
    doc : str
        First line of the class docstring (``anobench list`` shows it).
    overrides : dict
        Defaults that differ from the foreign constructor's.
    info : dict
        Facts stored in every record's ``fit_info`` (the class path, versions).
    trial : bool
        The library's constructors check nothing (PyOD): ``check_data`` fits
        random samples of the data's width with the suite's parameters, and
        refuses them when that fails while the defaults fit (:func:`trial_fit`).
    """
    params = foreign_parameters(target, who, overrides or {})
    names = [p.name for p in params]
    accepted = set(inspect.signature(target.__init__).parameters)
    from_data = [n for n in FROM_DATA if n in accepted and n not in names]

    def __init__(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - set(names)
        if unknown:
            raise TypeError(f"{who}: unknown parameter(s) {sorted(unknown)}")
        for p in params:
            setattr(self, p.name, kwargs.get(p.name, p.default))

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params])

    def _estimator(self, X: np.ndarray | None = None) -> Any:
        kwargs = {n: getattr(self, n) for n in names if n in accepted}
        for n in from_data:
            kwargs[n] = FROM_DATA[n](X) if X is not None else 1
        return target(**kwargs)

    def fit(self, X: Any, X_val: Any = None) -> Any:
        X = _flat(X, who)
        if "random_state" not in accepted and self.random_state is not None:
            np.random.seed(self.random_state)  # the library draws from numpy's global state
        self.estimator_ = self._estimator(X).fit(X)
        self.n_features_ = X.shape[1]
        return self

    def score(self, X: Any) -> np.ndarray:
        X = _flat(X, who)
        if X.shape[1] != self.n_features_:
            raise ValueError(f"{who}: fitted on {self.n_features_} features, got {X.shape[1]}")
        return sign * np.asarray(getattr(self.estimator_, method)(X), dtype=np.float64).ravel()

    def fit_info(self) -> dict[str, Any]:
        return dict(info or {})

    @classmethod
    def check_params(cls, values: dict[str, Any]) -> None:
        """Build the foreign estimator with ``values``; its own checks name a bad value."""
        kwargs = {n: v for n, v in values.items() if n in accepted}
        for n in from_data:
            kwargs[n] = 1
        try:
            est = target(**kwargs)
            if hasattr(est, "_parameter_constraints"):  # scikit-learn >= 1.2 declares them
                est._validate_params()
        except Exception as exc:  # noqa: BLE001 - any library error is a bad value
            raise ValueError(f"{type(exc).__name__}: {exc}".splitlines()[0]) from None

    defaults = {p.name: p.default for p in params}

    @classmethod
    def check_data(cls, values: dict[str, Any], sample_shape: tuple[int, ...]) -> None:
        """A trial fit with ``values`` on random samples of ``sample_shape`` (see ``trial``)."""
        changed = {n: v for n, v in values.items() if n in accepted and v != defaults.get(n)}
        if not changed:
            return
        d = int(np.prod(sample_shape))
        error = trial_fit(cls(**values)._estimator, d)
        if error is None or trial_fit(cls(**defaults)._estimator, d) is not None:
            return  # fits, or even the defaults fail on random data: nothing learnt
        shown = ", ".join(f"{k} = {v!r}" for k, v in sorted(changed.items()))
        raise ValueError(f"with {shown}, a trial fit on random samples fails where the defaults "
                         f"fit: {error}")

    return type("Foreign", (Detector,), {
        "__doc__": f"{doc}\n\nGenerated wrapper of {target.__module__}.{target.__qualname__}.",
        "__init__": __init__, "_estimator": _estimator, "fit": fit, "score": score,
        "fit_info": fit_info, "check_params": check_params,
        **({"check_data": check_data} if trial else {}),
        # a foreign parameter often takes several types (max_samples = "auto" or 256):
        # its constructor checks values (check_params), not the suite loader by default type
        "param_types_from_defaults": False,
    })
