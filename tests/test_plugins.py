from __future__ import annotations

import types

import pytest

from anobench.api import Detector, ScoringRule
from anobench.errors import PluginError
from anobench.hookspecs import hookimpl
from anobench.manager import build_registry, get_plugin_manager, load_registry
from anobench.registry import Registry


def make_plugin(**hooks):
    mod = types.SimpleNamespace()
    for name, fn in hooks.items():
        setattr(mod, name, hookimpl(fn))
    return mod


class Good(Detector):
    """A good detector."""

    def __init__(self, *, k: int = 1, random_state=None):
        self.k = k
        self.random_state = random_state

    def fit(self, X, X_val=None):
        return self

    def score(self, X):
        return X.reshape(len(X), -1).sum(1)


def test_builtins_come_through_entry_points():
    reg = load_registry()
    assert reg.detectors["pca"].plugin == "classical"
    assert reg.datasets["digits"].plugin == "datasets"


def test_extra_plugin_is_registered_and_named():
    plugin = make_plugin(anobench_register_detectors=lambda registry: registry.add_detector("good", Good))
    reg = build_registry(get_plugin_manager(extra_plugins=[("mine", plugin)]))
    assert reg.detectors["good"].plugin == "mine"
    assert reg.detectors["good"].description == "A good detector."


def test_duplicate_name_names_both_plugins():
    plugin = make_plugin(anobench_register_detectors=lambda registry: registry.add_detector("pca", Good))
    with pytest.raises(PluginError, match="detector 'pca' is registered by two plugins, 'classical' and 'dup'; rename one or disable one with ANOBENCH_DISABLE_PLUGINS"):
        build_registry(get_plugin_manager(extra_plugins=[("dup", plugin)]))


def test_plugin_that_raises_is_named():
    def boom(registry):
        raise RuntimeError("kaput")

    plugin = make_plugin(anobench_register_detectors=boom)
    with pytest.raises(PluginError, match="plugin 'bad' raised in anobench_register_detectors: RuntimeError: kaput"):
        build_registry(get_plugin_manager(extra_plugins=[("bad", plugin)]))


def test_disable_by_env(monkeypatch):
    monkeypatch.setenv("ANOBENCH_DISABLE_PLUGINS", "classical")
    reg = build_registry(get_plugin_manager())
    assert "pca" not in reg.detectors and "digits" in reg.datasets


@pytest.mark.parametrize("cls, fragment", [
    (object(), "must be a class"),
    (type("NoScore", (), {"fit": lambda self, X: self}), r"has no score\(\) method"),
    (type("Positional", (Detector,), {"__init__": lambda self, k=1: None}), "must be keyword-only"),
])
def test_malformed_detectors_refused(cls, fragment):
    reg = Registry()
    reg.current_plugin = "p"
    with pytest.raises(PluginError, match=fragment):
        reg.add_detector("x", cls)


def test_bad_names_and_rules_refused():
    reg = Registry()
    with pytest.raises(PluginError, match="name 'Bad Name' is invalid"):
        reg.add_detector("Bad Name", Good)

    class NoMeasures(ScoringRule):
        name = "nm"
        measures = ()

    with pytest.raises(PluginError, match="must declare measures"):
        reg.add_scoring_rule(NoMeasures)
    with pytest.raises(PluginError, match="must accept a data_dir"):
        reg.add_dataset("d", lambda: None)


def test_lookup_suggests():
    reg = load_registry()
    with pytest.raises(KeyError, match="did you mean 'pca'"):
        reg.detector("pcq")


# -- pluggy calls the hooks (issue 20) ---------------------------------------------------
def _named(tag, log, **opts):
    """A plugin whose detector hook logs ``tag`` and registers detector ``tag``."""
    def register(registry):
        log.append((tag, registry.current_plugin))
        registry.add_detector(tag, Good)

    mod = types.SimpleNamespace()
    mod.anobench_register_detectors = hookimpl(**opts)(register)
    return mod


def test_hooks_are_called_in_pluggys_order():
    log: list = []
    plugins = [("late", _named("late", log, trylast=True)), ("a", _named("a", log)),
               ("early", _named("early", log, tryfirst=True)), ("b", _named("b", log))]
    reg = build_registry(get_plugin_manager(disable=["pyod", "sklearn"], extra_plugins=plugins))
    # tryfirst first, trylast last, otherwise the plugin registered last first
    assert log == [("early", "early"), ("b", "b"), ("a", "a"), ("late", "late")]
    assert [reg.detectors[t].plugin for t in ("early", "a", "b", "late")] == ["early", "a", "b", "late"]


def test_hook_wrappers_run_around_the_others_as_their_plugin():
    log: list = []

    @hookimpl(wrapper=True)
    def wrap(registry):
        log.append(("before", registry.current_plugin))
        result = yield
        log.append(("after", registry.current_plugin, sorted(registry.detectors)))
        registry.add_detector("wrapped", Good)  # after the others, still as this plugin
        return result

    @hookimpl(hookwrapper=True)
    def old_style(registry):
        log.append(("old before", registry.current_plugin))
        yield
        log.append(("old after", registry.current_plugin))

    plugins = [("inner", _named("inner", log)),
               ("wrapping", types.SimpleNamespace(anobench_register_detectors=wrap)),
               ("old", types.SimpleNamespace(anobench_register_detectors=old_style))]
    reg = build_registry(get_plugin_manager(disable=["pyod", "sklearn"], extra_plugins=plugins))
    assert log[:2] == [("old before", "old"), ("before", "wrapping")]
    assert log[2] == ("inner", "inner")
    assert log[-2][:2] == ("after", "wrapping") and "inner" in log[-2][2] and "pca" in log[-2][2]
    assert log[-1] == ("old after", "old")
    assert reg.detectors["wrapped"].plugin == "wrapping" and reg.detectors["inner"].plugin == "inner"


