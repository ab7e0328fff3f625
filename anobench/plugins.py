"""Plugin manager: discovers plugins through the ``anobench`` entry-point group.

Built-in plugins are registered the same way as third-party ones. A plugin can
be blocked by its entry-point name with ``ANOBENCH_DISABLE_PLUGINS=name1,name2``
(or the ``disable`` argument).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from importlib.metadata import entry_points

import pluggy

from anobench import hookspecs
from anobench.errors import AnobenchError, PluginError
from anobench.executors import BUILTIN_EXECUTORS
from anobench.registry import Registry, did_you_mean

ENTRY_POINT_GROUP = "anobench"
DISABLE_ENV = "ANOBENCH_DISABLE_PLUGINS"


def disabled_plugins(disable: Iterable[str] | None = None) -> set[str]:
    """Names blocked by the argument plus ``$ANOBENCH_DISABLE_PLUGINS``."""
    names = set(disable or ())
    names |= {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
    return names


def get_plugin_manager(
    disable: Iterable[str] | None = None, extra_plugins: Iterable[tuple[str, object]] = ()
) -> pluggy.PluginManager:
    """Create a plugin manager with every entry-point plugin not disabled.

    ``extra_plugins`` are ``(name, plugin)`` pairs registered in addition
    (used by tests and by programs embedding anobench).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = disabled_plugins(disable)
    for name in blocked:
        pm.set_blocked(name)
    seen: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in blocked:
            continue
        if ep.name in seen:
            if seen[ep.name] == ep.value:
                continue  # the same distribution seen twice on sys.path
            raise PluginError(
                f"plugin {ep.name!r} is provided twice: by {seen[ep.name]!r} and {ep.value!r}"
            )
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: "
                              f"{type(exc).__name__}: {_one_line(exc)}") from exc
        seen[ep.name] = ep.value
        _register(pm, ep.name, plugin)
    extra = list(extra_plugins)
    for name, plugin in extra:
        if name not in blocked:
            _register(pm, name, plugin)
    known = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} | {n for n, _ in extra}
    unknown = sorted(blocked - known)
    if unknown:  # a typo would leave the plugin enabled without a word
        where = f"${DISABLE_ENV}" if set(unknown) - set(disable or ()) else "disable"
        raise PluginError(f"{where}: no plugin named {unknown[0]!r}"
                          f"{did_you_mean(unknown[0], known)}; plugins: "
                          f"{', '.join(sorted(known))}")
    return pm


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (a plugin's multi-line message is joined)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " | ".join(lines) or "(no message)"


def _register(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    try:
        pm.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        raise PluginError(f"plugin {name!r} could not be registered: {exc}") from exc


_HOOKS = (
    "anobench_register_datasets",
    "anobench_register_detectors",
    "anobench_register_scoring_rules",
    "anobench_register_executors",
    "anobench_register_reporters",
)


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every registration hook, one plugin at a time, so errors name it."""
    registry = Registry()
    registry.current_plugin = "anobench"
    for name, cls in BUILTIN_EXECUTORS.items():  # core's own, before any plugin's
        registry.add_executor(name, cls)
    for hook_name in _HOOKS:
        caller = getattr(pm.hook, hook_name)
        for impl in caller.get_hookimpls():  # registration order (entry points first)
            registry.current_plugin = impl.plugin_name
            try:
                impl.function(registry=registry)
            except AnobenchError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} raised in {hook_name}: "
                    f"{type(exc).__name__}: {_one_line(exc)}"
                ) from exc
    registry.current_plugin = "<direct>"
    return registry


_cache: dict[tuple, Registry] = {}


def load_registry(
    disable: Iterable[str] | None = None, extra_plugins: Iterable[tuple[str, object]] = ()
) -> Registry:
    """The registry of all enabled plugins (cached per disable set)."""
    extra = tuple(extra_plugins)
    key = (frozenset(disabled_plugins(disable)), tuple((n, id(p)) for n, p in extra))
    if key not in _cache:
        _cache[key] = build_registry(get_plugin_manager(disable, extra))
    return _cache[key]
