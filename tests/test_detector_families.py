"""Detector families: a plugin provides detectors by name prefix (``prefix:rest``),
made on first use; core knows no particular plugin (issue 12)."""
from __future__ import annotations

import pytest
from test_plugins import Good, make_plugin

from anobench.errors import PluginError, SuiteError
from anobench.manager import build_registry, get_plugin_manager
from anobench.suite import parse_suite


def sized(size: str) -> type:
    """A made class per name: ``toy:3`` is Good with k defaulting to 3."""
    if not size.isdigit():
        raise LookupError(f"unknown detector 'toy:{size}': sizes are numbers")

    class Sized(Good):
        def __init__(self, *, k: int = int(size), random_state=None):
            super().__init__(k=k, random_state=random_state)

    return Sized


def registry_with(make=sized, prefix="toy", extra=()):
    plugin = make_plugin(anobench_register_detectors=lambda registry:
                         registry.add_detector_family(prefix, make, description="toy sizes"))
    return build_registry(get_plugin_manager(disable=["pyod", "sklearn"],
                                             extra_plugins=[("toys", plugin), *extra]))


def test_made_on_first_use_once_and_named_after_the_plugin():
    reg = registry_with()
    assert "toy:3" not in dict(reg.detectors)  # nothing made yet
    assert "toy:3" in reg.detectors and reg.detectors.get("toy:x") is None
    spec = reg.detector("toy:3")
    assert spec.plugin == "toys" and spec.parameters["k"].default == 3
    assert reg.detector("toy:3") is spec and reg.detectors["toy:3"] is spec
    assert "toy:3" in dict(reg.detectors)  # listed once made


def test_lookup_messages():
    reg = registry_with()
    with pytest.raises(LookupError) as e:
        reg.detector("toy:x")
    assert e.value.args[0] == "unknown detector 'toy:x': sizes are numbers"
    with pytest.raises(KeyError) as e:
        reg.detector("tyo:3")
    assert e.value.args[0].startswith("unknown detector 'tyo:3' (did you mean 'toy:3'?); known: ")
    assert "toy:<name>" in e.value.args[0]
    with pytest.raises(KeyError, match="name a toy detector after the colon"):
        reg.detector("toy:")


def test_made_classes_are_checked_like_registered_ones():
    class Positional(Good):
        def __init__(self, k=1):
            super().__init__(k=k)

    reg = registry_with(make=lambda rest: Positional)
    with pytest.raises(PluginError, match=r"plugin 'toys': detector 'toy:a' .* must be keyword-only"):
        reg.detector("toy:a")
    reg = registry_with(make=lambda rest: 1 / 0)
    with pytest.raises(PluginError, match="plugin 'toys': detector 'toy:a': ZeroDivisionError"):
        reg.detector("toy:a")


def test_a_prefix_is_registered_once():
    twin = make_plugin(anobench_register_detectors=lambda registry:
                       registry.add_detector_family("toy", sized))
    with pytest.raises(PluginError, match="detector family 'toy' is registered by two plugins"):
        registry_with(extra=[("twin", twin)])
    with pytest.raises(PluginError, match="name 'Toy!' is invalid"):
        registry_with(prefix="Toy!")


def test_suites_use_family_names():
    reg = registry_with()
    text = '[[datasets]]\nname = "digits"\n[[detectors]]\nname = "{}"\n{}'
    s = parse_suite(text.format("toy:4", "params = { k = [1, 2] }"), "s.toml", reg)
    assert [(c.name, c.params["k"]) for c in s.detectors] == [("toy:4", 1), ("toy:4", 2)]
    with pytest.raises(SuiteError, match=r"detectors\[0\]\.name: unknown detector 'toy:x': sizes"):
        parse_suite(text.format("toy:x", ""), "s.toml", reg)
    with pytest.raises(SuiteError, match=r"params\.kk: unknown parameter 'kk' for detector "
                                         r"'toy:4' \(did you mean 'k'\?\)"):
        parse_suite(text.format("toy:4", "params = { kk = 1 }"), "s.toml", reg)
