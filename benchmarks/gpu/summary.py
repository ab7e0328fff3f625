"""Summarise the two runs of benchmarks/gpu/slice.sh: models/s, speed-up, paper-suite projection.

Usage: ``python benchmarks/gpu/summary.py --cohort RESULTS WALL --single RESULTS WALL
[--paper SUITE]`` — RESULTS is a ``--results`` root of one run, WALL its wall-clock
seconds (the run may have been stopped by its time cap: only finished cells count).
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from anobench.store import read_records


def finished(results: Path) -> list[dict]:
    runs = sorted(p for p in results.glob("*/*") if (p / "meta.json").is_file())
    if not runs:
        return []
    return [r for r in read_records(runs[-1], ("cell",)) if r.get("status") == "ok"]


def rates(cells: list[dict], wall: float) -> dict:
    epochs = [c["fit_info"].get("epochs", 0) for c in cells]
    return {
        "models": len(cells), "wall_s": wall,
        "models_per_s": len(cells) / wall if wall else 0.0,
        "epochs_per_s": sum(epochs) / wall if wall else 0.0,
        "mean_epochs": statistics.mean(epochs) if epochs else float("nan"),
        "cohort_sizes": sorted({c["fit_info"].get("cohort_size", 1) for c in cells}),
    }


def paper_models(path: str) -> int:
    """Neural models trained by the suite (one per cell of a detector with a device)."""
    import inspect

    from anobench.checks import load_datasets
    from anobench.manager import load_registry
    from anobench.suite import load_suite
    from anobench.units import model_groups

    registry = load_registry()
    suite = load_suite(path, registry)
    if all(e.classes for e in suite.datasets):
        n_classes = sum(len(e.classes) for e in suite.datasets)
    else:
        datasets = load_datasets(suite, registry)
        n_classes = sum(len(e.classes or datasets[e.label].classes) for e in suite.datasets)
    neural = [g for g in model_groups(suite, registry)
              if "device" in inspect.signature(g.cls.__init__).parameters]
    return n_classes * suite.repetitions * len(neural)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cohort", nargs=2, metavar=("RESULTS", "WALL"), required=True)
    ap.add_argument("--single", nargs=2, metavar=("RESULTS", "WALL"), required=True)
    ap.add_argument("--paper", default=None)
    args = ap.parse_args()
    out = {}
    for name, (root, wall) in (("cohort", args.cohort), ("single", args.single)):
        out[name] = rates(finished(Path(root)), float(wall))
        r = out[name]
        print(f"{name:7s}: {r['models']} models in {r['wall_s']:.0f} s = "
              f"{r['models_per_s']:.3f} models/s, {r['epochs_per_s']:.1f} member-epochs/s, "
              f"mean {r['mean_epochs']:.0f} epochs per model, cohort sizes {r['cohort_sizes']}")
    c, s = out["cohort"], out["single"]
    if c["epochs_per_s"] and s["epochs_per_s"]:
        print(f"speed-up (member-epochs/s, cohort over one at a time): "
              f"{c['epochs_per_s'] / s['epochs_per_s']:.2f}x")
    if args.paper and c["epochs_per_s"] and c["models"]:
        n = paper_models(args.paper)
        secs = n * c["mean_epochs"] / c["epochs_per_s"]
        print(f"projection: {args.paper} trains {n} neural models; at the cohort rate and "
              f"{c['mean_epochs']:.0f} epochs per model (this slice's mean; dsebm, whose "
              f"steps cost more, was not in the slice) their training takes about "
              f"{secs / 60:.1f} min on this device; pca/kpca run on the CPU besides")


if __name__ == "__main__":
    main()
