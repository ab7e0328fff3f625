"""Fixtures and the ratio guards of the benchmarks (``tox -e bench``).

The guards themselves are in ``_guards.py``.

Options: ``--bench-mode short`` (CI: small sizes, few rounds, a few minutes
on 2 cores) or ``full`` (default; ``$ANOBENCH_BENCH_MODE`` sets the default).

Test-only hook: ``ANOBENCH_BENCH_SLOWDOWN=SECONDS`` makes every loss
evaluation inside :func:`anobench.training.fit_model` sleep that long, i.e.
a deliberately slowed trainer, which the trainer guard must catch
(``tests/test_bench_guards.py``).
"""
from __future__ import annotations

import os
import time

import pytest

SLOWDOWN_ENV = "ANOBENCH_BENCH_SLOWDOWN"


def pytest_addoption(parser):
    parser.addoption("--bench-mode", choices=("short", "full"),
                     default=os.environ.get("ANOBENCH_BENCH_MODE", "full"),
                     help="benchmark sizes: short (CI, minutes) or full (default)")


def pytest_terminal_summary(terminalreporter):
    """The guard ratios of this session, printed whether the tests passed or not."""
    from _guards import SUMMARY

    if SUMMARY:
        terminalreporter.section("speed guards")
        for line in SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def bench_mode(request) -> str:
    return request.config.getoption("--bench-mode")


@pytest.fixture(scope="session")
def short(bench_mode) -> bool:
    return bench_mode == "short"


@pytest.fixture(scope="session", autouse=True)
def _slowed_trainer():
    """The test-only hook: a trainer whose every loss evaluation sleeps."""
    delay = float(os.environ.get(SLOWDOWN_ENV, "0") or 0)
    if delay <= 0:
        yield
        return
    from anobench import training

    original = training.fit_model

    def slowed_fit_model(model, loss_fn, *args, **kwargs):
        def slow_loss(*a, **kw):
            time.sleep(delay)
            return loss_fn(*a, **kw)

        return original(model, slow_loss, *args, **kwargs)

    training.fit_model = slowed_fit_model
    try:
        yield
    finally:
        training.fit_model = original


@pytest.fixture(scope="session")
def registry():
    from anobench.plugins import load_registry

    return load_registry()


@pytest.fixture(scope="session")
def digits(registry):
    return registry.dataset("digits").loader(data_dir=None)


@pytest.fixture(scope="session")
def digits_split(digits):
    from anobench.protocol import one_class_split

    return one_class_split(digits, 3, split_seed=0, anomaly_seed=0)
