"""A run's full report: tables with significance marks, paired tests, ranks, figures.

Rendered only from ``records.jsonl`` and ``meta.json`` (whose suite text holds
the ``[report]`` options) plus the stored scores for curves. Output:
``report.md`` (figures linked), ``report.html`` (one self-contained page,
figures embedded as data URIs) and, on request, ``report.tex`` (the tables).
"""
from __future__ import annotations

import base64
import dataclasses
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from anobench import stats
from anobench.errors import AnobenchError
from anobench.metrics import LABELS
from anobench.report import (
    Cell,
    build_tables,
    latex_escape,
    render_grid,
    table_cells,
    test_set_note,
)
from anobench.reportcfg import ReportOptions, check_columns, parse_report_options, resolve
from anobench.significance import PairSection, pair_tests, rank_tests, table_tests
from anobench.store import load_store, read_meta


MAX_NEMENYI = 8  # largest number of columns whose pairwise p-values are tabulated


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str
    em: bool = False


@dataclass(frozen=True)
class Grid:
    headers: list
    rows: list
    title: str = ""
    note: str = ""
    total_row: bool = False  # the last row summarises the others (mean, all classes)


@dataclass(frozen=True)
class Image:
    fig: Any  # anobench.figures.Fig


def run_options(run_dir: Path, meta: dict[str, Any]) -> ReportOptions:
    """The ``[report]`` options of the suite stored in ``meta.json``."""
    text = meta.get("suite_text", "")
    try:
        doc = tomllib.loads(text) if text else {}
    except tomllib.TOMLDecodeError as exc:
        raise AnobenchError(f"{run_dir}/meta.json: stored suite text is not TOML: {exc}") from None
    where = f"{run_dir}/meta.json (suite {meta.get('suite_path', '?')})"
    return parse_report_options(doc.get("report"), where)


def _p(p: float | None) -> str:
    return "–" if p is None else ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def _verdict(res: stats.PairedResult, p: float | None, alpha: float, a: str, b: str) -> Cell:
    if p is None:
        return Cell(res.method if not res.tested else "–")
    if p < alpha and res.rank_biserial > 0:
        return Cell(f"{a} better", bold=True)
    if p < alpha and res.rank_biserial < 0:
        return Cell(f"{b} better", bold=True)
    return Cell("n.s.")


def _pair_grid(sec: PairSection, alpha: float, correction: str) -> Grid:
    a, b = sec.a, sec.b
    headers = ["dataset", "class", "n", a, b, "Δ ×100", "W/T/L", "p", "p corr.", "r_rb",
               "median Δ [95% CI] ×100", "verdict"]
    rows = []
    for r in sec.rows:
        res = r.result
        ci = ("" if res.ci[0] != res.ci[0] else
              f" [{100 * res.ci[0]:.1f}, {100 * res.ci[1]:.1f}]")
        rows.append([r.dataset, r.row, str(res.n), f"{100 * r.mean_a:.1f}", f"{100 * r.mean_b:.1f}",
                     f"{100 * (r.mean_a - r.mean_b):+.1f}", f"{res.wins}/{res.ties}/{res.losses}",
                     _p(res.p), _p(r.p_adj) if r.unit == "repetitions" else "",
                     f"{res.rank_biserial:+.2f}", f"{100 * res.median_diff:+.1f}{ci}",
                     _verdict(res, r.p_adj, alpha, a, b)])
    label = LABELS.get(sec.metric, sec.metric)
    title = f"{a} vs {b}{sec.grid}: {label}" + (f", measure {sec.measure}" if sec.measure else "")
    note = (f"Per class: repetitions paired by repetition, p corrected with "
            f"{stats.CORRECTIONS[correction]} over the classes of a dataset. 'all classes': "
            "class means paired by class (uncorrected); dataset 'all': every (dataset, class) "
            "block.")
    per_class = [r for r in sec.rows if r.unit == "repetitions" and r.result.tested]
    if per_class and correction != "none":
        n = max(r.result.n for r in per_class)
        m = max(sum(x.dataset == d for x in per_class) for d in {x.dataset for x in per_class})
        floor = stats.smallest_corrected_p(n, m, correction)
        if floor >= alpha:
            note += (f" With n = {n} repetitions and {m} classes the smallest attainable "
                     f"corrected p is {floor:.3g} ≥ α: no class can be significant after "
                     "correction (the uncorrected p is shown).")
    return Grid(headers, rows, title, note, True)


