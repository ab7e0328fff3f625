"""Print the guard ratios of saved benchmark runs side by side.

Usage: ``python benchmarks/ratios.py STORAGE_DIR [RUN ...]`` — STORAGE_DIR as
given to ``--benchmark-storage`` (``benchmarks/saved``); RUN selects saved
runs by the start of their file name (``0001``, ``0002_before``) or by a JSON
path; default: every saved run. Options for pytest-benchmark's compare
(``--...``) are ignored. One row per ratio (median of the interleaved
rounds), one column per run, the threshold last.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def saved_runs(storage: Path, wanted: list[str]) -> list[Path]:
    files = sorted(p for p in storage.rglob("*.json"))
    if not wanted:
        return files
    out = []
    for w in wanted:
        path = Path(w)
        out += [path] if path.is_file() else [p for p in files if p.name.startswith(w)]
    return out


def ratios(run: Path) -> dict[str, tuple[float, float | None]]:
    data = json.loads(run.read_text())
    out = {}
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        for key, value in info.items():
            if f"{key}_threshold" in info:
                out[key] = (value, info[f"{key}_threshold"])
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    storage = Path(argv[0].removeprefix("file://"))
    runs = saved_runs(storage, [a for a in argv[1:] if not a.startswith("-")])
    if not runs:
        print(f"no saved runs in {storage} (save one with: tox -e bench -- --benchmark-save=NAME)")
        return 0
    table = {run.stem: ratios(run) for run in runs}
    names = sorted({k for r in table.values() for k in r})
    width = max([len(n) for n in names] + [5])
    print("ratio".ljust(width), *(run[:14].rjust(14) for run in table), "threshold".rjust(10))
    for name in names:
        cells = [f"{r[name][0]:.3f}" if name in r else "-" for r in table.values()]
        limit = next((r[name][1] for r in table.values() if name in r), None)
        print(name.ljust(width), *(c.rjust(14) for c in cells), f"{limit}".rjust(10))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
