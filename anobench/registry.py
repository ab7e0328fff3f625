"""The registry of detectors, scoring rules, datasets and executors provided by plugins.

Components are added through the hooks in :mod:`anobench.hookspecs`. The
registry records which plugin provided each one, refuses duplicate names and
malformed components (naming the plugin), and answers lookups with a
did-you-mean hint.
"""
from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anobench.api import MEASURES, DetectorProtocol, LabeledData, ScoringRule
from anobench.capabilities import (
    Capabilities,
    capabilities_of,
    cohort_problem,
    init_parameters,
    missing_methods,
)
from anobench.errors import AnobenchError, PluginError

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


def did_you_mean(word: object, choices: Any) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class DetectorSpec:
    """A registered detector.

    ``defaults`` are parameter values this name fixes (e.g. ``ed-vae`` is the
    ``vae`` class with ``default_rule`` ``"expected"``); two specs with the
    same class and parameters share one trained model in a run.
    ``capabilities`` is what the class can do beyond ``fit`` and ``score``,
    read once (:func:`~anobench.capabilities.capabilities_of`).
    """

    name: str
    cls: type[Any]
    plugin: str
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    default_rule: str | None = None
    capabilities: Capabilities = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "capabilities", capabilities_of(self.cls))

    @property
    def latent(self) -> bool:
        return self.capabilities.latent

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        return init_parameters(self.cls)


@dataclass(frozen=True)
class RuleSpec:
    name: str
    rule: ScoringRule
    plugin: str

    @property
    def description(self) -> str:
        return self.rule.description


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    loader: Callable[..., LabeledData]
    plugin: str
    description: str = ""

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        return {k: p for k, p in init_parameters(self.loader).items() if k != "data_dir"}


@dataclass(frozen=True)
class DetectorFamily:
    """Detectors named ``prefix:rest``, made on first use by ``make(rest) -> class``.

    A plugin that wraps a whole library (``pyod:IForest``, ``sklearn:a.b.C``)
    registers one family instead of every class. ``make`` raises
    ``LookupError`` with a one-line message (with its own did-you-mean) for a
    name it cannot serve; it should import the library only when called.
    """

    prefix: str
    make: Callable[[str], type]
    plugin: str
    description: str = ""


class DetectorTable(dict):
    """Detectors by name; a ``prefix:rest`` name is made by its family on first lookup.

    Iteration yields the detectors registered (or made) so far; ``in``,
    ``[]`` and ``get`` also answer family names.
    """

    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self._registry = registry

    def __missing__(self, name: str) -> DetectorSpec:
        return self._registry._from_family(name)

    def __contains__(self, name: object) -> bool:
        return self.get(name) is not None

    def get(self, name: Any, default: Any = None) -> Any:
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        try:
            return self[name]
        except (LookupError, AnobenchError):
            return default


@dataclass(frozen=True)
class ExecutorSpec:
    name: str
    cls: type[Any]
    plugin: str