def _sweep_grid(secs: list[PairSection], alpha: float) -> Grid:
    a, b = secs[0].a, secs[0].b
    headers = ["grid point", "dataset", a, b, "Δ ×100", "W/T/L (classes)", "p (class means)",
               f"classes {a} better", f"classes {b} better"]
    rows = []
    for s in secs:
        per_ds: dict[str, list] = {}
        for r in s.rows:
            if r.unit == "repetitions":
                d = per_ds.setdefault(r.dataset, [0, 0, 0])
                d[2] += r.p_adj is not None
                if r.p_adj is not None and r.p_adj < alpha:
                    d[0 if r.result.rank_biserial > 0 else 1] += 1
        for r in s.rows:
            if r.unit != "class means":
                continue
            res = r.result
            good = per_ds.get(r.dataset, [0, 0, 0])
            if not good[2]:  # no class had enough repetitions for a test
                good = ["–", "–"]
            rows.append([s.grid, r.dataset, f"{100 * r.mean_a:.1f}", f"{100 * r.mean_b:.1f}",
                         f"{100 * (r.mean_a - r.mean_b):+.1f}",
                         f"{res.wins}/{res.ties}/{res.losses}",
                         Cell(_p(res.p) if res.tested else res.method,
                              bold=res.p is not None and res.p < alpha),
                         str(good[0]), str(good[1])])
    label = LABELS.get(secs[0].metric, secs[0].metric)
    measure = f", measure {secs[0].measure}" if secs[0].measure else ""
    return Grid(headers, rows, f"{a} vs {b} per grid point: {label}{measure}",
                "Class-mean test per dataset; the last two columns count classes with a "
                "significant per-class test (corrected; – when the repetitions are too few for "
                "a test).")


def build(run_dir: Path, *, overrides: dict[str, Any] | None = None,
          figures: bool | None = None) -> tuple[list, ReportOptions, dict[str, Any]]:
    """Blocks of the report of ``run_dir``; ``overrides`` replace ``[report]`` options."""
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    options = run_options(run_dir, meta)
    if overrides:
        options = dataclasses.replace(options, **{k: v for k, v in overrides.items()
                                                  if v is not None})
    store = load_store(run_dir)  # one pass over the file
    stored = store.records(("result", "error"))
    records = [r for r in stored if r["kind"] == "result"]
    errors = [r for r in stored if r["kind"] == "error"]
    columns = sorted({r["column"] for r in records})
    where = f"{run_dir}"
    if options.reference:
        check_columns([options.reference], columns, f"{where}: reference")
    for a, b in options.pairs or ():
        check_columns([a, b], columns, f"{where}: pair [{a}, {b}]")
    if options.rank_columns:
        check_columns(options.rank_columns, columns, f"{where}: rank_columns")
    tables = [t for t in build_tables(records)
              if not options.metrics or t.metric in options.metrics]
    reference, pairs = resolve(options, records)
    a_ = options.alpha
    blocks: list = [Heading(f"anobench report: {meta.get('suite_name', '?')}", 1),
                    Para(_header(run_dir, meta, records, errors))]
    blocks.extend(Para(note, em=True) for note in store.notes())
    if errors:
        blocks.append(Para(f"{len(errors)} cell(s) failed: " + "; ".join(
            sorted({e.get('error', '?') for e in errors})[:3]), em=True))
    if not tables:
        blocks.append(Para("(no results stored yet)"))
        return blocks, options, meta
    blocks.append(Heading("Tables"))
    for t in tables:
        tests = table_tests(t, reference, alpha=a_, correction=options.correction)
        headers, rows = table_cells(t, options.sem_ddof, tests.marks)
        note = " ".join(filter(None, [tests.footnote(options.sem_ddof), test_set_note(t)]))
        blocks.append(Grid(headers, rows, t.title, note, True))
    pair_secs = [pair_tests(tables, a, b, alpha=a_, correction=options.correction)
                 for a, b in pairs]
    summary = _summary(pair_secs, a_)
    if summary:
        blocks[2:2] = [Heading("Summary"), *(Para(x) for x in summary)]
    if any(pair_secs):
        blocks.append(Heading("Paired tests"))
        blocks.append(Para(_test_text(a_)))
        for secs in pair_secs:
            grids = {s.grid for s in secs}
            if len(grids) > 1:
                by_mm: dict[tuple, list[PairSection]] = {}
                for s in secs:
                    by_mm.setdefault((s.metric, s.measure), []).append(s)
                blocks.extend(_sweep_grid(ss, a_) for ss in by_mm.values())
            else:
                blocks.extend(_pair_grid(s, a_, options.correction) for s in secs)
    ranks = rank_tests(tables, alpha=a_, columns=options.rank_columns)
    if ranks:
        blocks.append(Heading("Ranks (Friedman, Nemenyi)"))
        for s in ranks:
            blocks.extend(_rank_grids(s))
    want_figs = options.figures if figures is None else figures
    if want_figs:
        try:
            from anobench import figures as figs
        except ImportError as exc:
            blocks.append(Para(f"Figures skipped: {exc}", em=True))
            return blocks, options, meta
        curves = figs.curve_figures(run_dir, tables, options)  # first: it checks [report] curves
        made = figs.cd_figures(run_dir, ranks) + figs.rule_figures(
            run_dir, tables, records, options.sem_ddof) + figs.sweep_figures(
            run_dir, tables, pair_secs) + curves
        if made:
            blocks.append(Heading("Figures"))
            blocks.extend(Image(f) for f in made)
    return blocks, options, meta


