"""What a detector class can do, read once per class from the plugin contract.

The contract is the protocols of :mod:`anobench.api`; beyond ``fit`` and
``score`` a detector may offer a posterior, cohort training, kept models and
a few optional hooks. :func:`capabilities_of` reads them from the class once
(cached per class) into a frozen :class:`Capabilities`; the registry keeps it
on each :class:`~anobench.registry.DetectorSpec` (``spec.capabilities``), and
code holding only a class (a model group, a kept model) asks
:func:`capabilities_of`, which returns the same object. Nothing else probes a
detector class with ``getattr``.

:func:`cohort_problem` is the registry's check of the cohort trio.
"""
from __future__ import annotations

import inspect
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from anobench.api import (
    CohortDetectorProtocol,
    DetectorProtocol,
    KeptModelProtocol,
    LatentDetectorProtocol,
)


@dataclass(frozen=True)
class Capabilities:
    """A detector class's optional abilities (see :mod:`anobench.api`).

    Attributes
    ----------
    latent : bool
        It has ``posterior_draw`` (:class:`~anobench.api.LatentDetectorProtocol`):
        scoring rules apply.
    draw_provides : tuple of str
        The optional :class:`~anobench.api.PosteriorDraw` fields its draws fill.
    cohort : bool
        It trains in cohorts (:class:`~anobench.api.CohortDetectorProtocol`:
        ``fit_cohort``, ``cohort_size`` and ``cohort_params``).
    cohort_params : frozenset of str
        Parameters that may differ inside one cohort (``random_state`` always).
    keeps_models : bool
        Its fitted state can be stored (:class:`~anobench.api.KeptModelProtocol`).
    model_bytes : bool
        It says how large that state is (``model_bytes(params, sample_shape)``).
    fit_info, check_params, check_data, fit_cost : bool
        It has that optional method (see :class:`~anobench.api.Detector`).
    param_types_from_defaults : bool
        The suite loader checks a value's type against the parameter's default.
    takes_random_state, takes_device : bool
        ``__init__`` has a ``random_state`` (given the cell's seed) or a
        ``device`` parameter (given the run's device when ``"auto"``).
    """

    latent: bool = False
    draw_provides: tuple[str, ...] = ()
    cohort: bool = False
    cohort_params: frozenset[str] = frozenset({"random_state"})
    keeps_models: bool = False
    model_bytes: bool = False
    fit_info: bool = False
    check_params: bool = False
    check_data: bool = False
    fit_cost: bool = False
    param_types_from_defaults: bool = True
    takes_random_state: bool = False
    takes_device: bool = False


_cache: weakref.WeakKeyDictionary[type, Capabilities] = weakref.WeakKeyDictionary()


def capabilities_of(cls: type) -> Capabilities:
    """The capabilities of detector class ``cls``, read once (then cached)."""
    try:
        return _cache[cls]
    except (KeyError, TypeError):
        pass
    caps = _read(cls)
    try:
        _cache[cls] = caps
    except TypeError:  # pragma: no cover - not weak-referenceable: read again next time
        pass
    return caps


def _read(cls: type) -> Capabilities:
    params = init_parameters(cls)
    cohort = has_protocol(cls, CohortDetectorProtocol) and cohort_problem(cls) is None
    varying = getattr(cls, "cohort_params", ()) if cohort else ()
    provides = getattr(cls, "draw_provides", ())
    return Capabilities(
        latent=has_protocol(cls, LatentDetectorProtocol),
        draw_provides=tuple(provides) if isinstance(provides, (tuple, list)) else (),
        cohort=cohort,
        cohort_params=frozenset(varying) | {"random_state"},
        keeps_models=has_protocol(cls, KeptModelProtocol),
        model_bytes=_callable(cls, "model_bytes"),
        fit_info=_callable(cls, "fit_info"),
        check_params=_callable(cls, "check_params"),
        check_data=_callable(cls, "check_data"),
        fit_cost=_callable(cls, "fit_cost"),
        param_types_from_defaults=bool(getattr(cls, "param_types_from_defaults", True)),
        takes_random_state="random_state" in params,
        takes_device="device" in params,
    )


def protocol_members(protocol: type) -> tuple[str, ...]:
    """The public members a protocol of :mod:`anobench.api` declares (with its bases')."""
    names: dict[str, None] = {}
    for base in reversed(protocol.__mro__):
        if base is Protocol or not getattr(base, "_is_protocol", False):
            continue
        for name in (*vars(base), *vars(base).get("__annotations__", {})):
            if not name.startswith("_"):
                names[name] = None
    return tuple(names)


def own_members(protocol: type) -> tuple[str, ...]:
    """The members ``protocol`` adds to :class:`~anobench.api.DetectorProtocol`."""
    base = set(protocol_members(DetectorProtocol))
    return tuple(m for m in protocol_members(protocol) if m not in base)


def missing_methods(cls: type, protocol: type) -> list[str]:
    """The methods of ``protocol`` that ``cls`` lacks (or has as a non-callable)."""
    return [m for m in _methods(protocol) if not _callable(cls, m)]


def has_protocol(cls: type, protocol: type) -> bool:
    """Whether class ``cls`` has every member of ``protocol`` (methods callable)."""
    return not missing_methods(cls, protocol) and all(
        hasattr(cls, m) for m in protocol_members(protocol))


def cohort_problem(cls: type) -> str | None:
    """Why ``cls``'s cohort trio is inconsistent, or ``None`` (all three right, or none).

    ``fit_cohort`` and ``cohort_size`` must be callable, ``cohort_params`` a
    tuple of ``__init__`` parameter names.
    """
    trio = own_members(CohortDetectorProtocol)
    present = [m for m in trio if hasattr(cls, m)]
    if not present:
        return None
    missing = [m for m in trio if m not in present]
    if missing:
        return (f"defines {', '.join(present)} but not {', '.join(missing)}: a detector that "
                "trains in cohorts defines fit_cohort, cohort_params and cohort_size "
                "(anobench.api.CohortDetectorProtocol)")
    not_callable = [m for m in _methods(CohortDetectorProtocol) if not _callable(cls, m)]
    if not_callable:
        return f"{not_callable[0]} must be a method (a classmethod), got {getattr(cls, not_callable[0])!r}"
    varying: Any = getattr(cls, "cohort_params", None)
    if not isinstance(varying, (tuple, list, frozenset, set)) or not all(
            isinstance(p, str) for p in varying):
        return f"cohort_params must be a tuple of parameter names, got {varying!r}"
    params = init_parameters(cls)
    unknown = [p for p in varying if p not in params]
    if unknown:
        return (f"cohort_params names {unknown[0]!r}, which is not a parameter of __init__ "
                f"({', '.join(params) or 'none'})")
    return None


def _methods(protocol: type) -> Iterator[str]:
    for name in protocol_members(protocol):
        if any(callable(vars(b).get(name)) or isinstance(vars(b).get(name), classmethod)
               for b in protocol.__mro__ if name in vars(b)):
            yield name


def _callable(cls: type, name: str) -> bool:
    return callable(getattr(cls, name, None))


def init_parameters(cls_or_fn: Any) -> dict[str, inspect.Parameter]:
    """Keyword parameters a detector class or dataset loader accepts."""
    target = cls_or_fn.__init__ if inspect.isclass(cls_or_fn) else cls_or_fn
    params = dict(inspect.signature(target).parameters)
    params.pop("self", None)
    return {
        k: p
        for k, p in params.items()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }
