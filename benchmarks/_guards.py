"""Ratio guards: interleaved timing against a baseline measured in the same process.

A *guard* measures two (or more) variants of the same work alternately in
one process — A, B, B, A, A, B, … — and compares the median of the
per-round ratios with a threshold. The ratios are of **CPU time** of this
process (``time.process_time``), with torch on one thread while the guards
run (``benchmarks/test_bench_guards.py``): the work the code does, which
another process keeping a core busy does not change, where wall time would
count the neighbours too (wall-time ratios are stored beside them, for
information). A guard that fails names the ratio, its threshold, the rounds
and the command that reproduces it.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

#: Every guard's line of this session, for the terminal summary.
SUMMARY: list[str] = []


class Interleaved:
    """Time variants alternately; ``round()`` runs each once, in alternating order.

    ``cpu[name]`` holds each run's CPU seconds (this process, all threads), ``times[name]``
    its wall seconds.
    """

    def __init__(self, variants: dict[str, Callable[[], object]]) -> None:
        self.variants = variants
        self.times: dict[str, list[float]] = {k: [] for k in variants}
        self.cpu: dict[str, list[float]] = {k: [] for k in variants}
        self._n = 0

    def round(self) -> None:
        names = list(self.variants)
        if self._n % 2:
            names.reverse()
        self._n += 1
        for name in names:
            t0, c0 = time.perf_counter(), time.process_time()
            self.variants[name]()
            self.cpu[name].append(time.process_time() - c0)
            self.times[name].append(time.perf_counter() - t0)

    def run(self, benchmark, rounds: int, warmup: int = 1) -> Interleaved:
        """``rounds`` timed rounds through pytest-benchmark (after ``warmup`` untimed ones)."""
        for _ in range(warmup):
            self.round()
        self.times = {k: [] for k in self.variants}
        self.cpu = {k: [] for k in self.variants}
        benchmark.pedantic(self.round, rounds=rounds, iterations=1, warmup_rounds=0)
        for name, ts in self.times.items():
            benchmark.extra_info[f"{name}_median_s"] = round(statistics.median(ts), 5)
            benchmark.extra_info[f"{name}_median_cpu_s"] = round(
                statistics.median(self.cpu[name]), 5)
        return self

    def ratios(self, num: str, den: str) -> list[float]:
        """Per-round ratios of CPU time (what the guards compare)."""
        return [a / b for a, b in zip(self.cpu[num], self.cpu[den])]

    def wall_ratios(self, num: str, den: str) -> list[float]:
        """Per-round ratios of wall time (stored for information; the machine's load moves them)."""
        return [a / b for a, b in zip(self.times[num], self.times[den])]


def guard(benchmark, name: str, ratios: list[float], threshold: float, reproduce: str,
          *, below: bool = True) -> float:
    """Store the median ratio in the JSON and fail if it is on the wrong side of ``threshold``."""
    med = statistics.median(ratios)
    benchmark.extra_info[name] = round(med, 4)
    benchmark.extra_info[f"{name}_threshold"] = threshold
    benchmark.extra_info[f"{name}_rounds"] = [round(r, 4) for r in ratios]
    sign = "<=" if below else ">="
    line = (f"[guard] {name} = {med:.3f} (median of {len(ratios)} interleaved rounds; "
            f"must be {sign} {threshold})")
    print("\n" + line)
    SUMMARY.append(line)  # printed at the end of the session (benchmarks/conftest.py)
    ok = med <= threshold if below else med >= threshold
    assert ok, (f"bench guard {name}: median ratio {med:.3f} is not {sign} threshold {threshold} "
                f"(per-round ratios {[round(r, 3) for r in ratios]}); reproduce: {reproduce}")
    return med


def guards(benchmark, checks: list[tuple], reproduce: str) -> None:
    """Several ratios of one measurement: store all, then fail naming every one that is over.

    Each check is ``(name, ratios, threshold)`` or ``(name, ratios, threshold, below)``.
    """
    failures = []
    for name, ratios, threshold, *below in checks:
        try:
            guard(benchmark, name, ratios, threshold, reproduce, below=below[0] if below else True)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)
