"""The ``anobench`` command line: run, report, rescore, compare, export, validate, plan, list, ..."""
from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from anobench.devices import DEVICES
from anobench.errors import AnobenchError, Terminated
from anobench.escape import TerminalFormatter, terminal
from anobench.options.flags import add_flags, given_flags
from anobench.options.report import ReportOptions
from anobench.options.schema import SCHEMA_HELP


def _registry():
    from anobench.manager import load_registry

    return load_registry()


def cmd_run(args: argparse.Namespace) -> int:
    from anobench.cli_run import run_command
    from anobench.report import render_report

    run_dir, failed = run_command(args, _registry)
    done = render_report(run_dir, fmt=args.format, figures=False if args.no_figures else None)
    _print_report(done, args.tables)
    return 1 if failed else 0


def _print_report(done, tables: bool) -> None:
    """The run's state, the verdicts and the report's paths; the whole report with --tables."""
    if not tables:
        print(terminal(done.terminal()), end="")
        return
    print(terminal(done.text))
    print(terminal(f"anobench: wrote {', '.join(str(p) for p in done.paths)}"), file=sys.stderr)


def report_overrides(args: argparse.Namespace) -> dict:
    """The ``[report]`` keys given on the command line (checked by the report's parser)."""
    return given_flags(args, ReportOptions)


def cmd_report(args: argparse.Namespace) -> int:
    from anobench.report import render_report

    done = render_report(Path(args.run_dir), fmt=args.format, overrides=report_overrides(args),
                         figures=False if args.no_figures else None)
    _print_report(done, args.tables)
    return 0


