"""Any scikit-learn outlier detector as ``sklearn:<import path>``.

``sklearn:sklearn.ensemble.IsolationForest``,
``sklearn:sklearn.neighbors.LocalOutlierFactor``,
``sklearn:sklearn.svm.OneClassSVM`` … name a class by its import path; any
class with scikit-learn's outlier-detector API (``fit(X)``,
``score_samples(X)``, higher = more normal) works, also outside scikit-learn.
Its constructor parameters are the detector's parameters, names checked at
suite load with the usual did-you-mean and values by scikit-learn's own
parameter constraints. The score is ``-score_samples(X)``: the sign is negated
once, here, so that higher = more anomalous. Samples are flattened to
``(n, d)``. Defaults that differ from the class's: ``random_state = None``
(the runner seeds every cell) and ``novelty = True`` where the class has it
(``LocalOutlierFactor`` scores new data only with novelty).
"""
from __future__ import annotations

import importlib
import inspect

from anobench.hookspecs import hookimpl
from anobench_plugins._foreign import cached_class, wrap

PREFIX = "sklearn"
OVERRIDES = {"random_state": None, "novelty": True}


def estimator_class(path: str) -> type:
    """The class at ``path`` (``package.module.Class``); ``LookupError`` if it is not one."""
    module, dot, name = path.rpartition(".")
    who = f"{PREFIX}:{path}"
    if not dot or not module or not name.isidentifier():
        raise LookupError(f"{who}: expected an import path such as "
                          "sklearn.ensemble.IsolationForest")
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is a bad name
        raise LookupError(f"{who}: cannot import {module!r} ({type(exc).__name__}: {exc})") from None
    target = getattr(mod, name, None)
    if not inspect.isclass(target):
        from anobench.registry import did_you_mean

        classes = [n for n, v in vars(mod).items() if inspect.isclass(v) and
                   callable(getattr(v, "score_samples", None))]
        raise LookupError(f"unknown detector {who!r}: {module} has no class {name!r}"
                          f"{did_you_mean(name, classes)}")
    for method in ("fit", "score_samples"):
        if not callable(getattr(target, method, None)):
            raise LookupError(f"{who}: {name} has no {method}() method; an outlier detector "
                              "needs fit(X) and score_samples(X) (higher = more normal)")
    return target


def _build(path: str) -> type:
    target = estimator_class(path)
    version = getattr(importlib.import_module(target.__module__.split(".")[0]), "__version__", "")
    doc = (inspect.getdoc(target) or "").strip().splitlines()
    return wrap(target, f"{PREFIX}:{path}", sign=-1.0, method="score_samples",
                doc=f"{target.__qualname__}: {doc[0] if doc else 'a scikit-learn outlier detector'}",
                overrides=OVERRIDES,
                info={"estimator": f"{target.__module__}.{target.__qualname__}",
                      "library_version": version})


def _qualname(path: str) -> str:
    return "Sklearn_" + path.replace(".", "__")


def detector_class(path: str) -> type:
    """The anobench detector class of the estimator at ``path`` (one class object per path)."""
    return cached_class(__name__, _qualname(path), lambda: _build(path))


def __getattr__(attr: str) -> type:  # PEP 562: generated classes pickle by reference
    if attr.startswith("Sklearn_"):
        try:
            return detector_class(attr[len("Sklearn_"):].replace("__", "."))
        except LookupError as exc:
            raise AttributeError(str(exc)) from None
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


@hookimpl
def anobench_register_detectors(registry) -> None:
    registry.add_detector_family(
        PREFIX, detector_class,
        description="any scikit-learn outlier detector by import path, e.g. "
                    "sklearn:sklearn.ensemble.IsolationForest (score = -score_samples)")
