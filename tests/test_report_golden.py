"""Golden test: a report's numbers and marks do not change when the code behind it does.

Every report below is rendered through the command line (``anobench report RUN
--no-figures``) from stored records: the real runs in
``results/reference/`` and a few synthetic runs built here (rules of one
model, duplicate columns, tied repetitions, two datasets, a β grid, explicit
``[report]`` options). From each ``report.md`` we keep what a reader takes as
a result — the text of every table cell (numbers, bold, ▲/▼ marks), in
order, under its table title; the Friedman statistics of the rank notes; the
numbers of the summary sentences — and compare them with
``tests/golden/report.json``, written by the code before the report package
was restructured (issue 11). Prose (footnotes, headings) may change; these may
not, except where an issue asked for a different result: those blocks are
listed in ``CHANGED`` with the reason, and their new content is stored next to
the old one, so each change is deliberate and visible.

After an intended change, list each changed block in ``CHANGED`` with the
reason, then store the new content (blocks not listed must stay equal; the
script prints any that do not)::

    python tests/test_report_golden.py
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic_runs import make_records, write_run  # noqa: E402

from anobench.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "report.json"
REFERENCE = REPO / "results" / "reference"

#: Blocks whose content an issue changed on purpose: (run, block key) -> why. Their new
#: content, and the new order of the run's tables, are stored under "after" in the golden
#: file; every other block must equal its "runs" entry (the output before issue 11).
ORDER = "order"  # a CHANGED key: the order of the run's tables changed
_DUP = "same scores ranked once (issue 8 item 5)"
_ORDER = "tables follow the suite's dataset order, not the alphabet (issue 8)"
CHANGED: dict[tuple[str, str], str] = {
    # issue 8 item 6: the min-pairs gate counts non-zero differences. Every class of
    # "ties" has 6 repetitions with one tie: 5 non-zero differences can never give
    # p < 0.05, so these rows say "no test" instead of p = 0.0625.
    # issue 8: datasets in suite order (mnist before fashion-mnist; zeta before Alpha)
    ("pca-20261129-023944", ORDER): _ORDER,
    ("two-datasets", ORDER): _ORDER,
    ("two-datasets", "ed-vae vs vae: AUC, measure elbo"): _ORDER + ": zeta's rows first",
    ("ties", "ed-vae vs vae: AUC, measure elbo"): "min-pairs gate counts non-zero differences",
    ("ties", "summary: ed-vae vs vae, AUC (elbo), d"): "min-pairs gate: no per-class test",
    # issue 8 item 5: columns with the same scores (one model, rule and measure: vae and
    # vae-rules:single, ed-vae and vae-rules:expected) are ranked once. The reference CPU
    # runs' Friedman tests have k = 7 instead of 9 (elbo) and 6 instead of 8 (recon), so the
    # average ranks, chi-square, p, CD and Nemenyi tables change (CD 5.37 -> 4.03 for AUC,
    # elbo, in cpu-20261129-042722); a Nemenyi table appears where k fell to 8 or fewer.
    ('cpu-20261129-031849', 'Average ranks: AP, measure elbo'): _DUP,
    ('cpu-20261129-031849', 'Average ranks: AP, measure recon'): _DUP,
    ('cpu-20261129-031849', 'Average ranks: AUC, measure elbo'): _DUP,
    ('cpu-20261129-031849', 'Average ranks: AUC, measure recon'): _DUP,
    ('cpu-20261129-031849', 'Average ranks: PR-AUC, measure elbo'): _DUP,
    ('cpu-20261129-031849', 'Average ranks: PR-AUC, measure recon'): _DUP,
    ('cpu-20261129-031849', 'Nemenyi p-values: AP, measure elbo'): _DUP,
    ('cpu-20261129-031849', 'Nemenyi p-values: AP, measure recon'): _DUP,
    ('cpu-20261129-031849', 'Nemenyi p-values: AUC, measure elbo'): _DUP,
    ('cpu-20261129-031849', 'Nemenyi p-values: AUC, measure recon'): _DUP,
    ('cpu-20261129-031849', 'Nemenyi p-values: PR-AUC, measure elbo'): _DUP,
    ('cpu-20261129-031849', 'Nemenyi p-values: PR-AUC, measure recon'): _DUP,
    ('cpu-20261129-031849', 'friedman: Average ranks: AP, measure elbo'): _DUP,
    ('cpu-20261129-031849', 'friedman: Average ranks: AP, measure recon'): _DUP,
    ('cpu-20261129-031849', 'friedman: Average ranks: AUC, measure elbo'): _DUP,
    ('cpu-20261129-031849', 'friedman: Average ranks: AUC, measure recon'): _DUP,
    ('cpu-20261129-031849', 'friedman: Average ranks: PR-AUC, measure elbo'): _DUP,
    ('cpu-20261129-031849', 'friedman: Average ranks: PR-AUC, measure recon'): _DUP,
    ('cpu-20261129-042722', 'Average ranks: AP, measure elbo'): _DUP,
    ('cpu-20261129-042722', 'Average ranks: AP, measure recon'): _DUP,
    ('cpu-20261129-042722', 'Average ranks: AUC, measure elbo'): _DUP,
    ('cpu-20261129-042722', 'Average ranks: AUC, measure recon'): _DUP,
    ('cpu-20261129-042722', 'Average ranks: PR-AUC, measure elbo'): _DUP,
    ('cpu-20261129-042722', 'Average ranks: PR-AUC, measure recon'): _DUP,
    ('cpu-20261129-042722', 'Nemenyi p-values: AP, measure elbo'): _DUP,
    ('cpu-20261129-042722', 'Nemenyi p-values: AP, measure recon'): _DUP,
    ('cpu-20261129-042722', 'Nemenyi p-values: AUC, measure elbo'): _DUP,
    ('cpu-20261129-042722', 'Nemenyi p-values: AUC, measure recon'): _DUP,
    ('cpu-20261129-042722', 'Nemenyi p-values: PR-AUC, measure elbo'): _DUP,
    ('cpu-20261129-042722', 'Nemenyi p-values: PR-AUC, measure recon'): _DUP,
    ('cpu-20261129-042722', 'friedman: Average ranks: AP, measure elbo'): _DUP,
    ('cpu-20261129-042722', 'friedman: Average ranks: AP, measure recon'): _DUP,
    ('cpu-20261129-042722', 'friedman: Average ranks: AUC, measure elbo'): _DUP,
    ('cpu-20261129-042722', 'friedman: Average ranks: AUC, measure recon'): _DUP,
    ('cpu-20261129-042722', 'friedman: Average ranks: PR-AUC, measure elbo'): _DUP,
    ('cpu-20261129-042722', 'friedman: Average ranks: PR-AUC, measure recon'): _DUP,
    ('duplicates', 'Average ranks: AUC, measure elbo'): _DUP,
    ('duplicates', 'Nemenyi p-values: AUC, measure elbo'): _DUP,
    ('duplicates', 'friedman: Average ranks: AUC, measure elbo'): _DUP,
}

# issue 18 item 1: significance has two directions. In result tables ▲ replaces † (better
# than the reference) and ▼ marks cells significantly WORSE than the reference (before, they
# carried no mark, like a column that does not differ); the paired tests' verdict carries ▲
# (A better) or ▼ (B better); the summary's per-class clause names where A is significantly
# better and where significantly worse. Normalised (▲ -> †, ▼ dropped), every result table
# equals its old content: no mark moved, none was lost (checked when this list was made).
_MARKS18 = "▲ for †, and ▼ where a cell is significantly worse than the reference (issue 18)"
_PAIR18 = "paired-test verdicts carry ▲ / ▼ (issue 18)"
_SUMMARY18 = "summary: significantly better AND significantly worse per class, named (issue 18)"
CHANGED_18: dict[tuple[str, str], str] = {
    ('adbench-heldout-20261129-091452', 'cardio: AP, measure: elbo'): _MARKS18,
    ('adbench-heldout-20261129-091452', 'cardio: AUC, measure: elbo'): _MARKS18,
    ('adbench-heldout-20261129-091452', 'thyroid: AP, measure: elbo'): _MARKS18,
    ('adbench-heldout-20261129-091452', 'thyroid: AUC, measure: elbo'): _MARKS18,
    ('adbench-heldout-20261129-091452', 'vowels: AP, measure: elbo'): _MARKS18,
    ('adbench-heldout-20261129-091452', 'vowels: AUC, measure: elbo'): _MARKS18,
    ('adbench-heldout-20261129-091452', 'wdbc: AP, measure: elbo'): _MARKS18,
    ('adbench-heldout-20261129-091452', 'wdbc: AUC, measure: elbo'): _MARKS18,
    ('cpu-20261129-031849', 'mnist: AP, measure: elbo'): _MARKS18,
    ('cpu-20261129-031849', 'mnist: AP, measure: recon'): _MARKS18,
    ('cpu-20261129-031849', 'mnist: AUC, measure: elbo'): _MARKS18,
    ('cpu-20261129-031849', 'mnist: AUC, measure: recon'): _MARKS18,
    ('cpu-20261129-031849', 'mnist: PR-AUC, measure: elbo'): _MARKS18,
    ('cpu-20261129-031849', 'mnist: PR-AUC, measure: recon'): _MARKS18,
    ('cpu-20261129-042722', 'mnist: AP, measure: elbo'): _MARKS18,
    ('cpu-20261129-042722', 'mnist: AP, measure: recon'): _MARKS18,
    ('cpu-20261129-042722', 'mnist: AUC, measure: elbo'): _MARKS18,
    ('cpu-20261129-042722', 'mnist: AUC, measure: recon'): _MARKS18,
    ('cpu-20261129-042722', 'mnist: PR-AUC, measure: elbo'): _MARKS18,
    ('cpu-20261129-042722', 'mnist: PR-AUC, measure: recon'): _MARKS18,
    ('rules', 'd: AUC, measure: elbo'): _MARKS18,
    ('rules', 'd: PR-AUC, measure: elbo'): _MARKS18,
    ('duplicates', 'd: AUC, measure: elbo'): _MARKS18,
    ('ties', 'd: AUC, measure: elbo'): _MARKS18,
    ('two-datasets', 'Alpha: AUC, measure: elbo'): _MARKS18,
    ('two-datasets', 'zeta: AUC, measure: elbo'): _MARKS18,
    ('options', 'd: AUC, measure: elbo'): _MARKS18,
    ('options', 'd: PR-AUC, measure: elbo'): _MARKS18,
    ('adbench-heldout-20261129-091452', 'vae:expected vs vae:single: AP, measure elbo'): _PAIR18,
    ('adbench-heldout-20261129-091452', 'vae:expected vs vae:single: AUC, measure elbo'): _PAIR18,
    ('cpu-20261129-031849', 'ed-vae vs vae: AP, measure elbo'): _PAIR18,
    ('cpu-20261129-031849', 'ed-vae vs vae: AP, measure recon'): _PAIR18,
    ('cpu-20261129-031849', 'ed-vae vs vae: AUC, measure elbo'): _PAIR18,
    ('cpu-20261129-031849', 'ed-vae vs vae: AUC, measure recon'): _PAIR18,
    ('cpu-20261129-031849', 'ed-vae vs vae: PR-AUC, measure elbo'): _PAIR18,
    ('cpu-20261129-031849', 'ed-vae vs vae: PR-AUC, measure recon'): _PAIR18,
    ('cpu-20261129-042722', 'ed-vae vs vae: AP, measure elbo'): _PAIR18,
    ('cpu-20261129-042722', 'ed-vae vs vae: AP, measure recon'): _PAIR18,
    ('cpu-20261129-042722', 'ed-vae vs vae: AUC, measure elbo'): _PAIR18,
    ('cpu-20261129-042722', 'ed-vae vs vae: AUC, measure recon'): _PAIR18,
    ('cpu-20261129-042722', 'ed-vae vs vae: PR-AUC, measure elbo'): _PAIR18,
    ('cpu-20261129-042722', 'ed-vae vs vae: PR-AUC, measure recon'): _PAIR18,
    ('rules', 'ed-vae vs vae: AUC, measure elbo'): _PAIR18,
    ('rules', 'ed-vae vs vae: PR-AUC, measure elbo'): _PAIR18,
    ('duplicates', 'ed-vae vs vae: AUC, measure elbo'): _PAIR18,
    ('ties', 'ed-vae vs vae: AUC, measure elbo'): _PAIR18,
    ('two-datasets', 'ed-vae vs vae: AUC, measure elbo'): _PAIR18,
    ('options', 'vae:multi vs vae: AUC, measure elbo'): _PAIR18,
    ('options', 'vae:multi vs vae: PR-AUC, measure elbo'): _PAIR18,
    ('adbench-heldout-20261129-091452', 'summary: vae'): _SUMMARY18,
    ('adbench-heldout-20261129-091452', 'summary: vae #2'): _SUMMARY18,
    ('cpu-20261129-042722', 'summary: ed-vae vs vae, AP (elbo), mnist'): _SUMMARY18,
    ('cpu-20261129-042722', 'summary: ed-vae vs vae, AP (recon), mnist'): _SUMMARY18,
    ('cpu-20261129-042722', 'summary: ed-vae vs vae, AUC (elbo), mnist'): _SUMMARY18,
    ('cpu-20261129-042722', 'summary: ed-vae vs vae, AUC (recon), mnist'): _SUMMARY18,
    ('cpu-20261129-042722', 'summary: ed-vae vs vae, PR-AUC (elbo), mnist'): _SUMMARY18,
    ('cpu-20261129-042722', 'summary: ed-vae vs vae, PR-AUC (recon), mnist'): _SUMMARY18,
    ('rules', 'summary: ed-vae vs vae, AUC (elbo), d'): _SUMMARY18,
    ('rules', 'summary: ed-vae vs vae, PR-AUC (elbo), d'): _SUMMARY18,
    ('duplicates', 'summary: ed-vae vs vae, AUC (elbo), d'): _SUMMARY18,
    ('two-datasets', 'summary: ed-vae vs vae, AUC (elbo), all (dataset, class) blocks'): _SUMMARY18,
    ('options', 'summary: vae'): _SUMMARY18,
    ('options', 'summary: vae #2'): _SUMMARY18,
}
for _key, _why in CHANGED_18.items():  # blocks an earlier issue changed too: both reasons
    CHANGED[_key] = f"{CHANGED[_key]}; {_why}" if _key in CHANGED else _why


def _wiggle(col: str, c: int, rep: int) -> float:
    """A deterministic, irregular offset in [0, 0.012] (so p-values vary)."""
    return ((c * 31 + rep * 17 + sum(map(ord, col)) * 7) % 13) / 1000


def _rules_value(col, c, rep):
    return (0.80 + 0.01 * c + 0.002 * rep + _wiggle(col, c, rep)
            + {"ed-vae": 0.015, "vae:multi": 0.006, "pca": -0.04}.get(col, 0.0))


def _dup_value(col, c, rep):
    base = 0.75 + 0.015 * c + 0.001 * rep + _wiggle("vae", c, rep)
    if col in ("ed-vae", "vae:expected"):  # the same scores: same model, rule and measure
        return base + 0.004 + 0.001 * ((c + rep) % 3)
    if col == "pca":
        return base - 0.01 + _wiggle(col, c, rep)
    return base  # vae and vae:single


def _tie_value(col, c, rep):
    base = 0.8 + 0.01 * c + 0.003 * rep
    if col == "ed-vae" and rep != 0:  # repetition 0 ties: 5 non-zero differences of 6
        return base + 0.01 + 0.001 * rep
    return base


SYNTHETIC = {
    "rules": dict(
        columns={"vae": {"rule": "single", "measure": "elbo", "model": "vae-1"},
                 "ed-vae": {"rule": "expected", "measure": "elbo", "model": "vae-1"},
                 "vae:multi": {"rule": "multi", "measure": "elbo", "model": "vae-1"},
                 "pca": {}},
        value=_rules_value, classes=range(4), reps=8),
    "duplicates": dict(
        columns={"vae": {"rule": "single", "measure": "elbo", "model": "m"},
                 "ed-vae": {"rule": "expected", "measure": "elbo", "model": "m"},
                 "vae:single": {"rule": "single", "measure": "elbo", "model": "m"},
                 "vae:expected": {"rule": "expected", "measure": "elbo", "model": "m"},
                 "pca": {"model": "p"}},
        value=_dup_value, classes=range(10), reps=6, metrics=("roc_auc",)),
    "ties": dict(
        columns={"vae": {"rule": "single", "measure": "elbo", "model": "m"},
                 "ed-vae": {"rule": "expected", "measure": "elbo", "model": "m"}},
        value=_tie_value, classes=range(6), reps=6, metrics=("roc_auc",)),
    "two-datasets": dict(
        columns={"vae": {"rule": "single", "measure": "elbo", "model": "m"},
                 "ed-vae": {"rule": "expected", "measure": "elbo", "model": "m"}},
        value=_rules_value, classes=range(6), reps=6, metrics=("roc_auc",),
        datasets=("zeta", "Alpha")),
    "sweep": dict(
        columns={f"{n}[beta={b:g}]": {"rule": r, "measure": "elbo", "model": f"m{b}",
                                      "grid": {"beta": b}}
                 for b in (0.0, 0.5, 1.0) for n, r in (("vae", "single"), ("ed-vae", "expected"))},
        value=lambda col, c, rep: 0.8 + 0.01 * c + 0.002 * rep + _wiggle(col, c, rep)
        + (0.01 if col.startswith("ed") else 0.0),
        classes=range(6), reps=3, metrics=("roc_auc",)),
    "options": dict(
        columns={"vae": {"rule": "single", "measure": "elbo", "model": "vae-1"},
                 "ed-vae": {"rule": "expected", "measure": "elbo", "model": "vae-1"},
                 "vae:multi": {"rule": "multi", "measure": "elbo", "model": "vae-1"},
                 "pca": {"model": "p"}},
        value=_rules_value, classes=range(7), reps=7,
        report='[report]\nreference = "pca"\ncorrection = "bonferroni"\nalpha = 0.1\n'
               'sem_ddof = 0\npairs = [["vae:multi", "vae"]]'),
}


def synthetic_run(root: Path, name: str) -> Path:
    spec = dict(SYNTHETIC[name])
    report = spec.pop("report", "")
    datasets = spec.pop("datasets", ("d",))
    recs = []
    for ds in datasets:
        recs += make_records(spec["value"], spec["columns"], classes=spec["classes"],
                             reps=spec["reps"], dataset=ds,
                             metrics=spec.get("metrics", ("roc_auc", "pr_auc")))
    return write_run(root / name, recs, reps=spec["reps"], report=report, scores=False)


def reference_run(root: Path, name: str) -> Path:
    dest = root / name
    dest.mkdir(parents=True)
    for f in ("meta.json", "records.jsonl"):
        shutil.copy(REFERENCE / name / f, dest / f)
    return dest


def render(run: Path) -> str:
    """report.md of a run, written by the command line."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["report", str(run), "--no-figures"])
    assert code == 0, f"anobench report {run} exited with {code}"
    return (run / "report.md").read_text(encoding="utf-8")