def cmd_rescore(args: argparse.Namespace) -> int:
    from anobench.report import render_report
    from anobench.rescore import rescore_run

    run_dir = Path(args.run_dir)
    res = rescore_run(run_dir, args.rule, _registry(), n_samples=args.n_samples,
                      data_dir=args.data_dir, device=args.device)
    skipped = f"; {res.skipped} had the columns already" if res.skipped else ""
    print(terminal(f"anobench: rescored {res.cells} cell(s) in {res.seconds:.1f}s (their training "
                   f"took {res.fit_seconds:.1f}s){skipped}; new columns: {', '.join(res.columns)}"),
          file=sys.stderr)
    done = render_report(run_dir, fmt=args.format, figures=False if args.no_figures else None)
    _print_report(done, args.tables)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from anobench.report import compare_runs

    print(terminal(compare_runs(Path(args.run_a), Path(args.run_b), fmt=args.format,
                                allow_different_suites=args.allow_different_suites,
                                metrics=args.metric)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from anobench.export import export_run

    table = export_run(args.run_dir, args.output, args.format, force=args.force)
    where = "standard output" if args.output in (None, "-") else args.output
    failed = f"; {table.failed} failed cell(s) have no value and no row" if table.failed else ""
    print(terminal(f"anobench: {len(table.rows)} row(s) of {table.cells} finished cell(s) to "
                   f"{where} ({args.format}){failed}"), file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from anobench.cli_run import validate_command

    return validate_command(args, _registry)


def cmd_plan(args: argparse.Namespace) -> int:
    from anobench.cli_run import plan_command

    return plan_command(args, _registry)


def cmd_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    reg = _registry()
    rows = []
    for name, spec in sorted(reg.detectors.items()):
        kind = f"detector (latent, default rule: {spec.default_rule})" if spec.latent else "detector"
        rows.append([name, kind, spec.plugin, spec.description])
    for prefix, fam in sorted(reg.detector_families.items()):
        rows.append([f"{prefix}:<name>", "detectors by name", fam.plugin, fam.description])
    for name, spec in sorted(reg.rules.items()):
        rows.append([name, f"scoring rule ({'/'.join(spec.rule.measures)})", spec.plugin,
                     spec.description])
    for name, spec in sorted(reg.datasets.items()):
        rows.append([name, "dataset", spec.plugin, spec.description])
    for name, spec in sorted(reg.executors.items()):
        doc = (spec.cls.__doc__ or "").strip().splitlines()
        rows.append([name, "executor", spec.plugin, doc[0] if doc else ""])
    print(terminal(tabulate(rows, headers=["name", "kind", "plugin", "description"],
                            tablefmt="simple")))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from anobench.options.schema import write_schema

    write_schema(args.output, None if args.markdown else _registry())
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from anobench.scaffold import KINDS, new_package

    words = [args.kind, args.name, *args.more]
    if len(words) % 2:
        raise AnobenchError(f"anobench new: {words[-1]!r} needs a name after it "
                            "(KIND NAME [KIND NAME ...])")
    components = list(zip(words[::2], words[1::2]))
    for kind, _ in components:
        if kind not in KINDS:
            raise AnobenchError(f"anobench new: kind must be one of {', '.join(KINDS)}, "
                                f"got {kind!r}")
    root = new_package(components, args.package, args.dir)
    what = ", ".join(f"{'scoring rule' if k == 'rule' else k} {n!r}" for k, n in components)
    print(terminal(f"created {root}/ ({what}; plugin {root.name!r}); next:\n"
                   f"  pip install -e {root}\n  pytest {root}/tests\n  anobench list"))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from anobench import data

    if args.data_cmd == "fetch":
        dest = data.fetch_idx_dataset(args.name, args.data_dir)
        print(terminal(f"{args.name}: downloaded and verified in {dest}"))
    elif args.data_cmd == "import":
        dest = data.import_idx_dataset(args.name, args.source, args.data_dir)
        print(terminal(f"{args.name}: imported and verified (size, MD5) into {dest}"))
    else:
        print(terminal(f"data root: {data.resolve_data_root(args.data_dir)}"))
        for key, where in data.data_status(args.data_dir).items():
            print(terminal(f"  {key}: {where}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="anobench",
        description="Plugin-based benchmarking suite for one-class anomaly detection.",
    )
    p.add_argument("--debug", action="store_true",
                   help="show the traceback of an error (errors are one line without it)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="only warnings and errors (no per-epoch training progress)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument("--data-dir", default=None, metavar="DIR",
                          help="data root (default: $ANOBENCH_DATA or ~/.cache/anobench)")
    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=["markdown", "latex", "plain"], default="markdown",
                     help="format of the tables printed with --tables (default: markdown); "
                          "latex also writes report.tex")
    shown = argparse.ArgumentParser(add_help=False)
    shown.add_argument("--tables", "--full", dest="tables", action="store_true",
                       help="print the whole report (tables, tests, ranks) instead of the run's "
                            "state, the verdicts and the report's paths")

    r = sub.add_parser("run", parents=[data_dir, fmt, shown], help="run a suite and report it",
                       description="Run every cell of a suite, store records, then write its "
                                   "report (as `anobench report RUN_DIR` does) and print the "
                                   "run's state (complete, or n of N cells and which are "
                                   "missing), the verdicts and the paths of report.md/html. "
                                   "Ctrl-C, SIGTERM and SIGHUP stop it with the finished cells "
                                   "stored and the --resume command printed.")
    r.add_argument("suite", help="suite TOML file")
    r.add_argument("--results", default="results", metavar="DIR",
                   help="results root (default: results); runs go to DIR/<suite>/<run-id>")
    r.add_argument("--device", choices=DEVICES, default=None,
                   help="device for neural detectors (default: the suite's, else auto)")
    r.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN_DIR",
                   help="continue a run: skip finished cells (default: the latest run of the "
                        "suite); a cell that was running when the run crashed runs first, "
                        "in a separate process")
    r.add_argument("--no-figures", action="store_true",
                   help="draw no figures (figures an earlier report of the run drew are kept)")
    r.add_argument("--jobs", default="1", metavar="N|auto",
                   help="work units (cells or cohorts) run at once, at most 1024; auto = CPU "
                        "cores (default: 1); several CUDA devices are shared out among the "
                        "workers; a worker that dies (a crash, a signal) fails its unit's cells "
                        "and is replaced")
    r.add_argument("--address", default=None, metavar="ADDR",
                   help="with --executor ray: the Ray cluster to use (host:port of its head, or "
                        "auto; default: $RAY_ADDRESS, else a local Ray instance)")
    r.add_argument("--executor", default=None, metavar="NAME",
                   help="where units run: local, processes, or an executor plugin "
                        "(default: local for one job, processes for more); processes keeps "
                        "a plugin's crash from ending the run")
    r.add_argument("--cohort-size", default="auto", metavar="N|auto",
                   help="train up to N cells of one detector, class and architecture together "
                        "as one stacked model (1: one by one; default auto: what the detector "
                        "chose for the device)")
    r.add_argument("--keep-models", action="store_true",
                   help="store each trained model under RUN_DIR/models/ (as [suite] keep_models "
                        "= true), so that `anobench rescore` can score it with more rules later")
    r.set_defaults(func=cmd_run)

    rs = sub.add_parser("rescore", parents=[data_dir, fmt, shown],
                        help="score a run's kept models with more scoring rules",
                        description="Score the models a run kept (keep_models) with more "
                                    "scoring rules, built-in or from a plugin, on the run's own "
                                    "test sets (same seeds, same posterior draw), append records "
                                    "for the new columns (stored values stay as they are) and "
                                    "re-render the report. Refused when the models were not "
                                    "kept, a rule is already scored or a detector cannot serve "
                                    "it, or another process writes the run.")
    rs.add_argument("run_dir", help="results/<suite>/<run-id> of a run made with keep_models")
    rs.add_argument("--rule", action="append", required=True, metavar="NAME",
                    help="scoring rule to add (repeatable), e.g. recon-prob; see anobench list")
    rs.add_argument("--n-samples", type=int, default=None, metavar="L",
                    help="posterior samples the new rules read (default: each entry's n_samples); "
                         "the first samples are the ones the run drew")
    rs.add_argument("--device", choices=DEVICES, default=None,
                    help="device to score on (default: the suite's, else auto)")
    rs.add_argument("--no-figures", action="store_true", help="skip the report's figures")
    rs.set_defaults(func=cmd_rescore)

    rep = sub.add_parser("report", parents=[fmt, shown],
                         help="verdicts, tables, significance tests and figures of a run",
                         description="Render a stored run: verdicts (the best deployable column "
                                     "per dataset, metric and measure against the runner-up), "
                                     "mean±SEM tables where ▲/▼ mark a column significantly "
                                     "better/worse than the reference, paired tests, ranks and "
                                     "figures, and for runs of latent detectors a Posterior "
                                     "section (the ED gain against posterior variance and "
                                     "active units). Writes report.md and report.html "
                                     "(self-contained) into RUN_DIR and prints the run's state, "
                                     "the verdicts and the paths (--tables: the whole report; "
                                     "--format latex also writes report.tex).")
    rep.add_argument("run_dir", help="results/<suite>/<run-id>")
    add_flags(rep, ReportOptions, "the suite's [report]")  # one flag per [report] key
    rep.add_argument("--no-figures", action="store_true",
                     help="draw no figures; figures an earlier report of RUN_DIR drew are kept, "
                          "files and references, with a note saying they were not redrawn")
    rep.set_defaults(func=cmd_report)

    cmp_ = sub.add_parser("compare", parents=[fmt], help="contrast two runs column by column",
                          description="Contrast two runs of one suite column by column: means "
                                      "over classes, differences, Wilcoxon on class means.")
    cmp_.add_argument("run_a", help="first run directory (A)")
    cmp_.add_argument("run_b", help="second run directory (B)")
    cmp_.add_argument("--allow-different-suites", action="store_true",
                      help="compare runs of different suites (refused by default)")
    cmp_.add_argument("--metric", action="append", default=None,
                      help="only this metric (repeatable)")
    cmp_.set_defaults(func=cmd_compare)

    ex = sub.add_parser(
        "export", help="a run's results as one table (CSV or Parquet) for pandas",
        description="Write every stored result of RUN_DIR as one row per cell × column × "
                    "measure × metric with every field that identifies it (suite, run, dataset, class, "
                    "repetition, model, column, label, detector, rule, measure, grid, params, "
                    "metric), the value, the oracle flag, the seeds, the test set's size, "
                    "timings and the fit's facts (info_*). Writes only -o FILE (never into the "
                    "run directory unless FILE is there) and refuses an existing FILE without "
                    "--force. In Python: anobench.load_run(RUN_DIR) gives the same table as a "
                    "pandas DataFrame.")
    ex.add_argument("run_dir", help="results/<suite>/<run-id>")
    ex.add_argument("--format", choices=["csv", "parquet"], default="csv",
                    help="csv (default) or parquet (needs pyarrow: the parquet extra)")
    ex.add_argument("-o", "--output", default=None, metavar="FILE",
                    help="file to write (default: CSV on standard output; parquet needs a file)")
    ex.add_argument("--force", action="store_true", help="replace FILE if it exists")
    ex.set_defaults(func=cmd_export)

    v = sub.add_parser("validate", parents=[data_dir], help="check a suite without training",
                       description="Run every check of a suite (keys, types, plugins, "
                                   "parameters, rules, data, classes) except training. Like "
                                   "run, it imports the module each sklearn: detector names "
                                   "(its import-time code runs).")
    v.add_argument("suite")
    v.add_argument("--keep-models", action="store_true",
                   help="also estimate the size of the kept models (as with keep_models = true)")
    v.set_defaults(func=cmd_validate)

    pl = sub.add_parser(
        "plan", parents=[data_dir], help="cells, trainings, cohorts and an estimated time",
        description="What `anobench run SUITE` would do, without running it: cells, models "
                    "trained in epochs, work units (cohorts) and an estimated time range on the "
                    "device the run would use. Runs every check of `validate` (so it loads the "
                    "data: their sizes and sample shapes set the estimate), then times, on this "
                    "machine now, a few real training steps of each neural detector at its "
                    "batch size and sample shape (a cohort as the run would stack it) and a "
                    "validation batch and scoring, and multiplies them by each class's data and "
                    "the schedule's fewest (patience + 1) and most (max_epochs) epochs; other "
                    "detectors are fitted for real on 256, 1,024, ... training samples while a "
                    "fit is quick and the time scaled to each class's size. One job; takes "
                    "seconds, trains no model to the end. Warns when more than an hour would "
                    "run on a CPU. `anobench run` prints the same estimate when it starts "
                    "(without the detectors that have no fit_cost: it fits none before its "
                    "cells).")
    pl.add_argument("suite", help="suite TOML file")
    pl.add_argument("--device", choices=DEVICES, default=None,
                    help="device the run would use (default: the suite's, else auto)")
    pl.add_argument("--cohort-size", default="auto", metavar="N|auto",
                    help="as for run: cells of one detector and class trained together")
    pl.set_defaults(func=cmd_plan)

    ls = sub.add_parser("list", help="list detectors, scoring rules and datasets with their plugin")
    ls.set_defaults(func=cmd_list)

    sc = sub.add_parser("schema", help="the JSON Schema of suites, for editors",
                        description=SCHEMA_HELP)
    sc.add_argument("-o", "--output", default=None, metavar="FILE", help="file to write")
    sc.add_argument("--markdown", action="store_true",
                    help="write the option reference (every key: type, default, meaning)")
    sc.set_defaults(func=cmd_schema)

    nw = sub.add_parser("new", help="write a plugin package skeleton (detectors and rules)",
                        usage="anobench new KIND NAME [KIND NAME ...] [--package NAME] "
                              "[--dir DIR]",
                        description="Write anobench-NAME/: an installable plugin package with "
                                    "one or several components (KIND is detector or rule), "
                                    "e.g. `anobench new detector iso rule median`, and a "
                                    "passing conformance test for each.")
    nw.add_argument("kind", choices=["detector", "rule"])
    nw.add_argument("name", help="component name, e.g. my-detector")
    nw.add_argument("more", nargs="*", metavar="KIND NAME",
                    help="more components in the same package")
    nw.add_argument("--package", default=None, metavar="NAME",
                    help="package name: anobench-NAME (default: the first component's name)")
    nw.add_argument("--dir", default=".", metavar="DIR",
                    help="folder to create anobench-NAME/ in (default: current folder)")
    nw.set_defaults(func=cmd_new)

    d = sub.add_parser("data", help="get datasets onto this machine",
                       description="Download (online) or import (offline) MNIST-style datasets.")
    dsub = d.add_subparsers(dest="data_cmd", required=True, metavar="ACTION")
    f = dsub.add_parser("fetch", parents=[data_dir], help="download with torchvision and verify")
    f.add_argument("name", choices=["mnist", "fashion-mnist"])
    im = dsub.add_parser("import", parents=[data_dir],
                         help="copy IDX files (.gz or not) from a folder and verify them")
    im.add_argument("name", choices=["mnist", "fashion-mnist"])
    im.add_argument("source", help="folder with the four IDX files, e.g. ../shared/data/MNIST")
    dsub.add_parser("status", parents=[data_dir], help="show where each dataset is found")
    d.set_defaults(func=cmd_data)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter("%(message)s"))
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, handlers=[handler])
    if getattr(args, "debug", False):
        import faulthandler

        faulthandler.enable()  # a crash in native code shows where it happened
    try:
        with _signals_interrupt():
            return args.func(args)
    except Terminated as exc:
        return 128 + exc.signum
    except AnobenchError as exc:
        return _fail(args, str(exc), exc.exit_code)
    except OSError as exc:  # the environment: a full disk, a missing or read-only folder
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(args, f"{where}{exc.strerror or exc}", 2)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, the traceback on request
        return _fail(args, f"internal error ({type(exc).__name__}: {exc}); please report it with "
                           "the output of --debug", INTERNAL_ERROR)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop a command as Ctrl-C does (raise :class:`Terminated`)."""
    def stop(signum: int, frame: object) -> None:
        raise Terminated(signum)

    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    try:
        old = {n: signal.signal(getattr(signal, n), stop) for n in names}
    except ValueError:  # not the main thread: leave signals alone
        old = {}
    try:
        yield
    finally:
        for n, handler in old.items():
            signal.signal(getattr(signal, n), handler)


#: Exit code of an unexpected exception (a bug); bad input exits with 2.
INTERNAL_ERROR = 3


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """Print one line (and the traceback with ``--debug``); return the exit code."""
    if getattr(args, "debug", False):
        import traceback

        traceback.print_exc()
    one_line = " ".join(terminal(message).split())
    print(f"anobench: error: {one_line}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
