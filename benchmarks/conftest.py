"""Fixtures and the ratio guards of the benchmarks (``tox -e bench``).

The guards themselves are in ``_guards.py``.

Options: ``--bench-mode short`` (CI: small sizes, few rounds, a few minutes
on 2 cores) or ``full`` (default; ``$ANOBENCH_BENCH_MODE`` sets the default).

Test-only hook: ``ANOBENCH_BENCH_SLOWDOWN=SITE=SECONDS[,...]`` slows one
code path where it is called (trainer, cohort, rules, runner, jobs-dispatch,
jobs-cpu; ``_slowdown.py``), which that path's guard must catch
(``tests/test_guard_failures.py``).

While a benchmark runs, a line is printed every 20 s (``HEARTBEAT_S``;
``$ANOBENCH_BENCH_HEARTBEAT_S`` for tests) and flushed at once, so a long run is never
silent, on a terminal or in a CI log (a pipe, which Python buffers).
"""
from __future__ import annotations

import contextlib
import os
import threading
import time

import pytest

HEARTBEAT_S = float(os.environ.get("ANOBENCH_BENCH_HEARTBEAT_S", "20"))


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
def _slowdowns():
    """The test-only slowdowns named in ``$ANOBENCH_BENCH_SLOWDOWN`` (``_slowdown.py``)."""
    from _slowdown import apply_from_env

    apply_from_env()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A line on the terminal every ``HEARTBEAT_S`` seconds while a benchmark runs."""
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    capman = item.config.pluginmanager.get_plugin("capturemanager")
    done = threading.Event()
    start = time.monotonic()

    def beat():
        while not done.wait(HEARTBEAT_S):
            # past pytest's output capture, as its live logging does, and flushed: written
            # under capture and unflushed, the line reached a pipe (CI) only at the test's end
            # and was lost (captured) on a terminal
            with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
                reporter.write_line(f"[bench] {item.name}: still running "
                                    f"({time.monotonic() - start:.0f} s)")
                reporter.flush()

    thread = threading.Thread(target=beat, daemon=True) if reporter else None
    if thread:
        thread.start()
    try:
        yield
    finally:
        done.set()
        if thread:  # no beat toggles the capture once the test's teardown has begun
            thread.join()


@pytest.fixture(scope="session")
def registry():
    from anobench.manager import load_registry

    return load_registry()


@pytest.fixture(scope="session")
def digits(registry):
    return registry.dataset("digits").loader(data_dir=None)


@pytest.fixture(scope="session")
def digits_split(digits):
    from anobench.protocol import one_class_split

    return one_class_split(digits, 3, split_seed=0, anomaly_seed=0)