_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_FRIEDMAN = re.compile(r"Friedman χ² = (\S+) \(df (\d+)\), p = (\S+), over (\d+) .*?"
                       r"CD = (\S+) at α = (\S+):")
_SUMMARY = re.compile(r"mean (\S+) vs (\S+), .* higher in (\d+) of (\d+) classes "
                      r"\(W/T/L (\S+)\), Wilcoxon on class means (.*?); (.*)\.$")


def extract(markdown: str) -> dict:
    """The numbers and marks of a report, by block.

    ``blocks``: table title -> rows (cells joined by `` | ``), ``friedman: TITLE``
    -> the statistics of a rank note, ``summary: PAIR`` -> the numbers of a
    summary sentence; ``order``: the table titles in order.
    """
    blocks: dict[str, list[str]] = {}
    order: list[str] = []
    title = ""
    lines = markdown.splitlines()

    def add(key: str, value: list[str]) -> str:
        base, n = key, 2
        while key in blocks:
            key = f"{base} #{n}"
            n += 1
        blocks[key] = value
        return key

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("### "):
            title = line[4:].strip()
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in _CELL_SPLIT.split(lines[i].strip())[1:-1]]
                if not all(set(c) <= set("-:") for c in cells):  # skip the |---| rule
                    rows.append(" | ".join(cells))
                i += 1
            order.append(add(title, rows))
            continue
        elif line.startswith("_Friedman"):
            m = _FRIEDMAN.search(line)
            if m:
                add(f"friedman: {title}", list(m.groups()))
        elif " vs " in line and "Wilcoxon on class means" in line:
            m = _SUMMARY.search(line)
            assert m, f"summary sentence not understood: {line}"
            add(f"summary: {line.split(':', 1)[0]}", list(m.groups()))
        i += 1
    return {"order": order, "blocks": blocks}


