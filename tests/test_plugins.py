from __future__ import annotations

import types

import pytest

from anobench.api import Detector, ScoringRule
from anobench.errors import PluginError
from anobench.hookspecs import hookimpl
from anobench.plugins import build_registry, get_plugin_manager, load_registry
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