class Registry:
    """Named detectors, scoring rules and datasets, each with its plugin."""

    def __init__(self) -> None:
        self.detectors: dict[str, DetectorSpec] = DetectorTable(self)
        self.detector_families: dict[str, DetectorFamily] = {}
        self.rules: dict[str, RuleSpec] = {}
        self.datasets: dict[str, DatasetSpec] = {}
        self.executors: dict[str, ExecutorSpec] = {}
        #: Name of the plugin whose hook is running (set by the plugin manager).
        self.current_plugin = "<direct>"

    # -- adding -----------------------------------------------------------
    def _check_name(self, kind: str, name: Any, table: dict[str, Any]) -> None:
        plugin = self.current_plugin
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(
                f"plugin {plugin!r}: {kind} name {name!r} is invalid "
                "(use lowercase letters, digits, '-', '_' or '.')"
            )
        if name in table:
            first, second = sorted({table[name].plugin, plugin})
            raise PluginError(
                f"{kind} {name!r} is registered by two plugins, {first!r} and {second!r}; "
                f"rename one or disable one with ANOBENCH_DISABLE_PLUGINS"
                if first != second else
                f"plugin {plugin!r} registers {kind} {name!r} twice"
            )

    def add_detector(
        self,
        name: str,
        cls: type,
        *,
        description: str = "",
        defaults: dict[str, Any] | None = None,
        default_rule: str | None = None,
    ) -> None:
        """Register a detector class under ``name``."""
        self._check_name("detector", name, self.detectors)
        spec = self._detector_spec(name, cls, self.current_plugin, description=description,
                                   defaults=defaults, default_rule=default_rule)
        dict.__setitem__(self.detectors, name, spec)

    @staticmethod
    def _detector_spec(
        name: str,
        cls: type,
        plugin: str,
        *,
        description: str = "",
        defaults: dict[str, Any] | None = None,
        default_rule: str | None = None,
    ) -> DetectorSpec:
        """Check a detector class against the contract; ``PluginError`` names the plugin."""
        if not inspect.isclass(cls):
            raise PluginError(f"plugin {plugin!r}: detector {name!r} must be a class, got {cls!r}")
        for method in missing_methods(cls, DetectorProtocol):
            raise PluginError(
                f"plugin {plugin!r}: detector {name!r} ({cls.__name__}) has no {method}() method"
            )
        for pname, p in init_parameters(cls).items():
            if p.kind is not inspect.Parameter.KEYWORD_ONLY:
                raise PluginError(
                    f"plugin {plugin!r}: detector {name!r} ({cls.__name__}) parameter "
                    f"{pname!r} must be keyword-only (def __init__(self, *, {pname}=...))"
                )
            if p.default is inspect.Parameter.empty:
                raise PluginError(
                    f"plugin {plugin!r}: detector {name!r} ({cls.__name__}) parameter "
                    f"{pname!r} needs a default value"
                )
        defaults = dict(defaults or {})
        unknown = set(defaults) - set(init_parameters(cls))
        if unknown:
            raise PluginError(
                f"plugin {plugin!r}: detector {name!r} fixes unknown parameters {sorted(unknown)}"
            )
        problem = cohort_problem(cls)
        if problem:
            raise PluginError(f"plugin {plugin!r}: detector {name!r} ({cls.__name__}) {problem}")
        latent = capabilities_of(cls).latent
        if default_rule is None and latent:
            default_rule = getattr(cls, "default_rule", None)
        if default_rule is not None and not latent:
            raise PluginError(
                f"plugin {plugin!r}: detector {name!r} sets a default scoring rule but has no "
                "posterior_draw() method"
            )
        return DetectorSpec(
            name=name,
            cls=cls,
            plugin=plugin,
            description=description or _first_line(cls.__doc__),
            defaults=defaults,
            default_rule=default_rule,
        )

    def add_detector_family(
        self,
        prefix: str,
        make: Callable[[str], type],
        *,
        description: str = "",
    ) -> None:
        """Register detectors named ``prefix:<rest>``, made by ``make(rest)`` on first use.

        See :class:`DetectorFamily`. The classes ``make`` returns are checked
        like those of :meth:`add_detector`.
        """
        plugin = self.current_plugin
        self._check_name("detector family", prefix, self.detector_families)
        if not callable(make):
            raise PluginError(f"plugin {plugin!r}: detector family {prefix!r}: make is not callable")
        self.detector_families[prefix] = DetectorFamily(prefix, make, plugin, description)

    def _from_family(self, name: Any) -> DetectorSpec:
        prefix, colon, rest = str(name).partition(":")
        family = self.detector_families.get(prefix) if colon and rest else None
        if family is None:
            raise KeyError(name)
        try:
            cls = family.make(rest)
        except LookupError as exc:
            raise LookupError(exc.args[0] if exc.args else f"unknown detector {name!r}") from None
        except AnobenchError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {family.plugin!r}: detector {name!r}: "
                              f"{type(exc).__name__}: {exc}") from exc
        spec = self._detector_spec(name, cls, family.plugin)
        dict.__setitem__(self.detectors, name, spec)
        return spec

    def add_scoring_rule(self, rule: ScoringRule | type[ScoringRule]) -> None:
        """Register a scoring rule (an instance or a class with no arguments)."""
        plugin = self.current_plugin
        if inspect.isclass(rule):
            rule = rule()
        name = getattr(rule, "name", None)
        self._check_name("scoring rule", name, self.rules)
        assert isinstance(name, str)  # _check_name raised otherwise
        if not callable(getattr(rule, "reduce", None)):
            raise PluginError(f"plugin {plugin!r}: scoring rule {name!r} has no reduce() method")
        measures = getattr(rule, "measures", None)
        if not measures or not all(isinstance(m, str) for m in measures):
            raise PluginError(
                f"plugin {plugin!r}: scoring rule {name!r} must declare measures, e.g. {MEASURES}"
            )
        self.rules[name] = RuleSpec(name=name, rule=rule, plugin=plugin)

    def add_dataset(
        self, name: str, loader: Callable[..., LabeledData], *, description: str = ""
    ) -> None:
        """Register a dataset loader ``loader(data_dir=None, **options) -> LabeledData``."""
        plugin = self.current_plugin
        self._check_name("dataset", name, self.datasets)
        if not callable(loader):
            raise PluginError(f"plugin {plugin!r}: dataset {name!r} loader is not callable")
        params = init_parameters(loader)
        if "data_dir" not in params:
            raise PluginError(
                f"plugin {plugin!r}: dataset {name!r} loader must accept a data_dir argument"
            )
        self.datasets[name] = DatasetSpec(
            name=name, loader=loader, plugin=plugin,
            description=description or _first_line(loader.__doc__),
        )

    def add_executor(self, name: str, cls: type) -> None:
        """Register an executor class under ``name`` (see :mod:`anobench.executors`)."""
        plugin = self.current_plugin
        self._check_name("executor", name, self.executors)
        if not inspect.isclass(cls) or not callable(getattr(cls, "map", None)):
            raise PluginError(f"plugin {plugin!r}: executor {name!r} must be a class with a "
                              "map(fn, units) method")
        self.executors[name] = ExecutorSpec(name=name, cls=cls, plugin=plugin)

    # -- lookup -----------------------------------------------------------
    def detector(self, name: str) -> DetectorSpec:
        """The detector ``name`` (a family name is made on first use).

        Raises ``LookupError`` (``KeyError`` for an unknown name) whose first
        argument is a one-line message with a did-you-mean and the known names.
        """
        if dict.__contains__(self.detectors, name):
            return dict.__getitem__(self.detectors, name)
        prefix, colon, rest = str(name).partition(":")
        if colon and prefix in self.detector_families:
            if not rest:
                raise KeyError(f"detector {name!r}: name a {prefix} detector after the colon "
                               f"({self.detector_families[prefix].description})")
            return self._from_family(name)
        known = sorted(k for k in self.detectors if ":" not in k)
        known += [f"{p}:<name>" for p in sorted(self.detector_families)]
        hint = did_you_mean(name, known)
        if colon:  # a misspelt family: suggest the name under the closest prefix
            close = difflib.get_close_matches(prefix, list(self.detector_families), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}:{rest}'?)" if close else ""
        raise KeyError(f"unknown detector {name!r}{hint}; known: {', '.join(known) or 'none'}")

    def rule(self, name: str) -> RuleSpec:
        return _lookup("scoring rule", name, self.rules)

    def dataset(self, name: str) -> DatasetSpec:
        return _lookup("dataset", name, self.datasets)

    def executor(self, name: str) -> ExecutorSpec:
        return _lookup("executor", name, self.executors)


def _lookup(kind: str, name: str, table: dict[str, Any]) -> Any:
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none"
        raise KeyError(f"unknown {kind} {name!r}{did_you_mean(name, table)}; known: {known}") from None


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0].strip() if (doc or "").strip() else ""
