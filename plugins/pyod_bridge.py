"""Every PyOD detector as ``pyod:<ClassName>`` (``pip install 'anobench[pyod]'``).

``pyod:IForest``, ``pyod:LOF``, ``pyod:VAE`` … name PyOD's classes; their
constructor parameters are the detector's parameters (checked at suite load
with the usual did-you-mean; values by a trial fit on random samples of the
data's width, since PyOD's constructors check nothing: ``n_estimators =
"many"`` is refused by ``validate``, naming the parameter and PyOD's error). Scores are PyOD's
``decision_function``, whose sign is already anobench's (higher = more
anomalous). Samples are flattened to ``(n, d)``. Two defaults differ from
PyOD's: ``random_state = None`` (the runner seeds every cell; PyOD's deep
models default to 42, which would train the same model in every repetition)
and ``verbose = 0``. A required ``n_features`` (``DeepSVDD``) is taken from
the data. Detectors that need labels to fit (``XGBOD``, ``DevNet``) or
Python objects (``LSCP``'s ``detector_list``) are refused with a message.

PyOD is imported only when a suite names a ``pyod:`` detector.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import io
import pkgutil
import re
import sys
from functools import cache

from anobench.hookspecs import hookimpl
from anobench_plugins._foreign import cached_class, wrap

PREFIX = "pyod"
_QUALNAME = "PyOD_{}"
OVERRIDES = {"random_state": None, "verbose": 0}
INSTALL = "pip install 'anobench[pyod]'"


def _pyod():
    try:
        import pyod
        import pyod.models
    except ImportError as exc:
        raise LookupError(f"PyOD is not installed ({exc}); {INSTALL}") from None
    return pyod


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _is_detector(obj: object, module: str) -> bool:
    from pyod.models.base import BaseDetector

    return (inspect.isclass(obj) and issubclass(obj, BaseDetector) and obj is not BaseDetector
            and obj.__module__ == module and not inspect.isabstract(obj))


@cache
def detector_names() -> tuple[str, ...]:
    """Class names of every PyOD detector whose module imports here."""
    pyod = _pyod()
    names = []
    for m in pkgutil.iter_modules(pyod.models.__path__):
        try:  # some modules print an install hint for their optional dependency
            with contextlib.redirect_stdout(io.StringIO()):
                mod = importlib.import_module(f"pyod.models.{m.name}")
        except Exception:  # noqa: BLE001 - optional dependencies of other detectors
            continue
        names += [n for n, obj in vars(mod).items() if _is_detector(obj, mod.__name__)]
    return tuple(sorted(set(names)))


@cache
def pyod_class(name: str) -> type:
    """PyOD's class ``name``; ``LookupError`` with a one-line message if there is none."""
    pyod = _pyod()
    if not name.isidentifier():
        raise LookupError(f"{PREFIX}:{name}: not a class name")
    for module in dict.fromkeys((name.lower(), _snake(name))):
        full = f"pyod.models.{module}"
        if importlib.util.find_spec(full) is None:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                mod = importlib.import_module(full)
        except Exception as exc:  # noqa: BLE001 - a missing optional dependency
            raise LookupError(f"{PREFIX}:{name}: importing {full} failed ({type(exc).__name__}: "
                              f"{exc}); install what it needs") from None
        if _is_detector(getattr(mod, name, None), full):
            return getattr(mod, name)
    if name in detector_names():  # a class whose module is named otherwise
        for m in pkgutil.iter_modules(pyod.models.__path__):
            mod = sys.modules.get(f"pyod.models.{m.name}")
            if mod is not None and _is_detector(getattr(mod, name, None), mod.__name__):
                return getattr(mod, name)
    from anobench.registry import did_you_mean

    hint = did_you_mean(f"{PREFIX}:{name}", [f"{PREFIX}:{n}" for n in detector_names()])
    raise LookupError(f"unknown detector '{PREFIX}:{name}'{hint}: PyOD {pyod.__version__} has no "
                      f"detector {name!r} (see pyod.models)")


def _build(name: str) -> type:
    target = pyod_class(name)
    fit = inspect.signature(target.fit).parameters
    if "y" in fit and fit["y"].default is inspect.Parameter.empty:
        raise LookupError(f"{PREFIX}:{name}: fits on labels (fit(X, y)); anobench's one-class "
                          "protocol trains on normal samples only")
    import pyod

    doc = (inspect.getdoc(target) or "").strip().splitlines()
    return wrap(target, f"{PREFIX}:{name}", sign=1.0, method="decision_function",
                doc=f"PyOD {name}: {doc[0] if doc else 'a PyOD detector'}",
                overrides=OVERRIDES, trial=True,
                info={"pyod_class": f"{target.__module__}.{target.__qualname__}",
                      "pyod_version": pyod.__version__})


def detector_class(name: str) -> type:
    """The anobench detector class of PyOD's ``name`` (one class object per name)."""
    return cached_class(__name__, _QUALNAME.format(name), lambda: _build(name))


def __getattr__(attr: str) -> type:  # PEP 562: generated classes pickle by reference
    if attr.startswith("PyOD_"):
        try:
            return detector_class(attr[len("PyOD_"):])
        except LookupError as exc:
            raise AttributeError(str(exc)) from None
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


@hookimpl
def anobench_register_detectors(registry) -> None:
    registry.add_detector_family(
        PREFIX, detector_class,
        description=f"every PyOD detector by class name, e.g. pyod:IForest ({INSTALL})")