def test_a_wrapper_that_raises_is_named_and_an_inner_error_keeps_its_plugin():
    @hookimpl(wrapper=True)
    def broken(registry):
        yield
        raise RuntimeError("wrapper kaput")

    @hookimpl(wrapper=True)
    def passing(registry):
        return (yield)

    pm = get_plugin_manager(disable=["pyod", "sklearn"], extra_plugins=[
        ("wrapping", types.SimpleNamespace(anobench_register_detectors=broken))])
    with pytest.raises(PluginError, match=r"^plugin 'wrapping' raised in anobench_register_detectors: "
                       "RuntimeError: wrapper kaput$"):
        build_registry(pm)

    def boom(registry):
        raise RuntimeError("kaput")

    pm = get_plugin_manager(disable=["pyod", "sklearn"], extra_plugins=[
        ("bad", make_plugin(anobench_register_detectors=boom)),
        ("wrapping", types.SimpleNamespace(anobench_register_detectors=passing))])
    with pytest.raises(PluginError, match=r"^plugin 'bad' raised in anobench_register_detectors: "
                       "RuntimeError: kaput$"):
        build_registry(pm)


def test_a_bad_component_from_a_wrapper_names_it():
    @hookimpl(wrapper=True)
    def wrap(registry):
        registry.add_detector("Bad Name", Good)
        return (yield)

    pm = get_plugin_manager(disable=["pyod", "sklearn"], extra_plugins=[
        ("wrapping", types.SimpleNamespace(anobench_register_detectors=wrap))])
    with pytest.raises(PluginError, match=r"^plugin 'wrapping': detector name 'Bad Name' is invalid"):
        build_registry(pm)


def test_the_reporters_hook_is_gone_and_unknown_hooks_are_refused():
    plugin = make_plugin(anobench_register_reporters=lambda registry: None)
    with pytest.raises(PluginError, match=r"^plugin 'rep' implements anobench_register_reporters, "
                       "which is not an anobench hook"):
        get_plugin_manager(extra_plugins=[("rep", plugin)])
    plugin = make_plugin(anobench_register_detector=lambda registry: None)
    with pytest.raises(PluginError, match=r"\(did you mean 'anobench_register_detectors'\?\)"):
        get_plugin_manager(extra_plugins=[("typo", plugin)])
    assert not hasattr(Registry(), "reporters")


def test_the_plugin_manager_is_anobench_manager():
    import importlib

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("anobench.plugins")  # renamed, no shim
    assert importlib.import_module("anobench.manager").load_registry is load_registry


# -- the cohort trio is checked at registration (issue 20) -------------------------------
def _cohort_class(**members):
    """Good with the given cohort members (``None``: left out)."""
    body = {"cohort_params": ("random_state",),
            "fit_cohort": classmethod(lambda cls, members, X, X_val=None: [m.fit(X) for m in members]),
            "cohort_size": classmethod(lambda cls, device, shape: 2)}
    body.update(members)
    return type("Coh", (Good,), {k: v for k, v in body.items() if v is not None})


@pytest.mark.parametrize("members, fragment", [
    ({"cohort_size": None}, "defines fit_cohort, cohort_params but not cohort_size: a detector "
                            "that trains in cohorts defines fit_cohort, cohort_params and cohort_size"),
    ({"fit_cohort": None, "cohort_size": None}, "defines cohort_params but not fit_cohort, cohort_size"),
    ({"cohort_params": None}, "defines fit_cohort, cohort_size but not cohort_params"),
    ({"fit_cohort": 3}, "fit_cohort must be a method"),
    ({"cohort_params": "random_state"}, "cohort_params must be a tuple of parameter names, got 'random_state'"),
    ({"cohort_params": ("beta",)}, "cohort_params names 'beta', which is not a parameter of __init__ (k, random_state)"),
])
def test_an_inconsistent_cohort_trio_is_refused_naming_the_plugin(members, fragment):
    cls = _cohort_class(**members)
    plugin = make_plugin(anobench_register_detectors=lambda registry: registry.add_detector("coh", cls))
    with pytest.raises(PluginError) as e:
        build_registry(get_plugin_manager(disable=["pyod", "sklearn"], extra_plugins=[("cohp", plugin)]))
    assert str(e.value).startswith("plugin 'cohp': detector 'coh' (Coh) ") and fragment in str(e.value)


def test_a_full_cohort_trio_is_accepted():
    reg = Registry()
    reg.add_detector("coh", _cohort_class(cohort_params=("k",)))
    caps = reg.detector("coh").capabilities
    assert caps.cohort and caps.cohort_params == {"k", "random_state"}
    reg.add_detector("plain", Good)
    assert not reg.detector("plain").capabilities.cohort