def _summary(pair_secs: list[list[PairSection]], alpha: float) -> list[str]:
    """One sentence per pair, metric and measure: the across-classes result."""
    out = []
    for secs in pair_secs:
        for s in secs:
            rows = [r for r in s.rows if r.unit == "class means"]
            if not rows or s.grid:
                continue
            r = rows[-1]  # pooled over datasets when there are several
            res = r.result
            label = LABELS.get(s.metric, s.metric) + (f" ({s.measure})" if s.measure else "")
            where = "all (dataset, class) blocks" if r.dataset == "all" else r.dataset
            test = (f"p = {_p(res.p)} ({_verdict(res, res.p, alpha, s.a, s.b).text})"
                    if res.tested else res.method)
            per_class = [x for x in s.rows if x.unit == "repetitions"]
            sig = sum(x.p_adj is not None and x.p_adj < alpha and x.result.rank_biserial > 0
                      for x in per_class)
            tested = [x for x in per_class if x.result.tested]
            reps = sorted({x.result.n for x in per_class}) or [0]
            per = (f"significantly better per class (corrected) in {sig} of {len(tested)} "
                   "tested classes" if tested else
                   f"no per-class test ({reps[-1]} repetition(s) per class)")
            out.append(f"{s.a} vs {s.b}, {label}, {where}: mean {100 * r.mean_a:.1f} vs "
                       f"{100 * r.mean_b:.1f}, {s.a} higher in {res.wins} of {res.n} classes "
                       f"(W/T/L {res.wins}/{res.ties}/{res.losses}), Wilcoxon on class means "
                       f"{test}; {per}.")
    return out


def _header(run_dir: Path, meta: dict, records: list, errors: list) -> str:
    cells = len({r["cell"] for r in records})
    return (f"Run {run_dir}; suite {meta.get('suite_path', '?')} (sha256 "
            f"{str(meta.get('suite_sha256', ''))[:12]}); code {meta.get('code_version', '?')}; "
            f"device {meta.get('device', '?')}; started {meta.get('started', '?')}; "
            f"{cells} finished cell(s) with results, {len(errors)} failed.")


def _test_text(alpha: float) -> str:
    return (f"Two-sided Wilcoxon signed-rank tests (zero differences dropped; exact p, "
            f"conditional on tied ranks, up to {stats.EXACT_MAX} pairs, else normal "
            f"approximation with tie and continuity correction); α = {alpha:g}. With fewer "
            f"than {stats.min_pairs(alpha)} pairs no p below α is possible (the smallest exact "
            f"p with n pairs is 2/2^n), so no test is run. W/T/L: wins/ties/losses of the first "
            "column; r_rb: matched-pairs rank-biserial correlation (+1: the first column "
            "better in every pair); median Δ with a 95% percentile bootstrap CI (2000 "
            "resamples, seed 0).")


def _rank_grids(s) -> list[Grid]:
    r = s.result
    order = sorted(range(r.k), key=lambda i: r.avg_ranks[i])
    rows = [[str(pos + 1), s.columns[i], f"{r.avg_ranks[i]:.2f}"] for pos, i in enumerate(order)]
    label = LABELS.get(s.metric, s.metric)
    measure = f", measure {s.measure}" if s.measure else ""
    if r.p is None:
        note = f"Friedman test: {r.method}."
    else:
        note = (f"Friedman χ² = {r.statistic:.2f} (df {r.k - 1}), p = {_p(r.p)}, over "
                f"{r.n} (dataset, class) blocks of class means; Nemenyi critical difference "
                f"CD = {r.cd:.2f} at α = {r.alpha:g}: columns whose average ranks differ by "
                f"more than CD differ significantly.")
    out = [Grid(["#", "column", "average rank"], rows, f"Average ranks: {label}{measure}", note)]
    if s.nemenyi_p is not None and r.k <= MAX_NEMENYI:
        names = [s.columns[i] for i in order]
        cells = [[names[x]] + [Cell("") if x == y else
                              Cell(_p(s.nemenyi_p[order[x], order[y]]),
                                   bold=s.nemenyi_p[order[x], order[y]] < r.alpha)
                              for y in range(r.k)] for x in range(r.k)]
        out.append(Grid(["", *names], cells, f"Nemenyi p-values: {label}{measure}",
                        f"Pairwise Nemenyi post-hoc p-values (bold: < α = {r.alpha:g})."))
    return out