RUNS = sorted(p.name for p in REFERENCE.iterdir() if (p / "records.jsonl").is_file()) \
    if REFERENCE.is_dir() else []


def build_all(root: Path) -> dict[str, dict]:
    out = {}
    for name in RUNS:
        out[name] = extract(render(reference_run(root / "reference", name)))
    for name in SYNTHETIC:
        out[name] = extract(render(synthetic_run(root / "synthetic", name)))
    return out


def _golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("golden"))


def expected(run: str) -> dict:
    """The golden blocks and order of ``run``, with the deliberate changes applied."""
    golden = _golden()
    before = golden["runs"][run]
    changed = {key for (r, key) in CHANGED if r == run}
    if not changed:
        return before
    after = golden["after"][run]
    blocks = {k: v for k, v in before["blocks"].items() if k not in changed}
    blocks.update({k: v for k, v in after["blocks"].items() if k in changed and v is not None})
    return {"blocks": blocks, "order": after["order"]}


@pytest.mark.parametrize("run", RUNS + list(SYNTHETIC))
def test_numbers_and_marks_are_unchanged(rendered, run):
    want = expected(run)
    now = rendered[run]
    assert now["blocks"] == want["blocks"]
    assert now["order"] == want["order"]


def test_each_listed_change_is_a_change():
    golden = _golden()
    for (run, key), why in CHANGED.items():
        assert why, f"{run}: {key}: say why it changed"
        if key == ORDER:
            assert golden["after"][run]["order"] != golden["runs"][run]["order"]
            continue
        before = golden["runs"][run]["blocks"].get(key)
        assert golden["after"][run]["blocks"][key] != before, f"{run}: {key} did not change"


def regenerate(reset: bool = False) -> None:  # pragma: no cover - run by hand
    """Store the deliberate changes listed in CHANGED (or, with ``reset``, everything anew)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        runs = build_all(Path(tmp))
    if reset or not GOLDEN.is_file():
        golden = {"runs": runs, "after": {}}
    else:
        golden = _golden()
        golden["after"] = {}
        for run, now in runs.items():
            before = golden["runs"][run]["blocks"]
            changed = {key for (r, key) in CHANGED if r == run}
            for key in set(before) | set(now["blocks"]):
                if key not in changed and before.get(key) != now["blocks"].get(key):
                    print(f"UNLISTED CHANGE {run}: {key}")
            if changed:
                golden["after"][run] = {
                    "blocks": {k: now["blocks"].get(k) for k in sorted(changed - {ORDER})},
                    "order": now["order"]}
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")


if __name__ == "__main__":  # pragma: no cover
    regenerate(reset="--reset" in sys.argv)
