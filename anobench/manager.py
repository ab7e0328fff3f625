"""Plugin manager: discovers plugins through the ``anobench`` entry-point group
and calls their registration hooks into a :class:`~anobench.registry.Registry`.

Built-in plugins are registered the same way as third-party ones. A plugin can
be blocked by its entry-point name with ``ANOBENCH_DISABLE_PLUGINS=name1,name2``
(or the ``disable`` argument).

Hooks are called by pluggy (``pm.hook.anobench_register_detectors(registry=...)``),
so its call order holds: the plugin registered last is called first,
``tryfirst``/``trylast`` move an implementation, and hook wrappers
(``@hookimpl(wrapper=True)``, old-style ``hookwrapper=True``) run around the
others.

**Which plugin is registering.** The registry names the plugin behind a bad
component or an exception, so it must know whose hook is running. pluggy
tells no one when it moves from one implementation to the next, so when a
plugin is registered here, each of its :class:`pluggy.HookImpl` objects gets
its ``function`` replaced by a tracking wrapper (:func:`_track`): the wrapper
sets ``registry.current_plugin`` to the implementation's plugin for exactly
as long as that function runs (for a hook wrapper: each part of its
generator, before and after its ``yield``), restores it afterwards, and turns
an exception other than an :class:`~anobench.errors.AnobenchError` into a
one-line :class:`~anobench.errors.PluginError` naming the plugin and the hook.
pluggy has already validated the original function and taken its argument
names from it, so the wrapper only changes what is called.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

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
    _check_hook_names(pm)
    known = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} | {n for n, _ in extra}
    unknown = sorted(blocked - known)
    if unknown:  # a typo would leave the plugin enabled without a word
        where = f"${DISABLE_ENV}" if set(unknown) - set(disable or ()) else "disable"
        raise PluginError(f"{where}: no plugin named {unknown[0]!r}"
                          f"{did_you_mean(unknown[0], known)}; plugins: "
                          f"{', '.join(sorted(known))}")
    return pm


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    """Refuse an implementation of a hook anobench does not have (a typo would be ignored)."""
    for caller in vars(pm.hook).values():
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                raise PluginError(f"plugin {impl.plugin_name!r} implements {caller.name}, which "
                                  f"is not an anobench hook{did_you_mean(caller.name, HOOKS)}; "
                                  f"hooks: {', '.join(HOOKS)}")


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (a plugin's multi-line message is joined)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " | ".join(lines) or "(no message)"


def _register(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    try:
        pm.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        raise PluginError(f"plugin {name!r} could not be registered: {exc}") from exc
    for caller in pm.get_hookcallers(plugin) or ():
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin:
                # HookImpl.function is a plain slot (typed Final); see the module docstring
                impl.function = _track(impl, caller.name)  # type: ignore[misc]


#: The registration hooks, called in this order.
HOOKS = (
    "anobench_register_datasets",
    "anobench_register_detectors",
    "anobench_register_scoring_rules",
    "anobench_register_executors",
)


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every registration hook through pluggy; errors name the plugin (see module docs)."""
    registry = Registry()
    registry.current_plugin = "anobench"
    for name, cls in BUILTIN_EXECUTORS.items():  # core's own, before any plugin's
        registry.add_executor(name, cls)
    for hook_name in HOOKS:
        getattr(pm.hook, hook_name)(registry=registry)
    registry.current_plugin = "<direct>"
    return registry


def _track(impl: pluggy.HookImpl, hook_name: str) -> Callable[..., Any]:
    """``impl.function``, run as its plugin (a generator for a hook wrapper: each part of it)."""
    function = impl.function
    plugin = impl.plugin_name

    def as_plugin(args: tuple, kwargs: dict) -> Any:
        registry = dict(zip(impl.argnames, args), **kwargs).get("registry")
        return _as_plugin(registry if isinstance(registry, Registry) else None, plugin, hook_name)

    if not (impl.wrapper or impl.hookwrapper):
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            with as_plugin(args, kwargs):
                return function(*args, **kwargs)
        return call

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        gen: Generator[Any, Any, Any] = function(*args, **kwargs)  # type: ignore[assignment]
        return (yield from _drive(gen, functools.partial(as_plugin, args, kwargs)))
    return wrapper


def _drive(gen: Generator[Any, Any, Any],
           enter: Callable[[], Any]) -> Generator[Any, Any, Any]:
    """Run a hook wrapper's generator, each step of it inside ``enter()``.

    Values pluggy sends (the result) and exceptions it throws (an inner
    implementation's) are passed on to ``gen``; ``gen``'s yields and its
    return value come back out.
    """
    value: Any = None
    thrown: BaseException | None = None
    while True:
        with enter() as cm:
            cm.passing = thrown  # re-raising what pluggy threw in is not the wrapper's fault
            try:
                out = gen.send(value) if thrown is None else gen.throw(thrown)
            except StopIteration as stop:
                return stop.value
        try:
            value, thrown = (yield out), None
        except GeneratorExit:
            gen.close()
            raise
        except BaseException as exc:  # handed to the wrapper, as pluggy would
            value, thrown = None, exc


class _Running:
    """What :func:`_as_plugin` yields: an exception to let through unchanged."""

    passing: BaseException | None = None


@contextmanager
def _as_plugin(registry: Registry | None, plugin: str, hook_name: str) -> Iterator[_Running]:
    """Run the body as ``plugin``: the registry names it; its exceptions become one line."""
    before = registry.current_plugin if registry is not None else ""
    if registry is not None:
        registry.current_plugin = plugin
    running = _Running()
    try:
        yield running
    except AnobenchError:
        raise
    except Exception as exc:
        if exc is running.passing:
            raise
        raise PluginError(f"plugin {plugin!r} raised in {hook_name}: "
                          f"{type(exc).__name__}: {_one_line(exc)}") from exc
    finally:
        if registry is not None:
            registry.current_plugin = before


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