# ---------------------------------------------------------------- renderers

def to_markdown(blocks: list, base: Path | None = None) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}\n")
        elif isinstance(b, Para):
            out.append(f"_{b.text}_\n" if b.em else f"{b.text}\n")
        elif isinstance(b, Grid):
            title = f"### {b.title}\n\n" if b.title else ""
            note = f"\n\n_{b.note}_" if b.note else ""
            out.append(f"{title}{render_grid(b.headers, b.rows, 'markdown')}{note}\n")
        elif isinstance(b, Image):
            png = _rel(b.fig.png, base)
            out.append(f"![{Path(b.fig.png).stem}]({png})\n\n_{b.fig.caption}_ "
                       f"([SVG]({_rel(b.fig.svg, base)}))\n")
    return "\n".join(out)


def _rel(path: Path, base: Path | None) -> str:
    try:
        return str(Path(path).relative_to(base)) if base else str(path)
    except ValueError:
        return str(path)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1300px;padding:0 1.5em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #ddd;padding-bottom:.2em}
h2{font-size:1.3em;margin-top:2em;border-bottom:1px solid #eee}
h3{font-size:1.05em;margin:1.6em 0 .4em}
table{border-collapse:collapse;font-size:.86em;margin:.3em 0}
th,td{border:1px solid #ccc;padding:.22em .55em;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
table.total tr:last-child td{border-top:2px solid #999}
.note{font-size:.82em;color:#555;max-width:1100px;margin:.3em 0 1em}
sup{color:#b00;font-weight:bold}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#444;max-width:1100px}
.wrap{overflow-x:auto}
"""


def to_html(blocks: list, title: str) -> str:
    head = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>")
    out = [head]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            text = html.escape(b.text)
            out.append(f"<p><em>{text}</em></p>" if b.em else f"<p>{text}</p>")
        elif isinstance(b, Grid):
            if b.title:
                out.append(f"<h3>{html.escape(b.title)}</h3>")
            table = render_grid(b.headers, b.rows, "html")
            if b.total_row:
                table = table.replace("<table>", '<table class="total">', 1)
            out.append(f"<div class=\"wrap\">{table}</div>")
            if b.note:
                out.append(f"<p class=\"note\">{html.escape(b.note)}</p>")
        elif isinstance(b, Image):
            data = base64.b64encode(Path(b.fig.png).read_bytes()).decode("ascii")
            cap = html.escape(b.fig.caption)
            out.append(f"<figure><img alt=\"{cap}\" src=\"data:image/png;base64,{data}\">"
                       f"<figcaption>{cap}</figcaption></figure>")
    out.append("</body></html>\n")
    return "\n".join(out)


def to_latex(blocks: list) -> str:
    """The report's tables as LaTeX ``table`` environments (booktabs-free)."""
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"% {'=' * 4} {b.text}")
        elif isinstance(b, Grid):
            lines = render_grid(b.headers, b.rows, "latex").splitlines()
            if b.total_row and len(lines) > 5:  # a rule above the summary row
                lines.insert(len(lines) - 3, "\\hline")
            out.append("\\begin{table}[ht]\n\\centering\\small\n"
                       f"\\caption{{{latex_escape(b.title)}}}\n"
                       + "\n".join(lines) + "\n"
                       + (f"\\par\\smallskip\\footnotesize {latex_escape(b.note)}\n"
                          if b.note else "")
                       + "\\end{table}\n")
    return "\n".join(out)


def write_report(run_dir: Path, fmt: str = "markdown", *, overrides: dict | None = None,
                 figures: bool | None = None) -> str:
    """Write report.md and report.html (and report.tex for ``latex``); return the text."""
    run_dir = Path(run_dir)
    blocks, _, meta = build(run_dir, overrides=overrides, figures=figures)
    md = to_markdown(blocks, run_dir)
    _write(run_dir / "report.md", md)
    _write(run_dir / "report.html", to_html(blocks, f"anobench: {meta.get('suite_name', '')}"))
    if fmt == "latex":
        tex = to_latex(blocks)
        _write(run_dir / "report.tex", tex)
        return tex
    if fmt == "plain":
        return "\n".join(f"{b.title}\n{render_grid(b.headers, b.rows, 'plain')}\n{b.note}\n"
                         for b in blocks if isinstance(b, Grid))
    return md


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise AnobenchError(f"{path}: cannot write the report: {exc}") from None

