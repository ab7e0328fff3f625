"""The explicit plugin contract (issue 20): the protocols of anobench.api, and a
detector's capabilities read once (anobench.capabilities)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from anobench import api
from anobench.api import (
    CohortDetectorProtocol,
    Detector,
    DetectorProtocol,
    ExecutorProtocol,
    KeptModelProtocol,
    LatentDetectorProtocol,
    ScoringRuleProtocol,
)
from anobench.capabilities import Capabilities, capabilities_of, protocol_members
from anobench.executors import LocalExecutor
from anobench.registry import Registry


class DuckDetector:
    """Implements the protocol without subclassing anything."""

    def __init__(self, *, k: int = 1) -> None:
        self.k = k

    def fit(self, X, X_val=None):
        self.mean_ = X.reshape(len(X), -1).mean(0)
        return self

    def score(self, X):
        return ((X.reshape(len(X), -1) - self.mean_) ** 2).sum(1)


def test_the_protocols_list_the_required_members():
    assert protocol_members(DetectorProtocol) == ("fit", "score")
    assert protocol_members(LatentDetectorProtocol) == ("fit", "score", "posterior_draw")
    assert set(protocol_members(CohortDetectorProtocol)) == {
        "fit", "score", "cohort_params", "fit_cohort", "cohort_size"}
    assert set(protocol_members(KeptModelProtocol)) == {
        "fit", "score", "model_state", "load_model_state"}
    assert set(protocol_members(ScoringRuleProtocol)) == {"name", "measures", "reduce"}
    assert set(protocol_members(ExecutorProtocol)) == {"in_process", "map", "close"}
    for name in ("DetectorProtocol", "LatentDetectorProtocol", "CohortDetectorProtocol",
                 "KeptModelProtocol", "ScoringRuleProtocol", "ExecutorProtocol",
                 "LabeledData", "PosteriorDraw", "FitCost", "Detector", "ScoringRule"):
        assert name in api.__all__ and getattr(api, name).__doc__


def test_builtins_keep_the_protocols(registry):
    pca = registry.detector("pca").cls()
    vae = registry.detector("vae").cls()
    assert isinstance(pca, DetectorProtocol) and not isinstance(pca, LatentDetectorProtocol)
    assert not isinstance(pca, CohortDetectorProtocol)
    for proto in (LatentDetectorProtocol, CohortDetectorProtocol, KeptModelProtocol):
        assert isinstance(vae, proto), proto
    assert all(isinstance(spec.rule, ScoringRuleProtocol) for spec in registry.rules.values())
    assert isinstance(LocalExecutor(), ExecutorProtocol)
    assert isinstance(DuckDetector(), DetectorProtocol)


def test_capabilities_are_read_once_per_class(registry):
    spec = registry.detector("vae")
    caps = spec.capabilities
    assert caps is capabilities_of(spec.cls) is registry.detector("ed-vae").capabilities
    assert caps.latent and caps.cohort and caps.keeps_models and caps.model_bytes
    assert caps.cohort_params == {"random_state", "beta"}
    assert caps.takes_random_state and caps.takes_device and caps.fit_cost
    assert set(caps.draw_provides) == {"log_likelihood", "mu", "logvar"}
    pca = registry.detector("pca").capabilities
    assert not (pca.latent or pca.cohort or pca.keeps_models or pca.takes_device)
    assert pca.check_data and pca.check_params and pca.cohort_params == {"random_state"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        caps.latent = False  # type: ignore[misc]


def test_a_duck_typed_detector_registers_with_no_optional_capability():
    reg = Registry()
    reg.add_detector("duck", DuckDetector)
    assert reg.detector("duck").capabilities == Capabilities(
        fit_info=False, check_params=False, check_data=False, fit_cost=False)
    base = capabilities_of(type("Sub", (Detector,), {"fit": DuckDetector.fit,
                                                     "score": DuckDetector.score}))
    assert base.fit_info and base.check_data and base.takes_random_state  # Detector's defaults
    X = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    assert DuckDetector().fit(X).score(X).shape == (20,)


CALL_SITES = ("suite.py", "units.py", "runner.py", "registry.py", "plan.py", "checks.py",
              "modelstore.py", "estimator.py")
OPTIONAL = ("posterior_draw", "draw_provides", "fit_cohort", "cohort_size", "cohort_params",
            "fit_info", "fit_cost", "check_data", "check_params", "param_types_from_defaults",
            "model_state", "load_model_state", "model_bytes")


@pytest.mark.parametrize("module", CALL_SITES)
def test_call_sites_read_capabilities_instead_of_probing(module):
    """No getattr probe of an optional detector attribute, no signature read for
    random_state/device: those are Capabilities fields, read once."""
    text = (Path(__file__).resolve().parent.parent / "anobench" / module).read_text()
    probes = re.findall(rf"getattr\([^()]*\"({'|'.join(OPTIONAL)})\"", text)
    signatures = re.findall(r"\"(?:random_state|device)\" in (?:accepted|inspect\.signature)", text)
    assert not probes and not signatures, (probes, signatures)
