"""``anobench validate``, ``plan`` and ``run``: the commands that prepare and run a suite.

Each starts from :func:`anobench.prepare.prepare_run` (``run`` through
:func:`anobench.runner.run_suite`); :mod:`anobench.cli` parses the command
line, hands over its registry loader and renders ``run``'s report.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from anobench.escape import terminal
from anobench.prepare import PreparedRun
from anobench.registry import Registry
from anobench.units import Cell


def run_command(args: argparse.Namespace, registry: Callable[[], Registry]) -> tuple[Path, int]:
    """``anobench run``: run the suite; ``(run_dir, failed cells)``."""
    from anobench.executors import parse_jobs, positive_or_auto
    from anobench.runner import run_suite

    jobs = parse_jobs(args.jobs)
    cohort = positive_or_auto("--cohort-size", args.cohort_size)  # None: the detector's choice
    return run_suite(
        args.suite, registry(), results_root=args.results, data_dir=args.data_dir,
        device=args.device, resume=args.resume, jobs=jobs, executor=args.executor,
        executor_options={"address": args.address} if args.address else None,
        cohort_size=cohort, keep_models=args.keep_models, crash_watch=True,
        on_start=print_estimate(cohort, jobs),
    )


def print_estimate(cohort: int | None, jobs: int
                   ) -> Callable[[PreparedRun, list[Cell], int], None]:
    """``run``'s start: the estimate of ``anobench plan`` for the cells still to run, but for
    detectors that it would fit for real (see :func:`anobench.plan.make_plan`)."""
    def hook(prepared: PreparedRun, todo: list[Cell], done: int) -> None:
        from anobench.plan import cpu_warning, estimate_line, make_plan

        try:
            plan = make_plan(prepared, todo, done=done, cohort_size=cohort, fits=False)
        except Exception as exc:  # noqa: BLE001 - an estimate never stops a run
            print(terminal(f"anobench: no time estimate ({type(exc).__name__}: {exc})"),
                  file=sys.stderr)
            return
        for line in (estimate_line(plan, jobs), cpu_warning(plan)):
            if line:
                print(terminal(f"anobench: {line}"), file=sys.stderr, flush=True)
    return hook


def validate_command(args: argparse.Namespace, registry: Callable[[], Registry]) -> int:
    """``anobench validate``: every check but training, and the cells the run would have."""
    from anobench.prepare import prepare_run

    c = prepare_run(args.suite, registry(), args.data_dir)
    print(terminal(f"{args.suite}: OK — suite {c.suite.name!r}: {len(c.suite.datasets)} "
                   f"dataset(s), {c.classes} normal class(es), {c.suite.repetitions} "
                   f"repetition(s), {len(c.suite.detectors)} detector config(s) in "
                   f"{len(c.groups)} model(s): {len(c.cells)} cells (time: anobench plan)"))
    if c.suite.keep_models or args.keep_models:
        from anobench.modelstore import estimate_store

        print("models kept (keep_models):")
        print(terminal("\n".join(estimate_store(c.suite, c.datasets, c.groups).lines())))
    return 0


def plan_command(args: argparse.Namespace, registry: Callable[[], Registry]) -> int:
    """``anobench plan``: the cells, units and an estimated time."""
    from anobench.executors import positive_or_auto
    from anobench.plan import plan_suite, plan_text

    cohort = positive_or_auto("--cohort-size", args.cohort_size)
    print(terminal(plan_text(plan_suite(args.suite, registry(), data_dir=args.data_dir,
                                        device=args.device, cohort_size=cohort))))
    return 0
